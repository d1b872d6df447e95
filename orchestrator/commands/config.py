"""/config show, set and reset: the apps' settings, as the config file and overrides make them.

Showing is open to everyone; changing needs admin, accepts only the settable keys (https
URLs only), and every attempt, refused ones included, goes to the audit log.

Precedence (docs/configuration.md): a value set here overrides the file's for that key
until `/config reset` removes it; the answers say so, and `/config show` marks every
override with the file's value beside it, so an override never wins silently.
"""

from __future__ import annotations

from typing import Any

from orchestrator.apps import (
    SETTABLE,
    App,
    InvalidApp,
    Loaded,
    get_app,
    loaded_of,
    reset_override,
    set_override,
)
from orchestrator.commands.common import APP_OPTION, error, suggest_apps
from orchestrator.discord.access import Access
from orchestrator.discord.context import Context
from orchestrator.discord.messages import Color, Message, embed
from orchestrator.discord.options import string
from orchestrator.discord.tree import Bot

bot = Bot()

config = bot.group("config", "Show or change app settings", access=Access.ADMIN)


@config.subcommand(
    "show",
    "Show apps and their settings",
    options=[string("app", APP_OPTION, autocomplete=True)],
    access=Access.EVERYONE,
)
async def config_show(ctx: Context) -> Message:
    try:
        loaded = loaded_of(ctx.services)
    except InvalidApp as exc:
        return error(str(exc))
    apps = loaded.apps
    wanted = ctx.options.string("app")
    shown = [a for a in apps.values() if not wanted or a.name == wanted]
    if not shown:
        return error(
            "no apps configured: add [[apps]] to the config file"
            if not apps
            else f"no app {wanted!r}"
        )
    embeds = [
        embed(
            f"⚙️ {app.name} · {app.repo}",
            describe(app, loaded),
            color=Color.GREY,
            footer=OVERRIDE_LEGEND if app.name in loaded.overrides else None,
        )
        for app in shown[:10]
    ]
    return Message(embeds=embeds, ephemeral=True)


OVERRIDE_LEGEND = "✏️ set with /config set: wins over the config file until /config reset"


def _shown(value: Any) -> str:
    return str(value) if value not in (None, "") else "—"


def describe(app: App, loaded: Loaded) -> str:
    """One line per settable key: its value, and for an override the file's value beside it;
    overrides today's rules refuse (ignored: the file's value runs) are listed after."""
    overrides = loaded.overrides.get(app.name, {})
    from_file = loaded.from_file.get(app.name)
    lines = []
    for key in SETTABLE:
        line = f"`{key}` {_shown(getattr(app, key))}"
        if key in overrides:
            line += f" ✏️ (file: {_shown(getattr(from_file, key, None))})"
        lines.append(line)
    mine = f"apps[{app.name}]."
    lines += [f"⚠️ ignored: {problem}" for problem in loaded.ignored if problem.startswith(mine)]
    return "\n".join(lines)


bot.autocomplete("config show", "app")(suggest_apps)


@config.subcommand(
    "set",
    "Change one app setting (https URLs only)",
    options=[
        string("app", APP_OPTION, required=True, autocomplete=True),
        string("key", "Which setting", required=True, choices=[(k, k) for k in SETTABLE]),
        string(
            "value",
            "The new value; it wins over the config file until /config reset",
            required=True,
            max_length=300,
        ),
    ],
)
async def config_set(ctx: Context) -> Message:
    key = ctx.options.string("key") or ""
    value = ctx.options.string("value") or ""
    try:
        app = get_app(ctx.services, ctx.options.string("app"))
    except InvalidApp as exc:
        return error(str(exc))
    try:
        updated = set_override(
            ctx.services.store,
            app,
            key,
            value,
            production=ctx.services.settings.is_prod,
            actor=ctx.user_id,
        )
    except InvalidApp as exc:
        # A refused change is an attempt worth keeping too: who tried to set what, and why
        # it was refused (which may name the refused host; that is the point of the entry).
        ctx.audit("/config set", "rejected", app=app.name, key=key, reason=str(exc)[:200])
        return error(str(exc))
    ctx.audit(
        "/config set",
        "changed",
        app=app.name,
        key=key,
        old=str(getattr(app, key) or ""),
        new=str(getattr(updated, key) or ""),
    )
    try:
        in_file = loaded_of(ctx.services).from_file.get(app.name)
    except InvalidApp:
        in_file = None
    if in_file is not None and getattr(in_file, key) != getattr(updated, key):
        where = (
            f"overrides the config file's `{_shown(getattr(in_file, key))}` until "
            f"`/config reset app:{app.name} key:{key}`"
        )
    else:
        where = f"`/config reset app:{app.name} key:{key}` returns to the config file's value"
    return Message(
        content=f"🔧 `{app.name}.{key}` is now `{_shown(getattr(updated, key))}` ({where}).",
        ephemeral=True,
    )


bot.autocomplete("config set", "app")(suggest_apps)


@config.subcommand(
    "reset",
    "Drop a /config set value, so the config file's value applies again",
    options=[
        string("app", APP_OPTION, required=True, autocomplete=True),
        string("key", "Which setting", required=True, choices=[(k, k) for k in SETTABLE]),
    ],
)
async def config_reset(ctx: Context) -> Message:
    key = ctx.options.string("key") or ""
    name = ctx.options.string("app") or ""
    try:
        app = get_app(ctx.services, name)
        removed = reset_override(ctx.services.store, app.name, key, actor=ctx.user_id)
        loaded = loaded_of(ctx.services)
    except InvalidApp as exc:
        return error(str(exc))
    if not removed:
        return error(f"`{app.name}.{key}` has no /config set value: it follows the config file")
    ctx.audit("/config reset", "reset", app=app.name, key=key, old=str(getattr(app, key) or ""))
    now = _shown(getattr(loaded.apps[app.name], key))
    return Message(
        content=f"↩️ `{app.name}.{key}` follows the config file again: `{now}`.", ephemeral=True
    )


bot.autocomplete("config reset", "app")(suggest_apps)
