"""The verifier's time budget: one deadline every check draws on.

A verification answers someone waiting in Discord, so it has a total budget
(seconds) and each request a `check_timeout`; whichever ends first bounds the
request. `Deadline.run` applies both to one awaitable and turns running out into
`TimedOut`, which the checks record as a fact rather than let escape.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

from orchestrator.text import duration

T = TypeVar("T")


class TimedOut(Exception):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"timed out after {duration(seconds)}")


class Deadline:
    def __init__(self, budget: float) -> None:
        self.end = time.monotonic() + budget

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def bound(self, check_timeout: float) -> float:
        return min(check_timeout, self.remaining())

    async def run(self, work: Awaitable[T], check_timeout: float) -> T:
        """`work` within the check timeout and what is left of the budget, or `TimedOut`."""
        seconds = self.bound(check_timeout)
        if seconds <= 0:
            if asyncio.iscoroutine(work):
                work.close()
            raise TimedOut(0)
        try:
            return await asyncio.wait_for(work, timeout=seconds)
        except TimeoutError:
            raise TimedOut(seconds) from None
