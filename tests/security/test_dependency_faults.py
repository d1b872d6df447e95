"""Discord and GitHub misbehaving while we depend on them: bounded retries that honour the
peer's hints, a short error for the user wherever a follow-up can still be sent, and a
failed job on record wherever it cannot.

Everything goes through the real `/discord` and `/github` endpoints and the in-process job
loop, against `DiscordStandIn` and `FakeGitHub` (or a peer that resets connections or
answers garbage) on 127.0.0.1. Retries are counted at the peer.

Where the real values would only make the suite slow, the clients are built with a shorter
request timeout (1 s for Discord, 0.5 s for GitHub) and, for the transport-failure cases,
record the backoff they ask for instead of sleeping it; the retry logic is the product's.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestrator.devkeys import DevIdentity
from orchestrator.devtools.discord_standin import Captured, DiscordStandIn
from orchestrator.discord.rest import DiscordREST
from orchestrator.github.client import GitHubClient
from orchestrator.github.verify import sign
from orchestrator.services import Services
from tests.support.fake_github import FakeGitHub
from tests.support.security import (
    APPS_TOML,
    CHANNEL,
    NOTIFY_TOML,
    PUSH,
    RUNS_PATH,
    MisbehavingPeer,
    in_process,
    interaction,
    signed,
    wait_until,
    write_config,
)
from tests.support.servers import free_port
from tests.support.signing import dumps
from tests.support.tally import Tally

SECRET = "dependency-faults-webhook-secret"
MAX_MESSAGE = 400  # "short": a sentence, not a stack trace


@pytest.fixture
def discord() -> Iterator[DiscordStandIn]:
    with DiscordStandIn() as standin:
        yield standin


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        yield fake


def _env(tmp_path: Path, discord_base: str, github_base: str) -> dict[str, Any]:
    return {
        "ORCHESTRATOR_CONFIG": write_config(tmp_path, APPS_TOML, NOTIFY_TOML),
        "DISCORD_API_BASE": discord_base,
        "DISCORD_BOT_TOKEN": "bot-token-for-fault-tests",
        "GITHUB_TOKEN": "ghp_faulttoken0000000000000000000000000",
        "GITHUB_API_BASE": github_base,
        "GITHUB_WEBHOOK_SECRET": SECRET,
    }


@contextmanager
def world(
    tmp_path: Path, discord_base: str, github_base: str
) -> Iterator[tuple[TestClient, Services, DevIdentity]]:
    with in_process(tmp_path, **_env(tmp_path, discord_base, github_base)) as running:
        yield running


def run_command(
    client: TestClient, services: Services, identity: DevIdentity, line: str, timeout: float = 20
) -> dict[str, Any]:
    """Send a deferred command; wait until its job has finished; return the job record."""
    payload = interaction(line)
    body, headers = signed(identity, payload)
    response = client.post("/discord", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["type"] == 5  # deferred: "thinking…"
    key = f"job:ix-{payload['id']}"
    wait_until(
        lambda: (services.store.get(key) or {}).get("status") in ("done", "failed"),
        timeout,
        f"job for {line}",
    )
    record = services.store.get(key)
    assert record is not None
    return record


def edits(discord: DiscordStandIn) -> list[Captured]:
    return [r for r in discord.requests if r.method == "PATCH" and r.path.startswith("/webhooks/")]


def gaps(requests: list[Captured]) -> list[float]:
    return [later.at - earlier.at for earlier, later in itertools.pairwise(requests)]


# -- Discord refusing or failing the follow-up ----------------------------------------------


@pytest.mark.parametrize(
    ("body", "headers", "hint"),
    [
        ({"message": "slow down", "retry_after": 0.4, "global": False}, {}, 0.4),
        (None, {"Retry-After": "0.6"}, 0.6),
        ({"message": "slow down"}, {}, 1.0),  # no hint at all: the client's default second
    ],
    ids=["retry_after in body", "Retry-After header", "no hint"],
)
def test_discord_429_is_waited_out_and_the_follow_up_arrives(
    tmp_path: Path,
    discord: DiscordStandIn,
    github: FakeGitHub,
    tally: Tally,
    body: Any,
    headers: dict[str, str],
    hint: float,
) -> None:
    with world(tmp_path, discord.api_base, github.url) as (client, services, identity):
        discord.fail_next(429, body, headers)
        record = run_command(client, services, identity, "/ping")
    tally.tried()
    patches = edits(discord)
    assert record["status"] == "done"
    assert len(patches) == 2  # the refused one and one retry, no more
    assert gaps(patches)[0] >= hint * 0.9
    assert "Pong" in patches[-1].body["content"]


def test_discord_429_forever_is_bounded_and_the_job_stays_failed(
    tmp_path: Path, discord: DiscordStandIn, github: FakeGitHub, tally: Tally
) -> None:
    with world(tmp_path, discord.api_base, github.url) as (client, services, identity):
        discord.fail_next(429, {"message": "no", "retry_after": 0.05}, times=20)
        record = run_command(client, services, identity, "/ping")
        # and a hint beyond the client's patience is not slept through at all
        discord._script.clear()
        discord.fail_next(429, {"message": "no", "retry_after": 3600}, times=20)
        before = len(discord.requests)
        started = time.monotonic()
        patient = run_command(client, services, identity, "/ping")
        took = time.monotonic() - started
    tally.tried(2)
    assert record["status"] == "failed"
    assert "rate limited" in record["error"]
    assert len(discord.requests) - before == 1
    assert before == 4  # one attempt and three retries
    assert patient["status"] == "failed" and took < 5


def test_discord_5xx_retries_honour_retry_after_and_stop(
    tmp_path: Path, discord: DiscordStandIn, github: FakeGitHub, tally: Tally
) -> None:
    with world(tmp_path, discord.api_base, github.url) as (client, services, identity):
        discord.fail_next(502, {"message": "bad gateway"}, {"Retry-After": "0.3"}, times=2)
        recovered = run_command(client, services, identity, "/ping")
        assert len(edits(discord)) == 3
        assert all(gap >= 0.27 for gap in gaps(edits(discord)))
        discord.fail_next(503, {"message": "down"}, {"Retry-After": "0"}, times=20)
        started = time.monotonic()
        gave_up = run_command(client, services, identity, "/ping")
        took = time.monotonic() - started
    tally.tried(2)
    assert recovered["status"] == "done"
    assert gave_up["status"] == "failed"
    assert "unavailable after 4 attempt" in gave_up["error"]
    assert len(edits(discord)) == 3 + 4
    assert took < 3  # "Retry-After: 0" was honoured instead of the 0.5/1/2 s backoff


class TunedDiscordServices(Services):
    """The product's Discord client with a 1 s request timeout instead of 10 s; with
    `record_waits`, the backoff it asks for is recorded instead of slept."""

    def __init__(self, *args: Any, record_waits: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.record_waits = record_waits
        self.waits: list[float] = []

    def discord_rest(self) -> DiscordREST:
        settings = self.settings
        token = settings.discord_bot_token
        extra: dict[str, Any] = {}
        if self.record_waits:

            async def record(seconds: float) -> None:
                self.waits.append(seconds)

            extra["sleep"] = record
        return DiscordREST(
            base_url=settings.discord_api_base,
            application_id=settings.discord_application_id or "",
            bot_token=token.get_secret_value() if token is not None else None,
            timeout=1.0,
            **extra,
        )


@contextmanager
def tuned_world(
    tmp_path: Path, discord_base: str, github_base: str, *, record_waits: bool = False
) -> Iterator[tuple[TestClient, TunedDiscordServices, DevIdentity]]:
    from orchestrator.config import load_settings
    from orchestrator.devkeys import load_or_create_dev_identity
    from orchestrator.main import create_app

    data = tmp_path / "data"
    settings = load_settings(
        ORCHESTRATOR_DATA_DIR=data,
        ORCHESTRATOR_ENV="test",
        **_env(tmp_path, discord_base, github_base),
    )
    services = TunedDiscordServices(settings, record_waits=record_waits)
    identity = load_or_create_dev_identity(data)
    with TestClient(create_app(services=services), raise_server_exceptions=False) as client:
        yield client, services, identity


def test_discord_hanging_past_the_timeout_is_retried_once_more(
    tmp_path: Path, discord: DiscordStandIn, github: FakeGitHub, tally: Tally
) -> None:
    discord.delay_next(2.5)
    with tuned_world(tmp_path, discord.api_base, github.url) as (client, services, identity):
        record = run_command(client, services, identity, "/ping")
    tally.tried()
    patches = edits(discord)
    assert record["status"] == "done"
    assert len(patches) == 2
    assert 1.0 <= gaps(patches)[0] < 2.4  # gave up at the timeout, not when the answer came


@pytest.mark.parametrize("mode", ["reset", "garbage", "closed"])
def test_broken_discord_transport_fails_the_job_boundedly(
    tmp_path: Path, github: FakeGitHub, tally: Tally, mode: str
) -> None:
    with MisbehavingPeer("reset" if mode == "closed" else mode) as peer:
        base = f"http://127.0.0.1:{free_port()}" if mode == "closed" else peer.url
        with tuned_world(tmp_path, base + "/api/v10", github.url, record_waits=True) as (
            client,
            services,
            identity,
        ):
            record = run_command(client, services, identity, "/ping")
        tally.tried()
        assert record["status"] == "failed"
        if mode == "garbage":
            assert peer.requests == 1  # a 2xx may have taken effect: never resent
            assert "not JSON" in record["error"]
            assert services.waits == []
        else:
            assert peer.requests == (4 if mode == "reset" else 0)
            assert "unavailable after 4 attempt" in record["error"]
            assert services.waits == [0.5, 1.0, 2.0]  # exponential backoff, then it stops


def test_undeliverable_notification_stays_a_failed_job(
    tmp_path: Path, discord: DiscordStandIn, github: FakeGitHub, tally: Tally
) -> None:
    with world(tmp_path, discord.api_base, github.url) as (client, services, _):
        discord.fail_next(429, {"message": "no", "retry_after": 0.05, "global": True}, times=20)
        delivery = str(uuid.uuid4())
        body = dumps(PUSH)
        headers = {
            "content-type": "application/json",
            "x-github-event": "push",
            "x-github-delivery": delivery,
            "x-hub-signature-256": sign(SECRET, body),
        }
        response = client.post("/github", content=body, headers=headers)
        assert response.status_code == 202
        key = f"job:gh-{delivery}"
        wait_until(
            lambda: (services.store.get(key) or {}).get("status") in ("done", "failed"),
            20,
            "the notification job",
        )
        record = services.store.get(key)
    tally.tried()
    assert record is not None and record["status"] == "failed"
    assert record["name"] == "github.delivery"
    assert record["payload"]["delivery"] == delivery  # enough to retry it later
    posts = [r for r in discord.requests if r.path == f"/channels/{CHANNEL}/messages"]
    assert len(posts) == 4


# -- GitHub failing a deferred command: the user is told, briefly -----------------------------


def _status_follow_up(discord: DiscordStandIn) -> str:
    [patch] = edits(discord)
    content = str(patch.body.get("content") or "")
    assert content, patch.body
    assert len(content) <= MAX_MESSAGE, content
    assert "Traceback" not in content
    return content


@pytest.mark.parametrize(
    ("status", "headers", "attempts", "words"),
    [
        (500, {"Retry-After": "0"}, 4, "GitHub answered 500"),
        (502, {"Retry-After": "0"}, 4, "GitHub answered 502"),
        (429, {"Retry-After": "3600"}, 1, "rate limit"),
        (
            403,
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + 3600)},
            1,
            "rate limit",
        ),
    ],
    ids=["500", "502", "429 retry-after", "403 primary limit"],
)
def test_github_errors_end_in_a_short_follow_up(
    tmp_path: Path,
    discord: DiscordStandIn,
    github: FakeGitHub,
    tally: Tally,
    status: int,
    headers: dict[str, str],
    attempts: int,
    words: str,
) -> None:
    github.on("GET", RUNS_PATH, {"message": "Server Error"}, status=status, headers=headers)
    with world(tmp_path, discord.api_base, github.url) as (client, services, identity):
        started = time.monotonic()
        record = run_command(client, services, identity, "/status app:web")
        took = time.monotonic() - started
    tally.tried()
    assert record["status"] == "done"  # the handler's failure became a message, not a crash
    assert len(github.calls("GET", RUNS_PATH)) == attempts
    assert took < 10
    assert words in _status_follow_up(discord)


class FastGitHubServices(Services):
    """The product's GitHub client with a 0.5 s timeout, recording (not sleeping) its waits."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.waits: list[float] = []

    def github(self) -> GitHubClient:
        real = super().github()
        auth = real._auth
        base = self.settings.github_api_base

        async def record(seconds: float) -> None:
            self.waits.append(seconds)

        return GitHubClient(base_url=base, auth=auth, timeout=0.5, sleep=record)


@pytest.mark.parametrize("mode", ["hang", "reset"])
def test_github_timeouts_and_resets_end_in_a_short_follow_up(
    tmp_path: Path, discord: DiscordStandIn, tally: Tally, mode: str
) -> None:
    from orchestrator.config import load_settings
    from orchestrator.devkeys import load_or_create_dev_identity
    from orchestrator.main import create_app

    with MisbehavingPeer(mode, hang=1.5) as peer:
        base = peer.url
        data = tmp_path / "data"
        settings = load_settings(
            ORCHESTRATOR_DATA_DIR=data,
            ORCHESTRATOR_ENV="test",
            **_env(tmp_path, discord.api_base, base),
        )
        services = FastGitHubServices(settings)
        identity = load_or_create_dev_identity(data)
        with TestClient(create_app(services=services), raise_server_exceptions=False) as client:
            record = run_command(client, services, identity, "/status app:web")
        tally.tried()
    assert record["status"] == "done"
    assert peer.requests == 4  # one attempt and three retries
    assert services.waits == [1.0, 2.0, 4.0]  # exponential, bounded
    assert "no answer from GitHub" in _status_follow_up(discord)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", '{"total_count": 1, "workflow_runs": [<<<truncated'),
        ("text/html", "<html><body>Unicorn! Something went wrong.</body></html>"),
        (None, "\u0000\u00ff not json at all"),
    ],
    ids=["truncated json", "html error page", "binary garbage"],
)
def test_github_200_with_a_body_that_is_not_json_ends_in_a_short_follow_up(
    tmp_path: Path,
    discord: DiscordStandIn,
    github: FakeGitHub,
    tally: Tally,
    content_type: str | None,
    body: str,
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    github.on(
        "GET",
        RUNS_PATH,
        body,
        status=200,
        headers=headers,
        off_contract="a GitHub (or proxy) misbehaving on purpose: a 200 that is not JSON",
    )
    with world(tmp_path, discord.api_base, github.url) as (client, services, identity):
        record = run_command(client, services, identity, "/status app:web")
        alive = client.get("/healthz")
    tally.tried()
    assert record["status"] == "done"  # told the user; the job did not crash
    assert len(github.calls("GET", RUNS_PATH)) == 1  # a 200 is an answer: not retried
    assert alive.status_code == 200
    content = _status_follow_up(discord)
    assert "GitHub answered 200 with a body that is not JSON" in content
    assert content.startswith("🌧️ GitHub didn't play along"), "GitHub's fault, said so"
    assert "Unicorn" not in content and "<<<" not in content  # GitHub's body is not echoed


def test_github_peer_answering_garbage_ends_in_a_short_follow_up(
    tmp_path: Path, discord: DiscordStandIn, tally: Tally
) -> None:
    """The same at the socket level: `200 application/json`, then bytes that are not JSON."""
    with MisbehavingPeer("garbage") as peer:
        with world(tmp_path, discord.api_base, peer.url) as (client, services, identity):
            record = run_command(client, services, identity, "/status app:web")
        tally.tried()
        assert peer.requests == 1
    assert record["status"] == "done"
    assert "not JSON" in _status_follow_up(discord)
