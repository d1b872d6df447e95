"""The store contract. Every backend runs this same suite."""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.store.base import ClaimAndPut, InvalidKey, Store, Versioned
from orchestrator.store.dynamodb import create_table
from tests.support.moto_server import delete_table, moto_endpoint  # noqa: F401
from tests.support.stores import StoreSpec, race, race_claim_and_put


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "dynamodb"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreSpec]:
    if request.param == "sqlite":
        yield StoreSpec(request.param, str(tmp_path / "store.sqlite3"))
        return
    # moto in server mode over HTTP; a fresh table per test.
    endpoint: str = request.getfixturevalue("moto_endpoint")
    table = f"store-{uuid.uuid4().hex[:12]}"
    create_table(table, endpoint_url=endpoint)
    yield StoreSpec(request.param, f"{endpoint}/{table}")
    delete_table(table, endpoint)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(spec: StoreSpec, clock: FakeClock) -> Iterator[Store]:
    opened = spec.open(clock=clock)
    yield opened
    opened.close()


def test_records_round_trip(store: Store) -> None:
    value = {"text": "héllo ✓", "n": 3, "nested": {"list": [1, 2.5, None, True]}}
    store.put("things:a", value)
    assert store.get("things:a") == value
    store.put("things:a", {"n": 4})
    assert store.get("things:a") == {"n": 4}
    store.delete("things:a")
    assert store.get("things:a") is None
    store.delete("things:a")  # deleting what is gone is fine


def test_missing_record_is_none(store: Store) -> None:
    assert store.get("things:nope") is None


def test_claim_is_true_once(store: Store) -> None:
    assert store.claim("delivery:1", ttl=60) is True
    assert store.claim("delivery:1", ttl=60) is False
    assert store.claim("delivery:2", ttl=60) is True


def test_claim_expires_with_its_ttl(store: Store, clock: FakeClock) -> None:
    assert store.claim("delivery:1", ttl=60) is True
    clock.now += 59
    assert store.claim("delivery:1", ttl=60) is False
    clock.now += 2
    assert store.claim("delivery:1", ttl=60) is True
    assert store.claim("delivery:1", ttl=60) is False


def test_put_ttl_expiry(store: Store, clock: FakeClock) -> None:
    store.put("trace:1", {"a": 1}, ttl=10)
    store.put("trace:2", {"a": 2})
    clock.now += 11
    assert store.get("trace:1") is None
    assert store.get("trace:2") == {"a": 2}
    assert [r.key for r in store.query_prefix("trace:")] == ["trace:2"]


def test_query_prefix_orders_and_limits(store: Store) -> None:
    for key in ["audit:2026-11-02", "audit:2026-11-01", "audit:2026-12-01", "auditx:1", "other:1"]:
        store.put(key, {"k": key})
    assert [r.key for r in store.query_prefix("audit:2026-11")] == [
        "audit:2026-11-01",
        "audit:2026-11-02",
    ]
    assert [r.key for r in store.query_prefix("audit:")] == [
        "audit:2026-11-01",
        "audit:2026-11-02",
        "audit:2026-12-01",
    ]
    newest = store.query_prefix("audit:", limit=2, newest_first=True)
    assert [r.key for r in newest] == ["audit:2026-12-01", "audit:2026-11-02"]
    assert newest[0].value == {"k": "audit:2026-12-01"}


def test_put_if_newer_keeps_the_newest_version(store: Store) -> None:
    assert store.put_if_newer("run:7", {"status": "completed"}, version=20.0) is True
    assert store.put_if_newer("run:7", {"status": "in_progress"}, version=10.0) is False
    assert store.get("run:7") == {"status": "completed"}
    assert store.put_if_newer("run:7", {"status": "completed", "n": 2}, version=20.0) is False
    assert store.put_if_newer("run:7", {"status": "rerun"}, version=30.0) is True
    assert store.get("run:7") == {"status": "rerun"}


@pytest.mark.parametrize("key", ["nocolon", ":x", "UPPER:x", "a b:c", "things:"])
def test_keys_must_name_a_collection(store: Store, key: str) -> None:
    with pytest.raises(InvalidKey):
        store.put(key, {})


def test_prefix_must_name_a_collection(store: Store) -> None:
    with pytest.raises(InvalidKey):
        store.query_prefix("aud")


def test_values_must_be_objects_and_small(store: Store) -> None:
    with pytest.raises(TypeError):
        store.put("things:a", ["not", "an", "object"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="too large"):
        store.put("things:a", {"blob": "x" * 400_000})


def test_ping(store: Store) -> None:
    store.ping()


def test_claim_once_across_processes_and_threads(spec: StoreSpec) -> None:
    """20 concurrent claimers (2 processes x 10 threads), one key: exactly one winner."""
    spec.open().close()  # create the schema before the race
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(20)
    results = ctx.Queue()
    workers = [
        ctx.Process(target=race, args=(spec, "delivery:race", 10, barrier, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    flat = [won for outcome in outcomes for won in outcome]
    assert len(flat) == 20
    assert flat.count(True) == 1


def test_claim_and_put_writes_both_once(store: Store) -> None:
    job = Versioned("job:gh-1", {"status": "pending"}, version=11.0, ttl=60)
    assert store.claim_and_put("delivery:1", 60, {"event": "push"}, job) is True
    assert store.get("delivery:1") == {"event": "push"}
    assert store.get("job:gh-1") == {"status": "pending"}
    again = Versioned("job:gh-1", {"status": "pending", "second": True}, version=21.0, ttl=60)
    assert store.claim_and_put("delivery:1", 60, {"event": "again"}, again) is False
    # The losing copy wrote nothing at all, not even its (newer) record.
    assert store.get("delivery:1") == {"event": "push"}
    assert store.get("job:gh-1") == {"status": "pending"}


def test_claim_and_put_keeps_a_newer_record_and_still_claims(store: Store) -> None:
    store.put_if_newer("job:gh-2", {"status": "done"}, version=13.0)
    stale = Versioned("job:gh-2", {"status": "pending"}, version=11.0)
    assert store.claim_and_put("delivery:2", 60, None, stale) is True
    assert store.get("job:gh-2") == {"status": "done"}
    assert store.claim("delivery:2", ttl=60) is False


def test_claim_and_put_reclaims_after_the_ttl(store: Store, clock: FakeClock) -> None:
    first = Versioned("job:gh-3", {"attempt": 1}, version=11.0, ttl=600)
    assert store.claim_and_put("delivery:3", 60, None, first) is True
    clock.now += 61
    second = Versioned("job:gh-3", {"attempt": 2}, version=21.0, ttl=600)
    assert store.claim_and_put("delivery:3", 60, None, second) is True
    assert store.get("job:gh-3") == {"attempt": 2}


def test_claim_and_put_leaves_no_claim_when_the_write_is_refused(store: Store) -> None:
    """A write that cannot be stored takes the claim down with it: a redelivery of the
    same delivery must find it unclaimed, or the event would be lost as a 'duplicate'."""
    too_big = Versioned("job:gh-4", {"blob": "x" * 400_000}, version=11.0)
    with pytest.raises(ValueError, match="too large"):
        store.claim_and_put("delivery:4", 60, None, too_big)
    assert store.get("delivery:4") is None
    assert store.claim("delivery:4", ttl=60) is True


def _status(status: str, version: float, payload: object, **extra: object) -> Versioned:
    """A job record's write after its first, as `jobs.base.record_write` makes it: the
    stored payload may be carried over from any record of at least `kept_since`."""
    value = {"name": "x", "payload": payload, "status": status, **extra}
    return Versioned("job:kept", value, version, ttl=600, kept="payload", kept_since=20.0)


def test_put_versioned_writes_the_whole_record_however_it_is_stored(store: Store) -> None:
    payload = {"event": "push", "commits": [{"id": "abc", "message": "héllo ✓"}], "n": None}
    assert store.put_versioned(_status("pending", 21.0, payload)) is True  # nothing stored
    assert store.put_versioned(_status("running", 22.0, payload, started_at=1.5)) is True
    assert store.get("job:kept") == {
        "name": "x",
        "payload": payload,
        "status": "running",
        "started_at": 1.5,
    }
    assert store.put_versioned(_status("done", 23.0, payload, took=2)) is True
    assert store.get("job:kept") == {"name": "x", "payload": payload, "status": "done", "took": 2}
    # Never backwards: an older status is refused and changes nothing.
    assert store.put_versioned(_status("running", 22.0, payload)) is False
    assert store.get("job:kept") == {"name": "x", "payload": payload, "status": "done", "took": 2}


def test_put_versioned_carries_nothing_over_from_before_kept_since(store: Store) -> None:
    """A record older than `kept_since` (the previous attempt) may hold another payload:
    the write's own payload is stored."""
    old = Versioned("job:kept", {"name": "x", "payload": {"v": 1}, "status": "failed"}, 13.0)
    assert store.put_versioned(old) is True
    assert store.put_versioned(_status("running", 22.0, {"v": 2})) is True
    assert store.get("job:kept") == {"name": "x", "payload": {"v": 2}, "status": "running"}


def test_put_versioned_takes_over_a_lapsed_record(store: Store, clock: FakeClock) -> None:
    assert store.put_versioned(_status("pending", 21.0, {"v": 1})) is True
    clock.now += 601
    assert store.get("job:kept") is None
    assert store.put_versioned(_status("done", 23.0, {"v": 2})) is True
    assert store.get("job:kept") == {"name": "x", "payload": {"v": 2}, "status": "done"}


def test_claim_and_put_carries_the_kept_field_over_too(store: Store) -> None:
    payload = {"event": "push", "big": "y" * 5000}
    assert store.put_versioned(_status("pending", 21.0, payload)) is True
    running = _status("running", 22.0, payload, started_at=1.0)
    assert store.claim_and_put("jobrun:kept.2", 60, None, running) is True
    assert store.get("job:kept") == {**running.value}
    assert store.claim_and_put("jobrun:kept.2", 60, None, _status("done", 23.0, payload)) is False
    assert store.get("job:kept") == {**running.value}


def test_claim_and_put_once_across_processes_and_threads(spec: StoreSpec) -> None:
    """20 concurrent claimers (2 processes x 10 threads) of one delivery: one winner."""
    spec.open().close()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(20)
    results = ctx.Queue()
    workers = [
        ctx.Process(target=race_claim_and_put, args=(spec, "delivery:race", 10, barrier, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    flat = [tuple(result) for outcome in outcomes for result in outcome]
    assert len(flat) == 20
    winners = [who for won, who in flat if won]
    assert len(winners) == 1
    store = spec.open()
    record = store.get("job:race")
    store.close()
    assert record == {"by": winners[0]}  # the record is the winner's, and only its


def test_claim_and_put_many_is_each_claim_and_put_in_order(store: Store) -> None:
    store.claim("jobrun:taken.1", ttl=60)
    store.put_if_newer("job:newer", {"status": "done"}, version=13.0)
    items = [
        ClaimAndPut("jobrun:a.1", 60, None, Versioned("job:a", {"status": "running"}, 12.0)),
        ClaimAndPut("jobrun:taken.1", 60, None, Versioned("job:taken", {"s": "running"}, 12.0)),
        # The same attempt again in one batch: the earlier item's claim is seen.
        ClaimAndPut("jobrun:a.1", 60, None, Versioned("job:a", {"status": "again"}, 12.5)),
        ClaimAndPut("jobrun:newer.1", 60, None, Versioned("job:newer", {"s": "running"}, 12.0)),
    ]
    assert store.claim_and_put_many(items) == [True, False, False, True]
    assert store.get("job:a") == {"status": "running"}
    assert store.get("job:taken") is None
    assert store.get("job:newer") == {"status": "done"}  # kept, as `put_if_newer` would
    assert store.claim("jobrun:newer.1", ttl=60) is False
    assert store.claim_and_put_many([]) == []


def test_put_versioned_many_writes_each_never_backwards(store: Store) -> None:
    store.put_versioned(_status("done", 23.0, {"v": 1}))
    store.put_versioned_many(
        [
            Versioned("job:one", {"status": "done"}, 13.0, ttl=600),
            _status("running", 22.0, {"v": 1}),  # older than what is stored: refused
            Versioned("job:two", {"status": "failed"}, 13.0, ttl=600),
        ]
    )
    assert store.get("job:one") == {"status": "done"}
    assert store.get("job:kept") == {"name": "x", "payload": {"v": 1}, "status": "done"}
    assert store.get("job:two") == {"status": "failed"}
    store.put_versioned_many([])


def test_claim_and_put_many_writes_nothing_it_reports_unwritten(
    spec: StoreSpec, store: Store
) -> None:
    """An item too large to store: SQLite (one transaction) refuses the batch with nothing
    written; DynamoDB (one transaction per item) writes the others and answers None for
    it. Either way, no claim is left that its caller does not know it won."""
    small = Versioned("job:small", {"status": "running"}, 12.0)
    too_big = Versioned("job:big", {"blob": "x" * 400_000}, 12.0)
    after = Versioned("job:after", {"status": "running"}, 12.0)
    items = [
        ClaimAndPut("jobrun:small.1", 60, None, small),
        ClaimAndPut("jobrun:big.1", 60, None, too_big),
        ClaimAndPut("jobrun:after.1", 60, None, after),
    ]
    if spec.backend == "sqlite":
        with pytest.raises(ValueError, match="too large"):
            store.claim_and_put_many(items)
        written = False
    else:
        assert store.claim_and_put_many(items) == [True, None, True]
        written = True
    for name in ("small", "after"):
        assert (store.get(f"job:{name}") is not None) is written
        assert store.claim(f"jobrun:{name}.1", ttl=60) is not written
    assert store.get("job:big") is None
    assert store.claim("jobrun:big.1", ttl=60) is True


def test_a_batch_of_one_claim_too_large_raises_with_nothing_written(store: Store) -> None:
    """As `claim_and_put` alone: the caller (a single job's run) learns it at once."""
    too_big = Versioned("job:big", {"blob": "x" * 400_000}, 12.0)
    with pytest.raises(ValueError, match="too large"):
        store.claim_and_put_many([ClaimAndPut("jobrun:big.1", 60, None, too_big)])
    assert store.claim("jobrun:big.1", ttl=60) is True
