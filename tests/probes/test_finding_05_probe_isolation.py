"""Finding 5 (issue 14): one bad URL must not stop every uptime probe.

Before the fix `probe_url` let anything but `httpx.HTTPError` escape (`httpx.InvalidURL`
for a Unicode host httpx cannot encode, `IDNAError` for a redirect to a bad A-label) and
`run_probes` gathered without `return_exceptions`, so one app's URL failed the whole
`probes.run` job and no other app's down alert was ever posted. Now each probe fails
alone, recorded as that URL's error.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

import orchestrator.probes.run
from orchestrator.http import UPTIME_AGENT, new_client
from orchestrator.probes.http import make_client, probe_url
from orchestrator.probes.run import PROBE_JOB, load_state, run_probes
from orchestrator.probes.state import ProbeResult, Target
from orchestrator.store import keys
from tests.support.world import APP_CHANNEL, OPS_CHANNEL, World

BAD_A_LABEL = "https://xn--zz-.example/"  # httpx raises IDNAError building the redirect
PERCENT_NON_ASCII = "https://%E2%91%A0%E2%91%A1%E2%91%A6.0.0.1:9/"  # ①②⑦.0.0.1, encoded


class LoopbackOnly(httpx.AsyncBaseTransport):
    """The real transport, for 127.0.0.1 only: no test sends a DNS query or leaves the host
    (a redirect to an odd name fails here as a connection would, a ConnectError)."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != "127.0.0.1":
            raise httpx.ConnectError(f"test: {request.url.host!r} is not loopback")
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def loopback_client(timeout: float, production: bool) -> httpx.AsyncClient:
    return new_client(
        timeout=timeout,
        user_agent=UPTIME_AGENT,
        follow_redirects=True,
        guarded=production,
        transport=LoopbackOnly(),
    )


def run_job(world: World) -> dict[str, Any]:
    """One `probes.run` job through the job runner, as the schedule sends it; its record."""
    job = world.services.jobs.dispatch(PROBE_JOB, {})
    assert world.services.jobs.drain(20)  # type: ignore[attr-defined]
    record = world.services.store.get(keys.job(job.id))
    assert record is not None
    return record


def test_finding_05_a_poisonous_url_fails_alone_and_other_alerts_are_posted(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = world.site
    site.route("/to-bad-label", status=302, headers={"location": BAD_A_LABEL})
    site.route("/to-percent", status=302, headers={"location": PERCENT_NON_ASCII})
    world.config.write_text(
        '[[apps]]\nname = "web"\nrepo = "acme/web"\nworkflow = "deploy.yml"\n'
        f'frontend_url = "{site.url}/health"\napi_health_url = "{site.url}/api"\n'
        f'channel_id = "{APP_CHANNEL}"\n'
        '[[apps]]\nname = "hop"\nrepo = "acme/hop"\nworkflow = "deploy.yml"\n'
        f'frontend_url = "{site.url}/to-bad-label"\napi_health_url = "{site.url}/to-percent"\n'
        f'channel_id = "{OPS_CHANNEL}"\n'
        '[[apps]]\nname = "uni"\nrepo = "acme/uni"\nworkflow = "deploy.yml"\n'
        f'channel_id = "{OPS_CHANNEL}"\n'
    )
    # A Unicode host as a stored `/config set` value (saved before this fix, so never
    # normalised): runtime overrides are applied as stored.
    world.services.store.put(keys.app_override("uni"), {"frontend_url": "https://①②⑦.0.0.1:9/"})
    monkeypatch.setattr(orchestrator.probes.run, "make_client", loopback_client)

    first = run_job(world)
    assert first["status"] == "done", first.get("error")
    store = world.services.store
    for app, target in (("uni", "frontend"), ("hop", "frontend"), ("hop", "api")):
        state = load_state(store, app, target)
        assert state is not None and not state.up, (app, target)
        assert state.cause, (app, target)  # recorded as that URL's error
    web = load_state(store, "web", "api")
    assert web is not None and web.up

    site.route("/api", status=503, body="down")
    second = run_job(world)
    assert second["status"] == "done", second.get("error")
    [alert] = world.posts(APP_CHANNEL)
    assert alert.body["embeds"][0]["title"] == "❌ web · api is down"


def test_finding_05_every_exception_is_that_probes_result() -> None:
    """Whatever building or sending the request raises, the probe returns a failure."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/bad-label":
            return httpx.Response(302, headers={"location": BAD_A_LABEL})
        raise RuntimeError("a transport bug")

    async def go(url: str) -> ProbeResult:
        client = httpx.AsyncClient(transport=httpx.MockTransport(handler), follow_redirects=True)
        async with client:
            return await probe_url(client, url, production=False)

    for url, error in (
        ("https://example.com/bad-label", "IDNAError"),
        ("https://example.com/bug", "RuntimeError"),
        ("https://example.com:99999/", "refused: probe: not a valid URL"),
    ):
        result = asyncio.run(go(url))
        assert result.ok is False and result.error is not None, url
        assert result.error.startswith(error), result.error


def test_finding_05_a_probe_that_raises_after_all_does_not_stop_the_run(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second wall: even if `probe_url` raised, the other targets are recorded and their
    changes announced; the raising one is recorded as its own error."""
    real = probe_url
    site = world.site
    bad = Target("bad", "frontend", "https://raises.example/", OPS_CHANNEL)
    good = Target("web", "api", f"{site.url}/api", APP_CHANNEL)

    async def flaky(client: httpx.AsyncClient, url: str, **kwargs: Any) -> ProbeResult:
        if url == bad.url:
            raise RuntimeError("boom")
        return await real(client, url, **kwargs)

    monkeypatch.setattr(orchestrator.probes.run, "probe_url", flaky)
    asyncio.run(run_probes(world.services, seconds=5.0, only=[good, bad]))
    site.route("/api", status=503, body="down")
    observed = asyncio.run(run_probes(world.services, seconds=5.0, only=[good, bad]))
    by_app = {o.target.app: o for o in observed}
    assert by_app["bad"].result == ProbeResult(
        ok=False, at=by_app["bad"].result.at, error="RuntimeError"
    )
    assert by_app["web"].change is not None and by_app["web"].announced
    [alert] = world.posts(APP_CHANNEL)
    assert alert.body["embeds"][0]["title"] == "❌ web · api is down"


def test_finding_05_a_redirect_to_a_percent_encoded_host_is_refused_in_production() -> None:
    """The guard refuses the hop (as `/config set` refuses the URL): that probe's error."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "example.com":
            return httpx.Response(302, headers={"location": PERCENT_NON_ASCII})
        return httpx.Response(200)

    async def go() -> ProbeResult:
        client = make_client(2.0, True)
        client._transport = httpx.MockTransport(handler)  # the guard hooks stay in place
        async with client:
            return await probe_url(client, "https://example.com/", production=True)

    result = asyncio.run(go())
    assert result.ok is False and result.error is not None
    assert result.error.startswith("refused: probe:") and "percent-encoded" in result.error
