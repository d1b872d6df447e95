"""What a failed verification rolls back to, and when the bot does it unasked."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from orchestrator.deploys.environments import Environment
from orchestrator.deploys.rollback import auto_due, target_sha
from orchestrator.deploys.tracking import Tracked

NEW = "abcdef0123456789abcdef0123456789abcdef01"
OLD = "0123456789abcdef0123456789abcdef01234567"


def failed(**changes: Any) -> Tracked:
    base = Tracked(
        kind="deploy",
        app="web",
        repo="acme/web",
        ref="main",
        actor="1",
        correlation="orc-0123abcd",
        environment="production",
        status="completed",
        conclusion="success",
        deploy_sha=NEW,
        verdict="FAIL",
        rollback_sha=OLD,
    )
    return replace(base, **changes)


@pytest.mark.parametrize(
    ("changes", "verdict", "live", "expected"),
    [
        ({}, "FAIL", OLD, OLD),
        ({"kind": "release"}, "FAIL", OLD, OLD),
        ({}, "PASS", OLD, None),
        ({}, "WARN", OLD, None),
        ({}, "FAIL", None, None),  # never verified: nowhere to go back to
        ({}, "FAIL", NEW, None),  # what failed is what was live: nothing to go back to
        ({"deploy_sha": NEW[:7]}, "FAIL", NEW, None),
        ({"kind": "rollback"}, "FAIL", OLD, None),  # never a rollback of a rollback
        ({"kind": "diagnose"}, "FAIL", OLD, None),
        ({"conclusion": "failure"}, "FAIL", OLD, None),  # the run failed: it shipped nothing
    ],
)
def test_what_roll_back_goes_back_to(
    changes: dict[str, Any], verdict: str, live: str | None, expected: str | None
) -> None:
    assert target_sha(failed(**changes), verdict, live) == expected


@pytest.mark.parametrize(
    ("changes", "offered"),
    [
        ({}, True),
        ({"verdict": "PASS"}, False),
        ({"rollback_sha": None}, False),
        ({"rollback_note": "<@1>: rolling back"}, False),  # once per message
        ({"kind": "rollback"}, False),
    ],
)
def test_when_the_message_offers_roll_back(changes: dict[str, Any], offered: bool) -> None:
    assert failed(**changes).offers_rollback is offered


def test_auto_rollback_needs_the_environment_to_ask_for_it() -> None:
    on, off = Environment("production", auto_rollback=True), Environment("production")
    assert auto_due(failed(), on)
    assert not auto_due(failed(), off)
    assert not auto_due(failed(kind="rollback"), on), "never a rollback of a rollback"
    assert not auto_due(failed(rollback_note="auto_rollback: rolling back"), on)
