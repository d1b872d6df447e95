"""A notification Discord refused stays recorded, and `orchestrator jobs retry` sends it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from orchestrator.config import load_settings
from orchestrator.devtools.discord_standin import DiscordStandIn
from orchestrator.github.events import Event
from orchestrator.github.intake import DELIVERY_JOB, job_payload
from orchestrator.services import Services

PUSH = {
    "ref": "refs/heads/main",
    "repository": {"full_name": "acme/web"},
    "sender": {"login": "ada", "type": "User"},
    "commits": [{"id": "a" * 40, "message": "fix: it", "author": {"name": "Ada"}}],
}


def test_failed_notification_is_listed_and_retried(tmp_path: Path) -> None:
    config = tmp_path / "orchestrator.toml"
    config.write_text('[[notify]]\nrepo = "acme/*"\nchannel_id = "77"\nevents = ["push"]\n')
    with DiscordStandIn() as discord:
        env = {
            "ORCHESTRATOR_DATA_DIR": str(tmp_path / "data"),
            "ORCHESTRATOR_ENV": "test",
            "ORCHESTRATOR_CONFIG": str(config),
            "DISCORD_API_BASE": discord.api_base,
            "DISCORD_BOT_TOKEN": "bot-token",
        }
        services = Services(load_settings(**env))
        discord.fail_next(503, {"message": "upstream"}, times=10)
        job = services.jobs.dispatch(DELIVERY_JOB, job_payload(Event("push", "d-1", PUSH)))
        assert services.jobs.drain(30)  # type: ignore[attr-defined]
        assert services.store.get(f"job:{job.id}")["status"] == "failed"
        services.close()
        discord.recover()  # Discord is back

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "orchestrator", "jobs", *args],
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                timeout=90,
                check=False,
            )

        listed = cli("list", "--status", "failed")
        assert listed.returncode == 0, listed.stderr
        assert job.id in listed.stdout and "github.delivery" in listed.stdout
        assert re.search(
            r"retries on its own in (?:[1-5]?\d s|1 min(?: \d s)?)\)", listed.stdout
        ), listed.stdout
        assert "bot-token" not in listed.stdout

        before = len(discord.requests)
        assert before == 4  # the first attempt and its three bounded retries
        retried = cli("retry", "--failed")
        assert retried.returncode == 0, retried.stdout + retried.stderr
        assert "done" in retried.stdout
        delivered = discord.requests[before:]
        assert len(delivered) == 1
        assert delivered[0].path == "/channels/77/messages"
        again = cli("retry", "--failed")
        assert "nothing to retry" in again.stdout
