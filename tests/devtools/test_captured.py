"""What `simulate` reads back from the Discord stand-in: whose request is it, and is a
tracked deploy message final yet."""

from __future__ import annotations

from dataclasses import replace

import pytest

from orchestrator.deploys.render import render
from orchestrator.deploys.tracking import Tracked
from orchestrator.devtools.captured import (
    DeployState,
    RemoteCapture,
    Seen,
    deploy_state,
    is_channel_post,
    is_followup,
)
from orchestrator.devtools.discord_standin import DiscordStandIn
from orchestrator.discord.messages import Message

BASE = Tracked(
    kind="deploy",
    app="demo",
    repo="local/demo",
    ref="main",
    actor="1",
    correlation="orc-0123abcd",
    run_id=7,
    run_url="http://127.0.0.1:1/local/demo/actions/runs/7",
)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"status": "requested", "run_id": None}, "running"),
        ({"status": "queued"}, "running"),
        ({"status": "in_progress", "current_job": "build"}, "running"),
        ({"status": "completed", "conclusion": "success"}, "running"),  # the verifier is next
        (
            {"status": "completed", "conclusion": "success", "verdict": "PASS"},
            "verified",
        ),
        (
            {
                "status": "completed",
                "conclusion": "success",
                "verdict": "WARN",
                "verdict_summary": "api: slow",
            },
            "failed",
        ),
        (
            {
                "status": "completed",
                "conclusion": "failure",
                "verdict": "FAIL",
                "failed_jobs": ("build",),
            },
            "failed",
        ),
        ({"status": "completed", "conclusion": "cancelled", "verdict": "FAIL"}, "failed"),
    ],
)
def test_the_deploy_message_says_when_it_is_final(
    changes: dict[str, object], expected: DeployState
) -> None:
    message = render(replace(BASE, **changes)).to_data(edit=True)  # type: ignore[arg-type]
    assert deploy_state(message) == expected


def test_other_messages_are_not_deploy_messages() -> None:
    assert deploy_state(Message(content="⚠️ no app 'x'").to_data()) is None
    assert deploy_state(None) is None
    assert deploy_state({"embeds": [{"title": "🚀 Deploy demo", "description": "✅"}]}) is None


def test_follow_ups_and_channel_posts_are_told_apart() -> None:
    follow_up = Seen("PATCH", "/webhooks/1/tok/messages/@original", "r", {})
    other = Seen("POST", "/webhooks/1/another/messages", "r", {})
    post = Seen("POST", "/channels/20/messages", "r", {})
    edit = Seen("PATCH", "/channels/20/messages/99", "r", {})
    commands = Seen("PUT", "/applications/1/commands", "r", [])
    assert is_followup(follow_up, "tok") and not is_followup(other, "tok")
    assert is_channel_post(post) and is_channel_post(edit)
    assert not any(is_channel_post(s) for s in (follow_up, commands))


def test_another_process_reads_what_the_stand_in_recorded() -> None:
    import httpx

    with DiscordStandIn() as discord:
        capture = RemoteCapture(discord.url)
        try:
            assert capture.count() == 0
            httpx.post(f"{discord.api_base}/channels/20/messages", json={"content": "hi"})
            httpx.patch(f"{discord.api_base}/webhooks/1/tok/messages/@original", json={})
            assert capture.count() == 2
            seen = capture.since(1)
            assert [s.route for s in seen] == ["PATCH /webhooks/{id}/{token}/messages/@original"]
            assert capture.since(0)[0].body == {"content": "hi"}
            assert capture.since(5) == []
        finally:
            capture.close()
        assert len(discord.requests) == 2, "reading the record is not a request to Discord"
