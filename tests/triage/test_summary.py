from __future__ import annotations

from orchestrator.triage.summary import FIELD_BUDGET, FailedJob, render, tail
from tests.support.discord_spec import DiscordSpec


def test_tail_drops_timestamps_colours_and_groups() -> None:
    log = "\n".join(
        [
            "2026-11-29T04:00:00.1234567Z ##[group]Setup",
            "2026-11-29T04:00:00Z \x1b[1;31mboom\x1b[0m",
            "",
            "2026-11-29T04:00:01Z ##[error]exit 1",
            "2026-11-29T04:00:02Z ##[endgroup]",
            "2026-11-29T04:00:03Z Post job cleanup.",
        ]
    )
    assert tail(log) == "boom\nerror: exit 1"
    many = "\n".join(f"line {i}" for i in range(100))
    assert tail(many, lines=3) == "line 97\nline 98\nline 99"


def test_render_fits_discord_limits_and_is_valid() -> None:
    huge = "x" * 10_000 + "\n```\nfinal line"
    jobs = [FailedJob(f"job {i}", "https://x", ("step",), huge) for i in range(7)]
    message = render("🩹 Run 1", "https://github.com/a/b/actions/runs/1", jobs, note="n")
    [embed] = message.embeds
    assert len(embed["fields"]) == 7  # five jobs, "and 2 more", the note
    for field in embed["fields"][:5]:
        assert len(field["value"]) <= 1024
        assert field["value"].endswith("final line\n```")
    assert "```\nfinal" not in embed["fields"][0]["value"].split("```\n", 1)[1]
    DiscordSpec.get().assert_valid_request("POST", "/channels/1/messages", message.to_data())
    assert FIELD_BUDGET < 1024


def test_nothing_failing_is_good_news() -> None:
    message = render("🩹 PR #1", None, [])
    assert "Nothing is failing" in message.embeds[0]["description"]
    assert not message.components


def test_logs_unavailable_is_said() -> None:
    message = render("t", None, [FailedJob("a", None, (), None)])
    assert "(logs unavailable)" in message.embeds[0]["fields"][0]["value"]
