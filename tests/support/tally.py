"""The security suite's tally: what was thrown at the service, and what got through.

One session-wide `TALLY` is counted by the security tests (through the `tally` fixture of
tests/security/conftest.py, or directly) and printed there as one summary line at the end
of every run, whether the tests pass or fail:

    security: inputs tried=12345 forged accepted=0 5xx=0 duplicates side-effected=0 ...
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class Tally:
    inputs: int = 0
    forged_accepted: int = 0
    server_errors: int = 0
    duplicates: int = 0
    leaks: int = 0
    tests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def tried(self, count: int = 1) -> None:
        with self._lock:
            self.inputs += count

    def forged(self, count: int = 1) -> None:
        with self._lock:
            self.forged_accepted += count

    def server_error(self, count: int = 1) -> None:
        with self._lock:
            self.server_errors += count

    def duplicate(self, count: int = 1) -> None:
        with self._lock:
            self.duplicates += count

    def leaked(self, count: int = 1) -> None:
        with self._lock:
            self.leaks += count

    def status(self, code: int, expected: frozenset[int] = frozenset()) -> None:
        """Count one HTTP answer: an input tried, and a 5xx unless the test meant to cause it
        (a 503 while the store is down is the designed answer, not a crash)."""
        self.tried()
        if code >= 500 and code not in expected:
            self.server_error()

    def line(self) -> str:
        return (
            f"security: inputs tried={self.inputs} forged accepted={self.forged_accepted} "
            f"5xx={self.server_errors} duplicates side-effected={self.duplicates} "
            f"secrets leaked={self.leaks}"
        )


TALLY = Tally()
