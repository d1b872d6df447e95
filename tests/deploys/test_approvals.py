"""`deploys.approvals`: the decision table, the once-only records, and what the messages say."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from orchestrator.apps import App
from orchestrator.deploys import approvals
from orchestrator.deploys.approvals import (
    ApprovalRequest,
    Commit,
    Ending,
    Shipment,
    Verdict,
    decide,
)
from orchestrator.deploys.environments import Environment, resolve
from orchestrator.deploys.gate import plan_deploy
from orchestrator.deploys.locks import Lock
from orchestrator.deploys.queue import InFlight
from orchestrator.store.sqlite import SQLiteStore

NOW = 1_795_924_950.0
SHA = "abcdef0123456789abcdef0123456789abcdef01"
LIVE = "0123456789abcdef0123456789abcdef01234567"
ASKER, OTHER, THIRD = "900000000000000002", "900000000000000004", "900000000000000005"


def request(**changes: Any) -> ApprovalRequest:
    base = ApprovalRequest(
        app="web",
        environment="production",
        label="web/production",
        workflow="deploy.yml",
        ref="main",
        sha=SHA,
        live_sha=LIVE,
        inputs={"region": "eu", "stage": "production"},
        correlation_input="correlation_id",
        requester=ASKER,
        needed=1,
        expires_at=NOW + 1800,
        commits=(Commit("a" * 40, "feat: one"), Commit("b" * 40, "fix: two")),
        ahead_by=2,
        id="0a1b2c3d4e5f",
        created_at=NOW,
    )
    return replace(base, **changes)


# -- the decision ----------------------------------------------------------------------------

ENDED = Ending("dispatched", OTHER, NOW - 5)


@pytest.mark.parametrize(
    ("action", "user", "deployer", "approved", "ended", "at", "expected"),
    [
        ("approve", OTHER, True, [], None, NOW, Verdict.APPROVE),
        ("approve", ASKER, True, [], None, NOW, Verdict.SELF),
        ("approve", OTHER, True, [OTHER], None, NOW, Verdict.ALREADY),
        ("approve", THIRD, True, [OTHER], None, NOW, Verdict.APPROVE),
        ("approve", OTHER, False, [], None, NOW, Verdict.NOT_DEPLOYER),
        ("approve", None, True, [], None, NOW, Verdict.NOT_DEPLOYER),
        ("approve", OTHER, True, [], None, NOW + 1800, Verdict.EXPIRED),  # at the second
        ("approve", OTHER, True, [], None, NOW + 1799, Verdict.APPROVE),
        ("approve", OTHER, True, [], ENDED, NOW, Verdict.ENDED),
        ("approve", OTHER, True, [], ENDED, NOW + 9999, Verdict.ENDED),  # ended beats expired
        ("approve", OTHER, False, [], None, NOW + 1800, Verdict.EXPIRED),  # says it expired
        ("approve", ASKER, False, [], None, NOW, Verdict.NOT_DEPLOYER),  # no longer a deployer
        ("reject", OTHER, True, [], None, NOW, Verdict.REJECT),
        ("reject", OTHER, True, [OTHER], None, NOW, Verdict.REJECT),  # changed their mind
        ("reject", ASKER, True, [], None, NOW, Verdict.CANCEL),
        ("reject", OTHER, False, [], None, NOW, Verdict.NOT_DEPLOYER),
        ("reject", OTHER, True, [], None, NOW + 1800, Verdict.EXPIRED),
        ("reject", OTHER, True, [], ENDED, NOW, Verdict.ENDED),
    ],
)
def test_the_decision_table(
    action: approvals.Action,
    user: str | None,
    deployer: bool,
    approved: list[str],
    ended: Ending | None,
    at: float,
    expected: Verdict,
) -> None:
    found = decide(
        request(),
        action,
        user,
        is_deployer=deployer,
        approved_by=approved,
        ended=ended,
        now=at,
    )
    assert found is expected


def test_a_quorum_counts_distinct_approvers_never_the_requester() -> None:
    two = request(needed=2)
    assert not approvals.has_quorum(two, [OTHER, OTHER, ASKER])
    assert approvals.approvers(two, [OTHER, ASKER, OTHER, THIRD]) == [OTHER, THIRD]
    assert approvals.has_quorum(two, [OTHER, THIRD])
    assert not approvals.has_quorum(request(), [])
    assert approvals.has_quorum(request(), [OTHER])


# -- the store -------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "store.db")
    yield opened
    opened.close()


def test_a_request_round_trips_through_the_store(store: SQLiteStore) -> None:
    saved = request(override="security fix", channel_id="1", message_id="2")
    approvals.save(store, saved, NOW)
    assert approvals.load(store, saved.id) == saved
    assert approvals.pending(store) == [saved]


@pytest.mark.parametrize("crafted", ["", "zz", "0A1B2C3D4E5F", "0a1b2c3d4e5f0", "../x", "a:b"])
def test_only_ids_we_could_have_made_are_looked_up(store: SQLiteStore, crafted: str) -> None:
    assert approvals.load(store, crafted) is None


def test_a_vote_counts_once_per_person(store: SQLiteStore) -> None:
    asked = request(needed=2)
    assert approvals.vote(store, asked, OTHER, NOW)
    assert not approvals.vote(store, asked, OTHER, NOW + 1)
    assert approvals.vote(store, asked, THIRD, NOW + 2)
    assert approvals.votes(store, asked) == [OTHER, THIRD]
    assert approvals.votes(store, request(id="ffffffffffff")) == [], "per request"


def test_a_request_ends_once_and_a_reopened_one_may_end_again(store: SQLiteStore) -> None:
    asked = request()
    assert approvals.ending(store, asked) is None
    assert approvals.end(store, asked, "dispatched", OTHER, NOW)
    assert not approvals.end(store, asked, "rejected", THIRD, NOW)
    ended = approvals.ending(store, asked)
    assert ended is not None and (ended.outcome, ended.by) == ("dispatched", OTHER)
    approvals.reopen(store, asked)
    assert approvals.end(store, asked, "expired", None, NOW)
    approvals.mark(store, asked, "stale", OTHER)
    ended = approvals.ending(store, asked)
    assert ended is not None and ended.outcome == "stale"


# -- what the messages say -------------------------------------------------------------------


def test_the_request_shows_what_would_ship_and_its_buttons_carry_only_the_id() -> None:
    message = approvals.render_request(request(), [])
    [shown] = message.embeds
    fields = {f["name"]: f["value"] for f in shown["fields"]}
    assert fields["Ref → SHA"] == f"main → `{SHA}`"
    assert fields["Live"] == f"`{LIVE[:7]}`"
    assert fields["Commits since live"] == "• `aaaaaaa` feat: one\n• `bbbbbbb` fix: two"
    assert fields["Inputs"] == (
        "```\nregion=eu\nstage=production\ncorrelation_id=<correlation id, set at dispatch>\n```"
    )
    assert fields["Approvals"] == "0/1: none yet"
    assert f"<@{ASKER}> asks to deploy **main** to **web/production**" in shown["description"]
    assert f"<t:{int(NOW + 1800)}:R>" in shown["description"], "when it expires"
    [row] = message.components
    assert [(b["label"], b["custom_id"]) for b in row["components"]] == [
        ("Approve", "deploy.approve:0a1b2c3d4e5f"),
        ("Reject", "deploy.reject:0a1b2c3d4e5f"),
    ]
    assert message.allowed_mentions == {"parse": []}, "a request pings nobody"
    again = approvals.render_request(request(needed=2), [OTHER])
    fields = {f["name"]: f["value"] for f in again.embeds[0]["fields"]}
    assert fields["Approvals"] == f"1/2: <@{OTHER}>"


def test_an_ended_request_has_no_buttons_and_says_how_it_ended() -> None:
    for outcome, phrase in (
        ("rejected", f"Rejected by <@{OTHER}>"),
        ("cancelled", f"Withdrawn by <@{OTHER}>"),
        ("expired", "Expired"),
        ("stale", "no longer resolves"),
    ):
        message = approvals.render_ended(request(), Ending(outcome, OTHER, NOW), [])  # type: ignore[arg-type]
        assert not message.components, outcome
        assert phrase in message.embeds[0]["description"], outcome


@pytest.mark.parametrize(
    ("shipment", "text"),
    [
        (Shipment("main", None, LIVE, problem="no such ref"), "? (the ref did not resolve)"),
        (Shipment("main", SHA, None), "? (nothing verified live yet to compare with)"),
        (Shipment("main", SHA, SHA), "none: that SHA is already live"),
        (Shipment("main", SHA, LIVE), "? (GitHub could not compare them)"),
        (
            Shipment("main", SHA, LIVE, (Commit("a" * 40, "x `y` @everyone\nbody"),), 12),
            "• `aaaaaaa` x ˋyˋ @\u200beveryone\n… and 11 more",
        ),
    ],
)
def test_commits_since_live(shipment: Shipment, text: str) -> None:
    assert shipment.commits_text() == text


def _plan(**changes: Any) -> Any:
    app = App(name="web", repo="acme/web", workflow="deploy.yml")
    env = Environment("production", queue=changes.pop("queue", "queue"))
    given: dict[str, Any] = {
        "kind": "deploy",
        "workflow": "deploy.yml",
        "ref": "main",
        "inputs": {"stage": "production"},
        "actor": ASKER,
        "is_admin": False,
        "override": None,
        "lock": None,
        "windows": (),
        "in_flight": None,
        "waiting": 0,
        "now": NOW,
    }
    return plan_deploy(resolve(app, env), **{**given, **changes})


LOCK = Lock("web", "production", OTHER, "db migration", NOW - 60, NOW + 3600, sticky=True)
BUSY = InFlight("r1", OTHER, "deploy", "main", "orc-1", NOW - 60)


@pytest.mark.parametrize(
    ("changes", "needed", "verdict"),
    [
        ({}, 0, "dispatch"),
        ({}, 1, "approval"),
        ({"lock": LOCK}, 1, "locked"),
        ({"in_flight": BUSY}, 0, "queued"),
        ({"in_flight": BUSY, "queue": "refuse"}, 0, "busy"),
        ({"in_flight": BUSY, "queue": "refuse"}, 1, "approval"),
    ],
)
def test_what_a_dry_run_says_deploy_would_do(
    changes: dict[str, Any], needed: int, verdict: str
) -> None:
    planned = _plan(**changes)
    assert approvals.plan_verdict(planned, needed) == verdict
    shown = approvals.render_plan(
        planned, Shipment("main", SHA, LIVE), correlation_input=None, needed=needed, now=NOW
    )
    assert "Nothing was dispatched, queued or requested." in shown.embeds[0]["description"]
    assert not shown.components


@pytest.mark.parametrize("needed", [0, 1])
def test_a_dry_run_of_a_ref_github_does_not_know_says_it_would_go_nowhere(needed: int) -> None:
    shown = approvals.render_plan(
        _plan(),
        Shipment("nope", None, LIVE, problem="no such ref in acme/web"),
        correlation_input=None,
        needed=needed,
        now=NOW,
    )
    said = shown.embeds[0]["description"]
    assert said.startswith("⛔ It would go nowhere: `nope`: no such ref in acme/web.")
    assert "It would dispatch" not in said and "approval" not in said


def test_the_watch_expires_a_due_request_however_many_ended_ones_are_kept(
    store: SQLiteStore,
) -> None:
    """Ended requests are kept a day: more of them than one read holds, sorted before the
    due one, must not hide it from the watch."""
    import asyncio
    from types import SimpleNamespace

    ended = [request(id=f"{n:012x}", expires_at=NOW - 60) for n in range(approvals.PER_SHARD + 1)]
    for old in ended:
        approvals.save(store, old, NOW - 120)
        assert approvals.end(store, old, "rejected", OTHER, NOW - 100)
    due = request(id="f00000000001", expires_at=NOW - 60)
    approvals.save(store, due, NOW - 120)

    services: Any = SimpleNamespace(store=store)
    expired = asyncio.run(approvals.expire_due(services, None, NOW))  # type: ignore[arg-type]

    assert expired == 1
    ending = approvals.ending(store, due)
    assert ending is not None and ending.outcome == "expired"
