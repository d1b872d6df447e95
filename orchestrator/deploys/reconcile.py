"""Reconcile: catch up on what GitHub's webhooks should have told us.

GitHub never retries a failed delivery, so a deploy whose `workflow_run.completed` was
lost would say "in progress" for ever, and hold its environment. The sweep (on a schedule,
or `orchestrator reconcile` by hand):

* asks GitHub about every tracked run not settled yet (`tracking.unsettled`) and moves it
  on exactly as the missing webhook would have (`deploys.advance`: the message edited,
  verified, the environment freed). The schedule only asks about runs dispatched more than
  `ORCHESTRATOR_RECONCILE_AFTER` seconds ago (a young run's webhooks are still coming);
  by hand, about every one. What GitHub says goes through the same out-of-order check as
  a webhook (`github.reconcile.is_current`), under a delivery id of its own per run state,
  so a state a webhook already brought changes nothing, and neither does a second sweep;
* redelivers the configured webhook's failed deliveries, once each (`github.redelivery`).

What it did is logged and kept under `keys.reconcile_sweep()` for `/diagnose`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from orchestrator.deploys import tracking
from orchestrator.deploys.advance import advance
from orchestrator.github import reconcile
from orchestrator.github.deliveries import HookMisconfigured, configured_hook
from orchestrator.github.events import Event, WorkflowRun
from orchestrator.store import keys
from orchestrator.text import ago

if TYPE_CHECKING:
    from orchestrator.clients import Clients
    from orchestrator.deploys.tracking import Tracked
    from orchestrator.discord.rest import DiscordREST
    from orchestrator.github.client import GitHubClient

log = logging.getLogger(__name__)

RECONCILE_JOB = "deploys.reconcile"  # the scheduled sweep
SWEEP_TTL = 30 * 24 * 3600


@dataclass(frozen=True)
class RunsReconciled:
    """What the sweep did to tracked runs (counts, and a line per run it moved)."""

    unsettled: int = 0
    young: int = 0  # left alone: dispatched less than the threshold ago (schedule only)
    no_run_id: int = 0  # never matched to a run: nothing to ask GitHub about
    checked: int = 0
    moved: int = 0
    finished: int = 0
    unchanged: int = 0
    errors: int = 0
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sweep:
    at: float
    by_hand: bool
    runs: RunsReconciled
    deliveries: dict[str, Any] | None = None  # `Redelivered.to_record()`
    deliveries_skipped: str | None = None  # why the delivery log was not read
    problems: list[str] = field(default_factory=list)

    def to_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["runs"]["lines"] = list(self.runs.lines)
        return record


def due(tracked: Tracked, now: float, after: float | None) -> bool:
    """Is this unsettled run old enough to ask GitHub about? `after` None: always (by hand)."""
    return after is None or now - tracked.created_at >= after


def needs_advance(tracked: Tracked, moved: Tracked) -> bool:
    """Does what GitHub says change the run, or is a finished run still to be verified?"""
    return moved != tracked or (moved.finished and not moved.settled)


def run_event(tracked: Tracked, raw: dict[str, Any]) -> Event:
    """GitHub's answer about a run, as the `workflow_run` webhook that would carry it. Its
    delivery id names the run's state, so a later sweep seeing the same state is no news."""
    run = WorkflowRun(raw)
    repo = run.repo or tracked.repo
    version = reconcile.version(run.attempt, run.updated_at, run.status)
    action = "completed" if run.conclusion is not None or run.status == "completed" else None
    payload = {
        "action": action or ("in_progress" if run.status == "in_progress" else "requested"),
        "workflow_run": raw,
        "repository": {"full_name": repo},
    }
    return Event("workflow_run", f"reconcile-{run.id}-{version:.0f}", payload)


async def reconcile_runs(
    services: Clients,
    github: GitHubClient,
    discord: DiscordREST,
    *,
    after: float | None,
    now: float | None = None,
) -> RunsReconciled:
    """Move every unsettled tracked run on by what GitHub says about it now."""
    at = time.time() if now is None else now
    store = services.store
    open_runs = tracking.unsettled(store)
    counts = {"young": 0, "no_run_id": 0, "checked": 0, "moved": 0, "finished": 0}
    counts.update(unchanged=0, errors=0)
    lines: list[str] = []
    for tracked in open_runs:
        if not due(tracked, at, after):
            counts["young"] += 1
            continue
        if tracked.run_id is None:
            counts["no_run_id"] += 1
            continue
        counts["checked"] += 1
        try:
            raw = await github.get_run(tracked.repo, tracked.run_id)
            event = run_event(tracked, raw)
            # The out-of-order check a webhook passes: a state a webhook (or an earlier
            # sweep) already brought is no news. A finished run not verified yet is still
            # moved on, as the retry of its delivery would.
            news = reconcile.is_current(store, event)
            if not news or not needs_advance(tracked, tracking.apply(tracked, event)):
                counts["unchanged"] += 1
                continue
            after_run = await advance(services, tracked, event, discord)
        except Exception as exc:  # one run's trouble must not stop the sweep
            counts["errors"] += 1
            log.warning(
                "reconcile: run not moved",
                extra={"run_id": tracked.run_id, "error": f"{type(exc).__name__}: {exc}"[:200]},
            )
            continue
        counts["moved"] += 1
        if after_run.finished:
            counts["finished"] += 1
        lines.append(_line(tracked, after_run))
    return RunsReconciled(unsettled=len(open_runs), lines=tuple(lines), **counts)


def _line(before: Tracked, after: Tracked) -> str:
    state = after.conclusion or after.status
    verdict = f", verdict {after.verdict}" if after.verdict else ""
    return f"{after.app} #{after.run_id} ({after.kind}): {before.status} -> {state}{verdict}"


async def sweep(services: Clients, *, by_hand: bool, now: float | None = None) -> Sweep:
    """One reconcile sweep: tracked runs, then failed deliveries; recorded and logged."""
    from orchestrator.github.redelivery import redeliver_failed

    at = time.time() if now is None else now
    settings = services.settings
    after = None if by_hand else float(settings.reconcile_after)
    problems: list[str] = []
    deliveries: dict[str, Any] | None = None
    skipped: str | None = None
    try:
        hook = configured_hook(
            settings.github_hook_repo,
            settings.github_hook_org,
            settings.github_hook_id,
            settings.has_github_app,
        )
    except HookMisconfigured as exc:
        hook, skipped = None, str(exc)
        problems.append(str(exc))
    else:
        if hook is None:
            skipped = "no webhook configured (GITHUB_HOOK_REPO/GITHUB_HOOK_ORG + GITHUB_HOOK_ID)"
    async with services.github() as github, services.discord_rest() as discord:
        runs = await reconcile_runs(services, github, discord, after=after, now=at)
        if hook is not None:
            try:
                done = await redeliver_failed(github, services.store, hook, now=at)
            except Exception as exc:  # GitHub down, or no permission to read the log
                skipped = f"delivery log not read: {type(exc).__name__}: {exc}"[:300]
                problems.append(skipped)
            else:
                deliveries = done.to_record()
    if runs.errors:
        problems.append(f"{runs.errors} run(s) could not be moved (see the log)")
    result = Sweep(at, by_hand, runs, deliveries, skipped, problems)
    services.store.put(keys.reconcile_sweep(), result.to_record(), ttl=SWEEP_TTL)
    log.info(
        "reconcile sweep",
        extra={
            "by_hand": by_hand,
            "runs_checked": runs.checked,
            "runs_moved": runs.moved,
            "runs_finished": runs.finished,
            "runs_errors": runs.errors,
            **{f"deliveries_{k}": v for k, v in (deliveries or {}).items() if k != "hook"},
            "deliveries_skipped": skipped,
        },
    )
    return result


# -- telling people ---------------------------------------------------------------------------


def summary_lines(record: dict[str, Any]) -> list[str]:
    """A sweep record (`Sweep.to_record()`) in a few short lines, for the CLI and /diagnose."""
    runs = record.get("runs") if isinstance(record.get("runs"), dict) else {}
    assert isinstance(runs, dict)
    parts = [f"{runs.get('checked', 0)} checked", f"{runs.get('moved', 0)} moved on"]
    if runs.get("finished"):
        parts.append(f"{runs.get('finished')} finished")
    if runs.get("young"):
        parts.append(f"{runs.get('young')} too young")
    if runs.get("errors"):
        parts.append(f"{runs.get('errors')} failed")
    lines = [f"runs: {runs.get('unsettled', 0)} unfinished, " + ", ".join(parts)]
    deliveries = record.get("deliveries")
    if isinstance(deliveries, dict):
        lines.append(
            f"deliveries ({deliveries.get('hook')}): {deliveries.get('checked', 0)} checked, "
            f"{deliveries.get('failed', 0)} failed, {deliveries.get('redelivered', 0)} "
            f"redelivered, {deliveries.get('already_redelivered', 0)} already asked, "
            f"{deliveries.get('already_received', 0)} already received"
            + (f", {deliveries.get('errors')} refused" if deliveries.get("errors") else "")
        )
    elif record.get("deliveries_skipped"):
        lines.append(f"deliveries: skipped, {record.get('deliveries_skipped')}")
    return lines


def describe_last(record: dict[str, Any] | None, now: float) -> str:
    """The last sweep for `/diagnose`: when, how, what it did."""
    if record is None:
        return "no sweep yet (it runs every few minutes; `orchestrator reconcile` by hand)"
    at = record.get("at")
    when = ago(now - at) if isinstance(at, int | float) else "?"
    how = "by hand" if record.get("by_hand") else "scheduled"
    return f"{when} ({how})\n" + "\n".join(summary_lines(record))
