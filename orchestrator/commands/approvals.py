"""`/deploy` to an environment that needs approvals, its Approve / Reject buttons, and
`/deploy … dry_run:true`.

The Discord side of `deploys.approvals`: `/deploy` posts the request (the deferred reply), a
press is judged by `approvals.decide` and recorded with the store's once-only claims, and the
N-th approval hands the requester's deploy to the gate (`commands.deploying.submit_request`),
the approver's press turning the request message into the tracked run. Refusals go to the
presser alone (an ephemeral follow-up), so the request stays in place for the others.

The buttons are governed by `/deploy`'s allow-list and need the deploy role, as `/deploy`
does; the handler checks the same policy again before anything counts.
"""

from __future__ import annotations

import time
from dataclasses import replace

from orchestrator.apps import InvalidApp, get_app
from orchestrator.commands.common import error
from orchestrator.commands.deploying import is_admin, submit_request
from orchestrator.deploys import approvals, environments, freezes, launch
from orchestrator.deploys.approvals import ApprovalRequest, Outcome, Verdict
from orchestrator.deploys.environments import Target
from orchestrator.deploys.queue import DeployRequest
from orchestrator.discord.access import Access, AccessPolicy
from orchestrator.discord.context import KEEP, Context, Keep, Update
from orchestrator.discord.messages import Message
from orchestrator.discord.tree import Bot
from orchestrator.github.errors import GitHubHTTPError

bot = Bot()

AUDIT = "deploy.approval"


def _probe(
    ctx: Context, target: Target, ref: str, inputs: dict[str, str], override: str | None
) -> DeployRequest:
    return launch.request_for(
        target,
        kind="deploy",
        workflow=target.app.workflow,
        ref=ref,
        inputs=inputs,
        actor=ctx.user_id,
        interaction_token=ctx.interaction.token,
        override=override,
    )


def _where(request: ApprovalRequest) -> dict[str, str]:
    return {"request": request.id, "app": request.app, "environment": request.environment}


# -- /deploy: the request, and the dry run ----------------------------------------------------


async def request_approval(
    ctx: Context, target: Target, *, ref: str, inputs: dict[str, str], override: str | None
) -> Message | Keep:
    """Post what would ship with Approve / Reject, instead of dispatching. A lock or a freeze
    refuses at once (no one should approve what cannot go); a busy environment does not (it
    may well be free by the time the approvals are in, and the gate judges again then)."""
    assert ctx.discord is not None
    where = {"app": target.app.name, "environment": target.environment.name}
    shipment = await approvals.what_ships(ctx.services, target, ref)
    if shipment.sha is None:
        ctx.audit(AUDIT, "refused", verdict="unresolved", ref=ref, **where)
        return error(f"`{ref}`: {shipment.problem}. Nothing to ask approval for.")
    admin = is_admin(ctx)
    try:
        planned = launch.plan(
            ctx.services, target, _probe(ctx, target, ref, inputs, override), is_admin=admin
        )
    except freezes.InvalidFreeze as exc:
        return error(str(exc))
    if not planned.lock.passes or not planned.freeze.passes:
        verdict = "locked" if not planned.lock.passes else "frozen"
        ctx.trace("deploy refused", ok=False, verdict=verdict)
        ctx.audit("deploy.gate", "refused", verdict=verdict, **where)
        return error(planned.refusal or "not now")
    now = time.time()
    request = ApprovalRequest(
        app=target.app.name,
        environment=target.environment.name,
        label=target.label,
        workflow=target.app.workflow,
        ref=ref,
        sha=shipment.sha,
        live_sha=shipment.live_sha,
        commits=shipment.commits,
        ahead_by=shipment.ahead_by,
        inputs=dict(planned.inputs),
        correlation_input=target.app.correlation_input,
        requester=ctx.user_id or "?",
        needed=target.environment.approvals,
        expires_at=now + target.environment.approval_ttl,
        override=planned.freeze.override,
        override_window=planned.freeze.freeze.window.name
        if planned.freeze.override is not None and planned.freeze.freeze is not None
        else None,
        created_at=now,
    )
    store = ctx.services.store
    approvals.save(store, request, now)
    posted = await ctx.discord.edit_original(
        ctx.interaction.token, approvals.render_request(request, []).to_data(edit=True)
    )
    channel, message = posted.get("channel_id"), posted.get("id")
    if channel and message:  # the watch edits it with the bot token once it expires
        request = replace(request, channel_id=str(channel), message_id=str(message))
        approvals.save(store, request, now)
    ctx.trace("approval requested", request=request.id, needed=request.needed)
    ctx.audit(
        AUDIT, "requested", ref=ref, sha=shipment.sha, needed=request.needed, **_where(request)
    )
    return KEEP


async def dry_run(
    ctx: Context, target: Target, *, ref: str, inputs: dict[str, str], override: str | None
) -> Message:
    """The plan of a deploy, and nothing else: no dispatch, no queue entry, no request."""
    shipment = await approvals.what_ships(ctx.services, target, ref)
    try:
        planned = launch.plan(
            ctx.services, target, _probe(ctx, target, ref, inputs, override), is_admin=is_admin(ctx)
        )
    except freezes.InvalidFreeze as exc:
        return error(str(exc))
    needed = target.environment.approvals
    now = time.time()
    message = approvals.render_plan(
        planned,
        shipment,
        correlation_input=target.app.correlation_input,
        needed=needed,
        now=now,
    )
    ctx.audit(
        "deploy.dry_run",
        "planned",
        app=target.app.name,
        environment=target.environment.name,
        ref=ref,
        sha=shipment.sha,
        verdict=approvals.plan_verdict(planned, needed),
    )
    return message


# -- the buttons ------------------------------------------------------------------------------


async def _tell(ctx: Context, text: str) -> Keep:
    """Answer the presser alone; the request message stays as it is for everyone else."""
    assert ctx.discord is not None
    await ctx.discord.create_followup(
        ctx.interaction.token, Message(content=text, ephemeral=True).to_data()
    )
    return KEEP


async def _request_of(ctx: Context, action: str) -> ApprovalRequest | None:
    request_id = ctx.state[0] if len(ctx.state) == 1 else ""
    request = approvals.load(ctx.services.store, request_id)
    if request is None:
        ctx.audit(AUDIT, "refused", verdict="unknown", button=action, request=request_id[:40])
        await _tell(ctx, approvals.UNKNOWN)
    return request


def _is_deployer(ctx: Context) -> bool:
    """The deploy access policy, as `/deploy` itself applies it (its allow-list included)."""
    policy = AccessPolicy.from_settings(ctx.services.settings)
    return policy.admits(Access.DEPLOY, (("deploy",),), ctx.interaction)


async def _refuse(ctx: Context, request: ApprovalRequest, verdict: Verdict) -> Update | Keep:
    """Tell the presser why nothing happened (an expired request also says so on its
    message, once, and is audited as expired)."""
    store = ctx.services.store
    if verdict is Verdict.EXPIRED and approvals.end(store, request, "expired", None):
        ctx.audit(AUDIT, "expired", requester=request.requester, **_where(request))
        await _tell(ctx, approvals.REFUSALS[verdict])
        ended = approvals.ending(store, request)
        assert ended is not None
        return Update(approvals.render_ended(request, ended, approvals.votes(store, request)))
    ended = approvals.ending(store, request)
    ctx.audit(AUDIT, "refused", verdict=str(verdict), **_where(request))
    if ended is not None and verdict in (Verdict.ENDED, Verdict.EXPIRED):
        return await _tell(ctx, approvals.ended_text(ended))
    return await _tell(ctx, approvals.REFUSALS.get(verdict, approvals.UNKNOWN))


@bot.component(approvals.APPROVE, commands=["deploy"], defer=True, access=Access.DEPLOY)
async def press_approve(ctx: Context) -> Update | Keep:
    """Count one approval per person (the store's claim, however many presses at once);
    the approval that makes the quorum dispatches, once (`approvals.end`)."""
    request = await _request_of(ctx, "approve")
    if request is None:
        return KEEP
    store = ctx.services.store
    verdict = approvals.decide(
        request,
        "approve",
        ctx.user_id,
        is_deployer=_is_deployer(ctx),
        approved_by=approvals.votes(store, request),
        ended=approvals.ending(store, request),
        now=time.time(),
    )
    if verdict is Verdict.APPROVE:
        assert ctx.user_id is not None
        if not approvals.vote(store, request, ctx.user_id):
            verdict = Verdict.ALREADY  # another press of theirs got there first
    if verdict not in (Verdict.APPROVE, Verdict.ALREADY):
        return await _refuse(ctx, request, verdict)
    voted = approvals.votes(store, request)
    if verdict is Verdict.APPROVE:
        ctx.trace("approved", request=request.id)
        ctx.audit(
            AUDIT,
            "approved",
            approvals=len(approvals.approvers(request, voted)),
            needed=request.needed,
            **_where(request),
        )
    if not approvals.has_quorum(request, voted):
        if verdict is Verdict.ALREADY:
            return await _refuse(ctx, request, verdict)
        return Update(approvals.render_request(request, voted))
    # Enough approvals: dispatch. An approver pressing again after a refused or failed
    # dispatch (`ALREADY` with a quorum) tries again.
    return await _dispatch(ctx, request, voted, retry=verdict is Verdict.ALREADY)


async def _dispatch(
    ctx: Context, request: ApprovalRequest, voted: list[str], *, retry: bool
) -> Update | Keep:
    store = ctx.services.store
    if not approvals.end(store, request, "dispatched", ctx.user_id):
        if retry:
            return await _refuse(ctx, request, Verdict.ALREADY)
        ended = approvals.ending(store, request)
        ctx.audit(AUDIT, "refused", verdict="ended", **_where(request))
        return await _tell(ctx, approvals.ended_text(ended) if ended else approvals.UNKNOWN)
    try:
        target = environments.target(get_app(ctx.services, request.app), request.environment)
        deploy = _deploy_request(ctx, target, request)
        # An override replays only for the freeze it was given for (`override_window`).
        admin = request.override is not None and request.override_window is not None
        outcome = await submit_request(ctx, target, deploy, is_admin=admin)
    except Exception as exc:  # GitHub or the config said no: nothing went out, try again
        approvals.reopen(store, request)
        problem = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else repr(exc)
        ctx.audit(AUDIT, "dispatch failed", error=problem, **_where(request))
        if isinstance(exc, InvalidApp | freezes.InvalidFreeze):
            return await _tell(ctx, f"⚠️ Approved, but not dispatched: {problem}")
        if isinstance(exc, GitHubHTTPError) and exc.status == 422:
            # GitHub refused what was asked (a ref, an input): pressing again asks the same.
            note = (
                f"⚠️ Approved, but GitHub refused the dispatch: {problem}. Approving again "
                "would ask the same: Reject this and `/deploy` with other inputs or ref."
            )
            return Update(approvals.render_request(request, voted, note=note))
        note = f"⚠️ Approved, but the dispatch failed: {problem}. Press Approve to try again."
        return Update(approvals.render_request(request, voted, note=note))
    if isinstance(outcome, launch.Stale):  # the ref moved off the approved SHA: never ships
        approvals.mark(store, request, "stale", ctx.user_id)
        ctx.audit(AUDIT, "stale", sha=request.sha, now_at=outcome.sha, **_where(request))
        ended = approvals.ending(store, request)
        assert ended is not None
        return Update(approvals.render_ended(request, ended, voted))
    if isinstance(outcome, launch.Refused):
        approvals.reopen(store, request)
        ctx.audit(AUDIT, "dispatch refused", **_where(request))
        note = (
            f"{outcome.reason}\nApproved, but not dispatched: press Approve again once that clears."
        )
        return Update(approvals.render_request(request, voted, note=note))
    ctx.trace("approved deploy dispatched", request=request.id)
    ctx.audit(
        AUDIT,
        "dispatched",
        requester=request.requester,
        approvers=",".join(approvals.approvers(request, voted)),
        ref=request.ref,
        sha=request.sha,
        **_where(request),
    )
    if isinstance(outcome, launch.Queued) and outcome.position:
        return Update(launch.waiting_message(target, deploy, outcome.position, outcome.in_flight))
    return KEEP  # the request message is the tracked run (or the waiting message) now


def _deploy_request(ctx: Context, target: Target, request: ApprovalRequest) -> DeployRequest:
    """The requester's deploy, carried by the approver's press: the press's token edits the
    request message into the tracked run, its ids let the bot token take over later. It
    carries the approved SHA: `deploys.launch` dispatches it only while the ref points there
    (at once, or later from the queue), and its GitHub Deployment names that SHA."""
    deploy = launch.request_for(
        target,
        kind="deploy",
        workflow=request.workflow,
        ref=request.ref,
        inputs=dict(request.inputs),
        actor=request.requester,
        interaction_token=ctx.interaction.token,
        override=request.override,
        override_window=request.override_window,
        approved_sha=request.sha,
    )
    message = ctx.interaction.raw.get("message")
    if isinstance(message, dict) and message.get("id") and message.get("channel_id"):
        deploy = replace(
            deploy, channel_id=str(message["channel_id"]), message_id=str(message["id"])
        )
    return deploy


@bot.component(approvals.REJECT, commands=["deploy"], defer=True, access=Access.DEPLOY)
async def press_reject(ctx: Context) -> Update | Keep:
    """Any deployer ends the request; the requester's Reject withdraws it."""
    request = await _request_of(ctx, "reject")
    if request is None:
        return KEEP
    store = ctx.services.store
    verdict = approvals.decide(
        request,
        "reject",
        ctx.user_id,
        is_deployer=_is_deployer(ctx),
        approved_by=approvals.votes(store, request),
        ended=approvals.ending(store, request),
        now=time.time(),
    )
    if verdict not in (Verdict.REJECT, Verdict.CANCEL):
        return await _refuse(ctx, request, verdict)
    outcome: Outcome = "cancelled" if verdict is Verdict.CANCEL else "rejected"
    if not approvals.end(store, request, outcome, ctx.user_id):
        return await _refuse(ctx, request, Verdict.ENDED)
    ctx.audit(AUDIT, outcome, requester=request.requester, **_where(request))
    ended = approvals.ending(store, request)
    assert ended is not None
    return Update(approvals.render_ended(request, ended, approvals.votes(store, request)))
