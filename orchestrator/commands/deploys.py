"""Deploy orchestration from Discord: /deploy, /status, /verify-latest, /verify-run,
/diagnose, /history, /config, and the buttons on tracked-run messages.

Everything that talks to GitHub is deferred (answered "thinking…" at once,
finished by a job), so Discord's 3-second deadline is never at risk. Deploy-
capable actions need the deploy role (or admin) and are audited by the
dispatcher; changing config needs admin.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from orchestrator.apps import SETTABLE, App, InvalidApp, apps_of, get_app, set_override
from orchestrator.deploys import history, runs, tracking
from orchestrator.deploys.render import VERDICT_ICONS, render
from orchestrator.discord.access import Access
from orchestrator.discord.context import KEEP, Context, Keep, Update
from orchestrator.discord.messages import Color, Message, embed
from orchestrator.discord.options import boolean, integer, string
from orchestrator.discord.tree import Bot
from orchestrator.github.events import WorkflowRun, short_sha
from orchestrator.notifications.render import conclusion_parts, duration_text

bot = Bot()

APP_OPTION = "Which app (see /config show)"


def _error(text: str) -> Message:
    return Message(content=f"⚠️ {text}", ephemeral=True)


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


def age(seconds_ago: float) -> str:
    if seconds_ago < 90:
        return "just now"
    if seconds_ago < 5400:
        return f"{round(seconds_ago / 60)} min ago"
    if seconds_ago < 172800:
        return f"{round(seconds_ago / 3600)} h ago"
    return f"{round(seconds_ago / 86400)} d ago"


# -- autocomplete -----------------------------------------------------------------------------


async def suggest_apps(ctx: Context, typed: str) -> list[tuple[str, str]]:
    apps = apps_of(ctx.services)
    return [
        (f"{a.name} ({a.repo})", a.name) for a in apps.values() if a.name.startswith(typed.lower())
    ][:25]


async def suggest_runs(ctx: Context, typed: str) -> list[tuple[str, str]]:
    """Recent runs of the app's deploy workflow, newest first."""
    try:
        app = get_app(ctx.services, ctx.options.string("app"))
    except InvalidApp:
        return []
    async with ctx.services.github() as github:
        found = await github.list_workflow_runs(app.repo, app.workflow, per_page=10)
    out = []
    for raw in found:
        run = WorkflowRun(raw)
        if run.id is None or not str(run.id).startswith(typed.strip()):
            continue
        icon, _, _ = (
            conclusion_parts(run.conclusion)
            if run.status == "completed"
            else ("⏳", "", Color.YELLOW)
        )
        out.append(
            (f"{icon} {run.id} · {run.head_branch} · {short_sha(run.head_sha)}", str(run.id))
        )
    return out


# -- /deploy ----------------------------------------------------------------------------------


@bot.command(
    "deploy",
    "Deploy an app: dispatch its workflow and follow the run here",
    options=[
        string("app", APP_OPTION, required=True, autocomplete=True),
        string("ref", "Branch, tag or SHA (default: the app's branch)", max_length=200),
        string("inputs", "Workflow inputs, e.g. api_base=https://api.example.com", max_length=500),
    ],
    access=Access.DEPLOY,
    defer=True,
)
async def deploy(ctx: Context) -> Message | Keep:
    try:
        app = get_app(ctx.services, ctx.options.string("app"))
        inputs = {**app.deploy_inputs, **parse_inputs(ctx.options.string("inputs"))}
    except InvalidApp as exc:
        return _error(str(exc))
    assert ctx.discord is not None
    ref = ctx.options.string("ref") or app.branch
    await runs.start(
        ctx.services,
        kind="deploy",
        app=app,
        workflow=app.workflow,
        ref=ref,
        inputs=inputs,
        actor=ctx.user_id,
        interaction_token=ctx.interaction.token,
        discord=ctx.discord,
    )
    return KEEP  # the tracking message is in place, and webhooks now own it


bot.autocomplete("deploy", "app")(suggest_apps)


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
        return _error(str(exc))
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
    last = history.recent(ctx.services.store, app.name, limit=1)
    if last:
        verdict = str(last[0].get("verdict")).upper()
        fields.append(
            (
                "Last verification",
                f"{VERDICT_ICONS.get(verdict, '❔')} {verdict.lower()} · "
                f"{age(now - float(last[0].get('recorded_at', now)))}",
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
        took = f" in {duration_text(run.duration)}"
    else:
        icon, verb, took = "⏳", (run.status or "?").replace("_", " "), ""
    when = age(now - run.created_at) if run.created_at else "?"
    link = f"[#{run.id}]({run.html_url})" if run.html_url else f"#{run.id}"
    return f"{icon} {link} `{short_sha(run.head_sha)}` {verb}{took} · {when}"


bot.autocomplete("status", "app")(suggest_apps)


# -- verification -----------------------------------------------------------------------------


async def _verify_message(
    ctx: Context, app: App, run_id: int | None = None, run_url: str | None = None
) -> Message:
    from orchestrator.verification import verify
    from orchestrator.verification.report import to_json, to_message

    report = await verify(app, ctx.services, run_id=run_id, run_url=run_url)
    history.record(ctx.services.store, app.name, to_json(report))
    return to_message(report)


@bot.command(
    "verify-latest",
    "Verify the latest deploy: run, freshness, frontend, API, and me",
    options=[
        string("app", APP_OPTION, autocomplete=True),
        boolean("diagnose", "Also dispatch the diagnose workflow"),
    ],
    defer=True,
)
async def verify_latest(ctx: Context) -> Message:
    try:
        app = get_app(ctx.services, ctx.options.string("app"))
    except InvalidApp as exc:
        return _error(str(exc))
    message = await _verify_message(ctx, app)
    if ctx.options.boolean("diagnose") and app.diagnose_workflow:
        await _dispatch_diagnose(ctx, app, {})
    return message


bot.autocomplete("verify-latest", "app")(suggest_apps)


@bot.command(
    "verify-run",
    "Verify one run, by id or URL",
    options=[
        string(
            "run",
            "Run id or https://github.com/.../actions/runs/<id>",
            required=True,
            max_length=300,
            autocomplete=True,
        ),
        string("app", APP_OPTION, autocomplete=True),
    ],
    defer=True,
)
async def verify_run(ctx: Context) -> Message:
    raw = (ctx.options.string("run") or "").strip()
    try:
        app = get_app(ctx.services, ctx.options.string("app"))
    except InvalidApp as exc:
        by_url = _app_for_url(ctx, raw) if raw.startswith("https://") else None
        if by_url is None:
            return _error(str(exc))
        app = by_url
    if raw.isascii() and raw.isdigit():
        return await _verify_message(ctx, app, run_id=int(raw))
    if raw.startswith("https://github.com/"):
        return await _verify_message(ctx, app, run_url=raw)
    return _error("give a run id (digits) or a https://github.com/.../actions/runs/<id> URL")


def _app_for_url(ctx: Context, url: str) -> App | None:
    parts = url.removeprefix("https://github.com/").split("/")
    repo = "/".join(parts[:2]).lower()
    return next((a for a in apps_of(ctx.services).values() if a.repo.lower() == repo), None)


bot.autocomplete("verify-run", "app")(suggest_apps)
bot.autocomplete("verify-run", "run")(suggest_runs)


@bot.command(
    "history",
    "The last verifications of an app",
    options=[string("app", APP_OPTION, autocomplete=True)],
)
async def history_(ctx: Context) -> Message:
    try:
        app = get_app(ctx.services, ctx.options.string("app"))
    except InvalidApp as exc:
        return _error(str(exc))
    now = time.time()
    lines = []
    for report in history.recent(ctx.services.store, app.name, limit=10):
        verdict = str(report.get("verdict")).upper()
        run = report.get("run_id")
        sha = short_sha(report.get("head_sha") if isinstance(report.get("head_sha"), str) else None)
        lines.append(
            f"{VERDICT_ICONS.get(verdict, '❔')} {verdict.lower()} · run {run} · "
            f"`{sha}` · {age(now - float(report.get('recorded_at', now)))}"
        )
    return Message(
        embeds=[
            embed(
                f"🗂️ {app.name}: last verifications",
                "\n".join(lines) or "No verifications yet: try /verify-latest.",
                color=Color.BLUE,
            )
        ],
        ephemeral=True,
    )


bot.autocomplete("history", "app")(suggest_apps)


# -- /diagnose --------------------------------------------------------------------------------


async def _dispatch_diagnose(ctx: Context, app: App, inputs: dict[str, str]) -> str:
    """Dispatch the diagnose workflow and follow its run in a follow-up message."""
    assert app.diagnose_workflow is not None and ctx.discord is not None
    tracked = await runs.start(
        ctx.services,
        kind="diagnose",
        app=app,
        workflow=app.diagnose_workflow,
        ref=app.branch,
        inputs=inputs,
        actor=ctx.user_id,
        interaction_token=ctx.interaction.token,
        discord=ctx.discord,
        followup=True,
    )
    return f"dispatched, following it below (`{tracked.correlation}`)"


@bot.command(
    "diagnose",
    "Dispatch the diagnose workflow and check my own health",
    options=[
        string("app", APP_OPTION, autocomplete=True),
        string("frontend_url", "Override the frontend URL to diagnose", max_length=300),
        string("api_base", "Override the API base URL to diagnose", max_length=300),
    ],
    access=Access.DEPLOY,
    defer=True,
)
async def diagnose(ctx: Context) -> Message:
    from orchestrator.deploys.selfcheck import self_check

    fields: list[tuple[str, str] | tuple[str, str, bool]] = []
    try:
        app: App | None = get_app(ctx.services, ctx.options.string("app"))
    except InvalidApp as exc:
        app, note = None, str(exc)
    else:
        note = ""
    if app is not None and app.diagnose_workflow:
        inputs = {
            k: v
            for k, v in (
                ("frontend_url", ctx.options.string("frontend_url")),
                ("api_base", ctx.options.string("api_base")),
            )
            if v
        }
        try:
            note = await _dispatch_diagnose(ctx, app, inputs)
        except Exception as exc:  # shown to the user; the self-check below still runs
            note = f"could not dispatch: {exc}"[:300]
    elif app is not None:
        note = "no diagnose workflow configured (`/config set key:diagnose_workflow`)"
    if note:
        fields.append(("Diagnose workflow", note))
    registration = ctx.bot.registration() if ctx.bot is not None else []
    checks = await self_check(ctx.services, registration)
    for name, ok, detail in checks:
        fields.append((f"{'✅' if ok else '❌'} {name}", detail))
    healthy = all(ok for _, ok, _ in checks)
    return Message(
        embeds=[
            embed("🩺 Diagnosis", None, color=Color.GREEN if healthy else Color.RED, fields=fields)
        ]
    )


bot.autocomplete("diagnose", "app")(suggest_apps)


# -- /config ----------------------------------------------------------------------------------

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
        return _error(
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
        return _error(str(exc))
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
        return _error(str(exc))
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
    """Find the run a button belongs to, act on it, and redraw the message from the result."""
    found = _tracked_from_state(ctx)
    if isinstance(found, str):
        return _error(found)
    app, tracked = found
    updated = await action(ctx, app, tracked)
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
        note=f"failed jobs re-run by <@{ctx.user_id}>",
    )


async def _cancel(ctx: Context, app: App, tracked: tracking.Tracked) -> tracking.Tracked:
    assert tracked.run_id is not None
    async with ctx.services.github() as github:
        await github.cancel_run(app.repo, tracked.run_id)
    return replace(tracked, note=f"cancel requested by <@{ctx.user_id}>")


@bot.component("deploy.verify", defer=True, access=Access.DEPLOY)
async def press_verify(ctx: Context) -> Update | Message:
    return await _act_on_tracked(ctx, _verify_now)


@bot.component("deploy.rerun", defer=True, access=Access.DEPLOY)
async def press_rerun(ctx: Context) -> Update | Message:
    return await _act_on_tracked(ctx, _rerun_failed)


@bot.component("deploy.cancel", defer=True, access=Access.DEPLOY)
async def press_cancel(ctx: Context) -> Update | Message:
    return await _act_on_tracked(ctx, _cancel)
