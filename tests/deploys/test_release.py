from __future__ import annotations

import pytest

from orchestrator.deploys.release import (
    plan,
    promote_refusal,
    render,
    rollback_refusal,
    rollback_target,
)
from tests.support.discord_spec import DiscordSpec

A, B, C = "a" * 40, "b" * 40, "c" * 40
COMPARE = {
    "ahead_by": 12,
    "commits": [
        {"sha": f"{i:040x}", "commit": {"message": f"c{i}"}, "author": {"login": "ada"}}
        for i in range(12)
    ],
}


@pytest.mark.parametrize(
    ("deployed", "history", "expected"),
    [
        (A, [], None),
        (A, [{"verdict": "pass", "head_sha": A}], None),
        (A, [{"verdict": "fail", "head_sha": B}, {"verdict": "pass", "head_sha": C}], C),
        (A, [{"verdict": "PASS", "head_sha": B}], B),
        (None, [{"verdict": "pass", "head_sha": B}], B),
        (A, [{"verdict": "pass"}, {"verdict": "pass", "head_sha": 5}], None),
    ],
)
def test_rollback_target(
    deployed: str | None, history: list[dict[str, object]], expected: str | None
) -> None:
    assert rollback_target(deployed, history) == expected


def test_plan_lists_newest_first_and_counts_the_rest() -> None:
    shown = plan("web", A, B, COMPARE, [])
    assert shown.total_commits == 12
    assert len(shown.commits) == 10
    assert shown.commits[0][1] == "c11"
    text = render(shown, can_promote=True, can_roll_back=True).embeds[0]["description"]
    assert "12 commits" in text and "… and 2 more" in text


@pytest.mark.parametrize(
    ("deployed", "candidate", "promote_disabled"), [(A, A, True), (A, B, False), (None, B, False)]
)
def test_promote_is_disabled_when_there_is_nothing_to_ship(
    deployed: str | None, candidate: str, promote_disabled: bool
) -> None:
    message = render(
        plan("web", deployed, candidate, None, []), can_promote=True, can_roll_back=True
    )
    [row] = message.components
    promote, rollback = row["components"]
    assert bool(promote.get("disabled")) is promote_disabled
    assert rollback.get("disabled") is True  # no verified SHA to go back to
    DiscordSpec.get().assert_valid_request("POST", "/channels/1/messages", message.to_data())


def test_buttons_are_disabled_without_permission() -> None:
    message = render(
        plan("web", A, B, None, [{"verdict": "pass", "head_sha": C}]),
        can_promote=False,
        can_roll_back=False,
    )
    assert all(c.get("disabled") for c in message.components[0]["components"])


@pytest.mark.parametrize(
    ("deployed", "sha", "ahead_by", "refused"),
    [
        (A, A, None, "production already runs `aaaaaaa`: nothing to promote"),
        (A, B, 0, "`bbbbbbb` has no commit production (`aaaaaaa`) lacks: nothing to promote"),
        (A, B, 3, None),
        (A, B, None, None),  # GitHub could not say: the team decides
        (None, B, None, None),
    ],
)
def test_promote_refusal(
    deployed: str | None, sha: str, ahead_by: int | None, refused: str | None
) -> None:
    assert promote_refusal(deployed, sha, ahead_by) == refused


def test_promote_is_disabled_when_the_candidate_brings_nothing_new() -> None:
    """Drawn from the same rule the press re-checks (`promote_refusal`)."""
    behind = {"status": "behind", "ahead_by": 0, "commits": []}
    [row] = render(plan("web", A, B, behind, []), can_promote=True, can_roll_back=True).components
    assert row["components"][0]["disabled"] is True
    assert rollback_refusal(A, A) == "production already runs `aaaaaaa`: nothing to roll back"
    assert rollback_refusal(A, B) is None
