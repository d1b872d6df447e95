"""The probe run: probe every target, record the results, commit states, announce changes.

Thin I/O around `state.transition`. The only subtle part is `commit`: the state is
written with `put_if_newer(version=generation)`, which succeeds for exactly one writer
of each generation (the stored version must still be the one this run read). A run
that loses re-reads the winner's state and decides again, so two overlapping runs (two
local workers, a retried Lambda) announce each change once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.probes.http import PROBE_TIMEOUT, ClientFactory, make_client, probe_url
from orchestrator.probes.render import change_message
from orchestrator.probes.state import (
    SELF_APP,
    SELF_TARGET,
    Change,
    ProbeResult,
    ProbeState,
    Target,
    transition,
)
from orchestrator.store import keys

if TYPE_CHECKING:
    from orchestrator.clients import Clients
    from orchestrator.store.base import Store

log = logging.getLogger(__name__)

RESULT_TTL = 30 * 24 * 3600
STATE_TTL = 30 * 24 * 3600  # refreshed by every run; lapses only for a target no longer probed
INCIDENT_TTL = 90 * 24 * 3600
COMMIT_ATTEMPTS = 3


def targets(services: Clients) -> list[Target]:
    """What to probe: each app's frontend and API health URLs, and our own `/healthz`."""
    from orchestrator.apps import InvalidApp, apps_of

    settings = services.settings
    found: list[Target] = []
    try:
        apps = apps_of(services)
    except InvalidApp as exc:  # a broken config must not stop the self-probe
        log.warning("probes: apps not loaded", extra={"error": str(exc)[:200]})
        apps = {}
    for app in apps.values():
        channel = app.channel_id or settings.ops_channel_id or None
        if app.frontend_url:
            found.append(Target(app.name, "frontend", app.frontend_url, channel))
        if app.api_health_url:
            found.append(Target(app.name, "api", app.api_health_url, channel))
    if settings.public_url:
        own = settings.public_url.rstrip("/") + "/healthz"
        found.append(Target(SELF_APP, SELF_TARGET, own, settings.ops_channel_id or None))
    return found


def load_state(store: Store, app: str, target: str) -> ProbeState | None:
    raw = store.get(keys.probe_state(app, target))
    return ProbeState.from_json(raw) if raw else None


def states(store: Store, app: str) -> list[tuple[str, ProbeState]]:
    """Every probed target of `app` with its current state, by target name."""
    return [
        (keys.parse_probe_state(record.key)[1], ProbeState.from_json(record.value))
        for record in store.query_prefix(keys.probe_state_prefix(app), limit=20)
    ]


def incidents(store: Store, app: str, limit: int = 5) -> list[dict[str, Any]]:
    found = store.query_prefix(keys.incident_prefix(app), limit=limit, newest_first=True)
    return [r.value for r in found]


def commit(store: Store, target: Target, result: ProbeResult) -> Change | None:
    """Fold `result` into the stored state; the change, if this call is the one that made it."""
    key = keys.probe_state(target.app, target.name)
    for _ in range(COMMIT_ATTEMPTS):
        previous = load_state(store, target.app, target.name)
        new, change = transition(previous, result)
        if new is previous:
            return None  # stale: a newer result is already folded in
        if store.put_if_newer(key, new.to_json(), version=new.generation, ttl=STATE_TTL):
            return change
        # Another run wrote this generation first: decide again against what it wrote.
    log.warning("probe state kept changing under us", extra={"target": key})
    return None


def record_incident(store: Store, target: Target, change: Change) -> str:
    """Open an incident on down, close it on recovery; returns its key."""
    key = keys.incident(target.app, target.name, change.incident_start)
    existing = store.get(key) or {}
    value = {
        "app": target.app,
        "target": target.name,
        "url": target.url,
        "start": change.incident_start,
        "end": change.at if change.up else None,
        "cause": existing.get("cause") or change.cause,
    }
    store.put(key, {**existing, **value}, ttl=INCIDENT_TTL)
    return key


@dataclass(frozen=True)
class Observation:
    target: Target
    result: ProbeResult
    change: Change | None
    announced: bool = False


async def run_probes(
    services: Clients,
    *,
    client_factory: ClientFactory | None = None,
    seconds: float = PROBE_TIMEOUT,
    only: Sequence[Target] | None = None,
) -> list[Observation]:
    """Probe every target concurrently, record, commit, and announce each change once."""
    found = list(only) if only is not None else targets(services)
    if not found:
        return []
    production = services.settings.is_prod
    client = (client_factory or make_client)(seconds, production)
    try:
        # `probe_url` returns every failure as a result; return_exceptions is the second
        # wall, so one target's surprise can neither cancel the others nor fail the run.
        outcomes = await asyncio.gather(
            *(probe_url(client, t.url, production=production, seconds=seconds) for t in found),
            return_exceptions=True,
        )
    finally:
        await client.aclose()
    store = services.store
    observed: list[Observation] = []
    for target, outcome in zip(found, outcomes, strict=True):
        result = _as_result(target, outcome)
        store.put(keys.probe(target.app, target.name, result.at), result.to_json(), ttl=RESULT_TTL)
        change = commit(store, target, result)
        if change is not None:
            record_incident(store, target, change)
        observed.append(Observation(target, result, change))
    if any(o.change is not None for o in observed):
        observed = await _announce(services, observed)
    return observed


def _as_result(target: Target, outcome: ProbeResult | BaseException) -> ProbeResult:
    """A probe's result; an exception it raised after all, as that target's failure."""
    if isinstance(outcome, ProbeResult):
        return outcome
    if not isinstance(outcome, Exception):
        raise outcome  # cancellation, KeyboardInterrupt: not a probe's failure
    log.warning(
        "probe raised",
        extra={"app": target.app, "target": target.name, "error": type(outcome).__name__},
    )
    return ProbeResult(ok=False, at=time.time(), error=type(outcome).__name__)


PROBE_JOB = "probes.run"
# A change whose post failed, posted later; `orchestrator.tasks` registers both jobs.
ANNOUNCE_JOB = "probes.announce"
ANNOUNCE_RETRIES = 3


async def _announce(services: Clients, observed: list[Observation]) -> list[Observation]:
    """Post each change to its channel. A failed post is not re-decided on the next run
    (the state has moved on, and re-posting from there could post twice): it becomes a
    failed `probes.announce` job with the message in it, which the retry sweep (or
    `orchestrator jobs retry`) posts later, once. The incident notes the job."""
    from orchestrator.discord.errors import DiscordError
    from orchestrator.jobs.base import Job
    from orchestrator.jobs.retry import record_failed_attempt

    out: list[Observation] = []
    async with services.discord_rest() as discord:
        for item in observed:
            change, target = item.change, item.target
            if change is None or not target.channel_id:
                if change is not None:
                    log.info("probe change not posted: no channel", extra={"app": target.app})
                out.append(item)
                continue
            message = change_message(target, change).to_data()
            try:
                await discord.create_message(target.channel_id, message)
            except DiscordError as exc:
                key = keys.incident(target.app, target.name, change.incident_start)
                job = Job(
                    ANNOUNCE_JOB,
                    {
                        "channel_id": target.channel_id,
                        "message": message,
                        "incident": key,
                        "up": change.up,
                    },
                )
                retry_at = record_failed_attempt(
                    services,
                    job,
                    f"{type(exc).__name__}: {exc}",
                    retries=ANNOUNCE_RETRIES,
                )
                log.error(
                    "probe change not posted",
                    extra={
                        "app": target.app,
                        "target": target.name,
                        "error": type(exc).__name__,
                        "job_id": job.id,
                        "retry_at": retry_at,
                    },
                )
                incident = services.store.get(key) or {}
                services.store.put(
                    key,
                    {**incident, "post_error": type(exc).__name__, "post_job": job.id},
                    ttl=INCIDENT_TTL,
                )
                out.append(item)
                continue
            out.append(Observation(target, item.result, change, announced=True))
    return out


async def post_announcement(services: Clients, payload: dict[str, Any]) -> None:
    """The `probes.announce` job: post a change message that could not be posted at once."""
    channel, message = payload.get("channel_id"), payload.get("message")
    if not isinstance(channel, str) or not isinstance(message, dict):
        raise ValueError("malformed probes.announce payload")
    key = payload.get("incident")
    incident = services.store.get(key) if isinstance(key, str) else None
    if payload.get("up") is False and incident is not None and incident.get("end") is not None:
        # Back up meanwhile: a late "is down" would be the channel's newest word on a site
        # that is up. The "back up" message says how long it was down.
        log.info("late down alert dropped: the target is back up", extra={"incident": key})
        return
    async with services.discord_rest() as discord:
        await discord.create_message(channel, message)
    if isinstance(key, str) and incident is not None:
        incident.pop("post_error", None)
        services.store.put(key, {**incident, "posted_late": True}, ttl=INCIDENT_TTL)
