"""Blocking store writes awaited from the event loop: on threads of their own (`Writer`), or
right where they are awaited, for a store whose writes are local and short (`InlineWriter`).

Why not `run_in_threadpool`: the webhook's one durable write per delivery is the hot path
of `POST /github`, and anyio's general pool hop (capacity limiter, cancel scope, a new
worker-thread handshake) costs several times the write's own Python overhead. Here a
request puts the call on a queue and awaits a plain asyncio future that the thread
resolves with `call_soon_threadsafe`: one queue put, one wake-up.

Threads are started on demand, up to `max_threads`, only when every one is busy; the
SQLite store serialises its writers anyway, so a sequential stream of deliveries keeps
using one thread, while a store with network round trips (DynamoDB) can overlap a few.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from orchestrator.store.base import StoreBusy

T = TypeVar("T")

_STOP = object()


class StoreWriter(Protocol):
    """What a request awaits its store write through (`Services.writer` picks one)."""

    async def run(self, func: Callable[..., T], *args: Any) -> T: ...

    def threads(self) -> int: ...

    def close(self, timeout: float = 5.0) -> None: ...


class InlineStore(Protocol):
    """A store whose writes can be made at once or refused (`StoreBusy`): SQLite's."""

    def without_waiting(self) -> contextlib.AbstractContextManager[None]: ...


class InlineWriter:
    """Runs the write on the awaiting request's own thread, for a store that says its
    writes are local and short (`inline_writes`: SQLite, where a commit appends a few pages
    to the WAL in tens of microseconds). A hop to a thread (a queue put, the thread's
    wake-up, a call back into the loop) cost more than that write, per delivery.

    Never a real wait on the event loop, though: the write is tried without waiting
    (`without_waiting`: at most a few milliseconds for this process's other writers, none
    for another process's SQLite lock), and a busy store sends it to `fallback`'s thread,
    which may wait. So `func` must make one store write and do nothing before it that it
    cannot do twice (the webhook's `queue_delivery` builds the job's payload, then makes
    its one claim-and-job write)."""

    def __init__(self, store: InlineStore, fallback: Writer) -> None:
        self._store = store
        self._fallback = fallback
        self._closed = False

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise RuntimeError("the store writer is closed")
        try:
            with self._store.without_waiting():
                return func(*args)
        except StoreBusy:
            return await self._fallback.run(func, *args)

    def threads(self) -> int:
        return self._fallback.threads()

    def close(self, timeout: float = 5.0) -> None:
        self._closed = True
        self._fallback.close(timeout)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the awaiting request was cancelled; the write itself stands
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class Writer:
    def __init__(self, *, max_threads: int = 4, name: str = "orchestrator-writer") -> None:
        if max_threads < 1:
            raise ValueError("a writer needs at least one thread")
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._max = max_threads
        self._name = name
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        """`func(*args)` on a writer thread; its result, or its exception, here."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the store writer is closed")
            if self._idle <= 0 and len(self._threads) < self._max:
                self._start()
            else:
                self._idle -= 1  # claimed now, so a burst starts threads rather than queueing
            self._queue.put((loop, future, func, args))
        return await future

    def _start(self) -> None:
        thread = threading.Thread(
            target=self._serve, name=f"{self._name}-{len(self._threads) + 1}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _serve(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            loop, future, func, args = item
            result: Any = None
            error: BaseException | None = None
            try:
                result = func(*args)
            except BaseException as exc:  # handed to the awaiting request, raised there
                error = exc
            with self._lock:  # idle before the answer, so the next call finds this thread
                self._idle += 1
            with contextlib.suppress(RuntimeError):  # its loop is closed: nobody is waiting
                loop.call_soon_threadsafe(_settle, future, result, error)
            del item, future, result, error

    def threads(self) -> int:
        with self._lock:
            return len(self._threads)

    def close(self, timeout: float = 5.0) -> None:
        """Finish what is queued, then stop the threads (a later `run` is refused)."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(_STOP)
        for thread in threads:
            thread.join(timeout)
