"""`/release app`: what would be promoted, with Promote and Roll back buttons (deploy role).

Replaces the old `/ship`, whose buttons were never wired in. The buttons
dispatch the app's configured workflows with the SHA as input, are checked
and audited like `/deploy`, and the message then tracks the run like `/deploy`.

A button drawn disabled is only a drawing: a client can still send its custom id, and the
facts may have changed since it was drawn. So a press re-checks everything that disables
it (the presser's access, the workflow, something to ship) with the facts as they are now,
and refuses (audited) instead of dispatching.
"""

from __future__ import annotations

from orchestrator.apps import App, InvalidApp, get_app
from orchestrator.commands.common import APP_OPTION, suggest_apps
from orchestrator.commands.deploying import launch_deploy
from orchestrator.deploys import history
from orchestrator.deploys.environments import Target, primary
from orchestrator.deploys.release import plan, promote_refusal, render, rollback_refusal
from orchestrator.discord.access import Access
from orchestrator.discord.context import Context, Declined, Keep
from orchestrator.discord.messages import Message
from orchestrator.discord.options import string
from orchestrator.discord.tree import Bot
from orchestrator.github.refs import InvalidRef, check_sha

bot = Bot()


async def deployed_sha(ctx: Context, app: App) -> str | None:
    """What production runs: the app's version endpoint, else the last verified SHA."""
    from orchestrator.verification.http_checks import deployed_version

    found = await deployed_version(app, ctx.services)
    if found:
        return found
    last = history.recent(ctx.services.store, app.name, limit=1)
    sha = last[0].get("head_sha") if last else None
    return sha if isinstance(sha, str) else None


@bot.command(
    "release",
    "What a release would ship, with Promote and Roll back buttons",
    options=[string("app", APP_OPTION, autocomplete=True)],
    defer=True,
)
async def release(ctx: Context) -> Message:
    from orchestrator.discord.access import AccessPolicy

    try:
        app = primary(get_app(ctx.services, ctx.options.string("app"))).app  # production's
    except InvalidApp as exc:
        return Message(content=f"⚠️ {exc}", ephemeral=True)
    deployed = await deployed_sha(ctx, app)
    async with ctx.services.github() as github:
        candidate = await github.get_branch_head(app.repo, app.branch)
        compare = (
            await github.compare(app.repo, deployed, candidate)
            if deployed and deployed != candidate
            else None
        )
    verifications = history.recent(ctx.services.store, app.name, limit=20)
    allowed = AccessPolicy.from_settings(ctx.services.settings).allows(
        Access.DEPLOY, ("release",), ctx.interaction
    )
    shown = plan(app.name, deployed, candidate, compare, verifications)
    return render(
        shown,
        can_promote=allowed and bool(app.promote_workflow),
        can_roll_back=allowed and bool(app.rollback_workflow),
    )


bot.autocomplete("release", "app")(suggest_apps)


async def _refusal(ctx: Context, app: App, kind: str, sha: str) -> str | None:
    """What would have drawn this button disabled, judged now: None when it may act."""
    from orchestrator.discord.access import AccessPolicy

    policy = AccessPolicy.from_settings(ctx.services.settings)
    if not policy.allows(Access.DEPLOY, ("release",), ctx.interaction):
        return f"you need the deploy role to {kind.replace('rollback', 'roll back')}"
    deployed = await deployed_sha(ctx, app)
    if kind == "rollback":
        return rollback_refusal(deployed, sha)
    ahead_by = None
    if deployed and deployed != sha:
        async with ctx.services.github() as github:
            compare = await github.compare(app.repo, deployed, sha)
        found = compare.get("ahead_by")
        ahead_by = found if isinstance(found, int) else None
    return promote_refusal(deployed, sha, ahead_by)


def _needs_approval(target: Target, kind: str, sha: str) -> str | None:
    """Promote ships something new: where deploys need approvals, it must not be the way
    around them. (Roll back returns to what ran before, and waits for nobody.)"""
    needed = target.environment.approvals
    if kind != "promote" or not needed:
        return None
    return (
        f"{target.label} needs {needed} approval{'s' if needed > 1 else ''}: ask for them "
        f"with `/deploy app:{target.app.name} env:{target.environment.name} ref:{sha}`"
    )


async def _launch(ctx: Context, kind: str) -> Message | Keep | Declined:
    if len(ctx.state) != 2 or ctx.state[1] == "none":
        return Message(content="⚠️ Nothing to do for that button.", ephemeral=True)
    try:
        # Promote and Roll back act on the app's production environment, through the gate.
        target = primary(get_app(ctx.services, ctx.state[0]))
    except InvalidApp as exc:
        return Message(content=f"⚠️ {exc}", ephemeral=True)
    app = target.app
    workflow = app.promote_workflow if kind == "promote" else app.rollback_workflow
    if not workflow:
        return Message(content=f"⚠️ No {kind} workflow configured for {app.name}.", ephemeral=True)
    try:
        sha = check_sha(ctx.state[1])
    except InvalidRef as exc:
        return Message(content=f"⚠️ {exc}", ephemeral=True)
    refused = _needs_approval(target, kind, sha) or await _refusal(ctx, app, kind, sha)
    if refused is not None:
        ctx.audit(f"release.{kind}", "refused", app=app.name, sha=sha[:12], reason=refused)
        return Message(content=f"⚠️ Not dispatched: {refused}.", ephemeral=True)
    ctx.trace(f"{kind} dispatched", sha=sha[:12])
    return await launch_deploy(
        ctx, target, kind="release", workflow=workflow, ref=app.branch, inputs={"sha": sha}
    )


@bot.component("release.promote", commands=["release"], defer=True, access=Access.DEPLOY, once=True)
async def press_promote(ctx: Context) -> Message | Keep | Declined:
    return await _launch(ctx, "promote")


@bot.component(
    "release.rollback", commands=["release"], defer=True, access=Access.DEPLOY, once=True
)
async def press_rollback(ctx: Context) -> Message | Keep | Declined:
    return await _launch(ctx, "rollback")
