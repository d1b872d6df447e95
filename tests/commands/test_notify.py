from __future__ import annotations

import re
import time

from orchestrator import audit
from orchestrator.notifications import subscriptions
from orchestrator.services import Services
from tests.support.commands import ADMIN, Run

STRANGER = "900000000000000005"


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


def test_an_admin_adds_lists_and_removes_a_subscription(run: Run, services: Services) -> None:
    added = run("/notify add repo:acme/api channel:777 events:push")
    assert added["type"] == 4 and added["data"]["flags"] == 64
    [sub] = subscriptions.stored(services.store)
    assert sub.id in added["data"]["content"]
    listed = run("/notify list")
    [embed] = listed["data"]["embeds"]
    assert "acme/api" in embed["description"] and sub.id in embed["description"]
    assert "777" in embed["description"]

    removed = run(f"/notify remove id:{sub.id}")
    assert sub.id in removed["data"]["content"]
    after = run("/notify list")
    assert "acme/api" not in str(after["data"])
    assert "No subscriptions" in after["data"]["content"]
    actions = [
        (e.value["actor"], e.value["action"], e.value["result"])
        for e in audit.recent(services.store)
    ]
    assert (ADMIN, "/notify add", "accepted") in actions
    assert (ADMIN, "/notify remove", "accepted") in actions


_AUDIT_LINE = re.compile(r"\A(\S+) <t:(\d+):R> (<@\d+>|someone) `([^`]+)` (\w+)\Z")


def _audit_lines(answer: dict[str, object]) -> list[tuple[str, int, str, str, str]]:
    data = answer["data"]
    assert isinstance(data, dict) and data["flags"] == 64  # only the admin sees it
    [embed] = data["embeds"]
    assert embed["title"] == "📜 Audit log"
    out = []
    for line in embed["description"].splitlines():
        match = _AUDIT_LINE.match(line)
        assert match, line
        icon, when, who, action, result = match.groups()
        out.append((icon, int(when), who, action, result))
    return out


def test_audit_lists_earlier_refusals_for_an_admin(run: Run, services: Services) -> None:
    started = int(time.time())
    run("/notify add repo:a/b channel:1", user=STRANGER)
    run("/notify remove id:x", user=STRANGER)
    run("/notify add repo:acme/web channel:2")

    lines = _audit_lines(run("/audit count:25"))

    rows = [(icon, who, action, result) for icon, _, who, action, result in lines]
    assert rows == [
        ("▶️", f"<@{ADMIN}>", "/audit", "accepted"),  # the look itself is audited, first
        ("▶️", f"<@{ADMIN}>", "/notify add", "accepted"),
        ("🚫", f"<@{STRANGER}>", "/notify remove", "denied"),
        ("🚫", f"<@{STRANGER}>", "/notify add", "denied"),
    ]
    assert all(started <= when <= time.time() + 1 for _, when, *_ in lines)
    assert len(_audit_lines(run("/audit count:2"))) == 2


def test_audit_is_refused_to_others_and_the_attempt_recorded(run: Run, services: Services) -> None:
    run("/notify add repo:a/b channel:1", user=STRANGER)
    refused = run("/audit", user=STRANGER)
    assert refused["type"] == 4
    assert refused["data"]["flags"] == 64
    assert "embeds" not in refused["data"] or not refused["data"]["embeds"]
    assert "`/audit`" in refused["data"]["content"] and "admin" in refused["data"]["content"]
    assert "/notify" not in str(refused)  # nothing of the log leaks
    [latest, *_] = audit.recent(services.store)
    assert (latest.value["actor"], latest.value["action"], latest.value["result"]) == (
        STRANGER,
        "/audit",
        "denied",
    )
    rows = [(who, action, result) for _, _, who, action, result in _audit_lines(run("/audit"))]
    assert (f"<@{STRANGER}>", "/audit", "denied") in rows


def test_add_sets_the_mode_and_the_card_filters_and_list_shows_them(
    run: Run, services: Services
) -> None:
    added = run(
        '/notify add repo:acme/web channel:123 mode:card workflows:"CI*,deploy" '
        "actors:ada conclusions:failure quiet:true mention_role:555"
    )
    assert "Subscribed" in added["data"]["content"]
    [sub] = subscriptions.stored(services.store)
    assert (sub.mode, sub.workflows, sub.actors, sub.conclusions, sub.quiet) == (
        "card",
        ("CI*", "deploy"),
        ("ada",),
        ("failure",),
        True,
    )
    assert sub.mention_on_failure == "<@&555>"
    listed = run("/notify list")["data"]["embeds"][0]["description"]
    assert "mode card" in listed and "quiet (failures only)" in listed
    assert "pings <@&555> on failure" in listed

    run("/notify add repo:acme/api channel:123 events:release mode:each mention_user:777")
    each = next(s for s in subscriptions.stored(services.store) if s.repo == "acme/api")
    assert each.mode == "each" and each.mention_on_failure == "<@777>"


def test_bad_card_options_get_a_clear_answer(run: Run, services: Services) -> None:
    both = run("/notify add repo:a/b channel:123 mention_role:5 mention_user:6")
    assert "not both" in both["data"]["content"]
    quiet_each = run("/notify add repo:a/b channel:123 mode:each quiet:true")
    assert "quiet needs mode card" in quiet_each["data"]["content"]
    wrong = run("/notify add repo:a/b channel:123 conclusions:red")
    assert "unknown conclusion red" in wrong["data"]["content"]
    assert subscriptions.stored(services.store) == []
