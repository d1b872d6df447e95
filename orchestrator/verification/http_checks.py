"""The verifier's HTTP checks: the app's frontend page and its API, each as a fact.

`probe` GETs one URL within the check timeout and what is left of the budget,
again once after a connection error, timeout or 5xx if time remains, and never
raises: a page that does not answer is an `HttpProbe.error`. Bodies are read up to
`MAX_PAGE_BYTES`, enough for a version marker, not a reason to download a video.
In production the client applies the address policy to every hop
(`orchestrator.http.public_only`), so a redirect cannot walk a check into the VPC.

httpx is imported inside the functions that use it: importing this module costs
no HTTP stack.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from orchestrator.http import VERIFY_AGENT, RefusedURL, guard, new_client
from orchestrator.text import duration
from orchestrator.verification.budget import Deadline
from orchestrator.verification.facts import HttpProbe, VersionProbe, find_marker
from orchestrator.verification.parse import decode_body, kept_headers, version_from_json

if TYPE_CHECKING:
    import httpx

    from orchestrator.apps import App
    from orchestrator.clients import Clients

HttpClientFactory = Callable[[float], "httpx.AsyncClient"]

MAX_PAGE_BYTES = 512 * 1024
RETRY_PAUSE = 0.1


def open_client(
    timeout: float, *, production: bool, factory: HttpClientFactory | None = None
) -> httpx.AsyncClient:
    """The checks' client: redirects followed, and guarded in production, injected or not."""
    if factory is None:
        return new_client(
            timeout=timeout, user_agent=VERIFY_AGENT, follow_redirects=True, guarded=production
        )
    client = factory(timeout)
    return guard(client) if production else client


def _plural_attempts(attempts: int) -> str:
    return f"{attempts} attempt{'s' if attempts != 1 else ''}"


def _transport_text(exc: Exception) -> str:
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "connection failed"
    if isinstance(exc, httpx.TooManyRedirects):
        return "too many redirects"
    return type(exc).__name__


async def _fetch(
    client: httpx.AsyncClient, url: str, max_bytes: int
) -> tuple[int, dict[str, str], bytes, bool, str, str | None]:
    async with client.stream("GET", url) as response:
        buffer = bytearray()
        truncated = False
        async for chunk in response.aiter_bytes():
            buffer += chunk
            if len(buffer) > max_bytes:
                del buffer[max_bytes:]
                truncated = True
                break
        return (
            response.status_code,
            kept_headers(response.headers),
            bytes(buffer),
            truncated,
            str(response.url),
            response.charset_encoding,
        )


async def probe(
    client: httpx.AsyncClient,
    url: str,
    deadline: Deadline,
    check_timeout: float,
    *,
    max_bytes: int = MAX_PAGE_BYTES,
) -> tuple[HttpProbe, bytes, str | None]:
    """GET `url` once, again after a connection error, timeout or 5xx if time is left.

    Returns the probe, the (capped) body and its declared charset.
    """
    import httpx

    https = urlsplit(url).scheme == "https"
    attempts = 0
    last_error = ""
    while True:
        attempts += 1
        seconds = deadline.bound(check_timeout)
        if seconds <= 0:
            error = "not tried: the time budget ran out"
            if attempts > 1:
                error = f"{last_error} ({_plural_attempts(attempts - 1)})"
            return (
                HttpProbe(url, error=error, attempts=max(1, attempts - 1), https=https),
                b"",
                None,
            )
        started = time.perf_counter()
        try:
            status, headers, body, truncated, final_url, charset = await asyncio.wait_for(
                _fetch(client, url, max_bytes), timeout=seconds
            )
        except (TimeoutError, httpx.TimeoutException):  # ours or httpx's: same bound
            last_error = f"timed out after {duration(seconds)}"
        except RefusedURL as exc:  # the address policy refused this URL or a hop
            return (
                HttpProbe(url, error=f"refused: {exc}", attempts=attempts, https=https),
                b"",
                None,
            )
        except httpx.TransportError as exc:
            last_error = _transport_text(exc)
        except httpx.HTTPError as exc:  # e.g. too many redirects: retrying will not help
            error = _transport_text(exc)
            return HttpProbe(url, error=error, attempts=attempts, https=https), b"", None
        else:
            elapsed_ms = round((time.perf_counter() - started) * 1000)
            if status >= 500 and attempts < 2 and deadline.remaining() > RETRY_PAUSE:
                await asyncio.sleep(RETRY_PAUSE)
                continue
            result = HttpProbe(
                url=url,
                status=status,
                elapsed_ms=elapsed_ms,
                headers=headers,
                attempts=attempts,
                https=urlsplit(final_url).scheme == "https",
                final_url=final_url,
                body_bytes=len(body),
                truncated=truncated,
            )
            return result, body, charset
        if attempts >= 2 or deadline.remaining() <= RETRY_PAUSE:
            error = f"{last_error} ({_plural_attempts(attempts)})"
            return HttpProbe(url, error=error, attempts=attempts, https=https), b"", None
        await asyncio.sleep(RETRY_PAUSE)


async def frontend_check(
    client: httpx.AsyncClient, app: App, deadline: Deadline, check_timeout: float
) -> tuple[HttpProbe | None, VersionProbe | None]:
    """The frontend page, and the version marker it carries if the app says where."""
    if not app.frontend_url:
        return None, None
    page, body, charset = await probe(client, app.frontend_url, deadline, check_timeout)
    if not app.frontend_version_pattern or not page.ok:
        return page, None
    found = find_marker(decode_body(body, charset), app.frontend_version_pattern)
    problem = None
    if found is None:
        problem = "no version marker in the page"
        if page.truncated:
            problem += f" (first {MAX_PAGE_BYTES // 1024} KB)"
    return page, VersionProbe(source="frontend page", found=found, problem=problem)


async def api_check(
    client: httpx.AsyncClient, app: App, deadline: Deadline, check_timeout: float
) -> tuple[HttpProbe | None, VersionProbe | None]:
    """The API's health endpoint and the version it reports (one request if one URL)."""
    health: HttpProbe | None = None
    health_body = b""
    if app.api_health_url:
        health, health_body, _ = await probe(client, app.api_health_url, deadline, check_timeout)
    if not app.version_url:
        return health, None
    if health is not None and app.version_url == app.api_health_url:
        page, body = health, health_body  # one endpoint answering both questions
    else:
        page, body, _ = await probe(client, app.version_url, deadline, check_timeout)
    return health, version_from_json(body, app.version_field, app.version_url, page)


async def deployed_version(
    app: App, services: Clients, *, budget: float = 5.0, check_timeout: float = 4.0
) -> str | None:
    """Only the version the app's API reports (for `/release`): one bounded request."""
    if not app.version_url:
        return None
    deadline = Deadline(budget)
    client = open_client(check_timeout, production=services.settings.is_prod)
    try:
        page, body, _ = await probe(client, app.version_url, deadline, check_timeout)
    except Exception:  # an unreachable endpoint means "unknown", which the caller handles
        return None
    finally:
        await client.aclose()
    return version_from_json(body, app.version_field, app.version_url, page).found
