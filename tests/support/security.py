"""Shared pieces of the security suite: signed requests, servers, a misbehaving peer."""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from orchestrator.config import load_settings
from orchestrator.devkeys import DevIdentity, load_or_create_dev_identity
from orchestrator.devtools.simulate import Invoker, command_interaction
from orchestrator.main import create_app
from orchestrator.services import Services
from tests.support.servers import free_port, wait_until_up
from tests.support.signing import discord_headers, dumps

APPLICATION_ID = "100000000000000001"
USER = "100000000000000002"
CHANNEL = "1234567890123"

APPS_TOML = """
[[apps]]
name = "web"
repo = "acme/web"
workflow = "deploy.yml"
"""
NOTIFY_TOML = f"""
[[notify]]
repo = "acme/*"
channel_id = "{CHANNEL}"
events = ["push", "workflow_run"]
"""
PUSH = {
    "ref": "refs/heads/main",
    "repository": {"full_name": "acme/web"},
    "sender": {"login": "ada", "type": "User"},
    "commits": [{"id": "a" * 40, "message": "fix: it", "author": {"name": "Ada"}}],
}
RUNS_PATH = "/repos/acme/web/actions/workflows/deploy.yml/runs"


def interaction(line: str, *, interaction_id: str | None = None) -> dict[str, Any]:
    """The APPLICATION_COMMAND payload Discord would send for `line` (e.g. "/status app:web")."""
    from orchestrator import product

    bot = product.bot()

    raw = command_interaction(bot, line, APPLICATION_ID, Invoker(user_id=USER))
    if interaction_id is not None:
        raw["id"] = interaction_id
    return raw


def signed(identity: DevIdentity, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = dumps(payload)
    return body, discord_headers(identity, body)


def write_config(directory: Path, *parts: str) -> Path:
    path = directory / "orchestrator.toml"
    path.write_text("\n".join(parts))
    return path


@contextmanager
def in_process(tmp_path: Path, **env: Any) -> Iterator[tuple[TestClient, Services, DevIdentity]]:
    """The real app in this process (the real endpoints, jobs on the background loop)."""
    data = tmp_path / "data"
    settings = load_settings(ORCHESTRATOR_DATA_DIR=data, ORCHESTRATOR_ENV="test", **env)
    identity = load_or_create_dev_identity(data)
    services = Services(settings)
    app = create_app(services=services)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, services, identity


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout}s")
        time.sleep(0.05)


@dataclass
class Workers:
    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def uvicorn_workers(env: Mapping[str, str], cwd: Path, workers: int = 2) -> Iterator[Workers]:
    """`python -m uvicorn orchestrator.main:app --workers N` on 127.0.0.1, stopped afterwards."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="orchestrator-workers-", suffix=".log")[1])
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "orchestrator.main:app",
                "--workers",
                str(workers),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
            ],
            env={**os.environ, **env},
            cwd=cwd,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    served = Workers(f"http://127.0.0.1:{port}", log, process)
    try:
        wait_until_up(served.url + "/healthz", process, log, timeout=30)
        # Both workers must be serving, not just the first one up: uvicorn logs one
        # "Application startup complete" per worker.
        wait_until(
            lambda: served.output().count("Application startup complete") >= workers,
            20,
            f"{workers} workers starting",
        )
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class MisbehavingPeer:
    """A TCP server on 127.0.0.1 that reads a request and then misbehaves.

    `reset`: closes the connection with a TCP RST and no answer.
    `garbage`: answers 200 `application/json` whose body is not JSON.
    `hang`: holds the connection for `hang` seconds without answering, then closes it.
    Counts the requests it received, so tests can check retries are bounded.
    """

    def __init__(self, mode: str, hang: float = 3.0) -> None:
        if mode not in ("reset", "garbage", "hang"):
            raise ValueError(mode)
        self.mode = mode
        self.hang = hang
        self.requests = 0
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> MisbehavingPeer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(2)
            with contextlib.suppress(OSError):
                self._handle(conn)

    def _handle(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip() or 0)
        while len(rest) < length:
            chunk = conn.recv(4096)
            if not chunk:
                break
            rest += chunk
        with self._lock:
            self.requests += 1
        if self.mode == "hang":
            self._stop.wait(self.hang)
            return
        if self.mode == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        body = b'{"id": "1", "content": <<<not json'
        conn.sendall(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
            + body
        )
