"""Launching a deploy safely: ask the gate, take the environment's slot or queue, dispatch.

Every path that dispatches a deploy goes through `submit`: `/deploy`, and `/release`'s
Promote and Roll back buttons. It plans (`gate.plan_deploy`: lock, freeze, queue), refuses
with the plan's reason, and otherwise either starts the deploy at once or leaves it waiting
in the environment's queue (or, with `queue = "refuse"`, refuses while one is in flight).

No deploy is left waiting forever, and never two run at once:
* only the holder of the environment's slot (the store's `claim`) dispatches;
* `pump` is the one way a queued deploy starts: claim the slot, take the first in line,
  check it again against the gate (a lock or a freeze may have come since it was queued),
  dispatch it; a deploy that may not go is told so and the next one is tried;
* whoever queues a deploy pumps afterwards, and whoever frees the slot (`finished`, when a
  tracked run has completed and been verified) pumps too. A pump that finds nothing to
  start frees the slot and looks at the queue once more, so a deploy queued between its
  look and its release is seen either by it or by the queuer's own pump;
* the deploy watch (`watch`, every few minutes) pumps environments whose slot lapsed with
  deploys still waiting, posts the lock reminders and marks expired approval requests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from orchestrator.apps import App, InvalidApp, apps_of, get_app
from orchestrator.deploys import freezes, gate, locks, queue
from orchestrator.deploys.environments import Target, all_targets, target
from orchestrator.deploys.queue import DeployRequest, InFlight
from orchestrator.deploys.tracking import TOKEN_LIFETIME, Tracked, new_correlation_id
from orchestrator.discord.messages import Color, Message, embed
from orchestrator.github.events import short_sha
from orchestrator.store import keys

if TYPE_CHECKING:
    from orchestrator.clients import Clients
    from orchestrator.discord.rest import DiscordREST

log = logging.getLogger(__name__)

WATCH_JOB = "deploys.watch"  # lock reminders and stranded queues, every few minutes
MAX_STARTS = 20  # deploys one pump may try (each refused one is told why) before it stops


@dataclass(frozen=True)
class Started:
    """It went out. `followable`: its end will be heard of (GitHub named the run, or the
    workflow echoes the correlation id the webhooks match), so it keeps the slot till then."""

    tracked: Tracked
    followable: bool = True


@dataclass(frozen=True)
class Queued:
    position: int
    in_flight: InFlight | None


@dataclass(frozen=True)
class Refused:
    reason: str


@dataclass(frozen=True)
class Stale(Refused):
    """An approved deploy whose ref no longer points at the approved SHA: not dispatched."""

    sha: str = ""  # what the ref points at now


@dataclass(frozen=True)
class Failed:
    """The dispatch itself failed (GitHub said no): the asker's handler re-raises it."""

    error: Exception


Outcome = Started | Queued | Refused | Failed


def request_for(
    target_: Target,
    *,
    kind: str,
    workflow: str,
    ref: str,
    inputs: dict[str, str],
    actor: str | None,
    interaction_token: str,
    override: str | None = None,
    override_window: str | None = None,
    approved_sha: str | None = None,
) -> DeployRequest:
    return DeployRequest(
        app=target_.app.name,
        environment=target_.environment.name,
        kind=kind,
        workflow=workflow,
        ref=ref,
        inputs=inputs,
        actor=actor,
        override=(override or "").strip()[: gate.MAX_OVERRIDE] or None,
        override_window=override_window,
        approved_sha=approved_sha,
        interaction_token=interaction_token,
        token_expires_at=time.time() + TOKEN_LIFETIME,
    )


def plan(
    services: Clients,
    target_: Target,
    request: DeployRequest,
    *,
    is_admin: bool,
    holding_slot: bool = False,
    now: float | None = None,
) -> gate.DeployPlan:
    """`gate.plan_deploy` with what the store and the config file say now."""
    at = time.time() if now is None else now
    store = services.store
    app, env = target_.app.name, target_.environment.name
    planned = gate.plan_deploy(
        target_,
        kind=request.kind,
        workflow=request.workflow,
        ref=request.ref,
        inputs=request.inputs,
        actor=request.actor,
        is_admin=is_admin,
        override=request.override,
        lock=locks.get(store, app, env),
        windows=freezes.load(services),
        in_flight=None if holding_slot else queue.in_flight(store, app, env),
        waiting=0 if holding_slot else len(queue.waiting(store, app, env)),
        now=at,
        override_window=request.override_window,
    )
    if planned.allowed and request.kind == "rollback":
        return _unless_superseded(services, target_, request, planned)
    return planned


def _unless_superseded(
    services: Clients, target_: Target, request: DeployRequest, planned: gate.DeployPlan
) -> gate.DeployPlan:
    """A rollback (asked for, or taken from the queue to start) that would undo a newer
    verified deploy is refused (`rollback.superseded`), and the audit says so."""
    from orchestrator import audit
    from orchestrator.deploys import rollback

    sha = request.inputs.get("sha", "")
    why = rollback.superseded(services.store, target_.app, target_.environment.name, sha)
    if why is None:
        return planned
    audit.record(
        services.store,
        actor=request.actor,
        action="rollback",
        result="superseded",
        app=request.app,
        environment=request.environment,
        sha=sha[:12],
        note=why,
    )
    return replace(planned, refusal=why)


async def submit(
    services: Clients,
    target_: Target,
    request: DeployRequest,
    discord: DiscordREST,
    *,
    is_admin: bool,
) -> tuple[gate.DeployPlan, Outcome]:
    """Plan `request` and start it, queue it, or refuse it. A failed dispatch raises.

    The request's message is the asker's deferred reply: a started deploy turns it into
    the tracked run; a queued one shows "waiting" and its place in line (`waiting_message`).
    """
    planned = plan(services, target_, request, is_admin=is_admin)
    if not planned.allowed:
        assert planned.refusal is not None
        return planned, Refused(planned.refusal)
    if planned.freeze.override is None or planned.freeze.freeze is None:
        # Only an admin's override, during a freeze.
        request = replace(request, override=None, override_window=None)
    else:  # replayed from the queue, it lets the deploy through this freeze only
        request = replace(request, override_window=planned.freeze.freeze.window.name)
    if target_.environment.queue == "refuse":
        outcome = await _start_alone(services, target_, request, discord, is_admin=is_admin)
    else:
        outcome = await _queue_and_pump(services, target_, request, discord)
    if isinstance(outcome, Failed):
        raise outcome.error
    return planned, outcome


async def _start_alone(
    services: Clients,
    target_: Target,
    request: DeployRequest,
    discord: DiscordREST,
    *,
    is_admin: bool,
) -> Outcome:
    """`queue = "refuse"`: take the slot or say who holds it."""
    outcome = await _start_if_free(services, target_, request, discord)
    if outcome is not None:
        return outcome
    again = plan(services, target_, request, is_admin=is_admin)
    return Refused(again.refusal or "another deploy just started there: try again soon")


async def _start_if_free(
    services: Clients, target_: Target, request: DeployRequest, discord: DiscordREST
) -> Outcome | None:
    """Dispatch at once if the slot is free (None if it is not)."""
    store = services.store
    if not queue.claim(store, request):
        return None
    outcome = await _dispatch(services, target_, request, discord)
    if not isinstance(outcome, Started) or not outcome.followable:
        queue.release(store, request.app, request.environment)  # nothing to follow: free
        await pump(services, request.app, request.environment, discord)
    return outcome


async def _queue_and_pump(
    services: Clients, target_: Target, request: DeployRequest, discord: DiscordREST
) -> Outcome:
    """`queue = "queue"`: start at once when nothing is in flight or waiting, else join
    the queue and pump (which may well start this very request)."""
    store = services.store
    if not queue.waiting(store, request.app, request.environment):
        # Nobody waits: no message saying "waiting" for a deploy that is not. (A deploy
        # queued between this look and the claim is overtaken, never stranded: the slot's
        # holder pumps when it finishes.)
        outcome = await _start_if_free(services, target_, request, discord)
        if outcome is not None:
            return outcome
    waiting = waiting_message(target_, request, None, None).to_data(edit=True)
    if request.interaction_token is not None:
        posted = await discord.edit_original(request.interaction_token, waiting)
    else:  # started by the bot itself (a rollback): the message it posted says it waits
        assert request.channel_id is not None and request.message_id is not None
        posted = await discord.edit_message(request.channel_id, request.message_id, waiting)
    channel, message = posted.get("channel_id"), posted.get("id")
    request = replace(
        request,
        channel_id=str(channel) if channel else None,
        message_id=str(message) if message else None,
    )
    try:  # a rollback goes first: a deploy queued after the failure must not run before it
        queue.enqueue(store, request, first=request.kind == "rollback")
    except queue.QueueFull as exc:
        return Refused(f"🚦 {target_.label}: {exc}; try again later.")
    outcomes = await pump(services, request.app, request.environment, discord, mine=request.id)
    if request.id in outcomes:
        return outcomes[request.id]
    place = queue.position(store, request.app, request.environment, request.id)
    if place is None:  # started (or dropped) by another pump meanwhile: it says so itself
        return Queued(0, None)
    return Queued(place, queue.in_flight(store, request.app, request.environment))


async def pump(
    services: Clients,
    app: str,
    environment: str,
    discord: DiscordREST,
    *,
    mine: str | None = None,
) -> dict[str, Outcome]:
    """Start the first deploy waiting for `app`/`environment` if the environment is free.

    Returns what became of each request it took from the queue, by request id. The
    request `mine` belongs to the caller, who shows its outcome; every other request's
    message is updated here.
    """
    store = services.store
    outcomes: dict[str, Outcome] = {}
    tries = 0
    while tries < MAX_STARTS:
        entries = queue.waiting(store, app, environment)
        if not entries:
            return outcomes
        if not queue.claim(store, entries[0][1]):
            return outcomes  # a deploy is in flight: its end pumps again
        started = False
        for key, request in entries:
            if tries >= MAX_STARTS:
                break
            tries += 1
            queue.take(store, key)
            outcome = await _start_queued(services, request, discord, mine=request.id == mine)
            outcomes[request.id] = outcome
            if isinstance(outcome, Started) and outcome.followable:
                started = True
                break
        if started:
            return outcomes
        queue.release(store, app, environment)  # nothing in flight: free, then look again
    return outcomes


async def _start_queued(
    services: Clients, request: DeployRequest, discord: DiscordREST, *, mine: bool
) -> Outcome:
    """Check a request taken from the queue against the gate again, and dispatch it."""
    try:
        target_: Target | None = target(get_app(services, request.app), request.environment)
        assert target_ is not None
        refusal = plan(
            services,
            target_,
            request,
            # Kept only when an admin gave it, and for the freeze it was given for.
            is_admin=request.override is not None and request.override_window is not None,
            holding_slot=True,
        ).refusal
    except (InvalidApp, freezes.InvalidFreeze) as exc:
        target_, refusal = None, f"⚠️ {exc}"
    if target_ is None or refusal is not None:
        text = refusal or "⚠️ not started"
        if not mine:
            await _tell(discord, request, f"{text}\n(This deploy was waiting: not started.)")
        return Refused(text)
    outcome = await _dispatch(services, target_, request, discord)
    if isinstance(outcome, Stale) and not mine:  # the caller audits and shows its own
        _audit_stale(services, request, outcome)
        await _tell(discord, request, f"{outcome.reason}\n(This deploy was waiting.)")
    if isinstance(outcome, Failed) and not mine:
        error = f"{type(outcome.error).__name__}: {outcome.error}"
        await _tell(discord, request, f"⚠️ This deploy was waiting, and failed to start: {error}")
    return outcome


async def _dispatch(
    services: Clients, target_: Target, request: DeployRequest, discord: DiscordREST
) -> Outcome:
    """Dispatch `request` from the slot this process holds, as a tracked run.

    An approved deploy goes only while its ref still points at the approved SHA (`Stale`
    otherwise). `Failed` means nothing went out (`runs.start` raises only then); once the
    dispatch went out it is `Started`, whatever failed after it."""
    from orchestrator.deploys import runs

    store = services.store
    try:
        moved = await _moved(services, target_, request)
    except Exception as exc:  # GitHub could not say where the ref is: nothing went out
        log.warning("approved ref not resolved", extra={"app": request.app, "error": repr(exc)})
        return Failed(exc)
    if moved is not None:
        return Stale(
            f"🔀 Not dispatched: `{request.ref}` moved to `{short_sha(moved)}` since "
            f"`{short_sha(request.approved_sha)}` was approved. `/deploy` again to ask anew.",
            sha=moved,
        )
    correlation = new_correlation_id()
    queue.occupy(store, request, correlation)
    posted = (
        (request.channel_id, request.message_id)
        if request.channel_id and request.message_id
        else None
    )
    try:
        tracked = await runs.start(
            services,
            kind=request.kind,
            app=target_.app,
            workflow=request.workflow,
            ref=request.ref,
            inputs=dict(request.inputs),
            actor=request.actor,
            interaction_token=request.interaction_token,
            discord=discord,
            environment=request.environment,
            correlation=correlation,
            token_expires_at=request.token_expires_at,
            posted=posted,
            sha=request.approved_sha,
        )
    except Exception as exc:  # GitHub refused the dispatch: the environment is not busy
        log.warning(
            "deploy dispatch failed",
            extra={"app": request.app, "environment": request.environment, "error": repr(exc)},
        )
        return Failed(exc)
    try:
        released = locks.after_dispatch(store, request.app, request.environment, request.actor)
        if released is not None:
            log.info("one-deploy lock spent", extra={"app": request.app, "owner": released.owner})
    except Exception as exc:  # it went out all the same: the lock lapses by itself
        log.warning("one-deploy lock not spent", extra={"app": request.app, "error": repr(exc)})
    followable = tracked.run_id is not None or bool(target_.app.correlation_input)
    return Started(tracked, followable=followable)


async def _moved(services: Clients, target_: Target, request: DeployRequest) -> str | None:
    """What an approved deploy's ref points at now, when that is not the approved SHA.

    The dispatch sends the branch (workflows check out its head, and there is no generic
    input for a SHA), so this check, right before it, is what keeps an approved deploy from
    shipping a commit nobody approved."""
    if request.approved_sha is None:
        return None
    async with services.github() as github:
        head = await github.get_branch_head(target_.app.repo, request.ref)
    return None if head == request.approved_sha else head


def _audit_stale(services: Clients, request: DeployRequest, outcome: Stale) -> None:
    from orchestrator import audit

    try:
        audit.record(
            services.store,
            actor=None,
            action="deploy.approval",
            result="stale",
            app=request.app,
            environment=request.environment,
            ref=request.ref,
            sha=request.approved_sha,
            now_at=outcome.sha,
        )
    except Exception as exc:  # the log still has it
        log.warning("stale deploy not audited", extra={"error": repr(exc)})


async def _tell(discord: DiscordREST, request: DeployRequest, text: str) -> None:
    """Replace a waiting request's message with `text` (token while it lives, else bot)."""
    data = Message(content=text).to_data(edit=True)
    try:
        if request.interaction_token and time.time() < request.token_expires_at:
            await discord.edit_original(request.interaction_token, data)
        elif request.channel_id and request.message_id:
            await discord.edit_message(request.channel_id, request.message_id, data)
    except Exception as exc:  # the message is gone: the audit and the log still have it
        log.warning("could not update a waiting deploy's message", extra={"error": repr(exc)})


async def finished(services: Clients, tracked: Tracked, discord: DiscordREST) -> bool:
    """A tracked run ended (and was verified): free its environment, roll it back if its
    environment says so and verification failed (`auto_rollback`, once), start the next one.
    Once per run, however often its end is delivered; True when it freed the slot."""
    if tracked.environment is None or not tracked.finished:
        return False
    freed = queue.release_finished(
        services.store, tracked.app, tracked.environment, tracked.correlation
    )
    try:
        await _auto_rollback(services, tracked, discord)
    except Exception as exc:  # the next deploy must start whatever became of the rollback
        log.warning("auto rollback failed", extra={"app": tracked.app, "error": repr(exc)})
    if freed:
        await pump(services, tracked.app, tracked.environment, discord)
    return freed


# -- rolling back -----------------------------------------------------------------------------


async def _auto_rollback(services: Clients, tracked: Tracked, discord: DiscordREST) -> None:
    """`auto_rollback = true`: roll a failed verification back by itself, once per failed
    run (the claim), never a rollback (`rollback.auto_due`), and say so on its message.

    The claim is given back when anything fails before the rollback was submitted (its
    message could not be posted, say), so a retried delivery of the run's end does it."""
    from orchestrator import audit
    from orchestrator.deploys import rollback, runs, tracking

    try:
        target_ = target(get_app(services, tracked.app), tracked.environment)
    except InvalidApp:
        return
    if not rollback.auto_due(tracked, target_.environment):
        return
    store = services.store
    claim = keys.auto_rollback(tracked.correlation)
    if not store.claim(claim, ttl=tracking.TRACK_TTL):
        return
    try:
        result = await roll_back(services, tracked, discord, actor=None, is_admin=False)
    except BaseException:  # nothing was submitted: let a retried delivery roll it back
        store.delete(claim)
        raise
    latest = tracking.load(store, tracked.repo, tracked.run_id) if tracked.run_id else None
    updated = noted(latest or tracked, result)
    tracking.save(store, updated)
    audit.record(
        store,
        actor=None,
        action="rollback.auto",
        result="started" if result.started else "refused",
        app=tracked.app,
        environment=tracked.environment,
        sha=(tracked.rollback_sha or "")[:12],
        failed=tracked.correlation,
        note=result.note,
    )
    await runs.publish(services, updated, discord)


@dataclass(frozen=True)
class RollBack:
    """What became of a rollback asked for: `started` (or waiting in line), and the note
    for the failed run's message. `final`: nothing changes by asking again (it started,
    or was superseded, or there is nowhere to go); otherwise (a lock, a freeze, GitHub
    said no) the message keeps offering Roll back."""

    started: bool
    note: str
    final: bool = True


def noted(tracked: Tracked, result: RollBack) -> Tracked:
    """The failed run with `result`'s note: as `rollback_note` (which ends the offer of
    Roll back) when final, else as its `note` (Roll back stays offered)."""
    if result.final:
        return replace(tracked, rollback_note=result.note)
    return replace(tracked, note=result.note)


async def roll_back(
    services: Clients,
    tracked: Tracked,
    discord: DiscordREST,
    *,
    actor: str | None,
    is_admin: bool,
) -> RollBack:
    """Dispatch the rollback of `tracked` to its `rollback_sha` through `submit` (the gate:
    lock, freeze, queue; and `rollback.superseded`), as a new tracked run (kind "rollback",
    a new GitHub Deployment of the old SHA) followed in a new message next to the failed
    one; it goes to the front of the queue. `actor` None: the bot, for `auto_rollback`.
    Raises only before anything was submitted (the new message could not be posted)."""
    from orchestrator.deploys import rollback
    from orchestrator.github.events import short_sha

    who = f"<@{actor}>" if actor else "auto_rollback"
    sha = tracked.rollback_sha
    try:
        target_ = target(get_app(services, tracked.app), tracked.environment)
    except InvalidApp as exc:
        return RollBack(False, f"{who}: not rolled back: {exc}", final=False)
    workflow = target_.app.rollback_workflow
    if sha is None or not workflow:
        return RollBack(False, f"{who}: not rolled back: no rollback workflow or verified SHA")
    if tracked.channel_id is None:
        return RollBack(False, f"{who}: not rolled back: I do not know where this message is")
    why = rollback.superseded(services.store, target_.app, target_.environment.name, sha)
    if why is not None:
        return RollBack(False, f"{who}: not rolled back: {why}")
    posted = await discord.create_message(
        tracked.channel_id,
        Message(content=f"↩️ Rolling back {target_.label} to `{short_sha(sha)}` ({who})…").to_data(),
    )
    request = DeployRequest(
        app=target_.app.name,
        environment=target_.environment.name,
        kind="rollback",
        workflow=workflow,
        ref=target_.app.branch,
        inputs={"sha": sha},
        actor=actor,
        channel_id=str(posted.get("channel_id") or tracked.channel_id),
        message_id=str(posted.get("id")),
    )
    try:
        _, outcome = await submit(services, target_, request, discord, is_admin=is_admin)
    except Exception as exc:
        outcome = Refused(f"⚠️ the rollback did not start: {_short(exc)}")
    if isinstance(outcome, Refused):
        await _tell(discord, request, f"↩️ Not rolled back: {outcome.reason}")
        final = outcome.reason.startswith(rollback.SUPERSEDED)
        return RollBack(False, f"{who}: not rolled back: {outcome.reason}", final=final)
    return RollBack(True, f"{who}: rolling back to `{short_sha(sha)}` (see the message below)")


def _short(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


# -- the deploy watch -------------------------------------------------------------------------


@dataclass(frozen=True)
class Watched:
    reminded: int
    pumped: int
    expired: int = 0  # approval requests ended (and marked) because their time was up


async def watch(services: Clients, now: float | None = None) -> Watched:
    """Remind the channels of locks about to lapse; restart queues nobody is pumping; end
    approval requests whose time is up (`approvals.expire_due`)."""
    from orchestrator.deploys import approvals

    at = time.time() if now is None else now
    store = services.store
    reminded = pumped = 0
    try:
        apps = apps_of(services)
    except Exception as exc:  # a broken config file must not stop reminders of other apps
        log.warning("deploy watch: apps not loaded", extra={"error": repr(exc)})
        apps = {}
    channels = {
        (t.app.name, t.environment.name): t.app.channel_id for t in _targets_of(apps.values())
    }
    async with services.discord_rest() as discord:
        for lock in locks.due_reminders(locks.everything(store), at):
            channel = channels.get((lock.app, lock.environment)) or (
                apps[lock.app].channel_id if lock.app in apps else None
            )
            if channel is None:
                log.info("lock reminder skipped: no channel", extra={"app": lock.app})
                continue
            claim = keys.lock_reminder(lock.app, lock.environment, lock.expires_at)
            if not store.claim(claim, ttl=2 * 24 * 3600):
                continue
            await discord.create_message(channel, reminder_message(lock, at).to_data())
            reminded += 1
        for app, environment in sorted(queue.queued_environments(store)):
            if queue.in_flight(store, app, environment) is None:
                await pump(services, app, environment, discord)
                pumped += 1
        expired = await approvals.expire_due(services, discord, at)
    return Watched(reminded, pumped, expired)


def _targets_of(apps: Iterable[App]) -> list[Target]:
    """Every environment of every app whose environments read well (one broken app's
    config must not stop the others' reminders)."""
    found: list[Target] = []
    for app in apps:
        try:
            found.extend(all_targets({app.name: app}))
        except InvalidApp:
            continue
    return found


# -- messages ---------------------------------------------------------------------------------


def waiting_message(
    target_: Target, request: DeployRequest, place: int | None, in_flight: InFlight | None
) -> Message:
    """A deploy waiting for its environment: its place in line and what it waits for."""
    from orchestrator.deploys.gate import describe_in_flight

    line = f"🕒 waiting: #{place} in line" if place else "🕒 waiting for the environment"
    if in_flight is not None:
        line += f", behind {describe_in_flight(in_flight, time.time())}"
    fields: list[tuple[str, str] | tuple[str, str, bool]] = [
        ("Ref", request.ref, True),
        ("By", f"<@{request.actor}>" if request.actor else "?", True),
    ]
    return Message(
        embeds=[
            embed(
                f"🚀 Deploy {target_.label}",
                line + "\nIt starts by itself when the deploy in flight has finished.",
                color=Color.GREY,
                fields=fields,
            )
        ]
    )


def reminder_message(lock: locks.Lock, now: float) -> Message:
    """The channel reminder before a lock lapses; it pings the owner (only them)."""
    return Message(
        content=(
            f"⏰ <@{lock.owner}>, your lock on **{lock.app}/{lock.environment}** "
            f"(“{lock.reason}”) lapses in {_left(lock, now)}. `/lock` again to keep it, "
            "`/unlock` when you are done."
        ),
        allowed_mentions={"parse": [], "users": [lock.owner]},
    )


def _left(lock: locks.Lock, now: float) -> str:
    from orchestrator.text import duration

    return duration(max(0.0, lock.expires_at - now))


def override_message(plan_: gate.DeployPlan, actor: str | None) -> Message:
    """The channel announcement of a deploy during a freeze (an admin's override)."""
    freeze = plan_.freeze.freeze
    assert freeze is not None
    return Message(
        content=(
            f"🧊⚠️ <@{actor or '?'}> is deploying **{plan_.target.label}** during the freeze "
            f"**{freeze.window.name}** (until "
            f"{freezes.local_time(freeze.ends_at, freeze.window.timezone)}): "
            f"“{plan_.freeze.override}”"
        )
    )
