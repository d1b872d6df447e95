"""A world for probes, schedules and the digest: a real site, a Discord stand-in, the services.

`open_world` builds it (the `world` fixture of each suite that uses it is a thin wrapper):
one app, `web`, whose frontend and API are routes of a `Site` on 127.0.0.1 and whose
channel is `APP_CHANNEL`; ops and digest posts go to their own channels. `completed_run`
and `deliver` feed it the `workflow_run` events GitHub would send when a deploy finishes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.config import load_settings
from orchestrator.devtools.discord_standin import Captured, DiscordStandIn
from orchestrator.github.events import Event
from orchestrator.jobs.base import Job, JobContext
from orchestrator.product import events as product_router
from orchestrator.services import Services
from tests.support.discord_spec import DiscordSpec
from tests.support.sites import Site

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


@contextmanager
def open_world(tmp_path: Path) -> Iterator[World]:
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


def completed_run(run_id: int, conclusion: str, workflow: str = "deploy.yml") -> dict[str, Any]:
    return {
        "action": "completed",
        "repository": {"full_name": "acme/web"},
        "workflow": {"name": "Client Deploy", "path": f".github/workflows/{workflow}"},
        "workflow_run": {
            "id": run_id,
            "name": "Client Deploy",
            "path": f".github/workflows/{workflow}",
            "status": "completed",
            "conclusion": conclusion,
            "head_sha": "abcdef0123456789abcdef0123456789abcdef01",
            "head_branch": "main",
            "run_attempt": 1,
            "html_url": f"https://github.com/acme/web/actions/runs/{run_id}",
            "created_at": "2026-11-29T04:00:00Z",
            "run_started_at": "2026-11-29T04:00:00Z",
            "updated_at": "2026-11-29T04:02:30Z",
        },
    }


def deliver(services: Services, payload: dict[str, Any], delivery: str = "d") -> None:
    """Run the product's handlers for one `workflow_run` delivery, as the job would."""
    event = Event("workflow_run", delivery, payload)
    context = JobContext(job=Job("github.event", {}), services=services)
    asyncio.run(product_router().dispatch(event, context))
