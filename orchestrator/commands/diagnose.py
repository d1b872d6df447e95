"""/diagnose: dispatch the app's diagnose workflow and check this bot's own health.

The workflow's run is followed in a follow-up message, like a deploy; the self-check
compares what Discord has registered with this bot's own command tree (`ctx.bot`), among
other things. `/verify-latest diagnose:true` dispatches the same workflow.
"""

from __future__ import annotations

from orchestrator.apps import App, InvalidApp, get_app
from orchestrator.commands.common import APP_OPTION, suggest_apps
from orchestrator.deploys import runs
from orchestrator.discord.access import Access
from orchestrator.discord.context import Context
from orchestrator.discord.messages import Color, Message, embed
from orchestrator.discord.options import string
from orchestrator.discord.tree import Bot
from orchestrator.http import RefusedURL, check_url

bot = Bot()


def url_inputs(ctx: Context, *names: str) -> dict[str, str]:
    """The URL options given, each held to the same address policy as `/config set`
    (a workflow must not be pointed at the metadata service or the VPC from Discord)."""
    production = ctx.services.settings.is_prod
    inputs = {}
    for name in names:
        value = (ctx.options.string(name) or "").strip()
        if value:
            inputs[name] = check_url(value, production=production, what=name)
    return inputs


async def dispatch_diagnose(ctx: Context, app: App, inputs: dict[str, str]) -> str:
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
        try:
            inputs = url_inputs(ctx, "frontend_url", "api_base")
        except RefusedURL as exc:
            note = f"not dispatched: {exc}"[:300]
        else:
            try:
                note = await dispatch_diagnose(ctx, app, inputs)
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
    fields.append(("🔁 Last reconcile", last_reconcile(ctx)))
    healthy = all(ok for _, ok, _ in checks)
    return Message(
        embeds=[
            embed("🩺 Diagnosis", None, color=Color.GREEN if healthy else Color.RED, fields=fields)
        ]
    )


def last_reconcile(ctx: Context) -> str:
    """What the last reconcile sweep did (lost webhooks caught up on), or why it is unknown."""
    import time

    from orchestrator.deploys.reconcile import describe_last
    from orchestrator.store import keys

    try:
        record = ctx.services.store.get(keys.reconcile_sweep())
    except Exception as exc:  # the store check above already says what is wrong
        return f"unknown: {type(exc).__name__}"
    return describe_last(record, time.time())[:1000]


bot.autocomplete("diagnose", "app")(suggest_apps)
