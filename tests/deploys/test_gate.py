"""`gate.plan_deploy`: the lock, freeze and queue verdicts and the one refusal that applies."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.apps import App
from orchestrator.deploys.environments import target
from orchestrator.deploys.freezes import parse_window
from orchestrator.deploys.gate import DeployPlan, plan_deploy
from orchestrator.deploys.locks import Lock
from orchestrator.deploys.queue import InFlight

T = 1_795_924_950.0  # Sun 29 Nov 2026 04:02:30 UTC
WEB = App(
    "web",
    "acme/web",
    "deploy.yml",
    environments={"staging": {}, "production": {"queue": "refuse"}},
).validate(production=True)
LOCK = Lock("web", "production", "42", "db migration", T - 60, T + 3600)
FREEZE = parse_window(
    {"name": "weekend", "cron": "0 18 * * 5", "duration": "62h", "reason": "rest"}
)
BUSY = InFlight("r1", "7", "deploy", "main", "orc-0123abcd", T - 180)


def plan(env: str = "production", **given: Any) -> DeployPlan:
    arguments: dict[str, Any] = {
        "kind": "deploy",
        "workflow": "deploy.yml",
        "ref": "main",
        "inputs": {"stage": env},
        "actor": "7",
        "is_admin": False,
        "override": None,
        "lock": None,
        "windows": [],
        "in_flight": None,
        "waiting": 0,
        "now": T,
        **given,
    }
    return plan_deploy(target(WEB, env), **arguments)


def test_nothing_in_the_way() -> None:
    found = plan()
    assert found.allowed and not found.will_wait and found.refusal is None
    assert found.inputs == {"stage": "production"} and found.target.label == "web/production"


def test_someone_elses_lock_refuses_naming_owner_reason_and_time_left() -> None:
    found = plan(lock=LOCK)
    assert not found.allowed and not found.lock.passes
    assert found.refusal is not None
    assert "web/production is locked by <@42>: “db migration” (for 1 h more)" in found.refusal


def test_the_owners_own_lock_lets_them_through() -> None:
    found = plan(lock=LOCK, actor="42")
    assert found.allowed and found.lock.owners_pass


def test_a_freeze_refuses_and_says_how_to_override() -> None:
    friday_night = T - 33 * 3600  # Fri 27 Nov 19:02 UTC
    found = plan(windows=[FREEZE], now=friday_night)
    assert found.refusal is not None
    assert "frozen: **weekend** (rest) until Mon 30 Nov 2026 08:00 UTC" in found.refusal
    assert "An admin may deploy anyway" in found.refusal
    admin = plan(windows=[FREEZE], now=friday_night, is_admin=True)
    assert admin.refusal is not None and "give `override:` a reason" in admin.refusal


@pytest.mark.parametrize(
    ("is_admin", "override", "allowed"),
    [(True, "hotfix", True), (True, "   ", False), (False, "hotfix", False), (True, None, False)],
)
def test_only_an_admin_with_a_reason_overrides_a_freeze(
    is_admin: bool, override: str | None, allowed: bool
) -> None:
    found = plan(windows=[FREEZE], now=T - 33 * 3600, is_admin=is_admin, override=override)
    assert found.allowed is allowed
    assert found.freeze.override == ("hotfix" if allowed else None)


def test_an_override_outside_a_freeze_changes_nothing() -> None:
    tuesday = T + 2 * 86400
    found = plan(windows=[FREEZE], is_admin=True, override="hotfix", now=tuesday)
    assert found.allowed and found.freeze.freeze is None and found.freeze.override is None


def test_a_lock_refuses_before_a_freeze() -> None:
    found = plan(lock=LOCK, windows=[FREEZE], now=T - 33 * 3600)
    assert found.refusal is not None and "locked" in found.refusal


def test_a_busy_environment_queues_or_refuses_as_it_says() -> None:
    queued = plan("staging", in_flight=BUSY, waiting=2)
    assert queued.allowed and queued.will_wait
    refused = plan("production", in_flight=BUSY)
    assert refused.refusal is not None
    assert "busy: <@7>'s deploy of main (orc-0123abcd), started 3 min ago" in refused.refusal
    assert "does not queue" in refused.refusal


def test_a_replayed_override_passes_only_the_freeze_it_was_given_for() -> None:
    during = T - 33 * 3600
    given = {"windows": [FREEZE], "now": during, "is_admin": True, "override": "hotfix"}
    assert plan(**given, override_window="weekend").allowed
    other = plan(**given, override_window="xmas")
    assert not other.allowed and other.freeze.override is None
    assert other.refusal is not None and "**weekend**" in other.refusal
