"""GitHub Deployments and rolling back, through the real dispatcher and the local fakes.

A deploy is a GitHub Deployment whose statuses go queued -> in progress -> success, and
success only once verification has passed; a failed verification says failure and offers
Roll back (or, with `auto_rollback`, rolls back by itself, once, never a rollback of a
rollback). Every GitHub exchange is checked against GitHub's OpenAPI description, every
Discord request against Discord's.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from orchestrator import audit
from orchestrator.deploys import history, launch, queue, tracking
from orchestrator.devtools.discord_standin import DiscordStandIn
from orchestrator.devtools.simulate import Invoker, command_interaction, component_interaction
from orchestrator.github.events import Event
from orchestrator.jobs.base import Job, JobContext
from orchestrator.product import events as product_router
from orchestrator.services import Services
from tests.support import github_objects as gh
from tests.support.commands import ADMIN, DEPLOYER, STRANGER, answer, sent
from tests.support.deploy_world import fakes_settings
from tests.support.fake_github import FakeGitHub, Recorded
from tests.support.sites import Site
from tests.support.world import completed_run, deliver

GOOD = "abcdef0123456789abcdef0123456789abcdef01"  # what the site serves
BAD = "1111111111111111111111111111111111111111"
OTHER = "2222222222222222222222222222222222222222"
DEPLOY = "/repos/acme/web/actions/workflows/deploy.yml/dispatches"
ROLLBACK = "/repos/acme/web/actions/workflows/rollback.yml/dispatches"
DEPLOYMENTS = "/repos/acme/web/deployments"


def config_text(site: Site, production: str) -> str:
    return (
        '[[apps]]\nname = "web"\nrepo = "acme/web"\nworkflow = "deploy.yml"\n'
        'rollback_workflow = "rollback.yml"\ncorrelation_input = "correlation_id"\n'
        f'frontend_url = "{site.url}/"\nversion_url = "{site.url}/version"\n'
        'version_field = "build.sha"\n'
        'frontend_version_pattern = \'app-version" content="([0-9a-f]+)"\'\n\n'
        f"[apps.environments.production]\n{production}\n"
    )


@dataclass
class World:
    services: Services
    discord: DiscordStandIn
    github: FakeGitHub
    site: Site
    statuses: Callable[[], list[tuple[int, str]]]
    heads: dict[int, str]  # run id -> the SHA GitHub says it built

    def deploy(self, ships: str, run_id: int) -> dict[str, Any]:
        """`/deploy app:web` of the branch whose head is `ships`, as run `run_id`."""
        self.github.on(
            "GET",
            "/repos/acme/web/commits/main",
            ships,
            headers={"content-type": "application/vnd.github.sha"},
        )
        self.heads[run_id] = ships
        application = self.services.settings.discord_application_id or "1"
        raw = command_interaction(
            self.services.bot, "/deploy app:web", application, Invoker(user_id=DEPLOYER)
        )
        return answer(self.services, raw)

    def event(
        self, run_id: int, delivery: str, *, done: bool = True, wf: str = "deploy.yml"
    ) -> None:
        payload = completed_run(run_id, "success", workflow=wf)
        if not done:
            payload["action"] = "in_progress"
            payload["workflow_run"].update(
                status="in_progress", conclusion=None, updated_at="2026-11-29T04:01:00Z"
            )
        deliver(self.services, payload, delivery=delivery)
        assert self.services.jobs.drain(30)  # type: ignore[attr-defined]

    def press(self, custom_id: str, user: str = DEPLOYER, message: str = "7") -> dict[str, Any]:
        application = self.services.settings.discord_application_id or "1"
        raw = component_interaction(
            custom_id, application, Invoker(user_id=user), message_id=message
        )
        return answer(self.services, raw)

    def final(self, result: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = sent(self.discord, result["_token"])[-1].body
        return body

    def created(self) -> list[Recorded]:
        return self.github.calls("POST", DEPLOYMENTS)

    def posted_bodies(self) -> list[dict[str, Any]]:
        return [
            r.body
            for r in self.github.requests
            if r.method == "POST" and r.path.startswith(DEPLOYMENTS + "/")
        ]


def _script(github: FakeGitHub, heads: dict[int, str]) -> None:
    """Each dispatch starts a run of its own; GET run says what it built (`heads`)."""
    for path, first in ((DEPLOY, 100), (ROLLBACK, 600)):
        ids = itertools.count(first)

        def dispatch(_: Recorded, ids: Iterator[int] = ids) -> tuple[int, Any, dict[str, str]]:
            run_id = next(ids)
            url = f"https://github.com/acme/web/actions/runs/{run_id}"
            return 200, {"workflow_run_id": run_id, "run_url": url, "html_url": url}, {}

        github.respond("POST", path, dispatch)
    for run_id in [*range(100, 110), *range(600, 610)]:

        def run(_: Recorded, run_id: int = run_id) -> tuple[int, Any, dict[str, str]]:
            workflow = "rollback.yml" if run_id >= 600 else "deploy.yml"
            return (
                200,
                gh.workflow_run(
                    repo="acme/web",
                    id=run_id,
                    head_sha=heads.get(run_id, GOOD),
                    status="completed",
                    conclusion="success",
                    path=f".github/workflows/{workflow}",
                ),
                {},
            )

        github.respond("GET", f"/repos/acme/web/actions/runs/{run_id}", run)


def open_world(tmp_path: Path, production: str = "") -> Iterator[World]:
    with Site(sha=GOOD) as site, FakeGitHub() as github, DiscordStandIn() as discord:
        config = tmp_path / "orchestrator.toml"
        config.write_text(config_text(site, production))
        heads: dict[int, str] = {}
        _script(github, heads)
        statuses = github.deployments("acme/web")
        services = Services(fakes_settings(tmp_path, config, discord, github, DEPLOYER))
        yield World(services, discord, github, site, statuses, heads)
        services.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from open_world(tmp_path)


@pytest.fixture
def auto(tmp_path: Path) -> Iterator[World]:
    yield from open_world(tmp_path, "auto_rollback = true")


def _buttons(body: dict[str, Any]) -> dict[str, str]:
    return {
        c.get("label", ""): c.get("custom_id", "")
        for row in body.get("components") or []
        for c in row["components"]
    }


def _audited(services: Services, action: str) -> list[dict[str, Any]]:
    return [e.value for e in audit.recent(services.store, limit=100) if e.value["action"] == action]


# -- a verified deploy ------------------------------------------------------------------------


def test_a_verified_deploy_goes_queued_in_progress_success(world: World) -> None:
    seen_at_verification: list[list[str]] = []
    run = world.github._routes[("GET", "/repos/acme/web/actions/runs/100")]

    def watched(recorded: Recorded) -> tuple[int, Any, dict[str, str]]:
        seen_at_verification.append([state for _, state in world.statuses()])
        return run(recorded)

    world.github.respond("GET", "/repos/acme/web/actions/runs/100", watched)
    world.deploy(GOOD, 100)
    [created] = world.created()
    assert created.body["ref"] == GOOD and created.body["environment"] == "production"
    assert created.body["auto_merge"] is False and created.body["required_contexts"] == []
    assert created.body["production_environment"] is True
    assert created.body["payload"]["via"] == "orchestrator"
    assert world.statuses() == [(1000, "queued")]
    world.event(100, "d-100-p", done=False)
    assert world.statuses() == [(1000, "queued"), (1000, "in_progress")]
    world.event(100, "d-100")
    assert world.statuses() == [(1000, "queued"), (1000, "in_progress"), (1000, "success")]
    assert seen_at_verification and all("success" not in s for s in seen_at_verification)
    success = world.posted_bodies()[-1]
    assert success["environment_url"] == f"{world.site.url}/"
    assert success["auto_inactive"] is True
    assert success["log_url"] == "https://github.com/acme/web/actions/runs/100"
    assert len(success["description"]) <= 140
    tracked = tracking.load(world.services.store, "acme/web", 100)
    assert tracked is not None and tracked.deployment_state == "success"


def test_a_redelivered_event_does_not_post_again(world: World) -> None:
    world.deploy(GOOD, 100)
    world.event(100, "d-100-p", done=False)
    world.event(100, "d-100")
    world.event(100, "d-100-again")  # GitHub delivers the end twice
    world.event(100, "d-100-p-again", done=False)  # a late, stale one
    assert [s for _, s in world.statuses()] == ["queued", "in_progress", "success"]


def test_a_deployment_github_refuses_does_not_stop_the_deploy(world: World) -> None:
    world.github.on("POST", DEPLOYMENTS, None, 409)  # a required check has not passed
    result = world.deploy(GOOD, 100)
    assert len(world.github.calls("POST", DEPLOY)) == 1, "deployed all the same"
    assert "GitHub Deployment not created" in str(world.final(result)["embeds"])
    world.event(100, "d-100")
    assert world.statuses() == []


def test_our_own_deployment_status_events_post_nothing(world: World) -> None:
    world.deploy(GOOD, 100)
    before = len([r for r in world.github.requests if r.method == "POST"])
    [created] = world.created()
    for name in ("deployment", "deployment_status"):
        payload = {
            "action": "created",
            "repository": {"full_name": "acme/web", "name": "web"},
            "sender": {"login": "orchestrator[bot]", "type": "Bot"},
            "deployment": {
                "id": 1000,
                "sha": GOOD,
                "ref": GOOD,
                "environment": "production",
                "payload": created.body["payload"],
            },
            "deployment_status": {"state": "queued", "environment": "production"},
        }
        event = Event(name, f"d-{name}", payload)
        context = JobContext(job=Job("github.event", {}), services=world.services)
        asyncio.run(product_router().dispatch(event, context))
        assert world.services.jobs.drain(30)  # type: ignore[attr-defined]
    after = [r for r in world.github.requests if r.method == "POST"]
    assert len(after) == before, "no status answers our own status: no loop"


# -- a failed verification --------------------------------------------------------------------


def _good_then_bad(world: World) -> dict[str, Any]:
    world.deploy(GOOD, 100)
    world.event(100, "d-100")
    bad = world.deploy(BAD, 101)
    world.event(101, "d-101")
    return bad


def test_a_failed_verification_says_failure_and_offers_roll_back(world: World) -> None:
    bad = _good_then_bad(world)
    assert world.statuses()[-1] == (1001, "failure")
    assert all(state != "success" for d, state in world.statuses() if d == 1001)
    buttons = _buttons(world.final(bad))
    assert buttons["Roll back to abcdef0"] == "deploy.rollback:web:101"
    assert world.github.calls("POST", ROLLBACK) == [], "nothing rolls back unasked"

    world.press("deploy.rollback:web:101", user=STRANGER)  # no deploy role
    assert world.github.calls("POST", ROLLBACK) == []
    pressed = world.press("deploy.rollback:web:101")
    [dispatch] = world.github.calls("POST", ROLLBACK)
    assert dispatch.body["inputs"]["sha"] == GOOD
    rollback = world.created()[-1]
    assert rollback.body["ref"] == GOOD and rollback.body["payload"]["kind"] == "rollback"
    shown = world.final(pressed)
    assert "rolling back to `abcdef0`" in str(shown["embeds"])
    assert "Roll back to abcdef0" not in _buttons(shown)
    [entry] = _audited(world.services, "rollback")
    assert (entry["result"], entry["actor"], entry["sha"]) == ("started", DEPLOYER, GOOD[:12])
    again = world.press("deploy.rollback:web:101")  # the same message, pressed again
    assert again["type"] == 4 and "already" in str(again).lower(), "refused at once"
    world.press("deploy.rollback:web:101", message="8")  # a copy of the button elsewhere
    assert len(world.github.calls("POST", ROLLBACK)) == 1, "one rollback per failed run"
    assert not queue.waiting(world.services.store, "web", "production"), "none waits either"


def test_auto_rollback_rolls_back_once_even_when_the_end_is_delivered_twice(auto: World) -> None:
    bad = _good_then_bad(auto)
    auto.event(101, "d-101-again")
    [dispatch] = auto.github.calls("POST", ROLLBACK)
    assert dispatch.body["inputs"]["sha"] == GOOD
    refs = [r.body["ref"] for r in auto.created()]
    assert refs == [GOOD, BAD, GOOD], "a rollback is a new Deployment of the old SHA"
    assert "auto_rollback: rolling back to `abcdef0`" in str(auto.final(bad)["embeds"])
    assert "Roll back to abcdef0" not in _buttons(auto.final(bad))
    [entry] = _audited(auto.services, "rollback.auto")
    assert entry["result"] == "started" and entry["sha"] == GOOD[:12]
    rolled = tracking.load(auto.services.store, "acme/web", 600)
    assert rolled is not None and rolled.kind == "rollback" and rolled.deployment_id == 1002
    # A second container that read the failed run before the first said anything about
    # its rollback (the end delivered twice at once): the claim stops it.
    failed = tracking.load(auto.services.store, "acme/web", 101)
    assert failed is not None and failed.rollback_note is not None
    stale = replace(failed, rollback_note=None)

    async def finish_again() -> None:
        async with auto.services.discord_rest() as discord:
            await launch.finished(auto.services, stale, discord)

    asyncio.run(finish_again())
    assert len(auto.github.calls("POST", ROLLBACK)) == 1, "once per failed run"
    assert not queue.waiting(auto.services.store, "web", "production"), "none waits either"


def test_a_failed_rollback_is_not_rolled_back_again(auto: World) -> None:
    _good_then_bad(auto)
    assert len(auto.github.calls("POST", ROLLBACK)) == 1
    # Meanwhile another commit was verified live: a rollback that fails now would have
    # somewhere else to go. It must not go there by itself.
    history.record(
        auto.services.store,
        "web",
        {"verdict": "pass", "head_sha": OTHER, "environment": "production", "checks": []},
    )
    auto.heads[600] = BAD  # the rollback's run says it built something the site does not serve
    auto.event(600, "d-600", wf="rollback.yml")
    rolled = tracking.load(auto.services.store, "acme/web", 600)
    assert rolled is not None and rolled.verdict == "FAIL"
    assert auto.statuses()[-1] == (1002, "failure")
    assert len(auto.github.calls("POST", ROLLBACK)) == 1, "never a rollback of a rollback"
    assert not rolled.offers_rollback


# -- rollbacks and newer deploys ----------------------------------------------------------------


def _command(world: World, text: str, user: str) -> dict[str, Any]:
    application = world.services.settings.discord_application_id or "1"
    return answer(
        world.services,
        command_interaction(world.services.bot, text, application, Invoker(user_id=user)),
    )


def test_an_auto_rollback_goes_before_a_deploy_queued_behind_the_failed_one(auto: World) -> None:
    store = auto.services.store
    auto.deploy(GOOD, 100)
    auto.event(100, "d-100")
    auto.deploy(BAD, 101)  # in flight
    auto.deploy(OTHER, 102)  # waits behind it
    assert [r.kind for _, r in queue.waiting(store, "web", "production")] == ["deploy"]
    auto.event(101, "d-101")  # BAD fails verification: rolled back, before OTHER starts
    [dispatch] = auto.github.calls("POST", ROLLBACK)
    assert dispatch.body["inputs"]["sha"] == GOOD
    assert len(auto.github.calls("POST", DEPLOY)) == 2, "the queued deploy still waits"
    assert [r.kind for _, r in queue.waiting(store, "web", "production")] == ["deploy"]
    in_flight = queue.in_flight(store, "web", "production")
    assert in_flight is not None and in_flight.kind == "rollback"


def test_a_queued_rollback_that_a_newer_verified_deploy_superseded_is_refused(
    world: World,
) -> None:
    store = world.services.store
    _good_then_bad(world)
    world.deploy(OTHER, 102)  # in flight
    world.press("deploy.rollback:web:101")  # waits behind it, first in line
    [(_, waiting)] = queue.waiting(store, "web", "production")
    assert waiting.kind == "rollback"
    # OTHER is verified live (after BAD's failure): the rollback would undo it.
    report = {"verdict": "pass", "head_sha": OTHER, "environment": "production", "checks": []}
    history.record(store, "web", report, at=time.time() + 60)
    world.event(102, "d-102")  # the slot frees: the rollback is taken from the queue
    assert world.github.calls("POST", ROLLBACK) == [], "never undoes the newer deploy"
    assert not queue.waiting(store, "web", "production")
    [entry] = _audited(world.services, "rollback")[:1]  # newest first
    assert entry["result"] == "superseded" and OTHER[:7] in entry["note"]
    told = [r.body for r in world.discord.requests if r.method == "PATCH"]
    assert any("superseded" in str(body) for body in told), "its message says so"


def test_an_old_roll_back_button_after_a_newer_verified_deploy_is_refused(world: World) -> None:
    _good_then_bad(world)
    report = {"verdict": "pass", "head_sha": OTHER, "environment": "production", "checks": []}
    history.record(world.services.store, "web", report, at=time.time() + 60)
    pressed = world.press("deploy.rollback:web:101")
    assert world.github.calls("POST", ROLLBACK) == []
    shown = world.final(pressed)
    assert "superseded" in str(shown["embeds"])
    assert "Roll back to abcdef0" not in _buttons(shown), "the offer is over"
    [entry] = _audited(world.services, "rollback")
    assert entry["result"] == "refused" and "superseded" in entry["note"]


def test_a_roll_back_refused_by_a_lock_can_be_pressed_again_after_unlock(world: World) -> None:
    _good_then_bad(world)
    _command(world, "/lock app:web env:production reason:incident", ADMIN)
    refused = world.press("deploy.rollback:web:101")
    assert world.github.calls("POST", ROLLBACK) == []
    shown = world.final(refused)
    assert "incident" in str(shown["embeds"])
    assert "Roll back to abcdef0" in _buttons(shown), "still offered"
    _command(world, "/unlock app:web env:production", ADMIN)
    again = world.press("deploy.rollback:web:101")  # the same message
    assert len(world.github.calls("POST", ROLLBACK)) == 1, "the press was given back"
    assert "Roll back to abcdef0" not in _buttons(world.final(again))


def test_an_auto_rollback_whose_message_failed_is_done_by_a_retry(
    auto: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestrator.discord.rest import DiscordREST

    real = DiscordREST.create_message
    failures = [RuntimeError("Discord is down")]

    async def flaky(self: DiscordREST, channel_id: str, message: dict[str, Any]) -> Any:
        if failures:
            raise failures.pop()
        return await real(self, channel_id, message)

    monkeypatch.setattr(DiscordREST, "create_message", flaky)
    _good_then_bad(auto)
    assert not failures and auto.github.calls("POST", ROLLBACK) == []
    failed = tracking.load(auto.services.store, "acme/web", 101)
    assert failed is not None and failed.offers_rollback

    async def retried() -> None:  # the run's end delivered again (a retried job)
        async with auto.services.discord_rest() as discord:
            await launch.finished(auto.services, failed, discord)

    asyncio.run(retried())
    assert len(auto.github.calls("POST", ROLLBACK)) == 1, "the claim was given back"
    [entry] = _audited(auto.services, "rollback.auto")
    assert entry["result"] == "started"
