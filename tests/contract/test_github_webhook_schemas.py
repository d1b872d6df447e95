"""The GitHub stand-in's webhooks, checked against GitHub's own webhook schemas.

`orchestrator serve` in dev (and `orchestrator simulate`'s deploys) get their `workflow_run`
and `workflow_job` deliveries from the stand-in (`orchestrator/devtools/github_standin.py`).
Each delivery it sends while driving real runs (a dispatch, a re-run) is validated here
against the schema `@octokit/openapi` publishes for that event and action (`x-webhooks`),
with objects closed as in `tests/support/github_spec.py`: a field the schema does not name
is an invention a receiver could come to rely on, and a missing required one a field it
would miss on GitHub.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jsonschema import Draft4Validator

from orchestrator.devtools.github_standin import GitHubStandIn
from orchestrator.devtools.github_world import REPO
from tests.support.github_spec import spec

# GitHub's published schema for `workflow_run` `in_progress` predates two fields the same
# description documents for `requested` and `completed` (and GitHub sends with every
# action): the run's `display_title` and the users' `user_view_type`. They are allowed
# there and nowhere else; `test_the_tolerance_is_staleness_not_invention` keeps it honest.
STALE = {"workflow-run-in-progress": frozenset({"display_title", "user_view_type"})}
WAIT = 10.0  # seconds a run's deliveries may take to go out (step 0: at once, from a thread)


def _validator(event: str, action: str) -> tuple[str, Draft4Validator]:
    the_spec = spec()
    key = f"{event}-{action}".replace("_", "-")
    content = the_spec.document["x-webhooks"][key]["post"]["requestBody"]["content"]
    return key, the_spec.validator(("webhook", key), content["application/json"]["schema"])


def _problems(
    event: str, payload: dict[str, Any], tolerated: frozenset[str] = frozenset()
) -> list[str]:
    key, validator = _validator(event, str(payload.get("action")))
    problems = []
    for error in validator.iter_errors(payload):
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            named = set(error.schema.get("properties", {}))
            if set(error.instance) - named <= tolerated:
                continue
        where = "$" + "".join(f"[{p!r}]" for p in error.absolute_path)
        problems.append(f"{key} {where}: {error.message[:300]}")
    return problems


@pytest.fixture(scope="module")
def deliveries() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every delivery the stand-in sends for a dispatched run and a re-run of it, to itself
    (it answers 404, as a receiver that moved would; each is still recorded)."""
    with GitHubStandIn(step=0) as standin:
        standin.webhook_url = f"{standin.url}/_webhooks"
        runs = f"{standin.url}/repos/{REPO}/actions"
        headers = {"authorization": "Bearer standin-token"}
        with httpx.Client(headers=headers, timeout=10.0) as client:
            answer = client.post(
                f"{runs}/workflows/deploy.yml/dispatches",
                json={"ref": "main", "return_run_details": True},
            )
            assert answer.status_code == 200, answer.text
            run_id = answer.json()["workflow_run_id"]
            _wait_for_completed(standin, 1)
            assert client.post(f"{runs}/runs/{run_id}/rerun").status_code == 201
            _wait_for_completed(standin, 2)
        standin.webhook_url = None
        yield [(d.event, d.payload) for d in reversed(standin.world.deliveries)]


def _wait_for_completed(standin: GitHubStandIn, count: int) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        done = [
            d
            for d in standin.world.deliveries
            if d.event == "workflow_run" and d.action == "completed"
        ]
        if len(done) >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"fewer than {count} completed runs delivered within {WAIT} s")


def test_the_runs_sent_every_kind_of_delivery(
    deliveries: list[tuple[str, dict[str, Any]]],
) -> None:
    kinds = {(event, payload["action"]) for event, payload in deliveries}
    assert {
        ("workflow_run", "requested"),
        ("workflow_run", "in_progress"),
        ("workflow_run", "completed"),
        ("workflow_job", "queued"),
        ("workflow_job", "in_progress"),
        ("workflow_job", "completed"),
    } <= kinds


def test_every_delivery_fits_github_s_schema(
    deliveries: list[tuple[str, dict[str, Any]]],
) -> None:
    problems = []
    for event, payload in deliveries:
        key = f"{event}-{payload['action']}".replace("_", "-")
        problems += _problems(event, payload, STALE.get(key, frozenset()))
    assert not problems, "\n".join(dict.fromkeys(problems))


def test_the_tolerance_is_staleness_not_invention(
    deliveries: list[tuple[str, dict[str, Any]]],
) -> None:
    """The tolerated names are needed (the stale schema refuses them) and are GitHub's own
    (the `completed` schema of the same description accepts them in the same places)."""
    event, payload = next(
        (e, p) for e, p in deliveries if e == "workflow_run" and p["action"] == "in_progress"
    )
    strict = _problems(event, payload)
    for name in STALE["workflow-run-in-progress"]:
        assert any(name in problem for problem in strict), name
    as_completed = {**payload, "action": "completed"}
    refused = " ".join(_problems(event, as_completed))
    for name in STALE["workflow-run-in-progress"]:
        assert name not in refused, name


def test_a_repository_a_run_carries_is_the_lite_one(
    deliveries: list[tuple[str, dict[str, Any]]],
) -> None:
    """As in GitHub's published examples: the event's `repository` is the full object, the
    run's own `repository` and `head_repository` the lite one (no clone URLs, no counts)."""
    payload = next(p for e, p in deliveries if e == "workflow_run")
    assert "clone_url" in payload["repository"]
    for name in ("repository", "head_repository"):
        assert "clone_url" not in payload["workflow_run"][name]
        assert payload["workflow_run"][name]["full_name"] == REPO
