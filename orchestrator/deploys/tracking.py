"""A tracked run: the Discord message that follows one workflow run from dispatch to verdict.

`/deploy` (and `/diagnose`, `/release`) dispatch a workflow and post one
message; webhooks then move it along (queued -> in progress with the current
job -> completed -> verified). The state lives in the store, keyed by the run,
so any container handles the next event; `apply()` is the pure step that folds
one event into it.

Runs are found by id when GitHub returns it from the dispatch call, or by the
correlation id the dispatch passed as an input, which the workflow's
`run-name` must echo (`run-name: Deploy ${{ inputs.correlation_id }}`).

The correlation id is public (it is in the message footer), so anyone who can
start a workflow run could put it in a title. Only the run we dispatched may claim
it: a `workflow_dispatch` run of the dispatched workflow, in the same repository,
and only while no run id is known; once it is, only that run id moves the message.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from orchestrator.github.events import Event, WorkflowJob, WorkflowRun
from orchestrator.store import keys
from orchestrator.store.base import JSONObject, Store

log = logging.getLogger(__name__)

TRACK_TTL = 30 * 24 * 3600
# How long an unsettled run stays on the reconcile sweep's list: far past any deploy's length
# (a job runs 6 hours at most); a run still open after this is left to a person.
OPEN_TTL = 2 * 24 * 3600
# Interaction tokens live 15 minutes; past this we edit the message with the bot token.
TOKEN_LIFETIME = 14 * 60
CORRELATION = re.compile(r"\borc-[0-9a-f]{8}\b")
# Kinds whose finished run is verified (and whose GitHub Deployment goes green only then).
VERIFIED_KINDS = ("deploy", "release", "rollback")
# What may be rolled back after a failed verification: a deploy or a release. Never a
# rollback (no rollback of a rollback), never a diagnose run (it ships nothing).
ROLLS_BACK = ("deploy", "release")


def new_correlation_id() -> str:
    import secrets

    return f"orc-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Tracked:
    kind: str  # "deploy", "diagnose", "release", "rollback"
    app: str
    repo: str
    ref: str
    actor: str | None
    correlation: str
    workflow: str | None = None  # what was dispatched: a file name (deploy.yml) or an id
    environment: str | None = None  # the app's environment it deploys (`deploys.environments`)
    channel_id: str | None = None
    message_id: str | None = None
    interaction_token: str | None = None
    token_expires_at: float = 0.0
    followup: bool = False
    run_id: int | None = None
    run_url: str | None = None
    head_sha: str | None = None
    status: str = "requested"  # requested, queued, in_progress, completed
    conclusion: str | None = None
    current_job: str | None = None
    jobs_done: int = 0
    jobs_total: int = 0
    failed_jobs: tuple[str, ...] = ()
    started_at: float | None = None
    finished_at: float | None = None
    verdict: str | None = None
    verdict_summary: str | None = None
    note: str | None = None
    # Who pressed Cancel, while GitHub has not yet said the run is over: the message stops
    # offering Cancel and stops saying "queued" as if nothing had happened.
    cancel_requested_by: str | None = None
    # The GitHub Deployment (`deploys.deployments`): the commit it ships, its id, the last
    # status posted to it, and the URL verification checked (its `environment_url`).
    deploy_sha: str | None = None
    deployment_id: int | None = None
    deployment_state: str | None = None
    environment_url: str | None = None
    # After a failed verification: the last verified SHA to roll back to (the Roll back
    # button), and once a rollback was started, what the message says about it.
    rollback_sha: str | None = None
    rollback_note: str | None = None
    created_at: float = field(default_factory=time.time)

    @property
    def finished(self) -> bool:
        """Over for good: completed, or carrying a conclusion (a run with a conclusion, e.g.
        `cancelled`, is final whatever its status field says)."""
        return self.status == "completed" or self.conclusion is not None

    @property
    def offers_rollback(self) -> bool:
        """Does the message offer Roll back now? After a failed verification with somewhere
        to go back to (`deploys.rollback`), until a rollback was started (or refused)."""
        return (
            self.verdict == "FAIL"
            and self.kind in ROLLS_BACK
            and self.rollback_sha is not None
            and self.rollback_note is None
        )

    @property
    def settled(self) -> bool:
        """Nothing left to do: finished, and verified when it is a deploy or a release."""
        return self.finished and (self.verdict is not None or self.kind not in VERIFIED_KINDS)

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return max(0.0, self.finished_at - self.started_at)

    def to_record(self) -> JSONObject:
        record = asdict(self)
        record["failed_jobs"] = list(self.failed_jobs)
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Tracked:
        known = {k: v for k, v in record.items() if k in cls.__dataclass_fields__}
        known["failed_jobs"] = tuple(known.get("failed_jobs") or ())
        return cls(**known)


def apply(tracked: Tracked, event: Event) -> Tracked:
    """Fold one (current, not stale) webhook event into the tracked state."""
    if event.name == "workflow_run":
        run = WorkflowRun(event.payload.get("workflow_run"))
        status = run.status or tracked.status
        if run.conclusion is not None:
            status = "completed"  # a conclusion is the last word on a run, e.g. `cancelled`
        changes: dict[str, Any] = {
            "run_id": run.id or tracked.run_id,
            "run_url": run.html_url or tracked.run_url,
            "head_sha": run.head_sha or tracked.head_sha,
            "status": status
            if status in ("queued", "in_progress", "completed")
            else ("queued" if status in ("requested", "waiting", "pending") else tracked.status),
            "started_at": run.started_at or tracked.started_at,
        }
        if status == "completed":
            changes["conclusion"] = run.conclusion
            changes["finished_at"] = run.updated_at or time.time()
            changes["current_job"] = None
        elif run.attempt > 1 and tracked.finished:
            # A re-run: back in flight, the old verdict no longer describes it.
            changes.update(
                conclusion=None,
                finished_at=None,
                verdict=None,
                verdict_summary=None,
                rollback_sha=None,
                failed_jobs=(),
                cancel_requested_by=None,
            )
        return replace(tracked, **changes)
    if event.name == "workflow_job":
        job = WorkflowJob(event.payload.get("workflow_job"))
        if tracked.finished:
            return tracked  # a late job event must not reopen a finished run
        changes = {
            "status": "in_progress"
            if job.status in ("in_progress", "completed")
            else tracked.status
        }
        if job.status == "in_progress":
            changes["current_job"] = job.name
        if job.status == "completed":
            changes["jobs_done"] = tracked.jobs_done + 1
            if job.conclusion in ("failure", "timed_out"):
                changes["failed_jobs"] = (*tracked.failed_jobs, job.name or "?")
            if tracked.current_job == job.name:
                changes["current_job"] = None
        return replace(tracked, **changes)
    return tracked


# What a button press may still say once webhooks have moved the run on meanwhile.
_ANNOTATIONS = ("note", "cancel_requested_by", "rollback_note")


def after_press(latest: Tracked | None, before: Tracked, after: Tracked) -> Tracked:
    """A button's result (`after`, computed from `before`) on top of what webhooks recorded
    while it talked to GitHub (`latest`, read again from the store).

    Saving `after` as is would undo those events: a run cancelled while its Cancel press was
    in flight would be saved, and drawn, as still queued, with its Cancel button. So the
    press's changes apply to the latest state; if the run has moved on since (another
    status, conclusion or attempt), only its annotations do (who asked for what)."""
    if latest is None:
        return after
    changed = {
        name: getattr(after, name)
        for name in Tracked.__dataclass_fields__
        if getattr(after, name) != getattr(before, name)
    }
    moved = (latest.status, latest.conclusion, latest.run_id) != (
        before.status,
        before.conclusion,
        before.run_id,
    )
    if moved:
        changed = {k: v for k, v in changed.items() if k in _ANNOTATIONS}
    return replace(latest, **changed)


# -- storage ----------------------------------------------------------------------------------


def save(store: Store, tracked: Tracked) -> None:
    record = tracked.to_record()
    store.put(keys.tracked_correlation(tracked.correlation), record, ttl=TRACK_TTL)
    if tracked.run_id is not None:
        store.put(keys.tracked_run(tracked.repo, tracked.run_id), record, ttl=TRACK_TTL)
    # The reconcile sweep's list: a run stays on it until settled, so one whose finishing
    # webhook was lost (or whose verification failed half-way) is still found.
    if tracked.settled:
        store.delete(keys.open_run(tracked.correlation))
    else:
        opened = {"repo": tracked.repo, "run_id": tracked.run_id, "created_at": tracked.created_at}
        store.put(keys.open_run(tracked.correlation), opened, ttl=OPEN_TTL)


def unsettled(store: Store, limit: int = 500) -> list[Tracked]:
    """Tracked runs not settled yet (the reconcile sweep's list), oldest first."""
    found = []
    for record in store.query_prefix(keys.OPEN_RUN_PREFIX, limit=limit):
        stored = store.get(keys.tracked_correlation(keys.parse_open_run(record.key)))
        if stored is None:
            continue
        tracked = Tracked.from_record(stored)
        if not tracked.settled:
            found.append(tracked)
    return sorted(found, key=lambda t: t.created_at)


def load_for_event(store: Store, event: Event) -> Tracked | None:
    """The tracked run this event belongs to: by run id, else by the correlation in its title."""
    repo = event.repo
    if repo is None:
        return None
    if event.name == "workflow_run":
        run = WorkflowRun(event.payload.get("workflow_run"))
        run_id, title = run.id, " ".join(filter(None, [run.title, run.name]))
    elif event.name == "workflow_job":
        job = WorkflowJob(event.payload.get("workflow_job"))
        run_id, title = job.run_id, ""
    else:
        return None
    if run_id is not None:
        record = store.get(keys.tracked_run(repo, run_id))
        if record is not None:
            return Tracked.from_record(record)
    match = CORRELATION.search(title)
    if match and event.name == "workflow_run":
        record = store.get(keys.tracked_correlation(match.group(0)))
        if record is not None:
            tracked = Tracked.from_record(record)
            run = WorkflowRun(event.payload.get("workflow_run"))
            if claims(tracked, repo, run):
                return replace(tracked, run_id=run_id)
            log.warning(
                "run ignored: it carries a tracked correlation id but is not the dispatched run",
                extra={"run_id": run_id, "correlation": tracked.correlation, "event": run.event},
            )
    return None


def claims(tracked: Tracked, repo: str, run: WorkflowRun) -> bool:
    """May `run` (whose title carries `tracked`'s correlation id) become its run?

    Only the dispatched run: same repository, started by `workflow_dispatch`, of the
    workflow we dispatched, and only while we do not know the run id yet.
    """
    if tracked.run_id is not None or run.id is None:
        return False
    if repo.lower() != tracked.repo.lower() or run.event != "workflow_dispatch":
        return False
    if tracked.workflow is None:
        return False
    wanted = tracked.workflow.strip().lower()
    workflow_id = run.raw.get("workflow_id")
    same_file = (run.workflow_file or "").lower() == wanted.rsplit("/", 1)[-1]
    return same_file or (wanted.isdigit() and str(workflow_id) == wanted)


def load(store: Store, repo: str, run_id: int) -> Tracked | None:
    record = store.get(keys.tracked_run(repo, run_id))
    return Tracked.from_record(record) if record is not None else None
