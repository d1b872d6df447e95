"""AWS Signature Version 4, as a pure function: request in, headers to send out.

Why our own: the request path talks to two AWS APIs (DynamoDB's item operations, Lambda's
async self-invoke), and boto3 costs a cold Lambda container about 250 ms to import and
100 ms more to build a client, most of a deferred command's first answer. Signing is a
few HMACs over a canonical form of the request; `orchestrator.aws.api` sends what this
returns (over `http.client`: `aws.wire`). No I/O and no clock here (the caller passes
`now`), so it is tested against botocore's own signer and AWS's published test suite.

What is signed, as botocore signs it for every service but S3: the method; the path with
dot segments and repeated slashes removed, then percent-encoded once more (services other
than S3 expect the already-encoded path encoded again); the query pairs, each name and
value percent-encoded (RFC 3986 unreserved characters kept), sorted; every header handed
in except the hop-by-hop and tracing ones a proxy may change, plus `host` from the URL
(default port dropped), `x-amz-date` and the session token; the SHA-256 of the body.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

# Never signed: a proxy or the HTTP stack may add, drop or rewrite them (botocore's list).
UNSIGNED_HEADERS = frozenset(
    {
        "authorization",
        "baggage",
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
    }
)
# Set by `sign` itself; any copy handed in is replaced.
_OWN_HEADERS = frozenset({"authorization", "x-amz-date", "x-amz-security-token"})
_UNRESERVED = "-_.~"


@dataclass(frozen=True)
class Credentials:
    """An access key, its secret and, for temporary credentials (Lambda's), a session token."""

    access_key: str
    secret_key: str
    token: str | None = None

    def __repr__(self) -> str:  # never the secret or the token in a log line
        return f"Credentials(access_key={self.access_key!r}, token={self.token is not None})"


def sign(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    credentials: Credentials,
    region: str,
    service: str,
    now: datetime,
) -> dict[str, str]:
    """The headers to send: `headers` plus `X-Amz-Date`, `X-Amz-Security-Token` (with a
    session token) and `Authorization`. `url` is what will be requested, already
    percent-encoded; `now` is an aware datetime (naive ones are taken as UTC)."""
    stamp = _utc(now).strftime("%Y%m%dT%H%M%SZ")
    out = {name: value for name, value in headers.items() if name.lower() not in _OWN_HEADERS}
    out["X-Amz-Date"] = stamp
    if credentials.token:
        out["X-Amz-Security-Token"] = credentials.token
    parts = urlsplit(url)
    signed = _headers_to_sign(out, url)
    names = ";".join(signed)
    canonical = "\n".join(
        (
            method.upper(),
            canonical_path(parts.path),
            canonical_query(parts.query),
            "".join(f"{name}:{value}\n" for name, value in signed.items()),
            names,
            hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256,
        )
    )
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        (ALGORITHM, stamp, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest())
    )
    key = signing_key(credentials.secret_key, stamp[:8], region, service)
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    out["Authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={names}, Signature={signature}"
    )
    return out


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """The day's key for one region and service, derived from the secret (`date` YYYYMMDD)."""
    key = f"AWS4{secret_key}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def canonical_path(path: str) -> str:
    """Dot segments and empty segments removed (`/a/./b//../c` is `/a/c`), then encoded
    again: `%3A` in the URL is signed as `%253A`, as every service but S3 expects."""
    return quote(_remove_dot_segments(path) if path else "/", safe="/~")


def canonical_query(query: str) -> str:
    """`b=2&a=1&c` as `a=1&b=2&c=`: each name and value decoded, then encoded the one
    way SigV4 wants (unreserved characters kept, a space as %20), sorted by name, value."""
    if not query:
        return ""
    pairs = []
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        pairs.append((_encode(name), _encode(value)))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def host_header(url: str) -> str:
    """The Host an HTTP client sends for `url`: lower case, no user info, the port only if
    it is not the scheme's default."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != {"http": 80, "https": 443}.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def _headers_to_sign(headers: Mapping[str, str], url: str) -> dict[str, str]:
    """Lower-case names, sorted; values with runs of white space collapsed; a name given in
    two spellings keeps both values, comma-joined."""
    grouped: dict[str, list[str]] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered not in UNSIGNED_HEADERS:
            grouped.setdefault(lowered, []).append(" ".join(value.split()))
    grouped.setdefault("host", [host_header(url)])
    return {name: ",".join(grouped[name]) for name in sorted(grouped)}


def _encode(text: str) -> str:
    return quote(unquote(text), safe=_UNRESERVED)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, and no empty segments: AWS wants `//` collapsed too."""
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and segments else ""
    return first + "/".join(segments) + last


def _utc(now: datetime) -> datetime:
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
