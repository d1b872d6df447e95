"""A card record as a Discord message. Pure: the whole card is rendered every time.

Rendering everything (never a diff) is what lets edits be coalesced: whichever job edits
the message shows every line the store holds at that moment, so skipped intermediate
edits lose nothing. Texts from GitHub go into the embed, which never pings; the only
ping is the subscription's own `mention_on_failure`, and `allowed_mentions` admits
exactly that role or user.
"""

from __future__ import annotations

from typing import Any

from orchestrator.discord.messages import Color, Message, embed
from orchestrator.github.events import short_sha
from orchestrator.notifications.cards import FAILED, verdict
from orchestrator.notifications.render import conclusion_parts, first_line
from orchestrator.text import duration

MAX_LINES = 25

_VERDICT = {
    "failure": ("❌", "failed", Color.RED),
    "running": ("⏳", "running", Color.YELLOW),
    "success": ("✅", "passed", Color.GREEN),
    "mixed": ("➖", "finished", Color.GREY),
}
_RUNNING = {"queued": "🕒 queued", "requested": "🕒 queued", "pending": "🕒 queued"}


def allowed_mentions(mention: str | None) -> dict[str, Any]:
    """No pings, except the one role or user named by `<@&id>` / `<@id>`."""
    if not mention:
        return {"parse": []}
    inner = mention.strip("<>@!")
    if inner.startswith("&"):
        return {"parse": [], "roles": [inner[1:]]}
    return {"parse": [], "users": [inner]}


def _job(job: list[Any]) -> str:
    name, url, steps = [*job, None, None, None][:3]
    label = f"[{name}]({url})" if url else str(name)
    return label + (f": {', '.join(map(str, steps))}" if steps else "")


def _line(line: dict[str, Any]) -> str:
    name = first_line(str(line.get("name") or "?"), 80)
    label = f"[{name}]({line['url']})" if line.get("url") else name
    deploy = line.get("deploy")
    if line.get("status") != "completed":
        state = _RUNNING.get(str(line.get("status")), "⏳ running")
        icon, rest = state.split(" ", 1)
        text = f"{icon} {label} — {rest}"
    else:
        icon, verb, _ = conclusion_parts(line.get("conclusion"))
        took = duration(line.get("duration"), missing="")
        text = f"{icon} {label} {verb}" + (f" in {took}" if took else "")
        if line.get("conclusion") in FAILED:
            text = f"**{text}**"
            jobs = [_job(job) for job in (line.get("failed_jobs") or [])[:5]]
            if jobs:
                text += "\n　↳ " + "; ".join(jobs)
    if isinstance(deploy, dict):
        where = (
            f"[its deploy message]({deploy['url']})"
            if deploy.get("url")
            else (f"its deploy message in <#{deploy['channel_id']}>")
            if deploy.get("channel_id")
            else "its deploy message"
        )
        text += f" · 🚀 followed live in {where}"
    return text


def render_card(card: dict[str, Any], *, mention: str | None = None) -> Message:
    state = verdict(card)
    icon, said, color = _VERDICT[state]
    sha = short_sha(card.get("sha"))
    title = first_line(card.get("title"), 150) or f"Commit {sha}"
    lines_by_id: dict[str, Any] = card.get("lines") or {}
    order = [i for i in card.get("order") or [] if i in lines_by_id]
    shown = [_line(lines_by_id[i]) for i in order[:MAX_LINES]]
    if len(order) > MAX_LINES:
        shown.append(f"… and {len(order) - MAX_LINES} more")
    failing = [
        str(lines_by_id[i].get("name") or "?")
        for i in order
        if lines_by_id[i].get("conclusion") in FAILED
    ]
    fields: list[tuple[str, str] | tuple[str, str, bool]] = [
        (
            "Commit",
            f"[`{sha}`]({card['commit_url']})" if card.get("commit_url") else f"`{sha}`",
            True,
        )
    ]
    if card.get("branch"):
        fields.append(("Branch", str(card["branch"]), True))
    if card.get("author"):
        fields.append(("By", str(card["author"]), True))
    if card.get("pr") is not None:
        pr = f"#{card['pr']}"
        fields.append(
            ("Pull request", f"[{pr}]({card['pr_url']})" if card.get("pr_url") else pr, True)
        )
    content = None
    if mention and state == "failure":
        content = f"{mention} {', '.join(first_line(n, 60) for n in failing[:5])} failed on `{sha}`"
    return Message(
        content=content,
        embeds=[
            embed(
                f"{icon} {title}",
                "\n".join(shown) or "Waiting for the first workflow…",
                color=color,
                url=card.get("commit_url"),
                fields=fields,
                footer=f"{card.get('repo') or 'GitHub'} · {said}",
            )
        ],
        allowed_mentions=allowed_mentions(mention if content else None),
    )
