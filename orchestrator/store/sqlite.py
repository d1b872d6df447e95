"""SQLite store: the embedded default, safe across threads and processes.

One connection per thread (sqlite3 connections must not be shared), WAL so
readers never block the writer, and every mutation is a single statement so
atomicity comes from SQLite itself rather than from locks in this process;
that is what makes `claim` correct across several uvicorn workers. A mutation of several
rows (`claim_and_put`, the batch writes) is one `BEGIN IMMEDIATE` transaction.

Durability: WAL with `synchronous=NORMAL`. A commit is in the WAL file, handed to the
operating system, before the call returns, so it survives the process being killed at
any point after (the webhook's 2xx comes after the commit); it is not fsynced on every
commit, so an operating-system crash or power loss may lose the last commits (the
database stays consistent). That is the trade SQLite documents for WAL; `FULL` would add
an fsync per commit. Production on Lambda uses DynamoDB, which is durable when it answers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from orchestrator.store.base import (
    MAX_VALUE_BYTES,
    ClaimAndPut,
    Clock,
    JSONObject,
    Record,
    StoreBusy,
    StoreUnavailable,
    Versioned,
    encode_value,
    expiry,
    fail_fast,
    mark_failed,
    now,
    split_key,
    split_prefix,
)

T = TypeVar("T")

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    expires_at REAL,
    version    REAL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_expiry ON records(expires_at) WHERE expires_at IS NOT NULL;
"""

# "Live" everywhere below means: no expiry, or an expiry still in the future.
_CLAIM = """
INSERT INTO records(key, value, expires_at) VALUES (:key, :value, :expires_at)
ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at,
    version = NULL
WHERE records.expires_at IS NOT NULL AND records.expires_at <= :now
"""
_PUT = """
INSERT INTO records(key, value, expires_at) VALUES (:key, :value, :expires_at)
ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at,
    version = NULL
"""
_PUT_IF_NEWER = """
INSERT INTO records(key, value, expires_at, version)
VALUES (:key, :value, :expires_at, :version)
ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at,
    version = excluded.version
WHERE records.version IS NULL OR records.version < excluded.version
    OR (records.expires_at IS NOT NULL AND records.expires_at <= :now)
"""
# `put_if_newer` of a `Versioned` whose `kept` field the stored record already holds: the
# new small fields, with the stored field carried over inside SQLite (the payload is neither
# encoded again nor sent), over a live record of at least `kept_since` only. No row changed
# means one of those did not hold: the caller writes the whole value with `_PUT_IF_NEWER`.
_CARRY_OVER = """
UPDATE records SET value = json_set(:rest, :path, json(json_extract(value, :path))),
    expires_at = :expires_at, version = :version
WHERE key = :key AND version >= :since AND version < :version
    AND (expires_at IS NULL OR expires_at > :now)
    AND json_type(value, :path) IN ('object', 'array')
    AND length(value) + :rest_length <= :max
"""
_GET = """
SELECT value FROM records
WHERE key = :key AND (expires_at IS NULL OR expires_at > :now)
"""
_QUERY = """
SELECT key, value FROM records
WHERE key >= :low AND key < :high AND (expires_at IS NULL OR expires_at > :now)
ORDER BY key {order} LIMIT :limit
"""
_QUERY_ASC = _QUERY.format(order="ASC")
_QUERY_DESC = _QUERY.format(order="DESC")

# Sweeps of expired rows run on the same thread as checkpoints, never in the write that
# crosses the count: that write has committed, and a sweep failing (another process holding
# the lock past busy_timeout) must not turn it into an error, nor mark the request's store
# as failed. A claim raised after its commit loses the job it queued.
_PURGE_EVERY = 500  # writes between sweeps of expired rows
_PURGE_BATCH = 500  # rows deleted per write of a sweep (`purge_expired`)
_PURGE_PAUSE = 0.001  # seconds between a sweep's writes, for other writers to get in
_PURGE_BATCH_SQL = """
DELETE FROM records WHERE key IN (
    SELECT key FROM records WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT ?
)
"""
# WAL checkpoints (committed pages copied into the database file, an fsync on each side)
# run on a thread of their own, every so many writes, instead of inside whichever commit
# crosses SQLite's threshold: that commit would take milliseconds to a tenth of a second,
# holding up the webhook answer waiting on it. Commits stay exactly as durable: a commit
# is in the WAL when it returns, checkpointed or not.
_CHECKPOINT_EVERY = 200  # writes of a few pages each: about SQLite's own 1000-page default
_WAL_SAFETY_PAGES = 20_000  # past this SQLite checkpoints in the commit again (a stuck thread)
# Writers hold SQLite's lock for microseconds; waiting a second means something is wrong,
# and the request path must still answer in time (see `failure_scope`).
_BUSY_TIMEOUT_MS = 1_000
# `without_waiting`: how long a write may wait for this process's other writers (each
# holds the lock for one transaction of well under a millisecond), never for SQLite's lock.
_NO_WAIT_LOCK_SECONDS = 0.005
_RETRIES = 2


def _prefix_upper_bound(prefix: str) -> str:
    """Smallest string greater than every string starting with `prefix` (for an index range)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _private_file(path: Path) -> None:
    """The database holds live interaction tokens: only its owner may read it.

    A folder created here is 0700 and the file 0600 (SQLite gives its -wal and -shm files
    the database's mode). An existing folder is left as it is: it may be shared, like /tmp.
    """
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return  # not a file we can open (a folder, no access): SQLite reports it as it does
    try:
        if os.fstat(fd).st_uid == os.getuid():
            os.fchmod(fd, 0o600)  # a file made before this rule, or under a loose umask
    finally:
        os.close(fd)


def _has_json(conn: sqlite3.Connection) -> bool:
    """Whether this SQLite has its JSON functions (built in since 3.38, optional before)."""
    try:
        conn.execute("SELECT json_set('{}', '$.a', json('[1]'))").fetchone()
    except sqlite3.OperationalError:
        return False
    return True


def _claim_params(key: str, ttl: float, value: JSONObject | None, at: float) -> dict[str, Any]:
    """The parameters of `_CLAIM` for a claim of `key` made at `at`."""
    return {
        "key": key,
        "value": encode_value(value or {"claimed_at": at}),
        "expires_at": expiry(ttl, at),
        "now": at,
    }


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """Several statements, one commit. IMMEDIATE takes SQLite's write lock up front (waiting
    out busy_timeout), so they cannot be interleaved with another writer's."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        # Inside: a COMMIT that fails (busy, I/O) leaves the transaction open, holding the
        # write lock, and the retry's BEGIN would fail inside it.
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


class SQLiteStore:
    # A write is a local commit into the WAL (`synchronous=NORMAL`: no fsync), tens of
    # microseconds: a request awaits it inline rather than through a thread hop that costs
    # more (`store.writer.InlineWriter`), tried `without_waiting`: another process holding
    # SQLite's lock, or a writer of this process holding ours for long, sends it to a thread.
    inline_writes = True

    def __init__(self, path: Path, clock: Clock = now) -> None:
        self.path = path
        self._clock = clock
        self._local = threading.local()
        self._writes = 0
        self._lock = threading.Lock()
        # This process's writers take turns here rather than in SQLite: a writer finding
        # SQLite's lock taken sleeps in its busy handler (1 ms, then 2, 5, ...), while a
        # thread waiting on this lock wakes the moment the other commits. (Other processes
        # still meet in SQLite's lock, as before.)
        self._write_lock = threading.Lock()
        self._checkpoints = threading.Condition(self._lock)
        self._checkpoint_due = False
        self._purge_due = False
        self._checkpointer: threading.Thread | None = None
        self._stopping = False
        self._connections: list[sqlite3.Connection] = []
        _private_file(path)
        self._run(lambda conn: conn.executescript(_SCHEMA))
        self._json = self._run(_has_json)

    # -- connection handling -------------------------------------------------------------

    def _connection(self, *, no_wait: bool = False) -> sqlite3.Connection:
        """This thread's connection; with `no_wait`, its second one, whose busy timeout is 0
        (`without_waiting`: switching one connection's timeout back and forth would cost
        two statements per write)."""
        attribute = "no_wait_conn" if no_wait else "conn"
        conn: sqlite3.Connection | None = getattr(self._local, attribute, None)
        if conn is None:
            busy_ms = 0 if no_wait else _BUSY_TIMEOUT_MS
            conn = sqlite3.connect(
                self.path,
                timeout=busy_ms / 1000,
                isolation_level=None,  # autocommit: each statement is its own transaction
                check_same_thread=True,
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={busy_ms}")
            conn.execute(f"PRAGMA wal_autocheckpoint={_WAL_SAFETY_PAGES}")
            setattr(self._local, attribute, conn)
            with self._lock:
                self._connections.append(conn)
        return conn

    def _run(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """Run one operation, retrying while the database is locked, then give up cleanly."""
        fail_fast("sqlite")
        delay = 0.05
        for attempt in range(_RETRIES):
            try:
                return operation(self._connection())
            except sqlite3.OperationalError as exc:
                message = str(exc).lower()
                transient = "locked" in message or "busy" in message
                if not transient or attempt == _RETRIES - 1:
                    mark_failed()
                    raise StoreUnavailable(f"sqlite: {exc}") from exc
                time.sleep(delay)
                delay *= 2
            except sqlite3.DatabaseError as exc:
                mark_failed()
                raise StoreUnavailable(f"sqlite: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _write(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """`_run` for a mutation: one writer of this process at a time. Within
        `without_waiting`, at once or `StoreBusy` (nothing written, no failure marked)."""
        if not getattr(self._local, "no_wait", False):
            with self._write_lock:
                return self._run(operation)
        # This process's writers hold the lock for one short transaction: worth a wait of a
        # few milliseconds. One that holds it longer is itself waiting on another process.
        if not self._write_lock.acquire(timeout=_NO_WAIT_LOCK_SECONDS):
            raise StoreBusy("sqlite: another writer of this process is at work")
        try:
            fail_fast("sqlite")
            try:
                return operation(self._connection(no_wait=True))
            except sqlite3.OperationalError as exc:
                message = str(exc).lower()
                if "locked" in message or "busy" in message:  # its busy timeout is 0
                    raise StoreBusy(f"sqlite: {exc}") from exc
                mark_failed()
                raise StoreUnavailable(f"sqlite: {exc}") from exc
            except sqlite3.DatabaseError as exc:
                mark_failed()
                raise StoreUnavailable(f"sqlite: {exc}") from exc
        finally:
            self._write_lock.release()

    @contextlib.contextmanager
    def without_waiting(self) -> Iterator[None]:
        """This thread's writes within are made at once or not at all: another process's
        SQLite lock, or a writer of this process holding ours past `_NO_WAIT_LOCK_SECONDS`,
        raises `StoreBusy` before anything is written, instead of being waited for (up to
        `busy_timeout`, then retried).

        For a write awaited inline on the event loop (`store.writer.InlineWriter`): waiting
        there would stall every request of the process, so a busy store sends the write to
        a thread of its own instead."""
        self._local.no_wait = True
        try:
            yield
        finally:
            self._local.no_wait = False

    def _after_write(self) -> None:
        """Count a committed write and hand housekeeping to the store's thread when due.

        Never raises and never touches the database: the caller's write has committed, so
        it must return as such (see `_PURGE_EVERY`)."""
        self._writes += 1
        checkpoint = self._writes % _CHECKPOINT_EVERY == 0
        purge = self._writes % _PURGE_EVERY == 0
        if checkpoint or purge:
            self._housekeeping_soon(checkpoint=checkpoint, purge=purge)

    def _housekeeping_soon(self, *, checkpoint: bool, purge: bool) -> None:
        with self._checkpoints:
            if self._stopping:
                return
            self._checkpoint_due = self._checkpoint_due or checkpoint
            self._purge_due = self._purge_due or purge
            if self._checkpointer is None:
                self._checkpointer = threading.Thread(
                    target=self._checkpoint_loop, name="orchestrator-sqlite-checkpoint", daemon=True
                )
                self._checkpointer.start()
            self._checkpoints.notify()

    def _checkpoint_loop(self) -> None:
        while True:
            with self._checkpoints:
                while not (self._checkpoint_due or self._purge_due) and not self._stopping:
                    self._checkpoints.wait()
                if self._stopping:
                    break
                checkpoint, self._checkpoint_due = self._checkpoint_due, False
                purge, self._purge_due = self._purge_due, False
            if checkpoint:
                # PASSIVE: copies what it can without waiting for readers or writers; the
                # WAL restarts from its beginning once everything is copied.
                with contextlib.suppress(StoreUnavailable):  # the next one tries again
                    self._run(
                        lambda conn: conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    )
            if purge:
                try:
                    self.purge_expired()
                except Exception:  # the next sweep tries again; reads ignore expired rows
                    log.warning("sqlite: sweeping expired rows failed", exc_info=True)
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()

    def checkpoint_thread(self) -> threading.Thread | None:
        """The thread running WAL checkpoints and sweeps, once there has been one (for tests)."""
        return self._checkpointer

    # -- the Store interface -------------------------------------------------------------

    def claim(self, key: str, ttl: float, value: JSONObject | None = None) -> bool:
        split_key(key)
        at = self._clock()
        params = _claim_params(key, ttl, value, at)
        # One statement: insert, or take over a row whose TTL has lapsed. The row count
        # tells whether this caller won; SQLite serialises writers across processes.
        changed = self._write(lambda conn: conn.execute(_CLAIM, params).rowcount)
        self._after_write()
        return changed == 1

    def claim_and_put(
        self, key: str, ttl: float, value: JSONObject | None, write: Versioned
    ) -> bool:
        split_key(key)
        split_key(write.key)
        at = self._clock()
        claim = _claim_params(key, ttl, value, at)
        put = self._versioned(write, at)

        def both(conn: sqlite3.Connection) -> bool:
            with _transaction(conn):
                if conn.execute(_CLAIM, claim).rowcount != 1:
                    return False  # nothing written: the commit writes nothing
                put(conn)
            return True

        won = self._write(both)
        self._after_write()
        return won

    def claim_and_put_many(self, items: Sequence[ClaimAndPut]) -> list[bool | None]:
        at = self._clock()
        steps = []
        for item in items:
            split_key(item.key)
            split_key(item.write.key)
            claim = _claim_params(item.key, item.ttl, item.value, at)
            steps.append((claim, self._versioned(item.write, at)))

        def each(conn: sqlite3.Connection) -> list[bool | None]:
            # All the items or, on any failure, none (`_run` retries the whole of it while
            # the database is locked). A later claim sees an earlier one's.
            won: list[bool | None] = []
            with _transaction(conn):
                for claim, put in steps:
                    taken = conn.execute(_CLAIM, claim).rowcount == 1
                    if taken:
                        put(conn)
                    won.append(taken)
            return won

        if not steps:
            return []
        won = self._write(each)
        self._after_write()
        return won

    def put(self, key: str, value: JSONObject, ttl: float | None = None) -> None:
        split_key(key)
        at = self._clock()
        params = {"key": key, "value": encode_value(value), "expires_at": expiry(ttl, at)}
        self._write(lambda conn: conn.execute(_PUT, params))
        self._after_write()

    def put_versioned(self, write: Versioned) -> bool:
        split_key(write.key)
        changed = self._write(self._versioned(write, self._clock()))
        self._after_write()
        return changed

    def put_versioned_many(self, writes: Sequence[Versioned]) -> None:
        at = self._clock()
        for write in writes:
            split_key(write.key)
        steps = [self._versioned(write, at) for write in writes]

        def each(conn: sqlite3.Connection) -> None:
            with _transaction(conn):
                for put in steps:
                    put(conn)

        if steps:
            self._write(each)
            self._after_write()

    def _versioned(self, write: Versioned, at: float) -> Callable[[sqlite3.Connection], bool]:
        """The statements of a `Versioned` write: the carry-over update when `write.kept`
        allows it, else (or when it changed nothing) the whole value, `_PUT_IF_NEWER`."""
        expires_at = expiry(write.ttl, at)
        carry: dict[str, object] | None = None
        if write.kept is not None and write.kept_since is not None and self._json:
            rest = encode_value({k: v for k, v in write.value.items() if k != write.kept})
            carry = {
                "key": write.key,
                "rest": rest,
                "rest_length": len(rest),
                "max": MAX_VALUE_BYTES,
                "path": f'$."{write.kept}"',
                "since": write.kept_since,
                "version": write.version,
                "expires_at": expires_at,
                "now": at,
            }

        def run(conn: sqlite3.Connection) -> bool:
            if carry is not None and conn.execute(_CARRY_OVER, carry).rowcount == 1:
                return True
            whole = {
                "key": write.key,
                "value": encode_value(write.value),
                "expires_at": expires_at,
                "version": write.version,
                "now": at,
            }
            return bool(conn.execute(_PUT_IF_NEWER, whole).rowcount == 1)

        return run

    def put_if_newer(
        self, key: str, value: JSONObject, version: float, ttl: float | None = None
    ) -> bool:
        split_key(key)
        at = self._clock()
        params = {
            "key": key,
            "value": encode_value(value),
            "expires_at": expiry(ttl, at),
            "version": version,
            "now": at,
        }
        changed = self._write(lambda conn: conn.execute(_PUT_IF_NEWER, params).rowcount)
        self._after_write()
        return changed == 1

    def get(self, key: str) -> JSONObject | None:
        split_key(key)
        row = self._run(
            lambda conn: conn.execute(_GET, {"key": key, "now": self._clock()}).fetchone()
        )
        if row is None:
            return None
        value: JSONObject = json.loads(row[0])
        return value

    def delete(self, key: str) -> None:
        split_key(key)
        self._write(lambda conn: conn.execute("DELETE FROM records WHERE key = ?", (key,)))

    def query_prefix(
        self, prefix: str, limit: int = 100, newest_first: bool = False
    ) -> list[Record]:
        split_prefix(prefix)
        statement = _QUERY_DESC if newest_first else _QUERY_ASC
        rows = self._run(
            lambda conn: conn.execute(
                statement,
                {
                    "low": prefix,
                    "high": _prefix_upper_bound(prefix),
                    "now": self._clock(),
                    "limit": max(0, limit),
                },
            ).fetchall()
        )
        return [Record(key, json.loads(value)) for key, value in rows]

    def ping(self) -> None:
        self._run(lambda conn: conn.execute("SELECT 1").fetchone())

    def purge_expired(self) -> int:
        """Delete rows whose TTL lapsed; reads already ignore them, this reclaims space.

        In batches of `_PURGE_BATCH` rows, each its own write: a request's inline write
        waits a few milliseconds at most for this process's writers (`without_waiting`),
        then goes to a thread, so short writes keep deliveries inline even after a long
        downtime left thousands of rows expired."""
        at = self._clock()
        deleted = 0
        while True:
            batch = self._write(
                lambda conn: conn.execute(_PURGE_BATCH_SQL, (at, _PURGE_BATCH)).rowcount
            )
            deleted += batch
            if batch < _PURGE_BATCH:
                return deleted
            # `_write_lock` is not fair: taken straight back, it could keep a request's
            # write (waiting inline, or on its thread) out for the whole sweep.
            time.sleep(_PURGE_PAUSE)

    def close(self) -> None:
        with self._checkpoints:
            self._stopping = True
            checkpointer, self._checkpointer = self._checkpointer, None
            self._checkpoints.notify()
        if checkpointer is not None:
            checkpointer.join(timeout=5.0)
        with self._checkpoints:
            self._stopping = False  # a store used again starts a new one when due
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            # A connection made in another thread refuses a cross-thread close; it is
            # released when that thread's locals are collected.
            with contextlib.suppress(sqlite3.ProgrammingError):
                conn.close()
        self._local = threading.local()
