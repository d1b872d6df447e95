"""SQLite-specific behaviour; the shared contract lives in test_contract.py."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from orchestrator.store.base import ClaimAndPut, StoreUnavailable, Versioned
from orchestrator.store.sqlite import SQLiteStore


def test_claim_and_put_rolls_the_claim_back_when_the_write_fails(tmp_path: Path) -> None:
    """The job row fails inside the transaction (a trigger aborts it): the claim made by the
    same transaction must go too, or the delivery would be claimed with no job queued."""
    store = SQLiteStore(tmp_path / "store.sqlite3")
    db = sqlite3.connect(tmp_path / "store.sqlite3", isolation_level=None)
    db.execute(
        "CREATE TRIGGER no_jobs BEFORE INSERT ON records WHEN NEW.key LIKE 'job:%' "
        "BEGIN SELECT RAISE(ABORT, 'injected: job rows refused'); END"
    )
    job = Versioned("job:gh-1", {"status": "pending"}, version=11.0)
    with pytest.raises(StoreUnavailable, match="injected"):
        store.claim_and_put("delivery:1", 60, None, job)
    assert store.get("delivery:1") is None
    db.execute("DROP TRIGGER no_jobs")
    assert store.claim_and_put("delivery:1", 60, None, job) is True  # no transaction left open
    assert store.get("job:gh-1") == {"status": "pending"}
    db.close()
    store.close()


def test_claim_and_put_is_one_commit(tmp_path: Path) -> None:
    """One transaction per delivery, not two: what makes the intake cheap."""
    store = SQLiteStore(tmp_path / "store.sqlite3")
    commits: list[str] = []
    store._connection().set_trace_callback(
        lambda sql: (
            commits.append(sql) if sql.strip().upper() in {"COMMIT", "BEGIN IMMEDIATE"} else None
        )
    )
    store.claim_and_put("delivery:1", 60, None, Versioned("job:gh-1", {}, version=11.0))
    assert commits == ["BEGIN IMMEDIATE", "COMMIT"]
    store.close()


def test_a_batch_of_claims_is_one_commit_and_rolls_back_whole(tmp_path: Path) -> None:
    """A batch of job starts is one transaction: one commit for all, and when one of its
    rows fails, none of its claims stays (each would be a job claimed and never run)."""
    store = SQLiteStore(tmp_path / "store.sqlite3")
    commits: list[str] = []
    store._connection().set_trace_callback(
        lambda sql: (
            commits.append(sql) if sql.strip().upper() in {"COMMIT", "BEGIN IMMEDIATE"} else None
        )
    )
    items = [
        ClaimAndPut(f"jobrun:{n}.1", 60, None, Versioned(f"job:{n}", {"n": n}, 12.0))
        for n in ("a", "b", "c")
    ]
    assert store.claim_and_put_many(items[:2]) == [True, True]
    store.put_versioned_many([Versioned("job:a", {"done": True}, 13.0)] * 2)
    assert commits == ["BEGIN IMMEDIATE", "COMMIT"] * 2
    db = sqlite3.connect(tmp_path / "store.sqlite3", isolation_level=None)
    db.execute(
        "CREATE TRIGGER no_c BEFORE INSERT ON records WHEN NEW.key = 'job:c' "
        "BEGIN SELECT RAISE(ABORT, 'injected: job c refused'); END"
    )
    fresh = [
        ClaimAndPut(f"jobrun:{n}.2", 60, None, Versioned(f"job:{n}2", {"n": n}, 12.0))
        for n in ("x", "y")
    ]
    with pytest.raises(StoreUnavailable, match="injected"):
        store.claim_and_put_many([*fresh, items[2]])
    assert store.get("job:x2") is None
    assert store.claim("jobrun:x.2", ttl=60) is True  # rolled back with the rest
    with pytest.raises(StoreUnavailable, match="injected"):
        store.put_versioned_many([Versioned("job:b", {"done": True}, 13.0), items[2].write])
    assert store.get("job:b") == {"n": "b"}  # rolled back too
    db.close()
    store.close()


class _CommitFailsOnce:
    """A connection whose next COMMIT fails as a busy database's would."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.failed = False

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql == "COMMIT" and not self.failed:
            self.failed = True
            raise sqlite3.OperationalError("database is locked")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self._conn, name)


def test_a_commit_that_fails_rolls_back_and_the_write_is_retried(tmp_path: Path) -> None:
    """Not left open: an open transaction would keep the write lock from every other writer,
    and the retry's BEGIN would fail inside it."""
    store = SQLiteStore(tmp_path / "store.sqlite3")
    real = store._connection()
    flaky = _CommitFailsOnce(real)
    store._local.conn = flaky
    job = Versioned("job:gh-1", {"status": "pending"}, version=11.0)
    assert store.claim_and_put("delivery:1", 60, None, job) is True
    assert flaky.failed and not real.in_transaction
    other = SQLiteStore(tmp_path / "store.sqlite3")
    assert other.claim("delivery:2", ttl=60) is True  # the write lock was let go
    assert other.get("job:gh-1") == {"status": "pending"}
    other.close()
    store._local.conn = real
    store.close()


def test_wal_checkpoints_run_on_their_own_thread(tmp_path: Path) -> None:
    """A checkpoint (an fsync on each side) inside a commit stalls whoever waits on that
    commit, a webhook's 2xx included; so commits leave it to a thread of the store's."""
    from orchestrator.store import sqlite as module

    store = SQLiteStore(tmp_path / "store.sqlite3")
    conn = store._connection()
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == module._WAL_SAFETY_PAGES
    assert store.checkpoint_thread() is None
    database = tmp_path / "store.sqlite3"
    before = database.stat().st_size  # the schema; every write since is in the WAL only
    for n in range(module._CHECKPOINT_EVERY):
        store.put(f"audit:{n}", {"n": "x" * 200})
    thread = store.checkpoint_thread()
    assert thread is not None and thread.is_alive()
    # Nobody else checkpoints (SQLite's own threshold is far off): the pages reach the
    # database file only through the store's thread.
    deadline = time.monotonic() + 10
    while database.stat().st_size == before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert database.stat().st_size > before
    store.close()
    assert not thread.is_alive()
    assert store.checkpoint_thread() is None


def test_a_failing_sweep_of_expired_rows_never_fails_the_committed_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep due every so many writes meets another process's lock: the write that
    crossed the count has committed, so it returns as written (a claim raising after its
    commit would leave a claimed delivery whose job never runs), and the request's store
    is not marked failed."""
    from orchestrator.store import sqlite as module
    from orchestrator.store.base import failure_scope

    store = SQLiteStore(tmp_path / "store.sqlite3")
    swept = threading.Event()

    def locked() -> int:
        swept.set()
        raise StoreUnavailable("sqlite: database is locked")

    monkeypatch.setattr(store, "purge_expired", locked)
    with failure_scope():
        for n in range(module._PURGE_EVERY - 1):
            store.put(f"audit:{n}", {"n": n})
        assert store.claim("delivery:last", 60) is True  # the write that crosses the count
        assert swept.wait(5)
        assert store.get("delivery:last") is not None  # not failed fast
    store.close()


def test_expired_rows_are_swept_on_the_store_thread(tmp_path: Path) -> None:
    from orchestrator.store import sqlite as module

    clock = [1000.0]
    store = SQLiteStore(tmp_path / "store.sqlite3", clock=lambda: clock[0])
    store.put("audit:old", {"n": 1}, ttl=10)
    clock[0] += 60
    for n in range(module._PURGE_EVERY - 1):
        store.put(f"audit:{n}", {"n": n})
    db = sqlite3.connect(tmp_path / "store.sqlite3")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not db.execute("SELECT 1 FROM records WHERE key = 'audit:old'").fetchone():
            break
        time.sleep(0.01)
    assert not db.execute("SELECT 1 FROM records WHERE key = 'audit:old'").fetchone()
    db.close()
    store.close()


def test_writers_of_one_process_take_turns_on_the_store_lock(tmp_path: Path) -> None:
    """While one thread of this process writes, another waits on the store's own lock
    (woken at once when it is free), not in SQLite's busy handler (sleeps of 1, 2, 5 ms)."""
    store = SQLiteStore(tmp_path / "store.sqlite3")
    done = threading.Event()

    def write() -> None:
        store.claim("delivery:1", 60)
        done.set()

    with store._write_lock:
        writer = threading.Thread(target=write)
        writer.start()
        assert not done.wait(0.2)  # held up by the lock, not written meanwhile
    assert done.wait(5)
    writer.join()
    assert store.get("delivery:1") is not None
    store.close()


def _kept(status: str, version: float, payload: object, **extra: object) -> Versioned:
    value = {"payload": payload, "status": status, **extra}
    return Versioned("job:k", value, version, ttl=600, kept="payload", kept_since=20.0)


def test_a_status_write_carries_the_stored_payload_over(tmp_path: Path) -> None:
    """The payload is taken from the stored record, not encoded again: a write that (against
    its promise) names another payload still finds the stored one kept."""
    store = SQLiteStore(tmp_path / "s.sqlite3")
    assert store.put_versioned(_kept("pending", 21.0, {"stored": "é"}))
    assert store.put_versioned(_kept("running", 22.0, {"other": 1}, started_at=2.0))
    kept = {"payload": {"stored": "é"}}
    assert store.get("job:k") == {**kept, "status": "running", "started_at": 2.0}
    assert store.claim_and_put("jobrun:k.2", 60, None, _kept("done", 23.0, {"other": 1}))
    assert store.get("job:k") == {"payload": {"stored": "é"}, "status": "done"}
    text = store._connection().execute("SELECT value FROM records WHERE key = 'job:k'").fetchone()
    assert text[0].isascii()  # stored ASCII, as `encode_value` writes it: length is size


def test_a_status_write_over_a_record_without_the_field_writes_it_whole(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3")
    store.put_if_newer("job:k", {"status": "pending"}, 21.0)
    assert store.put_versioned(_kept("running", 22.0, {"v": 1}))
    assert store.get("job:k") == {"payload": {"v": 1}, "status": "running"}


def test_a_carried_over_record_stays_under_the_size_cap(tmp_path: Path) -> None:
    """The carry-over would make a record past `MAX_VALUE_BYTES`: it is written whole
    instead, which refuses it as `put_if_newer` does."""
    store = SQLiteStore(tmp_path / "s.sqlite3")
    payload = {"blob": "x" * 349_000}
    assert store.put_versioned(_kept("pending", 21.0, payload))
    with pytest.raises(ValueError, match="too large"):
        store.put_versioned(_kept("failed", 23.0, payload, error="e" * 2_000))
    assert store.get("job:k") == {"payload": payload, "status": "pending"}


def test_a_sweep_deletes_in_short_writes_and_leaves_live_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests wait inline for this process's writers: a sweep of many expired rows is
    several short writes, each taking and releasing the lock, never one long one."""
    from orchestrator.store import sqlite as module

    monkeypatch.setattr(module, "_PURGE_BATCH", 7)
    clock = [1000.0]
    store = SQLiteStore(tmp_path / "store.sqlite3", clock=lambda: clock[0])
    for n in range(30):
        store.put(f"audit:old-{n}", {"n": n}, ttl=10)
    store.put("audit:live", {"n": 1}, ttl=3600)
    store.put("audit:kept", {"n": 2})
    clock[0] += 60
    writes: list[int] = []
    real = store._write

    def counted(operation: object) -> object:
        result = real(operation)  # type: ignore[arg-type]
        writes.append(int(result))  # type: ignore[call-overload]
        return result

    monkeypatch.setattr(store, "_write", counted)
    pauses: list[float] = []
    monkeypatch.setattr(module.time, "sleep", pauses.append)
    assert store.purge_expired() == 30
    assert writes == [7, 7, 7, 7, 2]  # each write at most a batch
    # ... and the lock (not fair) is let go between them, so a waiting writer gets in.
    assert pauses == [module._PURGE_PAUSE] * 4
    assert store.get("audit:live") == {"n": 1}
    assert store.get("audit:kept") == {"n": 2}
    store.close()


def test_without_waiting_a_busy_store_refuses_at_once_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holding SQLite's write lock, or another writer of this process:
    `StoreBusy` before anything is written, no retry sleep, no failure marked; outside
    the block the store waits again, as before."""
    from orchestrator.store.base import StoreBusy, failure_scope

    store = SQLiteStore(tmp_path / "store.sqlite3")
    store.put("audit:warm", {"n": 0})  # this thread's connection exists
    sleeps: list[float] = []
    monkeypatch.setattr(time, "sleep", lambda seconds: sleeps.append(seconds))
    other = sqlite3.connect(tmp_path / "store.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's writer
    pending = Versioned("job:x", {"status": "pending"}, 1.0)

    def busy_timeout(no_wait: bool = False) -> int:
        conn = store._connection(no_wait=no_wait)
        return int(conn.execute("PRAGMA busy_timeout").fetchone()[0])

    with failure_scope():
        with store.without_waiting():
            assert busy_timeout(no_wait=True) == 0  # SQLite's own wait is off, not only ours
            with pytest.raises(StoreBusy):
                store.claim_and_put("delivery:x", 60, None, pending)
        other.execute("ROLLBACK")
        assert store.claim_and_put("delivery:x", 60, None, pending)  # not marked failed
    assert sleeps == []
    # Another writer of this process holds the lock.
    with store._write_lock, store.without_waiting(), pytest.raises(StoreBusy):
        store.claim("delivery:y", 60)
    assert store.get("delivery:y") is None
    assert busy_timeout() == 1000  # waiting again outside the block
    other.close()
    store.close()
