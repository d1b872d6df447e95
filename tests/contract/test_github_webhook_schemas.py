"""The GitHub stand-in's webhooks, checked against GitHub's own webhook schemas.

`orchestrator serve` in dev (and `orchestrator simulate`'s deploys) get their `workflow_run`,
`workflow_job` and `deployment_status` deliveries from the stand-in
(`orchestrator/devtools/github_standin.py`). Each delivery it sends while driving real runs (a
dispatch, a re-run) and recording a Deployment's statuses is validated here
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
# action): the run's `display_title` and its users' `user_view_type`. They are allowed
# there, in those places alone; `test_the_tolerance_is_staleness_not_invention` checks
# each such delivery against the `completed` schema, which types them.
Place = tuple[str | int, ...]
_USER = frozenset({"user_view_type"})
STALE: dict[str, dict[Place, frozenset[str]]] = {
    "workflow-run-in-progress": {
        ("workflow_run",): frozenset({"display_title"}),
        ("workflow_run", "actor"): _USER,
        ("workflow_run", "triggering_actor"): _USER,
        ("workflow_run", "repository", "owner"): _USER,
        ("workflow_run", "head_repository", "owner"): _USER,
    }
}
WAIT = 10.0  # seconds a run's deliveries may take to go out (step 0: at once, from a thread)


def _validator(event: str, action: str) -> tuple[str, Draft4Validator]:
    the_spec = spec()
    key = f"{event}-{action}".replace("_", "-")
    content = the_spec.document["x-webhooks"][key]["post"]["requestBody"]["content"]
    return key, the_spec.validator(("webhook", key), content["application/json"]["schema"])


def _problems(event: str, payload: dict[str, Any], *, strict: bool = False) -> list[str]:
    """What GitHub's schema for the payload's event and action refuses in it (the stale
    schema's omissions tolerated, in their places, unless `strict`)."""
    key, validator = _validator(event, str(payload.get("action")))
    stale = {} if strict else STALE.get(key, {})
    problems = []
    for error in validator.iter_errors(payload):
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            extra = set(error.instance) - set(error.schema.get("properties", {}))
            if extra <= stale.get(tuple(error.absolute_path), frozenset()):
                continue
        where = "$" + "".join(f"[{p!r}]" for p in error.absolute_path)
        problems.append(f"{key} {where}: {error.message[:300]}")
    return problems


@pytest.fixture(scope="module")
def deliveries() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every delivery the stand-in sends, to itself (it answers 404, as a receiver that moved
    would; each is still recorded), for: a dispatched run and its re-run, a failing run and
    the re-run of its failed jobs, a Deployment's statuses (as the orchestrator posts them)."""
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
            answer = client.post(
                f"{runs}/workflows/deploy.yml/dispatches",
                json={"ref": "main", "inputs": {"fail": "true"}, "return_run_details": True},
            )
            failing = answer.json()["workflow_run_id"]
            _wait_for_completed(standin, 3)
            rerun = client.post(f"{runs}/runs/{failing}/rerun-failed-jobs")
            assert rerun.status_code == 201
            _wait_for_completed(standin, 4)
            deployments = f"{standin.url}/repos/{REPO}/deployments"
            created = client.post(
                deployments,
                json={
                    "ref": "main",
                    "environment": "staging",
                    "auto_merge": False,
                    "required_contexts": [],
                },
            )
            assert created.status_code == 201, created.text
            statuses = f"{deployments}/{created.json()['id']}/statuses"
            for state, extra in (
                ("in_progress", {}),
                ("failure", {"description": "verification failed", "log_url": standin.url}),
            ):
                answer = client.post(statuses, json={"state": state, **extra})
                assert answer.status_code == 201, answer.text
            _wait_for(standin, "deployment_status", 2)
        standin.webhook_url = None
        yield [(d.event, d.payload) for d in reversed(standin.world.deliveries)]


def _wait_for_completed(standin: GitHubStandIn, count: int) -> None:
    _wait_for(standin, "workflow_run", count, "completed")


def _wait_for(standin: GitHubStandIn, event: str, count: int, action: str | None = None) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        sent = list(standin.world.deliveries)  # one copy, taken whole (a thread adds to it)
        done = [d for d in sent if d.event == event and action in (None, d.action)]
        if len(done) >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"fewer than {count} {event} {action or ''} delivered within {WAIT} s")


def test_the_runs_sent_every_kind_of_delivery(
    deliveries: list[tuple[str, dict[str, Any]]],
) -> None:
    kinds = {(event, payload["action"]) for event, payload in deliveries}
    runs = [p["workflow_run"] for e, p in deliveries if e == "workflow_run"]
    conclusions = {run["conclusion"] for run in runs}
    assert {"success", "failure"} <= conclusions
    assert {
        ("workflow_run", "requested"),
        ("workflow_run", "in_progress"),
        ("workflow_run", "completed"),
        ("workflow_job", "queued"),
        ("workflow_job", "in_progress"),
        ("workflow_job", "completed"),
        ("deployment_status", "created"),
    } <= kinds
    states = [p["deployment_status"]["state"] for e, p in deliveries if e == "deployment_status"]
    assert sorted(states) == ["failure", "in_progress"]  # each from its own thread: any order


def test_every_delivery_fits_github_s_schema(
    deliveries: list[tuple[str, dict[str, Any]]],
) -> None:
    problems = []
    for event, payload in deliveries:
        problems += _problems(event, payload)
    assert not problems, "\n".join(dict.fromkeys(problems))


def test_the_tolerance_is_staleness_not_invention(
    deliveries: list[tuple[str, dict[str, Any]]],
) -> None:
    """The tolerated names are needed (the stale schema refuses them) and are GitHub's own:
    the `completed` schema of the same description accepts every `in_progress` delivery's
    use of them, type included."""
    tolerated = set().union(*STALE["workflow-run-in-progress"].values())
    in_progress = [
        (e, p) for e, p in deliveries if e == "workflow_run" and p["action"] == "in_progress"
    ]
    assert len(in_progress) == 4  # one per run: two dispatched, two re-run
    for event, payload in in_progress:
        strict = " ".join(_problems(event, payload, strict=True))
        assert all(name in strict for name in tolerated), strict
        as_completed = " ".join(_problems(event, {**payload, "action": "completed"}))
        assert not [name for name in tolerated if name in as_completed], as_completed


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
