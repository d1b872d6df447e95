"""A cold Lambda container in a fresh process: it answers events through the handler and
says which modules it imported. Configured as production on Lambda (no `.env`, the dev
identity's keys, placeholder tokens); callers add or override settings with `env`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from orchestrator.devkeys import load_or_create_dev_identity

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = """
import json, sys
events = json.load(sys.stdin)
import orchestrator.main
answers = [orchestrator.main.handler(event, None) for event in events]
if {finish_jobs!r}:
    orchestrator.main.app.state.services.close()
print(json.dumps(answers))
print(json.dumps(sorted(sys.modules)))
"""


def cold_process(
    tmp_path: Path,
    events: list[Any],
    env: dict[str, str] | None = None,
    *,
    finish_jobs: bool = False,
) -> tuple[list[Any], set[str]]:
    """The handler's answers to `events`, and every module the process imported (after
    finishing its in-process jobs, with `finish_jobs`)."""
    identity = load_or_create_dev_identity(tmp_path / "keys")
    child = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "GITHUB_"))}
    child.pop("ORCHESTRATOR_ENV_FILE", None)
    child.update(
        {
            "PYTHONPATH": str(ROOT),
            "AWS_LAMBDA_FUNCTION_NAME": "orchestrator-cold",
            "ORCHESTRATOR_ENV": "prod",
            "ORCHESTRATOR_DATA_DIR": str(tmp_path),
            "DISCORD_PUBLIC_KEY": identity.discord_public_key,
            "DISCORD_APPLICATION_ID": "100000000000000001",
            "DISCORD_BOT_TOKEN": "bot-token",
            "DISCORD_GUILD_IDS": "100000000000000003",
            "GITHUB_TOKEN": "github-token",
            "GITHUB_WEBHOOK_SECRET": identity.github_webhook_secret,
            **(env or {}),
        }
    )
    stdout = fresh_python(_SCRIPT.format(finish_jobs=finish_jobs), child, tmp_path, events)
    answers, imported = (json.loads(line) for line in stdout.strip().splitlines()[-2:])
    return answers, set(imported)


def fresh_python(script: str, env: dict[str, str], cwd: Path, given: Any = None) -> str:
    """What `script` prints, run by a fresh interpreter (this one's) with exactly `env`,
    `given` as JSON on its stdin; a failure shows its stderr."""
    run = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(given),
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout
