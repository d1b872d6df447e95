"""Renderings of a report: a Discord message valid against Discord's spec, and stable JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from orchestrator.discord.limits import EMBED_FIELD_VALUE_LIMIT
from orchestrator.verification import Report, Status, decide, to_json, to_message
from orchestrator.verification.facts import (
    CheckError,
    FailedJob,
    Freshness,
    RunRequest,
    VersionProbe,
)
from tests.support.discord_spec import DiscordSpec
from tests.support.facts import (
    APP,
    HEAD,
    OLD,
    RUN_URL,
    SHA,
    facts,
    failed_jobs,
    health,
    page,
    run,
)


def _all_fail() -> Report:
    return decide(
        facts(
            run=run(conclusion="failure", failed_jobs=failed_jobs(3)),
            freshness=Freshness("main", SHA, HEAD, 5, 2, "diverged"),
            frontend=page(status=None, error="timed out after 4 s (2 attempts)"),
            api=health(status=503),
            api_version=None,
            errors={"version": CheckError("timeout", "timed out after 4 s")},
        )
    )


def _github_down() -> Report:
    return decide(
        facts(
            run=None,
            freshness=None,
            self_facts=None,
            request=RunRequest(repo="acme/web"),
            errors={
                "run": CheckError("unavailable", "no answer from GitHub after 2 attempt(s)"),
                "self": CheckError("unavailable", "no answer from GitHub"),
            },
        )
    )


REPORTS: dict[str, Callable[[], Report]] = {
    "healthy": lambda: decide(facts()),
    "all fail": _all_fail,
    "many failed jobs": lambda: decide(
        facts(run=run(conclusion="failure", failed_jobs=failed_jobs(60)))
    ),
    "in progress": lambda: decide(
        facts(
            run=run(status="in_progress", conclusion=None),
            frontend_version=VersionProbe("frontend page", found=OLD),
        )
    ),
    "github down": _github_down,
    "nothing configured": lambda: decide(
        facts(
            app=replace(APP, frontend_url=None, api_health_url=None, version_url=None),
            self_facts=None,
        )
    ),
    "huge summaries": lambda: decide(
        facts(
            errors={"freshness": CheckError("error", "x" * 5000)},
            freshness=None,
            run=run(name="D" * 500, conclusion="failure", failed_jobs=failed_jobs(2)),
        )
    ),
}


@pytest.mark.parametrize("name", list(REPORTS))
def test_every_report_is_a_valid_discord_message(name: str) -> None:
    report = REPORTS[name]()
    body = to_message(report).to_data()
    DiscordSpec.get().assert_valid_request("POST", "/channels/1/messages", body)
    (embed,) = body["embeds"]
    assert len(embed["fields"]) == 5
    for field in embed["fields"]:
        assert len(field["value"]) <= EMBED_FIELD_VALUE_LIMIT
    assert body["allowed_mentions"] == {"parse": []}


def test_message_reads_like_the_verdict() -> None:
    body = to_message(decide(facts())).to_data()
    (embed,) = body["embeds"]
    assert embed["title"] == "✅ web abc1234: deploy verified"
    assert embed["url"] == RUN_URL
    assert embed["color"] == 0x2EA043
    assert [f["name"] for f in embed["fields"]] == [
        "✅ Run",
        "✅ Freshness",
        "✅ Frontend",
        "✅ API",
        "✅ Orchestrator",
    ]
    assert embed["fields"][2]["value"] == "frontend 200 in 180 ms, HTML no-cache, serves abc1234"
    assert embed["footer"]["text"] == "acme/web · main · checked in 420 ms"
    assert embed["timestamp"] == "2027-01-15T08:00:00Z"
    button = body["components"][0]["components"][0]
    assert (button["style"], button["label"], button["url"]) == (5, "Open run", RUN_URL)


def test_failures_show_icons_and_link_each_failed_job() -> None:
    body = to_message(_all_fail()).to_data()
    (embed,) = body["embeds"]
    assert embed["title"].startswith("❌ web abc1234: ")
    assert embed["color"] == 0xCF222E
    icons = [f["name"].split(" ")[0] for f in embed["fields"]]
    assert icons == ["❌", "❌", "❌", "❌", "✅"]
    run_field = embed["fields"][0]["value"]
    assert "[test shard 0 " in run_field
    assert "(https://github.com/acme/web/actions/runs/123/job/1000): Run pytest" in run_field
    assert run_field.split("\n")[0] == "Deploy failed after 3 min 12 s"  # jobs listed once, below
    assert run_field.count("\n• ") == 3


def test_job_names_cannot_break_their_links() -> None:
    job = FailedJob("build [linux]", "failure", "https://github.com/acme/web/actions/runs/1/job/2")
    body = to_message(decide(facts(run=run(conclusion="failure", failed_jobs=(job,))))).to_data()
    value = body["embeds"][0]["fields"][0]["value"]
    assert "• [build (linux)](https://github.com/acme/web/actions/runs/1/job/2)" in value


def test_many_failed_jobs_are_cut_at_whole_lines() -> None:
    body = to_message(REPORTS["many failed jobs"]()).to_data()
    value = body["embeds"][0]["fields"][0]["value"]
    lines = value.split("\n")
    assert lines[-1].startswith("… and ") and lines[-1].endswith(" more")
    assert all(line.endswith(")") or ": " in line for line in lines[1:-1])
    shown = len(lines) - 2
    assert 1 <= shown <= 10
    assert int(lines[-1].split()[2]) == 60 - shown


def test_warnings_skips_and_no_run_link() -> None:
    body = to_message(_github_down()).to_data()
    (embed,) = body["embeds"]
    assert embed["title"] == "⚠️ web: needs a look"
    assert "url" not in embed and "components" not in body
    names = [f["name"] for f in embed["fields"]]
    assert names[0] == "⚠️ Run" and names[1] == "➖ Freshness"
    assert "could not check the run" in embed["fields"][0]["value"]
    nothing = REPORTS["nothing configured"]()
    assert [c.status for c in nothing.checks][2:] == [Status.SKIP] * 3


def _round_trip(data: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(data, allow_nan=False))
    return result


@pytest.mark.parametrize("name", list(REPORTS))
def test_json_round_trips(name: str) -> None:
    data = to_json(REPORTS[name]())
    assert _round_trip(data) == data


def test_json_is_stable_and_uses_names() -> None:
    data = to_json(_all_fail())
    assert list(data) == [
        "app",
        "repo",
        "branch",
        "run_id",
        "run_url",
        "head_sha",
        "verdict",
        "duration_ms",
        "collected_at",
        "checks",
    ]
    assert data["verdict"] == "fail"
    assert data["collected_at"] == "2027-01-15T08:00:00Z"
    assert [c["status"] for c in data["checks"]] == ["fail", "fail", "fail", "fail", "pass"]
    run_check = data["checks"][0]
    assert run_check["evidence"]["failed_jobs"][0]["steps"][0] == "Run pytest"
    assert data["checks"][1]["evidence"]["commits_not_on_branch"] == 2
    healthy = to_json(decide(facts()))
    assert healthy["verdict"] == "pass" and healthy["head_sha"] == SHA
