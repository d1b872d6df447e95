"""Read-modify-write of one record, safe when several containers change it at once.

The store has no transactions, but `put_if_newer` with a counter is a compare-and-set:
the record carries its write count (`CAS_FIELD`); a writer that read count `n` writes
`n + 1` "if newer", which succeeds only while the stored count is still `n` (counts only
grow). A writer that lost re-reads and applies its change again to what won, so no
concurrent change is lost (six workflow runs of one commit finishing at once each keep
their line on the card). Only records written through `update` may use this: a plain
`put` clears the stored version and would break the count.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from orchestrator.store.base import JSONObject, Store, StoreError

CAS_FIELD = "cas"
ATTEMPTS = 30

Change = Callable[[JSONObject | None], JSONObject | None]


class UpdateContended(StoreError):
    """Others kept changing the record through every attempt: try the whole job again."""


def update(
    store: Store,
    key: str,
    change: Change,
    *,
    ttl: float | None = None,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[JSONObject | None, bool]:
    """Apply `change` (a pure function: current record or None -> new record, or None for
    "leave it") until it sticks. Returns the record as it now stands and whether this call
    wrote it."""
    for attempt in range(attempts):
        current = store.get(key)
        wanted = change(dict(current) if current is not None else None)
        if wanted is None:
            return current, False
        count = int((current or {}).get(CAS_FIELD) or 0) + 1
        wanted = {**wanted, CAS_FIELD: count}
        if store.put_if_newer(key, wanted, count, ttl=ttl):
            return wanted, True
        # Lost the race: back off a little (jittered, bounded) and apply the change again.
        sleep(random.uniform(0.0, 0.01 * min(attempt + 1, 5)))  # noqa: S311 (jitter, not a secret)
    raise UpdateContended(f"{key.partition(':')[0]}: still contended after {attempts} attempts")
