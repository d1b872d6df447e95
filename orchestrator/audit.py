"""The audit trail: who tried what, where, when, and what came of it.

Kept in the store (90 days), so it survives Lambda containers and is
viewable from Discord. Records carry ids and outcomes, never message
texts or secrets (a relay stores a hash of its text, not the text).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from orchestrator.store import keys
from orchestrator.store.base import JSONObject, Record, Store

AUDIT_TTL = 90 * 24 * 3600


def record(
    store: Store,
    *,
    actor: str | None,
    action: str,
    result: str,
    guild_id: str | None = None,
    channel_id: str | None = None,
    **detail: Any,
) -> str:
    """Append one audit entry; keys sort by time, so `recent()` is a prefix query."""
    now = time.time()
    key = keys.audit(now, secrets.token_hex(3))
    entry: JSONObject = {
        "at": now,
        "actor": actor,
        "action": action,
        "result": result,
        "guild_id": guild_id,
        "channel_id": channel_id,
        **detail,
    }
    store.put(key, entry, ttl=AUDIT_TTL)
    return key


def recent(store: Store, limit: int = 20) -> list[Record]:
    return store.query_prefix(keys.AUDIT_PREFIX, limit=limit, newest_first=True)
