"""`orchestrator verify-deploy` against the local server: right SHA passes, wrong SHA fails."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from orchestrator.cli.verify_deploy import sha_matches
from tests.support.servers import Served, serve


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("gate")
    with serve(
        {"ORCHESTRATOR_DATA_DIR": str(tmp / "data"), "ORCHESTRATOR_ENV": "dev"}, cwd=tmp
    ) as served:
        yield served


def gate(server: Served, sha: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestrator",
            "verify-deploy",
            "--url",
            server.url,
            "--expect-sha",
            sha,
            *extra,
        ],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=60,
        check=False,
    )


ROOT = Path(__file__).resolve().parents[2]


def test_the_running_sha_passes(server: Served) -> None:
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout.strip()
    assert len(head) == 40
    assert httpx.get(server.url + "/version").json()["sha"] == head, "a checkout runs its HEAD"
    run = gate(server, head)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "✓" in run.stdout


def test_a_different_sha_fails_after_bounded_retries(server: Served) -> None:
    run = gate(server, "f" * 40, "--timeout", "2", "--interval", "0.5")
    assert run.returncode == 1
    assert "expected ffffffffff" in run.stdout
    assert run.stdout.count("round") >= 2


def test_an_unreachable_url_fails(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestrator",
            "verify-deploy",
            "--url",
            "http://127.0.0.1:9",
            "--expect-sha",
            "a" * 40,
            "--timeout",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1
    assert "ConnectError" in run.stdout


@pytest.mark.parametrize(
    ("running", "expected", "ok"),
    [
        ("a" * 40, "a" * 40, True),
        ("A" * 40, "a" * 40, True),
        ("abcdef1" + "0" * 33, "abcdef1", True),
        ("abcdef1" + "0" * 33, "abcdef", False),
        ("b" * 40, "a" * 40, False),
        (None, "a" * 40, False),
        ("unknown", "unknown", False),
    ],
)
def test_sha_matching(running: object, expected: str, ok: bool) -> None:
    assert sha_matches(running, expected) is ok


FULL = "abcdef1" + "0" * 33


@pytest.mark.parametrize(
    ("running", "expected", "ok"),
    [
        # A different commit that merely shares the first 7 characters is refused.
        ("abcdef1" + "1" * 33, FULL, False),
        (FULL, "abcdef1" + "1" * 33, False),
        # A short expected SHA (7+ hex digits) may prefix the running one (documented).
        (FULL, "abcdef1", True),
        (FULL, "ABCDEF1000", True),
        ("abcdef2" + "0" * 33, "abcdef1", False),
        # Case does not matter, length does: a short running SHA never stands for a full one.
        (FULL.upper(), FULL, True),
        ("abcdef1", FULL, False),
        (FULL, FULL + "0", False),
        (FULL, "main", False),
        (FULL, "abcdef1; true", False),
    ],
)
def test_the_gate_compares_whole_shas(running: str, expected: str, ok: bool) -> None:
    """Found by mutation: a gate that compared only the first 7 characters passed every test.
    The gate compares whole SHAs; only a short *expected* SHA is a prefix."""
    assert sha_matches(running, expected) is ok
