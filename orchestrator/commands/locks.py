"""`/lock`, `/unlock` and `/locks`: holding an environment while you work on it.

A lock keeps everyone else's deploys out of an environment (`deploys.locks` has the
rules). The owner unlocks it; anyone else may not, except an admin, who must say why: a
broken lock is audited with the owner, their reason and the admin's. Answers are public in
the channel, so the team sees who holds what.
"""

from __future__ import annotations

import time

from orchestrator.apps import InvalidApp, get_app
from orchestrator.commands.common import APP_OPTION, error, suggest_apps
from orchestrator.commands.deploying import (
    environment_label,
    is_admin,
    suggest_environments_or_every,
)
from orchestrator.deploys import locks
from orchestrator.deploys.environments import EVERY, Target, targets
from orchestrator.discord.access import Access
from orchestrator.discord.context import Context
from orchestrator.discord.messages import Color, Message, embed
from orchestrator.discord.options import boolean, string
from orchestrator.discord.tree import Bot
from orchestrator.text import parse_duration

bot = Bot()

ENV = "Which environment (* for all of them)"


def _targets(ctx: Context) -> list[Target]:
    app = get_app(ctx.services, ctx.options.string("app"))
    return targets(app, ctx.options.string("env") or "")


@bot.command(
    "lock",
    "Lock an environment: nobody else deploys there until you unlock it",
    options=[
        string("app", APP_OPTION, required=True, autocomplete=True),
        string("env", ENV, required=True, autocomplete=True, max_length=32),
        string("reason", "Why (shown to whoever tries to deploy)", required=True, max_length=200),
        string("ttl", "How long, e.g. 2h or 1d (default 24 h, at most 7 d)", max_length=20),
        boolean("sticky", "false: released by your next successful deploy (default: true)"),
    ],
    access=Access.DEPLOY,
)
async def lock(ctx: Context) -> Message:
    reason = (ctx.options.string("reason") or "").strip()
    ttl_text = ctx.options.string("ttl")
    user = ctx.user_id
    if not reason or user is None:
        return error("a lock needs a reason: it is what others are told")
    try:
        found = _targets(ctx)
        ttl = locks.check_ttl(parse_duration(ttl_text) if ttl_text else None)
    except (InvalidApp, ValueError) as exc:
        return error(str(exc))
    sticky = ctx.options.boolean("sticky", True) is not False
    lines = []
    now = time.time()
    for target in found:
        app, env = target.app.name, target.environment.name
        try:
            held, renewed = locks.acquire(
                ctx.services.store, app, env, owner=user, reason=reason, ttl=ttl, sticky=sticky
            )
        except locks.LockHeld as exc:
            lines.append(f"**{target.label}** already {locks.describe(exc.lock, now)}")
            continue
        ctx.audit(
            "lock.take",
            "renewed" if renewed else "locked",
            app=app,
            environment=env,
            reason=reason,
            ttl=ttl,
            sticky=sticky,
        )
        lines.append(
            f"**{target.label}** {'renewed' if renewed else 'locked'}: {locks.describe(held, now)}"
        )
    return Message(embeds=[embed("🔒 Lock", "\n".join(lines), color=Color.PURPLE)])


@bot.command(
    "unlock",
    "Unlock an environment you locked (admins: anyone's, with a reason)",
    options=[
        string("app", APP_OPTION, required=True, autocomplete=True),
        string("env", ENV, required=True, autocomplete=True, max_length=32),
        string("reason", "Admins breaking someone else's lock: why (audited)", max_length=200),
    ],
    access=Access.DEPLOY,
)
async def unlock(ctx: Context) -> Message:
    try:
        found = _targets(ctx)
    except InvalidApp as exc:
        return error(str(exc))
    reason = (ctx.options.string("reason") or "").strip()
    admin = is_admin(ctx)
    store = ctx.services.store
    lines = []
    now = time.time()
    for target in found:
        app, env = target.app.name, target.environment.name
        held = locks.get(store, app, env)
        if held is None:
            lines.append(f"**{target.label}** was not locked")
        elif held.owner == ctx.user_id:
            locks.release(store, held)
            ctx.audit("lock.release", "unlocked", app=app, environment=env)
            lines.append(f"**{target.label}** unlocked")
        elif not admin:
            lines.append(
                f"**{target.label}** is {locks.describe(held, now)}: only they, or an admin "
                "with a reason, may unlock it"
            )
        elif not reason:
            lines.append(
                f"**{target.label}** is {locks.describe(held, now)}: to break their lock, "
                "give `reason:` (it is audited)"
            )
        else:
            locks.release(store, held)
            ctx.audit(
                "lock.break",
                "broken",
                app=app,
                environment=env,
                owner=held.owner,
                lock_reason=held.reason,
                reason=reason,
            )
            lines.append(
                f"**{target.label}** unlocked: <@{held.owner}>'s lock (“{held.reason}”) broken "
                f"by <@{ctx.user_id}>: “{reason}”"
            )
    return Message(embeds=[embed("🔓 Unlock", "\n".join(lines), color=Color.PURPLE)])


@bot.command(
    "locks",
    "Who holds which environment, why, and for how long",
    options=[string("app", APP_OPTION, autocomplete=True)],
    ephemeral=True,
)
async def list_locks(ctx: Context) -> Message:
    wanted = ctx.options.string("app")
    now = time.time()
    held = [
        found for found in locks.everything(ctx.services.store) if not wanted or found.app == wanted
    ]
    lines = [
        f"**{environment_label(found.app, found.environment)}** {locks.describe(found, now)}"
        for found in held
    ]
    return Message(
        embeds=[
            embed(
                "🔒 Locks",
                "\n".join(lines) or "No environment is locked.",
                color=Color.PURPLE,
                footer=f"/lock app env reason · /unlock app env · env {EVERY}: all of an app's",
            )
        ],
        ephemeral=True,
    )


for _command in ("lock", "unlock"):
    bot.autocomplete(_command, "app")(suggest_apps)
    bot.autocomplete(_command, "env")(suggest_environments_or_every)
bot.autocomplete("locks", "app")(suggest_apps)
