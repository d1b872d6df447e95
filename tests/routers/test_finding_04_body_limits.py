"""Finding 4 of the attack pass (issue 14): strangers holding memory and connections.

A well-formed but wrong signature got the body read, bodies never timed out and the size
cap was per request, so 40 connections each declaring 25 MB and never finishing held a
gigabyte; idle connections were kept forever. Through real uvicorn servers on 127.0.0.1,
with raw sockets (an HTTP client would not misbehave on purpose):

* a body that never finishes is answered 408 within `ORCHESTRATOR_BODY_TIMEOUT`, and the
  connection closed;
* bodies past the process-wide `ORCHESTRATOR_BODY_BUDGET_BYTES` are 503 with `Retry-After`
  (declared lengths count before a byte arrives, chunked ones as they arrive), a small
  signed request still goes through, and the budget is all given back afterwards;
* `orchestrator serve` closes connections that do not deliver a request head in time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn

from orchestrator.config import load_settings
from orchestrator.devkeys import load_or_create_dev_identity
from orchestrator.main import create_app
from orchestrator.services import Services
from tests.support.servers import free_port, serve
from tests.support.signing import PING_INTERACTION, discord_headers, dumps

FAKE_HUB = "sha256=" + "ab" * 32  # well formed, wrong: the edge reads the body to find out
FAKE_ED25519 = "cd" * 64


def fake_signed(path: str) -> dict[str, str]:
    """Headers that pass the edge's format checks, so it starts reading the body."""
    if path == "/github":
        return {
            "x-github-event": "push",
            "x-github-delivery": "d-4",
            "x-hub-signature-256": FAKE_HUB,
        }
    return {"x-signature-ed25519": FAKE_ED25519, "x-signature-timestamp": str(int(time.time()))}


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=5)


def send_head(sock: socket.socket, path: str, headers: dict[str, str]) -> None:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def read_answer(sock: socket.socket, timeout: float) -> Answer:
    """One HTTP/1.1 response with a Content-Length, within `timeout` seconds."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before an answer: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return Answer(int(status_line.split()[1]), headers, body)


def closed_by_server(sock: socket.socket, timeout: float) -> bool:
    """True once the server closes the connection (EOF or reset) within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if sock.recv(65536) == b"":
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False
    return False


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.02)


@contextmanager
def in_thread(app: Any) -> Iterator[str]:
    """The app under a real uvicorn on 127.0.0.1 in this process, so the test can read the
    process-wide body budget the edge keeps."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, 20, "uvicorn starting")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.mark.parametrize("path", ["/github", "/discord"])
def test_finding_04_a_body_that_never_finishes_is_408_within_the_deadline(
    tmp_path: Path, path: str
) -> None:
    env = {"ORCHESTRATOR_DATA_DIR": str(tmp_path / "data"), "ORCHESTRATOR_BODY_TIMEOUT": "1"}
    with serve(env, cwd=tmp_path) as server, contextlib.closing(connect(server.url)) as sock:
        send_head(sock, path, {**fake_signed(path), "content-length": "1000"})
        sock.sendall(b'{"zen": "')  # then nothing more, ever
        started = time.monotonic()
        answer = read_answer(sock, timeout=10)
        elapsed = time.monotonic() - started
        assert answer.status == 408, answer
        assert answer.json()["error"] == "timeout"
        assert 0.8 <= elapsed < 4, elapsed
        # The rest of the body may still come: the connection is not kept for another request.
        assert answer.headers.get("connection") == "close"
        assert closed_by_server(sock, timeout=5)


def test_finding_04_bodies_past_the_budget_are_503_and_the_budget_is_given_back(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    settings = load_settings(
        ORCHESTRATOR_DATA_DIR=data,
        ORCHESTRATOR_BODY_BUDGET_BYTES=25_000_000,
        ORCHESTRATOR_BODY_TIMEOUT=20,
    )
    identity = load_or_create_dev_identity(data)
    services = Services(settings)
    app = create_app(services=services)
    holders: list[socket.socket] = []
    try:
        with in_thread(app) as url:
            from orchestrator.routers.budget import BODIES

            assert BODIES.held == 0
            # Two strangers declare 12 MB each and send almost nothing: 24 MB claimed, both
            # still being read (nothing is answered, nothing read into memory yet).
            for _ in range(2):
                holder = connect(url)
                holders.append(holder)
                send_head(
                    holder, "/github", {**fake_signed("/github"), "content-length": "12000000"}
                )
                holder.sendall(b"{")
            wait_for(lambda: BODIES.held == 24_000_000, 10, "both declared bodies claimed")

            # A third declared body does not fit: refused before a byte of it is read.
            with contextlib.closing(connect(url)) as third:
                send_head(third, "/github", {**fake_signed("/github"), "content-length": "2000000"})
                answer = read_answer(third, timeout=10)
            assert answer.status == 503, answer
            assert answer.json()["error"] == "unavailable"
            assert int(answer.headers["retry-after"]) >= 1

            # A client waiting to be asked for its body (`Expect: 100-continue`) is not asked:
            # the first thing it hears is the 503, not an invitation to upload 2 MB first.
            with contextlib.closing(connect(url)) as polite:
                send_head(
                    polite,
                    "/github",
                    {
                        **fake_signed("/github"),
                        "content-length": "2000000",
                        "expect": "100-continue",
                    },
                )
                answer = read_answer(polite, timeout=10)
            assert answer.status == 503, answer

            # Without a Content-Length the claim grows with the chunks: cut off past the budget.
            with contextlib.closing(connect(url)) as streamer:
                send_head(
                    streamer, "/github", {**fake_signed("/github"), "transfer-encoding": "chunked"}
                )
                # One byte past the 1 MB left, and nothing after it: the server reads every
                # byte sent before it refuses, so its close cannot reset the answer away.
                size = 1_000_001
                streamer.sendall(b"%x\r\n" % size + b"x" * size)
                answer = read_answer(streamer, timeout=10)
            assert answer.status == 503, answer
            assert BODIES.held == 24_000_000  # the refused ones hold nothing

            # Discord and GitHub still get through: a small signed request is under budget.
            ping = dumps(PING_INTERACTION)
            with contextlib.closing(connect(url)) as small:
                headers = {**discord_headers(identity, ping), "content-length": str(len(ping))}
                send_head(small, "/discord", headers)
                small.sendall(ping)
                answer = read_answer(small, timeout=10)
            assert (answer.status, answer.json()) == (200, {"type": 1})

            # The strangers leave: everything they claimed is given back.
            for holder in holders:
                holder.close()
            wait_for(lambda: BODIES.held == 0, 10, "the budget given back")
    finally:
        for holder in holders:
            holder.close()
        services.close(timeout=5)


def test_finding_04_serve_closes_connections_that_send_no_request_head(tmp_path: Path) -> None:
    env = {
        "ORCHESTRATOR_DATA_DIR": str(tmp_path / "data"),
        "ORCHESTRATOR_HEADER_TIMEOUT": "1",
        "ORCHESTRATOR_KEEP_ALIVE_TIMEOUT": "1",
    }
    with serve(env, cwd=tmp_path) as server:
        silent = connect(server.url)  # connects and says nothing
        trickling = connect(server.url)  # a head that never ends
        trickling.sendall(b"POST /github HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        # After an answer, uvicorn's own keep-alive timer stops at the first byte of the next
        # request; the head deadline does not.
        kept = connect(server.url)
        kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert read_answer(kept, timeout=10).status == 200
        kept.sendall(b"G")
        started = time.monotonic()
        try:
            for name, sock in (("silent", silent), ("trickling", trickling), ("kept", kept)):
                assert closed_by_server(sock, timeout=6), name
            assert time.monotonic() - started < 6
        finally:
            for sock in (silent, trickling, kept):
                sock.close()
        # A well-behaved client is unaffected.
        with contextlib.closing(connect(server.url)) as client:
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert read_answer(client, timeout=10).status == 200


def test_finding_04_serve_flags_win_over_settings_and_are_documented(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from orchestrator.cli import main
    from orchestrator.cli.serve import connection_limits

    settings = load_settings(ORCHESTRATOR_LIMIT_CONCURRENCY=50, ORCHESTRATOR_HEADER_TIMEOUT=7)
    flags = argparse.Namespace(limit_concurrency=None, keep_alive_timeout=3, header_timeout=None)
    limits = connection_limits(settings, flags)
    assert limits["limit_concurrency"] == 50
    assert limits["timeout_keep_alive"] == 3
    assert limits["http"].keywords == {"head_timeout": 7}

    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    for text in (
        "--limit-concurrency",
        "--keep-alive-timeout",
        "--header-timeout",
        "ORCHESTRATOR_BODY_TIMEOUT",
        "ORCHESTRATOR_BODY_BUDGET_BYTES",
    ):
        assert text in shown, text
