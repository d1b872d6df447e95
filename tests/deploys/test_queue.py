"""The in-flight slot and the queue in the store: one holder, order, a release per finished run."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from orchestrator.deploys import queue
from orchestrator.deploys.queue import DeployRequest
from orchestrator.store.sqlite import SQLiteStore

T = 1_795_924_950.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "store.db")
    yield opened
    opened.close()


def request(actor: str = "42", env: str = "production") -> DeployRequest:
    return DeployRequest("web", env, "deploy", "deploy.yml", "main", {"stage": env}, actor)


def test_ten_claims_at_once_leave_one_deploy_in_flight(store: SQLiteStore) -> None:
    start = threading.Barrier(10)
    asks = [request(str(n)) for n in range(10)]

    def one(ask: DeployRequest) -> bool:
        start.wait(timeout=10)
        return queue.claim(store, ask)

    with ThreadPoolExecutor(10) as pool:
        won = list(pool.map(one, asks))
    assert won.count(True) == 1
    holder = queue.in_flight(store, "web", "production")
    assert holder is not None and holder.request == asks[won.index(True)].id


def test_the_queue_keeps_its_order_and_round_trips_requests(store: SQLiteStore) -> None:
    first, second = request("1"), request("2")
    queue.enqueue(store, first, now=T)
    queue.enqueue(store, second, now=T + 0.000001)
    queue.enqueue(store, request("3", env="staging"), now=T - 5)
    found = queue.waiting(store, "web", "production")
    assert [r for _, r in found] == [first, second]
    assert queue.position(store, "web", "production", second.id) == 2
    queue.take(store, found[0][0])
    assert queue.position(store, "web", "production", second.id) == 1
    assert queue.position(store, "web", "production", first.id) is None
    assert queue.queued_environments(store) == {("web", "production"), ("web", "staging")}


def test_a_rollback_enqueued_first_goes_ahead_of_earlier_deploys(store: SQLiteStore) -> None:
    early, rollback, second_rollback = request("1"), request("2"), request("3")
    queue.enqueue(store, early, now=T - 60)
    queue.enqueue(store, rollback, now=T, first=True)
    queue.enqueue(store, second_rollback, now=T + 1, first=True)
    found = [r for _, r in queue.waiting(store, "web", "production")]
    assert found == [rollback, second_rollback, early]
    assert queue.position(store, "web", "production", early.id) == 3
    assert queue.queued_environments(store) == {("web", "production")}


def test_a_finished_run_frees_its_slot_once_and_only_its_own(store: SQLiteStore) -> None:
    ask = request()
    assert queue.claim(store, ask)
    queue.occupy(store, ask, "orc-00000001")
    assert not queue.release_finished(store, "web", "production", "orc-99999999"), "not its run"
    assert queue.in_flight(store, "web", "production") is not None
    assert queue.release_finished(store, "web", "production", "orc-00000001")
    assert queue.in_flight(store, "web", "production") is None
    newer = request("7")
    assert queue.claim(store, newer)
    queue.occupy(store, newer, "orc-00000002")
    assert not queue.release_finished(store, "web", "production", "orc-00000001"), "redelivered"
    holder = queue.in_flight(store, "web", "production")
    assert holder is not None and holder.correlation == "orc-00000002"


def test_the_queue_is_bounded(store: SQLiteStore) -> None:
    for n in range(queue.MAX_WAITING):
        queue.enqueue(store, request(str(n)), now=T + n)
    with pytest.raises(queue.QueueFull):
        queue.enqueue(store, request("late"))


def test_a_request_keeps_its_approved_sha_and_override_window_and_old_ones_still_load() -> None:
    sha = "abcdef0123456789abcdef0123456789abcdef01"
    request = DeployRequest(
        app="web",
        environment="production",
        kind="deploy",
        workflow="deploy.yml",
        ref="main",
        inputs={"region": "eu"},
        actor="7",
        override="hotfix",
        override_window="xmas",
        approved_sha=sha,
    )
    assert DeployRequest.from_record(request.to_record()) == request
    old = request.to_record()
    del old["approved_sha"], old["override_window"]
    loaded = DeployRequest.from_record(old)
    assert (loaded.approved_sha, loaded.override_window) == (None, None)
