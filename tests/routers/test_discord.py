"""`POST /discord` over HTTP: the portal handshake and every refusal."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from orchestrator.config import load_settings
from orchestrator.devkeys import DevIdentity, load_or_create_dev_identity
from orchestrator.discord.verify import sign_request
from orchestrator.main import create_app
from orchestrator.services import Services
from tests.support.signing import PING_INTERACTION, discord_headers, dumps

PING = dumps(PING_INTERACTION)


def test_signed_ping_gets_pong(client: TestClient, identity: DevIdentity) -> None:
    response = client.post("/discord", content=PING, headers=discord_headers(identity, PING))
    assert response.status_code == 200
    assert response.json() == {"type": 1}


def test_flipped_byte_in_body_is_401(client: TestClient, identity: DevIdentity) -> None:
    headers = discord_headers(identity, PING)
    altered = PING.replace(b'"version":1', b'"version":2')
    response = client.post("/discord", content=altered, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "bad_signature"


def test_flipped_byte_in_signature_is_401(client: TestClient, identity: DevIdentity) -> None:
    headers = discord_headers(identity, PING)
    sig = headers["x-signature-ed25519"]
    headers["x-signature-ed25519"] = ("0" if sig[0] != "0" else "1") + sig[1:]
    assert client.post("/discord", content=PING, headers=headers).status_code == 401


def test_flipped_timestamp_is_401(client: TestClient, identity: DevIdentity) -> None:
    headers = discord_headers(identity, PING)
    headers["x-signature-timestamp"] = str(int(headers["x-signature-timestamp"]) - 1)
    assert client.post("/discord", content=PING, headers=headers).status_code == 401


@pytest.mark.parametrize("drop", ["x-signature-ed25519", "x-signature-timestamp"])
def test_missing_headers_are_401(client: TestClient, identity: DevIdentity, drop: str) -> None:
    headers = discord_headers(identity, PING)
    del headers[drop]
    response = client.post("/discord", content=PING, headers=headers)
    assert response.status_code == 401
    assert "missing" in response.json()["message"]


def test_stale_timestamp_is_401(client: TestClient, identity: DevIdentity) -> None:
    stale = int(time.time()) - 3600
    response = client.post(
        "/discord", content=PING, headers=discord_headers(identity, PING, timestamp=stale)
    )
    assert response.status_code == 401
    assert "window" in response.json()["message"]


def test_oversize_body_is_413_before_verification(client: TestClient) -> None:
    body = b"{" + b" " * (1024 * 1024 + 10) + b"}"
    headers = {"x-signature-ed25519": "ab" * 64, "x-signature-timestamp": str(int(time.time()))}
    response = client.post("/discord", content=body, headers=headers)
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


def test_unsigned_requests_are_refused_before_the_body_is_read(client: TestClient) -> None:
    """Headers alone decide: an unsigned body is never read, whatever its size."""
    read = 0

    def body() -> Iterator[bytes]:
        nonlocal read
        for _ in range(64):
            read += 1
            yield b"x" * 65536

    response = client.post("/discord", content=body())
    assert response.status_code == 401
    assert read <= 2  # at most what the transport buffered before the answer


@pytest.mark.parametrize("body", [b"not json", b"[1,2]", b"\xff\xfe", b""])
def test_signed_but_malformed_body_is_400(
    client: TestClient, identity: DevIdentity, body: bytes
) -> None:
    response = client.post("/discord", content=body, headers=discord_headers(identity, body))
    assert response.status_code == 400
    assert response.json()["error"] == "malformed"


@pytest.mark.parametrize("kind", [0, 6, 99, "2", None])
def test_unknown_interaction_types_are_400(
    client: TestClient, identity: DevIdentity, kind: object
) -> None:
    body = json.dumps({**PING_INTERACTION, "type": kind}).encode()
    response = client.post("/discord", content=body, headers=discord_headers(identity, body))
    assert response.status_code == 400


def test_get_is_405(client: TestClient) -> None:
    assert client.get("/discord").status_code == 405


def test_signature_uses_the_exact_bytes(client: TestClient, identity: DevIdentity) -> None:
    """Whitespace Discord might send is signed too; we must not re-serialise first."""
    spaced = b'{ "type" : 1, "id": "1", "application_id": "1", "token": "t", "version": 1 }'
    stamp = str(int(time.time()))
    headers = {
        "x-signature-ed25519": sign_request(identity.discord_private_key, stamp, spaced),
        "x-signature-timestamp": stamp,
    }
    assert client.post("/discord", content=spaced, headers=headers).json() == {"type": 1}


@pytest.fixture
def ten_second_window(tmp_path: Path) -> Iterator[tuple[TestClient, DevIdentity]]:
    """The app with `DISCORD_SIGNATURE_MAX_AGE=10`, as an operator would set it."""
    data = tmp_path / "short-window"
    settings = load_settings(ORCHESTRATOR_DATA_DIR=data, DISCORD_SIGNATURE_MAX_AGE="10")
    assert settings.discord_signature_max_age == 10
    services = Services(settings)
    try:
        with TestClient(create_app(services=services), raise_server_exceptions=False) as client:
            yield client, load_or_create_dev_identity(data)
    finally:
        services.close(timeout=5)


@pytest.mark.parametrize(
    ("age", "status"),
    [(11, 401), (-11, 401), (5, 200), (-5, 200)],
    ids=["11 s old", "11 s ahead", "5 s old", "5 s ahead"],
)
def test_the_replay_window_is_the_configured_max_age(
    ten_second_window: tuple[TestClient, DevIdentity], age: int, status: int
) -> None:
    client, identity = ten_second_window
    stamp = int(time.time()) - age
    response = client.post("/discord", content=PING, headers=discord_headers(identity, PING, stamp))
    assert response.status_code == status, response.text
    if status == 401:
        assert response.json() == {
            "error": "bad_signature",
            "message": "timestamp outside the accepted window",
        }
    else:
        assert response.json() == {"type": 1}


def test_the_default_window_still_accepts_what_ten_seconds_refuses(
    client: TestClient, identity: DevIdentity
) -> None:
    """So the 401 above comes from the setting, not from some fixed limit."""
    stamp = int(time.time()) - 11
    response = client.post("/discord", content=PING, headers=discord_headers(identity, PING, stamp))
    assert response.status_code == 200
