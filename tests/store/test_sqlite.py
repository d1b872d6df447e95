"""SQLite-specific behaviour; the shared contract lives in test_contract.py."""

from __future__ import annotations

import sqlite3
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
