"""No secret leaves the process: not in a log line, a response body, a message we post to
Discord, the store on disk, or `orchestrator config`.

One `orchestrator serve` runs with distinctive secrets (a bot token, a GitHub token, two
webhook secrets mid-rotation and an App private key) through representative traffic: signed
and unsigned interactions, a deferred command and its follow-up, a command whose GitHub call
fails with an answer echoing our credential, GitHub deliveries (ping, rotation, duplicates,
refusals) including one whose notification Discord refuses, and the error paths. Everything
that comes out is searched for each secret in its obvious encodings. The log lines must also
be JSON carrying the ids that tie them together.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator.devkeys import load_or_create_dev_identity
from orchestrator.devtools.discord_standin import DiscordStandIn
from orchestrator.github.verify import sign
from tests.support.fake_github import FakeGitHub, Recorded
from tests.support.security import (
    APPS_TOML,
    CHANNEL,
    NOTIFY_TOML,
    PUSH,
    RUNS_PATH,
    interaction,
    signed,
    wait_until,
    write_config,
)
from tests.support.servers import serve
from tests.support.signing import PING_INTERACTION, dumps
from tests.support.tally import Tally


def _app_private_key() -> str:
    import rsa

    _, private = rsa.newkeys(512)
    return private.save_pkcs1().decode()


BOT_TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAx.Gx7QkV.botSECRETmarker1-9f8e7d6c5b4a3f2e1d0c9b8a"
GITHUB_TOKEN = "ghp_SECRETmarker2githubTOKENa1b2c3d4e5f6g7"
NEW_HOOK = "whsec-SECRETmarker3-new-5e4d3c2b1a"
OLD_HOOK = "whsec-SECRETmarker4-old-0f9e8d7c6b"
APP_KEY = _app_private_key()
SECRETS = {
    "DISCORD_BOT_TOKEN": BOT_TOKEN,
    "GITHUB_TOKEN": GITHUB_TOKEN,
    "GITHUB_WEBHOOK_SECRET (new)": NEW_HOOK,
    "GITHUB_WEBHOOK_SECRET (old)": OLD_HOOK,
    "GITHUB_APP_PRIVATE_KEY": APP_KEY,
}


def encodings(secret: str) -> dict[str, str]:
    raw = secret.encode()
    forms = {
        "plain": secret,
        "url-quoted": urllib.parse.quote(secret, safe=""),
        "url-quoted (plus)": urllib.parse.quote_plus(secret),
        "json-escaped": json.dumps(secret)[1:-1],
        "base64": base64.b64encode(raw).decode().rstrip("="),
        "base64url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "hex": raw.hex(),
        "HEX": raw.hex().upper(),
    }
    if "-----BEGIN" in secret:  # a PEM: its body lines are as secret as the whole
        for index, line in enumerate(secret.splitlines()):
            if len(line) >= 32 and not line.startswith("-----"):
                forms[f"pem line {index}"] = line
    elif "SECRETmarker" in secret:  # a partial leak (a truncated secret) still shows its marker
        start = secret.index("SECRETmarker")
        forms["marker"] = secret[start : start + len("SECRETmarkerN")]
    return forms


def find_leaks(where: str, text: str) -> list[str]:
    return [
        f"{name} ({form}) in {where}"
        for name, secret in SECRETS.items()
        for form, needle in encodings(secret).items()
        if needle and needle in text
    ]


@pytest.fixture
def discord() -> Iterator[DiscordStandIn]:
    with DiscordStandIn() as standin:
        yield standin


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        yield fake


def _echo_credentials(request: Recorded) -> tuple[int, Any, dict[str, str]]:
    """A GitHub (or proxy) that quotes the credential it was given back in its error."""
    given = request.headers.get("authorization", "")
    return 401, {"message": f"Bad credentials: {given}", "documentation_url": "x"}, {}


def test_no_secret_leaks_anywhere(
    tmp_path: Path, discord: DiscordStandIn, github: FakeGitHub, tally: Tally
) -> None:
    data = tmp_path / "data"
    identity = load_or_create_dev_identity(data)
    env = {
        "ORCHESTRATOR_DATA_DIR": str(data),
        "ORCHESTRATOR_ENV": "test",
        "ORCHESTRATOR_CONFIG": str(write_config(tmp_path, APPS_TOML, NOTIFY_TOML)),
        "ORCHESTRATOR_LOG_LEVEL": "DEBUG",
        "DISCORD_API_BASE": discord.api_base,
        "DISCORD_BOT_TOKEN": BOT_TOKEN,
        "GITHUB_TOKEN": GITHUB_TOKEN,
        "GITHUB_APP_ID": "12345",
        "GITHUB_APP_INSTALLATION_ID": "67890",
        "GITHUB_APP_PRIVATE_KEY": APP_KEY,
        "GITHUB_WEBHOOK_SECRET": f"{NEW_HOOK},{OLD_HOOK}",
        "GITHUB_API_BASE": github.url,
    }
    github.respond("GET", RUNS_PATH, _echo_credentials)
    bodies: list[tuple[str, str]] = []

    with serve(env, cwd=tmp_path) as served, httpx.Client(base_url=served.url, timeout=20) as http:

        def send(what: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
            response = http.request(method, path, **kwargs)
            tally.status(response.status_code)
            bodies.append((f"{what} ({response.status_code})", response.text))
            bodies.append((f"{what} headers", json.dumps(dict(response.headers))))
            return response

        for path in ("/healthz", "/version", "/openapi.json", "/docs", "/nope"):
            send(f"GET {path}", "GET", path)
        version = http.get("/version").json()
        assert set(version) == {"version", "sha", "built_at", "python", "source"}

        # Discord: refusals, the handshake, an immediate and two deferred commands.
        body, headers = signed(identity, PING_INTERACTION)
        send("unsigned interaction", "POST", "/discord", content=body)
        forged = {**headers, "x-signature-ed25519": "0" * 128}
        send("forged interaction", "POST", "/discord", content=body, headers=forged)
        send("oversized interaction", "POST", "/discord", content=b"x" * 1_100_000, headers=headers)
        assert send("ping", "POST", "/discord", content=body, headers=headers).json() == {"type": 1}
        body, headers = signed(identity, {**PING_INTERACTION, "type": 2, "data": "x"})
        send("odd interaction", "POST", "/discord", content=body, headers=headers)
        for line in ("/help", "/ping", "/status app:web", "/config show"):
            body, headers = signed(identity, interaction(line))
            headers["x-request-id"] = f"req-{line.split()[0][1:]}"
            answer = send(line, "POST", "/discord", content=body, headers=headers)
            assert answer.status_code == 200, answer.text
            assert answer.headers["x-request-id"] == headers["x-request-id"]
        discord.wait_for(
            lambda requests: sum(1 for r in requests if r.method == "PATCH") >= 2, timeout=20
        )
        follow_up = next(
            r.body["content"] for r in discord.requests if "credentials" in str(r.body)
        )
        assert "[redacted]" in follow_up  # the echoed token was scrubbed, the rest kept

        # GitHub: rotation (old and new secret), duplicates, refusals, a failed notification.
        def deliver(what: str, secret: str, event: str, payload: Any, delivery: str) -> int:
            raw = dumps(payload)
            hook = {
                "content-type": "application/json",
                "x-github-event": event,
                "x-github-delivery": delivery,
                "x-hub-signature-256": sign(secret, raw),
            }
            return send(what, "POST", "/github", content=raw, headers=hook).status_code

        assert deliver("ping delivery", NEW_HOOK, "ping", {"zen": "hi"}, "d-ping") == 200
        assert deliver("old-secret delivery", OLD_HOOK, "push", PUSH, "d-old") == 202
        assert deliver("duplicate delivery", NEW_HOOK, "push", PUSH, "d-old") == 200
        assert deliver("wrong-secret delivery", "guess", "push", PUSH, "d-guess") == 401
        assert deliver("malformed delivery", NEW_HOOK, "push", [1, 2], "d-bad") == 400
        discord.wait_for(
            lambda requests: any(r.path == f"/channels/{CHANNEL}/messages" for r in requests),
            timeout=20,
        )
        discord.fail_next(401, {"message": "401: Unauthorized", "code": 0}, times=5)
        failing = str(uuid.uuid4())
        assert deliver("refused notification", NEW_HOOK, "push", PUSH, failing) == 202
        wait_until(
            lambda: (
                f'"delivery_id": "{failing}"' in served.output() and "job failed" in served.output()
            ),
            20,
            "the refused notification's job failing",
        )
        config = subprocess.run(
            [sys.executable, "-m", "orchestrator", "config"],
            env={**os.environ, **env},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    log = served.output()

    assert config.returncode == 0, config.stderr
    shown = dict(line.split(None, 1) for line in config.stdout.splitlines() if " " in line)
    assert shown["DISCORD_BOT_TOKEN"].strip() == "set"
    assert shown["GITHUB_TOKEN"].strip() == "set"
    assert shown["GITHUB_APP_PRIVATE_KEY"].strip() == "set"
    assert shown["GITHUB_WEBHOOK_SECRET"].strip() == "set (2)"

    sent_to_discord = [
        (f"{r.method} {r.route}", json.dumps(r.body)) for r in discord.requests if r.body
    ]
    sent_to_github = [(f"{r.method} {r.path}", json.dumps(r.body)) for r in github.requests]
    store = (data / "orchestrator.sqlite3").read_bytes().decode("utf-8", "replace")
    wal = data / "orchestrator.sqlite3-wal"
    if wal.exists():
        store += wal.read_bytes().decode("utf-8", "replace")
    leaks = (
        find_leaks("server output", log)
        + find_leaks("orchestrator config", config.stdout + config.stderr)
        + find_leaks("the store on disk", store)
        + [leak for where, text in bodies for leak in find_leaks(where, text)]
        + [leak for where, text in sent_to_discord for leak in find_leaks(where, text)]
        + [leak for where, text in sent_to_github for leak in find_leaks(where, text)]
    )
    tally.tried(len(bodies) + len(sent_to_discord) + len(log.splitlines()))
    tally.leaked(len(leaks))
    assert leaks == []

    check_log_lines(log)


def check_log_lines(log: str) -> None:
    lines = log.splitlines()
    first_json = next(i for i, line in enumerate(lines) if line.startswith("{"))
    entries = []
    for line in lines[first_json:]:
        entry = json.loads(line)  # every line after the startup banner is one JSON object
        assert {"ts", "level", "logger", "msg"} <= set(entry), entry
        entries.append(entry)

    access = [e for e in entries if e["logger"] == "orchestrator.access"]
    assert len(access) >= 20
    for entry in access:
        assert {"request_id", "route", "method", "status", "duration_ms"} <= set(entry), entry
        assert isinstance(entry["duration_ms"], int | float)
    interactions = [e for e in access if e["route"] == "/discord" and e["status"] == 200]
    assert interactions and all("interaction_id" in e for e in interactions)
    deliveries = [e for e in access if e["route"] == "/github" and e["status"] in (200, 202)]
    assert deliveries and all("delivery_id" in e for e in deliveries)
    assert {e["request_id"] for e in access} >= {"req-help", "req-ping", "req-status"}

    # Work done later, in a job, still names what it was for.
    jobs = [e for e in entries if "job_id" in e]
    assert jobs
    for entry in jobs:
        assert "interaction_id" in entry or "delivery_id" in entry, entry
    failed = [e for e in entries if e["msg"] == "job failed"]
    assert failed and all(e.get("delivery_id") for e in failed)
