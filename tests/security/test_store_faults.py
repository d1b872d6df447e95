"""The store failing under the endpoints: never a 2xx that drops an event.

`/github` answers 503 (GitHub records a failed delivery, which can be redelivered) and leaves
no claim behind, so the redelivery is accepted rather than taken for a duplicate; `/discord`
answers a deferred command with an ephemeral "try again" inside Discord's 3-second window,
and a PING (which needs no store) still gets its PONG.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestrator.config import load_settings
from orchestrator.devkeys import DevIdentity, load_or_create_dev_identity
from orchestrator.devtools.discord_standin import DiscordStandIn
from orchestrator.github.verify import sign
from orchestrator.main import create_app
from orchestrator.services import Services
from orchestrator.store.base import ClaimAndPut, StoreUnavailable, Versioned
from orchestrator.store.sqlite import SQLiteStore
from tests.support.security import (
    CHANNEL,
    NOTIFY_TOML,
    PUSH,
    in_process,
    interaction,
    signed,
    write_config,
)
from tests.support.servers import free_port
from tests.support.signing import PING_INTERACTION, dumps
from tests.support.tally import Tally

SECRET = "store-faults-webhook-secret"
DISCORD_DEADLINE = 3.0
OUTAGE = frozenset({503})


@pytest.fixture
def discord() -> Iterator[DiscordStandIn]:
    with DiscordStandIn() as standin:
        yield standin


def _env(tmp_path: Path, discord: DiscordStandIn) -> dict[str, Any]:
    return {
        "ORCHESTRATOR_CONFIG": write_config(tmp_path, NOTIFY_TOML),
        "DISCORD_API_BASE": discord.api_base,
        "DISCORD_BOT_TOKEN": "bot-token-for-store-tests",
        "GITHUB_WEBHOOK_SECRET": SECRET,
    }


def deliver(client: TestClient, delivery: str) -> Any:
    body = dumps(PUSH)
    headers = {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": delivery,
        "x-hub-signature-256": sign(SECRET, body),
    }
    return client.post("/github", content=body, headers=headers)


def channel_posts(discord: DiscordStandIn) -> int:
    return sum(
        1
        for r in discord.requests
        if r.method == "POST" and r.path == f"/channels/{CHANNEL}/messages"
    )


def assert_try_again(response: Any) -> None:
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["type"] == 4, answer  # an answer now, not a deferral nobody will follow up
    assert answer["data"]["flags"] & 64, answer  # ephemeral
    assert "try again" in answer["data"]["content"].lower(), answer


def assert_outage(response: Any, tally: Tally) -> None:
    tally.status(response.status_code, OUTAGE)
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "unavailable"
    assert response.headers["retry-after"].isdigit()


def ping(client: TestClient, identity: DevIdentity) -> None:
    body, headers = signed(identity, PING_INTERACTION)
    response = client.post("/discord", content=body, headers=headers)
    assert response.status_code == 200 and response.json() == {"type": 1}


@pytest.mark.parametrize("damage", ["garbage file", "directory"])
def test_unusable_sqlite_file(
    tmp_path: Path, discord: DiscordStandIn, tally: Tally, damage: str
) -> None:
    path = tmp_path / "broken.sqlite3"
    if damage == "directory":
        path.mkdir()
    else:
        path.write_bytes(b"this is not a database, not even close" * 200)
    env = {**_env(tmp_path, discord), "ORCHESTRATOR_SQLITE_PATH": path}
    with in_process(tmp_path, **env) as (client, _, identity):
        delivery = str(uuid.uuid4())
        assert_outage(deliver(client, delivery), tally)
        body, headers = signed(identity, interaction("/ping"))
        started = time.monotonic()
        answer = client.post("/discord", content=body, headers=headers)
        took = time.monotonic() - started
        tally.status(answer.status_code)
        assert_try_again(answer)
        assert took < DISCORD_DEADLINE
        ping(client, identity)
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["store"] == "unreachable"
    assert discord.requests == []  # nothing half-done reached Discord


def test_locked_sqlite_github_answers_503_and_the_redelivery_is_accepted(
    tmp_path: Path, discord: DiscordStandIn, tally: Tally
) -> None:
    with in_process(tmp_path, **_env(tmp_path, discord)) as (client, services, _):
        services.store.ping()
        holder = sqlite3.connect(services.settings.sqlite_file, isolation_level=None, timeout=1)
        holder.execute("BEGIN EXCLUSIVE")
        delivery = str(uuid.uuid4())
        try:
            refused = deliver(client, delivery)  # waits out the busy timeout and its retries
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert_outage(refused, tally)
        redelivered = deliver(client, delivery)
        tally.status(redelivered.status_code)
        assert redelivered.status_code == 202, redelivered.text  # not taken for a duplicate
        discord.wait_for(lambda _: channel_posts(discord) == 1, timeout=15)
        again = deliver(client, delivery)
        assert again.status_code == 200 and again.json()["duplicate"] is True
    assert channel_posts(discord) == 1


def test_locked_sqlite_discord_answers_try_again_within_the_deadline(
    tmp_path: Path, discord: DiscordStandIn, tally: Tally
) -> None:
    with in_process(tmp_path, **_env(tmp_path, discord)) as (client, services, identity):
        services.store.ping()
        holder = sqlite3.connect(services.settings.sqlite_file, isolation_level=None, timeout=1)
        holder.execute("BEGIN EXCLUSIVE")
        body, headers = signed(identity, interaction("/ping"))
        answers: list[tuple[float, Any]] = []

        def click() -> None:
            started = time.monotonic()
            response = client.post("/discord", content=body, headers=headers)
            answers.append((time.monotonic() - started, response))

        worker = threading.Thread(target=click)
        worker.start()
        worker.join(timeout=DISCORD_DEADLINE + 0.5)
        on_time = bool(answers)
        # Let the request finish either way, so nothing is left running in the app.
        holder.execute("ROLLBACK")
        holder.close()
        worker.join(timeout=40)
    assert answers, "no answer at all"
    took, response = answers[0]
    tally.status(response.status_code)
    assert on_time, (
        f"/discord took {took:.1f}s to answer a deferred command while SQLite was locked "
        f"(Discord gives up after {DISCORD_DEADLINE:.0f}s and shows 'This interaction failed'); "
        f"it answered {response.json()}"
    )
    assert_try_again(response)


class FailingJobRecords:
    """The real SQLite store, except that writing a job record fails `failures` times."""

    def __init__(self, store: SQLiteStore, failures: int) -> None:
        self._store = store
        self.failures = failures

    def put(self, key: str, value: dict[str, Any], ttl: float | None = None) -> None:
        if key.startswith("job:") and self.failures > 0:
            self.failures -= 1
            raise StoreUnavailable("injected: job record write failed")
        self._store.put(key, value, ttl)

    def put_if_newer(
        self, key: str, value: dict[str, Any], version: float, ttl: float | None = None
    ) -> bool:
        if key.startswith("job:") and self.failures > 0:
            self.failures -= 1
            raise StoreUnavailable("injected: job record write failed")
        return self._store.put_if_newer(key, value, version, ttl)

    def put_versioned(self, write: Versioned) -> bool:
        if write.key.startswith("job:") and self.failures > 0:
            self.failures -= 1
            raise StoreUnavailable("injected: job record write failed")
        return self._store.put_versioned(write)

    def claim_and_put(
        self, key: str, ttl: float, value: dict[str, Any] | None, write: Versioned
    ) -> bool:
        if write.key.startswith("job:") and self.failures > 0:
            self.failures -= 1
            raise StoreUnavailable("injected: job record write failed")
        return self._store.claim_and_put(key, ttl, value, write)

    def claim_and_put_many(self, items: Sequence[ClaimAndPut]) -> list[bool | None]:
        if any(item.write.key.startswith("job:") for item in items) and self.failures > 0:
            self.failures -= 1
            raise StoreUnavailable("injected: job record write failed")
        return self._store.claim_and_put_many(items)

    def put_versioned_many(self, writes: Sequence[Versioned]) -> None:
        if any(write.key.startswith("job:") for write in writes) and self.failures > 0:
            self.failures -= 1
            raise StoreUnavailable("injected: job record write failed")
        self._store.put_versioned_many(writes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_a_delivery_that_cannot_be_queued_is_unclaimed_and_redelivered_once(
    tmp_path: Path, discord: DiscordStandIn, tally: Tally
) -> None:
    data = tmp_path / "data"
    settings = load_settings(
        ORCHESTRATOR_DATA_DIR=data, ORCHESTRATOR_ENV="test", **_env(tmp_path, discord)
    )
    store = FailingJobRecords(SQLiteStore(settings.sqlite_file), failures=1)
    services = Services(settings, store=store)
    with TestClient(create_app(services=services), raise_server_exceptions=False) as client:
        delivery = str(uuid.uuid4())
        assert_outage(deliver(client, delivery), tally)
        assert store.get(f"delivery:{delivery}") is None  # the claim was released
        redelivered = deliver(client, delivery)
        tally.status(redelivered.status_code)
        assert redelivered.status_code == 202
        discord.wait_for(lambda _: channel_posts(discord) == 1, timeout=15)
        assert deliver(client, delivery).json()["duplicate"] is True
    assert channel_posts(discord) == 1


def test_unreachable_dynamodb(
    tmp_path: Path, discord: DiscordStandIn, tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": closed,
        "AWS_ENDPOINT_URL_DYNAMODB": closed,
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    env = {
        **_env(tmp_path, discord),
        "ORCHESTRATOR_STORE": "dynamodb",
        "ORCHESTRATOR_DYNAMODB_TABLE": "security-unreachable",
    }
    data = tmp_path / "data"
    identity = load_or_create_dev_identity(data)
    services = Services(load_settings(ORCHESTRATOR_DATA_DIR=data, ORCHESTRATOR_ENV="test", **env))
    with TestClient(create_app(services=services), raise_server_exceptions=False) as client:
        started = time.monotonic()
        assert_outage(deliver(client, str(uuid.uuid4())), tally)
        assert time.monotonic() - started < 10  # well inside GitHub's 10 s
        body, headers = signed(identity, interaction("/ping"))
        started = time.monotonic()
        answer = client.post("/discord", content=body, headers=headers)
        took = time.monotonic() - started
        tally.status(answer.status_code)
        assert_try_again(answer)
        assert took < DISCORD_DEADLINE
        ping(client, identity)
    assert discord.requests == []
