"""`/digest`: deferred, its follow-up checked against Discord's schema; `period` is used."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.config import load_settings
from orchestrator.deploys import history
from orchestrator.devtools.discord_standin import DiscordStandIn
from orchestrator.devtools.simulate import Invoker, command_interaction
from orchestrator.digest.runlog import RUNLOG_TTL
from orchestrator.discord import dispatch
from orchestrator.discord.interactions import Interaction
from orchestrator.probes.run import RESULT_TTL
from orchestrator.probes.state import ProbeResult, Target
from orchestrator.services import Services
from orchestrator.store import keys
from tests.support.discord_spec import DiscordSpec

USER = "900000000000000003"
DAY = 86400.0


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Services, DiscordStandIn]]:
    with DiscordStandIn() as discord:
        config = tmp_path / "orchestrator.toml"
        config.write_text(
            '[[apps]]\nname = "web"\nrepo = "acme/web"\nworkflow = "deploy.yml"\n'
            '[[apps]]\nname = "docs"\nrepo = "acme/docs"\nworkflow = "deploy.yml"\n'
        )
        settings = load_settings(
            ORCHESTRATOR_DATA_DIR=tmp_path,
            ORCHESTRATOR_CONFIG=config,
            DISCORD_API_BASE=discord.api_base,
            DISCORD_BOT_TOKEN="bot",
        )
        services = Services(settings)
        now = time.time()
        store = services.store
        # web: a success today, a failure three days ago; docs: a success today.
        for app, run_id, conclusion, at in (
            ("web", 1, "success", now - 3600),
            ("web", 2, "failure", now - 3 * DAY),
            ("docs", 3, "success", now - 7200),
        ):
            store.put(
                keys.run(app, at, run_id, 1),
                {
                    "run_id": run_id,
                    "conclusion": conclusion,
                    "duration": 120.0,
                    "url": f"https://github.com/acme/{app}/actions/runs/{run_id}",
                    "head_sha": "abcdef0",
                    "completed_at": at,
                },
                ttl=RUNLOG_TTL,
            )
        target = Target("web", "frontend", "https://web.example.com/")
        for minutes, ok in ((10, True), (20, False), (30, True), (40, True)):
            result = ProbeResult(ok=ok, at=now - minutes * 60, status=200 if ok else 503, ms=50)
            store.put(
                keys.probe(target.app, target.name, result.at), result.to_json(), ttl=RESULT_TTL
            )
        history.record(store, "web", {"verdict": "pass"}, at=now - 60)
        history.record(store, "web", {"verdict": "fail"}, at=now - 2 * DAY)
        yield services, discord
        services.close(timeout=5)


def digest(services: Services, discord: DiscordStandIn, line: str) -> dict[str, Any]:
    raw = command_interaction(services.bot, line, "1", Invoker(user_id=USER))
    answer = asyncio.run(dispatch.respond(services.bot, Interaction(raw), services))
    DiscordSpec.get().assert_valid_interaction_response(answer)
    assert answer["type"] == 5, "deferred: a week of samples is many store reads"
    assert services.jobs.drain(20)  # type: ignore[attr-defined]
    [edit] = [r for r in discord.requests if raw["token"] in r.path]
    DiscordSpec.get().assert_valid_request(edit.method, edit.path, edit.body)
    embed: dict[str, Any] = edit.body["embeds"][0]
    return embed


def fields(embed: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


def test_daily_is_the_default_and_covers_one_day(world: Any) -> None:
    services, discord = world
    embed = digest(services, discord, "/digest")
    assert embed["title"].startswith("📊 Daily digest")
    assert "2 deploys · 100% succeeded" in embed["description"]
    shown = fields(embed)
    assert "75.0% up (3/4 probes)" in shown["web"]
    assert "✅ 1 pass" in shown["web"] and "fail" not in shown["web"]
    assert "Failed runs" not in shown


def test_weekly_reaches_back_seven_days(world: Any) -> None:
    services, discord = world
    embed = digest(services, discord, "/digest period:weekly")
    assert embed["title"].startswith("📊 Weekly digest")
    assert "3 deploys · 66.6% succeeded" in embed["description"]
    shown = fields(embed)
    assert "[#2](https://github.com/acme/web/actions/runs/2)" in shown["Failed runs"]
    assert "✅ 1 pass · ❌ 1 fail" in shown["web"]


def test_one_app_only(world: Any) -> None:
    services, discord = world
    embed = digest(services, discord, "/digest period:weekly app:docs")
    assert list(fields(embed)) == ["docs"]
    assert "1 deploy · 100% succeeded" in embed["description"]


def test_an_unknown_app_is_an_error_not_an_empty_digest(world: Any) -> None:
    services, discord = world
    raw = command_interaction(services.bot, "/digest app:nope", "1", Invoker(user_id=USER))
    asyncio.run(dispatch.respond(services.bot, Interaction(raw), services))
    assert services.jobs.drain(20)  # type: ignore[attr-defined]
    [edit] = [r for r in discord.requests if raw["token"] in r.path]
    assert "no app 'nope'" in edit.body["content"]
