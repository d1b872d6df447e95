"""Running a real server process on 127.0.0.1 for tests, bounded in time."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path

import httpx

VENV_BIN = Path(sys.executable).parent


class QuietHTTPServer(ThreadingHTTPServer):
    """A threaded test server that stays silent when a client hangs up mid-answer.

    Timeout tests leave on purpose before a slow fake has answered; the fake's
    late write then fails with a broken pipe, which is the expected outcome,
    not a traceback worth printing into the test log.
    """

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_up(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 20.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text(errors="replace")
            raise RuntimeError(f"server exited with {process.returncode}:\n{output}")
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


@dataclass
class Served:
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def serve(
    env: Mapping[str, str],
    cwd: Path | None = None,
    *,
    args: Sequence[str] = (),
    unset: Sequence[str] = (),
) -> Iterator[Served]:
    """`orchestrator serve` on a free port; yields its URL and log, stops it afterwards.

    `args` go to `serve`; `unset` names variables of this process the server must not see."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="orchestrator-serve-", suffix=".log")[1])
    inherited = {k: v for k, v in os.environ.items() if k not in unset}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                str(VENV_BIN / "orchestrator"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *args,
            ],
            env={**inherited, **env},
            cwd=cwd,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    served = Served(f"http://127.0.0.1:{port}", log)
    try:
        wait_until_up(served.url + "/healthz", process, log)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
