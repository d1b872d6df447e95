"""A world for probes and schedules: a real site, a Discord stand-in, and the services."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orchestrator.config import load_settings
from orchestrator.devtools.discord_standin import Captured, DiscordStandIn
from orchestrator.services import Services
from tests.support.discord_spec import DiscordSpec
from tests.verification.sites import Site

APP_CHANNEL = "111111111111111111"
OPS_CHANNEL = "222222222222222222"
DIGEST_CHANNEL = "333333333333333333"


@dataclass
class World:
    services: Services
    site: Site
    discord: DiscordStandIn
    config: Path

    def posts(self, channel: str) -> list[Captured]:
        """Channel messages sent so far, each checked against Discord's schema."""
        found = [
            r
            for r in self.discord.requests
            if r.method == "POST" and r.path == f"/channels/{channel}/messages"
        ]
        for request in found:
            DiscordSpec.get().assert_valid_request(request.method, request.path, request.body)
        return found


def services_for(tmp_path: Path, site: Site, discord: DiscordStandIn, **extra: Any) -> Services:
    config = tmp_path / "orchestrator.toml"
    settings = load_settings(
        ORCHESTRATOR_DATA_DIR=tmp_path,
        ORCHESTRATOR_CONFIG=config,
        ORCHESTRATOR_PUBLIC_URL=site.url,
        ORCHESTRATOR_OPS_CHANNEL_ID=OPS_CHANNEL,
        ORCHESTRATOR_DIGEST_CHANNEL_ID=DIGEST_CHANNEL,
        DISCORD_API_BASE=discord.api_base,
        DISCORD_BOT_TOKEN="bot",
        **extra,
    )
    return Services(settings)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with Site(sha="a" * 40) as site, DiscordStandIn() as discord:
        site.route("/health", status=200, body="ok")
        config = tmp_path / "orchestrator.toml"
        config.write_text(
            '[[apps]]\nname = "web"\nrepo = "acme/web"\nworkflow = "deploy.yml"\n'
            f'frontend_url = "{site.url}/health"\napi_health_url = "{site.url}/api"\n'
            f'channel_id = "{APP_CHANNEL}"\n'
        )
        site.route("/api", status=200, body="{}")
        services = services_for(tmp_path, site, discord)
        yield World(services, site, discord, config)
        services.close(timeout=5)
