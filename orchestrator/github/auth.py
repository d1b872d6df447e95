"""GitHub credentials behind one question: "what goes in the Authorization header?"

Two kinds, because teams start with a token and graduate to a GitHub App:

* `TokenAuth`: a personal or fine-grained token, sent as is.
* `AppAuth`: a GitHub App. A short JWT signed with the App's key proves we are
  the App; GitHub trades it for an installation token (valid an hour) that
  acts on the repositories. The token is cached until a minute before it
  expires, and concurrent callers share one exchange.

The exchange is written against `AppCall` ("one JSON call as the App") and sent
through a `sending.Sender` of its own, never through the client: the client
depends on these credentials, so they must not depend on it.

The JWT is signed with the pure-Python `rsa` package, imported only when an
App credential is built: `cryptography` would add ~10 MB to the Lambda
artifact for one signature an hour. No credential ever appears in a repr, a
log line or an exception message.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from orchestrator.github.errors import GitHubError, GitHubHTTPError
from orchestrator.github.paths import check_repo

if TYPE_CHECKING:
    import httpx
    import rsa

JWT_BACKDATE = 60  # GitHub's clock and ours may disagree by a little
JWT_LIFETIME = 540  # GitHub refuses JWTs that live longer than 10 minutes
TOKEN_REFRESH_MARGIN = 60.0  # never hand out a token that dies mid-request

_PKCS1_HEADER = "-----BEGIN RSA PRIVATE KEY-----"


class Auth(Protocol):
    """A credential: the value of the `Authorization` header for the next request."""

    async def authorization(self) -> str: ...


@runtime_checkable
class AppCredentials(Protocol):
    """A credential that can also speak as the App itself (the App's own webhook deliveries)."""

    async def authorization(self) -> str: ...

    async def app_authorization(self) -> str: ...


@runtime_checkable
class Refreshable(Protocol):
    """A credential with a cached token that can be dropped when GitHub stops accepting it."""

    def invalidate(self) -> None: ...


class TokenAuth:
    """A personal or fine-grained token."""

    __slots__ = ("_token",)

    def __init__(self, token: str) -> None:
        token = token.strip() if isinstance(token, str) else ""
        if not token:
            raise ValueError("a GitHub token is required (GITHUB_TOKEN is empty)")
        self._token = token

    async def authorization(self) -> str:
        return f"Bearer {self._token}"

    def __repr__(self) -> str:
        return "TokenAuth(token=***)"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_private_key(private_key_pem: str | bytes) -> rsa.PrivateKey:
    """Parse the App's PKCS#1 PEM key, or ValueError saying how to fix it (never quoting it).

    Keys pasted into environment variables often arrive with literal `\\n`; that is repaired.
    """
    text = (
        private_key_pem.decode("utf-8", errors="replace")
        if isinstance(private_key_pem, bytes)
        else str(private_key_pem)
    ).strip()
    if "\\n" in text and "\n" not in text:
        text = text.replace("\\n", "\n")
    if _PKCS1_HEADER not in text:
        if "-----BEGIN PRIVATE KEY-----" in text:
            raise ValueError(
                "the GitHub App key is PKCS#8 ('BEGIN PRIVATE KEY'); use the PKCS#1 .pem GitHub "
                "issued ('BEGIN RSA PRIVATE KEY'), or convert it: "
                "openssl rsa -in key.pem -out key-rsa.pem -traditional"
            )
        if "-----BEGIN ENCRYPTED PRIVATE KEY-----" in text:
            raise ValueError("the GitHub App key is encrypted; give the unencrypted .pem")
        raise ValueError(
            "the GitHub App key is not a PKCS#1 PEM private key "
            "(expected '-----BEGIN RSA PRIVATE KEY-----', the .pem GitHub issues)"
        )
    import rsa

    try:
        return rsa.PrivateKey.load_pkcs1(text.encode("ascii", errors="replace"), format="PEM")
    except Exception:
        # `from None`: the parser's message may quote key material.
        raise ValueError("the GitHub App key could not be parsed as a PKCS#1 PEM key") from None


def _issuer(app_id: int | str) -> int | str:
    """Numeric app ids go out as numbers; client ids (`Iv1.abc`) as strings. GitHub takes both."""
    if isinstance(app_id, str) and app_id.strip().isascii() and app_id.strip().isdigit():
        return int(app_id.strip())
    return app_id


def sign_app_jwt(app_id: int | str, key: rsa.PrivateKey, now: float) -> str:
    """`make_app_jwt` with an already parsed key (AppAuth parses once, signs often)."""
    import rsa

    header = {"alg": "RS256", "typ": "JWT"}
    claims = {
        "iat": int(now) - JWT_BACKDATE,
        "exp": int(now) + JWT_LIFETIME,
        "iss": _issuer(app_id),
    }
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    signature = rsa.sign(signing_input.encode("ascii"), key, "SHA-256")
    return f"{signing_input}.{_b64url(signature)}"


def make_app_jwt(app_id: int | str, private_key_pem: str | bytes, now: float) -> str:
    """The RS256 JWT that identifies the App to GitHub for ten minutes at most."""
    return sign_app_jwt(app_id, load_private_key(private_key_pem), now)


def parse_expires_at(value: object) -> float:
    """GitHub's `expires_at` (`2026-05-09T15:04:05Z`) as epoch seconds."""
    if not isinstance(value, str):
        raise ValueError("expires_at missing")
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class AppAuth:
    """A GitHub App installation. Give `installation_id`, or `repo=` to look it up once."""

    def __init__(
        self,
        app_id: int | str,
        private_key_pem: str | bytes,
        installation_id: int | None = None,
        *,
        repo: str | None = None,
        base_url: str = "https://api.github.com",
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        timeout: float = 10.0,
        user_agent: str = "orchestrator",
    ) -> None:
        if installation_id is None and repo is None:
            raise ValueError("AppAuth needs installation_id, or repo= to look the installation up")
        if not str(app_id).strip():
            raise ValueError("AppAuth needs the App's id (or client id)")
        self.app_id = app_id
        self.installation_id = installation_id
        self.repo = repo
        self._key = load_private_key(private_key_pem)
        self._base_url = base_url
        self._transport = transport
        self._clock = clock
        self._timeout = timeout
        self._user_agent = user_agent
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self.exchanges = 0  # how many tokens were fetched; `/diagnose` and tests read it

    def __repr__(self) -> str:
        return f"AppAuth(app_id={self.app_id!r}, installation_id={self.installation_id!r})"

    async def app_authorization(self) -> str:
        return f"Bearer {sign_app_jwt(self.app_id, self._key, self._clock())}"

    def _fresh(self) -> bool:
        return self._token is not None and self._clock() < self._expires_at - TOKEN_REFRESH_MARGIN

    def _refresh_lock(self) -> asyncio.Lock:
        # One lock per event loop: on Lambda each invocation may run its own loop, and a
        # lock used under an old loop refuses to work under a new one.
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock = asyncio.Lock()
            self._lock_loop = loop
        return self._lock

    async def authorization(self) -> str:
        if not self._fresh():
            async with self._refresh_lock():
                if not self._fresh():  # another caller may have refreshed while we waited
                    await self._refresh()
        assert self._token is not None
        return f"Bearer {self._token}"

    def invalidate(self) -> None:
        """Forget the installation token (e.g. after GitHub said 401 to it)."""
        self._token = None
        self._expires_at = 0.0

    async def _refresh(self) -> None:
        """Look the installation up if need be, then trade the App's JWT for a token.

        Sent through a `Sender` of its own (no ETag cache, the default retry policy), not
        the caller's client: the credential is shared by every client in the process.
        """
        from orchestrator.github.sending import Sender  # only an App credential ever sends

        async with Sender(
            base_url=self._base_url,
            transport=self._transport,
            timeout=self._timeout,
            user_agent=self._user_agent,
            clock=self._clock,
            etag_cache_size=0,
        ) as sender:

            async def as_app(method: str, path: str, *, idempotent: bool | None = None) -> Any:
                reply = await sender.send(
                    method, path, authorize=self.app_authorization, idempotent=idempotent
                )
                return reply.json()

            if self.installation_id is None:
                self.installation_id = await find_installation(as_app, self.app_id, self.repo)
            token, expires_at = await create_installation_token(as_app, self.installation_id)
        self._token = token
        self._expires_at = expires_at
        self.exchanges += 1


# --- the installation-token exchange, over any "call GitHub as the App" ---------------------


class AppCall(Protocol):
    """One JSON call to GitHub speaking as the App: all the token exchange needs of HTTP.

    A Protocol so that this module never depends on the client (which depends on it),
    and the exchange's error handling is testable with a plain async function.
    """

    async def __call__(self, method: str, path: str, *, idempotent: bool | None = None) -> Any: ...


async def find_installation(call: AppCall, app_id: int | str, repo: str | None) -> int:
    """The id of the App's installation on `repo`; a clear error when it is not installed."""
    repo = check_repo(repo or "")
    try:
        found = await call("GET", f"/repos/{repo}/installation")
    except GitHubHTTPError as exc:
        if exc.status == 404:
            raise GitHubHTTPError(
                404,
                f"the GitHub App {app_id} is not installed on {repo}",
                exc.documentation_url,
                method=exc.method,
                path=exc.path,
            ) from None
        raise
    installation_id = found.get("id") if isinstance(found, dict) else None
    if not isinstance(installation_id, int):
        raise GitHubError(f"GitHub gave no installation id for {repo}")
    return installation_id


async def create_installation_token(call: AppCall, installation_id: int) -> tuple[str, float]:
    """A new installation token and when it expires (epoch seconds)."""
    try:
        data = await call(
            "POST",
            f"/app/installations/{installation_id}/access_tokens",
            idempotent=True,  # a second token is harmless; a missing one is not
        )
    except GitHubHTTPError as exc:
        raise GitHubHTTPError(
            exc.status,
            f"installation token exchange failed: {exc.message}",
            exc.documentation_url,
            method=exc.method,
            path=exc.path,
        ) from None
    return parse_token_answer(data)


def parse_token_answer(data: object) -> tuple[str, float]:
    """`(token, expires_at)` from GitHub's answer to the exchange, or GitHubError."""
    answer = data if isinstance(data, dict) else {}
    token = answer.get("token")
    if not isinstance(token, str) or not token:
        raise GitHubError("GitHub's installation token answer held no token")
    try:
        expires_at = parse_expires_at(answer.get("expires_at"))
    except ValueError:
        raise GitHubError("GitHub's installation token answer held no valid expires_at") from None
    return token, expires_at
