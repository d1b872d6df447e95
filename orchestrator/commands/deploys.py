"""Deploying from Discord: /deploy, /status, and the buttons on tracked-run messages.

`/deploy` dispatches the app's workflow and leaves a message that webhooks keep up to date
(`orchestrator.deploys.render` draws it, buttons included); the buttons that message carries
are handled here, next to the command that posts it. Everything that talks to GitHub is
deferred (answered "thinking…" at once, finished by a job), so Discord's 3-second deadline
is never at risk. Deploy-capable actions need the deploy role (or admin) and are audited by
the dispatcher.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from orchestrator.apps import App, InvalidApp, get_app
from orchestrator.commands import approvals
from orchestrator.commands.common import APP_OPTION, error, suggest_apps
from orchestrator.commands.deploying import (
    ENV_OPTION,
    environments_field,
    launch_deploy,
    suggest_environments,
)
from orchestrator.deploys import environments, history, runs, tracking
from orchestrator.deploys.render import VERDICT_ICONS, render
from orchestrator.discord.access import Access
from orchestrator.discord.context import Context, Declined, Keep, Update
from orchestrator.discord.messages import Color, Message, embed
from orchestrator.discord.options import boolean, integer, string
from orchestrator.discord.tree import Bot
from orchestrator.github.events import WorkflowRun, short_sha
from orchestrator.github.refs import InvalidRef, check_ref
from orchestrator.notifications.render import conclusion_parts
from orchestrator.text import ago, duration

bot = Bot()

# The tracked-run message (and its buttons) follows /deploy, /release's Promote and Roll
# back, and /diagnose: every one of their allow-lists governs its buttons.
TRACKED_BY = ("deploy", "release", "diagnose")


def parse_inputs(raw: str | None) -> dict[str, str]:
    """`"api_base=https://x, dry_run=true"` -> {"api_base": "https://x", "dry_run": "true"}."""
    inputs: dict[str, str] = {}
    for part in (raw or "").split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise InvalidApp(f"inputs look like key=value, got {part.strip()!r}")
        inputs[key.strip()] = value.strip()
    return inputs


# -- /deploy ----------------------------------------------------------------------------------


@bot.command(
    "deploy",
    "Deploy an app: dispatch its workflow and follow the run here",
    options=[
        string("app", APP_OPTION, required=True, autocomplete=True),
        string("env", ENV_OPTION, autocomplete=True, max_length=32),
        string("ref", "Branch, tag or SHA (default: the environment's branch)", max_length=200),
        string("inputs", "Workflow inputs, e.g. api_base=https://api.example.com", max_length=500),
        string("override", "Admins: deploy during a freeze, for this reason", max_length=200),
        boolean("dry_run", "Only show what would happen: dispatch nothing"),
    ],
    access=Access.DEPLOY,
    defer=True,
)
async def deploy(ctx: Context) -> Message | Keep | Declined:
    try:
        app = get_app(ctx.services, ctx.options.string("app"))
        target = environments.target(app, ctx.options.string("env"))
        inputs = target.app.inputs_with(parse_inputs(ctx.options.string("inputs")))
        ref = check_ref(ctx.options.string("ref") or target.app.branch)
    except (InvalidApp, InvalidRef) as exc:
        return error(str(exc))
    override = ctx.options.string("override")
    if ctx.options.boolean("dry_run"):
        return await approvals.dry_run(ctx, target, ref=ref, inputs=inputs, override=override)
    if target.environment.approvals:
        return await approvals.request_approval(
            ctx, target, ref=ref, inputs=inputs, override=override
        )
    # The gate decides (lock, freeze, one at a time); the tracking message then follows
    # the run, and webhooks own it.
    return await launch_deploy(
        ctx,
        target,
        kind="deploy",
        workflow=target.app.workflow,
        ref=ref,
        inputs=inputs,
        override=override,
    )


bot.autocomplete("deploy", "app")(suggest_apps)
bot.autocomplete("deploy", "env")(suggest_environments)


# -- /status ----------------------------------------------------------------------------------


@bot.command(
    "status",
    "Recent runs of an app's deploy (and diagnose) workflows",
    options=[
        string("app", APP_OPTION, autocomplete=True),
        integer("count", "How many runs (1-10, default 3)", min_value=1, max_value=10),
    ],
    defer=True,
)
async def status(ctx: Context) -> Message:
    try:
        app = get_app(ctx.services, ctx.options.string("app"))
    except InvalidApp as exc:
        return error(str(exc))
    count = ctx.options.integer("count", 3) or 3
    now = time.time()
    fields: list[tuple[str, str] | tuple[str, str, bool]] = []
    async with ctx.services.github() as github:
        workflows = [("Deploy", app.workflow)]
        if app.diagnose_workflow:
            workflows.append(("Diagnose", app.diagnose_workflow))
        for label, workflow in workflows:
            found = await github.list_workflow_runs(
                app.repo, workflow, branch=app.branch, per_page=count
            )
            lines = [_run_line(WorkflowRun(raw), now) for raw in found[:count]]
            fields.append((f"{label} · {workflow}", "\n".join(lines) or "no runs yet"))
    fields.append(await environments_field(ctx, app, live=True))
    last = history.recent(ctx.services.store, app.name, limit=1)
    if last:
        verdict = str(last[0].get("verdict")).upper()
        fields.append(
            (
                "Last verification",
                f"{VERDICT_ICONS.get(verdict, '❔')} {verdict.lower()} · "
                f"{ago(now - float(last[0].get('recorded_at', now)))}",
            )
        )
    return Message(
        embeds=[
            embed(f"📋 {app.name} · {app.repo}@{app.branch}", None, color=Color.BLUE, fields=fields)
        ]
    )


def _run_line(run: WorkflowRun, now: float) -> str:
    if run.status == "completed":
        icon, verb, _ = conclusion_parts(run.conclusion)
        took = f" in {duration(run.duration)}"
    else:
        icon, verb, took = "⏳", (run.status or "?").replace("_", " "), ""
    when = ago(now - run.created_at) if run.created_at else "?"
    link = f"[#{run.id}]({run.html_url})" if run.html_url else f"#{run.id}"
    return f"{icon} {link} `{short_sha(run.head_sha)}` {verb}{took} · {when}"


bot.autocomplete("status", "app")(suggest_apps)


# -- buttons on tracked runs ------------------------------------------------------------------


def _tracked_from_state(ctx: Context) -> tuple[App, tracking.Tracked] | str:
    if len(ctx.state) != 2 or not (ctx.state[1].isascii() and ctx.state[1].isdigit()):
        return "that button is malformed"
    try:
        app = get_app(ctx.services, ctx.state[0])
    except InvalidApp as exc:
        return str(exc)
    found = tracking.load(ctx.services.store, app.repo, int(ctx.state[1]))
    if found is None:
        return "I no longer track that run"
    return app, found


TrackedAction = Callable[[Context, App, tracking.Tracked], Awaitable[tracking.Tracked]]


async def _act_on_tracked(ctx: Context, action: TrackedAction) -> Update | Message:
    """Find the run a button belongs to, act on it, and redraw the message from the result,
    applied to the run as webhooks left it meanwhile (`tracking.after_press`): GitHub may
    well report the run cancelled before its cancel call has returned."""
    found = _tracked_from_state(ctx)
    if isinstance(found, str):
        return error(found)
    app, tracked = found
    updated = await action(ctx, app, tracked)
    assert tracked.run_id is not None
    latest = tracking.load(ctx.services.store, app.repo, tracked.run_id)
    updated = tracking.after_press(latest, tracked, updated)
    tracking.save(ctx.services.store, updated)
    return Update(render(updated))


async def _verify_now(ctx: Context, app: App, tracked: tracking.Tracked) -> tracking.Tracked:
    return await runs.verify(ctx.services, tracked)


async def _rerun_failed(ctx: Context, app: App, tracked: tracking.Tracked) -> tracking.Tracked:
    assert tracked.run_id is not None
    async with ctx.services.github() as github:
        await github.rerun_failed_jobs(app.repo, tracked.run_id)
    return replace(
        tracked,
        status="queued",
        conclusion=None,
        verdict=None,
        verdict_summary=None,
        failed_jobs=(),
        cancel_requested_by=None,
        note=f"failed jobs re-run by <@{ctx.user_id}>",
    )


async def _cancel(ctx: Context, app: App, tracked: tracking.Tracked) -> tracking.Tracked:
    assert tracked.run_id is not None
    async with ctx.services.github() as github:
        await github.cancel_run(app.repo, tracked.run_id)
    return replace(
        tracked, cancel_requested_by=ctx.user_id, note=f"cancel requested by <@{ctx.user_id}>"
    )


async def _roll_back(ctx: Context, app: App, tracked: tracking.Tracked) -> tracking.Tracked:
    """Roll back to the last verified SHA, through the gate (`launch.roll_back`): the
    rollback is tracked in a new message; this one says who started it (or why not)."""
    from orchestrator.commands.deploying import is_admin
    from orchestrator.deploys import launch

    assert ctx.discord is not None
    if not tracked.offers_rollback:
        return replace(tracked, note="nothing to roll back here")
    result = await launch.roll_back(
        ctx.services, tracked, ctx.discord, actor=ctx.user_id, is_admin=is_admin(ctx)
    )
    where = {"app": app.name, "environment": tracked.environment or ""}
    sha = (tracked.rollback_sha or "")[:12]
    verdict = "started" if result.started else "refused"
    ctx.audit("rollback", verdict, sha=sha, note=result.note, **where)
    # Refused for now (a lock, a freeze): the note says why and Roll back stays offered.
    return launch.noted(tracked, result)


@bot.component("deploy.verify", commands=TRACKED_BY, defer=True, access=Access.DEPLOY)
async def press_verify(ctx: Context) -> Update | Message:
    return await _act_on_tracked(ctx, _verify_now)


@bot.component("deploy.rerun", commands=TRACKED_BY, defer=True, access=Access.DEPLOY, once=True)
async def press_rerun(ctx: Context) -> Update | Message:
    return await _act_on_tracked(ctx, _rerun_failed)


@bot.component("deploy.cancel", commands=TRACKED_BY, defer=True, access=Access.DEPLOY, once=True)
async def press_cancel(ctx: Context) -> Update | Message:
    return await _act_on_tracked(ctx, _cancel)


@bot.component("deploy.rollback", commands=TRACKED_BY, defer=True, access=Access.DEPLOY, once=True)
async def press_rollback(ctx: Context) -> Update | Message | Declined:
    reply = await _act_on_tracked(ctx, _roll_back)
    found = _tracked_from_state(ctx)
    if isinstance(reply, Update) and not isinstance(found, str) and found[1].offers_rollback:
        return Declined(reply)  # refused for now: after /unlock, the same button may act
    return reply
