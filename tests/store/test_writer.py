"""The store writer: blocking writes awaited from the event loop, on threads of its own."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.config import load_settings
from orchestrator.services import Services
from orchestrator.store.base import StoreBusy
from orchestrator.store.writer import InlineWriter, Writer


def test_runs_the_call_on_a_thread_of_its_own_and_hands_back_the_result() -> None:
    writer = Writer()
    here = threading.get_ident()

    async def go() -> tuple[int, int]:
        return await writer.run(lambda a, b: (a + b, threading.get_ident()), 2, 3)

    total, there = asyncio.run(go())
    assert total == 5
    assert there != here
    writer.close()


def test_an_exception_is_raised_in_the_awaiting_request() -> None:
    writer = Writer()

    def boom() -> None:
        raise LookupError("store says no")

    async def go() -> None:
        await writer.run(boom)

    with pytest.raises(LookupError, match="store says no"):
        asyncio.run(go())
    writer.close()


def test_a_stream_of_calls_one_at_a_time_keeps_one_thread() -> None:
    """The common case (deliveries one after another) must not start a thread per call."""
    writer = Writer(max_threads=4)

    async def go() -> None:
        for n in range(50):
            assert await writer.run(lambda x: x, n) == n

    asyncio.run(go())
    assert writer.threads() == 1
    writer.close()


def test_calls_overlap_up_to_the_limit_when_every_thread_is_busy() -> None:
    writer = Writer(max_threads=2)
    release = threading.Event()
    started = threading.Semaphore(0)

    def slow() -> str:
        started.release()
        release.wait(5)
        return "ok"

    async def go() -> list[str]:
        calls = [asyncio.ensure_future(writer.run(slow)) for _ in range(3)]
        await asyncio.to_thread(started.acquire)
        await asyncio.to_thread(started.acquire)  # two at once: two threads
        assert writer.threads() == 2
        release.set()
        return list(await asyncio.gather(*calls))

    assert asyncio.run(go()) == ["ok", "ok", "ok"]
    assert writer.threads() == 2
    writer.close()


def test_a_closed_writer_refuses_new_calls() -> None:
    writer = Writer()
    writer.close()

    async def go() -> None:
        await writer.run(lambda: None)

    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(go())


class _Store:
    """`without_waiting` as SQLite's: busy for the first `busy` writes, then free."""

    def __init__(self, busy: int = 0) -> None:
        self.busy = busy

    @contextlib.contextmanager
    def without_waiting(self) -> Iterator[None]:
        if self.busy:
            self.busy -= 1
            raise StoreBusy("another writer")
        yield


def test_the_inline_writer_runs_the_call_where_it_is_awaited() -> None:
    writer = InlineWriter(_Store(), Writer())
    here = threading.get_ident()

    def boom() -> None:
        raise LookupError("store says no")

    async def go() -> int:
        with pytest.raises(LookupError, match="store says no"):
            await writer.run(boom)
        return await writer.run(lambda: threading.get_ident())

    assert asyncio.run(go()) == here
    assert writer.threads() == 0
    writer.close()
    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(go())


def test_a_busy_store_sends_the_inline_write_to_a_thread_that_may_wait() -> None:
    writer = InlineWriter(_Store(busy=1), Writer())
    here = threading.get_ident()

    async def go() -> int:
        return await writer.run(lambda: threading.get_ident())

    assert asyncio.run(go()) != here  # refused at once, then written on the thread
    assert writer.threads() == 1
    assert asyncio.run(go()) == here  # free again: inline
    writer.close()


def test_services_write_inline_only_when_the_store_and_the_job_hand_off_are_local(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite = Services(load_settings(ORCHESTRATOR_DATA_DIR=tmp_path))
    assert isinstance(sqlite.writer, InlineWriter)
    sqlite.close()
    # SQLite, but jobs handed to Lambda: starting one is an HTTP call, never on the loop.
    lambda_jobs = Services(
        load_settings(
            ORCHESTRATOR_DATA_DIR=tmp_path,
            ORCHESTRATOR_JOBS="lambda",
            ORCHESTRATOR_JOBS_FUNCTION="orchestrator-test",
        )
    )
    assert type(lambda_jobs.writer) is Writer
    lambda_jobs.close()

    class RemoteStore:
        """A store with round trips (DynamoDB): no `inline_writes`."""

    remote = Services(load_settings(ORCHESTRATOR_DATA_DIR=tmp_path))
    monkeypatch.setattr(Services, "store", property(lambda self: RemoteStore()))
    assert type(remote.writer) is Writer
    remote.writer.close()
