"""One uptime probe: a HEAD (a GET where HEAD is refused), bounded in time, never raising.

HEAD first because an uptime check needs the status, not a 2 MB page every five
minutes; servers that do not implement HEAD (405, 501) get a GET whose body is never
read. The URL passes `http.check_url` first (and the normal form it returns is what
is fetched), and in production every redirect hop does too (`http.public_only`), so a
probe cannot be walked into the VPC by a redirect. Whatever goes wrong, the probe
returns a failed result: one app's URL must never stop the other apps' probes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from orchestrator.http import UPTIME_AGENT, RefusedURL, check_url, new_client
from orchestrator.probes.state import ProbeResult
from orchestrator.text import duration

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 10.0
HEAD_REFUSED = frozenset({405, 501})

ClientFactory = Callable[[float, bool], "httpx.AsyncClient"]


def make_client(timeout: float, production: bool) -> httpx.AsyncClient:
    """The probes' HTTP client: redirects followed (guarded in production), no retries."""
    return new_client(
        timeout=timeout, user_agent=UPTIME_AGENT, follow_redirects=True, guarded=production
    )


async def probe_url(
    client: httpx.AsyncClient,
    url: str,
    *,
    production: bool,
    seconds: float = PROBE_TIMEOUT,
    clock: Callable[[], float] = time.time,
) -> ProbeResult:
    """Probe `url` once; every failure is a result (`ok=False`, `error` says why)."""
    import httpx

    at = clock()
    try:
        url = check_url(url, production=production, what="probe")  # what is judged is fetched
    except RefusedURL as exc:
        return ProbeResult(ok=False, at=at, error=f"refused: {exc}"[:200])
    started = time.perf_counter()
    try:
        async with asyncio.timeout(seconds):  # HEAD and the GET fallback together
            status = await _status(client, "HEAD", url)
            if status in HEAD_REFUSED:
                status = await _status(client, "GET", url)
    except (TimeoutError, httpx.TimeoutException):
        error = f"timed out after {duration(seconds)}"
    except RefusedURL as exc:  # a redirect hop refused by the guard
        error = f"refused: {exc}"[:200]
    except httpx.ConnectError:
        error = "connection failed"
    except httpx.TooManyRedirects:
        error = "too many redirects"
    except httpx.HTTPError as exc:
        error = type(exc).__name__
    except httpx.InvalidURL:  # a redirect to a URL httpx cannot build (not an HTTPError)
        error = "invalid URL"
    except Exception as exc:
        # Anything else building or sending this request (an IDNAError or UnicodeError from
        # a redirect's host, a transport's bug) is this URL's failure, recorded as its
        # result: raised, it would fail the whole run and silence every other target's alert.
        log.warning(
            "probe failed unexpectedly",
            extra={"error": type(exc).__name__, "detail": str(exc)[:200]},
        )
        error = type(exc).__name__
    else:
        ms = round((time.perf_counter() - started) * 1000)
        return ProbeResult(ok=status < 400, at=at, status=status, ms=ms)
    return ProbeResult(
        ok=False, at=at, ms=round((time.perf_counter() - started) * 1000), error=error
    )


async def _status(client: httpx.AsyncClient, method: str, url: str) -> int:
    # Streamed and closed unread: only the status line and headers cross the wire.
    async with client.stream(method, url) as response:
        return response.status_code
