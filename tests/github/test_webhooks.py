"""`POST /github` end to end: a real server, a fake GitHub and a fake Discord on 127.0.0.1."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator.devtools.discord_standin import DiscordStandIn
from tests.support import ci_events
from tests.support import github_objects as gh
from tests.support.discord_spec import DiscordSpec
from tests.support.fake_github import FakeGitHub
from tests.support.github_examples import load_examples
from tests.support.servers import Served, serve
from tests.support.signing import dumps, github_headers

SECRET = "webhook-secret-for-tests"
CHANNEL = "1234567890123"


def example(event: str, action: str, **where: Any) -> dict[str, Any]:
    for name, payload in load_examples():
        if (
            name == event
            and payload.get("action") == action
            and all(payload.get(event, {}).get(k) == v for k, v in where.items())
        ):
            return copy.deepcopy(payload)
    raise LookupError(f"no {event}.{action} example")


def branch_push(repo: str) -> dict[str, Any]:
    """A push of commits to a branch (a tag push has no commits and announces nothing)."""
    for name, payload in load_examples():
        if name == "push" and payload.get("commits") and not payload.get("deleted"):
            payload = copy.deepcopy(payload)
            payload["repository"]["full_name"] = repo
            return payload
    raise LookupError("no branch push example")


def failed_run() -> dict[str, Any]:
    payload = example("workflow_run", "completed", conclusion="success")
    run = payload["workflow_run"]
    run["conclusion"] = "failure"
    run["name"] = "Client Deploy"
    payload["repository"]["full_name"] = "acme/web"
    run["repository"]["full_name"] = "acme/web"
    return payload


@pytest.fixture
def discord() -> Iterator[DiscordStandIn]:
    with DiscordStandIn() as standin:
        yield standin


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        yield fake


@pytest.fixture
def server(tmp_path: Path, discord: DiscordStandIn, github: FakeGitHub) -> Iterator[Served]:
    config = tmp_path / "orchestrator.toml"
    config.write_text(
        f'[[notify]]\nrepo = "acme/*"\nchannel_id = "{CHANNEL}"\n'
        'events = ["workflow_run", "push"]\n'
    )
    env = {
        "ORCHESTRATOR_DATA_DIR": str(tmp_path / "data"),
        "ORCHESTRATOR_ENV": "test",
        "ORCHESTRATOR_CONFIG": str(config),
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "GITHUB_TOKEN": "ghp_test_token",
        "GITHUB_API_BASE": github.url,
        "DISCORD_API_BASE": discord.api_base,
        "DISCORD_BOT_TOKEN": "bot-test-token",
    }
    with serve(env, cwd=tmp_path) as served:
        yield served


def post(
    url: str, event: str, payload: dict[str, Any], delivery: str | None = None
) -> httpx.Response:
    body = dumps(payload)
    headers = github_headers(SECRET, body, event, delivery or str(uuid.uuid4()))
    return httpx.post(url + "/github", content=body, headers=headers, timeout=10)


def channel_posts(discord: DiscordStandIn) -> list[Any]:
    return [
        r
        for r in discord.requests
        if r.method == "POST" and r.path == f"/channels/{CHANNEL}/messages"
    ]


def test_failed_run_posts_one_card_naming_the_failed_jobs(
    server: Served, discord: DiscordStandIn, github: FakeGitHub
) -> None:
    payload = failed_run()
    run_id = payload["workflow_run"]["id"]
    github.on(
        "GET",
        f"/repos/acme/web/actions/runs/{run_id}/attempts/1/jobs",
        gh.jobs_page(
            gh.job(
                repo="acme/web",
                id=1,
                run_id=run_id,
                name="build",
                status="completed",
                conclusion="success",
                html_url="https://github.com/acme/web/runs/1",
                steps=[],
            ),
            gh.job(
                repo="acme/web",
                id=2,
                run_id=run_id,
                name="deploy-frontend",
                status="completed",
                conclusion="failure",
                html_url="https://github.com/acme/web/runs/2",
                steps=[
                    gh.step("Set up job", "success", number=1),
                    gh.step("Upload to S3", "failure", number=2),
                ],
            ),
            gh.job(
                repo="acme/web",
                id=3,
                run_id=run_id,
                name="smoke-test",
                status="completed",
                conclusion="cancelled",
                html_url="https://github.com/acme/web/runs/3",
                steps=[],
            ),
        ),
    )
    response = post(server.url, "workflow_run", payload)
    assert response.status_code == 202
    assert response.json()["accepted"] is True
    discord.wait_for(lambda _: len(channel_posts(discord)) == 1, timeout=15)

    [message] = channel_posts(discord)
    assert message.authorization == "Bot"
    DiscordSpec.get().assert_valid_request("POST", f"/channels/{CHANNEL}/messages", message.body)
    [embed] = message.body["embeds"]
    assert embed["title"].startswith("❌")  # the commit's card, red
    [run_line] = [line for line in embed["description"].splitlines() if "Client Deploy" in line]
    assert "failed" in run_line
    [failed] = [line for line in embed["description"].splitlines() if "↳" in line]
    assert "deploy-frontend" in failed
    assert "Upload to S3" in failed
    assert "smoke-test" in failed
    assert "build" not in failed
    [jobs_call] = github.calls("GET", f"/repos/acme/web/actions/runs/{run_id}/attempts/1/jobs")
    assert jobs_call.headers["authorization"] == "Bearer ghp_test_token"


def test_duplicate_deliveries_produce_one_message(server: Served, discord: DiscordStandIn) -> None:
    payload = branch_push("acme/api")
    delivery = str(uuid.uuid4())
    first = post(server.url, "push", payload, delivery)
    second = post(server.url, "push", payload, delivery)
    assert first.status_code == 202
    assert second.status_code == 200
    assert second.json() == {"duplicate": True, "delivery": delivery}

    concurrent = str(uuid.uuid4())
    body = dumps(payload)
    headers = github_headers(SECRET, body, "push", concurrent)

    async def burst() -> list[int]:
        async with httpx.AsyncClient(timeout=10) as client:
            answers = await asyncio.gather(
                *[
                    client.post(server.url + "/github", content=body, headers=headers)
                    for _ in range(10)
                ]
            )
        return [a.status_code for a in answers]

    statuses = asyncio.run(burst())
    assert sorted(statuses) == [200] * 9 + [202]
    discord.wait_for(lambda _: len(channel_posts(discord)) >= 2, timeout=15)
    # Give a wrongly duplicated job time to show up before counting.
    with pytest.raises(TimeoutError):
        discord.wait_for(lambda _: len(channel_posts(discord)) > 2, timeout=1.5)
    assert len(channel_posts(discord)) == 2


def test_a_late_in_progress_never_reannounces(server: Served, discord: DiscordStandIn) -> None:
    payload = failed_run()
    payload["workflow_run"]["conclusion"] = "success"
    payload["workflow_run"]["updated_at"] = "2026-11-29T04:10:00Z"
    assert post(server.url, "workflow_run", payload).status_code == 202
    discord.wait_for(lambda _: len(channel_posts(discord)) == 1, timeout=15)
    late = copy.deepcopy(payload)
    late["action"] = "in_progress"
    late["workflow_run"]["status"] = "in_progress"
    late["workflow_run"]["conclusion"] = None
    late["workflow_run"]["updated_at"] = "2026-11-29T04:05:00Z"
    assert post(server.url, "workflow_run", late).status_code == 202
    replay = copy.deepcopy(payload)  # the same completion, as a new delivery (a redelivery)
    assert post(server.url, "workflow_run", replay).status_code == 202
    with pytest.raises(TimeoutError):
        discord.wait_for(lambda _: len(channel_posts(discord)) > 1, timeout=2)


@pytest.mark.parametrize("size", [26_000_000, 26 * 1024 * 1024], ids=["26MB", "26MiB"])
def test_oversized_bodies_are_refused_with_413(server: Served, size: int) -> None:
    body = b'{"pad":"' + b"x" * (size - 10) + b'"}'
    assert len(body) == size
    response = httpx.post(
        server.url + "/github",
        content=body,
        headers={
            "x-github-event": "push",
            "x-github-delivery": "big",
            "content-type": "application/json",
            "x-hub-signature-256": "sha256=" + "0" * 64,  # well-formed, so the size decides
        },
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


def test_form_encoded_deliveries_are_accepted(server: Served, discord: DiscordStandIn) -> None:
    from urllib.parse import urlencode

    payload = branch_push("acme/form")
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = github_headers(SECRET, body, "push", str(uuid.uuid4()))
    headers["content-type"] = "application/x-www-form-urlencoded"
    response = httpx.post(server.url + "/github", content=body, headers=headers, timeout=10)
    assert response.status_code == 202
    discord.wait_for(lambda _: len(channel_posts(discord)) == 1, timeout=15)


def card_bodies(discord: DiscordStandIn) -> list[Any]:
    return [
        r
        for r in discord.requests
        if r.path.startswith(f"/channels/{CHANNEL}/messages") and r.method in ("POST", "PATCH")
    ]


def test_a_burst_of_six_runs_for_one_commit_is_one_card_edited_in_place(
    server: Served, discord: DiscordStandIn, github: FakeGitHub
) -> None:
    names = ["CI", "Lint", "Docs", "E2E", "Build image", "CodeQL"]
    payloads = [
        ci_events.workflow_run(
            run_id=9000 + i, name=name, conclusion="failure" if name == "E2E" else "success"
        )
        for i, name in enumerate(names)
    ]
    github.on(
        "GET",
        "/repos/acme/web/actions/runs/9003/attempts/1/jobs",
        gh.jobs_page(
            gh.job(repo="acme/web", id=31, run_id=9003, name="browser tests",
                   status="completed", conclusion="failure", steps=[])
        ),
    )  # fmt: skip

    async def burst(payloads: list[dict[str, Any]]) -> list[int]:
        async with httpx.AsyncClient(timeout=10) as client:
            answers = await asyncio.gather(
                *[
                    client.post(
                        server.url + "/github",
                        content=(body := dumps(payload)),
                        headers=github_headers(SECRET, body, "workflow_run", str(uuid.uuid4())),
                    )
                    for payload in payloads
                ]
            )
        return [a.status_code for a in answers]

    def final_text() -> str:
        bodies = card_bodies(discord)
        return str(bodies[-1].body["embeds"][0]["description"]) if bodies else ""

    assert asyncio.run(burst(payloads)) == [202] * 6
    discord.wait_for(lambda _: all(f"[{n}](" in final_text() for n in names), timeout=30)
    with pytest.raises(TimeoutError):  # a wrongly duplicated card or edit would show up here
        discord.wait_for(lambda _: len(card_bodies(discord)) > 6, timeout=1.5)

    bodies = card_bodies(discord)
    [create] = [r for r in bodies if r.method == "POST"]
    assert bodies[0] is create and all(r.method == "PATCH" for r in bodies[1:])
    assert len({r.path for r in bodies[1:]}) <= 1  # every edit is of that one message
    assert len(bodies) <= 6  # one create, edits coalesced: never more than one per event
    print(f"burst of six: 1 POST, {len(bodies) - 1} PATCH")
    spec = DiscordSpec.get()
    for request in bodies:
        spec.assert_valid_request(request.method, request.path, request.body)
    [embed] = bodies[-1].body["embeds"]
    assert embed["title"].startswith("❌")
    [failing] = [line for line in embed["description"].splitlines() if line.startswith("**")]
    assert "E2E" in failing and "failed" in failing
    assert "browser tests" in embed["description"]

    second = ci_events.workflow_run(run_id=9100, name="CI", sha=ci_events.OTHER_SHA)
    assert asyncio.run(burst([second])) == [202]
    discord.wait_for(
        lambda _: len([r for r in card_bodies(discord) if r.method == "POST"]) == 2, timeout=15
    )
    assert ci_events.OTHER_SHA[:7] in str(card_bodies(discord)[-1].body)
