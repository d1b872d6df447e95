"""`/freeze add|list|remove`: freeze windows kept in the store, next to the config file's.

Adding and removing are admin actions, audited; the list is open to everyone (it is what
a refused deploy points to). Windows in the config file are listed too, but only the file
changes them. `deploys.freezes` has the rules for cron, durations and time zones.
"""

from __future__ import annotations

import time

from orchestrator.commands.common import error
from orchestrator.deploys import freezes
from orchestrator.deploys.freezes import FreezeWindow, InvalidFreeze, local_time, parse_window
from orchestrator.discord.access import Access
from orchestrator.discord.context import Context
from orchestrator.discord.messages import Color, Message, embed
from orchestrator.discord.options import string
from orchestrator.discord.tree import Bot

bot = Bot()

group = bot.group("freeze", "Freeze windows: times when deploys wait")


def _names(text: str | None) -> list[str] | None:
    parts = [p.strip() for p in (text or "").split(",") if p.strip()]
    return parts or None


@group.subcommand(
    "add",
    "Add a freeze window: cron + duration (+ timezone), or start + end",
    options=[
        string("name", "A short name, e.g. friday-evening", required=True, max_length=48),
        string("cron", "When it starts, e.g. 0 18 * * 5 (minute hour day month weekday)"),
        string("duration", "How long each time, e.g. 62h", max_length=20),
        string("timezone", "IANA time zone of the cron or the times, e.g. Europe/Berlin"),
        string("start", "One-off: from, e.g. 2026-12-24T00:00", max_length=40),
        string("end", "One-off: until, e.g. 2026-12-27T00:00", max_length=40),
        string("apps", "Apps it covers, comma-separated globs (default: all)", max_length=200),
        string("environments", "Environments, comma-separated globs (default: all)"),
        string("reason", "Why (shown with every refused deploy)", max_length=200),
    ],
    access=Access.ADMIN,
)
async def freeze_add(ctx: Context) -> Message:
    name = (ctx.options.string("name") or "").strip()
    data = {
        "name": name,
        "cron": ctx.options.string("cron"),
        "duration": ctx.options.string("duration"),
        "timezone": ctx.options.string("timezone"),
        "start": ctx.options.string("start"),
        "end": ctx.options.string("end"),
        "apps": _names(ctx.options.string("apps")),
        "environments": _names(ctx.options.string("environments")),
        "reason": ctx.options.string("reason"),
    }
    try:
        window = parse_window(
            {k: v for k, v in data.items() if v is not None}, stored=True, created_by=ctx.user_id
        )
        in_file = {w.name for w in freezes.from_config(ctx.services)}
    except InvalidFreeze as exc:
        ctx.audit("freeze.add", "rejected", name=name, error=str(exc)[:200])
        return error(str(exc))
    if window.name in in_file:
        return error(f"{window.name} is a window of the config file: change it there")
    freezes.add(ctx.services.store, window)
    ctx.audit("freeze.add", "added", name=window.name, when=window.when(), reason=window.reason)
    return Message(
        embeds=[
            embed(
                f"🧊 Freeze window {window.name} added",
                _describe(window, time.time()),
                color=Color.BLUE,
            )
        ]
    )


@group.subcommand("list", "Freeze windows, and which ones are in force now")
async def freeze_list(ctx: Context) -> Message:
    try:
        windows = freezes.load(ctx.services)
    except InvalidFreeze as exc:
        return error(str(exc))
    now = time.time()
    fields: list[tuple[str, str] | tuple[str, str, bool]] = [
        (("🧊 " if w.active_until(now) else "") + w.name, _describe(w, now)) for w in windows[:25]
    ]
    return Message(
        embeds=[
            embed(
                "🧊 Freeze windows",
                None if windows else "None: deploys may go any time.",
                color=Color.BLUE,
                fields=fields,
            )
        ],
        ephemeral=True,
    )


@group.subcommand(
    "remove",
    "Remove a freeze window added with /freeze add",
    options=[string("name", "The window's name", required=True, autocomplete=True)],
    access=Access.ADMIN,
)
async def freeze_remove(ctx: Context) -> Message:
    name = (ctx.options.string("name") or "").strip()
    if not freezes.remove(ctx.services.store, name):
        in_file = name in {w.name for w in freezes.from_config(ctx.services)}
        return error(
            f"{name} is a window of the config file: change it there"
            if in_file
            else f"no freeze window {name!r} (see /freeze list)"
        )
    ctx.audit("freeze.remove", "removed", name=name)
    return Message(content=f"🧊 Freeze window **{name}** removed.")


@bot.autocomplete("freeze remove", "name")
async def suggest_windows(ctx: Context, typed: str) -> list[tuple[str, str]]:
    return [
        (w.name, w.name)
        for w in freezes.stored(ctx.services.store)
        if w.name.lower().startswith(typed.strip().lower())
    ][:25]


def _describe(window: FreezeWindow, now: float) -> str:
    """When it is, what it covers, where it comes from, and whether it is in force."""
    covers = f"apps {', '.join(window.apps)} · environments {', '.join(window.environments)}"
    source = f"added by <@{window.created_by}>" if window.stored else "config file"
    lines = [window.when(), covers, source]
    if window.reason:
        lines.insert(0, f"“{window.reason}”")
    ends = window.active_until(now)
    if ends is not None:
        lines.append(f"**in force** until {local_time(ends, window.timezone)}")
    else:
        upcoming = window.next_start(now)
        if upcoming is not None:
            lines.append(f"next: {local_time(upcoming, window.timezone)}")
    return "\n".join(lines)
