"""`store.update`: read-modify-write that loses no concurrent change, on every backend."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.store.base import JSONObject, Store
from orchestrator.store.dynamodb import create_table
from orchestrator.store.update import Change, UpdateContended, update
from tests.support.moto_server import delete_table, moto_endpoint  # noqa: F401
from tests.support.stores import StoreSpec


@pytest.fixture(params=["sqlite", "dynamodb"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreSpec]:
    if request.param == "sqlite":
        yield StoreSpec("sqlite", str(tmp_path / "store.sqlite3"))
        return
    endpoint: str = request.getfixturevalue("moto_endpoint")
    table = f"store-{uuid.uuid4().hex[:12]}"
    create_table(table, endpoint_url=endpoint)
    yield StoreSpec("dynamodb", f"{endpoint}/{table}")
    delete_table(table, endpoint)


@pytest.fixture
def store(spec: StoreSpec) -> Iterator[Store]:
    opened = spec.open()
    yield opened
    opened.close()


def add(name: str) -> Change:
    def change(current: JSONObject | None) -> JSONObject:
        lines = dict((current or {}).get("lines") or {})
        lines[name] = True
        return {**(current or {}), "lines": lines}

    return change


def test_a_change_made_between_read_and_write_is_kept(store: Store) -> None:
    """Another writer lands while we hold our read: our write must not erase it."""
    key = "card:s:acme/web:abc"
    interfered = []

    def ours(current: JSONObject | None) -> JSONObject:
        if not interfered:
            interfered.append(True)
            update(store, key, add("theirs"))
        result = add("ours")(current)
        assert result is not None
        return result

    record, wrote = update(store, key, ours)
    assert wrote
    assert record is not None and set(record["lines"]) == {"ours", "theirs"}
    assert store.get(key) == record


def test_no_change_writes_nothing(store: Store) -> None:
    key = "card:s:acme/web:abc"
    update(store, key, add("a"))
    before = store.get(key)
    record, wrote = update(store, key, lambda current: None)
    assert not wrote and record == before


def test_concurrent_writers_lose_nothing(spec: StoreSpec) -> None:
    key = "card:s:acme/web:abc"
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        store = spec.open()
        try:
            barrier.wait(timeout=30)
            update(store, key, add(name))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    final = spec.open().get(key)
    assert final is not None and set(final["lines"]) == {f"w{i}" for i in range(8)}
    assert final["cas"] == 8  # one write each, nothing overwritten


def test_endless_contention_gives_up_with_a_clear_error(store: Store) -> None:
    key = "card:s:acme/web:abc"

    def always_beaten(current: JSONObject | None) -> JSONObject:
        update(store, key, add(uuid.uuid4().hex))
        return {"lines": {}}

    with pytest.raises(UpdateContended, match="card: still contended after 3 attempts"):
        update(store, key, always_beaten, attempts=3, sleep=lambda _: None)
