"""GitHub Deployments for tracked deploys: created on dispatch, green only once verified.

A deploy (and a release, and a rollback) to an environment is also a GitHub Deployment, so
GitHub's own pages (the repository's Environments, a commit's deployments) show what is
live. Its statuses follow the tracked run:

| the tracked run                                   | status                          |
|---------------------------------------------------|---------------------------------|
| dispatched, not started                           | `queued`                        |
| running (and finished well, until verified)       | `in_progress`, `log_url` = run  |
| finished well and verification passed (or warned) | `success`, `environment_url`    |
| the run failed, or verification failed            | `failure`                       |
| cancelled, skipped, or verification could not run | `error`                         |

`success` also says `auto_inactive: true`, so GitHub marks the environment's older
deployments inactive.

`success` is posted only from a verdict, never from the run's conclusion alone: that is
the point of this bot. `status_for` decides (pure); `create` and `sync` talk to GitHub and
never raise, because a Deployment is a report about a deploy, not the deploy: GitHub saying
no to one is logged (and noted on the message), and the deploy goes on.

Each state is posted once per Deployment: a redelivered or retried event, a second
container, the Verify button and the reconcile schedule may all look at the same run and
ask again. A state is also never posted after a later one (no `in_progress` after
`failure` from a late event). Both rest on one store record per Deployment naming the last
state posted, advanced by compare-and-set (`store.update`) BEFORE the post: of two syncs at
once, in either order, the one with the earlier state finds the later one there and posts
nothing. A failed post steps the record back (if no other sync moved it on since), so the
next event tries again. (Two posts already in flight can still reach GitHub in either
order; the record only guarantees that no sync starts an earlier state after a later one.)

The Deployment's environment is the app's environment name; an app without environments
(its implicit `default`) deploys to `production`, GitHub's conventional name and what
`default` always was. Its payload carries `via: orchestrator` and the correlation id, so
`deployment`/`deployment_status` events about our own Deployments are recognised
(`is_ours`) and never answered with another status.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from orchestrator.deploys.environments import DEFAULT, Target
from orchestrator.deploys.tracking import CORRELATION, TRACK_TTL, VERIFIED_KINDS, Tracked
from orchestrator.github.client import fit_description
from orchestrator.github.events import short_sha
from orchestrator.store import keys
from orchestrator.store.base import JSONObject
from orchestrator.store.update import Change, update

if TYPE_CHECKING:
    from orchestrator.clients import Clients
    from orchestrator.github.client import GitHubClient

log = logging.getLogger(__name__)

VIA = "orchestrator"  # the payload's mark: this Deployment is ours
TERMINAL = ("success", "failure", "error")
# The order statuses may follow; a status never goes back to an earlier rank.
_RANK = {"queued": 0, "in_progress": 1, "success": 2, "failure": 2, "error": 2}
_PASSING = ("PASS", "WARN")  # a verification that found the deploy serving
_RUN_FAILED = ("failure", "timed_out", "startup_failure")


@dataclass(frozen=True)
class Status:
    """One deployment status to post: exactly the fields GitHub is sent."""

    state: str
    description: str
    log_url: str | None = None
    environment_url: str | None = None
    auto_inactive: bool | None = None


def github_environment(environment: str) -> str:
    """The GitHub environment a tracked environment deploys to (`default` -> production)."""
    return "production" if environment == DEFAULT else environment


def wanted(kind: str, environment: str | None) -> bool:
    """Does a run of this kind to this environment get a Deployment? Deploys, releases and
    rollbacks do; a diagnose run ships nothing."""
    return kind in VERIFIED_KINDS and environment is not None


def payload_for(tracked: Tracked) -> dict[str, Any]:
    return {
        "via": VIA,
        "correlation_id": tracked.correlation,
        "app": tracked.app,
        "kind": tracked.kind,
        "environment": tracked.environment,
    }


def is_ours(payload: Any) -> bool:
    """A Deployment's payload (from an event or the API) marks it as one we created."""
    if not isinstance(payload, dict) or payload.get("via") != VIA:
        return False
    correlation = payload.get("correlation_id")
    return isinstance(correlation, str) and CORRELATION.fullmatch(correlation) is not None


def status_for(tracked: Tracked) -> Status:
    """Which status the Deployment of `tracked` should show now (see the module's table)."""
    log_url = tracked.run_url
    sha = short_sha(tracked.deploy_sha or tracked.head_sha)
    if not tracked.finished:
        if tracked.status == "in_progress":
            job = f": {tracked.current_job}" if tracked.current_job else ""
            return Status("in_progress", f"{sha} deploying{job}", log_url=log_url)
        return Status("queued", f"{sha} dispatched, waiting for a runner", log_url=log_url)
    if tracked.conclusion == "success":
        verdict = tracked.verdict
        summary = tracked.verdict_summary or ""
        if verdict is None:
            return Status("in_progress", f"{sha} deployed; verifying the live site", log_url)
        if verdict in _PASSING:
            return Status(
                "success",
                f"{sha} verified live: {summary or 'all checks passed'}",
                log_url=log_url,
                environment_url=tracked.environment_url,
                auto_inactive=True,
            )
        if verdict == "FAIL":
            return Status("failure", f"{sha} verification failed: {summary}", log_url=log_url)
        return Status("error", f"{sha} not verified: {summary or 'nothing to check'}", log_url)
    if tracked.conclusion in _RUN_FAILED:
        failed = ", ".join(tracked.failed_jobs)
        jobs = f" ({failed})" if failed else ""
        return Status("failure", f"{sha} run {tracked.conclusion}{jobs}", log_url=log_url)
    return Status(
        "error", f"{sha} run {tracked.conclusion or 'ended'}: live site not checked", log_url
    )


def _fitted(status: Status) -> Status:
    return replace(status, description=fit_description(status.description))


# -- talking to GitHub ------------------------------------------------------------------------


async def create(github: GitHubClient, tracked: Tracked, target: Target) -> Tracked:
    """Create the Deployment of `tracked` (before its workflow is dispatched, so every
    event about the run finds it). Never raises: a refusal is logged and noted."""
    if not wanted(tracked.kind, tracked.environment) or tracked.deploy_sha is None:
        return tracked
    environment = target.environment
    try:
        deployment_id = await github.create_deployment(
            tracked.repo,
            ref=tracked.deploy_sha,
            environment=github_environment(environment.name),
            auto_merge=False,
            required_contexts=environment.required_contexts,
            payload=payload_for(tracked),
            description=f"{tracked.kind} {target.label} by orchestrator ({tracked.correlation})",
            transient_environment=environment.transient_environment,
            production_environment=environment.production_environment,
        )
    except Exception as exc:  # a report about the deploy must never stop the deploy
        log.warning(
            "GitHub Deployment not created",
            extra={"app": tracked.app, "correlation": tracked.correlation, "error": repr(exc)},
        )
        return replace(tracked, note=f"GitHub Deployment not created: {_short(exc)}")
    return replace(tracked, deployment_id=deployment_id)


async def sync(services: Clients, tracked: Tracked, github: GitHubClient | None = None) -> Tracked:
    """Post the status `tracked` calls for, once per state; the result records it as
    `deployment_state`. Never raises (a failed post is logged, and tried again by the
    next event: the record steps back)."""
    if tracked.deployment_id is None:
        return tracked
    status = _fitted(status_for(tracked))
    if status.state == tracked.deployment_state:
        return tracked
    store = services.store
    key = keys.deployment_status(tracked.repo, tracked.deployment_id)
    mine = secrets.token_hex(4)
    record, wrote = update(store, key, _advance(status.state, mine), ttl=TRACK_TTL)
    if not wrote:
        if record is not None and record.get("state") == status.state:
            return replace(tracked, deployment_state=status.state)  # posted by someone else
        return tracked  # a later status is out already: a late event must not undo it
    try:
        if github is None:
            async with services.github() as client:
                await _post(client, tracked, status)
        else:
            await _post(github, tracked, status)
    except Exception as exc:
        update(store, key, _step_back(mine), ttl=TRACK_TTL)
        log.warning(
            "deployment status not posted",
            extra={"state": status.state, "deployment": tracked.deployment_id, "error": repr(exc)},
        )
        return tracked
    return replace(tracked, deployment_state=status.state)


def _advance(state: str, mine: str) -> Change:
    """The record's change that makes `state` the Deployment's next status: never a state
    posted before, never one ranked below the last (a different state of the same rank is
    a verdict that changed: a re-verification that now passes). `mine` marks the write, so
    a failed post steps back only its own."""

    def change(current: JSONObject | None) -> JSONObject | None:
        last = (current or {}).get("state")
        posted = [str(s) for s in (current or {}).get("posted") or []]
        if state in posted or (isinstance(last, str) and _RANK.get(last, -1) > _RANK[state]):
            return None
        before = {k: v for k, v in (current or {}).items() if k in ("state", "posted")}
        return {"state": state, "posted": [*posted, state], "by": mine, "before": before}

    return change


def _step_back(mine: str) -> Change:
    """Undo `mine`'s advance after its post failed (the next event tries again), unless
    another sync has moved the record on since."""

    def change(current: JSONObject | None) -> JSONObject | None:
        if current is None or current.get("by") != mine:
            return None
        before = current.get("before")
        return dict(before) if isinstance(before, dict) else {"posted": []}

    return change


async def _post(github: GitHubClient, tracked: Tracked, status: Status) -> None:
    assert tracked.deployment_id is not None
    await github.create_deployment_status(
        tracked.repo,
        tracked.deployment_id,
        status.state,
        description=status.description,
        log_url=status.log_url,
        environment_url=status.environment_url,
        auto_inactive=status.auto_inactive,
    )


async def dispatch_failed(github: GitHubClient, tracked: Tracked, error: Exception) -> None:
    """The workflow was never dispatched: the Deployment made for it says so (`error`)."""
    if tracked.deployment_id is None:
        return
    try:
        await github.create_deployment_status(
            tracked.repo,
            tracked.deployment_id,
            "error",
            description=fit_description(f"workflow not dispatched: {_short(error)}"),
        )
    except Exception as exc:
        log.warning("deployment status not posted", extra={"error": repr(exc)})


def _short(exc: Exception) -> str:
    from orchestrator.text import error_line

    return error_line(exc, 120)
