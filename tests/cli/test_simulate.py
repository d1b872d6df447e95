"""`orchestrator simulate` against a running server: the newcomer's first five minutes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import Served, free_port, serve


@pytest.fixture(scope="module")
def capture_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def tmp_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("simulate")


@pytest.fixture(scope="module")
def server(tmp_path: Path, capture_port: int) -> Iterator[Served]:
    env = {
        "ORCHESTRATOR_DATA_DIR": str(tmp_path / "data"),
        "ORCHESTRATOR_ENV": "dev",
        "DISCORD_API_BASE": f"http://127.0.0.1:{capture_port}/api/v10",
    }
    with serve(env, cwd=tmp_path) as served:
        yield served


def simulate(
    tmp_path: Path, server: Served, capture_port: int, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "ORCHESTRATOR_DATA_DIR": str(tmp_path / "data"),
        "ORCHESTRATOR_ENV": "dev",
        "ORCHESTRATOR_ENV_FILE": "",
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestrator",
            "simulate",
            *args,
            "--url",
            server.url,
            "--capture-port",
            str(capture_port),
            "--wait",
            "20",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def test_deferred_command_shows_its_follow_up(
    tmp_path: Path, server: Served, capture_port: int
) -> None:
    run = simulate(tmp_path, server, capture_port, "/ping")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "thinking" in out
    assert "→ follow-up" in out
    assert "Pong" in out
    assert out.index("thinking") < out.index("Pong")


def test_immediate_command_prints_the_answer(
    tmp_path: Path, server: Served, capture_port: int
) -> None:
    run = simulate(tmp_path, server, capture_port, "/help")
    assert run.returncode == 0, run.stderr
    assert "/ping" in run.stdout
    assert "→ follow-up" not in run.stdout


def test_json_output_is_machine_readable(tmp_path: Path, server: Served, capture_port: int) -> None:
    run = simulate(tmp_path, server, capture_port, "/help", "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["answer"]["type"] == 4


def test_admin_commands_are_refused_for_other_users(
    tmp_path: Path, server: Served, capture_port: int
) -> None:
    run = simulate(tmp_path, server, capture_port, "/notify list", "--user", "555")
    assert run.returncode == 0, run.stderr
    assert "admin" in run.stdout


def test_bad_command_lines_explain_themselves(
    tmp_path: Path, server: Served, capture_port: int
) -> None:
    run = simulate(tmp_path, server, capture_port, "/nope")
    assert run.returncode == 2
    assert "/ping" in run.stderr
    run = simulate(tmp_path, server, capture_port, "/notify add repo:x")
    assert run.returncode == 2
    assert "channel" in run.stderr
