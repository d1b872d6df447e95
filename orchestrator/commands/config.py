"""/config show and /config set: the apps' settings, as the config file and overrides make them.

Showing is open to everyone; changing needs admin, accepts only the settable keys (https
URLs only), and every attempt, refused ones included, goes to the audit log.
"""

from __future__ import annotations

from orchestrator.apps import SETTABLE, InvalidApp, apps_of, get_app, set_override
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
    apps = apps_of(ctx.services)
    wanted = ctx.options.string("app")
    shown = [a for a in apps.values() if not wanted or a.name == wanted]
    if not shown:
        return error(
            "no apps configured: add [[apps]] to the config file"
            if not apps
            else f"no app {wanted!r}"
        )
    embeds = []
    for app in shown[:10]:
        values = "\n".join(f"`{k}` {getattr(app, k) or '—'}" for k in SETTABLE)
        embeds.append(embed(f"⚙️ {app.name} · {app.repo}", values, color=Color.GREY))
    return Message(embeds=embeds, ephemeral=True)


bot.autocomplete("config show", "app")(suggest_apps)


@config.subcommand(
    "set",
    "Change one app setting (https URLs only)",
    options=[
        string("app", APP_OPTION, required=True, autocomplete=True),
        string("key", "Which setting", required=True, choices=[(k, k) for k in SETTABLE]),
        string("value", "The new value (empty to clear)", required=True, max_length=300),
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
    return Message(
        content=f"🔧 `{app.name}.{key}` is now `{getattr(updated, key) or '—'}`.", ephemeral=True
    )


bot.autocomplete("config set", "app")(suggest_apps)
