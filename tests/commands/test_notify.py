from __future__ import annotations

from orchestrator import audit
from orchestrator.notifications import subscriptions
from orchestrator.services import Services
from tests.commands.conftest import Run


def test_add_list_remove(run: Run, services: Services) -> None:
    added = run(
        '/notify add repo:acme/web channel:123 events:"workflow_run.completed,push" '
        "branches:main ignore_bots:true"
    )
    assert "Subscribed" in added["data"]["content"]
    [sub] = subscriptions.stored(services.store)
    assert sub.repo == "acme/web"
    assert sub.events == ("workflow_run.completed", "push")
    assert sub.branches == ("main",)
    assert sub.ignore_bots is True

    listed = run("/notify list")
    assert "acme/web" in listed["data"]["embeds"][0]["description"]

    removed = run(f"/notify remove id:{sub.id}")
    assert "Removed" in removed["data"]["content"]
    assert subscriptions.stored(services.store) == []
    assert "No subscription" in run(f"/notify remove id:{sub.id}")["data"]["content"]


def test_bad_input_gets_a_clear_answer(run: Run, services: Services) -> None:
    answer = run("/notify add repo:not-a-repo channel:123")
    assert "owner/name" in answer["data"]["content"]
    answer = run("/notify add repo:a/b channel:123 events:stars")
    assert "unknown event stars" in answer["data"]["content"]
    assert subscriptions.stored(services.store) == []


def test_config_subscriptions_are_listed_and_protected(run: Run, services: Services) -> None:
    services.settings.config_file.write_text(
        '[[notify]]\nrepo = "acme/*"\nchannel_id = "5"\nevents = ["deployment_status"]\n'
    )
    listed = run("/notify list")
    assert "(from config)" in listed["data"]["embeds"][0]["description"]
    assert "config file" in run("/notify remove id:cfg1")["data"]["content"]


def test_non_admins_are_refused_and_audited(run: Run, services: Services) -> None:
    answer = run("/notify add repo:a/b channel:1", user="5")
    assert answer["data"]["flags"] == 64
    assert subscriptions.stored(services.store) == []
    [entry] = audit.recent(services.store)
    assert entry.value["action"] == "/notify add"
    assert entry.value["result"] == "denied"


def test_empty_list(run: Run) -> None:
    assert "No subscriptions" in run("/notify list")["data"]["content"]
