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
private, link-local, multicast and the cloud metadata address are refused, however
spelled (numeric forms, Unicode digits, NAT64, 6to4, IPv4-compatible forms). Hosts are
judged in one normal form (`normalise_host`), and `check_url` returns the URL in it,
so what is stored and fetched is what was judged.

httpx is imported inside the functions that need it: importing this module (say,
for `check_url` while loading the config) costs no HTTP stack.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

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

# One DNS label once normalised: letters, digits, hyphens inside, underscores (DNS allows them,
# and so do httpx and browsers). 63 characters at most (RFC 1035).
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_NUMERIC_LABEL = re.compile(r"(?:[0-9]+|0x[0-9a-f]*)")
_MAX_NAME = 253

# IPv6 ranges refused whatever they carry, so the verdict never depends on the Python
# version (3.13 judges IPv4-mapped addresses by their IPv4; 3.11 calls 64:ff9b:1::/48 global).
_NEVER_PUBLIC_V6 = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "::ffff:0:0/96",  # IPv4-mapped: a URL names the IPv4 address itself, never this
        "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215): an operator's own translator, inside
        "2001::/32",  # Teredo (RFC 4380): a tunnel, not a place a public site lives
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # well-known prefix: the IPv4 in the low 32 bits
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated (RFC 4291): likewise

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def check_url(url: str, *, production: bool, what: str = "url") -> str:
    """The URL in normal form, or RefusedURL. https only (plain http for a loopback dev
    server outside production); in production no loopback, private, link-local, multicast
    or reserved hosts either, however the address is spelled (`127.1`, `2130706433`,
    `0x7f000001`, `①②⑦.0.0.1`, `[::7f00:1]`, `[64:ff9b::7f00:1]` all reach 127.0.0.1).

    The host comes back normalised (`normalise_host`: IDNA, lower case, no trailing dot,
    numeric forms as the address they reach), the rest as given: callers store and fetch
    the returned URL, so what was judged is what is fetched."""
    try:
        parts = urlsplit(url)
        port = parts.port
        raw_host = parts.hostname or ""
    except ValueError as exc:  # a bad port, bracket or character (urlsplit's own checks)
        raise RefusedURL(f"{what}: not a valid URL ({exc})") from None
    if not raw_host:
        raise RefusedURL(f"{what}: no host in {url!r}")
    try:
        host = normalise_host(raw_host)
    except RefusedURL as exc:
        raise RefusedURL(f"{what}: {exc}") from None
    # Plain http only for a local development server, and never in production.
    local = host in ("localhost", "127.0.0.1", "::1")
    if parts.scheme != "https" and (production or parts.scheme != "http" or not local):
        raise RefusedURL(f"{what}: only https URLs are allowed")
    if parts.username is not None or parts.password is not None:
        raise RefusedURL(f"{what}: credentials in URLs are not allowed")
    if production:
        if host == "localhost" or host.endswith((".localhost", ".internal", ".local")):
            raise RefusedURL(f"{what}: {host} is not a public host")
        address = literal_address(host)
        if address is not None and not is_public_address(address):
            raise RefusedURL(f"{what}: {host} is not a public address")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def normalise_host(host: str) -> str:
    """The one spelling of a URL host that the policy judges and the fetch connects to;
    RefusedURL for a host with none.

    Names: UTS 46 mapping and IDNA 2008 for non-ASCII labels (what browsers do, and the
    `idna` package httpx uses: `bücher.example` -> `xn--bcher-kva.example`, `①②⑦.0.0.1` ->
    `127.0.0.1`), lower case, one trailing dot dropped (`example.com.` is `example.com`),
    every `xn--` label valid IDNA (httpx raises on one that is not), letters, digits,
    hyphens and underscores only. Addresses: the canonical text of the address reached,
    however spelled (`127.1`, `0x7f000001`, `[::FFFF:127.0.0.1]`). Percent-encoding is
    refused outright: resolvers do not decode it, so whatever it means to us is not what
    a connection would ask for."""
    if "%" in host:
        raise RefusedURL(f"{host!r}: percent-encoded or zoned hosts are not allowed")
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if ":" in bare:
        try:
            return str(ipaddress.IPv6Address(bare))
        except ValueError:
            raise RefusedURL(f"{host!r} is not a valid IPv6 address") from None
    labels = _labels(bare, host)
    name = ".".join(labels)
    if not labels or len(name) > _MAX_NAME:
        raise RefusedURL(f"{host!r} is not a valid host name")
    address = literal_address(name)
    if address is not None:
        return str(address)
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        # A name ending in a number is an IPv4 address or nothing (URL standard, "ends in a
        # number"); one inet_aton refuses (`999.0.0.1`) would be sent to DNS as a name.
        raise RefusedURL(f"{host!r} is not a valid IPv4 address")
    return name


def _labels(name: str, host: str) -> list[str]:
    """The ASCII labels of `name` (one trailing dot dropped), each checked; `host` (as
    typed) for the error."""
    if not name.isascii():
        import idna

        try:  # maps full-width forms, dots and digits, case, ignorable characters
            name = idna.uts46_remap(name, std3_rules=False, transitional=False)
        except (idna.IDNAError, ValueError):
            raise RefusedURL(f"{host!r} is not a valid host name") from None
    name = name.removesuffix(".")  # `example.com.` is `example.com`; `example.com..` is not
    labels = []
    for text in name.split("."):
        label = text.lower()
        if not label.isascii() or label.startswith("xn--"):
            import idna

            try:  # to an A-label; for an A-label, a round trip proving it is one
                label = idna.alabel(idna.ulabel(label)).decode("ascii")
            except (idna.IDNAError, UnicodeError, ValueError):
                raise RefusedURL(f"{host!r} is not a valid host name") from None
            if text.lower().startswith("xn--") and label != text.lower():
                raise RefusedURL(f"{host!r} is not a valid host name")
        if not _LABEL.fullmatch(label):
            raise RefusedURL(f"{host!r} is not a valid host name")
        labels.append(label)
    return labels


def literal_address(host: str) -> Address | None:
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


def is_public_address(address: Address) -> bool:
    """Whether a fetch may connect to `address`: a globally reachable unicast address,
    and for an IPv6 address that carries an IPv4 one (NAT64, 6to4, IPv4-compatible,
    Teredo), a public IPv4 address too, since that is where the packets end up.

    `ipaddress.is_global` alone is not enough on 3.11/3.12: it calls multicast,
    `::7f00:1` (IPv4-compatible loopback), `64:ff9b::a9fe:a9fe` (NAT64 to the metadata
    address) and `2002:7f00:1::1` (6to4 from loopback) global."""
    if address.is_multicast or not address.is_global:
        return False
    if isinstance(address, ipaddress.IPv4Address):
        return True
    if address.scope_id is not None or any(address in net for net in _NEVER_PUBLIC_V6):
        return False
    return all(is_public_address(inner) for inner in embedded_ipv4(address))


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 address carries: where a translator or tunnel sends it."""
    if address.ipv4_mapped is not None:
        return (address.ipv4_mapped,)
    if address.teredo is not None:
        return address.teredo  # (server, client)
    if address.sixtofour is not None:
        return (address.sixtofour,)
    if address in _NAT64 or address in _IPV4_COMPATIBLE:
        return (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF),)
    return ()


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
    addresses only (`is_public_address`, as for a literal), so neither a typed URL nor a
    DNS answer walks a fetch into the VPC.

    The name resolved is the one the connection will resolve (the hop's host as httpx
    sends it), after `check_url` has judged its normal form: a trailing dot or a numeric
    spelling cannot make the two differ.

    The connection resolves the name again, so a rebinding DNS server (public answer,
    then private, TTL 0) can still slip between the two lookups; what it would reach is
    an https handshake that must verify the name's certificate, and the answer shown is
    only a status line. docs/security.md says so."""
    check_url(str(request.url), production=True, what="probe")
    host = request.url.raw_host.decode("ascii", errors="replace")
    if literal_address(host) is not None:
        return  # a literal: check_url has judged it
    try:
        addresses = await resolve(host, request.url.port or 443)
    except (OSError, UnicodeError):
        # Refused rather than left to the connection: an answer we could not check is not
        # one to connect on (the connection would resolve again, and might get one).
        raise RefusedURL(f"probe: {host} does not resolve") from None
    for text in addresses:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            raise RefusedURL(f"probe: {host} resolves to {text!r}, not an address") from None
        if not is_public_address(address):
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


def new_blocking_client(
    *,
    timeout: float = DEFAULT_TIMEOUT,
    connect_timeout: float | None = None,
    user_agent: str = USER_AGENT,
    headers: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    max_connections: int = 16,
) -> httpx.Client:
    """A blocking httpx client with the same TLS context, User-Agent and (no) redirects.

    For callers whose own interface is synchronous: today the container-credentials fetch
    (`orchestrator.aws.credentials`); the AWS client itself (`orchestrator.aws.api`, behind
    the `Store` and the Lambda job dispatcher) sends over http.client (`aws.wire`), not this.
    It talks only to endpoints the operator configured (AWS's, or a stand-in on 127.0.0.1 in
    tests), never to a URL a user typed, so it is not `guarded`; redirects are never followed
    (a request carrying credentials must not be replayed elsewhere). `connect_timeout` defaults to
    `timeout`."""
    import httpx

    return httpx.Client(
        transport=transport,
        verify=client_context(),
        timeout=httpx.Timeout(
            timeout, connect=timeout if connect_timeout is None else connect_timeout
        ),
        headers={**(headers or {}), "User-Agent": user_agent},
        follow_redirects=False,
        limits=httpx.Limits(max_connections=max_connections),
    )
