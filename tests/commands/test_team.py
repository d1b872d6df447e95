"""Team operations through the real dispatcher: relay, triage, release, trace.

Every answer and follow-up is checked against Discord's published schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator import audit, traces
from orchestrator.deploys import history, tracking
from orchestrator.devtools.discord_standin import DiscordStandIn
from orchestrator.services import Services
from tests.support import commands
from tests.support import github_objects as gh
from tests.support.commands import ADMIN, DEPLOYER, STRANGER, sent, services_for
from tests.support.fake_github import FakeGitHub
from tests.support.sites import Site
from tests.support.tally import TALLY

OLD = "1111111111111111111111111111111111111111"
NEW = "2222222222222222222222222222222222222222"
LOG = (
    "2026-11-29T04:00:00.0000000Z ##[group]Run npm test\n"
    "2026-11-29T04:00:01.0000000Z \x1b[31mFAIL\x1b[0m src/app.test.ts\n"
    "2026-11-29T04:00:02.0000000Z ##[error]Process completed with exit code 1.\n"
)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Services, DiscordStandIn, FakeGitHub]]:
    with Site(sha=OLD) as site, FakeGitHub() as github, DiscordStandIn() as discord:
        site.routes["/version"].body = b'{"sha": "' + OLD.encode() + b'"}'
        config = tmp_path / "orchestrator.toml"
        config.write_text(
            '[[apps]]\nname = "web"\nrepo = "acme/web"\nworkflow = "deploy.yml"\n'
            'promote_workflow = "promote.yml"\nrollback_workflow = "rollback.yml"\n'
            'triage_workflow = "triage.yml"\nversion_field = "sha"\n'
            f'version_url = "{site.url}/version"\n'
        )
        github.on(
            "GET",
            "/repos/acme/web/commits/main",
            NEW,
            headers={"content-type": "application/vnd.github.sha"},
        )
        github.on(
            "GET",
            f"/repos/acme/web/compare/{OLD}...{NEW}",
            gh.comparison(
                repo="acme/web",
                status="ahead",
                ahead_by=2,
                behind_by=0,
                total_commits=2,
                commits=[
                    gh.commit(
                        repo="acme/web",
                        sha="a" * 40,
                        commit={"message": "feat: one"},
                        author={"login": "ada"},
                    ),
                    gh.commit(
                        repo="acme/web",
                        sha="b" * 40,
                        commit={"message": "fix: two\n\nbody"},
                        author={"login": "bob"},
                    ),
                ],
            ),
        )
        github.on(
            "GET",
            "/repos/acme/web/pulls/7",
            gh.pull(
                repo="acme/web",
                number=7,
                title="Make it faster",
                html_url="https://github.com/acme/web/pull/7",
                head={"sha": NEW, "ref": "fast"},
            ),
        )
        github.on(
            "GET",
            f"/repos/acme/web/commits/{NEW}/check-runs",
            gh.check_runs_page(
                gh.check_run(
                    repo="acme/web",
                    id=501,
                    name="test",
                    conclusion="failure",
                    status="completed",
                    app={"slug": "github-actions"},
                    html_url="https://x/501",
                ),
                gh.check_run(
                    repo="acme/web",
                    id=502,
                    name="lint",
                    conclusion="success",
                    status="completed",
                    app={"slug": "github-actions"},
                ),
            ),
        )
        failing_job = gh.job(
            repo="acme/web",
            id=501,
            run_id=88,
            name="test",
            status="completed",
            conclusion="failure",
            steps=[gh.step("npm test", "failure", number=3)],
        )
        github.on("GET", "/repos/acme/web/actions/jobs/501", failing_job)
        github.job_logs("acme/web", 501, LOG)
        github.on("GET", "/repos/acme/web/actions/runs/88/jobs", gh.jobs_page(failing_job))
        for workflow in ("promote.yml", "rollback.yml", "triage.yml"):
            github.on(
                "POST",
                f"/repos/acme/web/actions/workflows/{workflow}/dispatches",
                gh.dispatch_response(
                    workflow_run_id=99,
                    run_url="https://api.github.com/repos/acme/web/actions/runs/99",
                    html_url="https://github.com/acme/web/actions/runs/99",
                ),
            )
        services = services_for(tmp_path, config, discord.api_base, github.url)
        yield services, discord, github
        services.close()


def command(services: Services, line: str, user: str = ADMIN) -> dict[str, Any]:
    return commands.command(services, line, user)


def press(services: Services, custom_id: str, user: str = ADMIN) -> dict[str, Any]:
    return commands.press(services, custom_id, user)


def buttons(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["label"]: c for row in result["data"]["components"] for c in row["components"]}


# -- relay ------------------------------------------------------------------------------------


def test_relay_send_needs_a_confirm_and_sends_once(world: Any) -> None:
    services, discord, _ = world
    preview = command(services, '/relay-send channel:4242 message:"Deploy freeze at 18:00"')
    assert preview["data"]["flags"] == 64
    confirm = buttons(preview)["Send"]["custom_id"]
    assert sent(discord) == []  # nothing goes out before the button
    done = press(services, confirm)
    assert done["type"] == 6
    posts = [r for r in sent(discord) if r.path == "/channels/4242/messages"]
    assert len(posts) == 1 and posts[0].body["content"] == "Deploy freeze at 18:00"
    assert posts[0].body["allowed_mentions"] == {"parse": []}
    press(services, confirm)  # a double click
    assert len([r for r in discord.requests if r.path == "/channels/4242/messages"]) == 1
    entry = next(e.value for e in audit.recent(services.store) if e.value["action"] == "relay")
    assert entry["result"] == "sent"
    assert entry["target"] == "channel:4242"
    assert "Deploy freeze" not in str(entry) and len(entry["text_sha256"]) == 16


def test_relay_dm_opens_a_dm_channel(world: Any) -> None:
    services, discord, _ = world
    preview = command(services, "/relay-dm user:555 message:hello")
    press(services, buttons(preview)["Send"]["custom_id"])
    assert [r.path for r in discord.requests if r.method == "POST"][:1] == ["/users/@me/channels"]
    assert any(
        r.path.startswith("/channels/") and r.body["content"] == "hello"
        for r in discord.requests
        if r.method == "POST"
    )


def test_relay_cancel_sends_nothing(world: Any) -> None:
    services, discord, _ = world
    preview = command(services, "/relay-send channel:1 message:oops")
    cancelled = press(services, buttons(preview)["Cancel"]["custom_id"])
    assert cancelled["type"] == 7 and "nothing was sent" in cancelled["data"]["content"]
    assert press(services, buttons(preview)["Send"]["custom_id"])["type"] == 6
    assert not [r for r in discord.requests if r.path == "/channels/1/messages"]


def test_non_admins_are_refused_and_audited_for_relay(world: Any) -> None:
    services, discord, _ = world
    refused = command(services, "/relay-send channel:1 message:hi", user=STRANGER)
    assert refused["data"]["flags"] == 64 and "admin" in refused["data"]["content"]
    preview = command(services, "/relay-send channel:1 message:hi")
    forged = press(services, buttons(preview)["Send"]["custom_id"], user=STRANGER)
    assert forged["type"] == 4 and forged["data"]["flags"] == 64
    assert not [r for r in discord.requests if r.path == "/channels/1/messages"]
    denied = [
        (e.value["actor"], e.value["action"])
        for e in audit.recent(services.store)
        if e.value["result"] == "denied"
    ]
    assert (STRANGER, "/relay-send") in denied and (STRANGER, "relay.confirm") in denied


# -- triage -----------------------------------------------------------------------------------


def test_triage_a_pr_shows_failing_checks_steps_and_log_tails(world: Any) -> None:
    services, discord, _ = world
    result = command(services, "/triage pr:7 app:web", user=STRANGER)
    [edit] = sent(discord, result["_token"])
    [embed] = edit.body["embeds"]
    assert embed["title"].startswith("🩹 PR #7: Make it faster")
    [field] = embed["fields"]
    assert field["name"] == "❌ test"
    assert "failing step: npm test" in field["value"]
    assert "FAIL src/app.test.ts" in field["value"]
    assert "error: Process completed with exit code 1." in field["value"]
    assert "\x1b" not in field["value"] and "2026-11-29T" not in field["value"]


def test_triage_a_run_and_dispatch_needs_the_deploy_role(world: Any) -> None:
    services, discord, github = world
    stranger = command(services, "/triage run:88 app:web dispatch:true", user=STRANGER)
    [edit] = sent(discord, stranger["_token"])
    assert "needs the deploy role" in str(edit.body)
    assert not github.calls("POST", "/repos/acme/web/actions/workflows/triage.yml/dispatches")
    deployer = command(services, "/triage run:88 app:web dispatch:true", user=DEPLOYER)
    assert "triage workflow dispatched" in str(sent(discord, deployer["_token"])[0].body)
    [call] = github.calls("POST", "/repos/acme/web/actions/workflows/triage.yml/dispatches")
    assert call.body["inputs"] == {"run_id": "88"}


def test_triage_needs_exactly_one_target(world: Any) -> None:
    services, discord, _ = world
    result = command(services, "/triage app:web")
    assert "exactly one" in sent(discord, result["_token"])[0].body["content"]


# -- release ----------------------------------------------------------------------------------


def test_release_shows_what_would_ship_and_promotes(world: Any) -> None:
    services, discord, github = world
    history.record(services.store, "web", {"verdict": "pass", "head_sha": "c" * 40})
    result = command(services, "/release app:web", user=DEPLOYER)
    [edit] = sent(discord, result["_token"])
    description = edit.body["embeds"][0]["description"]
    assert "`1111111` → `2222222`: 2 commits" in description
    assert description.index("fix: two") < description.index("feat: one")  # newest first
    labels = {c["label"]: c for row in edit.body["components"] for c in row["components"]}
    promote = labels["Promote"]
    rollback = labels["Roll back to ccccccc"]
    assert not promote.get("disabled") and not rollback.get("disabled")
    promoted = press(services, promote["custom_id"], user=DEPLOYER)
    assert promoted["type"] == 6
    [call] = github.calls("POST", "/repos/acme/web/actions/workflows/promote.yml/dispatches")
    assert call.body["inputs"] == {"sha": NEW}
    tracked = tracking.load(services.store, "acme/web", 99)
    assert tracked is not None and tracked.kind == "release"
    tracked_edit = sent(discord, promoted["_token"])[-1]
    assert "Release web" in tracked_edit.body["embeds"][0]["title"]


def test_release_buttons_are_refused_and_audited_for_others(world: Any) -> None:
    services, _, github = world
    result = command(services, "/release app:web", user=STRANGER)
    assert result["type"] == 5
    refused = press(services, f"release.promote:web:{NEW}", user=STRANGER)
    assert refused["type"] == 4 and refused["data"]["flags"] == 64
    assert not github.calls("POST", "/repos/acme/web/actions/workflows/promote.yml/dispatches")
    entry = audit.recent(services.store)[0].value
    assert (entry["actor"], entry["action"], entry["result"]) == (
        STRANGER,
        "release.promote",
        "denied",
    )


# -- trace ------------------------------------------------------------------------------------


def test_trace_shows_my_recent_commands_and_their_steps(world: Any) -> None:
    services, _, _ = world
    done = command(services, "/triage pr:7 app:web", user=STRANGER)
    listed = command(services, "/trace", user=STRANGER)
    description = listed["data"]["embeds"][0]["description"]
    assert "/triage" in description and done["_id"] in description
    detail = command(services, f"/trace interaction:{done['_id']}", user=STRANGER)
    steps = detail["data"]["embeds"][0]["description"]
    assert "answered" in steps and "worker finished" in steps and "follow-up sent" in steps
    other = command(services, f"/trace interaction:{done['_id']}", user=DEPLOYER)
    assert "No trace" in other["data"]["content"]
    stored = traces.get(services.store, STRANGER, done["_id"])
    assert stored is not None and "ghp" not in str(stored)


# -- release: the Roll back button -------------------------------------------------------------

ROLLBACK = "/repos/acme/web/actions/workflows/rollback.yml/dispatches"
PROMOTE = "/repos/acme/web/actions/workflows/promote.yml/dispatches"
GOOD = "c" * 40


def _rollback_button(services: Services, discord: DiscordStandIn) -> dict[str, Any]:
    history.record(services.store, "web", {"verdict": "pass", "head_sha": GOOD})
    shown = command(services, "/release app:web", user=DEPLOYER)
    [edit] = sent(discord, shown["_token"])
    labels = {c["label"]: c for row in edit.body["components"] for c in row["components"]}
    return labels[f"Roll back to {GOOD[:7]}"]


def test_a_stranger_pressing_roll_back_is_refused_and_audited(world: Any) -> None:
    services, discord, github = world
    button = _rollback_button(services, discord)
    assert button["custom_id"] == f"release.rollback:web:{GOOD}"

    refused = press(services, button["custom_id"], user=STRANGER)

    assert refused["type"] == 4 and refused["data"]["flags"] == 64
    assert "deploy role" in refused["data"]["content"]
    assert not github.calls("POST", ROLLBACK) and not github.calls("POST", PROMOTE)
    assert tracking.load(services.store, "acme/web", 99) is None
    entry = audit.recent(services.store)[0].value
    assert (entry["actor"], entry["action"], entry["result"]) == (
        STRANGER,
        "release.rollback",
        "denied",
    )


def test_a_deployer_pressing_roll_back_dispatches_the_rollback_workflow(world: Any) -> None:
    services, discord, github = world
    button = _rollback_button(services, discord)

    pressed = press(services, button["custom_id"], user=DEPLOYER)

    assert pressed["type"] == 6  # the message is updated in place, then tracks the run
    [call] = github.calls("POST", ROLLBACK)
    assert (call.body["ref"], call.body["inputs"]) == ("main", {"sha": GOOD})
    assert not github.calls("POST", PROMOTE)
    tracked = tracking.load(services.store, "acme/web", 99)
    assert tracked is not None and tracked.kind == "release"
    entries = [
        e.value for e in audit.recent(services.store) if e.value["action"] == "release.rollback"
    ]
    assert [(e["actor"], e["result"]) for e in entries] == [
        (DEPLOYER, "completed"),
        (DEPLOYER, "accepted"),
    ]
    assert all(e["interaction_id"] == pressed["_id"] for e in entries)
    assert "Release web" in sent(discord, pressed["_token"])[-1].body["embeds"][0]["title"]


def test_roll_back_with_nothing_to_roll_back_to_dispatches_nothing(world: Any) -> None:
    services, discord, github = world
    pressed = press(services, "release.rollback:web:none", user=DEPLOYER)
    assert pressed["type"] == 6
    assert "Nothing to do" in str(sent(discord, pressed["_token"])[-1].body)
    assert not github.calls("POST", ROLLBACK)


# -- security findings 3, 7, 9: buttons ---------------------------------------------------------

ONLY_ADMIN = {"release": {"users": [ADMIN]}, "deploy": {"users": [ADMIN]}}
RERUN = "/repos/acme/web/actions/runs/99/rerun-failed-jobs"
CANCEL = "/repos/acme/web/actions/runs/99/cancel"


def _tracked_run(services: Services) -> None:
    """A tracked deploy with run 99, so its Re-run and Cancel buttons have something to do."""
    tracking.save(
        services.store,
        tracking.Tracked(
            kind="deploy",
            app="web",
            repo="acme/web",
            ref="main",
            actor=DEPLOYER,
            correlation="orc-00c0ffee",
            run_id=99,
            status="completed",
            conclusion="failure",
        ),
    )


def _fake_run_actions(github: FakeGitHub) -> None:
    github.on("POST", RERUN, {}, status=201)
    github.on("POST", CANCEL, {}, status=202)


def test_finding_03_per_command_allow_lists_govern_their_buttons(world: Any) -> None:
    """With /release and /deploy restricted to one admin, a deployer who is not that admin
    presses Promote, Roll back, Re-run and Cancel: each is refused, GitHub hears nothing,
    and each refusal is audited. The admin still may."""
    services, _, github = world
    _fake_run_actions(github)
    _tracked_run(services)
    restricted = Services(services.settings.replace(discord_command_access=ONLY_ADMIN))
    try:
        for custom_id in (
            f"release.promote:web:{NEW}",
            f"release.rollback:web:{GOOD}",
            "deploy.rerun:web:99",
            "deploy.cancel:web:99",
        ):
            refused = press(restricted, custom_id, user=DEPLOYER)
            TALLY.tried()
            assert refused["type"] == 4 and refused["data"]["flags"] == 64, custom_id
            entry = audit.recent(restricted.store)[0].value
            assert (entry["actor"], entry["result"]) == (DEPLOYER, "denied"), custom_id
        reached = sum(len(github.calls("POST", p)) for p in (PROMOTE, ROLLBACK, RERUN, CANCEL))
        TALLY.forged(reached)
        assert reached == 0
        assert press(restricted, "deploy.cancel:web:99", user=ADMIN)["type"] == 6
        assert len(github.calls("POST", CANCEL)) == 1
    finally:
        restricted.close()


def _press_together(services: Services, custom_id: str, users: list[str]) -> list[dict[str, Any]]:
    """Presses of one button on one message, each from its own thread, all at once."""
    import asyncio
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from orchestrator.devtools.simulate import Invoker, component_interaction
    from orchestrator.discord import dispatch
    from orchestrator.discord.interactions import Interaction

    message_id = "1300000000000000777"
    start = threading.Barrier(len(users))

    def one(user: str) -> dict[str, Any]:
        raw = component_interaction(custom_id, "1", Invoker(user_id=user), message_id=message_id)
        start.wait(timeout=10)
        return asyncio.run(dispatch.respond(services.bot, Interaction(raw), services))

    with ThreadPoolExecutor(len(users)) as pool:
        answers = list(pool.map(one, users))
    assert services.jobs.drain(30)  # type: ignore[attr-defined]
    return answers


@pytest.mark.parametrize(
    ("custom_id", "endpoint"),
    [
        (f"release.promote:web:{NEW}", PROMOTE),
        (f"release.rollback:web:{GOOD}", ROLLBACK),
        ("deploy.rerun:web:99", RERUN),
        ("deploy.cancel:web:99", CANCEL),
    ],
)
def test_finding_07_five_simultaneous_presses_act_once(
    world: Any, custom_id: str, endpoint: str
) -> None:
    services, _, github = world
    _fake_run_actions(github)
    _tracked_run(services)
    answers = _press_together(services, custom_id, [DEPLOYER, ADMIN, DEPLOYER, ADMIN, DEPLOYER])
    TALLY.tried(len(answers))
    TALLY.duplicate(max(0, len(github.calls("POST", endpoint)) - 1))
    assert len(github.calls("POST", endpoint)) == 1
    acted = [a for a in answers if a["type"] == 6]
    told = [a for a in answers if a["type"] == 4]
    assert len(acted) == 1 and len(told) == 4
    for answer in told:
        assert answer["data"]["flags"] == 64
        assert "<@9000000000000000" in answer["data"]["content"], "says who pressed first"


def test_finding_07_extra_state_on_a_pressed_button_is_the_same_press(world: Any) -> None:
    """A crafted custom id with extra `:state` names the same button of the same message:
    it does not get a claim of its own (found by the final review)."""
    services, _, github = world
    from orchestrator.devtools.simulate import Invoker, component_interaction

    def press_on_message(custom_id: str) -> dict[str, Any]:
        raw = component_interaction(
            custom_id, "1", Invoker(user_id=DEPLOYER), message_id="1300000000000000779"
        )
        return commands.answer(services, raw)

    assert press_on_message(f"release.promote:web:{NEW}")["type"] == 6
    for extra in (":x", ":y", "::", f":{NEW}"):
        again = press_on_message(f"release.promote:web:{NEW}{extra}")
        TALLY.tried()
        assert again["type"] == 4, extra
    calls = len(github.calls("POST", PROMOTE))
    TALLY.duplicate(max(0, calls - 1))
    assert calls == 1


def test_finding_07_a_press_whose_action_failed_can_be_pressed_again(world: Any) -> None:
    services, _, github = world
    _tracked_run(services)
    github.on("POST", CANCEL, {"message": "Cannot cancel a workflow run"}, status=409)
    from orchestrator.devtools.simulate import Invoker, component_interaction

    def press_on_message(user: str) -> dict[str, Any]:
        raw = component_interaction(
            "deploy.cancel:web:99", "1", Invoker(user_id=user), message_id="1300000000000000778"
        )
        return commands.answer(services, raw)

    assert press_on_message(DEPLOYER)["type"] == 6  # GitHub fails: nothing was done
    github.on("POST", CANCEL, {}, status=202)
    assert press_on_message(ADMIN)["type"] == 6
    assert len(github.calls("POST", CANCEL)) == 2
    again = press_on_message(DEPLOYER)
    assert again["type"] == 4 and "<@900000000000000001>" in again["data"]["content"]


@pytest.mark.parametrize(
    "sha", ["main; rm -rf /", "main", "$(curl evil)", "abc", "g" * 40, "a" * 41]
)
def test_finding_09_a_crafted_promote_button_dispatches_nothing(world: Any, sha: str) -> None:
    services, discord, github = world
    pressed = press(services, f"release.promote:web:{sha}", user=DEPLOYER)
    TALLY.tried()
    TALLY.forged(len(github.calls("POST", PROMOTE)))
    assert pressed["type"] == 6
    assert not github.calls("POST", PROMOTE)
    assert "not a commit SHA" in str(sent(discord, pressed["_token"])[-1].body)


# -- release: a disabled button is only a drawing --------------------------------------------


def _deployed(services: Services, site: Site, sha: str) -> None:
    """Production now reports `sha` (the app's version endpoint moves to `site`)."""
    site.routes["/version"].body = b'{"sha": "' + sha.encode() + b'"}'
    config = services.settings.config_file
    text = config.read_text()
    start = text.index('version_url = "') + len('version_url = "')
    config.write_text(text[:start] + f"{site.url}/version" + text[text.index('"', start) :])


def _refused_and_audited(services: Services, pressed: dict[str, Any], action: str) -> str:
    assert pressed["type"] == 6
    [entry] = [
        e.value
        for e in audit.recent(services.store)
        if e.value["action"] == action and e.value["result"] == "refused"
    ]
    assert entry["actor"] == DEPLOYER
    return str(entry["reason"])


def test_a_disabled_promote_pressed_anyway_dispatches_nothing(world: Any) -> None:
    """Production already runs the branch head: /release draws Promote disabled, and a press
    of its custom id (any client can send one) is refused, not dispatched."""
    services, discord, github = world
    with Site(sha=NEW) as site:
        _deployed(services, site, NEW)
        shown = command(services, "/release app:web", user=DEPLOYER)
        [edit] = sent(discord, shown["_token"])
        promote = next(
            c
            for row in edit.body["components"]
            for c in row["components"]
            if c["label"] == "Promote"
        )
        assert promote["disabled"] is True and promote["custom_id"] == f"release.promote:web:{NEW}"

        pressed = press(services, promote["custom_id"], user=DEPLOYER)

    assert not github.calls("POST", PROMOTE)
    assert tracking.load(services.store, "acme/web", 99) is None
    reason = _refused_and_audited(services, pressed, "release.promote")
    assert "nothing to promote" in reason
    assert "nothing to promote" in sent(discord, pressed["_token"])[-1].body["content"]


def test_a_promote_behind_what_production_runs_dispatches_nothing(world: Any) -> None:
    """The message was drawn before production moved past its candidate: promoting it now
    would ship nothing new (GitHub: 0 commits ahead), so the press is refused."""
    services, _, github = world
    newer = "3" * 40
    github.on(
        "GET",
        f"/repos/acme/web/compare/{newer}...{NEW}",
        gh.comparison(repo="acme/web", status="behind", ahead_by=0, behind_by=3, commits=[]),
    )
    with Site(sha=newer) as site:
        _deployed(services, site, newer)
        pressed = press(services, f"release.promote:web:{NEW}", user=DEPLOYER)
    assert not github.calls("POST", PROMOTE)
    assert "nothing to promote" in _refused_and_audited(services, pressed, "release.promote")


def test_a_promote_without_a_promote_workflow_dispatches_nothing(world: Any) -> None:
    services, discord, github = world
    config = services.settings.config_file
    config.write_text(config.read_text().replace('promote_workflow = "promote.yml"\n', ""))
    shown = command(services, "/release app:web", user=DEPLOYER)
    [edit] = sent(discord, shown["_token"])
    labels = {c["label"]: c for row in edit.body["components"] for c in row["components"]}
    assert labels["Promote"]["disabled"] is True
    pressed = press(services, f"release.promote:web:{NEW}", user=DEPLOYER)
    assert "No promote workflow" in sent(discord, pressed["_token"])[-1].body["content"]
    assert not github.calls("POST", PROMOTE)


def test_a_roll_back_to_what_production_runs_dispatches_nothing(world: Any) -> None:
    services, _, github = world
    pressed = press(services, f"release.rollback:web:{OLD}", user=DEPLOYER)  # OLD runs
    assert not github.calls("POST", ROLLBACK)
    assert "nothing to roll back" in _refused_and_audited(services, pressed, "release.rollback")


def test_a_relay_without_a_bot_token_says_what_to_set_not_that_discord_refused(
    world: Any,
) -> None:
    """Our missing configuration is ours: the answer names what to set, never "Discord
    refused it" (Discord was never asked)."""
    services, discord, _ = world
    untokened = Services(services.settings.replace(discord_bot_token=None))
    try:
        preview = command(untokened, "/relay-send channel:4242 message:hello")
        done = press(untokened, buttons(preview)["Send"]["custom_id"])
        text = str(sent(discord, done["_token"])[-1].body)
        assert "Not set up yet" in text and "Discord refused" not in text
        assert not [r for r in discord.requests if r.path == "/channels/4242/messages"]
    finally:
        untokened.close()
