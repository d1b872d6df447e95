"""The digest as one Discord message, pure. Anything without data reads "n/a", never 0%.

One compact embed (totals in the description, a field per app, failed runs with their
links last) rather than an embed per app: a weekly digest of ten apps stays one short
message, and `Message.to_data` clamps anything over Discord's limits.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from orchestrator.deploys.render import VERDICT_ICONS
from orchestrator.digest.compute import AppDigest, DeployStats, Digest, UptimeStats
from orchestrator.discord.messages import Color, Message, embed
from orchestrator.github.events import short_sha
from orchestrator.notifications.render import conclusion_parts
from orchestrator.probes.state import display_app
from orchestrator.text import duration, duration_ms

NA = "n/a"
MAX_FAILED_LISTED = 10
DAY = 86400.0
VERDICT_ORDER = ("pass", "warn", "fail", "skip")


def percent(value: float | None) -> str:
    """Rounded *down* to 0.1 %, so anything short of perfect never reads "100%"."""
    if value is None:
        return NA
    if value >= 1:
        return "100%"
    return f"{math.floor(value * 1000) / 10:.1f}%"


def period_title(start: float, end: float) -> str:
    length = end - start
    kind = "Daily" if abs(length - DAY) < 3600 else "Weekly" if abs(length - 7 * DAY) < 3600 else ""
    first = datetime.fromtimestamp(start, UTC)
    last = datetime.fromtimestamp(end, UTC)
    span = f"{first:%d %b %H:%M} – {last:%d %b %Y %H:%M} UTC"
    return f"📊 {kind + ' digest' if kind else 'Digest'} · {span}"


def deploy_line(stats: DeployStats) -> str:
    if not stats.count:
        return "🚀 no deploys"
    plural = "s" if stats.count != 1 else ""
    return (
        f"🚀 {stats.count} deploy{plural} · {percent(stats.success_rate)} succeeded · "
        f"mean {duration(stats.mean_s, missing=NA)} · p95 {duration(stats.p95_s, missing=NA)}"
    )


def uptime_line(stats: UptimeStats) -> str:
    if not stats.samples:
        return "📡 not probed"
    return (
        f"📡 {percent(stats.uptime)} up ({stats.up}/{stats.samples} probes) · "
        f"p50 {duration_ms(stats.p50_ms, missing=NA)} · "
        f"p95 {duration_ms(stats.p95_ms, missing=NA)}"
    )


def verdicts_line(verdicts: dict[str, int]) -> str:
    if not verdicts:
        return "🔎 no verifications"
    order = {name: index for index, name in enumerate(VERDICT_ORDER)}
    ranked = sorted(verdicts.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))
    parts = [
        f"{VERDICT_ICONS.get(verdict.upper(), '❔')} {count} {verdict}" for verdict, count in ranked
    ]
    return "🔎 " + " · ".join(parts)


def app_field(app: AppDigest) -> tuple[str, str]:
    lines = [deploy_line(app.deploys), uptime_line(app.uptime)]
    if len(app.targets) > 1:
        lines.append(
            " · ".join(
                f"{t.target} {percent(t.uptime)}, p95 {duration_ms(t.p95_ms, missing=NA)}"
                for t in app.targets
            )
        )
    lines.append(verdicts_line(app.verdicts))
    return display_app(app.app), "\n".join(lines)


def to_message(digest: Digest) -> Message:
    title = period_title(digest.period_start, digest.period_end)
    if digest.empty:
        return Message(
            embeds=[
                embed(
                    title,
                    "A quiet period: no deploys, probes or verifications were recorded.\n"
                    f"Success rate {NA} · uptime {NA}.",
                    color=Color.GREY,
                )
            ]
        )
    summary = "\n".join(
        [f"**All apps** {deploy_line(digest.deploys)}", verdicts_line(digest.verdicts)]
    )
    fields: list[tuple[str, str] | tuple[str, str, bool]] = [
        app_field(app) for app in digest.apps[:24]
    ]
    if digest.failed_runs:
        lines = []
        for run in digest.failed_runs[:MAX_FAILED_LISTED]:
            icon, verb, _ = conclusion_parts(run.conclusion)
            label = f"#{run.run_id}" if run.run_id is not None else "run"
            link = f"[{label}]({run.url})" if run.url else label
            lines.append(f"{icon} {display_app(run.app)} {link} `{short_sha(run.head_sha)}` {verb}")
        more = len(digest.failed_runs) - MAX_FAILED_LISTED
        if more > 0:
            lines.append(f"… and {more} more")
        fields.append(("Failed runs", "\n".join(lines)))
    return Message(
        embeds=[
            embed(
                title,
                summary,
                color=Color.RED if digest.failed_runs else Color.BLUE,
                fields=fields,
            )
        ]
    )
