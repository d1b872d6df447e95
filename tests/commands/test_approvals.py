"""Approvals and dry runs through the real dispatcher, against the local fakes: the request
message, who may approve it, once-only approvals and dispatches under concurrent presses,
expiry, rejection, and `dry_run:true` dispatching nothing (every Discord request schema-checked).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from orchestrator import audit
from orchestrator.deploys import approvals, queue, tracking
from orchestrator.devtools.simulate import Invoker, command_interaction, component_interaction
from orchestrator.discord import dispatch
from orchestrator.discord.interactions import Interaction
from orchestrator.schedules.aws import run_schedule_event
from orchestrator.services import Services
from tests.support import github_objects as gh
from tests.support.commands import ADMIN, DEPLOYER, STRANGER, answer, sent
from tests.support.deploy_world import DeployWorld, deploy_world, numbered_runs
from tests.support.fake_github import FakeGitHub, Recorded
from tests.support.sites import Site

OTHER = "900000000000000004"  # a second deployer, not an admin
THIRD = "900000000000000005"  # a third deployer
SHA = "abcdef0123456789abcdef0123456789abcdef01"
LIVE = "0123456789abcdef0123456789abcdef01234567"
MOVED = "fedcba9876543210fedcba9876543210fedcba98"
DEPLOY = "/repos/acme/web/actions/workflows/deploy.yml/dispatches"
HEAD = "/repos/acme/web/commits/main"


def config_text(site: Site, production: str) -> str:
    return (
        '[[apps]]\nname = "web"\nrepo = "acme/web"\nworkflow = "deploy.yml"\n'
        'correlation_input = "correlation_id"\n'
        f'frontend_url = "{site.url}/"\nversion_url = "{site.url}/version"\n'
        'version_field = "sha"\ndeploy_inputs = { region = "eu" }\n\n'
        '[apps.environments.staging]\nbranch = "develop"\n\n'
        '[apps.environments.production]\ndeploy_inputs = { stage = "production" }\n'
        f"{production}\n"
    )


class World(DeployWorld):
    def configure(self, production: str) -> None:
        self.rewrite(config_text(self.site, production))

    def run(self, line: str, user: str = DEPLOYER) -> dict[str, Any]:
        raw = command_interaction(self.services.bot, line, "1", Invoker(user_id=user))
        return answer(self.services, raw)

    def press(self, custom_id: str, user: str) -> dict[str, Any]:
        return answer(self.services, component_interaction(custom_id, "1", Invoker(user_id=user)))

    def final(self, result: dict[str, Any]) -> dict[str, Any]:
        """What the interaction's own message (the deferred reply, or the message a button
        sits on) last became: the last edit of @original with its token."""
        edits = [
            r
            for r in sent(self.discord, result["_token"])
            if r.method == "PATCH" and r.path.endswith("/messages/@original")
        ]
        assert edits, "the message was not edited"
        body: dict[str, Any] = edits[-1].body
        return body

    def told(self, result: dict[str, Any]) -> list[dict[str, Any]]:
        """The ephemeral follow-ups the presser alone saw."""
        return [
            r.body
            for r in sent(self.discord, result["_token"])
            if r.method == "POST" and r.path.startswith("/webhooks/")
        ]

    def edited(self, result: dict[str, Any]) -> bool:
        return any(r.method == "PATCH" for r in sent(self.discord, result["_token"]))

    def dispatches(self) -> list[Recorded]:
        return self.github.calls("POST", DEPLOY)

    def ask(self, user: str = DEPLOYER) -> str:
        """`/deploy` to production: the request's id, from its Approve button."""
        result = self.run("/deploy app:web env:production", user=user)
        [row] = self.final(result)["components"]
        approve = row["components"][0]["custom_id"]
        assert approve.startswith("deploy.approve:")
        return str(approve.split(":", 1)[1])

    def request(self, request_id: str) -> approvals.ApprovalRequest:
        found = approvals.load(self.services.store, request_id)
        assert found is not None
        return found


def _head(github: FakeGitHub, sha: str) -> None:
    github.on("GET", HEAD, sha, headers={"content-type": "application/vnd.github.sha"})


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    def configured(site: Site) -> str:
        site.routes["/version"].body = b'{"sha": "' + LIVE.encode() + b'"}'
        return config_text(site, "approvals = 1\n")

    deployers = f"{DEPLOYER},{OTHER},{THIRD}"
    with deploy_world(World, tmp_path, configured, live_sha=LIVE, deployers=deployers) as world:
        github = world.github
        numbered_runs(github, DEPLOY, 100)
        _head(github, SHA)
        github.on(
            "GET",
            f"/repos/acme/web/compare/{LIVE}...{SHA}",
            gh.comparison(
                repo="acme/web",
                status="ahead",
                ahead_by=2,
                behind_by=0,
                total_commits=2,
                commits=[
                    gh.commit(repo="acme/web", sha="a" * 40, commit={"message": "feat: one"}),
                    gh.commit(repo="acme/web", sha="b" * 40, commit={"message": "fix: two\n\nb"}),
                ],
            ),
        )
        yield world


def _audited(services: Services, action: str = "deploy.approval") -> list[dict[str, Any]]:
    return [e.value for e in audit.recent(services.store, limit=200) if e.value["action"] == action]


def _results(services: Services) -> list[str]:
    """The approval decisions audited, oldest first."""
    return [e["result"] for e in reversed(_audited(services))]


# -- the request ------------------------------------------------------------------------------


def test_a_production_deploy_asks_for_approval_showing_what_would_ship(world: World) -> None:
    result = world.run("/deploy app:web env:production")
    body = world.final(result)
    [shown] = body["embeds"]
    assert shown["title"] == "🛂 Approval needed: deploy web/production"
    fields = {f["name"]: f["value"] for f in shown["fields"]}
    assert fields["Ref → SHA"] == f"main → `{SHA}`"
    assert fields["Live"] == f"`{LIVE[:7]}`"
    assert fields["Commits since live"] == "• `aaaaaaa` feat: one\n• `bbbbbbb` fix: two"
    assert "region=eu\nstage=production\ncorrelation_id=<correlation id" in fields["Inputs"]
    assert f"<@{DEPLOYER}> asks to deploy" in shown["description"]
    [row] = body["components"]
    assert [b["label"] for b in row["components"]] == ["Approve", "Reject"]
    assert not world.dispatches(), "nothing dispatched before it is approved"
    assert not queue.waiting(world.services.store, "web", "production")
    [requested] = _audited(world.services)
    assert (requested["actor"], requested["result"], requested["sha"]) == (
        DEPLOYER,
        "requested",
        SHA,
    )


def test_an_environment_without_approvals_deploys_at_once(world: World) -> None:
    world.run("/deploy app:web env:staging")
    assert len(world.dispatches()) == 1
    assert not _audited(world.services)


def test_a_locked_environment_refuses_the_request_at_once(world: World) -> None:
    world.run("/lock app:web env:production reason:'db migration'", user=ADMIN)
    refused = world.run("/deploy app:web env:production")
    assert "db migration" in world.final(refused)["content"]
    assert not approvals.pending(world.services.store), "no request to approve"


def test_a_ref_that_does_not_resolve_is_refused(world: World) -> None:
    world.github.on(
        "GET", "/repos/acme/web/commits/nope", gh.error("No commit found for SHA: nope"), status=422
    )
    refused = world.run("/deploy app:web env:production ref:nope")
    assert "no such ref in acme/web" in world.final(refused)["content"]
    assert not approvals.pending(world.services.store)


# -- who may approve --------------------------------------------------------------------------


def test_the_requester_cannot_approve_their_own_request(world: World) -> None:
    request_id = world.ask()
    own = world.press(f"deploy.approve:{request_id}", DEPLOYER)
    assert own["type"] == 6
    [told] = world.told(own)
    assert told["flags"] == 64 and "someone else has to approve it" in told["content"]
    assert not world.edited(own), "the request stays as it is"
    assert not world.dispatches()
    assert approvals.votes(world.services.store, world.request(request_id)) == []
    refused = _audited(world.services)[0]
    assert (refused["actor"], refused["result"], refused["verdict"]) == (
        DEPLOYER,
        "refused",
        "self",
    )


def test_another_deployers_approval_dispatches_it_once(world: World) -> None:
    request_id = world.ask()
    approved = world.press(f"deploy.approve:{request_id}", OTHER)
    [call] = world.dispatches()
    assert call.body["ref"] == "main"
    assert call.body["inputs"]["region"] == "eu" and call.body["inputs"]["stage"] == "production"
    tracked = tracking.load(world.services.store, "acme/web", 100)
    assert tracked is not None and tracked.environment == "production"
    assert tracked.actor == DEPLOYER, "the requester's deploy, approved by another"
    assert world.final(approved)["embeds"][0]["title"] == "🚀 Deploy web → production", (
        "the request message is the tracked run now"
    )
    for user in (OTHER, THIRD, ADMIN):
        again = world.press(f"deploy.approve:{request_id}", user)
        assert "Already approved and dispatched" in world.told(again)[0]["content"]
    assert len(world.dispatches()) == 1
    assert _results(world.services)[:3] == ["requested", "approved", "dispatched"]
    dispatched = next(e for e in _audited(world.services) if e["result"] == "dispatched")
    assert (dispatched["actor"], dispatched["requester"], dispatched["approvers"]) == (
        OTHER,
        DEPLOYER,
        OTHER,
    )


def test_two_approvals_are_needed_when_the_environment_says_two(world: World) -> None:
    world.configure("approvals = 2\n")
    request_id = world.ask()
    first = world.press(f"deploy.approve:{request_id}", OTHER)
    assert not world.dispatches()
    fields = {f["name"]: f["value"] for f in world.final(first)["embeds"][0]["fields"]}
    assert fields["Approvals"] == f"1/2: <@{OTHER}>"
    world.press(f"deploy.approve:{request_id}", DEPLOYER)  # the requester: refused
    assert not world.dispatches()
    world.press(f"deploy.approve:{request_id}", THIRD)
    assert len(world.dispatches()) == 1


def test_a_non_deployer_cannot_approve(world: World) -> None:
    request_id = world.ask()
    denied = world.press(f"deploy.approve:{request_id}", STRANGER)
    assert denied["type"] == 4 and denied["data"]["flags"] == 64, "the framework refuses"
    assert not world.dispatches()
    # The handler judges the deploy policy itself too (a press that got past the door).
    raw = component_interaction(f"deploy.approve:{request_id}", "1", Invoker(user_id=STRANGER))
    asyncio.run(dispatch.run_deferred(world.services.bot, Interaction(raw), world.services))
    told = world.told({"_token": raw["token"]})
    assert "Only deployers" in told[0]["content"]
    assert not world.dispatches()
    assert approvals.votes(world.services.store, world.request(request_id)) == []


def test_a_deploy_allow_list_governs_the_buttons(world: World) -> None:
    request_id = world.ask()
    restricted = Services(
        world.services.settings.replace(discord_command_access={"deploy": {"users": [DEPLOYER]}})
    )
    try:
        denied = answer(
            restricted,
            component_interaction(f"deploy.approve:{request_id}", "1", Invoker(user_id=OTHER)),
        )
        assert denied["type"] == 4 and denied["data"]["flags"] == 64
        assert not world.dispatches()
    finally:
        restricted.close()


@pytest.mark.parametrize(
    "custom_id",
    [
        "deploy.approve:0a1b2c3d4e5f",  # well-formed, unknown
        "deploy.approve:",
        "deploy.approve",
        "deploy.approve:zz",
        "deploy.approve:a:b",
        "deploy.reject:../../x",
        "deploy.reject:" + "f" * 80,
    ],
)
def test_crafted_ids_get_a_clear_refusal(world: World, custom_id: str) -> None:
    pressed = world.press(custom_id, OTHER)
    assert pressed["type"] == 6
    [told] = world.told(pressed)
    assert "no such deploy request" in told["content"] and told["flags"] == 64
    assert not world.dispatches()


# -- ending it --------------------------------------------------------------------------------


def test_a_reject_ends_it_and_the_requesters_reject_withdraws_it(world: World) -> None:
    request_id = world.ask()
    rejected = world.press(f"deploy.reject:{request_id}", OTHER)
    body = world.final(rejected)
    assert f"Rejected by <@{OTHER}>" in body["embeds"][0]["description"]
    assert body["components"] == [], "no buttons left"
    late = world.press(f"deploy.approve:{request_id}", THIRD)
    assert "Already rejected" in world.told(late)[0]["content"]
    assert not world.dispatches()

    second = world.ask()
    withdrawn = world.press(f"deploy.reject:{second}", DEPLOYER)
    assert f"Withdrawn by <@{DEPLOYER}>" in world.final(withdrawn)["embeds"][0]["description"]
    assert not world.dispatches()
    assert _results(world.services) == [
        "requested",
        "rejected",
        "refused",
        "requested",
        "cancelled",
    ]


def _expire(world: World, request_id: str) -> None:
    request = world.request(request_id)
    approvals.save(world.services.store, replace(request, expires_at=request.created_at - 1))


def test_an_expired_request_is_refused_and_says_so(world: World) -> None:
    request_id = world.ask()
    _expire(world, request_id)
    late = world.press(f"deploy.approve:{request_id}", OTHER)
    assert "expired" in world.told(late)[0]["content"]
    assert "Expired" in world.final(late)["embeds"][0]["description"]
    assert world.final(late)["components"] == []
    again = world.press(f"deploy.approve:{request_id}", THIRD)
    assert "expired" in world.told(again)[0]["content"]
    assert not world.dispatches()
    assert _results(world.services).count("expired") == 1


def test_the_deploy_watch_marks_expired_requests_once(world: World) -> None:
    request_id = world.ask()
    waiting = world.ask()
    _expire(world, request_id)
    event = {"orchestrator_schedule": "deploys.watch", "at": "2026-11-29T09:05:00Z"}
    assert run_schedule_event(event, world.services)["status"] == "done"
    request = world.request(request_id)
    edits = [
        r.body
        for r in sent(world.discord)
        if r.method == "PATCH" and r.path == f"/channels/1/messages/{request.message_id}"
    ]
    [edit] = edits
    assert "Expired" in edit["embeds"][0]["description"] and edit["components"] == []
    run_schedule_event(event, world.services)
    assert _results(world.services).count("expired") == 1, "once"
    assert approvals.ending(world.services.store, world.request(waiting)) is None


# -- the gate, again, when approved -----------------------------------------------------------


def test_an_approval_while_locked_waits_for_the_lock_and_can_be_pressed_again(
    world: World,
) -> None:
    request_id = world.ask()
    world.run("/lock app:web env:production reason:'hold on'", user=ADMIN)
    approved = world.press(f"deploy.approve:{request_id}", OTHER)
    assert not world.dispatches()
    body = world.final(approved)
    assert "hold on" in body["embeds"][0]["description"]
    assert "press Approve again" in body["embeds"][0]["description"]
    assert body["components"], "still open"
    world.run("/unlock app:web env:production", user=ADMIN)
    world.press(f"deploy.approve:{request_id}", OTHER)
    assert len(world.dispatches()) == 1


def test_a_ref_that_moved_since_the_request_is_not_dispatched(world: World) -> None:
    request_id = world.ask()
    _head(world.github, MOVED)
    approved = world.press(f"deploy.approve:{request_id}", OTHER)
    assert "no longer resolves" in world.final(approved)["embeds"][0]["description"]
    assert not world.dispatches()
    assert "stale" in _results(world.services)


def test_a_dispatch_github_refuses_says_approving_again_will_not_help(world: World) -> None:
    request_id = world.ask()
    world.github.on(
        "POST",
        DEPLOY,
        gh.error('Unexpected inputs provided: ["bogus"]'),
        422,
        off_contract="GitHub's answer to an undeclared input; its description lists 204/200 only",
    )
    approved = world.press(f"deploy.approve:{request_id}", OTHER)
    said = world.final(approved)["embeds"][0]["description"]
    assert "GitHub refused the dispatch" in said and "Unexpected inputs provided" in said
    assert "Reject this and `/deploy` with other inputs" in said
    assert "Press Approve to try again" not in said
    assert world.final(approved)["components"], "still open: Reject ends it"
    assert "dispatch failed" in _results(world.services)


# -- concurrency ------------------------------------------------------------------------------


def _press_together(world: World, custom_id: str, users: list[str]) -> list[dict[str, Any]]:
    """Presses of one button, each through the dispatcher's deferred work in its own thread,
    all at once (in parallel, not interleaved on one loop)."""
    services = world.services
    start = threading.Barrier(len(users))
    raws = [component_interaction(custom_id, "1", Invoker(user_id=u)) for u in users]

    def one(raw: dict[str, Any]) -> None:
        start.wait(timeout=10)
        asyncio.run(dispatch.run_deferred(services.bot, Interaction(raw), services))

    with ThreadPoolExecutor(len(users)) as pool:
        list(pool.map(one, raws))
    return [{"_token": raw["token"]} for raw in raws]


def test_ten_simultaneous_approve_presses_by_one_user_count_once(world: World) -> None:
    world.configure("approvals = 2\n")
    request_id = world.ask()
    presses = _press_together(world, f"deploy.approve:{request_id}", [OTHER] * 10)
    assert approvals.votes(world.services.store, world.request(request_id)) == [OTHER]
    assert _results(world.services).count("approved") == 1
    told = [world.told(p) for p in presses]
    assert sum(1 for t in told if t and "already approved" in t[0]["content"]) == 9
    assert not world.dispatches()
    world.press(f"deploy.approve:{request_id}", THIRD)
    assert len(world.dispatches()) == 1, "the second person's approval completes it"


def test_two_approvers_at_once_dispatch_one_deploy(world: World) -> None:
    request_id = world.ask()
    _press_together(world, f"deploy.approve:{request_id}", [OTHER, THIRD, ADMIN] * 2)
    assert len(world.dispatches()) == 1
    assert not queue.waiting(world.services.store, "web", "production"), "no second one queued"
    assert _results(world.services).count("dispatched") == 1


def test_ten_simultaneous_presses_through_the_endpoint_count_once(world: World) -> None:
    """The same through `dispatch.respond` (the endpoint's answer, then the in-process job)."""
    world.configure("approvals = 2\n")
    request_id = world.ask()
    services = world.services
    start = threading.Barrier(10)

    def one(_: int) -> dict[str, Any]:
        raw = component_interaction(f"deploy.approve:{request_id}", "1", Invoker(user_id=OTHER))
        start.wait(timeout=10)
        return asyncio.run(dispatch.respond(services.bot, Interaction(raw), services))

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(one, range(10)))
    assert services.jobs.drain(30)  # type: ignore[attr-defined]
    assert {a["type"] for a in answers} == {6}
    assert _results(world.services).count("approved") == 1
    assert approvals.votes(world.services.store, world.request(request_id)) == [OTHER]


# -- dry run ----------------------------------------------------------------------------------


def test_a_dry_run_shows_the_plan_and_dispatches_nothing(world: World) -> None:
    world.run("/deploy app:web env:staging")  # one in flight on staging: the queue verdict
    world.github.on(  # staging's branch resolves (a ref that does not goes nowhere)
        "GET",
        "/repos/acme/web/commits/develop",
        SHA,
        headers={"content-type": "application/vnd.github.sha"},
    )
    planned = world.run("/deploy app:web env:staging dry_run:true")
    [shown] = world.final(planned)["embeds"]
    assert shown["title"] == "🧪 Dry run: deploy web/staging"
    assert "It would wait in the queue" in shown["description"]
    assert "Nothing was dispatched, queued or requested." in shown["description"]
    fields = {f["name"]: f["value"] for f in shown["fields"]}
    assert "🔓 lock: none" in fields["Verdicts"] and "🚦 queue: busy" in fields["Verdicts"]
    assert "🛂 approvals: none needed" in fields["Verdicts"]
    assert "region=eu" in fields["Inputs"]

    production = world.run("/deploy app:web env:production dry_run:true")
    [shown] = world.final(production)["embeds"]
    assert "It would ask for 1 approval first" in shown["description"]
    fields = {f["name"]: f["value"] for f in shown["fields"]}
    assert fields["Ref → SHA"] == f"main → `{SHA}`"
    assert "feat: one" in fields["Commits since live"]
    assert not world.final(production)["components"], "no buttons"

    assert len(world.dispatches()) == 1, "only the real staging deploy"
    assert not queue.waiting(world.services.store, "web", "staging")
    assert not approvals.pending(world.services.store), "no request"
    dry = _audited(world.services, "deploy.dry_run")
    assert [(e["environment"], e["verdict"]) for e in reversed(dry)] == [
        ("staging", "queued"),
        ("production", "approval"),
    ]


def test_a_dry_run_names_a_lock_that_would_refuse(world: World) -> None:
    world.run("/lock app:web env:staging reason:'qa run'", user=OTHER)
    planned = world.run("/deploy app:web env:staging dry_run:true")
    [shown] = world.final(planned)["embeds"]
    assert "It would be refused" in shown["description"] and "qa run" in shown["description"]
    assert not world.dispatches()


# -- what went out stays out ------------------------------------------------------------------


def test_a_dispatch_that_went_out_is_never_reported_failed_nor_dispatched_again(
    world: World,
) -> None:
    """GitHub took the dispatch, then Discord would not show it: the deploy is in flight
    all the same (its slot held, its record kept), and the request stays dispatched."""
    request_id = world.ask()
    world.discord.fail_next(404, {"message": "Unknown Webhook", "code": 10015}, times=3)
    world.press(f"deploy.approve:{request_id}", OTHER)
    world.discord.recover()
    assert len(world.dispatches()) == 1
    store = world.services.store
    held = queue.in_flight(store, "web", "production")
    assert held is not None and held.correlation, "the environment stays busy with it"
    tracked = tracking.load(store, "acme/web", 100)
    assert tracked is not None and "dispatched, but" in (tracked.note or "")
    ending = approvals.ending(store, world.request(request_id))
    assert ending is not None and ending.outcome == "dispatched", "not reopened"
    assert "dispatch failed" not in _results(world.services)
    again = world.press(f"deploy.approve:{request_id}", THIRD)
    assert "Already approved and dispatched" in world.told(again)[0]["content"]
    assert len(world.dispatches()) == 1


def test_an_approved_deploy_that_waited_is_not_dispatched_once_its_ref_moved(
    world: World,
) -> None:
    """Approved while another deploy ran, it waits; the branch moves meanwhile; when its turn
    comes it is not dispatched (what was approved is what ships, or nothing)."""
    from orchestrator.deploys import launch

    store = world.services.store
    busy = queue.DeployRequest(
        app="web",
        environment="production",
        kind="deploy",
        workflow="deploy.yml",
        ref="main",
        inputs={},
        actor=THIRD,
    )
    assert queue.claim(store, busy)
    request_id = world.ask()
    world.press(f"deploy.approve:{request_id}", OTHER)
    assert not world.dispatches()
    [(_, waiting)] = queue.waiting(store, "web", "production")
    assert waiting.approved_sha == SHA
    _head(world.github, MOVED)
    queue.release(store, "web", "production")
    asyncio.run(launch.watch(world.services))
    assert not world.dispatches(), "the branch moved off the approved SHA: nothing ships"
    assert queue.in_flight(store, "web", "production") is None
    stale = next(e for e in _audited(world.services) if e["result"] == "stale")
    assert (stale["sha"], stale["now_at"]) == (SHA, MOVED)


def test_a_dispatch_github_did_not_name_keeps_the_environment_until_its_run_is_heard_of(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GitHub took the dispatch without naming the run, and looking it up failed (a 502):
    the workflow echoes the correlation id, so its webhooks will find it; meanwhile nothing
    else starts there and the request is not reopened."""
    from orchestrator.deploys import runs
    from orchestrator.github.errors import GitHubHTTPError

    async def unavailable(*_: Any, **__: Any) -> None:
        raise GitHubHTTPError(502, "Bad Gateway")

    monkeypatch.setattr(runs, "find_run_by_correlation", unavailable)
    world.github.on("POST", DEPLOY, None, status=204)
    request_id = world.ask()
    world.press(f"deploy.approve:{request_id}", OTHER)
    assert len(world.dispatches()) == 1
    store = world.services.store
    held = queue.in_flight(store, "web", "production")
    assert held is not None and held.correlation
    assert tracking.load_correlation(store, held.correlation) is not None, "webhooks find it"
    ending = approvals.ending(store, world.request(request_id))
    assert ending is not None and ending.outcome == "dispatched"
    world.press(f"deploy.approve:{request_id}", THIRD)
    assert len(world.dispatches()) == 1


def test_an_admins_override_passes_only_the_freeze_it_was_given_for(world: World) -> None:
    """Asked during one freeze with an override, approved once another freeze is in force:
    the override was not given for that one, so the approval does not dispatch."""
    always = "cron:'* * * * *' duration:1h"
    world.run(f"/freeze add name:first {always}", user=ADMIN)
    asked = world.run("/deploy app:web env:production override:'hotfix'", user=ADMIN)
    [row] = world.final(asked)["components"]
    request_id = str(row["components"][0]["custom_id"].split(":", 1)[1])
    assert world.request(request_id).override_window == "first"
    world.run("/freeze remove name:first", user=ADMIN)
    world.run(f"/freeze add name:second {always}", user=ADMIN)
    approved = world.press(f"deploy.approve:{request_id}", OTHER)
    assert not world.dispatches()
    assert "**second**" in world.final(approved)["embeds"][0]["description"]
    world.run("/freeze remove name:second", user=ADMIN)
    world.run(f"/freeze add name:first {always}", user=ADMIN)
    world.press(f"deploy.approve:{request_id}", OTHER)
    assert len(world.dispatches()) == 1, "the freeze it was given for: it passes"
