"""Pure triage: turn failing jobs and raw logs into a compact Discord summary.

GitHub logs are long and noisy (timestamps on every line, ANSI colours,
`##[group]` markers); the lines that explain a failure are almost always at
the end. Keep the last few meaningful lines of each failed job, in a code
block per job, within Discord's field limits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.discord.messages import Color, Message, action_row, embed, link_button

_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z ?")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_NOISE = re.compile(r"^##\[(?:group|endgroup)\]|^Post job cleanup|^Cleaning up orphan")
TAIL_LINES = 12
FIELD_BUDGET = 1000  # Discord caps a field value at 1024


@dataclass(frozen=True)
class FailedJob:
    name: str
    url: str | None
    steps: tuple[str, ...]
    log_tail: str | None = None  # None: logs could not be fetched


def tail(log: str, lines: int = TAIL_LINES) -> str:
    """The last meaningful lines of a job log, without timestamps, colours or group markers."""
    kept = []
    for raw in log.splitlines():
        line = _ANSI.sub("", _TIMESTAMP.sub("", raw)).rstrip()
        if not line.strip() or _NOISE.search(line):
            continue
        kept.append(line.replace("##[error]", "error: "))
    return "\n".join(kept[-lines:])


def _code_block(text: str, budget: int) -> str:
    text = text.replace("```", "ʼʼʼ")
    if len(text) + 8 > budget:
        text = "…" + text[-(budget - 9) :]
    return f"```\n{text}\n```"


def render(
    title: str,
    url: str | None,
    jobs: Sequence[FailedJob],
    *,
    head: str | None = None,
    note: str | None = None,
) -> Message:
    if not jobs:
        body = "Nothing is failing right now. ✨"
    else:
        body = f"{len(jobs)} failing job{'s' if len(jobs) != 1 else ''}"
    if head:
        body = f"{head}\n{body}"
    fields: list[tuple[str, str] | tuple[str, str, bool]] = []
    for job in jobs[:5]:
        steps = f"failing step: {', '.join(job.steps[:3])}\n" if job.steps else ""
        if job.log_tail is None:
            logs = "(logs unavailable)"
        elif job.log_tail:
            logs = _code_block(job.log_tail, FIELD_BUDGET - len(steps))
        else:
            logs = "(empty log)"
        fields.append((f"❌ {job.name}"[:256], (steps + logs)[:1024]))
    if len(jobs) > 5:
        fields.append(("…", f"and {len(jobs) - 5} more failing jobs"))
    if note:
        fields.append(("Note", note))
    return Message(
        embeds=[
            embed(title, body, color=Color.RED if jobs else Color.GREEN, url=url, fields=fields)
        ],
        components=[action_row(link_button("Open on GitHub", url))] if url else [],
    )
