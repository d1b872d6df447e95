"""Drive the product's commands through the real dispatcher, validating every answer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.config import load_settings
from orchestrator.devtools.simulate import Invoker, command_interaction
from orchestrator.discord import dispatch
from orchestrator.discord.interactions import Interaction
from orchestrator.discord.tree import Bot
from orchestrator.services import Services
from tests.support.commands import ADMIN, Run
from tests.support.discord_spec import DiscordSpec


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    settings = load_settings(
        ORCHESTRATOR_DATA_DIR=tmp_path,
        DISCORD_ADMIN_USER_IDS=ADMIN,
        ORCHESTRATOR_CONFIG=tmp_path / "orchestrator.toml",
    )
    services = Services(settings)
    yield services
    services.close()


@pytest.fixture
def run(services: Services) -> Run:
    def invoke(line: str, user: str = ADMIN, bot: Bot | None = None) -> dict[str, Any]:
        raw = command_interaction(bot or services.bot, line, "1", Invoker(user_id=user))
        # Dispatched as the endpoint does: on the product's tree built on demand.
        tree = bot or services.commands
        answer = asyncio.run(dispatch.respond(tree, Interaction(raw), services))
        DiscordSpec.get().assert_valid_interaction_response(answer)
        return answer

    return invoke
