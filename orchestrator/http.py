"""Outbound HTTP: the one place an httpx client is built, and the one address policy.

Every client the product opens (GitHub, Discord, uptime probes, the verifier) comes
from `new_client`, so they share what must not drift apart: the process-wide TLS
context (`tls.client_context`, 50 ms of CPU saved per client), a timeout, a
User-Agent that names us, and one redirect policy (at most `MAX_REDIRECTS` hops,
followed only where the caller asks).

The address policy is here too, because two places apply it and they must agree:
`/config set` validates a URL an admin types (`check_url`, via `App.validate`), and
production fetches check every hop they make, redirects and DNS answers included
(`public_only`, installed by `new_client(guarded=True)` or `guard`). A bot that
fetches any URL it is given would otherwise be a way into the VPC: loopback,
private, link-local and the cloud metadata address are refused, however spelled.

httpx is imported inside the functions that need it: importing this module (say,
for `check_url` while loading the config) costs no HTTP stack.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from orchestrator.tls import client_context

if TYPE_CHECKING:
    import httpx

# What we call ourselves. GitHub asks for a product name (and rejects requests with none);
# fetches of an app's own pages say which part of us is asking, for its access logs.
USER_AGENT = "orchestrator"
UPTIME_AGENT = f"{USER_AGENT}-uptime"
VERIFY_AGENT = f"{USER_AGENT}-verify"

DEFAULT_TIMEOUT = 10.0
# Wherever redirects are followed: enough for http->https->canonical host->path, few
# enough that a redirect loop costs a handful of requests, not twenty.
MAX_REDIRECTS = 5


class RefusedURL(ValueError):
    """A URL (or a hop, or a DNS answer) the address policy does not allow."""


# --- the address policy ------------------------------------------------------------------------


def check_url(url: str, *, production: bool, what: str = "url") -> str:
    """https only (plain http for a loopback dev server outside production); in production
    no loopback, private, link-local or reserved hosts either, however the address is
    spelled (`127.1`, `2130706433` and `0x7f000001` all reach 127.0.0.1)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        raise RefusedURL(f"{what}: no host in {url!r}")
    # Plain http only for a local development server, and never in production.
    local = host in ("localhost", "127.0.0.1", "::1")
    if parts.scheme != "https" and (production or parts.scheme != "http" or not local):
        raise RefusedURL(f"{what}: only https URLs are allowed")
    if parts.username or parts.password:
        raise RefusedURL(f"{what}: credentials in URLs are not allowed")
    if production:
        if host == "localhost" or host.endswith((".localhost", ".internal", ".local")):
            raise RefusedURL(f"{what}: {host} is not a public host")
        address = literal_address(host)
        if address is not None and not address.is_global:
            raise RefusedURL(f"{what}: {host} is not a public address")
    return url


def literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host names literally, in any spelling the resolver accepts; None for
    a name. `inet_aton` is the parser behind getaddrinfo's numeric IPv4 forms (shortened,
    decimal, octal, hex), so what it accepts is exactly what a connection would reach."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if bare.isascii() and all(c.isalnum() or c == "." for c in bare):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None
    return None


async def _getaddrinfo(host: str, port: int) -> list[str]:
    import asyncio

    loop = asyncio.get_running_loop()
    answers = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(sockaddr[0]) for *_, sockaddr in answers]


# The resolver `public_only` asks; a seam, so tests never send a DNS query.
resolve: Callable[[str, int], Awaitable[list[str]]] = _getaddrinfo


async def public_only(request: httpx.Request) -> None:
    """httpx request hook for production fetches (probes, the verifier): every hop,
    redirects included, must be a public https URL whose name resolves to public
    addresses only, so neither a typed URL nor a DNS answer walks a fetch into the VPC.

    The connection resolves the name again, so a rebinding DNS server (public answer,
    then private, TTL 0) can still slip between the two lookups; what it would reach is
    an https handshake that must verify the name's certificate, and the answer shown is
    only a status line. docs/security.md says so."""
    url = str(request.url)
    check_url(url, production=True, what="probe")
    host = request.url.host
    if literal_address(host) is not None:
        return  # a literal: check_url has judged it
    try:
        addresses = await resolve(host, request.url.port or 443)
    except OSError:
        # Refused rather than left to the connection: an answer we could not check is not
        # one to connect on (the connection would resolve again, and might get one).
        raise RefusedURL(f"probe: {host} does not resolve") from None
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if not address.is_global:
            raise RefusedURL(f"probe: {host} resolves to a non-public address")


def guard(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Put `public_only` in front of every request `client` sends, redirect hops included.

    For a client built elsewhere (a test's injected transport); ours get it from
    `new_client(guarded=True)`."""
    hooks = client.event_hooks
    hooks.setdefault("request", []).append(public_only)
    client.event_hooks = hooks
    return client


# --- the client factory ------------------------------------------------------------------------


def new_client(
    *,
    timeout: float = DEFAULT_TIMEOUT,
    user_agent: str = USER_AGENT,
    base_url: str = "",
    headers: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    follow_redirects: bool = False,
    guarded: bool = False,
) -> httpx.AsyncClient:
    """An httpx client with our TLS context, timeout, User-Agent and redirect policy.

    `follow_redirects` is off by default: API clients (GitHub, Discord) must see a 3xx
    rather than carry credentials to wherever it points, and ask per request when they
    do want one followed. `guarded` applies the production address policy to every
    request and hop (`public_only`)."""
    import httpx

    client = httpx.AsyncClient(
        base_url=base_url,
        transport=transport,
        verify=client_context(),
        timeout=httpx.Timeout(timeout),
        headers={**(headers or {}), "User-Agent": user_agent},
        follow_redirects=follow_redirects,
        max_redirects=MAX_REDIRECTS,
    )
    return guard(client) if guarded else client
