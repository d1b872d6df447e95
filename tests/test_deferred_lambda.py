"""Through the Lambda entry point, a deferred command answers before its job is done."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import orchestrator.main
from orchestrator.aws.events import http_api_event, response_body
from orchestrator.config import Settings, load_settings
from orchestrator.devtools.discord_standin import DiscordStandIn
from orchestrator.discord.context import Context
from orchestrator.discord.messages import Message
from orchestrator.discord.tree import Bot
from orchestrator.services import Services
from tests.support.discord_spec import DiscordSpec
from tests.support.signing import discord_headers, dumps

JOB_SECONDS = 2.0


@pytest.fixture
def standin() -> Iterator[DiscordStandIn]:
    with DiscordStandIn() as fake:
        yield fake


def test_deferred_answer_does_not_wait_for_the_job(tmp_path: Path, standin: DiscordStandIn) -> None:
    finished = threading.Event()
    bot = Bot()

    @bot.command("slow", "Takes two seconds", defer=True)
    async def slow(ctx: Context) -> Message:
        await asyncio.sleep(JOB_SECONDS)
        finished.set()
        return Message(content="finally")

    settings = load_settings(ORCHESTRATOR_DATA_DIR=tmp_path, DISCORD_API_BASE=standin.api_base)
    services = Services(settings, bot=bot)
    state = orchestrator.main.app.state
    original = state.services
    state.services = services
    try:
        _exercise(tmp_path, standin, settings, finished)
    finally:
        state.services = original
        services.close()


def _exercise(
    tmp_path: Path, standin: DiscordStandIn, settings: Settings, finished: threading.Event
) -> None:

    interaction = {
        "type": 2,
        "id": "1300000000000000042",
        "application_id": "1",
        "token": "deferred-token",
        "version": 1,
        "channel_id": "2",
        "user": {"id": "3", "username": "u"},
        "data": {"id": "4", "name": "slow", "type": 1},
    }
    body = dumps(interaction)
    from orchestrator.devkeys import load_or_create_dev_identity

    identity = load_or_create_dev_identity(tmp_path)
    event = http_api_event("POST", "/discord", headers=discord_headers(identity, body), body=body)
    started = time.monotonic()
    response = orchestrator.main.handler(event, None)
    answered_after = time.monotonic() - started
    job_done_at_answer = finished.is_set()

    assert response["statusCode"] == 200
    answer = json.loads(response_body(response))
    assert answer == {"type": 5}
    DiscordSpec.get().assert_valid_interaction_response(answer)
    assert not job_done_at_answer, "the HTTP answer waited for the job"
    assert answered_after < JOB_SECONDS

    [edit] = standin.wait_for(lambda r: len(r) == 1, timeout=JOB_SECONDS + 10)
    assert finished.is_set()
    assert edit.method == "PATCH"
    assert (
        edit.path
        == f"/webhooks/{settings.discord_application_id}/deferred-token/messages/@original"
    )
    assert edit.body["content"] == "finally"
    assert edit.at - started >= JOB_SECONDS
    DiscordSpec.get().assert_valid_request("PATCH", edit.path, edit.body)
