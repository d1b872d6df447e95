"""`/deploy` end to end, locally: simulate the command, replay the run's webhooks, and watch
one message go queued -> in progress -> completed -> verified."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from orchestrator.deploys.tracking import Tracked
from orchestrator.store.sqlite import SQLiteStore
from tests.support import github_objects as gh
from tests.support.discord_spec import DiscordSpec
from tests.support.fake_github import FakeGitHub
from tests.support.servers import free_port, serve
from tests.support.sites import Site

SHA = "abcdef0123456789abcdef0123456789abcdef01"
RUN = 555


def run_payload(action: str, status: str, conclusion: str | None, updated: str) -> dict[str, Any]:
    return {
        "action": action,
        "repository": {"full_name": "acme/web", "name": "web"},
        "sender": {"login": "octocat", "type": "User"},
        "workflow_run": {
            "id": RUN,
            "name": "Client Deploy",
            "display_title": "Client Deploy",
            "status": status,
            "conclusion": conclusion,
            "head_sha": SHA,
            "head_branch": "main",
            "run_attempt": 1,
            "event": "workflow_dispatch",
            "path": ".github/workflows/deploy.yml",
            "html_url": f"https://github.com/acme/web/actions/runs/{RUN}",
            "created_at": "2026-11-29T04:00:00Z",
            "run_started_at": "2026-11-29T04:00:05Z",
            "updated_at": updated,
        },
    }


def job_payload(status: str, name: str, updated: str) -> dict[str, Any]:
    return {
        "action": status,
        "repository": {"full_name": "acme/web", "name": "web"},
        "sender": {"login": "octocat", "type": "User"},
        "workflow_job": {
            "id": 9001,
            "run_id": RUN,
            "name": name,
            "status": status,
            "conclusion": None,
            "head_sha": SHA,
            "run_attempt": 1,
            "started_at": updated,
            "workflow_name": "Client Deploy",
        },
    }


def test_deploy_is_tracked_from_dispatch_to_verdict(tmp_path: Path) -> None:
    capture = free_port()
    fixtures = tmp_path / "deliveries"
    fixtures.mkdir()
    steps = [
        ("1-workflow_run.json", run_payload("requested", "queued", None, "2026-11-29T04:00:01Z")),
        (
            "2-workflow_run.json",
            run_payload("in_progress", "in_progress", None, "2026-11-29T04:00:06Z"),
        ),
        ("3-workflow_job.json", job_payload("in_progress", "build", "2026-11-29T04:00:07Z")),
        (
            "4-workflow_run.json",
            run_payload("completed", "completed", "success", "2026-11-29T04:03:05Z"),
        ),
    ]
    for name, payload in steps:
        (fixtures / name).write_text(json.dumps(payload))
    with Site(sha=SHA) as site, FakeGitHub() as github:
        github.on(
            "POST",
            "/repos/acme/web/actions/workflows/deploy.yml/dispatches",
            gh.dispatch_response(
                workflow_run_id=RUN,
                run_url=f"https://api.github.com/repos/acme/web/actions/runs/{RUN}",
                html_url=f"https://github.com/acme/web/actions/runs/{RUN}",
            ),
        )
        completed = run_payload("completed", "completed", "success", "2026-11-29T04:03:05Z")
        github.on(
            "GET",
            f"/repos/acme/web/actions/runs/{RUN}",
            gh.workflow_run(repo="acme/web", **completed["workflow_run"]),
        )
        statuses = github.deployments("acme/web")
        github.on(
            "GET",
            "/repos/acme/web/commits/main",
            SHA,
            headers={"content-type": "application/vnd.github.sha"},
        )
        config = tmp_path / "orchestrator.toml"
        config.write_text(
            '[[apps]]\nname = "web"\nrepo = "acme/web"\nworkflow = "deploy.yml"\n'
            f'frontend_url = "{site.url}/"\napi_health_url = "{site.url}/healthz"\n'
            f'version_url = "{site.url}/version"\nversion_field = "build.sha"\n'
            'frontend_version_pattern = \'app-version" content="([0-9a-f]+)"\'\n'
        )
        env = {
            "ORCHESTRATOR_DATA_DIR": str(tmp_path / "data"),
            "ORCHESTRATOR_ENV": "dev",
            "ORCHESTRATOR_CONFIG": str(config),
            "GITHUB_TOKEN": "ghp_e2e",
            "GITHUB_API_BASE": github.url,
            "DISCORD_BOT_TOKEN": "bot-e2e",
            "DISCORD_API_BASE": f"http://127.0.0.1:{capture}/api/v10",
        }
        full_env = {**os.environ, **env}
        with serve(env, cwd=tmp_path) as server:
            simulate = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "orchestrator",
                    "simulate",
                    "/deploy app:web",
                    "--url",
                    server.url,
                    "--capture-port",
                    str(capture),
                    "--wait",
                    "20",
                    "--linger",
                    "6",
                    "--json",
                ],
                env=full_env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                github.wait_for(lambda r: any(x.path.endswith("/dispatches") for x in r), 20)
                [dispatch] = [r for r in github.requests if r.path.endswith("/dispatches")]
                assert dispatch.body["ref"] == "main"
                assert dispatch.body["return_run_details"] is True
                # The tracking record is saved once the run is known: webhooks that arrive
                # before it would find nothing to follow (as on GitHub, they come later).
                _wait_for_tracking(tmp_path / "data" / "orchestrator.sqlite3", timeout=20)
                replay = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "orchestrator",
                        "replay",
                        str(fixtures),
                        "--url",
                        server.url,
                    ],
                    env=full_env,
                    cwd=tmp_path,
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=False,
                )
                assert replay.returncode == 0, replay.stdout + replay.stderr
                out, err = simulate.communicate(timeout=60)
            finally:
                if simulate.poll() is None:
                    simulate.kill()
    assert simulate.returncode == 0, err
    follow_ups = _follow_ups(out)
    descriptions = [
        f["body"]["embeds"][0]["description"] for f in follow_ups if f["body"].get("embeds")
    ]
    assert any("queued" in d for d in descriptions)
    assert any("in progress: build" in d for d in descriptions)
    completed = [d for d in descriptions if "succeeded" in d]
    assert completed
    assert "verification: all checks passed" in descriptions[-1]
    order = [
        next(i for i, d in enumerate(descriptions) if key in d)
        for key in ("queued", "in progress", "succeeded", "verification")
    ]
    assert order == sorted(order)
    assert {f["route"] for f in follow_ups} == {
        "PATCH /webhooks/{id}/{token}/messages/@original"
    }, "one message, edited as the run moves"
    for follow_up in follow_ups:
        method, route = follow_up["route"].split(" ", 1)
        path = route.replace("{id}", "1").replace("{token}", "t")
        DiscordSpec.get().assert_valid_request(method, path, follow_up["body"])
    store = SQLiteStore(tmp_path / "data" / "orchestrator.sqlite3")
    tracked = Tracked.from_record(store.get(f"track:acme/web:{RUN}") or {})
    assert (tracked.status, tracked.conclusion, tracked.verdict) == ("completed", "success", "PASS")
    assert store.query_prefix("verification:web:")
    # The GitHub Deployment of the SHA went queued -> in progress -> success, once each.
    assert [state for _, state in statuses()] == ["queued", "in_progress", "success"]
    [created] = github.calls("POST", "/repos/acme/web/deployments")
    assert created.body["ref"] == SHA and created.body["environment"] == "production"


def _wait_for_tracking(database: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if database.exists():
            store = SQLiteStore(database)
            try:
                if store.get(f"track:acme/web:{RUN}") is not None:
                    return
            finally:
                store.close()
        time.sleep(0.1)
    raise TimeoutError("the /deploy job never saved its tracking record")


def _follow_ups(output: str) -> list[dict[str, Any]]:
    """The JSON documents `simulate --json` printed after the first (the HTTP answer)."""
    decoder = json.JSONDecoder()
    documents, index = [], 0
    while index < len(output):
        if output[index].isspace():
            index += 1
            continue
        document, index = decoder.raw_decode(output, index)
        documents.append(document)
    assert documents[0]["answer"] == {"type": 5}
    return documents[1:]
