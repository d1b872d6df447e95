"""Environment locks in the store: one holder, renewal by the owner, expiry through the store's
TTL, one-deploy locks spent by their owner's dispatch, reminders before expiry."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from orchestrator.deploys import locks
from orchestrator.deploys.locks import Lock, LockHeld
from orchestrator.store.sqlite import SQLiteStore

T = 1_795_924_950.0


class Clock:
    def __init__(self) -> None:
        self.now = T

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "store.db", clock=clock)
    yield opened
    opened.close()


def test_a_lock_records_who_why_when_and_until_when(store: SQLiteStore) -> None:
    lock, renewed = locks.acquire(
        store, "web", "production", owner="42", reason="  db migration ", ttl=3600, now=T
    )
    assert not renewed
    assert lock == Lock("web", "production", "42", "db migration", T, T + 3600, sticky=True)
    assert locks.get(store, "web", "production") == lock
    assert locks.everything(store) == [lock]


def test_someone_elses_lock_is_held_and_the_owners_is_renewed(
    store: SQLiteStore, clock: Clock
) -> None:
    first, _ = locks.acquire(store, "web", "production", owner="42", reason="a", ttl=600, now=T)
    with pytest.raises(LockHeld) as held:
        locks.acquire(store, "web", "production", owner="7", reason="b", now=T + 1)
    assert held.value.lock == first
    clock.now = T + 300
    renewed, again = locks.acquire(
        store, "web", "production", owner="42", reason="longer", ttl=7200, now=T + 300
    )
    assert again and renewed.created_at == T and renewed.expires_at == T + 300 + 7200
    assert renewed.reason == "longer"
    clock.now = T + 3600  # past the first TTL, within the renewed one
    assert locks.get(store, "web", "production") == renewed


def test_a_lock_expires_with_its_ttl(store: SQLiteStore, clock: Clock) -> None:
    locks.acquire(store, "web", "production", owner="42", reason="a", ttl=600, now=T)
    clock.now = T + 601
    assert locks.get(store, "web", "production") is None
    lock, renewed = locks.acquire(store, "web", "production", owner="7", reason="b", now=T + 601)
    assert lock.owner == "7" and not renewed


@pytest.mark.parametrize("ttl", [0, 30, 8 * 24 * 3600])
def test_lock_ttls_are_bounded(store: SQLiteStore, ttl: float) -> None:
    with pytest.raises(ValueError, match="a lock lasts"):
        locks.acquire(store, "web", "production", owner="42", reason="a", ttl=ttl)


def test_only_the_owner_passes(store: SQLiteStore) -> None:
    lock, _ = locks.acquire(store, "web", "production", owner="42", reason="a")
    assert lock.lets_through("42")
    assert not lock.lets_through("7") and not lock.lets_through(None)


def test_a_one_deploy_lock_is_spent_by_its_owners_dispatch(store: SQLiteStore) -> None:
    locks.acquire(store, "web", "production", owner="42", reason="fix", sticky=False, now=T)
    assert locks.after_dispatch(store, "web", "production", "7") is None, "not theirs"
    assert locks.get(store, "web", "production") is not None
    released = locks.after_dispatch(store, "web", "production", "42")
    assert released is not None and released.reason == "fix"
    assert locks.get(store, "web", "production") is None


def test_a_sticky_lock_outlives_its_owners_dispatch(store: SQLiteStore) -> None:
    locks.acquire(store, "web", "production", owner="42", reason="freeze", now=T)
    assert locks.after_dispatch(store, "web", "production", "42") is None
    assert locks.get(store, "web", "production") is not None


def test_release_removes_only_the_lock_it_was_given(store: SQLiteStore, clock: Clock) -> None:
    old, _ = locks.acquire(store, "web", "production", owner="42", reason="a", ttl=600, now=T)
    clock.now = T + 700
    new, _ = locks.acquire(store, "web", "production", owner="7", reason="b", now=T + 700)
    assert not locks.release(store, old), "a newer lock stays"
    assert locks.get(store, "web", "production") == new
    assert locks.release(store, new)
    assert locks.get(store, "web", "production") is None


def test_ten_people_locking_at_once_leave_one_holder(store: SQLiteStore) -> None:
    start = threading.Barrier(10)

    def one(user: int) -> str:
        start.wait(timeout=10)
        try:
            locks.acquire(store, "web", "production", owner=str(user), reason="mine")
        except LockHeld as held:
            return "held by " + held.lock.owner
        return "took"

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(one, range(10)))
    assert results.count("took") == 1
    holder = locks.get(store, "web", "production")
    assert holder is not None
    assert all(r == "took" or r == "held by " + holder.owner for r in results)


def test_reminders_fall_due_shortly_before_expiry() -> None:
    soon = Lock("web", "production", "42", "a", T, T + 600)
    later = Lock("web", "staging", "42", "a", T, T + 3600)
    gone = Lock("api", "default", "42", "a", T - 7200, T - 1)
    assert locks.due_reminders([soon, later, gone], now=T) == [soon]


def test_describe_says_who_why_and_how_long() -> None:
    lock = Lock("web", "production", "42", "db migration", T, T + 4800, sticky=False)
    assert locks.describe(lock, T) == (
        "🔒 <@42>: “db migration” · until their next deploy · 1 h 20 min left"
    )
