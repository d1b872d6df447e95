"""Driving commands and buttons through the real dispatcher, as Discord would.

Every HTTP answer, and every request the deferred work sends to the Discord
stand-in, is checked against Discord's published schema on the way. `Run` is the type of
the `run` fixture (tests/commands/conftest.py), which drives one command as `ADMIN`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator.config import load_settings
from orchestrator.devtools.discord_standin import Captured, DiscordStandIn
from orchestrator.devtools.simulate import Invoker, command_interaction, component_interaction
from orchestrator.discord import dispatch
from orchestrator.discord.interactions import Interaction
from orchestrator.services import Services
from tests.support.discord_spec import DiscordSpec


def answer(services: Services, raw: dict[str, Any]) -> dict[str, Any]:
    """The endpoint's answer; deferred work is run to completion before returning. Dispatched
    as the endpoint does, on `services.commands` (the product's tree built on demand)."""
    result = asyncio.run(dispatch.respond(services.commands, Interaction(raw), services))
    DiscordSpec.get().assert_valid_interaction_response(result)
    if result["type"] in (5, 6):
        assert services.jobs.drain(30)  # type: ignore[attr-defined]
    return {**result, "_token": raw["token"], "_id": raw["id"]}


def command(services: Services, line: str, user: str) -> dict[str, Any]:
    application = services.settings.discord_application_id or "1"
    return answer(
        services, command_interaction(services.bot, line, application, Invoker(user_id=user))
    )


def press(services: Services, custom_id: str, user: str) -> dict[str, Any]:
    application = services.settings.discord_application_id or "1"
    return answer(services, component_interaction(custom_id, application, Invoker(user_id=user)))


def sent(discord: DiscordStandIn, token: str | None = None) -> list[Captured]:
    """What reached the stand-in (for one interaction token, or all), each spec-checked."""
    found = [r for r in discord.requests if token is None or token in r.path]
    for request in found:
        DiscordSpec.get().assert_valid_request(request.method, request.path, request.body)
    return found


ADMIN, DEPLOYER, STRANGER = "900000000000000001", "900000000000000002", "900000000000000003"

Run = Callable[..., dict[str, Any]]


def services_for(data_dir: Path, config: Path, discord_api: str, github_api: str) -> Services:
    """Services wired to the local fakes, with one admin and one deployer."""
    return Services(
        load_settings(
            ORCHESTRATOR_DATA_DIR=data_dir,
            ORCHESTRATOR_CONFIG=config,
            DISCORD_ADMIN_USER_IDS=ADMIN,
            DISCORD_DEPLOY_USER_IDS=DEPLOYER,
            DISCORD_API_BASE=discord_api,
            DISCORD_BOT_TOKEN="bot",
            GITHUB_TOKEN="ghp",
            GITHUB_API_BASE=github_api,
        )
    )
