"""Deploy safety through the real dispatcher: environments, locks, freeze windows, and one deploy
at a time per environment, against the local fakes (every Discord request schema-checked).
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from orchestrator import audit
from orchestrator.deploys import locks, queue, tracking
from orchestrator.devtools.simulate import Invoker, command_interaction, component_interaction
from orchestrator.discord import dispatch
from orchestrator.discord.interactions import Interaction
from orchestrator.schedules.aws import run_schedule_event
from orchestrator.services import Services
from tests.support.commands import ADMIN, DEPLOYER, STRANGER, answer, sent
from tests.support.deploy_world import DeployWorld, deploy_world, numbered_runs
from tests.support.discord_spec import DiscordSpec
from tests.support.fake_github import Recorded
from tests.support.sites import Site
from tests.support.world import completed_run, deliver

OTHER = "900000000000000004"  # a second deployer, not an admin
APP_CHANNEL = "111111111111111111"
PROD_CHANNEL = "444444444444444444"
SHA = "abcdef0123456789abcdef0123456789abcdef01"
DEPLOY = "/repos/acme/web/actions/workflows/deploy.yml/dispatches"
PROMOTE = "/repos/acme/web/actions/workflows/promote.yml/dispatches"
ROLLBACK = "/repos/acme/web/actions/workflows/rollback.yml/dispatches"


def config_text(site: Site, production: str = "", extra: str = "") -> str:
    return (
        '[[apps]]\nname = "web"\nrepo = "acme/web"\nworkflow = "deploy.yml"\n'
        'promote_workflow = "promote.yml"\nrollback_workflow = "rollback.yml"\n'
        'correlation_input = "correlation_id"\n'
        f'channel_id = "{APP_CHANNEL}"\nfrontend_url = "{site.url}/"\n'
        'deploy_inputs = { region = "eu" }\n\n'
        '[apps.environments.staging]\nbranch = "develop"\n'
        'deploy_inputs = { stage = "staging" }\n\n'
        '[apps.environments.production]\ndeploy_inputs = { stage = "production" }\n'
        f'channel_id = "{PROD_CHANNEL}"\n{production}\n'
        '[[apps]]\nname = "api"\nrepo = "acme/api"\nworkflow = "deploy.yml"\n'
        'correlation_input = "correlation_id"\n' + extra
    )


class World(DeployWorld):
    def configure(self, production: str = "", extra: str = "") -> None:
        self.rewrite(config_text(self.site, production, extra))

    def deploy(self, line: str, user: str = DEPLOYER) -> dict[str, Any]:
        application = self.services.settings.discord_application_id or "1"
        raw = command_interaction(self.services.bot, line, application, Invoker(user_id=user))
        return answer(self.services, raw)

    def final(self, result: dict[str, Any]) -> dict[str, Any]:
        """The last state of the reply to one interaction."""
        edits = sent(self.discord, result["_token"])
        assert edits, "nothing was sent for that interaction"
        body: dict[str, Any] = edits[-1].body
        return body

    def posts(self, channel: str) -> list[dict[str, Any]]:
        return [
            r.body
            for r in sent(self.discord)
            if r.method == "POST" and r.path == f"/channels/{channel}/messages"
        ]

    def dispatches(self, path: str = DEPLOY) -> list[Recorded]:
        return self.github.calls("POST", path)


def _text(body: dict[str, Any]) -> str:
    return str(body.get("content") or "") + str(body.get("embeds") or "")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    deployers = f"{DEPLOYER},{OTHER}"
    with deploy_world(World, tmp_path, config_text, live_sha=SHA, deployers=deployers) as world:
        numbered_runs(world.github, DEPLOY, 100)
        numbered_runs(world.github, PROMOTE, 500)
        numbered_runs(world.github, ROLLBACK, 600)
        numbered_runs(world.github, "/repos/acme/api/actions/workflows/deploy.yml/dispatches", 900)
        yield world


def _audited(services: Services, action: str) -> list[dict[str, Any]]:
    return [e.value for e in audit.recent(services.store, limit=100) if e.value["action"] == action]


# -- environments -----------------------------------------------------------------------------


def test_deploying_to_an_environment_uses_its_branch_and_inputs(world: World) -> None:
    result = world.deploy("/deploy app:web env:staging")
    [call] = world.dispatches()
    assert call.body["ref"] == "develop"
    assert call.body["inputs"]["region"] == "eu" and call.body["inputs"]["stage"] == "staging"
    tracked = tracking.load(world.services.store, "acme/web", 100)
    assert tracked is not None and tracked.environment == "staging"
    assert "Deploy web → staging" in world.final(result)["embeds"][0]["title"]


def test_an_app_with_several_environments_asks_which(world: World) -> None:
    result = world.deploy("/deploy app:web")
    assert "which environment of web? (staging, production)" in world.final(result)["content"]
    assert not world.dispatches()


def test_an_app_without_environments_deploys_as_before(world: World) -> None:
    result = world.deploy("/deploy app:api")
    [call] = world.github.calls("POST", "/repos/acme/api/actions/workflows/deploy.yml/dispatches")
    assert call.body["ref"] == "main"
    tracked = tracking.load(world.services.store, "acme/api", 900)
    assert tracked is not None and tracked.environment == "default"
    assert world.final(result)["embeds"][0]["title"] == "🚀 Deploy api"


def test_env_autocompletes_the_chosen_apps_environments(world: World) -> None:
    raw = command_interaction(
        world.services.bot,
        "/deploy app:web env:?",
        "1",
        Invoker(user_id=DEPLOYER),
        autocomplete=True,
    )
    reply = asyncio.run(dispatch.respond(world.services.bot, Interaction(raw), world.services))
    DiscordSpec.get().assert_valid_interaction_response(reply)
    assert [c["value"] for c in reply["data"]["choices"]] == ["staging", "production"]
    raw = command_interaction(
        world.services.bot, "/lock app:web env:?", "1", Invoker(user_id=DEPLOYER), autocomplete=True
    )
    reply = asyncio.run(dispatch.respond(world.services.bot, Interaction(raw), world.services))
    assert [c["value"] for c in reply["data"]["choices"]] == ["*", "staging", "production"]


# -- locks ------------------------------------------------------------------------------------


def test_a_locked_environment_refuses_deploys_with_the_owner_and_reason(world: World) -> None:
    locked = world.deploy("/lock app:web env:production reason:'db migration' ttl:2h")
    assert "locked" in str(locked["data"]["embeds"]) and "db migration" in str(locked["data"])
    refused = world.deploy("/deploy app:web env:production", user=OTHER)
    text = world.final(refused)["content"]
    assert f"locked by <@{DEPLOYER}>" in text and "db migration" in text
    assert not world.dispatches(), "no run dispatched"
    assert world.deploy("/deploy app:web env:staging", user=OTHER)  # another environment
    assert len(world.dispatches()) == 1
    [gate] = _audited(world.services, "deploy.gate")
    assert (gate["actor"], gate["result"], gate["verdict"]) == (OTHER, "refused", "locked")
    [taken] = _audited(world.services, "lock.take")
    assert (taken["actor"], taken["reason"], taken["ttl"]) == (DEPLOYER, "db migration", 7200.0)


def test_the_owner_deploys_through_a_sticky_lock_and_it_stays(world: World) -> None:
    world.deploy("/lock app:web env:production reason:release")
    world.deploy("/deploy app:web env:production")
    assert len(world.dispatches()) == 1
    assert locks.get(world.services.store, "web", "production") is not None


def test_a_one_deploy_lock_is_released_by_the_owners_next_dispatch(world: World) -> None:
    world.deploy("/lock app:web env:production reason:hotfix sticky:false")
    world.deploy("/deploy app:web env:production", user=OTHER)
    assert not world.dispatches()
    world.deploy("/deploy app:web env:production")
    assert len(world.dispatches()) == 1
    assert locks.get(world.services.store, "web", "production") is None


def test_promote_and_roll_back_are_refused_while_locked(world: World) -> None:
    world.deploy("/lock app:web env:production reason:incident")
    for custom_id, path in (
        (f"release.promote:web:{SHA}", PROMOTE),
        (f"release.rollback:web:{SHA}", ROLLBACK),
    ):
        pressed = answer(
            world.services, component_interaction(custom_id, "1", Invoker(user_id=OTHER))
        )
        assert "incident" in world.final(pressed)["content"]
        assert not world.dispatches(path)
    pressed = answer(
        world.services,
        component_interaction(f"release.promote:web:{SHA}", "1", Invoker(user_id=DEPLOYER)),
    )
    assert len(world.dispatches(PROMOTE)) == 1, "the owner's own press goes through"
    tracked = tracking.load(world.services.store, "acme/web", 500)
    assert tracked is not None and tracked.environment == "production"


def test_a_promote_refused_by_a_lock_can_be_pressed_again_after_unlock(world: World) -> None:
    world.deploy("/lock app:web env:production reason:incident")
    press = component_interaction(
        f"release.promote:web:{SHA}", "1", Invoker(user_id=OTHER), message_id="9"
    )
    refused = answer(world.services, press)
    assert "incident" in world.final(refused)["content"]
    assert not world.dispatches(PROMOTE)
    world.deploy("/unlock app:web env:production")
    again = component_interaction(
        f"release.promote:web:{SHA}", "1", Invoker(user_id=OTHER), message_id="9"
    )
    answer(world.services, again)  # the same button of the same message
    assert len(world.dispatches(PROMOTE)) == 1, "the refused press was given back"


def test_lock_star_locks_every_environment_and_locks_lists_them(world: World) -> None:
    world.deploy("/lock app:web env:* reason:'quarter end' ttl:1d")
    assert {(lock.app, lock.environment) for lock in locks.everything(world.services.store)} == {
        ("web", "staging"),
        ("web", "production"),
    }
    listed = world.deploy("/locks", user=STRANGER)["data"]["embeds"][0]["description"]
    assert "**web/staging** 🔒" in listed and "**web/production** 🔒" in listed
    assert re.search(f"<@{DEPLOYER}>: “quarter end” · sticky · (1 d|23 h 59 min) left", listed)
    other = world.deploy("/lock app:web env:staging reason:mine", user=OTHER)
    assert "already 🔒" in str(other["data"]["embeds"])


def test_unlocking_someone_elses_lock_takes_an_admin_and_a_reason(world: World) -> None:
    world.deploy("/lock app:web env:production reason:'db migration'")
    denied = world.deploy("/unlock app:web env:production", user=OTHER)
    assert "only they, or an admin" in str(denied["data"]["embeds"])
    no_reason = world.deploy("/unlock app:web env:production", user=ADMIN)
    assert "give `reason:`" in str(no_reason["data"]["embeds"])
    assert locks.get(world.services.store, "web", "production") is not None
    broken = world.deploy("/unlock app:web env:production reason:'site down'", user=ADMIN)
    assert "broken" in str(broken["data"]["embeds"])
    assert locks.get(world.services.store, "web", "production") is None
    [entry] = _audited(world.services, "lock.break")
    assert (entry["actor"], entry["owner"], entry["lock_reason"], entry["reason"]) == (
        ADMIN,
        DEPLOYER,
        "db migration",
        "site down",
    )
    world.deploy("/lock app:web env:staging reason:mine")
    world.deploy("/unlock app:web env:staging")
    assert locks.get(world.services.store, "web", "staging") is None, "the owner unlocks freely"


def test_locking_takes_the_deploy_role(world: World) -> None:
    refused = world.deploy("/lock app:web env:production reason:x", user=STRANGER)
    assert refused["data"]["flags"] == 64
    assert locks.get(world.services.store, "web", "production") is None


def test_a_reminder_is_posted_once_before_a_lock_lapses(world: World) -> None:
    world.deploy("/lock app:web env:production reason:'db migration' ttl:10min")
    world.deploy("/lock app:web env:staging reason:'long one' ttl:3h")
    event = {"orchestrator_schedule": "deploys.watch", "at": "2026-11-29T09:05:00Z"}
    assert run_schedule_event(event, world.services)["status"] == "done"
    [reminder] = world.posts(PROD_CHANNEL)
    assert f"<@{DEPLOYER}>" in reminder["content"] and "db migration" in reminder["content"]
    assert reminder["allowed_mentions"] == {"parse": [], "users": [DEPLOYER]}
    assert not world.posts(APP_CHANNEL), "staging's lock is far from lapsing"
    event["at"] = "2026-11-29T09:10:00Z"
    run_schedule_event(event, world.services)
    assert len(world.posts(PROD_CHANNEL)) == 1, "one reminder per expiry"


# -- freeze windows ---------------------------------------------------------------------------

FROZEN = (
    '[[freeze]]\nname = "holidays"\nstart = "2000-01-01T00:00Z"\nend = "2999-01-01T00:00Z"\n'
    'environments = ["production"]\nreason = "everyone is away"\n'
)


def test_a_freeze_refuses_deploys_naming_the_window_and_its_end(world: World) -> None:
    world.configure(extra=FROZEN)
    refused = world.deploy("/deploy app:web env:production")
    text = world.final(refused)["content"]
    assert "frozen: **holidays** (everyone is away) until Tue 01 Jan 2999 00:00 UTC" in text
    assert not world.dispatches()
    world.deploy("/deploy app:web env:staging")
    assert len(world.dispatches()) == 1, "the window covers production only"


def test_an_admin_override_needs_a_reason_is_audited_and_announced(world: World) -> None:
    world.configure(extra=FROZEN)
    not_admin = world.deploy("/deploy app:web env:production override:'it is urgent'")
    assert "An admin may deploy anyway" in world.final(not_admin)["content"]
    assert not world.dispatches()
    world.deploy("/deploy app:web env:production override:'security fix'", user=ADMIN)
    assert len(world.dispatches()) == 1
    [entry] = _audited(world.services, "freeze.override")
    assert (entry["actor"], entry["window"], entry["reason"], entry["environment"]) == (
        ADMIN,
        "holidays",
        "security fix",
        "production",
    )
    [announced] = world.posts(PROD_CHANNEL)
    assert "holidays" in announced["content"] and "security fix" in announced["content"]
    assert f"<@{ADMIN}>" in announced["content"]


def test_an_override_outside_a_freeze_is_ignored_and_not_audited(world: World) -> None:
    world.deploy("/deploy app:web env:production override:'just because'", user=ADMIN)
    assert len(world.dispatches()) == 1
    assert not _audited(world.services, "freeze.override")
    assert not world.posts(PROD_CHANNEL)


def test_freeze_add_list_and_remove(world: World) -> None:
    denied = world.deploy("/freeze add name:always cron:'* * * * *' duration:1h", user=DEPLOYER)
    assert denied["data"]["flags"] == 64
    added = world.deploy(
        "/freeze add name:always cron:'* * * * *' duration:1h timezone:Europe/Berlin "
        "apps:web environments:prod* reason:'code freeze'",
        user=ADMIN,
    )
    assert "added" in str(added["data"]["embeds"])
    refused = world.deploy("/deploy app:web env:production")
    assert "**always** (code freeze)" in world.final(refused)["content"]
    listed = world.deploy("/freeze list", user=STRANGER)["data"]["embeds"][0]["fields"]
    [shown] = listed
    assert shown["name"] == "🧊 always" and "in force" in shown["value"]
    assert f"added by <@{ADMIN}>" in shown["value"]
    bad = world.deploy("/freeze add name:bad cron:'0 25 * * *' duration:1h", user=ADMIN)
    assert "hour" in bad["data"]["content"]
    world.deploy("/freeze remove name:always", user=ADMIN)
    world.deploy("/deploy app:web env:production")
    assert len(world.dispatches()) == 1
    entries = [entry.value for entry in audit.recent(world.services.store, limit=50)]
    results = [e["result"] for e in entries if e["action"].startswith("freeze.")]
    assert results == ["removed", "rejected", "added"], "newest first"


# -- one deploy at a time ---------------------------------------------------------------------


def _finish(world: World, run_id: int, delivery: str) -> None:
    deliver(world.services, completed_run(run_id, "success"), delivery=delivery)
    assert world.services.jobs.drain(30)  # type: ignore[attr-defined]


def test_a_second_deploy_waits_and_starts_when_the_first_has_finished(world: World) -> None:
    first = world.deploy("/deploy app:web env:production")
    second = world.deploy("/deploy app:web env:production", user=OTHER)
    assert len(world.dispatches()) == 1
    waiting = world.final(second)["embeds"][0]
    assert (
        "#1 in line" in waiting["description"]
        and f"<@{DEPLOYER}>'s deploy" in waiting["description"]
    )
    assert queue.position(world.services.store, "web", "production", _request_id(world)) == 1
    _finish(world, 100, "d-100")
    assert len(world.dispatches()) == 2, "the waiting deploy started by itself"
    tracked = tracking.load(world.services.store, "acme/web", 101)
    assert tracked is not None and tracked.actor == OTHER and tracked.environment == "production"
    assert "queued" in world.final(second)["embeds"][0]["description"], "its message tracks it"
    assert not queue.waiting(world.services.store, "web", "production")
    slot = queue.in_flight(world.services.store, "web", "production")
    assert slot is not None and slot.correlation == tracked.correlation
    _finish(world, 100, "d-100-again")  # the first run's end, redelivered: nothing more
    assert len(world.dispatches()) == 2
    assert first


def _request_id(world: World) -> str:
    [(_, request)] = queue.waiting(world.services.store, "web", "production")
    return request.id


def test_deploys_in_other_environments_do_not_wait(world: World) -> None:
    world.deploy("/deploy app:web env:production")
    world.deploy("/deploy app:web env:staging")
    assert len(world.dispatches()) == 2


def test_the_queue_survives_a_restart(world: World, tmp_path: Path) -> None:
    world.deploy("/deploy app:web env:production")
    world.deploy("/deploy app:web env:production", user=OTHER)
    settings = world.services.settings
    world.services.close()
    world.services = Services(settings)  # a new process, the same store
    assert len(queue.waiting(world.services.store, "web", "production")) == 1
    _finish(world, 100, "d-restart")
    assert len(world.dispatches()) == 2


def test_a_waiting_deploy_is_checked_again_when_its_turn_comes(world: World) -> None:
    world.deploy("/deploy app:web env:production")
    second = world.deploy("/deploy app:web env:production", user=OTHER)
    world.deploy("/lock app:web env:production reason:'stop everything'", user=ADMIN)
    _finish(world, 100, "d-lock")
    assert len(world.dispatches()) == 1, "locked meanwhile: not started"
    assert "stop everything" in world.final(second)["content"]
    assert "not started" in world.final(second)["content"]
    assert queue.in_flight(world.services.store, "web", "production") is None, "the slot is free"


def test_a_refusing_environment_refuses_while_one_is_in_flight(world: World) -> None:
    world.configure(production='queue = "refuse"\n')
    world.deploy("/deploy app:web env:production")
    refused = world.deploy("/deploy app:web env:production", user=OTHER)
    text = world.final(refused)["content"]
    assert "busy" in text and f"<@{DEPLOYER}>'s deploy" in text and "does not queue" in text
    assert len(world.dispatches()) == 1
    _finish(world, 100, "d-refuse")
    world.deploy("/deploy app:web env:production", user=OTHER)
    assert len(world.dispatches()) == 2, "free again once the first has finished"


def test_a_failed_dispatch_frees_the_environment(world: World) -> None:
    world.github.on("POST", DEPLOY, {"message": "Workflow does not exist"}, status=404)
    failed = world.deploy("/deploy app:web env:production")
    assert world.final(failed)["content"], "the failure is shown"
    assert queue.in_flight(world.services.store, "web", "production") is None
    numbered_runs(world.github, DEPLOY, 200)
    world.deploy("/deploy app:web env:production")
    assert queue.in_flight(world.services.store, "web", "production") is not None


def _deploy_together(world: World, line: str, users: list[str]) -> None:
    """Ten `/deploy`s of one environment, each handled in its own thread at the same moment:
    the deferred work the dispatcher runs for each, in parallel (not interleaved on one loop)."""
    services = world.services
    start = threading.Barrier(len(users))
    raws = [command_interaction(services.bot, line, "1", Invoker(user_id=u)) for u in users]

    def one(raw: dict[str, Any]) -> None:
        start.wait(timeout=10)
        asyncio.run(dispatch.run_deferred(services.bot, Interaction(raw), services))

    with ThreadPoolExecutor(len(users)) as pool:
        list(pool.map(one, raws))


def test_ten_simultaneous_deploys_dispatch_once_and_queue_the_rest(world: World) -> None:
    _deploy_together(
        world, "/deploy app:web env:production", [DEPLOYER, OTHER, ADMIN] * 3 + [OTHER]
    )
    assert len(world.dispatches()) == 1
    assert len(queue.waiting(world.services.store, "web", "production")) == 9
    for run_id in range(100, 110):
        _finish(world, run_id, f"d-{run_id}")
    assert len(world.dispatches()) == 10, "each started in turn, one at a time"
    assert not queue.waiting(world.services.store, "web", "production")


def test_ten_simultaneous_deploys_dispatch_once_and_refuse_the_rest(world: World) -> None:
    world.configure(production='queue = "refuse"\n')
    _deploy_together(world, "/deploy app:web env:production", [DEPLOYER, OTHER] * 5)
    assert len(world.dispatches()) == 1
    assert not queue.waiting(world.services.store, "web", "production")
    refused = [e for e in _audited(world.services, "deploy.gate") if e["verdict"] == "busy"]
    assert len(refused) == 9


# -- status and history -----------------------------------------------------------------------


def test_status_and_history_show_each_environment(world: World) -> None:
    world.deploy("/lock app:web env:staging reason:'qa run'", user=OTHER)
    world.deploy("/deploy app:web env:production")
    world.deploy("/deploy app:web env:production", user=ADMIN)
    world.github.on(
        "GET",
        "/repos/acme/web/actions/workflows/deploy.yml/runs",
        {"total_count": 0, "workflow_runs": []},
    )
    status = world.deploy("/status app:web", user=STRANGER)
    fields = {f["name"]: f["value"] for f in world.final(status)["embeds"][0]["fields"]}
    staging, production = fields["Environments"].splitlines()
    assert staging.startswith("**staging** · live ? · never verified · 🔒 <@900000000000000004>")
    assert "qa run" in staging
    assert (
        production.startswith("**production**")
        and "🚀 <@900000000000000002>'s deploy" in production
    )
    assert "🕒 1 waiting" in production
    history = world.deploy("/history app:web", user=STRANGER)
    [field] = history["data"]["embeds"][0]["fields"]
    assert field["name"] == "Environments" and "🕒 1 waiting" in field["value"]
    _finish(world, 100, "d-status")
    history = world.deploy("/history app:web", user=STRANGER)
    production = history["data"]["embeds"][0]["fields"][0]["value"].splitlines()[1]
    assert "· ❌ fail just now ·" in production, "the finished run was verified (and failed)"
    assert f"🚀 <@{ADMIN}>'s deploy" in production, "the waiting one is in flight now"
    assert "waiting" not in production


def test_promote_is_no_way_around_approvals(world: World) -> None:
    world.configure(production="approvals = 1")
    pressed = answer(
        world.services,
        component_interaction(f"release.promote:web:{SHA}", "1", Invoker(user_id=DEPLOYER)),
    )
    text = world.final(pressed)["content"]
    assert "needs 1 approval" in text and f"/deploy app:web env:production ref:{SHA}" in text
    assert not world.dispatches(PROMOTE)
    audited = _audited(world.services, "release.promote")
    assert [e["result"] for e in audited if "approval" in str(e)] == ["refused"], audited
