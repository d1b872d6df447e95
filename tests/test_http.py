"""Outbound HTTP: the address policy (typed URLs and every fetch hop) and the one client factory."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest

import orchestrator.http
from orchestrator import tls
from orchestrator.http import (
    MAX_REDIRECTS,
    USER_AGENT,
    RefusedURL,
    check_url,
    guard,
    new_blocking_client,
    new_client,
    public_only,
)

# --- the address policy ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "production", "ok"),
    [
        ("https://web.example.com", True, True),
        ("http://web.example.com", True, False),
        ("http://127.0.0.1:8080", False, True),
        ("https://127.0.0.1", True, False),
        ("https://10.0.0.5/health", True, False),
        ("https://169.254.169.254/latest", True, False),
        ("https://[::1]/", True, False),
        ("https://localhost/", True, False),
        ("https://db.internal/", True, False),
        ("https://user:pw@example.com/", True, False),
        ("ftp://example.com", False, False),
        ("https://", True, False),
        ("http://web.example.com", False, False),
        ("https://8.8.8.8/", True, True),
        # Other spellings of loopback and the metadata address (inet_aton's forms).
        ("https://127.1/", True, False),
        ("https://2130706433/", True, False),
        ("https://0x7f000001/", True, False),
        ("https://0177.0.0.1/", True, False),
        ("https://2852039166/latest", True, False),
        ("https://[::ffff:127.0.0.1]/", True, False),
        # 8.8.8.8, decimal: public, and returned as the address it reaches.
        ("https://134744072/", True, "https://8.8.8.8/"),
    ],
)
def test_check_url(url: str, production: bool, ok: bool | str) -> None:
    if ok:
        assert check_url(url, production=production) == (url if ok is True else ok)
    else:
        with pytest.raises(RefusedURL):
            check_url(url, production=production)


def test_production_fetches_refuse_names_that_resolve_inside(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A public-looking name whose DNS answer is private is refused at fetch time."""
    answers = {
        "web.example.com": ["93.184.216.34"],
        "inside.example.com": ["10.1.2.3"],
        "mixed.example.com": ["93.184.216.34", "169.254.169.254"],
        "v6.example.com": ["fe80::1%eth0"],
    }
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        if host not in answers:
            raise socket.gaierror("no such name")
        return answers[host]

    monkeypatch.setattr(orchestrator.http, "resolve", resolve)

    def fetch(url: str) -> None:
        asyncio.run(public_only(httpx.Request("GET", url)))

    fetch("https://web.example.com/health")
    with pytest.raises(RefusedURL, match="does not resolve"):
        fetch("https://unknown.example.com/")  # nothing checked, nothing connected
    for inside in ("inside", "mixed", "v6"):
        with pytest.raises(RefusedURL, match="non-public"):
            fetch(f"https://{inside}.example.com/")
    with pytest.raises(RefusedURL, match="not a public address"):
        fetch("https://2130706433/")
    with pytest.raises(RefusedURL, match="only https"):
        fetch("http://web.example.com/")
    assert "inside.example.com" in asked and "2130706433" not in asked


# --- the client factory ------------------------------------------------------------------------


def serve(log: list[httpx.Request]) -> httpx.MockTransport:
    """Redirects /hop/N to /hop/N-1, and /hop/0 to the metadata address; logs each request."""

    def answer(request: httpx.Request) -> httpx.Response:
        log.append(request)
        path = request.url.path
        if path.startswith("/hop/"):
            left = int(path.removeprefix("/hop/"))
            target = f"/hop/{left - 1}" if left else "https://169.254.169.254/latest"
            return httpx.Response(302, headers={"location": target})
        return httpx.Response(200, text="ok")

    return httpx.MockTransport(answer)


def test_new_client_carries_our_context_timeout_agent_and_redirect_policy() -> None:
    async def build() -> None:
        async with new_client(timeout=3.0, headers={"Accept": "application/json"}) as client:
            assert client.timeout == httpx.Timeout(3.0)
            assert client.headers["user-agent"] == USER_AGENT
            assert client.headers["accept"] == "application/json"
            assert client.follow_redirects is False  # API clients see a 3xx, not its target
            assert client.max_redirects == MAX_REDIRECTS
            assert not client.event_hooks["request"]
        async with new_client(user_agent="x-agent", follow_redirects=True, guarded=True) as client:
            assert client.headers["user-agent"] == "x-agent"
            assert client.follow_redirects is True
            assert client.event_hooks["request"] == [public_only]

    asyncio.run(build())


def test_new_client_uses_the_shared_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    original = httpx.AsyncClient.__init__

    def spy(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        seen.append(kwargs.get("verify"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", spy)
    asyncio.run(new_client().aclose())
    assert seen == [tls.client_context()]


def test_the_blocking_client_shares_context_agent_and_never_follows_redirects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """For the AWS client: a signed request must not be replayed wherever a 3xx points."""
    seen: list[Any] = []
    original = httpx.Client.__init__

    def spy(self: httpx.Client, *args: Any, **kwargs: Any) -> None:
        seen.append(kwargs.get("verify"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(httpx.Client, "__init__", spy)
    log: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        log.append(request)
        return httpx.Response(302, headers={"location": "https://elsewhere.example/"})

    transport = httpx.MockTransport(answer)
    with new_blocking_client(timeout=2.0, connect_timeout=0.5, transport=transport) as client:
        assert client.timeout == httpx.Timeout(2.0, connect=0.5)
        assert client.headers["user-agent"] == USER_AGENT
        assert client.get("https://dynamodb.eu-west-1.amazonaws.com/").status_code == 302
    assert len(log) == 1
    assert seen == [tls.client_context()]
    with new_blocking_client(timeout=3.0) as client:
        assert client.timeout == httpx.Timeout(3.0), "the connect timeout defaults to it"


def test_redirects_stop_after_the_policys_hops() -> None:
    log: list[httpx.Request] = []

    async def fetch(path: str) -> int:
        transport = serve(log)
        async with new_client(transport=transport, follow_redirects=True) as client:
            return (await client.get(f"https://web.example.com{path}")).status_code

    assert asyncio.run(fetch(f"/hop/{MAX_REDIRECTS - 2}")) == 200
    with pytest.raises(httpx.TooManyRedirects):
        asyncio.run(fetch(f"/hop/{MAX_REDIRECTS + 1}"))


def test_a_guarded_client_refuses_a_redirect_into_the_vpc() -> None:
    log: list[httpx.Request] = []

    async def fetch(client: httpx.AsyncClient) -> None:
        async with client:
            await client.get("https://web.example.com/hop/1")

    with pytest.raises(RefusedURL, match="not a public address"):
        asyncio.run(fetch(new_client(transport=serve(log), follow_redirects=True, guarded=True)))
    assert [r.url.host for r in log] == ["web.example.com", "web.example.com"]  # never sent
    # `guard` gives a client built elsewhere (a test's transport) the same hook.
    log.clear()
    injected = guard(httpx.AsyncClient(transport=serve(log), follow_redirects=True))
    with pytest.raises(RefusedURL, match="not a public address"):
        asyncio.run(fetch(injected))
    assert len(log) == 2
