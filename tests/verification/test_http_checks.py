"""The verifier's HTTP checks against an in-process transport: no sockets, no DNS."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from orchestrator.http import VERIFY_AGENT, public_only
from orchestrator.verification.budget import Deadline
from orchestrator.verification.http_checks import open_client, probe


def transport(seen: list[httpx.Request], *statuses: int) -> httpx.MockTransport:
    """Answers with `statuses` in turn (the last one repeats); /inside redirects to 10.0.0.5."""
    left = list(statuses)

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/inside":
            return httpx.Response(302, headers={"location": "https://10.0.0.5/"})
        status = left.pop(0) if len(left) > 1 else left[0]
        return httpx.Response(status, headers={"Cache-Control": "no-cache", "X-Other": "y"})

    return httpx.MockTransport(answer)


def test_our_client_follows_redirects_as_the_verifier_and_is_guarded_in_production() -> None:
    async def check() -> None:
        async with open_client(2.0, production=True) as client:
            assert client.headers["user-agent"] == VERIFY_AGENT
            assert client.follow_redirects is True
            assert client.event_hooks["request"] == [public_only]
        async with open_client(2.0, production=False) as client:
            assert not client.event_hooks["request"]

    asyncio.run(check())


@pytest.mark.parametrize("production", [True, False])
def test_an_injected_client_is_guarded_in_production_only(production: bool) -> None:
    seen: list[httpx.Request] = []

    def factory(timeout: float) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=transport(seen, 200), follow_redirects=True)

    async def check() -> str | None:
        async with open_client(2.0, production=production, factory=factory) as client:
            page, _, _ = await probe(client, "https://web.example.com/inside", Deadline(2.0), 1.0)
        return page.error

    error = asyncio.run(check())
    if production:
        assert error == "refused: probe: 10.0.0.5 is not a public address"
        assert [r.url.host for r in seen] == ["web.example.com"]
    else:
        assert error is None and [r.url.host for r in seen] == ["web.example.com", "10.0.0.5"]


def test_a_5xx_is_asked_once_more_and_only_evidence_headers_are_kept() -> None:
    seen: list[httpx.Request] = []

    async def check() -> None:
        async with httpx.AsyncClient(transport=transport(seen, 503, 200)) as client:
            page, body, _ = await probe(client, "https://web.example.com/", Deadline(2.0), 1.0)
        assert (page.status, page.attempts, page.https, body) == (200, 2, True, b"")
        assert page.headers == {"cache-control": "no-cache"}

    asyncio.run(check())
    assert len(seen) == 2


def test_no_budget_left_means_not_tried() -> None:
    async def check() -> None:
        async with httpx.AsyncClient(transport=transport([], 200)) as client:
            page, _, _ = await probe(client, "https://web.example.com/", Deadline(0.0), 1.0)
        assert page.error == "not tried: the time budget ran out" and page.status is None

    asyncio.run(check())
