"""The deploy commands, driven through the real dispatcher against local fakes.

Every answer and every follow-up is checked against Discord's published schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator import audit
from orchestrator.apps import apps_of
from orchestrator.deploys import history, tracking
from orchestrator.devtools.discord_standin import DiscordStandIn
from orchestrator.devtools.simulate import Invoker, component_interaction
from orchestrator.services import Services
from tests.support import github_objects as gh
from tests.support.commands import (
    ADMIN,
    DEPLOYER,
    STRANGER,
    answer,
    command,
    press,
    sent,
    services_for,
)
from tests.support.fake_github import FakeGitHub, Recorded
from tests.support.sites import Site
from tests.support.tally import TALLY
from tests.support.world import completed_run, deliver

SHA = "abcdef0123456789abcdef0123456789abcdef01"


def run(
    run_id: int, conclusion: str | None = "success", status: str = "completed"
) -> dict[str, Any]:
    return gh.workflow_run(
        repo="acme/web",
        id=run_id,
        name="Client Deploy",
        status=status,
        conclusion=conclusion,
        head_sha=SHA,
        head_branch="main",
        run_attempt=1,
        html_url=f"https://github.com/acme/web/actions/runs/{run_id}",
        created_at="2026-11-29T04:00:00Z",
        run_started_at="2026-11-29T04:00:00Z",
        updated_at="2026-11-29T04:02:00Z",
    )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Services, DiscordStandIn, FakeGitHub]]:
    with Site(sha=SHA) as site, FakeGitHub() as github, DiscordStandIn() as discord:
        config = tmp_path / "orchestrator.toml"
        config.write_text(
            '[[apps]]\nname = "web"\nrepo = "acme/web"\nworkflow = "deploy.yml"\n'
            'diagnose_workflow = "diagnose.yml"\ncorrelation_input = "correlation_id"\n'
            f'frontend_url = "{site.url}/"\napi_health_url = "{site.url}/healthz"\n'
        )
        github.on(
            "GET",
            "/repos/acme/web/actions/workflows/deploy.yml/runs",
            gh.runs_page(run(12), run(11, "failure")),
        )
        github.on(
            "GET",
            "/repos/acme/web/actions/workflows/diagnose.yml/runs",
            gh.runs_page(),
        )
        github.on("GET", "/repos/acme/web/actions/runs/12", run(12))
        github.on(
            "GET",
            "/repos/acme/web/commits/main",
            SHA,
            headers={"content-type": "application/vnd.github.sha"},
        )
        github.on(
            "POST",
            "/repos/acme/web/actions/workflows/deploy.yml/dispatches",
            gh.dispatch_response(
                workflow_run_id=13,
                run_url="https://api.github.com/repos/acme/web/actions/runs/13",
                html_url="https://github.com/acme/web/actions/runs/13",
            ),
        )
        github.on(
            "POST", "/repos/acme/web/actions/workflows/diagnose.yml/dispatches", None, status=204
        )
        github.on(
            "GET",
            "/rate_limit",
            gh.rate_limit_overview(rate={"limit": 5000, "remaining": 4999, "used": 1}),
            headers={
                "x-ratelimit-limit": "5000",
                "x-ratelimit-remaining": "4999",
                "x-ratelimit-reset": "1900000000",
                "x-ratelimit-used": "1",
                "x-ratelimit-resource": "core",
            },
        )
        services = services_for(tmp_path, config, discord.api_base, github.url)
        yield services, discord, github
        services.close()


def invoke(services: Services, line: str, user: str = ADMIN) -> dict[str, Any]:
    return command(services, line, user)


def test_status_lists_recent_runs(world: Any) -> None:
    services, discord, _ = world
    result = invoke(services, "/status app:web count:2", user=STRANGER)
    assert result["type"] == 5
    [edit] = sent(discord, result["_token"])
    fields = {f["name"]: f["value"] for f in edit.body["embeds"][0]["fields"]}
    deploy_runs = fields["Deploy · deploy.yml"]
    assert "#12" in deploy_runs and "#11" in deploy_runs
    assert "failed" in deploy_runs


def test_verify_latest_reports_and_records_history(world: Any) -> None:
    services, discord, _ = world
    result = invoke(services, "/verify-latest app:web", user=STRANGER)
    [edit] = sent(discord, result["_token"])
    assert "web" in edit.body["embeds"][0]["title"]
    [recorded] = history.recent(services.store, "web")
    assert recorded["run_id"] == 12
    listed = invoke(services, "/history app:web", user=STRANGER)
    assert "run 12" in listed["data"]["embeds"][0]["description"]


def test_verify_run_by_url_and_by_id(world: Any) -> None:
    services, discord, _ = world
    by_url = invoke(services, "/verify-run run:https://github.com/acme/web/actions/runs/12")
    assert sent(discord, by_url["_token"])
    by_id = invoke(services, "/verify-run run:12 app:web")
    assert sent(discord, by_id["_token"])
    for odd in ("yesterday", "\u00b2\u00b3"):  # superscripts pass str.isdigit(), not int()
        nonsense = invoke(services, f"/verify-run run:{odd} app:web")
        [edit] = sent(discord, nonsense["_token"])
        assert "run id" in edit.body["content"], odd


def test_deploy_dispatches_and_posts_a_tracking_message(world: Any) -> None:
    services, discord, github = world
    result = invoke(
        services, "/deploy app:web inputs:api_base=https://api.example.com", user=DEPLOYER
    )
    assert result["type"] == 5
    [dispatched] = github.calls("POST", "/repos/acme/web/actions/workflows/deploy.yml/dispatches")
    assert dispatched.body["inputs"]["api_base"] == "https://api.example.com"
    assert dispatched.body["inputs"]["correlation_id"].startswith("orc-")
    [edit] = sent(discord, result["_token"])
    assert "queued" in edit.body["embeds"][0]["description"]
    tracked = tracking.load(services.store, "acme/web", 13)
    assert tracked is not None and tracked.actor == DEPLOYER


def test_deploy_without_the_role_is_refused_and_audited(world: Any) -> None:
    services, _, github = world
    result = invoke(services, "/deploy app:web", user=STRANGER)
    assert result["type"] == 4
    assert result["data"]["flags"] == 64
    assert not github.calls("POST", "/repos/acme/web/actions/workflows/deploy.yml/dispatches")
    [entry] = audit.recent(services.store)
    assert (entry.value["actor"], entry.value["action"], entry.value["result"]) == (
        STRANGER,
        "/deploy",
        "denied",
    )


def test_buttons_on_a_tracked_run(world: Any) -> None:
    services, discord, github = world
    tracking.save(
        services.store,
        tracking.Tracked(
            kind="deploy",
            app="web",
            repo="acme/web",
            ref="main",
            actor=DEPLOYER,
            correlation="orc-00000001",
            run_id=12,
            status="completed",
            conclusion="failure",
        ),
    )
    github.on("POST", "/repos/acme/web/actions/runs/12/rerun-failed-jobs", {}, status=201)
    invoker = Invoker(user_id=DEPLOYER)
    rerun = answer(services, component_interaction("deploy.rerun:web:12", "1", invoker))
    assert rerun["type"] == 6
    assert github.calls("POST", "/repos/acme/web/actions/runs/12/rerun-failed-jobs")
    [edit] = sent(discord, rerun["_token"])
    assert "re-run by" in str(edit.body)
    stranger = answer(
        services, component_interaction("deploy.cancel:web:12", "1", Invoker(user_id=STRANGER))
    )
    assert stranger["type"] == 4 and stranger["data"]["flags"] == 64
    assert audit.recent(services.store)[0].value["result"] == "denied"


# -- a cancelled deploy is final ----------------------------------------------------------------

CANCEL_13 = "/repos/acme/web/actions/runs/13/cancel"
CHANNEL, MESSAGE = "1234567890123456", "2234567890123456"


def _queued_deploy(services: Services) -> None:
    """A deploy GitHub has queued as run 13, its message in a channel (edited by bot token)."""
    tracking.save(
        services.store,
        tracking.Tracked(
            kind="deploy",
            app="web",
            repo="acme/web",
            ref="main",
            actor=DEPLOYER,
            correlation="orc-0000c0de",
            workflow="deploy.yml",
            run_id=13,
            status="queued",
            channel_id=CHANNEL,
            message_id=MESSAGE,
        ),
    )


def _labels(body: dict[str, Any]) -> list[str]:
    return [c["label"] for row in body.get("components", []) for c in row["components"]]


def _shown(body: dict[str, Any]) -> tuple[str, list[str]]:
    return body["embeds"][0]["description"], _labels(body)


def test_a_cancel_press_stops_offering_cancel_and_github_cancelled_is_final(world: Any) -> None:
    services, discord, github = world
    _queued_deploy(services)
    github.on("POST", CANCEL_13, {}, status=202)

    pressed = press(services, "deploy.cancel:web:13", DEPLOYER)

    assert pressed["type"] == 6 and len(github.calls("POST", CANCEL_13)) == 1
    description, labels = _shown(sent(discord, pressed["_token"])[-1].body)
    assert "queued" not in description and "cancelling" in description
    assert "Cancel" not in labels
    deliver(services, completed_run(13, "cancelled"))  # GitHub: the run is over
    edits = [r for r in sent(discord) if r.path == f"/channels/{CHANNEL}/messages/{MESSAGE}"]
    description, labels = _shown(edits[-1].body)
    assert "was cancelled" in description and "queued" not in description
    assert "Cancel" not in labels and "Re-run failed jobs" not in labels
    stored = tracking.load(services.store, "acme/web", 13)
    assert stored is not None and stored.finished and stored.conclusion == "cancelled"


def test_a_run_cancelled_while_the_press_is_in_flight_stays_cancelled(world: Any) -> None:
    """GitHub reports the run cancelled before its cancel call has even returned: the press
    must not save (and draw) the run as still queued, with its Cancel button, on top."""
    services, discord, github = world
    _queued_deploy(services)

    def cancel_and_report(_: Recorded) -> tuple[int, Any, dict[str, str]]:
        deliver(services, completed_run(13, "cancelled"), delivery="while-cancelling")
        return 202, {}, {}

    github.respond("POST", CANCEL_13, cancel_and_report)

    pressed = press(services, "deploy.cancel:web:13", DEPLOYER)

    description, labels = _shown(sent(discord, pressed["_token"])[-1].body)
    assert "was cancelled" in description and "queued" not in description
    assert "Cancel" not in labels and "Re-run failed jobs" not in labels
    stored = tracking.load(services.store, "acme/web", 13)
    assert stored is not None and (stored.status, stored.conclusion) == ("completed", "cancelled")
    assert stored.cancel_requested_by == DEPLOYER


def test_config_show_and_set(world: Any) -> None:
    services, _, _ = world
    shown = invoke(services, "/config show", user=STRANGER)
    assert "web" in shown["data"]["embeds"][0]["title"]
    refused = invoke(services, "/config set app:web key:branch value:evil", user=DEPLOYER)
    assert refused["data"]["flags"] == 64 and "admin" in refused["data"]["content"]
    changed = invoke(services, "/config set app:web key:frontend_url value:https://new.example.com")
    assert "new.example.com" in changed["data"]["content"]
    bad = invoke(services, "/config set app:web key:frontend_url value:http://plain.example")
    assert "https" in bad["data"]["content"]
    entries = [e.value for e in audit.recent(services.store)]
    actions = [(e["action"], e["result"]) for e in entries]
    assert ("/config set", "changed") in actions and ("/config set", "denied") in actions
    [rejected] = [e for e in entries if e["result"] == "rejected"]
    assert rejected["action"] == "/config set" and "https" in str(rejected)
    assert rejected["key"] == "frontend_url" and "new" not in rejected


def _line(shown: dict[str, Any], key: str) -> str:
    [found] = shown["data"]["embeds"]
    return next(x for x in found["description"].splitlines() if x.startswith(f"`{key}`"))


def test_config_set_says_what_it_overrides_and_reset_returns_to_the_file(world: Any) -> None:
    """An override wins over the file's value: /config set says so, /config show marks it
    beside the file's value, and /config reset drops it so the file's value applies again."""
    services, _, _ = world
    in_file = apps_of(services)["web"].frontend_url
    assert in_file is not None

    changed = invoke(services, "/config set app:web key:frontend_url value:https://new.example.com")

    content = changed["data"]["content"]
    assert f"overrides the config file's `{in_file}`" in content
    assert "/config reset app:web key:frontend_url" in content
    shown = invoke(services, "/config show app:web", user=STRANGER)
    assert _line(shown, "frontend_url") == (
        f"`frontend_url` https://new.example.com ✏️ (file: {in_file})"
    )
    assert "✏️" not in _line(shown, "branch")
    assert shown["data"]["embeds"][0]["footer"]["text"].startswith("✏️ set with /config set")

    refused = invoke(services, "/config reset app:web key:frontend_url", user=DEPLOYER)
    assert refused["data"]["flags"] == 64 and "admin" in refused["data"]["content"]
    reset = invoke(services, "/config reset app:web key:frontend_url")

    assert f"follows the config file again: `{in_file}`" in reset["data"]["content"]
    assert apps_of(services)["web"].frontend_url == in_file
    shown = invoke(services, "/config show app:web", user=STRANGER)
    assert _line(shown, "frontend_url") == f"`frontend_url` {in_file}"
    assert "footer" not in shown["data"]["embeds"][0]
    again = invoke(services, "/config reset app:web key:frontend_url")
    assert "no /config set value" in again["data"]["content"]
    actions = [(e.value["action"], e.value["result"]) for e in audit.recent(services.store)]
    assert ("/config reset", "reset") in actions and ("/config reset", "denied") in actions


def test_an_empty_value_clears_until_reset_returns_the_files(world: Any) -> None:
    """`value:""` clears the setting (the file's value no longer applies, and the answer
    says whose value it replaced); `/config reset` is how to return to the file."""
    services, _, _ = world
    in_file = apps_of(services)["web"].frontend_url
    # Discord sends no empty option values; a blank one (a space) is what clears.
    cleared = invoke(services, '/config set app:web key:frontend_url value:" "')
    assert f"is now `—` (overrides the config file's `{in_file}`" in cleared["data"]["content"]
    assert apps_of(services)["web"].frontend_url is None
    shown = invoke(services, "/config show app:web")
    assert _line(shown, "frontend_url") == f"`frontend_url` — ✏️ (file: {in_file})"
    invoke(services, "/config reset app:web key:frontend_url")
    assert apps_of(services)["web"].frontend_url == in_file


def test_diagnose_self_checks_and_follows_the_workflow(world: Any) -> None:
    services, discord, _ = world
    discord.registered()  # nothing registered: commands are out of sync
    result = invoke(services, "/diagnose app:web", user=DEPLOYER)
    found = sent(discord, result["_token"])
    follow_up = [r for r in found if r.method == "POST"]
    assert follow_up, "the diagnose run gets its own tracked follow-up"
    [final] = [r for r in found if r.path.endswith("@original")][-1:]
    fields = {f["name"]: f["value"] for f in final.body["embeds"][0]["fields"]}
    assert fields["✅ Settings"].startswith("✓DISCORD_PUBLIC_KEY")
    assert "4,999" in fields["✅ GitHub token"]
    assert fields["✅ Discord token"].startswith("valid")
    assert "out of sync" in fields["❌ Commands"]
    assert "bot" not in str(fields).replace("bot token", "")  # presence, never values


def test_unknown_app_gets_a_clear_answer(world: Any) -> None:
    services, discord, _ = world
    result = invoke(services, "/status app:nope", user=STRANGER)
    [edit] = sent(discord, result["_token"])
    assert "no app 'nope'" in edit.body["content"]


# -- security finding 9: inputs reach workflows only as the config and git allow ---------------

DEPLOY_DISPATCH = "/repos/acme/web/actions/workflows/deploy.yml/dispatches"
DIAGNOSE_DISPATCH = "/repos/acme/web/actions/workflows/diagnose.yml/dispatches"


def _with_inputs(world: Any, extra: str) -> Services:
    services, _, _ = world
    config = services.settings.config_file
    config.write_text(config.read_text() + extra)
    return services  # the config file is read per command


def test_finding_09_configured_inputs_cannot_be_overridden(world: Any) -> None:
    _, discord, github = world
    services = _with_inputs(world, 'deploy_inputs = { environment = "production" }\n')
    result = invoke(services, "/deploy app:web inputs:environment=staging", user=DEPLOYER)
    assert "environment is set by the config" in sent(discord, result["_token"])[-1].body["content"]
    assert not github.calls("POST", DEPLOY_DISPATCH)
    result = invoke(services, "/deploy app:web inputs:correlation_id=orc-deadbeef", user=DEPLOYER)
    assert not github.calls("POST", DEPLOY_DISPATCH)
    invoke(services, "/deploy app:web inputs:api_base=https://api.example.com", user=DEPLOYER)
    [call] = github.calls("POST", DEPLOY_DISPATCH)
    assert call.body["inputs"]["environment"] == "production"


def test_finding_09_an_input_the_config_lets_go_may_be_overridden(world: Any) -> None:
    _, _, github = world
    services = _with_inputs(
        world,
        'deploy_inputs = { environment = "production", tier = "1" }\n'
        'overridable_inputs = ["tier"]\n',
    )
    invoke(services, "/deploy app:web inputs:tier=2", user=DEPLOYER)
    [call] = github.calls("POST", DEPLOY_DISPATCH)
    assert (call.body["inputs"]["tier"], call.body["inputs"]["environment"]) == ("2", "production")


@pytest.mark.parametrize("ref", ["main;rm", "a..b", "$(id)", "x~1", "@{-1}"])
def test_finding_09_refs_git_would_refuse_are_refused(world: Any, ref: str) -> None:
    services, discord, github = world
    result = invoke(services, f"/deploy app:web ref:{ref}", user=DEPLOYER)
    TALLY.tried()
    TALLY.forged(len(github.calls("POST", DEPLOY_DISPATCH)))
    assert "not a valid git ref" in sent(discord, result["_token"])[-1].body["content"]
    assert not github.calls("POST", DEPLOY_DISPATCH)


@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/latest/meta-data/", "ftp://example.com/", "https://u:p@example.com"],
)
def test_finding_09_diagnose_urls_pass_the_config_policy(world: Any, url: str) -> None:
    services, discord, github = world
    result = invoke(services, f"/diagnose app:web frontend_url:{url}", user=DEPLOYER)
    TALLY.tried()
    TALLY.forged(len(github.calls("POST", DIAGNOSE_DISPATCH)))
    final = [r for r in sent(discord, result["_token"]) if r.path.endswith("@original")][-1]
    fields = {f["name"]: f["value"] for f in final.body["embeds"][0]["fields"]}
    assert fields["Diagnose workflow"].startswith("not dispatched")
    assert not github.calls("POST", DIAGNOSE_DISPATCH)


def test_diagnose_shows_the_last_reconcile_sweep(world: Any) -> None:
    import re
    import time

    from orchestrator.deploys.reconcile import RunsReconciled, Sweep
    from orchestrator.store import keys

    services, discord, _ = world

    def last_reconcile() -> str:
        result = invoke(services, "/diagnose", user=DEPLOYER)
        final = [r for r in sent(discord, result["_token"]) if r.path.endswith("@original")][-1]
        fields = {f["name"]: f["value"] for f in final.body["embeds"][0]["fields"]}
        return str(fields["🔁 Last reconcile"])

    assert "no sweep yet" in last_reconcile()
    swept = Sweep(
        at=time.time() - 125,
        by_hand=False,
        runs=RunsReconciled(unsettled=2, young=1, checked=1, moved=1, finished=1),
        deliveries={
            "hook": "acme/web hook 77",
            "checked": 40,
            "failed": 2,
            "redelivered": 2,
            "already_redelivered": 0,
            "already_received": 1,
            "errors": 0,
        },
    )
    services.store.put(keys.reconcile_sweep(), swept.to_record())
    shown = last_reconcile()
    assert re.match(r"2 min \d+ s ago \(scheduled\)\n", shown), shown
    assert "runs: 2 unfinished, 1 checked, 1 moved on, 1 finished, 1 too young" in shown
    assert "deliveries (acme/web hook 77): 40 checked, 2 failed, 2 redelivered" in shown
