"""SQLite-specific behaviour; the shared contract lives in test_contract.py."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from orchestrator.store.base import StoreUnavailable, Versioned
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
