"""Redeliver failed webhook deliveries, once each, whoever sweeps and however often.

GitHub never retries a failed delivery by itself; it keeps a 3-day log and redelivers on
request. The reconcile sweep reads that log (`deliveries.failed_deliveries` decides what
failed) and asks for each failed delivery again, unless:

* it already reached us: its intake claim (`keys.delivery`) exists, so GitHub's failure
  was only the answer arriving late (a timeout after we had taken it);
* we already asked: our own claim per guid (`keys.redelivery`, kept past the 3-day
  window), taken *before* asking GitHub, so two sweeps at once ask once, and a sweep
  that reads a log not yet showing our request does not ask again. A redelivery that
  fails too stays failed: once each, never a loop.

When GitHub refuses the request itself (an error answer, no answer), the claim is released
so the next sweep tries again. A request GitHub took but whose answer we lost may then be
asked for twice; that costs nothing, as the intake claim acknowledges the second copy
without handling it. Losing the delivery for good would cost the event.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.github.deliveries import Hook, failed_deliveries
from orchestrator.github.errors import GitHubError
from orchestrator.store import keys

if TYPE_CHECKING:
    from orchestrator.github.client import GitHubClient
    from orchestrator.store.base import Store

log = logging.getLogger(__name__)

WINDOW = 3 * 24 * 3600  # GitHub redelivers deliveries of the past 3 days only
REDELIVERED_TTL = 4 * 24 * 3600  # outlives the window: an old guid is never asked for again
MAX_PAGES = 5  # 100 deliveries a page


@dataclass(frozen=True)
class Redelivered:
    """What one sweep of the delivery log did (counts only: guids stay in the log)."""

    hook: str
    checked: int = 0
    failed: int = 0
    redelivered: int = 0
    already_redelivered: int = 0
    already_received: int = 0
    errors: int = 0

    def to_record(self) -> dict[str, Any]:
        return asdict(self)


async def redeliver_failed(
    github: GitHubClient,
    store: Store,
    hook: Hook,
    *,
    now: float | None = None,
    max_pages: int = MAX_PAGES,
) -> Redelivered:
    """Ask GitHub to redeliver each failed delivery of the last 3 days, once (see above)."""
    at = time.time() if now is None else now
    entries = await github.list_hook_deliveries(**hook.where(), max_pages=max_pages)
    failed = failed_deliveries(entries, since=at - WINDOW)
    redelivered = already_redelivered = already_received = errors = 0
    for item in failed:
        if store.get(keys.delivery(item.guid)) is not None:
            already_received += 1
            continue
        claim = keys.redelivery(item.guid)
        if not store.claim(claim, ttl=REDELIVERED_TTL, value={"delivery_id": item.id, "at": at}):
            already_redelivered += 1
            continue
        try:
            await github.redeliver(**hook.where(), delivery_id=item.id)
        except GitHubError as exc:
            store.delete(claim)  # GitHub did not take it: the next sweep asks again
            errors += 1
            log.warning(
                "redelivery refused", extra={"delivery_id": item.id, "error": str(exc)[:200]}
            )
            continue
        redelivered += 1
    return Redelivered(
        hook=hook.describe(),
        checked=len({entry.get("guid") for entry in entries}),
        failed=len(failed),
        redelivered=redelivered,
        already_redelivered=already_redelivered,
        already_received=already_received,
        errors=errors,
    )
