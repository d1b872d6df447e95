"""Fuzz every operation of `/openapi.json` with schemathesis, in process.

Each generated request goes to the app twice: as generated (whatever signature headers
schemathesis made up), and re-signed with the app's real keys so the fuzzed body also gets
past the signature checks and into the parsers and handlers. Every answer must be below
500, carry a status code the operation declares, and match that status code's declared
schema and content type.

Jobs go to a recording dispatcher: the fuzzing is about the HTTP surface, and must not
send follow-ups anywhere.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from orchestrator import product
from orchestrator.config import load_settings
from orchestrator.devkeys import load_or_create_dev_identity
from orchestrator.discord.verify import sign_request
from orchestrator.github.verify import sign
from orchestrator.jobs.base import Claim, Job
from orchestrator.main import create_app
from orchestrator.services import Services
from tests.support.tally import TALLY

bot = product.bot()


class RecordingJobs:
    def __init__(self) -> None:
        self.jobs: list[Job] = []

    def dispatch(self, name: str, payload: dict[str, Any], *, job_id: str | None = None) -> Job:
        job = Job(name, payload) if job_id is None else Job(name, payload, job_id)
        self.jobs.append(job)
        return job

    def submit(self, job: Job) -> Job:
        self.jobs.append(job)
        return job

    def dispatch_once(
        self, claim: Claim, name: str, payload: dict[str, Any], *, job_id: str
    ) -> Job | None:
        """Claims through the real store, as the real dispatchers do."""
        if not _SERVICES.store.claim(claim.key, claim.ttl, claim.value):
            return None
        return self.dispatch(name, payload, job_id=job_id)

    def close(self, timeout: float = 10.0) -> None:
        return None


_DATA = Path(tempfile.mkdtemp(prefix="orchestrator-fuzz-"))
_SETTINGS = load_settings(
    ORCHESTRATOR_DATA_DIR=_DATA,
    ORCHESTRATOR_ENV="test",
    GITHUB_WEBHOOK_SECRET="fuzz-webhook-secret",
    DISCORD_ADMIN_USER_IDS="900000000000000001",
    ORCHESTRATOR_CONFIG=_DATA / "orchestrator.toml",
    # Belt and braces: nothing fuzzed may reach the real GitHub (port 9 is discard/closed).
    GITHUB_API_BASE="http://127.0.0.1:9",
)
_IDENTITY = load_or_create_dev_identity(_DATA)
_JOBS = RecordingJobs()
_SERVICES = Services(_SETTINGS, jobs=_JOBS)
APP = create_app(services=_SERVICES)
SIGNED = TestClient(APP, raise_server_exceptions=False)

schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def _body_bytes(case: Any) -> bytes | None:
    body = case.body
    if body is None or not isinstance(body, dict | list | str | int | float | bool):
        return None
    if case.media_type == "application/x-www-form-urlencoded":
        from urllib.parse import urlencode

        if not isinstance(body, dict):
            return None
        fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
        return urlencode(fields).encode()
    return json.dumps(body).encode()


def _resign(case: Any) -> Any | None:
    """The same request, signed for real; None for operations without a signature."""
    path = case.operation.path
    if path not in ("/discord", "/github"):
        return None
    body = _body_bytes(case)
    if body is None:
        return None
    headers = {str(k): str(v) for k, v in (case.headers or {}).items()}
    headers["content-type"] = case.media_type or "application/json"
    if path == "/discord":
        stamp = str(int(time.time()))
        headers["x-signature-timestamp"] = stamp
        headers["x-signature-ed25519"] = sign_request(_IDENTITY.discord_private_key, stamp, body)
    else:
        headers["x-hub-signature-256"] = sign("fuzz-webhook-secret", body)
    return SIGNED.post(path, content=body, headers=headers)


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_within_its_contract(case: Any) -> None:
    response = case.call()
    TALLY.status(response.status_code)
    case.validate_response(response, checks=CHECKS)
    resigned = _resign(case)
    if resigned is not None:
        TALLY.status(resigned.status_code)
        case.validate_response(resigned, checks=CHECKS)


# -- behind the signature: random but well-signed interactions and deliveries ---------------

ADMIN = "900000000000000001"
_FUZZ_SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["web", "1", "https://example.com", "frontend_url", "deploy.yml", ""])
)
_json = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


def _option_names(node: dict[str, Any]) -> set[str]:
    """Every option (and subcommand) name below one registered command."""
    names: set[str] = set()
    for option in node.get("options") or []:
        names.add(option["name"])
        names |= _option_names(option)
    return names


# From the bot's own registry, so a new command is fuzzed the day it is added.
_COMMANDS = [command["name"] for command in bot.registration()]
_OPTION_NAMES = sorted(set().union(*(_option_names(c) for c in bot.registration())))
_CUSTOM_IDS = [
    "deploy.verify:1",
    "deploy.rerun:2",
    "deploy.cancel:x",
    "relay.confirm:1",
    "relay.cancel:1",
    "release.promote:web:" + "2" * 40,
    "release.rollback:web:" + "1" * 40,
    "release.rollback:web:none",
    "",
    "zz",
]


def test_the_fuzzed_names_cover_the_registry() -> None:
    assert len(_COMMANDS) == len(set(_COMMANDS)) >= 18
    assert {
        "relay-send",
        "relay-dm",
        "digest",
        "uptime",
        "triage",
        "release",
        "trace",
    } <= set(_COMMANDS)
    assert {"channel", "message", "user", "pr", "interaction", "period"} <= set(_OPTION_NAMES)
    routed = {custom_id.split(":")[0] for custom_id in _CUSTOM_IDS if custom_id}
    assert {name for name in routed if bot.component_route(name) is None} == {"zz"}


_names = st.sampled_from([*_COMMANDS, "nope", ""]) | st.text(max_size=12)
_option = st.fixed_dictionaries(
    {
        "name": st.sampled_from(_OPTION_NAMES) | st.text(max_size=8),
        "type": st.sampled_from([1, 2, 3, 4, 5, 10, 0, "3"]),
        "value": _json,
    },
    optional={"focused": st.booleans(), "options": st.lists(_json, max_size=2)},
)
_interaction = st.fixed_dictionaries(
    {
        "type": st.sampled_from([1, 2, 3, 4, 5]) | st.sampled_from([0, 6, 99, "2", None, True]),
        "id": st.from_regex(r"\A[0-9]{17,19}\Z") | st.text(max_size=30),
        "application_id": st.just("100000000000000001"),
        "token": st.text(alphabet="abcdefABCDEF0123456789_-", min_size=0, max_size=80),
        "version": st.just(1),
    },
    optional={
        "data": st.fixed_dictionaries(
            {},
            optional={
                "name": _names,
                "type": st.sampled_from([1, 2, 3]),
                "options": st.lists(_option, max_size=3),
                "custom_id": st.sampled_from(_CUSTOM_IDS) | st.text(max_size=30),
                "component_type": st.sampled_from([2, 3]),
                "values": st.lists(st.text(max_size=10), max_size=3),
                "components": st.lists(_json, max_size=3),
            },
        ),
        "member": st.fixed_dictionaries(
            {
                "user": st.fixed_dictionaries(
                    {"id": st.sampled_from([ADMIN, "100000000000000002"]) | st.text(max_size=5)}
                ),
                "roles": st.lists(st.text(max_size=5), max_size=3) | _json,
            }
        ),
        "guild_id": st.sampled_from(["100000000000000010"]) | _json,
        "channel_id": st.sampled_from(["100000000000000020"]) | _json,
        "message": _json,
        "extra": _json,
    },
)

_DISCORD_DECLARED = {200, 400, 401, 413}


@_FUZZ_SETTINGS
@given(payload=_interaction)
def test_signed_random_interactions_get_a_declared_answer(payload: dict[str, Any]) -> None:
    from tests.support.discord_spec import DiscordSpec

    body = json.dumps(payload).encode()
    stamp = str(int(time.time()))
    headers = {
        "content-type": "application/json",
        "x-signature-timestamp": stamp,
        "x-signature-ed25519": sign_request(_IDENTITY.discord_private_key, stamp, body),
    }
    response = SIGNED.post("/discord", content=body, headers=headers)
    TALLY.status(response.status_code)
    assert response.status_code in _DISCORD_DECLARED, (payload, response.text)
    answer = response.json()
    if response.status_code == 200:
        DiscordSpec.get().assert_valid_interaction_response(answer)
    else:
        assert set(answer) == {"error", "message"}, answer


_EVENT_NAMES = (
    "push workflow_run workflow_job deployment deployment_status pull_request check_suite "
    "release ping issues star installation"
)
_EVENTS = st.sampled_from(_EVENT_NAMES.split()) | st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=20
)
_payload = st.fixed_dictionaries(
    {},
    optional={
        "action": st.sampled_from(["completed", "requested", "in_progress", "created"]) | _json,
        "ref": st.sampled_from(["refs/heads/main", "refs/tags/v1"]) | _json,
        "repository": st.fixed_dictionaries({"full_name": st.just("acme/web") | _json}) | _json,
        "sender": _json,
        "workflow_run": st.dictionaries(
            st.sampled_from(["id", "status", "conclusion", "head_sha", "name", "path"]), _json
        )
        | _json,
        "workflow_job": _json,
        "deployment": _json,
        "deployment_status": _json,
        "commits": st.lists(_json, max_size=3),
        "zen": st.text(max_size=20),
        "hook_id": _json,
    },
)


@_FUZZ_SETTINGS
@given(
    event=_EVENTS,
    delivery=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=110),
    payload=_payload | _json,
    form=st.booleans(),
)
def test_signed_random_deliveries_get_a_declared_answer(
    event: str, delivery: str, payload: Any, form: bool
) -> None:
    from urllib.parse import urlencode

    if form:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        kind = "application/x-www-form-urlencoded"
    else:
        body, kind = json.dumps(payload).encode(), "application/json"
    headers = {
        "content-type": kind,
        "x-github-event": event,
        "x-github-delivery": delivery,
        "x-hub-signature-256": sign("fuzz-webhook-secret", body),
    }
    queued = len(_JOBS.jobs)
    response = SIGNED.post("/github", content=body, headers=headers)
    TALLY.status(response.status_code)
    assert response.status_code in {200, 202, 400}, (event, delivery, response.text)
    answer = response.json()
    if response.status_code == 400:
        assert set(answer) == {"error", "message"}, answer
    elif answer.get("accepted"):
        # nothing lost: every accepted delivery became exactly one job
        assert [job.id for job in _JOBS.jobs[queued:]] == [f"gh-{delivery}"]
    else:
        assert len(_JOBS.jobs) == queued


@pytest.mark.parametrize("path", ["/discord", "/github"])
def test_signed_deeply_nested_json_is_400_not_500(path: str) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    if path == "/discord":
        stamp = str(int(time.time()))
        headers = {
            "x-signature-timestamp": stamp,
            "x-signature-ed25519": sign_request(_IDENTITY.discord_private_key, stamp, body),
        }
    else:
        headers = {
            "x-github-event": "push",
            "x-github-delivery": "deep-1",
            "x-hub-signature-256": sign("fuzz-webhook-secret", body),
        }
    headers["content-type"] = "application/json"
    response = SIGNED.post(path, content=body, headers=headers)
    TALLY.status(response.status_code)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "malformed"
