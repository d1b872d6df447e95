"""One deploy at a time per app and environment: the in-flight slot and the queue, in the store.

The slot is the store's `claim` on `deploy_slot(app, env)`: of ten `/deploy`s at once,
exactly one holds it. Its record names the deploy in flight (who, which run by its
correlation id), and its TTL frees an environment whose run was never heard of again. A
deploy that finds the slot taken waits in the queue (`queue = "queue"`, the default) or is
refused (`queue = "refuse"`). Queue entries are store records under a time-sorted key, so
the queue's order is the key order and it survives restarts and Lambda containers. A
rollback joins at the front (`enqueue(first=True)`: a key sorting before every other one).

Who starts the next one: whoever frees the slot (a finished run, `deploys.launch.finished`)
or finds it free after queueing (`deploys.launch.pump`); see there for why no deploy is
left waiting. This module only keeps the records.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from orchestrator.store import keys
from orchestrator.store.base import JSONObject, Store

SLOT_TTL = 6 * 3600.0  # a run not heard of for this long no longer blocks its environment
QUEUE_TTL = 24 * 3600.0
MAX_WAITING = 50


class QueueFull(Exception):
    pass


def new_request_id() -> str:
    return secrets.token_hex(4)


@dataclass(frozen=True)
class DeployRequest:
    """A deploy someone asked for: everything needed to dispatch it later, by anyone.

    It carries the asker's interaction token (valid 15 minutes) and, once posted, the
    message that shows it, so whoever starts it can turn that message into the tracked run.
    """

    app: str
    environment: str
    kind: str  # "deploy", or "release" (Promote / Roll back)
    workflow: str
    ref: str
    inputs: Mapping[str, str]
    actor: str | None
    id: str = field(default_factory=new_request_id)
    override: str | None = None  # an admin's reason to deploy during a freeze
    # The freeze window that override was given for: replayed later (an approval, the
    # queue), it lets the deploy through that window only, never a freeze declared since.
    override_window: str | None = None
    # The commit approvers saw (`ref` -> SHA): dispatched only while `ref` still points there.
    approved_sha: str | None = None
    interaction_token: str | None = None
    token_expires_at: float = 0.0
    channel_id: str | None = None
    message_id: str | None = None
    requested_at: float = field(default_factory=time.time)

    def to_record(self) -> JSONObject:
        record = asdict(self)
        record["inputs"] = dict(self.inputs)
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> DeployRequest:
        known = {k: v for k, v in record.items() if k in cls.__dataclass_fields__}
        known["inputs"] = {str(k): str(v) for k, v in dict(known.get("inputs") or {}).items()}
        return cls(**known)


@dataclass(frozen=True)
class InFlight:
    """Who holds an environment's slot, and with which run."""

    request: str
    actor: str | None
    kind: str
    ref: str
    correlation: str | None
    started_at: float

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> InFlight:
        return cls(
            request=str(record.get("request") or ""),
            actor=record.get("actor") if isinstance(record.get("actor"), str) else None,
            kind=str(record.get("kind") or "deploy"),
            ref=str(record.get("ref") or ""),
            correlation=record.get("correlation")
            if isinstance(record.get("correlation"), str)
            else None,
            started_at=float(record.get("started_at") or 0.0),
        )


def _slot_record(request: DeployRequest, correlation: str | None, now: float) -> JSONObject:
    return {
        "request": request.id,
        "actor": request.actor,
        "kind": request.kind,
        "ref": request.ref,
        "correlation": correlation,
        "started_at": now,
    }


def in_flight(store: Store, app: str, environment: str) -> InFlight | None:
    record = store.get(keys.deploy_slot(app, environment))
    return InFlight.from_record(record) if record is not None else None


def claim(store: Store, request: DeployRequest, now: float | None = None) -> bool:
    """Take the environment's slot for `request`; False while another deploy holds it."""
    at = time.time() if now is None else now
    key = keys.deploy_slot(request.app, request.environment)
    return store.claim(key, SLOT_TTL, _slot_record(request, None, at))


def occupy(
    store: Store, request: DeployRequest, correlation: str, now: float | None = None
) -> None:
    """Name the run in the slot this process holds (before dispatching it, so its end,
    however soon it comes, finds its correlation id there)."""
    at = time.time() if now is None else now
    key = keys.deploy_slot(request.app, request.environment)
    store.put(key, _slot_record(request, correlation, at), ttl=SLOT_TTL)


def release(store: Store, app: str, environment: str) -> None:
    """Free the slot this process holds."""
    store.delete(keys.deploy_slot(app, environment))


def release_finished(store: Store, app: str, environment: str, correlation: str) -> bool:
    """Free the slot of the finished run `correlation`, once however often its end arrives,
    and only if that run still holds it. True when it was freed."""
    if not store.claim(keys.deploy_slot_release(correlation), SLOT_TTL * 2):
        return False
    current = in_flight(store, app, environment)
    if current is None or current.correlation != correlation:
        return False
    release(store, app, environment)
    return True


def enqueue(
    store: Store, request: DeployRequest, now: float | None = None, *, first: bool = False
) -> str:
    """Append `request` to its environment's queue; its key. `first` puts it ahead of every
    ordinary deploy waiting (a rollback: it must run before anything queued after the
    failure, or it would undo that newer deploy); several such keep their order."""
    if len(waiting(store, request.app, request.environment)) >= MAX_WAITING:
        raise QueueFull(f"{MAX_WAITING} deploys are already waiting")
    at = time.time() if now is None else now
    key = keys.deploy_queue(request.app, request.environment, at, request.id, first=first)
    store.put(key, request.to_record(), ttl=QUEUE_TTL)
    return key


def waiting(store: Store, app: str, environment: str) -> list[tuple[str, DeployRequest]]:
    """The queue, first in line first, as (key, request)."""
    found = store.query_prefix(keys.deploy_queue_prefix(app, environment), limit=MAX_WAITING + 10)
    return [(r.key, DeployRequest.from_record(r.value)) for r in found]


def take(store: Store, key: str) -> None:
    """Remove an entry from the queue (it is being started, or dropped)."""
    store.delete(key)


def position(store: Store, app: str, environment: str, request_id: str) -> int | None:
    """1 for the next in line; None once the request left the queue."""
    for index, (_, request) in enumerate(waiting(store, app, environment), start=1):
        if request.id == request_id:
            return index
    return None


def queued_environments(store: Store, limit: int = 500) -> set[tuple[str, str]]:
    """Every (app, environment) with a deploy waiting."""
    return {
        keys.parse_deploy_queue(r.key)
        for r in store.query_prefix(keys.DEPLOY_QUEUE_PREFIX, limit=limit)
    }
