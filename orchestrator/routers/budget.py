"""The process-wide budget of request-body bytes the signed edge may hold at once.

The edge must read a body before it can check the signature over it, so anyone with
the URL can make it buffer up to the per-request cap (25 MB for GitHub) by sending a
well-formed but wrong signature. One such request is fine; forty of them at once is a
gigabyte. The cap per request cannot prevent that, only a limit on the sum can: every
request whose body is still to come claims the bytes it will hold before waiting for them,
and one that would take the sum past the budget is refused (503) instead of read. A body
the server already holds whole when the edge asks for it (uvicorn buffers at most a socket
read, ~256 KB, before the app asks) claims nothing: it is checked and let go with no wait
in between, and refusing it would free nothing (`edge._read_capped`).

The counter is per process, not per app or event loop, because memory is per process:
several apps in one process (tests do that) or several loops share it, and a plain lock
keeps it exact across threads. Claims are only ever made and released from synchronous
code (no `await` while the lock is held), so the lock is never held across a switch.
"""

from __future__ import annotations

import threading


class BodyBudget:
    """Bytes claimed by bodies being read or held, against a limit given per claim (the
    limit is a setting, read per request, so a changed setting takes effect at once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held = 0

    @property
    def held(self) -> int:
        """Bytes claimed right now (0 when no body is in flight)."""
        with self._lock:
            return self._held

    def take(self, amount: int, limit: int) -> bool:
        """Claim `amount` more bytes if the total stays within `limit`; False otherwise."""
        with self._lock:
            if self._held + amount > limit:
                return False
            self._held += amount
            return True

    def give_back(self, amount: int) -> None:
        with self._lock:
            self._held -= amount


class Claim:
    """What one request holds of the budget: grows to cover the body as it is learnt (the
    declared length up front, the bytes read so far without one), released exactly once."""

    __slots__ = ("_budget", "_limit", "size")

    def __init__(self, budget: BodyBudget, limit: int) -> None:
        self._budget = budget
        self._limit = limit
        self.size = 0

    def cover(self, size: int) -> bool:
        """Hold at least `size` bytes; False (and nothing more held) if the budget is spent."""
        if size <= self.size:
            return True
        if not self._budget.take(size - self.size, self._limit):
            return False
        self.size = size
        return True

    def release(self) -> None:
        if self.size:  # a claim of nothing yet (no Content-Length, no chunk) gives nothing
            self._budget.give_back(self.size)
            self.size = 0


# The one budget of this process; the edge claims from it, tests read `held`.
BODIES = BodyBudget()
