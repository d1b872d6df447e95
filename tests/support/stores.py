"""Store backends under test, described so that any process can open the same store.

A `StoreSpec` is plain data: the cross-process tests send it to workers, which
open their own connection to the same database, exactly as two uvicorn workers
or two Lambda containers would. `race` is such a worker; it lives here, not in the test
module, so that a spawned process imports this small module rather than the tests and
everything they import.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.store.base import Clock, Store, Versioned, now


@dataclass(frozen=True)
class StoreSpec:
    backend: str
    location: str

    def open(self, clock: Clock = now) -> Store:
        if self.backend == "sqlite":
            from orchestrator.store.sqlite import SQLiteStore

            return SQLiteStore(Path(self.location), clock=clock)
        if self.backend == "dynamodb":
            from orchestrator.store.dynamodb import DynamoDBStore

            # "<endpoint URL>/<table>": table names cannot contain a slash. Credentials and
            # region come from the environment, which spawned workers inherit.
            endpoint, _, table = self.location.rpartition("/")
            return DynamoDBStore(table, endpoint_url=endpoint, clock=clock)
        raise ValueError(self.backend)


def race(spec: StoreSpec, key: str, threads: int, barrier: Any, results: Any) -> None:
    """Worker for the cross-process claim test: `threads` threads race to claim one key."""
    store = spec.open()
    won: list[bool] = []
    lock = threading.Lock()

    def claim() -> None:
        barrier.wait(timeout=30)
        result = store.claim(key, ttl=60)
        with lock:
            won.append(result)

    workers = [threading.Thread(target=claim) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    results.put(won)


def race_claim_and_put(spec: StoreSpec, key: str, threads: int, barrier: Any, results: Any) -> None:
    """Like `race`, with `claim_and_put`: each thread also writes `job:race` as its own."""
    import os

    store = spec.open()
    won: list[tuple[bool, str]] = []
    lock = threading.Lock()

    def claim(n: int) -> None:
        who = f"{os.getpid()}-{n}"
        barrier.wait(timeout=30)
        result = store.claim_and_put(key, 60, None, Versioned("job:race", {"by": who}, 11.0))
        with lock:
            won.append((result, who))

    workers = [threading.Thread(target=claim, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    results.put(won)
