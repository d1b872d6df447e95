"""One app, two front doors: the Lambda handler answers exactly like the ASGI app."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import orchestrator.main
from orchestrator import logs
from orchestrator.aws.events import http_api_event, response_body
from orchestrator.config import load_settings
from orchestrator.devkeys import load_or_create_dev_identity
from orchestrator.main import create_app
from tests.support.cold import cold_process, fresh_python
from tests.support.logs import alone, json_handler
from tests.support.scripted_aws import Reply, ScriptedAWS
from tests.support.signing import PING_INTERACTION, discord_headers, dumps, github_headers

RUNTIME = Path(__file__).parent / "support" / "lambda_runtime.py"

Request = tuple[str, str, dict[str, str], bytes | None]


def requests_for(data_dir: Path) -> list[Request]:
    identity = load_or_create_dev_identity(data_dir)
    ping = dumps(PING_INTERACTION)
    gh_ping = dumps({"zen": "Design for failure.", "hook_id": 1})
    return [
        ("GET", "/healthz", {}, None),
        ("GET", "/version", {}, None),
        ("GET", "/nope", {}, None),
        ("POST", "/discord", discord_headers(identity, ping), ping),
        ("POST", "/discord", {"content-type": "application/json"}, ping),
        (
            "POST",
            "/github",
            github_headers(identity.github_webhook_secret, gh_ping, "ping", "d-1"),
            gh_ping,
        ),
        ("POST", "/github", {"x-github-event": "ping"}, gh_ping),
    ]


def run_handler(events: list[Any], env: dict[str, str]) -> list[Any]:
    """`orchestrator.main.handler` in a fresh process, as the Lambda runtime imports it."""
    run = subprocess.run(
        [sys.executable, str(RUNTIME), "-", "orchestrator.main.handler"],
        input=json.dumps(events),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    result: list[Any] = json.loads(run.stdout)
    return result


def via_client(client: TestClient, requests: list[Request]) -> list[tuple[int, Any]]:
    answers = []
    for method, path, headers, body in requests:
        response = client.request(method, path, headers=headers, content=body)
        answers.append((response.status_code, response.json()))
    return answers


def via_lambda(responses: list[dict[str, Any]]) -> list[tuple[int, Any]]:
    return [(r["statusCode"], json.loads(response_body(r))) for r in responses]


def test_handler_matches_the_asgi_app_on_the_default_stage(client: TestClient) -> None:
    # The module-level app and handler, as Lambda imports them.
    data_dir = orchestrator.main.app.state.services.settings.data_dir
    requests = requests_for(data_dir)
    with TestClient(orchestrator.main.app) as direct:
        expected = via_client(direct, requests)
    events = [http_api_event(m, p, headers=h, body=b) for m, p, h, b in requests]
    got = via_lambda([orchestrator.main.handler(event, None) for event in events])
    assert got == expected
    assert expected[0][0] == 200 and expected[3] == (200, {"type": 1})
    assert expected[4][0] == 401 and expected[6][0] == 401


def test_handler_accepts_plain_text_bodies_too() -> None:
    data_dir = orchestrator.main.app.state.services.settings.data_dir
    identity = load_or_create_dev_identity(data_dir)
    ping = dumps(PING_INTERACTION)
    event = http_api_event(
        "POST", "/discord", headers=discord_headers(identity, ping), body=ping, base64_body=False
    )
    response = orchestrator.main.handler(event, None)
    assert response["statusCode"] == 200
    assert json.loads(response_body(response)) == {"type": 1}


@pytest.fixture
def stream(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    written = io.StringIO()
    json_handler(monkeypatch, written)
    return written


def test_an_invocations_access_line_is_written_before_it_returns(stream: io.StringIO) -> None:
    # End to end. Mangum's loop itself runs the turn's end before it stops; the next test
    # is the one where only the handler's own `flush` can write the line.
    healthz = http_api_event("GET", "/healthz", headers={"x-request-id": "frozen-soon"})
    with alone():
        assert orchestrator.main.handler(healthz, None)["statusCode"] == 200
        # One line per request: ours (Mangum's own "GET /healthz 200" would repeat it).
    [access] = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert (access["logger"], access["request_id"]) == ("orchestrator.access", "frozen-soon")


def test_what_an_invocations_loop_left_pending_is_written_before_it_returns(
    stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line logged in the loop's last turn waits for a turn that never comes (the loop
    stops, the container may be frozen): the handler writes it before returning."""
    import asyncio

    def last_turn(event: dict[str, Any], context: Any) -> dict[str, Any]:
        loop = asyncio.new_event_loop()
        logger = logging.getLogger("orchestrator.access")
        loop.call_soon(logs.info_line, logger, "request", {"request_id": "last-turn"})
        loop.call_soon(loop.stop)  # in the same turn: the line's write is left for the next
        loop.run_forever()
        loop.close()
        return {"statusCode": 200}

    monkeypatch.setattr(orchestrator.main, "_handle", last_turn)
    with alone():
        assert orchestrator.main.handler({}, None) == {"statusCode": 200}
        assert json.loads(stream.getvalue())["request_id"] == "last-turn"


def test_handler_survives_a_cleared_event_loop() -> None:
    """`asyncio.run` clears the thread's current loop on exit; Mangum asks for the current
    loop on every request, so without care the next request in the container would fail."""
    import asyncio

    healthz = http_api_event("GET", "/healthz")
    assert orchestrator.main.handler(healthz, None)["statusCode"] == 200
    asyncio.run(asyncio.sleep(0))
    with pytest.raises(RuntimeError):
        asyncio.get_event_loop_policy().get_event_loop()
    assert orchestrator.main.handler(healthz, None)["statusCode"] == 200


def test_handler_on_a_named_stage_strips_the_prefix(tmp_path: Path) -> None:
    """Stage `dev` prefixes every path with `/dev`; ORCHESTRATOR_API_BASE_PATH strips it."""
    env = {
        **os.environ,
        "ORCHESTRATOR_DATA_DIR": str(tmp_path),
        "ORCHESTRATOR_API_BASE_PATH": "/dev",
    }
    requests = requests_for(tmp_path)
    events = [http_api_event(m, p, headers=h, body=b, stage="dev") for m, p, h, b in requests]
    answers = run_handler(events, env)
    got = via_lambda(answers)

    settings = load_settings(ORCHESTRATOR_DATA_DIR=tmp_path, ORCHESTRATOR_API_BASE_PATH="/dev")
    with TestClient(create_app(settings)) as direct:
        expected = via_client(direct, requests)
    assert got == expected
    assert got[0] == (200, {"status": "ok", "store": "ok"})


def test_without_the_base_path_a_named_stage_misses_every_route(tmp_path: Path) -> None:
    """The failure the setting exists for: `/dev/healthz` is not a route of ours."""
    env = {**os.environ, "ORCHESTRATOR_DATA_DIR": str(tmp_path)}
    events = [http_api_event("GET", "/healthz", stage="dev")]
    answers = run_handler(events, env)
    assert answers[0]["statusCode"] == 404


@pytest.mark.parametrize(
    "entry", [["-m", "orchestrator", "serve", "--port", "0"], ["-c", "import orchestrator.main"]]
)
def test_prod_without_secrets_refuses_to_start(tmp_path: Path, entry: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "GITHUB_"))}
    env.update({"ORCHESTRATOR_ENV": "prod", "ORCHESTRATOR_DATA_DIR": str(tmp_path)})
    run = subprocess.run(
        [sys.executable, *entry], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert run.returncode != 0
    for name in [
        "DISCORD_PUBLIC_KEY",
        "DISCORD_APPLICATION_ID",
        "DISCORD_BOT_TOKEN",
        "GITHUB_TOKEN",
        "GITHUB_WEBHOOK_SECRET",
        "DISCORD_GUILD_IDS",
    ]:
        assert name in run.stderr
    assert not (tmp_path / "dev-identity.json").exists(), "prod must never create a dev key"


def test_prod_names_only_what_is_missing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "GITHUB_"))}
    env.update(
        {
            "ORCHESTRATOR_ENV": "prod",
            "ORCHESTRATOR_DATA_DIR": str(tmp_path),
            "DISCORD_PUBLIC_KEY": "00" * 32,
            "DISCORD_APPLICATION_ID": "1",
            "DISCORD_BOT_TOKEN": "bot-secret-value",
            "GITHUB_TOKEN": "ghp_secret_value",
            "DISCORD_GUILD_IDS": "*",
        }
    )
    run = subprocess.run(
        [sys.executable, "-m", "orchestrator", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2
    assert "GITHUB_WEBHOOK_SECRET" in run.stderr
    assert "DISCORD_BOT_TOKEN" not in run.stderr
    assert "DISCORD_GUILD_IDS" not in run.stderr
    assert "bot-secret-value" not in run.stderr + run.stdout
    assert "ghp_secret_value" not in run.stderr + run.stdout


def test_job_events_are_routed_before_mangum_and_http_still_works_after(
    tmp_path: Path,
) -> None:
    """A warm container serves a job event, then HTTP: the job must not break the loop."""
    from orchestrator.jobs.base import Job

    env = {**os.environ, "ORCHESTRATOR_DATA_DIR": str(tmp_path)}
    job = Job("no.such.job", {}, id="j1").to_event()
    events = [http_api_event("GET", "/healthz"), job, http_api_event("GET", "/healthz"), job]
    answers = run_handler(events, env)
    first, job_answer, second, again = answers
    assert first["statusCode"] == 200
    assert job_answer == {"job": "j1", "status": "failed"}
    assert second["statusCode"] == 200
    assert again == {"job": "j1", "status": "duplicate"}


def test_schedule_events_run_their_job_once(tmp_path: Path) -> None:
    """EventBridge Scheduler invokes the function with a schedule event: the handler runs the
    scheduled job, and a duplicate delivery of the same slot does nothing more."""
    env = {**os.environ, "ORCHESTRATOR_DATA_DIR": str(tmp_path)}
    event = {"orchestrator_schedule": "probes.run", "at": "2026-11-29T09:00:00Z"}
    answers = run_handler([event, event, http_api_event("GET", "/healthz")], env)
    first, second, health = answers
    assert first["status"] == "done"
    assert second["status"] == "duplicate"
    assert first["job"] == second["job"]
    assert health["statusCode"] == 200


# What a cold start must not import to answer a PING: pydantic-settings and python-dotenv
# (settings are read without them; a .env only where there is one), the TOML parser (only
# where a checkout is looked for), the GitHub intake and what it needs (imported on the
# first delivery), pydantic.v1 (FastAPI imports it for a route with a declared parameter),
# and every client library (built on first use).
NOT_FOR_A_PING = (
    "pydantic_settings",
    "dotenv",
    "tomllib",
    "pydantic.v1",
    "orchestrator.github.events",
    "orchestrator.github.intake",
    "orchestrator.jobs",
    "orchestrator.store.keys",
    "orchestrator.discord.dispatch",
    "sqlite3",
    "httpx",
    "boto3",
)


def cold_start(
    tmp_path: Path,
    events: list[Any],
    names: tuple[str, ...] = NOT_FOR_A_PING,
    extra_env: dict[str, str] | None = None,
) -> tuple[list[Any], list[str]]:
    """A fresh process configured as on Lambda (production, no .env in its folder) answers
    `events`; their answers (status, body) and which of `names` it imported."""
    answers, modules = cold_process(tmp_path, events, extra_env)
    return [[a["statusCode"], a["body"]] for a in answers], sorted(set(names) & modules)


def test_a_cold_ping_imports_only_what_its_answer_needs(tmp_path: Path) -> None:
    identity = load_or_create_dev_identity(tmp_path / "keys")
    ping = dumps(PING_INTERACTION)
    event = http_api_event("POST", "/discord", headers=discord_headers(identity, ping), body=ping)
    answers, imported = cold_start(tmp_path, [event])
    assert [(status, json.loads(body)) for status, body in answers] == [(200, {"type": 1})]
    assert imported == []


# What a cold deferred slash command must not import before its type 5 answer, though it
# records its job and invokes Lambda: no AWS SDK, no httpx (the AWS client is on
# `http.client`), no anyio thread pool (the edge's dependencies are async).
NOT_FOR_A_DEFERRED = ("httpx", "httpcore", "boto3", "botocore", "anyio._backends._asyncio")


def test_a_cold_deferred_command_invokes_lambda_without_httpx(tmp_path: Path) -> None:
    identity = load_or_create_dev_identity(tmp_path / "keys")
    command = dumps(
        {
            "type": 2,
            "id": "1300000000000000001",
            "application_id": "100000000000000001",
            "token": "cold-deferred",
            "version": 1,
            "guild_id": "100000000000000003",
            "channel_id": "100000000000000004",
            "member": {"user": {"id": "100000000000000005", "username": "u"}, "permissions": "0"},
            "data": {"id": "100000000000000006", "name": "ping", "type": 1},
        }
    )
    headers = discord_headers(identity, command)
    event = http_api_event("POST", "/discord", headers=headers, body=command)
    with ScriptedAWS(Reply(200, {}), Reply(202)) as aws:
        answers, imported = cold_start(
            tmp_path,
            [event],
            NOT_FOR_A_DEFERRED + NOT_FOR_A_PING[:4],
            {
                "ORCHESTRATOR_JOBS": "lambda",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_REGION": "eu-west-1",
                "AWS_ENDPOINT_URL": aws.url,
            },
        )
    assert [(status, json.loads(body)["type"]) for status, body in answers] == [(200, 5)]
    # On Lambda the store is DynamoDB: the job is recorded (PutItem), then handed to Lambda.
    record, invoke = aws.requests[:2]
    assert record.header("X-Amz-Target") == "DynamoDB_20120810.PutItem"
    assert invoke.path == "/2015-03-31/functions/orchestrator-cold/invocations"
    assert invoke.header("X-Amz-Invocation-Type") == "Event"
    assert json.loads(invoke.body)["orchestrator_job"]["name"] == "discord.interaction"
    assert imported == []


def test_the_first_github_delivery_imports_the_intake(tmp_path: Path) -> None:
    """The other side of the PING test: the modules it keeps out are real and load when a
    request needs them (a GitHub ping parses its body with the event model)."""
    identity = load_or_create_dev_identity(tmp_path / "keys")
    body = dumps({"zen": "Design for failure.", "hook_id": 1})
    headers = github_headers(identity.github_webhook_secret, body, "ping", "d-1")
    event = http_api_event("POST", "/github", headers=headers, body=body)
    answers, imported = cold_start(tmp_path, [event])
    assert answers[0][0] == 200
    assert {"orchestrator.github.events", "orchestrator.github.intake"} <= set(imported)


_GC_PROBE = """
import gc, json, os, sys
import orchestrator
gc.collect()  # counts start from zero: the import itself decides whether any collection runs
before = [g["collections"] for g in gc.get_stats()]
if os.environ.get("PROBE_GC_OFF"):
    gc.disable()
if os.environ.get("PROBE_BROKEN_IMPORT"):
    sys.modules["orchestrator.routers.edge"] = None  # a broken install: main cannot import
try:
    import orchestrator.main
    failed = None
except Exception as exc:
    failed = type(exc).__name__
after = [g["collections"] for g in gc.get_stats()]
print(json.dumps({
    "collections_during_import": sum(after) - sum(before),
    "enabled": gc.isenabled(),
    "frozen": gc.get_freeze_count(),
    "failed": failed,
}))
"""


def _gc_probe(tmp_path: Path, **env: str) -> dict[str, Any]:
    child = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "GITHUB_"))}
    child.update(
        PYTHONPATH=str(Path(__file__).resolve().parents[1]),
        ORCHESTRATOR_ENV_FILE="",
        ORCHESTRATOR_DATA_DIR=str(tmp_path),
        **env,
    )
    stdout = fresh_python(_GC_PROBE, child, tmp_path)
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    return result


def test_the_cold_import_runs_without_the_cyclic_gc_then_freezes_what_it_built(
    tmp_path: Path,
) -> None:
    probe = _gc_probe(tmp_path, ORCHESTRATOR_ENV="test")
    assert probe["failed"] is None
    # Paused for the whole import; loading the module's own code, before its first line
    # runs, may still cross the threshold once. Unpaused, a start runs about a hundred.
    assert probe["collections_during_import"] <= 1
    assert probe["enabled"] is True  # and back on after it
    assert probe["frozen"] > 10_000  # the app's objects: out of every later collection


def test_a_failed_start_gives_the_gc_back_and_a_paused_one_stays_paused(tmp_path: Path) -> None:
    failed = _gc_probe(tmp_path, ORCHESTRATOR_ENV="prod")  # no secrets: refuses to start
    assert failed["failed"] == "ConfigError"
    assert failed["enabled"] is True
    broken = _gc_probe(tmp_path, ORCHESTRATOR_ENV="test", PROBE_BROKEN_IMPORT="1")
    assert broken["failed"] == "ModuleNotFoundError"
    assert broken["enabled"] is True  # failing before the app is built gives it back too
    kept_off = _gc_probe(tmp_path, ORCHESTRATOR_ENV="test", PROBE_GC_OFF="1")
    assert kept_off["enabled"] is False  # whoever imported us had turned it off


def test_the_two_front_doors_are_matched_before_any_other_route(tmp_path: Path) -> None:
    """Routes are tried in order, a pattern each: a delivery or an interaction must not pay
    for the docs and meta routes first."""
    from orchestrator.routers import discord, docs, github, meta

    app = create_app(load_settings(ORCHESTRATOR_DATA_DIR=tmp_path))
    # FastAPI keeps each included router as one route (`original_router`), in order, after
    # its own `/openapi.json`.
    included = [getattr(route, "original_router", None) for route in app.router.routes]
    assert [r for r in included if r is not None] == [
        discord.router,
        github.router,
        meta.router,
        docs.router,
    ]


def test_the_app_is_built_with_fastapis_telemetry_off(tmp_path: Path) -> None:
    """`_App.__call__` sends HTTP requests straight to the middleware stack, as FastAPI's own
    `__call__` does only while its telemetry is off: if this fails, recheck that shortcut."""
    app = create_app(load_settings(ORCHESTRATOR_DATA_DIR=tmp_path))
    assert app._native_telemetry.enabled() is False


def test_an_app_given_a_root_path_is_served_the_frameworks_way(tmp_path: Path) -> None:
    """FastAPI puts the app's `root_path` in the scope, and the OpenAPI page lists it as the
    server: the shortcut in `_App.__call__` steps aside for such an app."""
    app = create_app(load_settings(ORCHESTRATOR_DATA_DIR=tmp_path))
    with TestClient(app) as client:
        assert "servers" not in client.get("/openapi.json").json()
    app.root_path = "/stage"
    app.openapi_schema = None  # built per root path: forget the first one
    with TestClient(app) as client:
        assert client.get("/openapi.json").json()["servers"] == [{"url": "/stage"}]
        assert client.get("/healthz").status_code == 200


_DATACLASS_PROBE = """
import dataclasses, json
built = []
process_class = dataclasses._process_class
def spy(cls, *args, **kwargs):
    if cls.__module__.startswith("orchestrator"):
        built.append(cls.__module__ + "." + cls.__qualname__)
    return process_class(cls, *args, **kwargs)
dataclasses._process_class = spy
import orchestrator.main
print(json.dumps(built))
"""


def test_a_cold_start_defines_none_of_our_dataclasses(tmp_path: Path) -> None:
    """Every module a cold start imports is on every Lambda cold start's clock, where a frozen
    dataclass costs ~0.7 ms to define on 3.12 (its methods are generated and compiled) and a
    NamedTuple or plain class a tenth of that. Records those modules define stay cheap."""
    child = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "GITHUB_"))}
    child.update(
        PYTHONPATH=str(Path(__file__).resolve().parents[1]),
        ORCHESTRATOR_ENV_FILE="",
        ORCHESTRATOR_DATA_DIR=str(tmp_path),
        ORCHESTRATOR_ENV="test",
        AWS_LAMBDA_FUNCTION_NAME="orchestrator-cold",
    )
    built = json.loads(fresh_python(_DATACLASS_PROBE, child, tmp_path).strip().splitlines()[-1])
    assert built == []
