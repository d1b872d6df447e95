"""Probes end to end: a real site on 127.0.0.1, the real store, a Discord stand-in."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest

from orchestrator.jobs.retry import sweep
from orchestrator.probes.http import make_client, probe_url
from orchestrator.probes.run import (
    commit,
    incidents,
    load_state,
    run_probes,
    targets,
)
from orchestrator.probes.state import SELF_APP, ProbeResult, ProbeState, Target
from orchestrator.store import keys
from tests.support.world import APP_CHANNEL, OPS_CHANNEL, World


def probe_all(world: World) -> list[Any]:
    return asyncio.run(run_probes(world.services, seconds=5.0))


def test_targets_are_each_apps_urls_and_our_own_healthz(world: World) -> None:
    found = {(t.app, t.name): t for t in targets(world.services)}
    assert set(found) == {("web", "frontend"), ("web", "api"), (SELF_APP, "self")}
    assert found[("web", "frontend")].channel_id == APP_CHANNEL
    assert found[(SELF_APP, "self")].url == world.site.url + "/healthz"
    assert found[(SELF_APP, "self")].channel_id == OPS_CHANNEL


def test_a_flapping_site_posts_exactly_two_changes(world: World) -> None:
    store, site = world.services.store, world.site
    first = probe_all(world)
    assert all(o.result.ok for o in first) and not any(o.change for o in first)
    assert world.posts(APP_CHANNEL) == [], "the first observation is silent"
    # The stand-in site has no HEAD: 501, so every probe fell back to a GET.
    assert site.hits["/health"] == 1 and first[0].result.status == 200

    site.route("/health", status=503, body="down")
    probe_all(world)
    probe_all(world)  # still down: nothing new to say
    site.route("/health", status=200, body="ok")
    probe_all(world)
    probe_all(world)

    posts = world.posts(APP_CHANNEL)
    assert len(posts) == 2
    down, up = (p.body["embeds"][0] for p in posts)
    assert down["title"] == "❌ web · frontend is down" and "HTTP 503" in down["description"]
    assert up["title"] == "✅ web · frontend is back up" and "HTTP 503" in up["description"]
    assert world.posts(OPS_CHANNEL) == [], "the api and self targets never changed"
    [incident] = incidents(store, "web")
    assert incident["target"] == "frontend" and incident["cause"] == "HTTP 503"
    assert incident["end"] is not None and incident["end"] >= incident["start"]
    state = load_state(store, "web", "frontend")
    assert state is not None and state.up and state.generation == 5


def test_our_own_healthz_going_down_goes_to_the_ops_channel(world: World) -> None:
    probe_all(world)
    world.site.route("/healthz", status=500, body="no")
    probe_all(world)
    [post] = world.posts(OPS_CHANNEL)
    assert "orchestrator (this service) · self is down" in post.body["embeds"][0]["title"]


def test_a_change_that_cannot_be_posted_is_recorded_and_not_reposted(world: World) -> None:
    probe_all(world)
    world.site.route("/api", status=502)
    world.discord.fail_next(403, {"message": "Missing Access", "code": 50001})
    observed = probe_all(world)
    [changed] = [o for o in observed if o.change is not None]
    assert changed.target.name == "api" and not changed.announced
    [incident] = incidents(world.services.store, "web")
    assert incident["post_error"] == "DiscordHTTPError"
    probe_all(world)
    [refused] = world.posts(APP_CHANNEL)  # the one attempt, answered 403; never a second
    assert "web · api is down" in refused.body["embeds"][0]["title"]


def test_a_change_that_could_not_be_posted_is_posted_once_by_the_retry_sweep(
    world: World,
) -> None:
    store = world.services.store
    probe_all(world)
    world.site.route("/api", status=502)
    world.discord.fail_next(503, {"message": "upstream"}, times=20)
    probe_all(world)
    attempts = len(world.posts(APP_CHANNEL))
    assert attempts >= 1, "the post was tried (and retried by the REST client, bounded)"
    [incident] = incidents(store, "web")
    failed = store.get(f"job:{incident['post_job']}")
    assert failed is not None
    assert (failed["name"], failed["status"], failed["attempt"]) == ("probes.announce", "failed", 1)
    assert "503" in failed["error"] or "DiscordHTTPError" in failed["error"]

    world.discord.recover()
    probe_all(world)  # the next run: still down, nothing new to say, nothing re-decided
    assert len(world.posts(APP_CHANNEL)) == attempts
    assert sweep(world.services, now=failed["retry_at"] - 1) == []
    assert sweep(world.services, now=failed["retry_at"] + 1) == [incident["post_job"]]
    assert world.services.jobs.drain(10)  # type: ignore[attr-defined]
    late = world.posts(APP_CHANNEL)[attempts:]
    assert len(late) == 1 and "web · api is down" in late[0].body["embeds"][0]["title"]
    assert store.get(f"job:{incident['post_job']}")["status"] == "done"
    [incident] = incidents(store, "web")
    assert incident.get("posted_late") is True and "post_error" not in incident
    assert sweep(world.services, now=failed["retry_at"] + 100_000) == []
    assert len(world.posts(APP_CHANNEL)) == attempts + 1


def test_a_late_down_alert_is_dropped_once_the_target_is_back_up(world: World) -> None:
    store = world.services.store
    probe_all(world)
    world.site.route("/api", status=502)
    world.discord.fail_next(503, {"message": "upstream"}, times=20)
    probe_all(world)  # down: the post fails, a retry is planned
    [incident] = incidents(store, "web")
    failed = store.get(f"job:{incident['post_job']}")
    assert failed is not None and failed["payload"]["up"] is False
    world.discord.recover()
    world.site.route("/api", status=200, body="{}")
    probe_all(world)  # back up: that post goes through
    before = len(world.posts(APP_CHANNEL))
    assert "back up" in world.posts(APP_CHANNEL)[-1].body["embeds"][0]["title"]
    assert sweep(world.services, now=failed["retry_at"] + 1) == [incident["post_job"]]
    assert world.services.jobs.drain(10)  # type: ignore[attr-defined]
    assert len(world.posts(APP_CHANNEL)) == before, "no 'is down' after 'is back up'"
    assert store.get(f"job:{incident['post_job']}")["status"] == "done"


def test_concurrent_commits_announce_a_change_once(world: World) -> None:
    """Eight workers see the same outage at once: one change between them."""
    store = world.services.store
    target = Target("web", "frontend", "http://127.0.0.1:9/", APP_CHANNEL)
    commit(store, target, ProbeResult(ok=True, at=100.0, status=200))
    barrier = threading.Barrier(8)
    changes: list[Any] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        barrier.wait(timeout=5)
        change = commit(store, target, ProbeResult(ok=False, at=200.0 + index, status=503))
        with lock:
            changes.append(change)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(changes) == 8
    assert len([c for c in changes if c is not None]) == 1
    state = load_state(store, "web", "frontend")
    assert state is not None and not state.up


def test_a_commit_that_loses_the_race_decides_again(world: World) -> None:
    """Between our read and our write another run commits the same outage: we must not
    announce it a second time (the generation we wanted is taken, we re-read)."""
    store = world.services.store
    target = Target("web", "api", "http://127.0.0.1:9/", APP_CHANNEL)
    commit(store, target, ProbeResult(ok=True, at=100.0, status=200))
    other: list[Any] = []

    class Racing:
        def __init__(self) -> None:
            self.raced = False

        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

        def get(self, key: str) -> Any:
            value = store.get(key)
            if key == keys.probe_state("web", "api") and not self.raced:
                self.raced = True  # the other worker commits right after our read
                other.append(commit(store, target, ProbeResult(ok=False, at=150.0, status=500)))
            return value

    ours = commit(Racing(), target, ProbeResult(ok=False, at=160.0, status=503))  # type: ignore[arg-type]
    assert other[0] is not None and other[0].cause == "HTTP 500"
    assert ours is None
    state = load_state(store, "web", "api")
    assert state == ProbeState(False, 150.0, 160.0, 3, 503, None, "HTTP 500")


# --- one probe ---------------------------------------------------------------------------------


def mock_client(handler: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    ("answers", "ok", "status", "methods"),
    [
        ({"HEAD": 200}, True, 200, ["HEAD"]),
        ({"HEAD": 405, "GET": 200}, True, 200, ["HEAD", "GET"]),
        ({"HEAD": 501, "GET": 503}, False, 503, ["HEAD", "GET"]),
        ({"HEAD": 503}, False, 503, ["HEAD"]),
        ({"HEAD": 404}, False, 404, ["HEAD"]),
        ({"HEAD": 301}, True, 301, ["HEAD"]),  # the mock does not redirect: 3xx is an answer
    ],
)
def test_head_then_get(answers: dict[str, int], ok: bool, status: int, methods: list[str]) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        return httpx.Response(answers[request.method])

    async def go() -> ProbeResult:
        async with mock_client(handler) as client:
            return await probe_url(client, "https://example.com/", production=True)

    result = asyncio.run(go())
    assert (result.ok, result.status, seen) == (ok, status, methods)
    assert result.ms is not None and result.error is None


@pytest.mark.parametrize(
    ("url", "production", "error"),
    [
        ("http://127.0.0.1:9/", True, "refused: probe: only https URLs are allowed"),
        ("https://10.0.0.1/", True, "refused: probe: 10.0.0.1 is not a public address"),
        ("http://127.0.0.1:9/", False, "connection failed"),
    ],
)
def test_refused_and_unreachable(url: str, production: bool, error: str) -> None:
    async def go() -> ProbeResult:
        async with make_client(2.0, production) as client:
            return await probe_url(client, url, production=production, seconds=2.0)

    result = asyncio.run(go())
    assert (result.ok, result.error) == (False, error)


def test_a_slow_site_times_out_within_the_bound(world: World) -> None:
    async def go() -> ProbeResult:
        async with make_client(0.3, False) as client:
            return await probe_url(client, world.site.url + "/slow", production=False, seconds=0.3)

    result = asyncio.run(go())
    assert (result.ok, result.error) == (False, "timed out after 300 ms")
    assert result.ms is not None and result.ms < 2000


def test_production_refuses_a_redirect_into_private_space() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "example.com":
            return httpx.Response(302, headers={"location": "https://192.168.1.1/admin"})
        return httpx.Response(200)

    async def go() -> ProbeResult:
        client = make_client(2.0, True)
        client._transport = httpx.MockTransport(handler)  # the guard hooks stay in place
        async with client:
            return await probe_url(client, "https://example.com/", production=True)

    result = asyncio.run(go())
    assert result.ok is False and result.error is not None
    assert "192.168.1.1 is not a public address" in result.error
