"""Worker for the cross-process claim test: N threads race to claim one key."""

from __future__ import annotations

import threading
from typing import Any

from tests.store.backends import StoreSpec


def race(spec: StoreSpec, key: str, threads: int, barrier: Any, results: Any) -> None:
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
