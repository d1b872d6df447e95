"""Running a real server process on 127.0.0.1 for tests, bounded in time."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

VENV_BIN = Path(sys.executable).parent


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
def serve(env: Mapping[str, str], cwd: Path | None = None) -> Iterator[Served]:
    """`orchestrator serve` on a free port; yields its URL and log, stops it afterwards."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="orchestrator-serve-", suffix=".log")[1])
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(VENV_BIN / "orchestrator"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env={**os.environ, **env},
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
