"""Fifty copies at once, across two uvicorn worker processes: one side effect.

`python -m uvicorn orchestrator.main:app --workers 2` (two processes sharing one listening
socket, as a production box would run it), on SQLite and on DynamoDB (moto over HTTP):

* 50 concurrent copies of one GitHub delivery: one 202, 49 duplicates, one Discord message;
* 50 concurrent copies of one deferred interaction (same interaction id, so the same job is
  dispatched 50 times in two processes): one follow-up, and the job on record as done.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator.devkeys import load_or_create_dev_identity
from orchestrator.devtools.discord_standin import DiscordStandIn
from orchestrator.devtools.simulate import snowflake
from orchestrator.github.verify import sign
from tests.support.moto_server import delete_table, moto_endpoint, moto_server  # noqa: F401
from tests.support.security import (
    CHANNEL,
    NOTIFY_TOML,
    PUSH,
    interaction,
    signed,
    uvicorn_workers,
    write_config,
)
from tests.support.signing import dumps
from tests.support.tally import Tally

SECRET = "concurrency-webhook-secret"
COPIES = 50
QUIET = 1.0  # how long a wrongly duplicated side effect gets to show up


@pytest.fixture
def discord() -> Iterator[DiscordStandIn]:
    with DiscordStandIn() as standin:
        yield standin


@pytest.fixture(params=["sqlite", "dynamodb"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    if request.param == "sqlite":
        yield {"ORCHESTRATOR_STORE": "sqlite"}
        return
    from orchestrator.store.dynamodb import create_table

    endpoint: str = request.getfixturevalue("moto_endpoint")
    table = f"security-{uuid.uuid4().hex[:12]}"
    create_table(table, endpoint_url=endpoint)
    try:
        yield {
            "ORCHESTRATOR_STORE": "dynamodb",
            "ORCHESTRATOR_DYNAMODB_TABLE": table,
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "eu-west-1",
        }
    finally:
        delete_table(table, endpoint)


async def burst(url: str, body: bytes, headers: dict[str, str]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=COPIES, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        return list(
            await asyncio.gather(
                *[client.post(url, content=body, headers=headers) for _ in range(COPIES)]
            )
        )


def channel_posts(discord: DiscordStandIn) -> list[Any]:
    return [
        r
        for r in discord.requests
        if r.method == "POST" and r.path == f"/channels/{CHANNEL}/messages"
    ]


def follow_ups(discord: DiscordStandIn) -> list[Any]:
    return [r for r in discord.requests if r.method == "PATCH" and r.path.startswith("/webhooks/")]


def settle(discord: DiscordStandIn, count: Any, expected: int) -> int:
    discord.wait_for(lambda _: len(count(discord)) >= expected, timeout=20)
    with pytest.raises(TimeoutError):
        discord.wait_for(lambda _: len(count(discord)) > expected, timeout=QUIET)
    return len(count(discord))


def test_fifty_copies_across_two_workers_have_one_effect(
    tmp_path: Path, discord: DiscordStandIn, backend: dict[str, str], tally: Tally
) -> None:
    data = tmp_path / "data"
    identity = load_or_create_dev_identity(data)
    env = {
        "ORCHESTRATOR_DATA_DIR": str(data),
        "ORCHESTRATOR_ENV": "test",
        "ORCHESTRATOR_CONFIG": str(write_config(tmp_path, NOTIFY_TOML)),
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "DISCORD_API_BASE": discord.api_base,
        "DISCORD_BOT_TOKEN": "bot-token-for-concurrency",
        **backend,
    }
    with uvicorn_workers(env, tmp_path, workers=2) as server:
        # One GitHub delivery, fifty times at once.
        delivery = str(uuid.uuid4())
        body = dumps(PUSH)
        headers = {
            "content-type": "application/json",
            "x-github-event": "push",
            "x-github-delivery": delivery,
            "x-hub-signature-256": sign(SECRET, body),
        }
        answers = asyncio.run(burst(server.url + "/github", body, headers))
        for answer in answers:
            tally.status(answer.status_code)
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200] * (COPIES - 1) + [202], statuses
        assert sum(1 for a in answers if a.json().get("duplicate")) == COPIES - 1
        posted = settle(discord, channel_posts, 1)
        tally.duplicate(max(0, posted - 1))
        assert posted == 1

        # One deferred interaction, fifty times at once: the same job, dispatched 50 times.
        payload = interaction("/ping", interaction_id=snowflake())
        body, headers = signed(identity, payload)
        answers = asyncio.run(burst(server.url + "/discord", body, headers))
        for answer in answers:
            tally.status(answer.status_code)
        assert [a.status_code for a in answers] == [200] * COPIES
        assert {a.json()["type"] for a in answers} == {5}
        edited = settle(discord, follow_ups, 1)
        tally.duplicate(max(0, edited - 1))
        assert edited == 1
        assert "Pong" in follow_ups(discord)[0].body["content"]
        # ...and the job stays on record as done: a late copy (after the run) must have no
        # effect either, and must not put the record back to "pending" (it would be resumed
        # on every start, and a failed job would vanish from `jobs retry --failed`).
        record = _job_record(backend, data, f"job:ix-{payload['id']}")
        deadline = time.monotonic() + 3
        while (record() or {}).get("status") != "done" and time.monotonic() < deadline:
            time.sleep(0.1)
        late = httpx.post(server.url + "/discord", content=body, headers=headers, timeout=10)
        tally.status(late.status_code)
        assert late.status_code == 200
        assert settle(discord, follow_ups, 1) == 1
        status = (record() or {}).get("status")
        assert status == "done", f"job record says {status!r} after its one run"
    output = server.output()
    assert "Traceback" not in output, output[-3000:]


def _job_record(backend: dict[str, str], data: Path, key: str) -> Any:
    """A reader of one store record, from the test process (same backend as the server)."""
    if backend["ORCHESTRATOR_STORE"] == "sqlite":
        from orchestrator.store.sqlite import SQLiteStore

        store: Any = SQLiteStore(data / "orchestrator.sqlite3")
    else:
        from orchestrator.store.dynamodb import DynamoDBStore

        store = DynamoDBStore(
            backend["ORCHESTRATOR_DYNAMODB_TABLE"],
            endpoint_url=backend["AWS_ENDPOINT_URL_DYNAMODB"],
            region=backend["AWS_REGION"],
        )
    return lambda: store.get(key)
