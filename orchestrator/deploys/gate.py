"""May this deploy go now? The lock, freeze and queue verdicts, decided in one pure function.

`plan_deploy` takes what the store and the config say (the environment's lock, the freeze
windows, the deploy in flight and how many wait) and returns a `DeployPlan`: each verdict,
the exact workflow inputs, and the refusal to show when one verdict says no. Every path that
dispatches a deploy (`/deploy`, `/release`'s Promote and Roll back, a queued deploy being
started) asks it, through `deploys.launch`; what to show for a dry run, or whether approvals
are needed, reads the same plan.

Order: a lock refuses first (someone is working on that environment), then a freeze, then
a busy environment that refuses a second deploy. A busy environment that queues is not a
refusal: the plan says the deploy will wait.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from orchestrator.deploys.environments import Target
from orchestrator.deploys.freezes import Freeze, FreezeWindow, in_force, local_time
from orchestrator.deploys.locks import Lock
from orchestrator.deploys.queue import InFlight
from orchestrator.github.events import short_sha
from orchestrator.text import ago, duration

MAX_OVERRIDE = 200


@dataclass(frozen=True)
class LockVerdict:
    lock: Lock | None
    passes: bool  # no lock, or the actor holds it

    @property
    def owners_pass(self) -> bool:
        """Held, and let through because the actor is its owner."""
        return self.lock is not None and self.passes


@dataclass(frozen=True)
class FreezeVerdict:
    freeze: Freeze | None
    override: str | None = None  # the admin's reason, when the freeze is overridden

    @property
    def passes(self) -> bool:
        return self.freeze is None or self.override is not None


@dataclass(frozen=True)
class QueueVerdict:
    mode: str  # "queue" or "refuse"
    in_flight: InFlight | None
    waiting: int

    @property
    def busy(self) -> bool:
        return self.in_flight is not None or self.waiting > 0

    @property
    def passes(self) -> bool:
        return not self.busy or self.mode == "queue"


@dataclass(frozen=True)
class DeployPlan:
    target: Target
    kind: str
    workflow: str
    ref: str
    inputs: Mapping[str, str]  # exactly what the dispatch sends (but the correlation id)
    actor: str | None
    lock: LockVerdict
    freeze: FreezeVerdict
    queue: QueueVerdict
    refusal: str | None  # why it may not go, for the person who asked; None: it may

    @property
    def allowed(self) -> bool:
        return self.refusal is None

    @property
    def will_wait(self) -> bool:
        """Allowed, but behind the deploy in flight (and the others waiting)."""
        return self.allowed and self.queue.busy


def describe_in_flight(in_flight: InFlight, now: float) -> str:
    """ "<@42>'s deploy of main (orc-1a2b3c4d), started 3 min ago"."""
    who = f"<@{in_flight.actor}>'s" if in_flight.actor else "a"
    ref = short_sha(in_flight.ref) if len(in_flight.ref) == 40 else in_flight.ref
    run = f" ({in_flight.correlation})" if in_flight.correlation else ""
    return f"{who} {in_flight.kind} of {ref}{run}, started {ago(now - in_flight.started_at)}"


def plan_deploy(
    target: Target,
    *,
    kind: str,
    workflow: str,
    ref: str,
    inputs: Mapping[str, str],
    actor: str | None,
    is_admin: bool,
    override: str | None,
    lock: Lock | None,
    windows: Iterable[FreezeWindow],
    in_flight: InFlight | None,
    waiting: int,
    now: float,
    override_window: str | None = None,
) -> DeployPlan:
    """The verdicts for deploying `target` now, and the one refusal that applies, if any.

    `override_window`: the freeze an admin's override was given for, when it is replayed
    later (an approved or queued deploy); it then lets the deploy through that freeze only."""
    label = target.label
    lock_verdict = LockVerdict(lock, lock is None or lock.lets_through(actor))
    freeze = in_force(windows, target.app.name, target.environment.name, now)
    reason = (override or "").strip()[:MAX_OVERRIDE] or None
    honoured = (
        freeze is not None
        and is_admin
        and (override_window is None or override_window == freeze.window.name)
    )
    freeze_verdict = FreezeVerdict(freeze, reason if honoured else None)
    queue_verdict = QueueVerdict(target.environment.queue, in_flight, waiting)
    refusal: str | None = None
    if lock is not None and not lock_verdict.passes:
        refusal = (
            f"🔒 {label} is locked by <@{lock.owner}>: “{lock.reason}” (for "
            f"{duration(max(0.0, lock.expires_at - now))} more). Ask them to `/unlock` it; "
            "an admin may break it with a reason."
        )
    elif freeze is not None and not freeze_verdict.passes:
        window = freeze.window
        why = f" ({window.reason})" if window.reason else ""
        until = local_time(freeze.ends_at, window.timezone)
        refusal = f"🧊 {label} is frozen: **{window.name}**{why} until {until}. " + (
            "An admin may deploy anyway with `override:` and a reason."
            if not is_admin
            else "To deploy anyway, give `override:` a reason (it is audited and announced)."
        )
    elif not queue_verdict.passes:
        busy = (
            describe_in_flight(in_flight, now)
            if in_flight is not None
            else f"{waiting} deploy(s) waiting"
        )
        refusal = (
            f"🚦 {label} is busy: {busy}. This environment takes one deploy at a time and "
            "does not queue: try again when it finishes."
        )
    return DeployPlan(
        target=target,
        kind=kind,
        workflow=workflow,
        ref=ref,
        inputs=dict(inputs),
        actor=actor,
        lock=lock_verdict,
        freeze=freeze_verdict,
        queue=queue_verdict,
        refusal=refusal,
    )
