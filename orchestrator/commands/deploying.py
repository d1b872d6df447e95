"""What `/deploy`, `/release`'s buttons and `/lock` share: the `env` option, its
suggestions, and launching a deploy through the gate (`deploys.launch`).

One place turns the launch's outcome into what the asker sees (the tracked run, its place
in the queue, or the refusal naming the lock or the freeze) and records what the audit
must hold: refusals, and an admin's freeze override, which is also announced in the app's
channel.
"""

from __future__ import annotations

import logging

from orchestrator.apps import App, InvalidApp, get_app
from orchestrator.commands.common import error
from orchestrator.deploys import freezes, launch, locks
from orchestrator.deploys.environments import DEFAULT, EVERY, Target, environments_of
from orchestrator.deploys.queue import DeployRequest
from orchestrator.discord.access import AccessPolicy
from orchestrator.discord.context import KEEP, Context, Declined, Keep
from orchestrator.discord.messages import Message

log = logging.getLogger(__name__)

ENV_OPTION = "Which environment of the app (none: its only one)"


async def suggest_environments(ctx: Context, typed: str) -> list[tuple[str, str]]:
    """The chosen app's environments, with what deploying there takes."""
    return _suggestions(ctx, typed, every=False)


async def suggest_environments_or_every(ctx: Context, typed: str) -> list[tuple[str, str]]:
    """As `suggest_environments`, and `*` for all of them (`/lock`, `/unlock`)."""
    return _suggestions(ctx, typed, every=True)


def _suggestions(ctx: Context, typed: str, *, every: bool) -> list[tuple[str, str]]:
    try:
        app = get_app(ctx.services, ctx.options.string("app"))
        found = environments_of(app)
    except InvalidApp:
        return []
    out: list[tuple[str, str]] = []
    for name, env in found.items():
        if not name.startswith(typed.strip().lower()):
            continue
        notes = []
        if env.implicit:
            notes.append("the app's only environment")
        if env.approvals:
            notes.append(f"{env.approvals} approval{'s' if env.approvals > 1 else ''}")
        lock = locks.get(ctx.services.store, app.name, name)
        if lock is not None:
            notes.append("🔒 locked")
        out.append((name + (f" ({', '.join(notes)})" if notes else ""), name))
    if every and len(found) > 1 and typed.strip() in ("", EVERY):
        out.insert(0, ("* (every environment)", EVERY))
    return out[:25]


def is_admin(ctx: Context) -> bool:
    return AccessPolicy.from_settings(ctx.services.settings).is_admin(ctx.interaction)


async def launch_deploy(
    ctx: Context,
    target: Target,
    *,
    kind: str,
    workflow: str,
    ref: str,
    inputs: dict[str, str],
    override: str | None = None,
) -> Message | Keep | Declined:
    """Ask the gate, then start, queue or refuse; returns the handler's reply. A refusal
    (a lock, a freeze, a busy environment) is `Declined`: a once-only button pressed for
    it (Promote, Roll back) may be pressed again once that has passed."""
    request = launch.request_for(
        target,
        kind=kind,
        workflow=workflow,
        ref=ref,
        inputs=inputs,
        actor=ctx.user_id,
        interaction_token=ctx.interaction.token,
        override=override,
    )
    try:
        outcome = await submit_request(ctx, target, request, is_admin=is_admin(ctx))
    except freezes.InvalidFreeze as exc:
        return error(str(exc))
    if isinstance(outcome, launch.Refused):
        return Declined(error(outcome.reason))
    if isinstance(outcome, launch.Queued) and outcome.position:
        return launch.waiting_message(target, request, outcome.position, outcome.in_flight)
    return KEEP  # the tracked run (or the waiting message) is in place


async def submit_request(
    ctx: Context, target: Target, request: DeployRequest, *, is_admin: bool
) -> launch.Outcome:
    """`launch.submit` for this interaction, and what the audit must hold of it: a refusal
    (with its verdict), an admin's freeze override (also announced in the app's channel).
    `/deploy` and Promote / Roll back call it with their own request; an approved request
    (`commands.approvals`) with the requester's, dispatched by the approver's press."""
    assert ctx.discord is not None
    kind = request.kind
    planned, outcome = await launch.submit(
        ctx.services, target, request, ctx.discord, is_admin=is_admin
    )
    where = {"app": target.app.name, "environment": target.environment.name}
    if isinstance(outcome, launch.Refused):
        verdict = (
            "locked"
            if not planned.lock.passes
            else "frozen"
            if not planned.freeze.passes
            else "busy"
        )
        ctx.trace(f"{kind} refused", ok=False, verdict=verdict)
        ctx.audit(f"{kind}.gate", "refused", verdict=verdict, **where)
        return outcome
    if planned.freeze.override is not None and planned.freeze.freeze is not None:
        ctx.audit(
            "freeze.override",
            "overridden",
            window=planned.freeze.freeze.window.name,
            reason=planned.freeze.override,
            **where,
        )
        await _announce(ctx, target, launch.override_message(planned, request.actor))
    if planned.lock.owners_pass and planned.lock.lock is not None:
        ctx.trace("own lock passed", sticky=planned.lock.lock.sticky)
    if isinstance(outcome, launch.Queued) and outcome.position:
        ctx.trace(f"{kind} queued", position=outcome.position)
    return outcome


async def _announce(ctx: Context, target: Target, message: Message) -> None:
    """Post to the environment's (else the app's) channel, else where the command ran."""
    channel = target.app.channel_id or ctx.interaction.channel_id
    if channel is None or ctx.discord is None:
        return
    try:
        await ctx.discord.create_message(channel, message.to_data())
    except Exception as exc:  # the deploy went out; the audit holds the override anyway
        log.warning("override announcement failed", extra={"error": repr(exc)})


async def environments_field(ctx: Context, app: App, *, live: bool) -> tuple[str, str]:
    """`/status` and `/history`: one line per environment (live SHA, last verification,
    lock, deploy in flight, deploys waiting). `live`: ask each version endpoint for the
    live SHA (deferred commands only), else the last passing verification's."""
    import asyncio
    import time

    from orchestrator.deploys.state import environment_states, state_line, with_live_sha
    from orchestrator.verification.http_checks import deployed_version

    try:
        states = environment_states(ctx.services.store, app)
    except InvalidApp as exc:
        return ("Environments", f"⚠️ {exc}")
    if live:
        found = await asyncio.gather(
            *(deployed_version(s.target.app, ctx.services) for s in states)
        )
        states = [with_live_sha(s, sha) for s, sha in zip(states, found, strict=True)]
    now = time.time()
    name = "Environment" if len(states) == 1 else "Environments"
    return (name, "\n".join(state_line(s, now) for s in states)[:1024])


def environment_label(app: str, environment: str) -> str:
    return app if environment == DEFAULT else f"{app}/{environment}"
