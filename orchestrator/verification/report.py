"""A verification report for people (one Discord embed) and for machines (plain JSON).

The embed answers the question in its title (verdict, app, commit) and gives
each check one field, so the red line is found without scrolling; failed jobs
are links straight to the job. Both renderings are pure and stable: the JSON
uses status names, not numbers, so scripts and dashboards survive reordering.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from orchestrator.discord.limits import EMBED_FIELD_VALUE_LIMIT
from orchestrator.discord.messages import Color, Message, action_row, embed, link_button
from orchestrator.text import duration_ms
from orchestrator.verification.decide import Check, Report, Status, short

ICONS = {Status.PASS: "✅", Status.WARN: "⚠️", Status.FAIL: "❌", Status.SKIP: "➖"}
_HEADLINES = {
    Status.PASS: "deploy verified",
    Status.WARN: "needs a look",
    Status.FAIL: "something is wrong",
    Status.SKIP: "nothing to check",
}
_COLORS = {
    Status.PASS: Color.GREEN,
    Status.WARN: Color.YELLOW,
    Status.FAIL: Color.RED,
    Status.SKIP: Color.GREY,
}
_LABELS = {
    "run": "Run",
    "freshness": "Freshness",
    "frontend": "Frontend",
    "api": "API",
    "self": "Orchestrator",
}
MAX_JOB_LINES = 10


def _iso(epoch: float) -> str | None:
    if not epoch or not math.isfinite(epoch):
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _is_web_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://"))


def _job_lines(jobs: Sequence[Mapping[str, Any]], room: int) -> list[str]:
    """Failed jobs as link lines, stopping whole lines before `room` runs out (a line cut
    in half would show a broken link)."""
    lines: list[str] = []
    used = 0
    for index, job in enumerate(jobs[:MAX_JOB_LINES]):
        name = str(job.get("name") or "?").replace("[", "(").replace("]", ")")[:60]
        label = f"[{name}]({job['url']})" if _is_web_url(job.get("url")) else name
        steps = [str(s)[:40] for s in job.get("steps") or []][:2]
        line = f"• {label}" + (f": {', '.join(steps)}" if steps else "")
        left = len(jobs) - index - 1
        tail = len(f"\n… and {left} more") if left else 0
        if used + len(line) + 1 + tail > room:
            lines.append(f"… and {len(jobs) - index} more")
            return lines
        lines.append(line)
        used += len(line) + 1
    if len(jobs) > MAX_JOB_LINES:
        lines.append(f"… and {len(jobs) - MAX_JOB_LINES} more")
    return lines


def _field_value(check: Check) -> str:
    jobs = check.evidence.get("failed_jobs") if check.name == "run" else None
    if not isinstance(jobs, list) or not jobs:
        return check.summary or "\u200b"
    # The jobs get a line each below, so the summary's inline list would say it twice.
    headline = check.evidence.get("headline")
    value = headline if isinstance(headline, str) and headline else check.summary
    room = EMBED_FIELD_VALUE_LIMIT - len(value) - 1
    lines = _job_lines([j for j in jobs if isinstance(j, Mapping)], room)
    return value + "\n" + "\n".join(lines) if lines else value


def to_message(report: Report) -> Message:
    icon = ICONS[report.verdict]
    sha = f" {short(report.head_sha)}" if report.head_sha else ""
    title = f"{icon} {report.app}{sha}: {_HEADLINES[report.verdict]}"
    fields: list[tuple[str, str] | tuple[str, str, bool]] = [
        (f"{ICONS[c.status]} {_LABELS.get(c.name, c.name)}", _field_value(c)) for c in report.checks
    ]
    where = " · ".join(part for part in (report.repo, report.branch) if part)
    footer = f"{where} · checked in {duration_ms(report.duration_ms)}".lstrip(" ·")
    run_url = report.run_url if _is_web_url(report.run_url) else None
    return Message(
        embeds=[
            embed(
                title,
                color=_COLORS[report.verdict],
                url=run_url,
                fields=fields,
                footer=footer,
                timestamp=_iso(report.collected_at),
            )
        ],
        components=[action_row(link_button("Open run", run_url))] if run_url else [],
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.name.lower()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def to_json(report: Report) -> dict[str, Any]:
    return {
        "app": report.app,
        "repo": report.repo,
        "branch": report.branch,
        "run_id": report.run_id,
        "run_url": report.run_url,
        "head_sha": report.head_sha,
        "verdict": report.verdict.name.lower(),
        "duration_ms": report.duration_ms,
        "collected_at": _iso(report.collected_at),
        "checks": [
            {
                "name": check.name,
                "status": check.status.name.lower(),
                "summary": check.summary,
                "evidence": _jsonable(check.evidence),
            }
            for check in report.checks
        ],
    }
