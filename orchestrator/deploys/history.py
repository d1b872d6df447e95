"""Past verification reports per app, for `/history`, `/status` and the digest.

Stored as the report's JSON under a time-sortable key, kept 90 days, so the
newest are one prefix query away and survive every Lambda container.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from orchestrator.store import keys
from orchestrator.store.base import Store

HISTORY_TTL = 90 * 24 * 3600


def record(store: Store, app: str, report: dict[str, Any], at: float | None = None) -> str:
    when = time.time() if at is None else at
    key = keys.verification(app, when, secrets.token_hex(2))
    store.put(key, {**report, "recorded_at": when}, ttl=HISTORY_TTL)
    return key


def recent(store: Store, app: str, limit: int = 10) -> list[dict[str, Any]]:
    found = store.query_prefix(keys.verification_prefix(app), limit=limit, newest_first=True)
    return [r.value for r in found]
