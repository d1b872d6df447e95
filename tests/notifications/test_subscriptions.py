from __future__ import annotations

import re
from typing import Any

import pytest

from orchestrator.github.events import Event
from orchestrator.notifications.subscriptions import InvalidSubscription, Subscription


def event(
    name: str = "workflow_run",
    action: str | None = "completed",
    repo: str = "acme/web",
    branch: str = "main",
    sender: str = "ada",
    sender_type: str = "User",
    workflow: str = "CI",
    conclusion: str | None = "success",
) -> Event:
    payload: dict[str, Any] = {
        "repository": {"full_name": repo},
        "sender": {"login": sender, "type": sender_type},
        "workflow_run": {"head_branch": branch, "name": workflow, "conclusion": conclusion},
        "ref": f"refs/heads/{branch}",
    }
    if action:
        payload["action"] = action
    return Event(name, "d1", payload)


def sub(**kw: Any) -> Subscription:
    return Subscription(**{"id": "s", "repo": "acme/web", "channel_id": "1", **kw})


@pytest.mark.parametrize(
    ("subscription", "incoming", "expected"),
    [
        (sub(), event(), True),
        (sub(repo="acme/*"), event(repo="acme/api"), True),
        (sub(repo="acme/*"), event(repo="other/api"), False),
        (sub(repo="*"), event(repo="anything/x"), True),
        (sub(repo="ACME/Web"), event(repo="acme/web"), True),
        (sub(events=("workflow_run",)), event(), True),
        (sub(events=("workflow_run.completed",)), event(), True),
        (sub(events=("workflow_run.requested",)), event(), False),
        (sub(events=("push",)), event(), False),
        (sub(events=("push",)), event("push", None), True),
        (sub(branches=("main",)), event(branch="main"), True),
        (sub(branches=("release/*",)), event(branch="release/1.2"), True),
        (sub(branches=("release/*",)), event(branch="main"), False),
        (sub(branches=("main",)), event("push", None, branch="main"), True),
        (sub(ignore_bots=True), event(sender="dependabot[bot]", sender_type="Bot"), False),
        (sub(ignore_bots=True), event(sender="renovate[bot]"), False),
        (sub(ignore_bots=True), event(), True),
        (sub(ignore_actors=("Ada",)), event(sender="ada"), False),
        (sub(ignore_actors=("bob",)), event(sender="ada"), True),
        (sub(actors=("Ada",)), event(sender="ada"), True),
        (sub(actors=("bob",)), event(sender="ada"), False),
        (sub(workflows=("CI*", "deploy")), event(workflow="CI / unit"), True),
        (sub(workflows=("CI*", "deploy")), event(workflow="Deploy"), True),
        (sub(workflows=("CI*", "deploy")), event(workflow="Lint"), False),
        (sub(workflows=("CI*",)), event("push", None), False),
        (sub(conclusions=("failure",)), event(conclusion="failure"), True),
        (sub(conclusions=("failure",)), event(conclusion="success"), False),
        (sub(conclusions=("failure",)), event(action="in_progress", conclusion=None), False),
    ],
)
def test_matching(subscription: Subscription, incoming: Event, expected: bool) -> None:
    assert subscription.matches(incoming) is expected


def test_an_event_without_a_branch_does_not_match_a_branch_filter() -> None:
    issue = Event("issues", "d", {"action": "opened", "repository": {"full_name": "acme/web"}})
    assert sub(branches=("main",)).matches(issue) is False
    assert sub().matches(issue) is True


@pytest.mark.parametrize(
    "data",
    [
        {"repo": "nope", "channel_id": "1"},
        {"repo": "a/b", "channel_id": "general"},
        {"repo": "a/b", "channel_id": "1", "events": []},
        {"channel_id": "1"},
    ],
)
def test_invalid_subscriptions_are_refused(data: dict[str, Any]) -> None:
    with pytest.raises(InvalidSubscription):
        Subscription.from_dict(data, id="x", source="config")


def test_garbage_payloads_never_match_by_accident() -> None:
    weird = Event("workflow_run", "d", {"repository": "not a dict", "sender": None})
    assert sub().matches(weird) is False
    assert sub(repo="*").matches(weird) is True


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"mode": "cards"}, "mode must be card or each, got 'cards'"),
        ({"mode": "each", "quiet": True}, "quiet needs mode card"),
        ({"quiet": "yes"}, "quiet must be true or false"),
        ({"conclusions": ["failed"]}, "unknown conclusion failed"),
        ({"mention_on_failure": "@here"}, "mention_on_failure must be one role or user"),
        ({"mention_on_failure": "<@&1> <@&2>"}, "mention_on_failure must be one role or user"),
        ({"mention_on_falure": "<@&1>"}, "unknown setting 'mention_on_falure'"),
        ({"workflows": 3}, "expected a list"),
    ],
)
def test_bad_card_settings_say_what_is_wrong(data: dict[str, Any], says: str) -> None:
    with pytest.raises(InvalidSubscription, match=re.escape(says)):
        Subscription.from_dict({"repo": "a/b", "channel_id": "1", **data}, id="x", source="config")


def test_the_mode_defaults_to_cards_for_ci_and_single_posts_for_the_rest() -> None:
    default = sub()
    assert [default.mode_for(e) for e in ("workflow_run", "check_suite", "deployment_status")] == [
        "card"
    ] * 3
    assert default.mode_for("release") == default.mode_for("issues") == "each"
    assert sub(mode="each").mode_for("workflow_run") == "each"
    assert sub(mode="card").mode_for("release") == "each"  # a release has no commit card


def test_card_settings_round_trip_through_the_store_record() -> None:
    original = sub(
        mode="card",
        workflows=("CI*",),
        actors=("ada",),
        conclusions=("failure",),
        quiet=True,
        mention_on_failure="<@&5>",
    )
    again = Subscription.from_dict(original.to_record(), id="s", source="store")
    assert again == original
    assert "mode card" in again.describe() and "pings <@&5> on failure" in again.describe()
