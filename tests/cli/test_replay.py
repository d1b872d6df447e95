"""`orchestrator replay` against a running server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.github_examples import load_examples
from tests.support.servers import serve


def test_replay_a_directory_and_a_recorded_delivery(tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    examples = load_examples()
    run_payload = next(p for e, p in examples if e == "workflow_run")
    (fixtures / "1-workflow_run.json").write_text(json.dumps(run_payload))
    recorded = {
        "headers": {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "r-1"},
        "payload": {"zen": "Responsive is better than fast.", "hook_id": 1},
    }
    (fixtures / "2-recorded.json").write_text(json.dumps(recorded))
    env = {"ORCHESTRATOR_DATA_DIR": str(tmp_path / "data"), "ORCHESTRATOR_ENV": "dev"}
    with serve(env, cwd=tmp_path) as server:
        run = subprocess.run(
            [sys.executable, "-m", "orchestrator", "replay", str(fixtures), "--url", server.url],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        lines = run.stdout.strip().splitlines()
        assert len(lines) == 2
        assert lines[0].startswith("✓ workflow_run") and "→ 202" in lines[0]
        assert lines[1].startswith("✓ ping") and "→ 200" in lines[1]

        wrong = subprocess.run(
            [
                sys.executable,
                "-m",
                "orchestrator",
                "replay",
                str(fixtures),
                "--url",
                server.url,
                "--secret",
                "not-the-secret",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
        assert wrong.returncode == 1
        assert wrong.stdout.count("→ 401") == 2


def test_replay_finds_the_dev_server_without_url(tmp_path: Path) -> None:
    """Any port: the dev server records where it listens, and replay goes there."""
    fixture = tmp_path / "ping.json"
    fixture.write_text(json.dumps({"zen": "Mind your words, they are important.", "hook_id": 1}))
    env = {"ORCHESTRATOR_DATA_DIR": str(tmp_path / "data"), "ORCHESTRATOR_ENV": "dev"}
    with serve(env, cwd=tmp_path):
        run = subprocess.run(
            [sys.executable, "-m", "orchestrator", "replay", str(fixture)],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("✓ ping") and "→ 200" in run.stdout
