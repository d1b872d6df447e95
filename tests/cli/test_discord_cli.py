"""`orchestrator sync-commands` and `orchestrator discord-check`, against local stand-ins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator import product
from orchestrator.devtools.discord_standin import DiscordStandIn
from tests.support.discord_spec import DiscordSpec
from tests.support.servers import QuietHTTPServer, serve

bot = product.bot()


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
        check=False,
    )


@pytest.fixture
def standin() -> Iterator[DiscordStandIn]:
    with DiscordStandIn() as fake:
        yield fake


def test_sync_commands_puts_only_when_different(tmp_path: Path, standin: DiscordStandIn) -> None:
    env = {
        "ORCHESTRATOR_DATA_DIR": str(tmp_path),
        "DISCORD_API_BASE": standin.api_base,
        "DISCORD_BOT_TOKEN": "bot-token-xyz",
    }
    check = cli("sync-commands", "--check", env=env)
    assert check.returncode == 1
    assert "+ /ping" in check.stdout
    dry = cli("sync-commands", "--dry-run", env=env)
    assert dry.returncode == 0
    assert not [r for r in standin.requests if r.method == "PUT"]

    first = cli("sync-commands", env=env)
    assert first.returncode == 0, first.stderr
    [put] = [r for r in standin.requests if r.method == "PUT"]
    assert put.authorization == "Bot"
    assert put.body == bot.registration()
    DiscordSpec.get().assert_valid_request("PUT", put.path, put.body)

    second = cli("sync-commands", env=env)
    assert second.returncode == 0
    assert "in sync" in second.stdout
    assert len([r for r in standin.requests if r.method == "PUT"]) == 1
    assert "bot-token-xyz" not in first.stdout + first.stderr + second.stdout


def test_sync_commands_dry_run_shows_added_removed_and_changed(
    tmp_path: Path, standin: DiscordStandIn
) -> None:
    env = {
        "ORCHESTRATOR_DATA_DIR": str(tmp_path),
        "DISCORD_API_BASE": standin.api_base,
        "DISCORD_BOT_TOKEN": "t",
    }
    declared = bot.registration()
    stale = [c for c in declared if c["name"] != "ping"]  # /ping is not registered yet
    [audit] = [c for c in stale if c["name"] == "audit"]
    audit["description"] = "an older description"
    stale.append({"name": "ship", "description": "The old /ship", "type": 1})
    # Registered through the stand-in, which echoes ids and versions back like Discord.
    seeded = httpx.put(
        f"{standin.api_base}/applications/1/commands",
        json=stale,
        headers={"authorization": "Bot t"},
        timeout=10,
    )
    assert seeded.status_code == 200 and all("id" in c for c in standin.registered())
    puts_before = len([r for r in standin.requests if r.method == "PUT"])

    dry = cli("sync-commands", "--dry-run", env=env)

    assert dry.returncode == 0, dry.stderr
    lines = [line.strip() for line in dry.stdout.splitlines()]
    assert f"global commands ({len(declared)} declared, {len(stale)} registered):" in lines
    assert sorted(line for line in lines if line[:2] in ("+ ", "- ", "~ ")) == [
        "+ /ping",
        "- /ship",
        "~ /audit: description",
    ]
    assert len([r for r in standin.requests if r.method == "PUT"]) == puts_before
    check = cli("sync-commands", "--check", env=env)
    assert check.returncode == 1 and "~ /audit: description" in check.stdout


def test_sync_commands_for_one_guild(tmp_path: Path, standin: DiscordStandIn) -> None:
    env = {
        "ORCHESTRATOR_DATA_DIR": str(tmp_path),
        "DISCORD_API_BASE": standin.api_base,
        "DISCORD_BOT_TOKEN": "t",
    }
    assert cli("sync-commands", "--guild", "42", env=env).returncode == 0
    [put] = [r for r in standin.requests if r.method == "PUT"]
    assert put.path.endswith("/guilds/42/commands")
    assert standin.registered("42")
    assert not standin.registered()


def test_discord_check_passes_against_the_real_endpoint(tmp_path: Path) -> None:
    env = {"ORCHESTRATOR_DATA_DIR": str(tmp_path / "data"), "ORCHESTRATOR_ENV": "dev"}
    with serve(env, cwd=tmp_path) as server:
        run = cli("discord-check", "--url", server.url, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("✓") == 5


class _YesServer:
    """An endpoint that answers PONG to anything: the portal must reject it."""

    def __enter__(self) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                body = json.dumps({"type": 1}).encode()
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_discord_check_fails_an_endpoint_that_accepts_anything(tmp_path: Path) -> None:
    with _YesServer() as url:
        run = cli(
            "discord-check",
            "--url",
            url,
            "--private-key",
            "11" * 32,
            env={"ORCHESTRATOR_DATA_DIR": str(tmp_path)},
        )
    assert run.returncode == 1
    assert "✗ unsigned request is refused" in run.stdout


def test_discord_check_fails_with_the_wrong_key(tmp_path: Path) -> None:
    env = {"ORCHESTRATOR_DATA_DIR": str(tmp_path / "data"), "ORCHESTRATOR_ENV": "dev"}
    with serve(env, cwd=tmp_path) as server:
        run = cli("discord-check", "--url", server.url, "--private-key", "22" * 32, env=env)
    assert run.returncode == 1
    assert "✗ signed PING answers PONG" in run.stdout
