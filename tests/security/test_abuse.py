"""What a stranger with the URL can make us do: nothing that costs a body read, a store call
or a network call.

The app is driven at the ASGI level, so the test sees every `receive()` the endpoint makes:
a request without well-formed signature headers (or with a stale timestamp) is refused
without reading a byte of its body, an oversized declared `Content-Length` is refused
before reading, a streamed body stops being read once it passes the cap, and a request
whose signature is merely wrong never reaches the store, the job queue, the command tree
or an API client.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.config import Settings, load_settings
from orchestrator.devkeys import DevIdentity, load_or_create_dev_identity
from orchestrator.main import create_app
from orchestrator.routers.edge import GITHUB_MAX_BODY_BYTES as GITHUB_CAP
from orchestrator.services import Services
from tests.support.asgi import post_scope
from tests.support.signing import PING_INTERACTION, discord_headers, dumps
from tests.support.tally import Tally

DISCORD_CAP = 1_048_576
SIG = "x-signature-ed25519"
STAMP = "x-signature-timestamp"
HUB = "x-hub-signature-256"


class Tripwire:
    """Stands in for a dependency that must not be touched: records and refuses every use."""

    def __init__(self, name: str, touched: list[str]) -> None:
        self._name = name
        self._touched = touched

    def __getattr__(self, attribute: str) -> Any:
        self._touched.append(f"{self._name}.{attribute}")
        raise AssertionError(f"{self._name}.{attribute} touched by an unverified request")


class GuardedServices(Services):
    def __init__(self, settings: Settings, touched: list[str]) -> None:
        super().__init__(
            settings,
            store=Tripwire("store", touched),
            jobs=Tripwire("jobs", touched),
            bot=Tripwire("bot", touched),  # type: ignore[arg-type]
            events=Tripwire("events", touched),  # type: ignore[arg-type]
        )
        self.touched = touched

    def discord_rest(self) -> Any:
        self.touched.append("discord_rest")
        raise AssertionError("Discord client built for an unverified request")

    def github(self) -> Any:
        self.touched.append("github")
        raise AssertionError("GitHub client built for an unverified request")


@dataclass
class Exchange:
    status: int
    body: bytes
    receive_calls: int
    bytes_read: int
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    app: FastAPI, path: str, headers: dict[str, str], chunks: list[bytes], *, declare: bool = True
) -> Exchange:
    """POST `chunks` as a streamed body; `declare` adds the true Content-Length."""
    # Latin-1, as ASGI servers hand header bytes over (one byte per character).
    raw_headers = [(k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()]
    if declare and not any(k == b"content-length" for k, _ in raw_headers):
        raw_headers.append((b"content-length", str(sum(map(len, chunks))).encode()))
    scope = post_scope(path, raw_headers)
    pending = list(chunks)
    state = {"calls": 0, "read": 0}
    started: dict[str, Any] = {}
    body = bytearray()

    async def receive() -> dict[str, Any]:
        state["calls"] += 1
        if not pending:
            return {"type": "http.request", "body": b"", "more_body": False}
        chunk = pending.pop(0)
        state["read"] += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.update(message)
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    asyncio.run(cast(Any, app)(scope, receive, send))
    return Exchange(
        started["status"],
        bytes(body),
        state["calls"],
        state["read"],
        {k.decode(): v.decode() for k, v in started.get("headers", [])},
    )


@pytest.fixture
def guarded(tmp_path: Path) -> tuple[FastAPI, list[str], DevIdentity]:
    data = tmp_path / "data"
    identity = load_or_create_dev_identity(data)
    touched: list[str] = []
    services = GuardedServices(load_settings(ORCHESTRATOR_DATA_DIR=data), touched)
    return create_app(services=services), touched, identity


def big(total: int, chunk: int = 1 << 20) -> list[bytes]:
    full, rest = divmod(total, chunk)
    return [b"x" * chunk] * full + ([b"x" * rest] if rest else [])


def _fresh() -> str:
    return str(int(time.time()))


DISCORD_UNSIGNED: list[tuple[str, dict[str, str]]] = [
    ("no headers", {}),
    ("no timestamp", {SIG: "a" * 128}),
    ("no signature", {STAMP: "<now>"}),
    ("short signature", {SIG: "a" * 127, STAMP: "<now>"}),
    ("non-hex signature", {SIG: "z" * 128, STAMP: "<now>"}),
    ("unicode signature", {SIG: "é" * 64, STAMP: "<now>"}),
    ("stale timestamp", {SIG: "a" * 128, STAMP: str(int(time.time()) - 3600)}),
    ("future timestamp", {SIG: "a" * 128, STAMP: str(int(time.time()) + 3600)}),
    ("negative timestamp", {SIG: "a" * 128, STAMP: "-1"}),
    ("huge timestamp", {SIG: "a" * 128, STAMP: "9" * 40}),
]


@pytest.mark.parametrize(
    ("case", "headers"), DISCORD_UNSIGNED, ids=[case for case, _ in DISCORD_UNSIGNED]
)
def test_discord_refuses_unsigned_requests_without_reading_the_body(
    guarded: tuple[FastAPI, list[str], DevIdentity],
    tally: Tally,
    case: str,
    headers: dict[str, str],
) -> None:
    app, touched, _ = guarded
    headers = {k: (_fresh() if v == "<now>" else v) for k, v in headers.items()}
    answer = call(app, "/discord", {"content-type": "application/json", **headers}, big(5 << 20))
    tally.status(answer.status)
    assert answer.status == 401, case
    assert answer.json()["error"] == "bad_signature"
    assert answer.receive_calls == 0 and answer.bytes_read == 0, case
    assert touched == []


def test_discord_wrong_signature_reads_at_most_the_cap_and_touches_nothing(
    guarded: tuple[FastAPI, list[str], DevIdentity], tally: Tally
) -> None:
    app, touched, identity = guarded
    body = dumps({**PING_INTERACTION, "type": 2, "data": {"name": "deploy"}})
    headers = discord_headers(identity, body)
    forged = body.replace(b"deploy", b"status")
    answer = call(app, "/discord", headers, [forged])
    tally.status(answer.status)
    assert answer.status == 401
    assert touched == []

    # A valid-looking request streaming past the cap (no Content-Length): cut off at the cap.
    headers = discord_headers(identity, b"")
    answer = call(app, "/discord", headers, big(4 << 20, 64 << 10), declare=False)
    tally.status(answer.status)
    assert answer.status == 413
    assert answer.bytes_read <= DISCORD_CAP + (64 << 10)
    assert touched == []


def test_discord_oversized_content_length_is_413_before_reading(
    guarded: tuple[FastAPI, list[str], DevIdentity], tally: Tally
) -> None:
    app, touched, identity = guarded
    headers = {**discord_headers(identity, b"{}"), "content-length": str(DISCORD_CAP + 1)}
    answer = call(app, "/discord", headers, [b"{}"])
    tally.status(answer.status)
    assert answer.status == 413
    assert answer.json()["error"] == "too_large"
    assert answer.receive_calls == 0
    for bad in ("abc", "-1", "+5", "1e9", " 5", "\xb2", "1\xb3"):  # superscripts: isdigit()
        answer = call(app, "/discord", {**headers, "content-length": bad}, [b"{}"])
        tally.status(answer.status)
        assert answer.status == 400 and answer.receive_calls == 0, bad
    # Past Python's 4,300-digit int() limit: still a size answer, never a 500.
    answer = call(app, "/discord", {**headers, "content-length": "9" * 5000}, [b"{}"])
    tally.status(answer.status)
    assert answer.status == 413 and answer.receive_calls == 0
    # Long ways to say 2 (either side of where the length check stops calling int()):
    # read, verified and judged on its content: `{}` has no interaction type.
    for zeros in (5000, 17, 18, 19):
        padded = {**headers, "content-length": "0" * zeros + "2"}
        answer = call(app, "/discord", padded, [b"{}"])
        tally.status(answer.status)
        assert (answer.status, answer.json()["message"]) == (400, "type must be an integer")
    # And of saying one byte over the cap, either side of it: still too large.
    for zeros in (0, 10, 18, 30):
        over = {**headers, "content-length": "0" * zeros + str(DISCORD_CAP + 1)}
        answer = call(app, "/discord", over, [b"{}"])
        tally.status(answer.status)
        assert answer.status == 413 and answer.receive_calls == 0, zeros
    assert touched == []


GITHUB_UNSIGNED: list[tuple[str, dict[str, str]]] = [
    ("no signature", {}),
    ("legacy sha1 only", {"x-hub-signature": "sha1=" + "0" * 40}),
    ("no prefix", {HUB: "0" * 64}),
    ("short digest", {HUB: "sha256=" + "0" * 63}),
    ("long digest", {HUB: "sha256=" + "0" * 65}),
    ("empty", {HUB: ""}),
    ("prefix only", {HUB: "sha256="}),
]


@pytest.mark.parametrize(
    ("case", "headers"), GITHUB_UNSIGNED, ids=[case for case, _ in GITHUB_UNSIGNED]
)
def test_github_refuses_unsigned_requests_without_reading_the_body(
    guarded: tuple[FastAPI, list[str], DevIdentity],
    tally: Tally,
    case: str,
    headers: dict[str, str],
) -> None:
    app, touched, _ = guarded
    base = {
        "x-github-event": "push",
        "x-github-delivery": "d-1",
        "content-type": "application/json",
    }
    answer = call(app, "/github", {**base, **headers}, big(30 << 20, 4 << 20))
    tally.status(answer.status)
    assert answer.status == 401, case
    assert answer.receive_calls == 0 and answer.bytes_read == 0, case
    assert touched == []


def test_github_wrong_signature_and_oversize_touch_nothing(
    guarded: tuple[FastAPI, list[str], DevIdentity], tally: Tally
) -> None:
    app, touched, _ = guarded
    base = {"x-github-event": "push", "x-github-delivery": "d-2", HUB: "sha256=" + "ab" * 32}
    answer = call(app, "/github", base, [dumps({"zen": "x"})])
    tally.status(answer.status)
    assert answer.status == 401
    assert answer.json()["message"] == "invalid request signature"

    answer = call(app, "/github", {**base, "content-length": str(GITHUB_CAP + 1)}, [b"{}"])
    tally.status(answer.status)
    assert answer.status == 413 and answer.receive_calls == 0

    answer = call(app, "/github", base, big(GITHUB_CAP + (3 << 20)), declare=False)
    tally.status(answer.status)
    assert answer.status == 413
    assert answer.bytes_read <= GITHUB_CAP + (1 << 20)
    assert touched == []


header_text = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=140),
    st.text(alphabet="0123456789abcdef", min_size=128, max_size=128),
    st.from_regex(r"\Asha256=[0-9a-f]{64}\Z"),
    st.integers(min_value=0, max_value=2**40).map(str),
)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(["/discord", "/github"]),
    names=st.lists(
        st.sampled_from([SIG, STAMP, HUB, "x-github-event", "x-github-delivery", "content-type"]),
        unique=True,
        max_size=6,
    ),
    values=st.lists(header_text, min_size=6, max_size=6),
    body=st.binary(max_size=512),
)
def test_random_unsigned_requests_never_get_past_the_door(
    guarded: tuple[FastAPI, list[str], DevIdentity],
    tally: Tally,
    path: str,
    names: list[str],
    values: list[str],
    body: bytes,
) -> None:
    app, touched, _ = guarded
    headers = dict(zip(names, values, strict=False))
    answer = call(app, path, headers, [body])
    tally.status(answer.status)
    if 200 <= answer.status < 300:
        tally.forged()
    assert answer.status in (400, 401, 413), (headers, answer.body)
    assert touched == []
