"""Every store key the service writes or reads, built (and read back) here and nowhere else.

Why one module: a key is a contract between whoever writes it and whoever reads it
later (the digest reads what probes, deploy runs and verifications wrote; the retry
sweep reads what the runner planned). When each side spelled its own f-string, the
two spellings could drift apart and a reader would silently find nothing. The key
strings are also the stored layout: existing SQLite files and DynamoDB tables hold
them, so they must not change byte for byte (`tests/store/test_keys.py` pins them).

A key is `"<collection>:<id>"` (see `store.base`): the collection is what DynamoDB
partitions on, so every prefix below names one. Keys that must sort by time embed
`stamp()`, whose text order is time order.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

# -- time in keys -----------------------------------------------------------------------------

_SECONDS = "%Y%m%dT%H%M%SZ"
_MICROSECONDS = "%Y%m%dT%H%M%S.%fZ"
_DAY = "%Y%m%d"


def stamp(at: float, *, micros: bool = False) -> str:
    """Sortable UTC time: `20261129T090500Z`, or `20261129T090500.123456Z` with `micros`
    (the audit log, where many entries share a second). Fixed width, so text order is
    time order; its first 8 characters are `day(at)`, which is what a per-day prefix
    query relies on."""
    return datetime.fromtimestamp(at, UTC).strftime(_MICROSECONDS if micros else _SECONDS)


def day(at: float) -> str:
    """`20261129`: the UTC day of `at`, a prefix of `stamp(at)`."""
    return datetime.fromtimestamp(at, UTC).strftime(_DAY)


def days(start: float, end: float) -> Iterator[str]:
    """`day()` of every UTC day the period [start, end) touches, oldest first: a period is
    read with one prefix query per day instead of a scan."""
    current = datetime.fromtimestamp(start, UTC).date()
    last = datetime.fromtimestamp(max(start, end - 0.001), UTC).date()
    while current <= last:
        yield current.strftime(_DAY)
        current += timedelta(days=1)


def _rest(key: str, prefix: str) -> str:
    if not key.startswith(prefix):
        raise ValueError(f"not a {prefix!r} key: {key[:60]!r}")
    return key[len(prefix) :]


# -- jobs (kernel) ----------------------------------------------------------------------------

JOB_PREFIX = "job:"


def job(job_id: str) -> str:
    """A job's record (status, attempt, payload)."""
    return f"job:{job_id}"


def parse_job(key: str) -> str:
    """The id in a `job()` key."""
    return _rest(key, JOB_PREFIX)


def job_run(job_id: str, attempt: int) -> str:
    """The runner's claim: one run per job attempt, however often it is delivered."""
    return f"jobrun:{job_id}.{attempt}"


def retry_submission(job_id: str, attempt: int) -> str:
    """The claim of the one submitter of a retried attempt (sweep or `jobs retry`)."""
    return f"retrysub:{job_id}.{attempt}"


RETRY_PREFIX = "retry:"


def retry(due: float, job_id: str) -> str:
    """A planned retry. Zero-padded whole seconds sort as text in due order, so the sweep
    reads only what is due, in order."""
    return f"retry:{int(due):012d}:{job_id}"


def parse_retry(key: str) -> tuple[float, str] | None:
    """`(due, job id)` of a `retry()` key, or None for anything else (never raises)."""
    if not key.startswith(RETRY_PREFIX):
        return None
    due, _, planned = key[len(RETRY_PREFIX) :].partition(":")
    if not (due.isascii() and due.isdigit()) or not planned:
        return None
    return float(due), planned


def schedule_slot(job_id: str) -> str:
    """The local scheduler's claim of one schedule slot (its job id names the slot)."""
    return f"schedslot:{job_id}"


# -- audit and traces (kernel) ----------------------------------------------------------------

AUDIT_PREFIX = "audit:"


def audit(at: float, suffix: str) -> str:
    """One audit entry; time-sorted to the microsecond, `suffix` keeps equal times apart."""
    return f"audit:{stamp(at, micros=True)}-{suffix}"


def trace(user_id: str, interaction_id: str) -> str:
    """A command's trace; interaction ids are snowflakes, so a user's traces sort by time."""
    return f"trace:{user_id}:{interaction_id}"


def trace_prefix(user_id: str) -> str:
    return f"trace:{user_id}:"


# -- GitHub deliveries and events (protocol core) ---------------------------------------------


def delivery(delivery_id: str) -> str:
    """The claim of one `X-GitHub-Delivery`: redeliveries are acknowledged, not handled."""
    return f"delivery:{delivery_id}"


def run_state(repo: str, run_id: int) -> str:
    """The newest event version seen for a workflow run (out-of-order webhooks)."""
    return f"runstate:{repo}:{run_id}"


def job_state(repo: str, job_id: int) -> str:
    """The newest event version seen for a workflow job."""
    return f"jobstate:{repo}:{job_id}"


def deployment_state(repo: str, deployment_id: int) -> str:
    """The newest `deployment_status` event seen for a GitHub Deployment (out-of-order
    webhooks; not `deployment_status`, the record of the statuses we post ourselves)."""
    return f"deploystate:{repo}:{deployment_id}"


def redelivery(guid: str) -> str:
    """The claim of the one redelivery the reconcile sweep asks GitHub for, per delivery
    guid (GitHub's log may not list our request yet when the next sweep reads it)."""
    return f"redelivered:{guid}"


RECONCILE_SWEEP = "reconcile:last"


def reconcile_sweep() -> str:
    """What the last reconcile sweep did (`/diagnose` shows it)."""
    return RECONCILE_SWEEP


# -- apps -------------------------------------------------------------------------------------

APP_OVERRIDE_PREFIX = "appcfg:"


def app_override(app: str) -> str:
    """An app's runtime settings (`/config set`)."""
    return f"appcfg:{app}"


def parse_app_override(key: str) -> str:
    """The app named by an `app_override()` key."""
    return _rest(key, APP_OVERRIDE_PREFIX)


# -- notifications ----------------------------------------------------------------------------

SUBSCRIPTION_PREFIX = "sub:"


def subscription(subscription_id: str) -> str:
    """A subscription added with `/notify add`."""
    return f"sub:{subscription_id}"


def parse_subscription(key: str) -> str:
    """The id in a `subscription()` key."""
    return _rest(key, SUBSCRIPTION_PREFIX)


def notified(delivery_id: str, subscription_id: str) -> str:
    """What was sent for one delivery to one subscription, so a retry does not post twice."""
    return f"notified:{delivery_id}.{subscription_id}"


def card(subscription_id: str, repo: str, sha: str, pull_request: int | None = None) -> str:
    """One subscription's card for one commit (and pull request): its workflow lines and the
    Discord message that shows them. The repository is lower-cased, as GitHub spells it as
    it likes."""
    suffix = f":pr{pull_request}" if pull_request is not None else ""
    return f"card:{subscription_id}:{repo.lower()}:{sha}{suffix}"


# -- deploys and verification -----------------------------------------------------------------


def tracked_run(repo: str, run_id: int) -> str:
    """A deploy run followed in Discord, by its run id. GitHub spells an owner/name as it
    likes (`Acme/Web` in the config, `acme/web` in a webhook): the key does not care."""
    return f"track:{repo.lower()}:{run_id}"


def tracked_correlation(correlation: str) -> str:
    """The same tracked run, by the correlation id in its title (before the run id is known)."""
    return f"trackcorr:{correlation}"


OPEN_RUN_PREFIX = "trackopen:"


def open_run(correlation: str) -> str:
    """A tracked run not settled yet (unfinished, or finished and not yet verified): the
    reconcile sweep's list of runs to ask GitHub about, by correlation id."""
    return f"trackopen:{correlation}"


def parse_open_run(key: str) -> str:
    """The correlation id in an `open_run()` key."""
    return _rest(key, OPEN_RUN_PREFIX)


def verification(app: str, at: float, suffix: str) -> str:
    """One verification report, time-sorted per app (history, digest)."""
    return f"verification:{app}:{stamp(at)}-{suffix}"


def verification_prefix(app: str, on_day: str = "") -> str:
    """An app's verifications, or those of one `day()`."""
    return f"verification:{app}:{on_day}"


# -- deploy safety: locks, freeze windows, one deploy at a time per environment ----------------

DEPLOY_LOCK_PREFIX = "deploylock:"


def deploy_lock(app: str, environment: str) -> str:
    """The lock on one environment of an app (`/lock`); its TTL is the lock's."""
    return f"deploylock:{app}:{environment}"


def parse_deploy_lock(key: str) -> tuple[str, str]:
    """`(app, environment)` of a `deploy_lock()` key (neither name holds a colon)."""
    app, _, environment = _rest(key, DEPLOY_LOCK_PREFIX).partition(":")
    return app, environment


def lock_reminder(app: str, environment: str, expires_at: float) -> str:
    """The claim that posts one reminder per lock expiry (a lock extended gets another)."""
    return f"lockremind:{app}:{environment}:{stamp(expires_at)}"


FREEZE_PREFIX = "freeze:"


def freeze_window(name: str) -> str:
    """A freeze window added with `/freeze add` (those in the config file are not stored)."""
    return f"freeze:{name}"


def deploy_slot(app: str, environment: str) -> str:
    """The claim of the one deploy in flight in an environment of an app."""
    return f"deployslot:{app}:{environment}"


def deploy_slot_release(correlation: str) -> str:
    """The claim that frees a finished deploy's slot once, however often its end arrives."""
    return f"deployfree:{correlation}"


def deployment_status(repo: str, deployment_id: int) -> str:
    """The last status posted (or being posted) to one GitHub Deployment: one record per
    Deployment, advanced with compare-and-set before each post (`deploys.deployments`)."""
    return f"deploystatus:{repo.lower()}:{deployment_id}"


def auto_rollback(correlation: str) -> str:
    """The claim that rolls a failed deploy (by its correlation id) back once, by itself."""
    return f"autorollback:{correlation}"


DEPLOY_QUEUE_PREFIX = "deployq:"


def deploy_queue(
    app: str, environment: str, at: float, request_id: str, *, first: bool = False
) -> str:
    """A deploy waiting for its environment, time-sorted (to the microsecond): the queue's
    order is the key order. `first` (a rollback) puts it ahead of every ordinary entry: `!`
    sorts before the stamp's digits, and such entries keep time order among themselves."""
    lane = "!" if first else ""
    return f"deployq:{app}:{environment}:{lane}{stamp(at, micros=True)}-{request_id}"


def deploy_queue_prefix(app: str, environment: str) -> str:
    return f"deployq:{app}:{environment}:"


def parse_deploy_queue(key: str) -> tuple[str, str]:
    """`(app, environment)` of a `deploy_queue()` key."""
    app, _, rest = _rest(key, DEPLOY_QUEUE_PREFIX).partition(":")
    return app, rest.partition(":")[0]


APPROVAL_PREFIX = "approval:"


def approval(request_id: str) -> str:
    """A deploy waiting for approvals (`/deploy` to an environment with `approvals = N`);
    its TTL outlives the request's expiry, so a late press is told it expired."""
    return f"approval:{request_id}"


def approval_shard_prefix(first: str) -> str:
    """The requests whose id starts with the hex digit `first`: the deploy watch reads the
    requests one such slice at a time, so each read stays small however many are kept."""
    return f"approval:{first}"


def approval_vote(request_id: str, user_id: str) -> str:
    """One person's approval of a request: the claim that makes it count once per person."""
    return f"approvalvote:{request_id}:{user_id}"


def approval_vote_prefix(request_id: str) -> str:
    return f"approvalvote:{request_id}:"


def approval_end(request_id: str) -> str:
    """The claim that ends a request once: dispatched, rejected or expired, never two."""
    return f"approvalend:{request_id}"


# -- probes -----------------------------------------------------------------------------------


def probe(app: str, target: str, at: float) -> str:
    """One probe result, time-sorted per target (the digest's uptime)."""
    return f"probe:{app}:{target}:{stamp(at)}"


def probe_prefix(app: str, target: str, on_day: str = "") -> str:
    """A target's probe results, or those of one `day()`."""
    return f"probe:{app}:{target}:{on_day}"


def probe_state(app: str, target: str) -> str:
    """A target's current up/down state."""
    return f"probestate:{app}:{target}"


def probe_state_prefix(app: str) -> str:
    return f"probestate:{app}:"


def parse_probe_state(key: str) -> tuple[str, str]:
    """`(app, target)` of a `probe_state()` key (app names hold no colon)."""
    app, _, target = _rest(key, "probestate:").rpartition(":")
    return app, target


def incident(app: str, target: str, start: float) -> str:
    """One outage of a target, time-sorted per app by its start."""
    return f"incident:{app}:{stamp(start)}-{target}"


def incident_prefix(app: str) -> str:
    return f"incident:{app}:"


# -- deploy runs, for the digest --------------------------------------------------------------


def run(app: str, at: float, run_id: int | None, attempt: int) -> str:
    """One completed deploy run (the `runlog` collection), time-sorted per app; ends in the
    run id and attempt, so a redelivered webhook overwrites instead of counting twice."""
    return f"runlog:{app}:{stamp(at)}-{run_id or 0}.{attempt}"


def run_prefix(app: str, on_day: str = "") -> str:
    """An app's recorded runs, or those of one `day()`."""
    return f"runlog:{app}:{on_day}"


# -- relay (commands) -------------------------------------------------------------------------


def relay(relay_id: str) -> str:
    """A relay waiting for its admin's confirm button."""
    return f"relay:{relay_id}"


def relay_sent(relay_id: str) -> str:
    """The claim that sends a relay once, whatever presses the button twice."""
    return f"relaysent:{relay_id}"


# -- buttons (discord dispatch) ---------------------------------------------------------------


def button_press(message_id: str, custom_id: str) -> str:
    """Who pressed a once-only button of one message (the claim that makes it act once)."""
    return f"press:{message_id}:{custom_id}"
