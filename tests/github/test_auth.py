"""GitHub credentials: the App JWT, the installation-token exchange and its cache."""

from __future__ import annotations

import ast
import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
import rsa

from orchestrator.github.auth import (
    AppAuth,
    TokenAuth,
    create_installation_token,
    find_installation,
    load_private_key,
    make_app_jwt,
    parse_expires_at,
    parse_token_answer,
)
from orchestrator.github.errors import GitHubError, GitHubHTTPError

BASE = "https://api.github.com"
NOW = 1_800_000_000.0
EXPIRES = "2027-01-15T08:00:00Z"  # 1_800_000_000 is 2027-01-15T08:00:00Z
EXPIRES_EPOCH = parse_expires_at(EXPIRES)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def keypair() -> tuple[rsa.PublicKey, rsa.PrivateKey]:
    return rsa.newkeys(1024)


@pytest.fixture
def pem(keypair: tuple[rsa.PublicKey, rsa.PrivateKey]) -> bytes:
    return keypair[1].save_pkcs1("PEM")


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False, assert_all_mocked=True) as mock:
        yield mock


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def decode_jwt(token: str, public: rsa.PublicKey) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify the RS256 signature (raises rsa.VerificationError) and return header, claims."""
    header, claims, signature = token.split(".")
    method = rsa.verify(f"{header}.{claims}".encode(), _b64decode(signature), public)
    assert method == "SHA-256"
    return json.loads(_b64decode(header)), json.loads(_b64decode(claims))


def _bearer(request: httpx.Request) -> str:
    value = request.headers["authorization"]
    assert value.startswith("Bearer ")
    return value.removeprefix("Bearer ")


# --- the JWT ---------------------------------------------------------------------------------


def test_app_jwt_is_rs256_signed_with_backdated_short_claims(
    keypair: tuple[rsa.PublicKey, rsa.PrivateKey], pem: bytes
) -> None:
    token = make_app_jwt(12345, pem, NOW)
    header, claims = decode_jwt(token, keypair[0])
    assert header == {"alg": "RS256", "typ": "JWT"}
    assert claims == {"iat": int(NOW) - 60, "exp": int(NOW) + 540, "iss": 12345}
    assert "=" not in token  # base64url without padding


def test_app_jwt_signature_fails_for_another_key(pem: bytes) -> None:
    other_public, _ = rsa.newkeys(1024)
    with pytest.raises(rsa.VerificationError):
        decode_jwt(make_app_jwt(1, pem, NOW), other_public)


def test_app_jwt_issuer_numeric_string_or_client_id(
    keypair: tuple[rsa.PublicKey, rsa.PrivateKey], pem: bytes
) -> None:
    assert decode_jwt(make_app_jwt("777", pem, NOW), keypair[0])[1]["iss"] == 777
    assert decode_jwt(make_app_jwt("Iv1.abc", pem, NOW), keypair[0])[1]["iss"] == "Iv1.abc"


def test_key_pasted_with_literal_newlines_is_repaired(
    keypair: tuple[rsa.PublicKey, rsa.PrivateKey], pem: bytes
) -> None:
    flattened = pem.decode().strip().replace("\n", "\\n")
    assert "\n" not in flattened
    decode_jwt(make_app_jwt(1, flattened, NOW), keypair[0])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-----BEGIN PRIVATE KEY-----\nMIIBVQ==\n-----END PRIVATE KEY-----\n", "PKCS#8"),
        (
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----",
            "encrypted",
        ),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----", "PKCS#1"),
        ("not a key at all", "PKCS#1"),
    ],
)
def test_other_key_formats_get_a_clear_error(text: str, expected: str) -> None:
    with pytest.raises(ValueError, match=expected) as info:
        load_private_key(text)
    assert "MIIB" not in str(info.value) and "b3Bl" not in str(info.value)


def test_broken_pkcs1_body_error_does_not_quote_the_key() -> None:
    body = "U0VDUkVUS0VZTUFURVJJQUw="
    text = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n"
    with pytest.raises(ValueError, match="could not be parsed") as info:
        load_private_key(text)
    assert body not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


# --- token auth ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_token_auth_is_a_bearer_header_and_hides_in_repr() -> None:
    auth = TokenAuth("ghp_secretvalue123")
    assert await auth.authorization() == "Bearer ghp_secretvalue123"
    assert "ghp_secretvalue123" not in repr(auth)
    with pytest.raises(ValueError, match="required"):
        TokenAuth("  ")


# --- app auth --------------------------------------------------------------------------------


def _token_route(router: respx.MockRouter, installation: int = 42) -> respx.Route:
    counter = {"n": 0}

    def answer(request: httpx.Request) -> httpx.Response:
        counter["n"] += 1
        return httpx.Response(
            201, json={"token": f"ghs_installation{counter['n']}", "expires_at": EXPIRES}
        )

    return router.post(f"/app/installations/{installation}/access_tokens").mock(side_effect=answer)


@pytest.mark.anyio
async def test_app_auth_exchanges_a_jwt_for_an_installation_token_once(
    router: respx.MockRouter, keypair: tuple[rsa.PublicKey, rsa.PrivateKey], pem: bytes
) -> None:
    route = _token_route(router)
    auth = AppAuth(12345, pem, 42, clock=Clock(EXPIRES_EPOCH - 3600))
    values = [await auth.authorization() for _ in range(5)]
    assert values == ["Bearer ghs_installation1"] * 5
    assert route.call_count == 1 and auth.exchanges == 1
    request = route.calls[0].request
    _, claims = decode_jwt(_bearer(request), keypair[0])
    assert claims["iss"] == 12345 and claims["iat"] == int(EXPIRES_EPOCH) - 3600 - 60
    assert request.headers["x-github-api-version"] == "2022-11-28"


@pytest.mark.anyio
async def test_app_auth_refreshes_a_minute_before_expiry(
    router: respx.MockRouter, pem: bytes
) -> None:
    route = _token_route(router)
    clock = Clock(EXPIRES_EPOCH - 3600)
    auth = AppAuth(1, pem, 42, clock=clock)
    assert await auth.authorization() == "Bearer ghs_installation1"
    clock.now = EXPIRES_EPOCH - 61  # still more than a minute left: cached
    assert await auth.authorization() == "Bearer ghs_installation1"
    clock.now = EXPIRES_EPOCH - 59  # inside the margin: refreshed
    assert await auth.authorization() == "Bearer ghs_installation2"
    assert route.call_count == 2


@pytest.mark.anyio
async def test_concurrent_callers_share_one_exchange(router: respx.MockRouter, pem: bytes) -> None:
    calls = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.02)  # everyone else arrives while this exchange is in flight
        return httpx.Response(201, json={"token": f"ghs_t{calls}", "expires_at": EXPIRES})

    router.post("/app/installations/42/access_tokens").mock(side_effect=slow)
    auth = AppAuth(1, pem, 42, clock=Clock(EXPIRES_EPOCH - 3600))
    values = await asyncio.wait_for(
        asyncio.gather(*(auth.authorization() for _ in range(8))), timeout=10
    )
    assert set(values) == {"Bearer ghs_t1"}
    assert calls == 1


def test_refresh_lock_survives_a_new_event_loop(router: respx.MockRouter, pem: bytes) -> None:
    """Lambda may run each invocation in its own loop; a cached AppAuth must keep working."""
    calls = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        expires = EXPIRES if calls > 1 else "2027-01-15T07:00:00Z"
        return httpx.Response(201, json={"token": f"ghs_t{calls}", "expires_at": expires})

    router.post("/app/installations/42/access_tokens").mock(side_effect=slow)
    clock = Clock(EXPIRES_EPOCH - 7200)
    auth = AppAuth(1, pem, 42, clock=clock)

    async def contend() -> set[str]:
        return set(await asyncio.gather(*(auth.authorization() for _ in range(3))))

    assert asyncio.run(asyncio.wait_for(contend(), 10)) == {"Bearer ghs_t1"}
    clock.now = EXPIRES_EPOCH - 3600 - 30  # expired: the next loop must refresh, contended

    assert asyncio.run(asyncio.wait_for(contend(), 10)) == {"Bearer ghs_t2"}


@pytest.mark.anyio
async def test_installation_is_looked_up_once_from_the_repo(
    router: respx.MockRouter, keypair: tuple[rsa.PublicKey, rsa.PrivateKey], pem: bytes
) -> None:
    lookup = router.get("/repos/acme/api/installation").respond(200, json={"id": 99})
    exchange = _token_route(router, installation=99)
    clock = Clock(EXPIRES_EPOCH - 3600)
    auth = AppAuth("1", pem, repo="acme/api", clock=clock)
    assert await auth.authorization() == "Bearer ghs_installation1"
    clock.now = EXPIRES_EPOCH
    assert await auth.authorization() == "Bearer ghs_installation2"
    assert lookup.call_count == 1 and exchange.call_count == 2
    assert auth.installation_id == 99
    decode_jwt(_bearer(lookup.calls[0].request), keypair[0])  # the lookup speaks as the App


@pytest.mark.anyio
async def test_app_not_installed_is_a_clear_error(router: respx.MockRouter, pem: bytes) -> None:
    router.get("/repos/acme/api/installation").respond(404, json={"message": "Not Found"})
    auth = AppAuth(7, pem, repo="acme/api", clock=Clock())
    with pytest.raises(GitHubHTTPError, match="not installed on acme/api") as info:
        await auth.authorization()
    assert info.value.status == 404


@pytest.mark.anyio
async def test_failed_exchange_names_the_step_not_the_jwt(
    router: respx.MockRouter, pem: bytes
) -> None:
    route = router.post("/app/installations/42/access_tokens").respond(
        401, json={"message": "A JSON web token could not be decoded"}
    )
    auth = AppAuth(1, pem, 42, clock=Clock())
    with pytest.raises(GitHubHTTPError, match="installation token exchange failed") as info:
        await auth.authorization()
    jwt = _bearer(route.calls[0].request)
    assert jwt not in str(info.value) and jwt not in repr(info.value)


@pytest.mark.anyio
async def test_exchange_answer_without_token_is_refused(
    router: respx.MockRouter, pem: bytes
) -> None:
    router.post("/app/installations/42/access_tokens").respond(201, json={"expires_at": EXPIRES})
    with pytest.raises(GitHubError, match="no token"):
        await AppAuth(1, pem, 42, clock=Clock()).authorization()


def test_app_auth_needs_an_installation_or_a_repo(pem: bytes) -> None:
    with pytest.raises(ValueError, match="installation_id"):
        AppAuth(1, pem)
    assert "PRIVATE" not in repr(AppAuth(1, pem, 5))


def test_expires_at_parsing() -> None:
    assert parse_expires_at(EXPIRES) == NOW
    with pytest.raises(ValueError, match="missing"):
        parse_expires_at(None)


# --- the exchange over a plain "call as the App" (no HTTP) -----------------------------------


class FakeCall:
    """Stands in for a Sender speaking as the App: records calls, answers or raises."""

    def __init__(self, answer: object) -> None:
        self.answer = answer
        self.calls: list[tuple[str, str, bool | None]] = []

    async def __call__(self, method: str, path: str, *, idempotent: bool | None = None) -> Any:
        self.calls.append((method, path, idempotent))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.mark.anyio
async def test_exchange_posts_once_and_may_be_retried() -> None:
    call = FakeCall({"token": "ghs_x", "expires_at": EXPIRES})
    assert await create_installation_token(call, 42) == ("ghs_x", EXPIRES_EPOCH)
    assert call.calls == [("POST", "/app/installations/42/access_tokens", True)]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("answer", "error", "words"),
    [
        ({"id": "42"}, GitHubError, "no installation id for acme/api"),
        (None, GitHubError, "no installation id"),
        (GitHubHTTPError(404, "Not Found"), GitHubHTTPError, "App 7 is not installed on acme/api"),
        (GitHubHTTPError(403, "Forbidden"), GitHubHTTPError, "Forbidden"),  # passed on as is
    ],
)
async def test_installation_lookup_failures(answer: object, error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        await find_installation(FakeCall(answer), 7, "acme/api")


@pytest.mark.anyio
async def test_installation_lookup_checks_the_repo_first() -> None:
    call = FakeCall({"id": 5})
    with pytest.raises(ValueError, match="owner/name"):
        await find_installation(call, 7, None)
    assert call.calls == []
    assert await find_installation(call, 7, "acme/api") == 5
    assert call.calls == [("GET", "/repos/acme/api/installation", None)]


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ({"expires_at": EXPIRES}, "no token"),
        ({"token": "", "expires_at": EXPIRES}, "no token"),
        ("ghs_x", "no token"),
        ({"token": "ghs_x"}, "no valid expires_at"),
        ({"token": "ghs_x", "expires_at": "soon"}, "no valid expires_at"),
    ],
)
def test_token_answers_without_what_we_need_are_refused(answer: object, words: str) -> None:
    with pytest.raises(GitHubError, match=words):
        parse_token_answer(answer)


def test_credentials_never_import_the_client() -> None:
    """The client depends on the credentials; the reverse would be an import cycle."""
    package = Path(__file__).parents[2] / "orchestrator" / "github"
    for name in ("auth.py", "sending.py", "cache.py", "errors.py", "paths.py"):
        tree = ast.parse((package / name).read_text())
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module is not None
        } | {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        assert "orchestrator.github.client" not in imported, name
        if name != "auth.py":
            assert "orchestrator.github.auth" not in imported, name
