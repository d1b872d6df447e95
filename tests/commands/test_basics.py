from __future__ import annotations

import time

from orchestrator.commands.basics import snowflake_time
from orchestrator.devtools.simulate import snowflake
from tests.support.commands import Run


def test_help_lists_every_command_with_locks(run: Run) -> None:
    answer = run("/help", user="5")
    text = answer["data"]["embeds"][0]["description"]
    assert "`/ping`" in text
    assert "`/notify add`" in text
    assert "🔒" in text
    assert answer["data"]["flags"] == 64


def test_ping_is_deferred(run: Run) -> None:
    assert run("/ping") == {"type": 5, "data": {"flags": 64}}


def test_snowflake_times_round_trip() -> None:
    now = time.time()
    assert abs(snowflake_time(snowflake(now)) - now) < 0.01
    assert snowflake_time("nope") is None
