"""Two rendering bugs: `/audit count:-1` said the log was empty (and 0 or 99 ignored the
stated 1-25), and `/history` rendered `run None · ???????` for what it did not know."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator import audit
from orchestrator.commands.verify import history_line
from orchestrator.config import load_settings
from orchestrator.deploys import history
from orchestrator.devtools.simulate import Invoker, command_interaction
from orchestrator.discord import dispatch
from orchestrator.discord.interactions import Interaction
from orchestrator.services import Services
from tests.support.commands import ADMIN, Run
from tests.support.discord_spec import DiscordSpec


def _audit_with_count(services: Services, count: int) -> dict[str, Any]:
    """`/audit` carrying a count Discord itself would refuse to send (a stale or hand-made
    client): `simulate` refuses to build it, so the option is set on the payload."""
    raw = command_interaction(services.bot, "/audit", "1", Invoker(user_id=ADMIN))
    raw["data"]["options"] = [{"name": "count", "type": 4, "value": count}]
    answer = asyncio.run(dispatch.respond(services.bot, Interaction(raw), services))
    DiscordSpec.get().assert_valid_interaction_response(answer)
    return answer


def _entries(answer: dict[str, Any]) -> int:
    [shown] = answer["data"]["embeds"]
    return len(shown["description"].splitlines())


@pytest.mark.parametrize(("count", "shown"), [(-1, 1), (0, 1), (1, 1), (25, 25), (99, 25)])
def test_audit_count_is_clamped_to_its_declared_range(
    services: Services, count: int, shown: int
) -> None:
    for n in range(30):
        audit.record(services.store, actor=ADMIN, action=f"thing-{n}", result="completed")
    answer = _audit_with_count(services, count)
    assert "empty" not in str(answer["data"].get("content"))
    assert _entries(answer) == shown


def test_audit_without_a_count_shows_ten(run: Run, services: Services) -> None:
    for n in range(12):
        audit.record(services.store, actor=ADMIN, action=f"thing-{n}", result="completed")
    assert _entries(run("/audit")) == 10


NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        (
            {"verdict": "pass", "run_id": 12, "head_sha": "c" * 40, "recorded_at": NOW - 120},
            "✅ pass · run 12 · `ccccccc` · 2 min ago",
        ),
        # A verification that found no run (none yet, or GitHub unreachable).
        (
            {"verdict": "fail", "run_id": None, "head_sha": None, "recorded_at": NOW - 5},
            "❌ fail · no run · just now",
        ),
        ({"verdict": "warn", "run_id": 7, "recorded_at": NOW}, "⚠️ warn · run 7 · just now"),
        ({}, "❔ unknown verdict · no run"),
        ({"verdict": None, "run_id": "12", "head_sha": 5}, "❔ unknown verdict · no run"),
    ],
)
def test_history_lines_show_what_is_known(report: dict[str, Any], expected: str) -> None:
    line = history_line(report, NOW)
    assert line == expected
    assert "None" not in line and "???????" not in line


def test_history_of_a_run_less_verification(tmp_path: Path) -> None:
    config = tmp_path / "orchestrator.toml"
    config.write_text('[[apps]]\nname = "web"\nrepo = "acme/web"\nworkflow = "deploy.yml"\n')
    services = Services(
        load_settings(
            ORCHESTRATOR_DATA_DIR=tmp_path,
            DISCORD_ADMIN_USER_IDS=ADMIN,
            ORCHESTRATOR_CONFIG=config,
        )
    )
    try:
        history.record(services.store, "web", {"verdict": "fail", "run_id": None}, at=time.time())
        raw = command_interaction(services.bot, "/history app:web", "1", Invoker(user_id="5"))
        answer = asyncio.run(dispatch.respond(services.bot, Interaction(raw), services))
    finally:
        services.close()
    [shown] = answer["data"]["embeds"]
    assert shown["description"] == "❌ fail · no run · just now"
