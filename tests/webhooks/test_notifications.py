"""`webhooks.notifications.deploy_link`: which events are about a deploy `/deploy` tracks,
so a subscription posting single messages leaves them out of that deploy message's channel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.config import load_settings
from orchestrator.deploys import tracking
from orchestrator.deploys.deployments import payload_for
from orchestrator.deploys.tracking import Tracked
from orchestrator.github.events import Event
from orchestrator.services import Services
from orchestrator.webhooks.notifications import deploy_link
from tests.support import ci_events

TRACKED = Tracked(
    kind="deploy",
    app="web",
    repo="acme/web",
    ref="main",
    actor="1",
    correlation="orc-0000abcd",
    environment="production",
    channel_id="555",
    message_id="777",
)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    services = Services(load_settings(ORCHESTRATOR_DATA_DIR=tmp_path, DISCORD_GUILD_IDS="42"))
    tracking.save(services.store, TRACKED)
    yield services
    services.close(timeout=5)


def status_of(deployment_payload: object) -> Event:
    payload = ci_events.deployment_status(status_id=3, state="success")
    payload["deployment"]["payload"] = deployment_payload
    return Event("deployment_status", "d-status", payload)


def test_a_status_of_our_deployment_links_to_its_deploy_message(services: Services) -> None:
    link = deploy_link(services, status_of(payload_for(TRACKED)))
    assert link is not None
    assert (link.channel_id, link.message_id) == ("555", "777")
    assert link.url == "https://discord.com/channels/42/555/777"


@pytest.mark.parametrize(
    "deployment_payload",
    [
        {},  # somebody else's Deployment
        "a string",
        {"via": "orchestrator", "correlation_id": "orc-ffff0000"},  # ours, not tracked here
        {"via": "orchestrator", "correlation_id": "../../etc"},  # not an id we make
        {"via": "someone-else", "correlation_id": TRACKED.correlation},
    ],
)
def test_any_other_deployment_links_to_nothing(
    services: Services, deployment_payload: object
) -> None:
    assert deploy_link(services, status_of(deployment_payload)) is None
