"""The card's pure rules: which card, which line, what a repeated event changes, the verdict."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.github.events import Event
from orchestrator.notifications import cards
from orchestrator.notifications.card_render import allowed_mentions, render_card
from tests.support import ci_events
from tests.support.discord_spec import DiscordSpec


def ev(name: str, payload: dict[str, Any], delivery: str = "d1") -> Event:
    return Event(name, delivery, payload)


def run(run_id: int, name: str, **kw: Any) -> Event:
    return ev("workflow_run", ci_events.workflow_run(run_id=run_id, name=name, **kw))


def card_of(*events: Event) -> dict[str, Any]:
    found = cards.identity(events[0])
    assert found is not None
    card = cards.new_card(found, "42")
    for event in events:
        line = cards.line_for(event)
        assert line is not None
        folded = cards.fold(card, *line, cards.commit_facts(event))
        card = folded if folded is not None else card
    return card


def test_a_card_is_per_repository_commit_and_pull_request() -> None:
    assert cards.identity(run(1, "CI")) == cards.Identity("acme/web", ci_events.SHA, None)
    assert cards.identity(run(1, "CI", pull_request=7)) == cards.Identity(
        "acme/web", ci_events.SHA, 7
    )
    status = ev("deployment_status", ci_events.deployment_status(status_id=1, state="success"))
    assert cards.identity(status) == cards.Identity("acme/web", ci_events.SHA, None)
    assert cards.identity(ev("release", {"repository": {"full_name": "a/b"}})) is None


def test_the_same_event_again_changes_nothing() -> None:
    card = card_of(run(1, "CI"))
    line = cards.line_for(
        run(
            1,
            "CI",
        )
    )
    assert line is not None
    assert cards.fold(card, *line, {}) is None  # a retried job or a redelivery
    assert card["rev"] == 1


def test_a_late_in_progress_never_reopens_a_finished_run() -> None:
    card = card_of(run(1, "CI", conclusion="failure"))
    late = cards.line_for(run(1, "CI", action="in_progress", updated_at="2026-11-29T04:06:00Z"))
    assert late is not None
    assert cards.fold(card, *late, {}) is None
    rerun = cards.line_for(run(1, "CI", attempt=2, conclusion="success"))
    assert rerun is not None
    after = cards.fold(card, *rerun, {})
    assert after is not None and cards.verdict(after) == "success"


def test_the_verdict() -> None:
    assert cards.verdict(card_of(run(1, "CI"), run(2, "Lint"))) == "success"
    assert cards.verdict(card_of(run(1, "CI"), run(2, "Lint", action="in_progress"))) == ("running")
    failing = card_of(run(1, "CI", conclusion="failure"), run(2, "Lint", action="in_progress"))
    assert cards.verdict(failing) == "failure"  # as soon as one line failed
    assert cards.verdict(card_of(run(1, "CI", conclusion="cancelled"))) == "mixed"


def test_plan_compares_what_changed_with_what_was_shown() -> None:
    card = card_of(run(1, "CI"))
    assert cards.plan(card) == "create"
    shown = {**card, "message_id": "9", "sent_rev": card["rev"]}
    assert cards.plan(shown) is None
    assert cards.plan({**shown, "rev": shown["rev"] + 1}) == "edit"
    assert cards.plan(card, quiet=True) is None  # green: quiet posts nothing
    red = card_of(run(1, "CI", conclusion="failure"))
    assert cards.plan(red, quiet=True) == "create"


def test_check_suites_of_github_actions_are_the_runs_already_on_the_card() -> None:
    ours = ci_events.check_suite(suite_id=5, app="GitHub Actions", slug="github-actions",
                                 conclusion="failure")  # fmt: skip
    theirs = ci_events.check_suite(suite_id=6, app="Codecov", slug="codecov", conclusion="failure")
    assert cards.line_for(ev("check_suite", ours)) is None
    line = cards.line_for(ev("check_suite", theirs))
    assert line is not None and line[1]["name"] == "Codecov"


def test_a_deployments_statuses_share_one_line() -> None:
    def status(status_id: int, state: str) -> Event:
        return ev(
            "deployment_status", ci_events.deployment_status(status_id=status_id, state=state)
        )

    card = card_of(status(1, "in_progress"), status(2, "failure"))
    assert list(card["lines"]) == ["deploy:production"]
    assert cards.verdict(card) == "failure"
    late = cards.line_for(status(3, "in_progress"))
    assert late is not None and cards.fold(card, *late, {}) is None


def test_the_card_names_every_workflow_and_marks_the_failure() -> None:
    card = card_of(
        run(1, "CI", conclusion="failure"), run(2, "Lint"), run(3, "Docs", action="in_progress")
    )
    message = render_card(card).to_data()
    DiscordSpec.get().assert_valid_request("POST", "/channels/42/messages", message)
    [embed] = message["embeds"]
    assert embed["title"].startswith("❌ Cards for every commit")
    lines = embed["description"].splitlines()
    assert lines[0].startswith("**❌ [CI](") and "failed in 3 min 5 s" in lines[0]
    assert "Lint" in lines[1] and "succeeded" in lines[1] and "**" not in lines[1]
    assert "Docs" in lines[2] and "running" in lines[2]
    assert message["allowed_mentions"] == {"parse": []}
    assert "content" not in message


@pytest.mark.parametrize(
    ("mention", "allowed"),
    [
        ("<@&555>", {"parse": [], "roles": ["555"]}),
        ("<@777>", {"parse": [], "users": ["777"]}),
        ("<@!777>", {"parse": [], "users": ["777"]}),
    ],
)
def test_a_failure_pings_exactly_the_subscriptions_mention(
    mention: str, allowed: dict[str, Any]
) -> None:
    assert allowed_mentions(mention) == allowed
    red = render_card(card_of(run(1, "CI", conclusion="failure")), mention=mention).to_data()
    DiscordSpec.get().assert_valid_request("POST", "/channels/42/messages", red)
    assert red["allowed_mentions"] == allowed
    assert red["content"].startswith(mention) and "CI failed" in red["content"]
    green = render_card(card_of(run(1, "CI")), mention=mention).to_data()
    assert green["allowed_mentions"] == {"parse": []} and "content" not in green


def test_a_tracked_deploy_is_a_link_to_its_deploy_message() -> None:
    link = cards.DeployLink("42", "43", "https://discord.com/channels/1/42/43", "Deploy of web")
    line = cards.line_for(run(1, "deploy"), deploy=link)
    assert line is not None
    card = cards.fold(cards.new_card(cards.Identity("acme/web", "a" * 40, None), "42"), *line, {})
    assert card is not None
    text = render_card(card).to_data()["embeds"][0]["description"]
    assert "Deploy of web" in text
    assert "[its deploy message](https://discord.com/channels/1/42/43)" in text


def test_a_deployment_of_an_exact_commit_names_no_branch() -> None:
    """The bot deploys exact SHAs (`ref` is the SHA): its `deployment_status` may open the
    card before the run does, and must not put the SHA where the branch goes."""
    by_branch = ci_events.deployment_status(status_id=1, state="success")
    assert cards.commit_facts(ev("deployment_status", by_branch))["branch"] == "main"
    for ref in (ci_events.SHA, ci_events.SHA[:7], ci_events.SHA.upper()):
        exact = ci_events.deployment_status(status_id=2, state="success")
        exact["deployment"]["ref"] = ref
        assert "branch" not in cards.commit_facts(ev("deployment_status", exact))
    card = card_of(ev("deployment_status", exact), run(1, "Deploy"))
    assert (
        card["branch"]
        == ci_events.workflow_run(run_id=1, name="Deploy")["workflow_run"]["head_branch"]
    )


def test_a_newer_status_that_shows_the_same_is_kept_but_edits_nothing() -> None:
    """A Deployment's `queued` then `in_progress` both show "running": the newer one is
    recorded (so the older stays refused) without a Discord edit that changes nothing."""

    def status(status_id: int, state: str) -> Event:
        return ev(
            "deployment_status", ci_events.deployment_status(status_id=status_id, state=state)
        )

    card = card_of(status(1, "queued"))
    assert card["rev"] == 1
    line = cards.line_for(status(2, "in_progress"))
    assert line is not None
    same = cards.fold(card, *line, {})
    assert same is not None and same["rev"] == 1, "nothing new to show"
    assert (
        same["lines"]["deploy:production"]["version"]
        > card["lines"]["deploy:production"]["version"]
    )
    older = cards.line_for(status(1, "queued"))
    assert older is not None and cards.fold(same, *older, {}) is None
    done = cards.line_for(status(3, "success"))
    assert done is not None
    finished = cards.fold(same, *done, {})
    assert finished is not None and finished["rev"] == 2
    assert cards.plan({**finished, "sent_rev": 1, "message_id": "9"}) == "edit"
    assert cards.plan({**same, "sent_rev": 1, "message_id": "9"}) is None
