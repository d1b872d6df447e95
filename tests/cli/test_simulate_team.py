"""The team commands end to end through `orchestrator simulate`, against a real server.

One `orchestrator serve` process for the module, wired to local stand-ins only: GitHub is a
`FakeGitHub`, the app's frontend and API are a `Site` on 127.0.0.1, and Discord is the
stand-in `orchestrator simulate` runs on its capture port (or, where a command posts to a
channel the simulator does not print, a `DiscordStandIn` the test holds on that port).
Every immediate answer and every follow-up is checked against Discord's OpenAPI spec.

Who may do what comes from roles, as in a real guild: admins have ADMIN_ROLE, deployers
DEPLOY_ROLE (passed with `simulate --roles`); buttons are pressed with `simulate --component`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator.devtools.discord_standin import Captured, DiscordStandIn
from orchestrator.store.sqlite import SQLiteStore
from tests.support import github_objects as gh
from tests.support.discord_spec import DiscordSpec
from tests.support.fake_github import FakeGitHub
from tests.support.servers import Served, free_port, serve
from tests.support.signing import dumps, github_headers
from tests.support.sites import Site

OLD = "1111111111111111111111111111111111111111"  # what production runs (the site's /version)
NEW = "2222222222222222222222222222222222222222"  # the head of main (the faked GitHub)
ADMIN_ROLE, DEPLOY_ROLE = "700000000000000001", "700000000000000002"
ADMIN, DEPLOYER, STRANGER = "900000000000000001", "900000000000000002", "900000000000000003"
TRACER = "900000000000000004"  # a user nobody else acts as: /trace lists only their commands
WEBHOOK_SECRET = "simulate-team-secret"
LOG = (
    "2026-11-29T04:00:00.0000000Z ##[group]Run npm test\n"
    "2026-11-29T04:00:01.0000000Z \x1b[31mFAIL\x1b[0m src/app.test.ts\n"
    "2026-11-29T04:00:02.0000000Z ##[error]Process completed with exit code 1.\n"
)
WAIT = 20.0  # seconds any one wait may take; every wait below is bounded by it


# -- the world -------------------------------------------------------------------------------


@dataclass
class World:
    server: Served
    github: FakeGitHub
    site: Site
    capture_port: int
    root: Path
    env: dict[str, str]

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def store(self) -> SQLiteStore:
        return SQLiteStore(self.data_dir / "orchestrator.sqlite3")


def script_github(github: FakeGitHub) -> None:
    """The GitHub API the team commands read: a PR, its checks, a run's jobs, a compare."""
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
                html_url="https://github.com/acme/web/actions/runs/88/job/501",
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
        conclusion="failure",
        status="completed",
        steps=[gh.step("checkout", "success", number=1), gh.step("npm test", "failure", number=3)],
    )
    github.on("GET", "/repos/acme/web/actions/jobs/501", failing_job)
    github.job_logs("acme/web", 501, LOG)
    github.on(
        "GET",
        "/repos/acme/web/actions/runs/88/jobs",
        gh.jobs_page(
            failing_job,
            gh.job(
                repo="acme/web",
                id=503,
                run_id=88,
                name="build",
                conclusion="success",
                status="completed",
            ),
        ),
    )
    for workflow, run_id in (("promote.yml", 99), ("triage.yml", 98)):
        github.on(
            "POST",
            f"/repos/acme/web/actions/workflows/{workflow}/dispatches",
            gh.dispatch_response(
                workflow_run_id=run_id,
                run_url=f"https://api.github.com/repos/acme/web/actions/runs/{run_id}",
                html_url=f"https://github.com/acme/web/actions/runs/{run_id}",
            ),
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("simulate-team")
    capture_port = free_port()
    with Site(sha=OLD) as site, FakeGitHub() as github:
        script_github(github)
        config = root / "orchestrator.toml"
        config.write_text(
            '[[apps]]\nname = "web"\nrepo = "acme/web"\nworkflow = "deploy.yml"\n'
            'promote_workflow = "promote.yml"\nrollback_workflow = "rollback.yml"\n'
            'triage_workflow = "triage.yml"\n'
            f'frontend_url = "{site.url}/"\n'
            f'api_health_url = "{site.url}/error"\n'  # answers 500: the API probes down
            f'version_url = "{site.url}/version"\nversion_field = "build.sha"\n'
        )
        env = {
            "ORCHESTRATOR_DATA_DIR": str(root / "data"),
            "ORCHESTRATOR_ENV": "dev",
            "ORCHESTRATOR_ENV_FILE": "",
            "ORCHESTRATOR_CONFIG": str(config),
            # The server's own scheduler runs the `probes.run` schedule at start; a daily
            # interval keeps it to that one run while the module runs.
            "ORCHESTRATOR_SCHEDULER": "on",
            "ORCHESTRATOR_PROBE_INTERVAL": "86400",
            "GITHUB_TOKEN": "ghp_simulate_team",
            "GITHUB_API_BASE": github.url,
            "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "DISCORD_BOT_TOKEN": "bot-simulate-team",
            "DISCORD_API_BASE": f"http://127.0.0.1:{capture_port}/api/v10",
            "DISCORD_ADMIN_ROLE_IDS": ADMIN_ROLE,
            "DISCORD_DEPLOY_ROLE_IDS": DEPLOY_ROLE,
        }
        with serve(env, cwd=root) as server:
            yield World(server, github, site, capture_port, root, env)


# -- driving `orchestrator simulate` -----------------------------------------------------------


@dataclass
class Simulated:
    answer: dict[str, Any]
    follow_ups: list[dict[str, Any]] = field(default_factory=list)
    stderr: str = ""

    @property
    def edit(self) -> dict[str, Any]:
        """The body of the (last) edit of the deferred reply."""
        edits = [f for f in self.follow_ups if f["route"].endswith("/messages/@original")]
        assert edits, f"no edit of the original reply among {self.follow_ups}"
        body: dict[str, Any] = edits[-1]["body"]
        return body


def concrete(route: str) -> tuple[str, str]:
    """`PATCH /webhooks/{id}/{token}/messages/@original` -> a method and a concrete path."""
    method, _, path = route.partition(" ")
    return method, path.replace("{id}", "1").replace("{token}", "tok")


def documents(output: str) -> list[dict[str, Any]]:
    decoder = json.JSONDecoder()
    found, index = [], 0
    while index < len(output):
        if output[index].isspace():
            index += 1
            continue
        document, index = decoder.raw_decode(output, index)
        found.append(document)
    return found


def _argv(world: World, args: tuple[str, ...], user: str, roles: str, linger: float) -> list[str]:
    return [
        sys.executable,
        "-m",
        "orchestrator",
        "simulate",
        *args,
        "--url",
        world.server.url,
        "--capture-port",
        str(world.capture_port),
        "--user",
        user,
        "--roles",
        roles,
        "--wait",
        str(WAIT),
        "--linger",
        str(linger),
        "--json",
    ]


def _checked(world: World, args: tuple[str, ...], code: int, out: str, err: str) -> Simulated:
    """The simulator's output, with the answer and every follow-up spec-checked."""
    assert code == 0, (
        f"simulate {args} exited {code}\nstdout: {out}\nstderr: {err}\n"
        f"server log:\n{world.server.output()[-3000:]}"
    )
    [first, *rest] = documents(out)
    assert first["status"] == 200, first
    spec = DiscordSpec.get()
    spec.assert_valid_interaction_response(first["answer"])
    for follow_up in rest:
        spec.assert_valid_request(*concrete(follow_up["route"]), follow_up["body"])
    return Simulated(first["answer"], rest, err)


def simulate(
    world: World,
    *args: str,
    user: str,
    roles: str = "",
    linger: float = 0.6,
) -> Simulated:
    """Run `orchestrator simulate ... --json`; spec-check the answer and every follow-up."""
    run = subprocess.run(
        _argv(world, args, user, roles, linger),
        capture_output=True,
        text=True,
        env={**os.environ, **world.env},
        cwd=world.root,
        timeout=WAIT + 30,
        check=False,
    )
    return _checked(world, args, run.returncode, run.stdout, run.stderr)


def simulate_at_once(world: World, *calls: tuple[tuple[str, ...], str, str]) -> list[Simulated]:
    """Several interactions answered immediately, simulated side by side: (args, user, roles).

    Only one of them gets the capture port, which is fine: none has a follow-up.
    """
    started = [
        (
            args,
            subprocess.Popen(
                _argv(world, args, user, roles, 0.1),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, **world.env},
                cwd=world.root,
            ),
        )
        for args, user, roles in calls
    ]
    results = []
    try:
        for args, process in started:
            out, err = process.communicate(timeout=WAIT + 30)
            results.append(_checked(world, args, process.returncode, out, err))
    finally:
        for _, process in started:
            if process.poll() is None:
                process.kill()
                process.wait()
    for result in results:
        assert result.answer["type"] == 4 and result.follow_ups == [], result.answer
    return results


def press_holding_discord(
    world: World,
    custom_id: str,
    until: Callable[[list[Captured]], bool],
    *,
    user: str,
    roles: str,
) -> tuple[Simulated, list[Captured]]:
    """Press a button while the test holds the Discord stand-in on the capture port.

    The simulator prints only the follow-ups of its own interaction; channel posts (relays)
    go elsewhere, so the test keeps the stand-in and sees every request the press causes.
    """
    with DiscordStandIn(port=world.capture_port) as discord:
        pressed = simulate(world, "--component", custom_id, user=user, roles=roles)
        assert "busy" in pressed.stderr  # the simulator left the port to us
        seen = discord.wait_for(until, timeout=WAIT)
    spec = DiscordSpec.get()
    for request in seen:
        spec.assert_valid_request(request.method, request.path, request.body)
    return pressed, seen


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["label"]: c for row in message.get("components", []) for c in row["components"]}


def wait_for_records(world: World, prefix: str, count: int) -> list[dict[str, Any]]:
    """The server's store holding at least `count` records under `prefix`, bounded."""
    store = world.store()
    deadline = time.monotonic() + WAIT
    try:
        while True:
            found = [r.value for r in store.query_prefix(prefix, limit=100)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(found)} records under {prefix!r} after {WAIT}s; server log:\n"
                    f"{world.server.output()[-3000:]}"
                )
            time.sleep(0.1)
    finally:
        store.close()


def is_webhook_edit(request: Captured, text: str) -> bool:
    return (
        request.method == "PATCH"
        and request.path.startswith("/webhooks/")
        and request.path.endswith("/messages/@original")
        and text in json.dumps(request.body, ensure_ascii=False)
    )


# -- relay -----------------------------------------------------------------------------------


def test_relay_send_previews_and_posts_to_the_channel_after_send(world: World) -> None:
    preview = simulate(
        world,
        '/relay-send channel:4242 message:"Deploy freeze at 18:00"',
        user=ADMIN,
        roles=ADMIN_ROLE,
    )
    assert preview.answer["type"] == 4 and preview.follow_ups == []
    data = preview.answer["data"]
    assert data["flags"] & 64
    [shown] = data["embeds"]
    assert "<#4242>" in shown["title"] and shown["description"] == "Deploy freeze at 18:00"
    send = buttons(data)["Send"]["custom_id"]
    assert send.startswith("relay.confirm:")
    assert set(buttons(data)) == {"Send", "Cancel"}

    pressed, seen = press_holding_discord(
        world,
        send,
        lambda requests: any(is_webhook_edit(r, "Sent to <#4242>") for r in requests),
        user=ADMIN,
        roles=ADMIN_ROLE,
    )
    assert pressed.answer == {"type": 6}
    posts = [r for r in seen if r.method == "POST" and r.path == "/channels/4242/messages"]
    assert len(posts) == 1, [r.route for r in seen]
    assert posts[0].body["content"] == "Deploy freeze at 18:00"
    assert posts[0].body["allowed_mentions"] == {"parse": []}
    assert posts[0].authorization == "Bot"
    assert seen.index(posts[0]) < next(
        i for i, r in enumerate(seen) if is_webhook_edit(r, "Sent to")
    )


def test_relay_dm_opens_a_dm_and_sends_after_send(world: World) -> None:
    preview = simulate(world, "/relay-dm user:555 message:hello", user=ADMIN, roles=ADMIN_ROLE)
    assert preview.answer["type"] == 4
    assert "<@555> (DM)" in preview.answer["data"]["embeds"][0]["title"]

    def dm_sent(requests: list[Captured]) -> bool:
        return any(is_webhook_edit(r, "Sent to <@555>") for r in requests)

    _, seen = press_holding_discord(
        world,
        buttons(preview.answer["data"])["Send"]["custom_id"],
        dm_sent,
        user=ADMIN,
        roles=ADMIN_ROLE,
    )
    posts = [r for r in seen if r.method == "POST"]
    assert posts[0].path == "/users/@me/channels" and posts[0].body == {"recipient_id": "555"}
    [message] = [r for r in posts if r.path.startswith("/channels/")]
    assert message.path.endswith("/messages") and message.body["content"] == "hello"


# -- triage ----------------------------------------------------------------------------------


def test_triage_a_pr_shows_the_failing_job_step_and_log(world: World) -> None:
    result = simulate(world, "/triage pr:7 app:web", user=STRANGER)
    assert result.answer["type"] == 5
    [embed] = result.edit["embeds"]
    assert embed["title"].startswith("🩹 PR #7: Make it faster")
    assert embed["url"] == "https://github.com/acme/web/pull/7"
    [failing] = embed["fields"]
    assert failing["name"] == "❌ test"
    assert "failing step: npm test" in failing["value"]
    assert "checkout" not in failing["value"]
    assert "FAIL src/app.test.ts" in failing["value"]
    assert "\x1b" not in failing["value"] and "2026-11-29T" not in failing["value"]
    [pull] = world.github.calls("GET", "/repos/acme/web/pulls/7")[-1:]
    assert pull.headers["authorization"].endswith("ghp_simulate_team")


def test_triage_a_run_shows_its_failing_job_and_dispatches_for_a_deployer(world: World) -> None:
    dispatches = "/repos/acme/web/actions/workflows/triage.yml/dispatches"
    before = len(world.github.calls("POST", dispatches))
    result = simulate(
        world, "/triage run:88 app:web dispatch:true", user=DEPLOYER, roles=DEPLOY_ROLE
    )
    assert result.answer["type"] == 5
    [embed] = result.edit["embeds"]
    assert embed["title"] == "🩹 Run 88 · web"
    assert embed["url"] == "https://github.com/acme/web/actions/runs/88"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert set(fields) == {"❌ test", "Note"}  # the green build job is not listed
    assert "failing step: npm test" in fields["❌ test"]
    assert "Process completed with exit code 1." in fields["❌ test"]
    assert "triage workflow dispatched" in fields["Note"] and "run 98" in fields["Note"]
    calls = world.github.calls("POST", dispatches)
    assert len(calls) == before + 1
    assert calls[-1].body["inputs"] == {"run_id": "88"} and calls[-1].body["ref"] == "main"


# -- release ---------------------------------------------------------------------------------


def test_release_lists_the_commits_and_promote_dispatches_and_tracks(world: World) -> None:
    result = simulate(world, "/release app:web", user=DEPLOYER, roles=DEPLOY_ROLE)
    assert result.answer["type"] == 5
    [embed] = result.edit["embeds"]
    description = embed["description"]
    assert "`1111111` → `2222222`: 2 commits" in description
    assert "fix: two" in description and "body" not in description
    assert description.index("fix: two") < description.index("feat: one")  # newest first
    promote = buttons(result.edit)["Promote"]
    assert not promote.get("disabled")
    assert promote["custom_id"] == f"release.promote:web:{NEW}"

    dispatches = "/repos/acme/web/actions/workflows/promote.yml/dispatches"
    before = len(world.github.calls("POST", dispatches))
    promoted = simulate(
        world, "--component", promote["custom_id"], user=DEPLOYER, roles=DEPLOY_ROLE
    )
    assert promoted.answer == {"type": 6}
    calls = world.github.calls("POST", dispatches)
    assert len(calls) == before + 1
    assert calls[-1].body["inputs"] == {"sha": NEW}
    [tracking] = promoted.edit["embeds"]
    assert "Release web" in tracking["title"]
    assert "https://github.com/acme/web/actions/runs/99" in json.dumps(promoted.edit)


# -- uptime and digest -----------------------------------------------------------------------


def test_uptime_shows_the_probed_states_of_the_app(world: World) -> None:
    wait_for_records(world, "probestate:web:", 2)
    jobs = wait_for_records(world, "job:sched-probes.run-", 1)  # the schedule ran them
    assert {job["name"] for job in jobs} == {"probes.run"}
    assert world.site.hits["/"] >= 1 and world.site.hits["/error"] >= 1

    result = simulate(world, "/uptime", user=STRANGER)
    assert result.answer["type"] == 4 and result.follow_ups == []
    [embed] = result.answer["data"]["embeds"]
    assert embed["title"] == "📡 Uptime"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert "web" in fields, fields
    assert "✅ **frontend**: up since <t:" in fields["web"]
    assert "❌ **api**: down since <t:" in fields["web"]
    assert "HTTP 500" in fields["web"]
    assert "not probed yet" not in fields["web"]


def workflow_run(run_id: int, conclusion: str) -> dict[str, Any]:
    now = time.time()

    def iso(at: float) -> str:
        return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    return {
        "action": "completed",
        "repository": {"full_name": "acme/web", "name": "web"},
        "sender": {"login": "octocat", "type": "User"},
        "workflow": {"name": "Deploy", "path": ".github/workflows/deploy.yml"},
        "workflow_run": {
            "id": run_id,
            "name": "Deploy",
            "display_title": "Deploy",
            "status": "completed",
            "conclusion": conclusion,
            "head_sha": NEW,
            "head_branch": "main",
            "run_attempt": 1,
            "event": "push",
            "path": ".github/workflows/deploy.yml",
            "html_url": f"https://github.com/acme/web/actions/runs/{run_id}",
            "created_at": iso(now - 130),
            "run_started_at": iso(now - 120),
            "updated_at": iso(now - 60),
        },
    }


def test_digest_counts_the_deploys_and_probes(world: World) -> None:
    for run_id, conclusion in ((701, "success"), (702, "failure")):
        body = dumps(workflow_run(run_id, conclusion))
        answer = httpx.post(
            world.server.url + "/github",
            content=body,
            headers=github_headers(WEBHOOK_SECRET, body, "workflow_run", f"digest-{run_id}"),
            timeout=10,
        )
        assert answer.status_code == 202 and answer.json()["accepted"] is True, answer.text
    wait_for_records(world, "runlog:web:", 2)
    probes = wait_for_records(world, "probe:web:", 2)

    result = simulate(world, "/digest period:daily app:web", user=STRANGER)
    assert result.answer["type"] == 5
    [embed] = result.edit["embeds"]
    assert embed["title"].startswith("📊 Daily digest")
    assert "**All apps** 🚀 2 deploys · 50.0% succeeded" in embed["description"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert "🚀 2 deploys · 50.0% succeeded" in fields["web"]
    up = sum(1 for p in probes if p.get("ok"))
    assert up and up * 2 == len(probes)  # the frontend answers, the API does not
    assert f"📡 50.0% up ({up}/{len(probes)} probes)" in fields["web"]
    assert "frontend 100%" in fields["web"] and "api 0.0%" in fields["web"]
    failed = fields["Failed runs"]
    assert "[#702](https://github.com/acme/web/actions/runs/702)" in failed
    assert "#701" not in failed


# -- trace and audit -------------------------------------------------------------------------


def test_trace_lists_my_previous_commands_and_their_steps(world: World) -> None:
    simulate(world, "/triage run:88 app:web", user=TRACER)
    listed = simulate(world, "/trace", user=TRACER)
    assert listed.answer["type"] == 4 and listed.answer["data"]["flags"] & 64
    [embed] = listed.answer["data"]["embeds"]
    assert embed["title"] == "🔎 Your recent commands"
    lines = embed["description"].splitlines()
    triage_lines = [line for line in lines if "`/triage`" in line]
    assert len(triage_lines) == 1, lines
    found = re.search(r"id `(\d+)`", triage_lines[0])
    assert found is not None, triage_lines
    interaction = found.group(1)

    detail, other = simulate_at_once(
        world,
        ((f"/trace interaction:{interaction}",), TRACER, ""),
        ((f"/trace interaction:{interaction}",), STRANGER, ""),
    )
    [steps] = detail.answer["data"]["embeds"]
    assert steps["title"] == f"🔎 /triage · {interaction}"
    for step in ("answered", "collected (jobs=1)", "follow-up sent"):
        assert step in steps["description"], steps["description"]
    assert "❌" not in steps["description"]
    assert "No trace" in other.answer["data"]["content"]


def test_audit_shows_refusals_and_is_for_admins_only(world: World) -> None:
    promotes = "/repos/acme/web/actions/workflows/promote.yml/dispatches"
    before = len(world.github.calls("POST", promotes))
    refused, not_admin, forged = simulate_at_once(
        world,
        (("/relay-send channel:1 message:hi",), STRANGER, ""),
        (("/audit",), DEPLOYER, DEPLOY_ROLE),
        (("--component", f"release.promote:web:{NEW}"), STRANGER, ""),
    )
    assert refused.answer["data"]["flags"] & 64
    assert "needs an admin" in refused.answer["data"]["content"]
    assert "needs an admin" in not_admin.answer["data"]["content"]
    assert forged.answer["data"]["flags"] & 64
    assert "needs the deploy role" in forged.answer["data"]["content"]
    assert len(world.github.calls("POST", promotes)) == before

    audit = simulate(world, "/audit count:25", user=ADMIN, roles=ADMIN_ROLE)
    assert audit.answer["type"] == 4 and audit.answer["data"]["flags"] & 64
    [embed] = audit.answer["data"]["embeds"]
    assert embed["title"] == "📜 Audit log"
    lines = embed["description"].splitlines()
    assert any(f"<@{STRANGER}> `/relay-send` denied" in line for line in lines), lines
    assert any(f"<@{STRANGER}> `release.promote` denied" in line for line in lines), lines
    assert any(f"<@{DEPLOYER}> `/audit` denied" in line for line in lines), lines
    assert any(f"<@{ADMIN}> `/audit` accepted" in line for line in lines), lines
