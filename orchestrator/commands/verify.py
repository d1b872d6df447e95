"""Checking a deploy from Discord: /verify-latest, /verify-run and /history.

A verification probes the run, the freshness of what is live, the frontend, the API and
this bot, records the report in the app's history (which `/history` and `/status` read),
and answers with it. It talks to GitHub and the app's sites, so it is deferred.
"""

from __future__ import annotations

import time
from typing import Any

from orchestrator.apps import App, InvalidApp, apps_of, get_app
from orchestrator.commands.common import APP_OPTION, error, suggest_apps
from orchestrator.commands.deploying import environments_field
from orchestrator.commands.diagnose import dispatch_diagnose
from orchestrator.deploys import history
from orchestrator.deploys.render import VERDICT_ICONS
from orchestrator.discord.context import Context
from orchestrator.discord.messages import Color, Message, embed
from orchestrator.discord.options import boolean, string
from orchestrator.discord.tree import Bot
from orchestrator.github.events import WorkflowRun, short_sha
from orchestrator.notifications.render import conclusion_parts
from orchestrator.text import ago

bot = Bot()


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
        return error(str(exc))
    message = await _verify_message(ctx, app)
    if ctx.options.boolean("diagnose") and app.diagnose_workflow:
        await dispatch_diagnose(ctx, app, {})
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
            return error(str(exc))
        app = by_url
    if raw.isascii() and raw.isdigit():
        return await _verify_message(ctx, app, run_id=int(raw))
    if raw.startswith("https://github.com/"):
        return await _verify_message(ctx, app, run_url=raw)
    return error("give a run id (digits) or a https://github.com/.../actions/runs/<id> URL")


def _app_for_url(ctx: Context, url: str) -> App | None:
    parts = url.removeprefix("https://github.com/").split("/")
    repo = "/".join(parts[:2]).lower()
    return next((a for a in apps_of(ctx.services).values() if a.repo.lower() == repo), None)


bot.autocomplete("verify-run", "app")(suggest_apps)
bot.autocomplete("verify-run", "run")(suggest_runs)


def history_line(report: dict[str, Any], now: float) -> str:
    """One recorded verification: verdict, run, commit and age, each only when known.

    Reports of a verification that found no run (a repo without runs yet, GitHub not
    reachable) carry no run id and no SHA; they say so in words, not `run None` and
    `???????`."""
    verdict = report.get("verdict")
    name = verdict.lower() if isinstance(verdict, str) and verdict else "unknown verdict"
    parts = [f"{VERDICT_ICONS.get(name.upper(), '❔')} {name}"]
    run = report.get("run_id")
    if isinstance(run, int) and not isinstance(run, bool):
        parts.append(f"run {run}")
    else:
        parts.append("no run")
    sha = report.get("head_sha")
    if isinstance(sha, str) and sha:
        parts.append(f"`{short_sha(sha)}`")
    recorded = report.get("recorded_at")
    if isinstance(recorded, int | float) and not isinstance(recorded, bool):
        parts.append(ago(now - float(recorded)))
    return " · ".join(parts)


@bot.command(
    "history",
    "The last verifications of an app",
    options=[string("app", APP_OPTION, autocomplete=True)],
)
async def history_(ctx: Context) -> Message:
    try:
        app = get_app(ctx.services, ctx.options.string("app"))
    except InvalidApp as exc:
        return error(str(exc))
    now = time.time()
    reports = history.recent(ctx.services.store, app.name, limit=10)
    lines = [history_line(report, now) for report in reports]
    return Message(
        embeds=[
            embed(
                f"🗂️ {app.name}: last verifications",
                "\n".join(lines) or "No verifications yet: try /verify-latest.",
                color=Color.BLUE,
                fields=[await environments_field(ctx, app, live=False)],
            )
        ],
        ephemeral=True,
    )


bot.autocomplete("history", "app")(suggest_apps)
