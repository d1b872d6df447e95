"""Per-command traces: what happened to my command, step by step, for `/trace`.

The old `/debug-last` kept traces in memory, so every new Lambda container
forgot them. These live in the store for a week, keyed by user and
interaction id (a snowflake, so keys sort by time), and hold step names,
timings, outcomes and links; every detail goes through the log redactor, so a
trace never holds a secret.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from orchestrator.logs import redactor
from orchestrator.store import keys
from orchestrator.store.base import Record, Store, StoreError

TRACE_TTL = 7 * 24 * 3600
MAX_STEPS = 40
log = logging.getLogger(__name__)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redactor(value)[:300]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redactor(str(value))[:300]


def add_step(
    store: Store,
    *,
    user_id: str | None,
    interaction_id: str,
    command: str,
    step: str,
    ok: bool = True,
    **detail: Any,
) -> None:
    """Append one step (best effort: a trace must never break the command it traces)."""
    if not user_id or not interaction_id:
        return
    key = keys.trace(user_id, interaction_id)
    try:
        trace = store.get(key) or {
            "command": command,
            "interaction_id": interaction_id,
            "started_at": time.time(),
            "steps": [],
        }
        steps = list(trace.get("steps", []))[-(MAX_STEPS - 1) :]
        steps.append(
            {
                "step": step,
                "ok": ok,
                "at": round(time.time(), 3),
                **{k: _clean(v) for k, v in detail.items()},
            }
        )
        trace["steps"] = steps
        if not ok:
            trace["failed"] = True
        store.put(key, trace, ttl=TRACE_TTL)
    except (StoreError, ValueError, TypeError):
        log.warning("trace step not recorded", extra={"step": step})


def recent(store: Store, user_id: str, limit: int = 5) -> list[Record]:
    return store.query_prefix(keys.trace_prefix(user_id), limit=limit, newest_first=True)


def get(store: Store, user_id: str, interaction_id: str) -> dict[str, Any] | None:
    return store.get(keys.trace(user_id, interaction_id))
