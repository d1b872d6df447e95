"""Tracked-run messages are edited through the interaction token while it lives, then with
the bot token (interaction tokens expire after 15 minutes; deploys can take longer)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

from orchestrator.config import load_settings
from orchestrator.deploys import runs
from orchestrator.deploys.tracking import Tracked
from orchestrator.devtools.discord_standin import DiscordStandIn
from orchestrator.services import Services
from tests.support.discord_spec import DiscordSpec

BASE = Tracked(
    kind="deploy",
    app="web",
    repo="acme/web",
    ref="main",
    actor="1",
    correlation="orc-00000001",
    channel_id="55",
    message_id="66",
    interaction_token="live-token",
    token_expires_at=time.time() + 600,
    run_id=9,
    status="in_progress",
)


def publish(tmp_path: Path, standin: DiscordStandIn, tracked: Tracked) -> None:
    settings = load_settings(
        ORCHESTRATOR_DATA_DIR=tmp_path, DISCORD_API_BASE=standin.api_base, DISCORD_BOT_TOKEN="bot"
    )
    services = Services(settings)

    async def go() -> None:
        async with services.discord_rest() as discord:
            await runs.publish(services, tracked, discord)

    asyncio.run(go())


def test_a_live_token_edits_the_interaction_reply(tmp_path: Path) -> None:
    with DiscordStandIn() as standin:
        publish(tmp_path, standin, BASE)
    [request] = standin.requests
    assert request.path.endswith("/live-token/messages/@original")
    assert request.authorization is None


def test_an_expired_token_falls_back_to_the_bot_token(tmp_path: Path) -> None:
    with DiscordStandIn() as standin:
        publish(tmp_path, standin, replace(BASE, token_expires_at=time.time() - 1))
    [request] = standin.requests
    assert (request.method, request.path, request.authorization) == (
        "PATCH",
        "/channels/55/messages/66",
        "Bot",
    )
    DiscordSpec.get().assert_valid_request(request.method, request.path, request.body)


def test_a_follow_up_is_edited_as_a_follow_up(tmp_path: Path) -> None:
    with DiscordStandIn() as standin:
        publish(tmp_path, standin, replace(BASE, followup=True))
    [request] = standin.requests
    assert request.path.endswith("/live-token/messages/66")
