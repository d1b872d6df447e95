"""Security findings 2 and 6: what production refuses to start with.

2. With no guild allow-list, anyone in any guild the bot was added to could read CI log
   tails (/triage), unreleased commits (/release) and internal URLs (/config show).
   Production now names its guilds, or opts into any guild with an explicit `*`.
6. A malformed DISCORD_PUBLIC_KEY let production start and answer 500 to every signed
   request; it now refuses to start, and no signed request can produce a 500.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestrator.config import ConfigError, load_settings
from orchestrator.devkeys import load_or_create_dev_identity
from orchestrator.discord.access import Access, AccessPolicy
from orchestrator.discord.interactions import Interaction
from orchestrator.main import create_app
from orchestrator.services import Services
from tests.support.signing import PING_INTERACTION, discord_headers, dumps

GUILD = "100000000000000003"
STRANGER_GUILD = "100000000000000099"


def prod(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    identity = load_or_create_dev_identity(tmp_path)
    values: dict[str, Any] = {
        "ORCHESTRATOR_ENV": "prod",
        "ORCHESTRATOR_DATA_DIR": tmp_path,
        "DISCORD_PUBLIC_KEY": identity.discord_public_key,
        "DISCORD_APPLICATION_ID": "100000000000000001",
        "DISCORD_BOT_TOKEN": "bot-token",
        "GITHUB_TOKEN": "gh-token",
        "GITHUB_WEBHOOK_SECRET": "s3cret",
    }
    values.update(overrides)
    return values


def test_finding_02_production_refuses_to_start_without_a_guild_list(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(**prod(tmp_path))
    assert "DISCORD_GUILD_IDS" in str(refused.value)
    assert load_settings(**prod(tmp_path, DISCORD_GUILD_IDS=GUILD)).discord_guild_ids == [GUILD]


def test_finding_02_star_opts_into_any_guild_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="orchestrator.config"):
        settings = load_settings(**prod(tmp_path, DISCORD_GUILD_IDS="*"))
    assert any("any guild" in r.getMessage() for r in caplog.records)
    policy = AccessPolicy.from_settings(settings)
    anywhere = Interaction({"guild_id": STRANGER_GUILD, "member": {"user": {"id": "5"}}})
    assert policy.allows(Access.EVERYONE, ("status",), anywhere)


@pytest.mark.parametrize("value", ["*,1", "abc", "12345678901234567890123", "1 2"])
def test_finding_02_a_malformed_guild_list_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="DISCORD_GUILD_IDS"):
        load_settings(**prod(tmp_path, DISCORD_GUILD_IDS=value))


def test_finding_02_outside_production_any_guild_still_works(tmp_path: Path) -> None:
    settings = load_settings(ORCHESTRATOR_DATA_DIR=tmp_path)
    assert settings.discord_guild_ids == [] and settings.any_guild


def test_finding_02_a_listed_guild_is_the_only_one_served(tmp_path: Path) -> None:
    settings = load_settings(**prod(tmp_path, DISCORD_GUILD_IDS=GUILD))
    policy = AccessPolicy.from_settings(settings)
    member = {"member": {"user": {"id": "5"}, "roles": []}}
    assert policy.allows(Access.EVERYONE, ("status",), Interaction({"guild_id": GUILD, **member}))
    for outside in ({"guild_id": STRANGER_GUILD, **member}, {"user": {"id": "5"}}):
        assert not policy.allows(Access.EVERYONE, ("status",), Interaction(outside))


@pytest.mark.parametrize("key", ["zz" * 32, "ab" * 31, "ab" * 33, "not hex at all"])
def test_finding_06_production_refuses_a_malformed_public_key(tmp_path: Path, key: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(**prod(tmp_path, DISCORD_GUILD_IDS=GUILD, DISCORD_PUBLIC_KEY=key))
    assert "DISCORD_PUBLIC_KEY" in str(refused.value)
    assert key not in str(refused.value), "the value itself is never echoed"


def test_finding_06_a_bad_key_that_slips_past_startup_answers_401_not_500(tmp_path: Path) -> None:
    """Defense in depth: settings built without `finalize` (as a test or a future code path
    might) with a key that cannot verify anything still answer 401."""
    from orchestrator.config import Settings

    settings = Settings(ORCHESTRATOR_DATA_DIR=tmp_path, DISCORD_PUBLIC_KEY="zz" * 32)
    identity = load_or_create_dev_identity(tmp_path)
    body = dumps(PING_INTERACTION)
    services = Services(settings)
    try:
        client = TestClient(create_app(services=services))
        answer = client.post("/discord", content=body, headers=discord_headers(identity, body))
    finally:
        services.close(timeout=5)
    assert answer.status_code == 401
    assert answer.json()["error"] == "bad_signature"
