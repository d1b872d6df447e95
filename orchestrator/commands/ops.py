"""Operations at a glance: `/uptime` (probe states and incidents) and `/digest`.

`/uptime` only reads the store (a handful of keys), so it answers at once. `/digest`
reads a day or a week of samples (thousands of records on a busy week), so it is
deferred: on DynamoDB that is several paged queries, too many for Discord's 3 s.
"""

from __future__ import annotations

import time

from orchestrator.apps import InvalidApp, apps_of, get_app
from orchestrator.commands.common import APP_OPTION, suggest_apps
from orchestrator.discord.context import Context
from orchestrator.discord.messages import Message
from orchestrator.discord.options import string
from orchestrator.discord.tree import Bot

bot = Bot()


def _error(text: str) -> Message:
    return Message(content=f"⚠️ {text}", ephemeral=True)


@bot.command(
    "uptime",
    "Is each app up? Probe states and recent incidents",
    options=[string("app", APP_OPTION, autocomplete=True)],
)
async def uptime(ctx: Context) -> Message:
    from orchestrator.probes.render import uptime_message
    from orchestrator.probes.run import incidents, states
    from orchestrator.probes.state import SELF_APP

    name = ctx.options.string("app")
    try:
        names = [get_app(ctx.services, name).name] if name else [*sorted(apps_of(ctx.services))]
    except InvalidApp as exc:
        return _error(str(exc))
    if not name:
        names.append(SELF_APP)
    store = ctx.services.store
    rows = []
    for app in names:
        found, recent = states(store, app), incidents(store, app)
        if found or recent or app != SELF_APP:
            rows.append((app, found, recent))
    return uptime_message(rows, time.time())


bot.autocomplete("uptime", "app")(suggest_apps)


@bot.command(
    "digest",
    "Deploys, uptime and verifications over the last day or week",
    options=[
        string(
            "period",
            "daily: the last 24 hours (default); weekly: the last 7 days",
            choices=["daily", "weekly"],
        ),
        string("app", APP_OPTION, autocomplete=True),
    ],
    defer=True,
)
async def digest(ctx: Context) -> Message:
    from orchestrator.digest.load import build
    from orchestrator.digest.render import to_message

    period = ctx.options.string("period") or "daily"
    if period not in ("daily", "weekly"):
        return _error("period is daily or weekly")
    name = ctx.options.string("app")
    try:
        apps = [get_app(ctx.services, name).name] if name else None
    except InvalidApp as exc:
        return _error(str(exc))
    return to_message(build(ctx.services, "weekly" if period == "weekly" else "daily", apps=apps))


bot.autocomplete("digest", "app")(suggest_apps)
