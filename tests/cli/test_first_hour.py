"""The first hour, for real: `make run PORT=N`, then from another folder of the checkout
`orchestrator simulate "/deploy app:demo env:staging"`: no account, no `.env`, no `--url`.

The server runs in dev on a free port, in a folder laid out like a fresh clone, with its
data dir found from the checkout (not given); `simulate` runs from a subfolder and finds
the server, its identity and its Discord stand-in through the record the server keeps.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.devtools.dev_server import RECORD_FILE
from orchestrator.devtools.simulate import DEV_CHANNEL_ID
from tests.support.servers import VENV_BIN, Served, serve

FRESH_CLONE = {
    "ORCHESTRATOR_ENV": "dev",
    "ORCHESTRATOR_ENV_FILE": "",  # no .env
    "ORCHESTRATOR_GITHUB_STANDIN_STEP": "0.5",  # a deploy in about three seconds
}
NOT_GIVEN = ("ORCHESTRATOR_DATA_DIR", "ORCHESTRATOR_CONFIG")


def clone(root: Path) -> Path:
    (root / "docs" / "notes").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "orchestrator"\nversion = "0"\n')
    return root


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clone(tmp_path_factory.mktemp("first-hour") / "orchestrator")


@pytest.fixture(scope="module")
def server(checkout: Path) -> Iterator[Served]:
    with serve(FRESH_CLONE, cwd=checkout, unset=NOT_GIVEN) as served:
        yield served


def simulate(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in NOT_GIVEN}
    return subprocess.run(
        [str(VENV_BIN / "orchestrator"), "simulate", *args, "--deploy-wait", "60"],
        cwd=cwd,
        env={**env, **FRESH_CLONE},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def in_order(output: str, *markers: str) -> list[int]:
    positions = [output.find(marker) for marker in markers]
    assert all(p >= 0 for p in positions), list(zip(markers, positions, strict=True))
    return positions


def test_deploy_the_demo_from_another_folder_of_the_checkout(
    checkout: Path, server: Served
) -> None:
    elsewhere = checkout / "docs" / "notes"
    run = simulate(elsewhere, "/deploy app:demo env:staging")
    assert run.returncode == 0, run.stdout + run.stderr + server.output()[-3000:]
    positions = in_order(
        run.stdout,
        "⏳ thinking",
        "🕒 queued",
        "⏳ in progress",
        "✅ succeeded",
        "✅ verification: all checks passed",
        "✔ deployed and verified",
    )
    assert positions == sorted(positions), run.stdout
    # The channel post the deploy caused (the demo's subscription), read from the dev
    # server's Discord stand-in by this other process.
    assert f"→ channel post in #{DEV_CHANNEL_ID}" in run.stdout
    # It is the commit's card: the tracked run is a line linking to its deploy message.
    assert re.search(r"✅ \[Deploy of demo\]\([^)]*\) succeeded.* followed live in", run.stdout)
    # One identity, one store: nothing was created in the folder the command ran from.
    assert not (elsewhere / ".orchestrator").exists()
    assert (checkout / ".orchestrator" / RECORD_FILE).exists()


def test_a_failing_deploy_exits_1_and_says_why(checkout: Path, server: Served) -> None:
    run = simulate(checkout / "docs", "/deploy app:demo env:staging inputs:fail=true")
    assert run.returncode == 1, run.stdout + run.stderr
    in_order(run.stdout, "🕒 queued", "❌ failed", "❌ verification:", "✘")
    assert "Run tests" in run.stdout  # the failing step, named by the verifier


def test_the_record_and_the_demo_go_when_the_server_stops(tmp_path: Path) -> None:
    checkout = clone(tmp_path / "orchestrator")
    data = checkout / ".orchestrator"
    with serve(FRESH_CLONE, cwd=checkout, unset=NOT_GIVEN) as served:
        assert f'"url": "{served.url}"' in (data / RECORD_FILE).read_text()
        assert (data / "demo.toml").exists()
        assert "demo app" in served.output()
    assert not (data / RECORD_FILE).exists()
    assert not (data / "demo.toml").exists()
    assert (data / "dev-identity.json").exists(), "the identity stays for the next run"
