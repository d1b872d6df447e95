"""Deny by default, through the dispatcher: with no list configured nobody passes.

Found by mutation: an `is_admin` that admitted everyone with no admin list, or a deploy
check that counted every user as a deployer with no deploy list, passed the whole suite.
docs/configuration.md promises "with no list configured nobody passes"; these tests hold
it to that for admins, deployers and per-command lists, outside `dev` (where the
simulator's user is made an admin so a newcomer can try things).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator import audit
from orchestrator.config import load_settings
from orchestrator.devtools.discord_standin import DiscordStandIn
from orchestrator.discord.access import Access, AccessPolicy
from orchestrator.discord.interactions import Interaction
from orchestrator.services import Services
from tests.support.commands import command, press

SOMEONE = "900000000000000042"
ROLE = "800000000000000001"

ADMIN_ONLY = ["/config set app:web key:branch value:x", "/audit", "/notify list"]
DEPLOY_ONLY = ["/deploy app:web", "/diagnose app:web"]
BUTTONS = ["release.promote:web:" + "a" * 40, "deploy.cancel:web:1", "relay.confirm:abc"]


@pytest.fixture(scope="module")
def discord() -> Iterator[DiscordStandIn]:
    """Where the commands that are let through send their follow-ups."""
    with DiscordStandIn() as standin:
        yield standin


@pytest.fixture
def services_with(discord: DiscordStandIn) -> Callable[..., Services]:
    def make(tmp_path: Path, **settings: Any) -> Services:
        return Services(
            load_settings(
                ORCHESTRATOR_ENV="test",
                ORCHESTRATOR_DATA_DIR=tmp_path,
                ORCHESTRATOR_CONFIG=tmp_path / "orchestrator.toml",
                DISCORD_API_BASE=discord.api_base,
                **settings,
            )
        )

    return make


@pytest.fixture
def unconfigured(tmp_path: Path, services_with: Callable[..., Services]) -> Iterator[Services]:
    services = services_with(tmp_path)
    yield services
    services.close()


def refused(answer: dict[str, Any]) -> bool:
    return answer["type"] == 4 and "needs" in answer.get("data", {}).get("content", "")


@pytest.mark.parametrize("line", ADMIN_ONLY + DEPLOY_ONLY)
def test_with_no_lists_nobody_runs_admin_or_deploy_commands(
    unconfigured: Services, line: str
) -> None:
    answer = command(unconfigured, line, SOMEONE)
    assert refused(answer), line
    entry = audit.recent(unconfigured.store)[0].value
    assert (entry["actor"], entry["result"]) == (SOMEONE, "denied")


@pytest.mark.parametrize("custom_id", BUTTONS)
def test_with_no_lists_nobody_presses_admin_or_deploy_buttons(
    unconfigured: Services, custom_id: str
) -> None:
    assert refused(press(unconfigured, custom_id, SOMEONE)), custom_id


def test_with_no_lists_the_policy_admits_nobody_to_anything_but_everyone_commands() -> None:
    policy = AccessPolicy.from_settings(load_settings(ORCHESTRATOR_ENV="test"))
    member = Interaction({"guild_id": "1", "member": {"user": {"id": SOMEONE}, "roles": [ROLE]}})
    assert not policy.is_admin(member)
    assert not policy.allows(Access.ADMIN, ("config", "set"), member)
    assert not policy.allows(Access.DEPLOY, ("deploy",), member)
    assert policy.allows(Access.EVERYONE, ("status",), member)


def test_a_deploy_list_does_not_make_admins_and_an_admin_list_makes_deployers(
    tmp_path: Path, services_with: Callable[..., Services]
) -> None:
    deployers = services_with(tmp_path / "d", DISCORD_DEPLOY_USER_IDS=SOMEONE)
    admins = services_with(tmp_path / "a", DISCORD_ADMIN_USER_IDS=SOMEONE)
    try:
        assert refused(command(deployers, "/audit", SOMEONE))
        assert not refused(command(deployers, "/deploy app:web", SOMEONE))
        assert not refused(command(admins, "/deploy app:web", SOMEONE))
        assert not refused(command(admins, "/audit", SOMEONE))
        assert refused(command(admins, "/audit", "900000000000000043"))
    finally:
        deployers.close()
        admins.close()


def test_a_per_command_list_narrows_and_never_widens(
    tmp_path: Path, services_with: Callable[..., Services]
) -> None:
    """A per-command list names who may run that command at all; it never grants the role
    the command needs (being on `/deploy`'s list does not make you a deployer)."""
    narrowed = services_with(
        tmp_path,
        DISCORD_COMMAND_ACCESS='{"status": {"users": ["900000000000000043"]}, '
        '"deploy": {"users": ["' + SOMEONE + '"]}}',
    )
    try:
        assert refused(command(narrowed, "/status app:web", SOMEONE))
        assert not refused(command(narrowed, "/status app:web", "900000000000000043"))
        assert refused(command(narrowed, "/deploy app:web", SOMEONE)), "no deploy role"
        assert not refused(command(narrowed, "/help", SOMEONE)), "other commands stay open"
    finally:
        narrowed.close()
