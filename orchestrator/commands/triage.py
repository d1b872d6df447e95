"""`/triage pr:<n>` or `/triage run:<id|url>`: what is failing, where, and the last log lines."""

from __future__ import annotations

from orchestrator.apps import App, InvalidApp, get_app
from orchestrator.commands.common import APP_OPTION, suggest_apps
from orchestrator.discord.access import Access
from orchestrator.discord.context import Context
from orchestrator.discord.messages import Message
from orchestrator.discord.options import boolean, integer, string
from orchestrator.discord.tree import Bot
from orchestrator.github.events import text
from orchestrator.triage import collect
from orchestrator.triage.summary import render

bot = Bot()


def _run_id(raw: str) -> int | None:
    if raw.isascii() and raw.isdigit():
        return int(raw)
    from orchestrator.verification.parse import parse_run_url

    try:
        return parse_run_url(raw)[1]
    except ValueError:
        return None


async def _maybe_dispatch(ctx: Context, app: App, inputs: dict[str, str]) -> str | None:
    """Dispatch the app's triage workflow, if asked, configured and allowed."""
    from orchestrator.discord.access import AccessPolicy

    if not ctx.options.boolean("dispatch"):
        return None
    if not app.triage_workflow:
        return "no triage workflow configured (`/config set key:triage_workflow`)"
    policy = AccessPolicy.from_settings(ctx.services.settings)
    if not policy.allows(Access.DEPLOY, ("triage",), ctx.interaction):
        ctx.audit(
            "/triage dispatch",
            "denied",
            app=app.name,
        )
        return "not dispatched: that needs the deploy role"
    async with ctx.services.github() as github:
        result = await github.dispatch_workflow(
            app.repo, app.triage_workflow, app.branch, inputs, return_run_details=True
        )
    ctx.audit(
        "/triage dispatch",
        "dispatched",
        app=app.name,
        run_id=result.run_id,
    )
    where = f" ([run {result.run_id}]({result.html_url}))" if result.run_id else ""
    return f"triage workflow dispatched{where}"


@bot.command(
    "triage",
    "What is failing on a PR or a run, with the last log lines",
    options=[
        integer("pr", "Pull request number", min_value=1),
        string("run", "Run id or URL", max_length=300),
        string("app", APP_OPTION, autocomplete=True),
        boolean("dispatch", "Also dispatch the app's triage workflow (deploy role)"),
    ],
    defer=True,
)
async def triage(ctx: Context) -> Message:
    pr = ctx.options.integer("pr")
    raw_run = (ctx.options.string("run") or "").strip()
    if (pr is None) == (not raw_run):
        return Message(content="⚠️ Give exactly one of `pr` or `run`.", ephemeral=True)
    try:
        app = get_app(ctx.services, ctx.options.string("app"))
    except InvalidApp as exc:
        return Message(content=f"⚠️ {exc}", ephemeral=True)
    async with ctx.services.github() as github:
        if pr is not None:
            pull, jobs = await collect.failing_pr_checks(github, app.repo, pr)
            title = f"🩹 PR #{pr}: {text(pull, 'title') or ''}"[:256]
            url = text(pull, "html_url")
            note = await _maybe_dispatch(ctx, app, {"pr": str(pr)})
            return render(
                title, url, jobs, head=f"head `{(text(pull, 'head', 'sha') or '')[:7]}`", note=note
            )
        run_id = _run_id(raw_run)
        if run_id is None:
            return Message(content="⚠️ `run` wants a run id or a GitHub run URL.", ephemeral=True)
        jobs = await collect.failing_run_jobs(github, app.repo, run_id)
    note = await _maybe_dispatch(ctx, app, {"run_id": str(run_id)})
    url = f"https://github.com/{app.repo}/actions/runs/{run_id}"
    ctx.trace("collected", jobs=len(jobs))
    return render(f"🩹 Run {run_id} · {app.name}", url, jobs, note=note)


bot.autocomplete("triage", "app")(suggest_apps)
