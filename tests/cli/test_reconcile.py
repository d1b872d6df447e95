"""`orchestrator reconcile`: a deploy whose completion webhook never arrived is finished
(message, verdict, environment) by hand, against FakeGitHub, a real site and the Discord
stand-in; the schedule leaves a young run alone."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.config import load_settings
from orchestrator.deploys import queue, tracking
from orchestrator.deploys.reconcile import sweep
from orchestrator.deploys.tracking import Tracked
from orchestrator.devtools.discord_standin import DiscordStandIn
from orchestrator.services import Services
from orchestrator.store import keys
from tests.support import github_objects as gh
from tests.support.discord_spec import DiscordSpec
from tests.support.fake_github import FakeGitHub
from tests.support.sites import Site
from tests.support.world import deliver

SHA = "abcdef0123456789abcdef0123456789abcdef01"
RUN = 555
CHANNEL, MESSAGE = "111111111111111111", "1300000000000000001"
CORRELATION = "orc-0123abcd"
STARTED = 1795924805.0  # 2026-11-29T04:00:05Z, when GitHub started the run


def the_run(**changes: object) -> dict[str, object]:
    """The run as GitHub answers `GET …/actions/runs/{id}`: finished, successfully."""
    fields: dict[str, object] = {
        "id": RUN,
        "status": "completed",
        "conclusion": "success",
        "head_sha": SHA,
        "head_branch": "main",
        "run_attempt": 1,
        "event": "workflow_dispatch",
        "path": ".github/workflows/deploy.yml",
        "display_title": f"Deploy {CORRELATION}",
        "html_url": f"https://github.com/acme/web/actions/runs/{RUN}",
        "created_at": "2026-11-29T04:00:00Z",
        "run_started_at": "2026-11-29T04:00:05Z",
        "updated_at": "2026-11-29T04:03:05Z",
    }
    return gh.workflow_run(repo="acme/web", **{**fields, **changes})


@dataclass
class Setup:
    env: dict[str, str]
    github: FakeGitHub
    discord: DiscordStandIn

    def services(self) -> Services:
        return Services(load_settings(**self.env))

    def edits(self) -> list[dict[str, object]]:
        found = [
            r
            for r in self.discord.requests
            if r.method == "PATCH" and r.path == f"/channels/{CHANNEL}/messages/{MESSAGE}"
        ]
        for request in found:
            DiscordSpec.get().assert_valid_request(request.method, request.path, request.body)
        return [r.body for r in found]


@contextmanager
def lost_webhook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    """A deploy GitHub finished (success) whose `workflow_run.completed` never reached us:
    tracked as in progress, holding its environment, dispatched 30 seconds ago."""
    with Site(sha=SHA) as site, FakeGitHub() as github, DiscordStandIn() as discord:
        config = tmp_path / "orchestrator.toml"
        config.write_text(
            '[[apps]]\nname = "web"\nrepo = "acme/web"\nworkflow = "deploy.yml"\n'
            f'frontend_url = "{site.url}/"\napi_health_url = "{site.url}/healthz"\n'
            f'version_url = "{site.url}/version"\nversion_field = "build.sha"\n'
            'frontend_version_pattern = \'app-version" content="([0-9a-f]+)"\'\n'
        )
        github.on("GET", f"/repos/acme/web/actions/runs/{RUN}", the_run())
        github.on(
            "GET",
            "/repos/acme/web/commits/main",
            SHA,
            headers={"content-type": "application/vnd.github.sha"},
        )
        env = {
            "ORCHESTRATOR_ENV": "test",
            "ORCHESTRATOR_ENV_FILE": "",
            "ORCHESTRATOR_DATA_DIR": str(tmp_path / "data"),
            "ORCHESTRATOR_CONFIG": str(config),
            "GITHUB_TOKEN": "ghp_reconcile",
            "GITHUB_API_BASE": github.url,
            "DISCORD_BOT_TOKEN": "bot-reconcile",
            "DISCORD_API_BASE": discord.api_base,
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        setup = Setup(env, github, discord)
        services = setup.services()
        tracked = Tracked(
            kind="deploy",
            app="web",
            repo="acme/web",
            ref="main",
            actor="42",
            correlation=CORRELATION,
            workflow="deploy.yml",
            environment="default",
            channel_id=CHANNEL,
            message_id=MESSAGE,
            run_id=RUN,
            run_url=f"https://github.com/acme/web/actions/runs/{RUN}",
            head_sha=SHA,
            started_at=STARTED,
            status="in_progress",
            current_job="deploy",
            created_at=time.time() - 30,
        )
        tracking.save(services.store, tracked)
        services.store.put(
            keys.deploy_slot("web", "default"),
            {
                "request": "r1",
                "actor": "42",
                "kind": "deploy",
                "ref": "main",
                "correlation": CORRELATION,
                "started_at": time.time() - 30,
            },
        )
        services.close()
        yield setup


def test_reconcile_by_hand_finishes_a_deploy_whose_webhook_was_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with lost_webhook(tmp_path, monkeypatch) as setup:
        assert main(["reconcile"]) == 0
        out = capsys.readouterr().out
        assert f"web #{RUN} (deploy): in_progress -> success, verdict PASS" in out
        assert "runs: 1 unfinished, 1 checked, 1 moved on, 1 finished" in out
        edits = setup.edits()
        assert len(edits) == 2, "the run's end, then its verdict: one message, edited"
        final = json.dumps(edits[-1])
        assert "succeeded" in final and "verification: all checks passed" in final
        services = setup.services()
        stored = tracking.load(services.store, "acme/web", RUN)
        assert stored is not None
        assert (stored.status, stored.conclusion, stored.verdict) == (
            "completed",
            "success",
            "PASS",
        )
        assert queue.in_flight(services.store, "web", "default") is None, "environment freed"
        assert tracking.unsettled(services.store) == []
        last = services.store.get(keys.reconcile_sweep())
        assert last is not None and last["by_hand"] is True and last["runs"]["finished"] == 1
        services.close()

        # Done is done: a second sweep, or the lost webhook arriving after all, changes nothing.
        assert main(["reconcile", "--json"]) == 0
        again = json.loads(capsys.readouterr().out)
        assert again["runs"]["unsettled"] == 0 and again["runs"]["moved"] == 0
        late = {"action": "completed", "repository": {"full_name": "acme/web"}}
        services = setup.services()
        deliver(services, {**late, "workflow_run": the_run()})
        services.close()
        assert len(setup.edits()) == 2, "the late webhook brings no news"


def test_a_run_github_still_runs_is_not_redrawn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with lost_webhook(tmp_path, monkeypatch) as setup:
        still = the_run(status="in_progress", conclusion=None)
        setup.github.on("GET", f"/repos/acme/web/actions/runs/{RUN}", still)
        services = setup.services()
        for _ in range(2):
            done = asyncio.run(sweep(services, by_hand=True))
            assert (done.runs.checked, done.runs.moved, done.runs.unchanged) == (1, 0, 1)
        assert setup.edits() == [], "nothing new: the message is left alone"
        assert [t.correlation for t in tracking.unsettled(services.store)] == [CORRELATION]
        services.close()


def test_the_schedule_leaves_a_young_run_alone_and_by_hand_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with lost_webhook(tmp_path, monkeypatch) as setup:
        services = setup.services()  # ORCHESTRATOR_RECONCILE_AFTER: 600 s, the run is 30 s old
        scheduled = asyncio.run(sweep(services, by_hand=False))
        assert (scheduled.runs.young, scheduled.runs.checked) == (1, 0)
        assert setup.github.calls("GET", f"/repos/acme/web/actions/runs/{RUN}") == []
        assert setup.edits() == []
        later = asyncio.run(sweep(services, by_hand=False, now=time.time() + 600))
        assert (later.runs.young, later.runs.finished) == (0, 1), "old enough now"
        services.close()


def test_by_hand_a_young_run_is_looked_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with lost_webhook(tmp_path, monkeypatch) as setup:
        services = setup.services()
        by_hand = asyncio.run(sweep(services, by_hand=True))
        assert (by_hand.runs.young, by_hand.runs.finished) == (0, 1)
        assert setup.github.calls("GET", f"/repos/acme/web/actions/runs/{RUN}")
        assert len(setup.edits()) == 2
        services.close()
