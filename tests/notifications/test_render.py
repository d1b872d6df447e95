"""Rendering: table-tested for the noise filter, contract-tested on GitHub's own examples."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from orchestrator.github.events import Event, slim
from orchestrator.notifications.render import (
    NOTIFIABLE_EVENTS,
    FailedJob,
    needs_failed_jobs,
    render,
)
from tests.support.discord_spec import DiscordSpec
from tests.support.github_examples import load_examples


def test_every_github_example_renders_to_a_valid_discord_message_or_nothing() -> None:
    spec = DiscordSpec.get()
    rendered = 0
    for name, payload in load_examples():
        message = render(Event(name, "d", payload))
        if message is None:
            continue
        rendered += 1
        spec.assert_valid_request("POST", "/channels/1/messages", message.to_data())
        # and the same message as an edit of an interaction reply
        spec.assert_valid_request(
            "PATCH", "/webhooks/1/t/messages/@original", message.to_data(edit=True)
        )
    assert rendered >= 10


def test_every_github_example_slims_under_the_job_limit() -> None:
    for _, payload in load_examples():
        slimmed = slim(payload)
        assert len(json.dumps(slimmed)) <= 200_000
        assert slimmed.get("action") == payload.get("action")


def test_a_25mb_push_slims_and_still_renders() -> None:
    commits = [
        {
            "id": f"{i:040x}",
            "message": "fix: " + "x" * 5000,
            "url": "https://x/c",
            "author": {"name": "a", "username": "a"},
        }
        for i in range(5000)
    ]
    payload = {
        "ref": "refs/heads/main",
        "commits": commits,
        "compare": "https://x",
        "repository": {"full_name": "acme/web", "name": "web", "description": "d" * 10**6},
        "sender": {"login": "ada", "type": "User"},
        "pusher": {"name": "ada"},
    }
    assert len(json.dumps(payload)) > 25_000_000
    slimmed = slim(payload)
    assert len(json.dumps(slimmed)) <= 200_000
    message = render(Event("push", "d", slimmed))
    assert message is not None
    assert "commits to main" in message.embeds[0]["title"]


@pytest.mark.parametrize(
    ("name", "payload", "renders"),
    [
        ("workflow_run", {"action": "requested", "workflow_run": {}}, False),
        ("workflow_run", {"action": "in_progress", "workflow_run": {}}, False),
        ("workflow_run", {"action": "completed", "workflow_run": {"conclusion": "success"}}, True),
        ("workflow_job", {"action": "completed", "workflow_job": {"conclusion": "success"}}, False),
        ("workflow_job", {"action": "completed", "workflow_job": {"conclusion": "failure"}}, True),
        ("pull_request", {"action": "labeled", "pull_request": {}}, False),
        ("pull_request", {"action": "opened", "pull_request": {"number": 1}}, True),
        ("pull_request", {"action": "closed", "pull_request": {"merged": True}}, True),
        ("push", {"ref": "refs/tags/v1", "commits": []}, False),
        ("push", {"ref": "refs/heads/x", "deleted": True, "commits": [{}]}, False),
        ("deployment_status", {"deployment_status": {"state": "pending"}}, False),
        ("deployment_status", {"deployment_status": {"state": "failure"}}, True),
        ("release", {"action": "edited", "release": {}}, False),
        ("release", {"action": "published", "release": {"tag_name": "v1"}}, True),
        ("check_suite", {"action": "completed", "check_suite": {"conclusion": "success"}}, False),
        ("check_suite", {"action": "completed", "check_suite": {"conclusion": "failure"}}, True),
        ("issues", {"action": "labeled", "issue": {}}, False),
        ("star", {"action": "created"}, False),
    ],
)
def test_what_is_worth_a_message(name: str, payload: dict[str, Any], renders: bool) -> None:
    assert (render(Event(name, "d", payload)) is not None) is renders


def test_failed_run_names_jobs_and_steps() -> None:
    payload = {
        "action": "completed",
        "repository": {"full_name": "acme/web"},
        "workflow_run": {
            "name": "Deploy",
            "conclusion": "failure",
            "status": "completed",
            "head_sha": "abcdef1234567",
            "head_branch": "main",
            "run_started_at": "2026-11-29T04:00:00Z",
            "updated_at": "2026-11-29T04:03:05Z",
            "head_commit": {"message": "feat: thing\n\nbody"},
            "html_url": "https://github.com/acme/web/actions/runs/1",
        },
    }
    event = Event("workflow_run", "d", payload)
    assert needs_failed_jobs(event)
    message = render(
        event,
        [FailedJob("deploy", "https://x/2", ("Upload", "Notify")), FailedJob("test", None, ())],
    )
    assert message is not None
    [embed] = message.embeds
    assert embed["title"] == "❌ Deploy failed"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Duration"] == "3 min 5 s"
    assert fields["Commit"] == "`abcdef1` feat: thing"
    assert "[deploy](https://x/2): Upload, Notify" in fields["Failed jobs"]
    assert "• test" in fields["Failed jobs"]
    success = copy.deepcopy(payload)
    success["workflow_run"]["conclusion"] = "success"
    assert not needs_failed_jobs(Event("workflow_run", "d", success))


def test_mass_mentions_in_commit_messages_never_ping() -> None:
    payload = {
        "ref": "refs/heads/main",
        "commits": [{"id": "a" * 40, "message": "@everyone look @here"}],
        "repository": {"full_name": "a/b"},
    }
    message = render(Event("push", "d", payload))
    assert message is not None
    assert message.to_data()["allowed_mentions"] == {"parse": []}


def test_notifiable_events_cover_the_deploy_teams_needs() -> None:
    assert {"workflow_run", "workflow_job", "deployment_status", "deployment"} <= set(
        NOTIFIABLE_EVENTS
    )
