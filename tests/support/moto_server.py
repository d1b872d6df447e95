"""moto in server mode, as a subprocess on 127.0.0.1, so AWS backends are tested over real HTTP.

Test modules use it by importing the fixtures (tests/conftest.py is not ours to extend):

    from tests.support.moto_server import moto_endpoint, moto_server  # noqa: F401

and reach them through `request.getfixturevalue("moto_endpoint")` in a local
fixture (naming them as test arguments trips ruff's F811). `moto_endpoint` is
the URL; `moto_server` adds the control API (reset, config, request
recording). However many modules import them, one server runs per session.

While the server is up, the test process carries dummy AWS credentials, a
region, no shared config files and `AWS_ENDPOINT_URL` pointing at the server,
so a boto3 client built anywhere without an explicit endpoint still cannot
reach real AWS.

Why not the stock `moto_server` script: it serves requests on parallel threads
and evaluates a conditional PutItem as read, parse the condition, write, so two
racing `claim`s both win now and then (about 1 trial in 150 of 20 claimers,
measured). Real DynamoDB serialises writes to an item. This module runs the
very same moto WSGI application and request handler, with one lock around each
request, so the contract suite's one-winner race tests our store rather than
moto's thread safety. Run directly it is that server:

    python tests/support/moto_server.py --port 5000
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"  # moto's default account
_STOP_TIMEOUT = 10.0


def aws_test_environment(endpoint: str, home: Path) -> dict[str, str]:
    """Variables that keep boto3 on the local server with throwaway credentials."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # a dummy: moto accepts anything
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@dataclass
class RecordedRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


@dataclass
class MotoServer:
    url: str
    log: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def _post(self, path: str, payload: Any = None) -> httpx.Response:
        response = httpx.post(f"{self.url}{path}", json=payload, timeout=10)
        response.raise_for_status()
        return response

    def reset(self) -> None:
        """Forget every resource in every service (`POST /moto-api/reset`)."""
        self._post("/moto-api/reset")

    def configure(self, config: dict[str, Any]) -> dict[str, Any]:
        """Set moto's runtime config, e.g. `{"lambda": {"use_docker": False}}`; returns it."""
        result: dict[str, Any] = self._post("/moto-api/config", config).json()
        return result

    def start_recording(self) -> None:
        """Record every request the server receives from now on, headers and body."""
        self._post("/moto-api/recorder/reset-recording")
        self._post("/moto-api/recorder/start-recording")

    def stop_recording(self) -> list[RecordedRequest]:
        self._post("/moto-api/recorder/stop-recording")
        response = httpx.get(f"{self.url}/moto-api/recorder/download-recording", timeout=10)
        response.raise_for_status()
        recorded = []
        for line in response.text.splitlines():
            if not line.strip():
                continue
            entry = json.loads(line)
            body = entry.get("body") or ""
            raw = base64.b64decode(body) if entry.get("body_encoded") else body.encode()
            recorded.append(
                RecordedRequest(entry["method"], entry["url"], dict(entry["headers"]), raw)
            )
        return recorded

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def delete_table(table: str, endpoint: str) -> None:
    """Drop a test's DynamoDB table so a long session does not pile them up in moto."""
    from orchestrator.aws.clients import client as aws_client

    client = aws_client("dynamodb", endpoint_url=endpoint)
    try:
        client.delete_table(TableName=table)
    finally:
        client.close()


@dataclass
class _Shared:
    server: MotoServer
    environment: pytest.MonkeyPatch
    users: int = 0


_shared: _Shared | None = None
_shared_lock = threading.Lock()


def start_moto_server(timeout: float = 30.0) -> MotoServer:
    """Launch the server on a free port and wait (bounded) until it answers."""
    from tests.support.servers import free_port, wait_until_up

    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="orchestrator-moto-"))
    log = workdir / "moto.log"
    env = {
        **os.environ,
        "MOTO_RECORDER_FILEPATH": str(workdir / "recording.jsonl"),
        "PYTHONUNBUFFERED": "1",
    }
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, __file__, "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = MotoServer(f"http://127.0.0.1:{port}", log, process)
    try:
        wait_until_up(f"{server.url}/moto-api/config", process, log, timeout=timeout)
        # There is no Docker here: Lambda invocations are recorded, not executed.
        server.configure({"lambda": {"use_docker": False}})
    except BaseException:
        stop_moto_server(server)
        raise
    return server


def stop_moto_server(server: MotoServer) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=_STOP_TIMEOUT)


def _acquire() -> MotoServer:
    """One server per test process, however many modules import the fixtures."""
    global _shared
    with _shared_lock:
        if _shared is None:
            server = start_moto_server()
            environment = pytest.MonkeyPatch()
            home = Path(tempfile.mkdtemp(prefix="orchestrator-aws-home-"))
            for name, value in aws_test_environment(server.url, home).items():
                environment.setenv(name, value)
            _shared = _Shared(server, environment)
        _shared.users += 1
        return _shared.server


def _release() -> None:
    global _shared
    with _shared_lock:
        if _shared is None:
            return
        _shared.users -= 1
        if _shared.users > 0:
            return
        shared, _shared = _shared, None
    shared.environment.undo()
    stop_moto_server(shared.server)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """The running server with its control API; AWS variables point at it meanwhile."""
    server = _acquire()
    try:
        yield server
    finally:
        _release()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """The server's URL, for `endpoint_url=`."""
    server = _acquire()
    try:
        yield server.url
    finally:
        _release()


# -- the server process ----------------------------------------------------------------------

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class SerialisedApp:
    """Handle one request at a time: moto's conditional writes are not atomic across threads."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        with self.lock:
            result = self.app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        return [body]


def main(argv: list[str] | None = None) -> None:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        SerialisedApp(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
