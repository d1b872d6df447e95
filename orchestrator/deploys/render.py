"""The tracked-run message: one embed that says where a deploy is, and buttons for what's next.

Pure: a `Tracked` in, a `Message` out, so every state is table-tested and the
message never lies about what it knows ("requested" until GitHub names a run).
A finished run is final: it says how it ended and offers nothing that would act on the
run as if it were still going (no Cancel); a cancelled one offers no Re-run either.
"""

from __future__ import annotations

from orchestrator.deploys.environments import DEFAULT
from orchestrator.deploys.tracking import Tracked
from orchestrator.discord.messages import (
    ButtonStyle,
    Color,
    Message,
    action_row,
    button,
    custom_id,
    embed,
    link_button,
)
from orchestrator.github.events import short_sha
from orchestrator.notifications.render import conclusion_parts
from orchestrator.text import duration

VERDICT_ICONS = {"PASS": "✅", "WARN": "⚠️", "FAIL": "❌", "SKIP": "➖"}
_KIND = {
    "deploy": "🚀 Deploy",
    "diagnose": "🩺 Diagnose",
    "release": "🏷️ Release",
    "rollback": "↩️ Roll back",
}
# Conclusions worth re-running the failed jobs of; a cancelled run was stopped on purpose.
RERUNNABLE = ("failure", "timed_out")


def status_line(tracked: Tracked) -> tuple[str, int]:
    if tracked.finished:
        icon, verb, color = conclusion_parts(tracked.conclusion)
        took = f" in {duration(tracked.duration)}" if tracked.duration is not None else ""
        return f"{icon} {verb}{took}", int(color)
    if tracked.status == "in_progress":
        job = f": {tracked.current_job}" if tracked.current_job else ""
        done = (
            f" ({tracked.jobs_done} job{'s' if tracked.jobs_done != 1 else ''} done)"
            if (tracked.jobs_done)
            else ""
        )
        return f"⏳ in progress{job}{done}", int(Color.YELLOW)
    if tracked.cancel_requested_by:
        return "🛑 cancelling: asked GitHub to stop the run", int(Color.GREY)
    if tracked.status == "queued":
        return "🕒 queued", int(Color.YELLOW)
    return "📨 requested, waiting for GitHub to start it", int(Color.GREY)


def buttons(tracked: Tracked) -> list[dict[str, object]]:
    if tracked.run_id is None:
        return []
    state = (tracked.app, str(tracked.run_id))
    row = [button("Verify now", custom_id("deploy.verify", *state), style=ButtonStyle.PRIMARY)]
    if tracked.finished and tracked.conclusion in RERUNNABLE:
        row.append(button("Re-run failed jobs", custom_id("deploy.rerun", *state)))
    if not tracked.finished and not tracked.cancel_requested_by:
        row.append(button("Cancel", custom_id("deploy.cancel", *state), style=ButtonStyle.DANGER))
    if tracked.offers_rollback:
        assert tracked.rollback_sha is not None
        row.append(
            button(
                f"Roll back to {short_sha(tracked.rollback_sha)}",
                custom_id("deploy.rollback", *state),
                style=ButtonStyle.DANGER,
            )
        )
    if tracked.run_url:
        row.append(link_button("Open run", tracked.run_url))
    return [action_row(*row)]


def render(tracked: Tracked) -> Message:
    line, color = status_line(tracked)
    if tracked.verdict:
        icon = VERDICT_ICONS.get(tracked.verdict, "❔")
        line += f"\n{icon} verification: {tracked.verdict_summary or tracked.verdict.lower()}"
        if tracked.verdict == "FAIL":
            color = int(Color.RED)
        elif tracked.verdict == "WARN" and color == int(Color.GREEN):
            color = int(Color.YELLOW)
    if tracked.rollback_note:
        line += f"\n↩️ {tracked.rollback_note}"
    fields: list[tuple[str, str] | tuple[str, str, bool]] = [
        (
            "Ref",
            f"{tracked.ref}" + (f" (`{short_sha(tracked.head_sha)}`)" if tracked.head_sha else ""),
            True,
        ),
        ("By", f"<@{tracked.actor}>" if tracked.actor else "?", True),
    ]
    if tracked.failed_jobs:
        fields.append(("Failed jobs", "\n".join(f"• {name}" for name in tracked.failed_jobs[:10])))
    if tracked.note:
        fields.append(("Note", tracked.note))
    title = f"{_KIND.get(tracked.kind, tracked.kind)} {tracked.app}"
    if tracked.environment not in (None, DEFAULT):
        title += f" → {tracked.environment}"
    footer = f"{tracked.repo} · {tracked.correlation}" + (
        f" · run {tracked.run_id}" if tracked.run_id else ""
    )
    return Message(
        embeds=[embed(title, line, color=color, url=tracked.run_url, fields=fields, footer=footer)],
        components=buttons(tracked),
    )
