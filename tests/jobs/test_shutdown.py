"""SIGTERM with a job in flight: recorded as pending, resumed by the next start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from orchestrator.devtools.discord_standin import DiscordStandIn
from orchestrator.store.sqlite import SQLiteStore
from tests.support.servers import free_port, wait_until_up


def start(env: dict[str, str], cwd: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "serve", "--port", str(port)],
            env={**os.environ, **env},
            cwd=cwd,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url + "/healthz", process, log)
    return process, url


def test_an_interrupted_job_resumes_after_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    log = tmp_path / "serve.log"
    with DiscordStandIn() as discord:
        env = {
            "ORCHESTRATOR_DATA_DIR": str(data),
            "ORCHESTRATOR_ENV": "dev",
            "DISCORD_API_BASE": discord.api_base,
            "ORCHESTRATOR_SHUTDOWN_GRACE": "0.5",
        }
        process, url = start(env, tmp_path, log)
        discord.delay_next(8.0)  # the follow-up hangs: the job is mid-flight at SIGTERM
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "orchestrator",
                "simulate",
                "/ping",
                "--url",
                url,
                "--capture-port",
                "1",
                "--wait",
                "1",
            ],
            env={**os.environ, **env},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert "thinking" in run.stdout, run.stdout + run.stderr
        discord.wait_for(lambda requests: len(requests) == 1, timeout=10)  # job is in flight
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal for an honest exit status
        assert process.wait(timeout=20) in (0, -signal.SIGTERM)
        assert "resume on the next start" in log.read_text()

        store = SQLiteStore(data / "orchestrator.sqlite3")
        [job] = [r for r in store.query_prefix("job:") if r.value["name"] == "discord.interaction"]
        assert job.value["status"] == "pending"
        assert job.value["attempt"] == 2
        assert job.value["interrupted"] is True

        process, url = start(env, tmp_path, log)
        try:
            discord.wait_for(lambda requests: len(requests) == 2, timeout=15)
            deadline = time.monotonic() + 10
            while store.get(job.key)["status"] != "done" and time.monotonic() < deadline:
                time.sleep(0.1)
            assert store.get(job.key)["status"] == "done"
        finally:
            process.terminate()
            process.wait(timeout=20)
        edits = [r for r in discord.requests if r.method == "PATCH"]
        assert len(edits) == 2  # the interrupted attempt's, and the resumed one's
        assert "Pong" in edits[-1].body["content"]
