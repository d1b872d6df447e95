from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from orchestrator.discord.errors import (
    DiscordConfigError,
    DiscordHTTPError,
    DiscordUnavailable,
    RateLimited,
)
from orchestrator.discord.rest import USER_AGENT, DiscordREST, Route

BASE = "https://discord.test/api/v10"
APP = "100000000000000001"
TOKEN = "aW50ZXJhY3Rpb24tdG9rZW4tU0VDUkVULTQy"  # a recognisable fake
BOT_TOKEN = "BOT-TOKEN-SECRET-7f3a"  # a recognisable fake

Item = httpx.Response | Exception


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeTime:
    """A clock that only moves when the client sleeps, so waits can be asserted exactly."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Script:
    """Answers requests from a list in order; `forever` repeats the last answer."""

    def __init__(self, *items: Item, forever: bool = False) -> None:
        self.items = list(items)
        self.forever = forever
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.items:
            raise AssertionError(f"unexpected request {request.method} {request.url.path}")
        item = self.items[0] if self.forever and len(self.items) == 1 else self.items.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def add(self, *items: Item) -> None:
        self.items.extend(items)


def ok(body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    if body is None:
        return httpx.Response(204, headers=headers)
    return httpx.Response(200, json=body, headers=headers)


def limited(
    retry_after: float, *, is_global: bool = False, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {"message": "You are being rate limited.", "retry_after": retry_after}
    body["global"] = is_global
    return httpx.Response(429, json=body, headers=headers)


MakeClient = Callable[..., DiscordREST]


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_client(fake_time: FakeTime) -> MakeClient:
    def make(script: Script, **kwargs: Any) -> DiscordREST:
        options: dict[str, Any] = {
            "base_url": BASE,
            "application_id": APP,
            "bot_token": BOT_TOKEN,
            "transport": httpx.MockTransport(script),
            "sleep": fake_time.sleep,
            "clock": fake_time.clock,
        }
        options.update(kwargs)
        return DiscordREST(**options)

    return make


Call = Callable[[DiscordREST], Awaitable[Any]]
MESSAGE = {"content": "deployed", "embeds": [{"title": "v1.2.3"}]}
COMMANDS = [{"name": "deploy", "description": "Deploy a ref", "type": 1}]

SUCCESS_CASES: list[tuple[str, Call, str, str, dict[str, str], bool, Any, Any]] = [
    (
        "edit_original",
        lambda c: c.edit_original(TOKEN, MESSAGE),
        "PATCH",
        f"/api/v10/webhooks/{APP}/{TOKEN}/messages/@original",
        {},
        False,
        MESSAGE,
        {"id": "9"},
    ),
    (
        "delete_original",
        lambda c: c.delete_original(TOKEN),
        "DELETE",
        f"/api/v10/webhooks/{APP}/{TOKEN}/messages/@original",
        {},
        False,
        None,
        None,
    ),
    (
        "create_followup",
        lambda c: c.create_followup(TOKEN, MESSAGE),
        "POST",
        f"/api/v10/webhooks/{APP}/{TOKEN}",
        {"wait": "true"},
        False,
        MESSAGE,
        {"id": "10"},
    ),
    (
        "edit_followup",
        lambda c: c.edit_followup(TOKEN, "55", MESSAGE),
        "PATCH",
        f"/api/v10/webhooks/{APP}/{TOKEN}/messages/55",
        {},
        False,
        MESSAGE,
        {"id": "55"},
    ),
    (
        "edit_message",
        lambda c: c.edit_message("42", "55", MESSAGE),
        "PATCH",
        "/api/v10/channels/42/messages/55",
        {},
        True,
        MESSAGE,
        {"id": "55", "channel_id": "42"},
    ),
    (
        "create_dm",
        lambda c: c.create_dm("77"),
        "POST",
        "/api/v10/users/@me/channels",
        {},
        True,
        {"recipient_id": "77"},
        {"id": "300", "type": 1},
    ),
    (
        "get_current_user",
        lambda c: c.get_current_user(),
        "GET",
        "/api/v10/users/@me",
        {},
        True,
        None,
        {"id": "1", "username": "orchestrator", "bot": True},
    ),
    (
        "get_global_commands",
        lambda c: c.get_global_commands(),
        "GET",
        f"/api/v10/applications/{APP}/commands",
        {},
        True,
        None,
        COMMANDS,
    ),
    (
        "get_guild_commands",
        lambda c: c.get_guild_commands("3"),
        "GET",
        f"/api/v10/applications/{APP}/guilds/3/commands",
        {},
        True,
        None,
        COMMANDS,
    ),
    (
        "bulk_overwrite_global_commands",
        lambda c: c.bulk_overwrite_global_commands(COMMANDS),
        "PUT",
        f"/api/v10/applications/{APP}/commands",
        {},
        True,
        COMMANDS,
        COMMANDS,
    ),
    (
        "bulk_overwrite_guild_commands",
        lambda c: c.bulk_overwrite_guild_commands("3", COMMANDS),
        "PUT",
        f"/api/v10/applications/{APP}/guilds/3/commands",
        {},
        True,
        COMMANDS,
        COMMANDS,
    ),
]


def _body(request: httpx.Request) -> Any:
    return json.loads(request.content) if request.content else None


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("call", "method", "path", "query", "bot", "sent", "answer"),
    [case[1:] for case in SUCCESS_CASES],
    ids=[case[0] for case in SUCCESS_CASES],
)
async def test_success_paths(
    make_client: MakeClient,
    fake_time: FakeTime,
    call: Call,
    method: str,
    path: str,
    query: dict[str, str],
    bot: bool,
    sent: Any,
    answer: Any,
) -> None:
    script = Script(ok(answer))
    async with make_client(script) as client:
        result = await call(client)
    assert result == answer
    (request,) = script.requests
    assert request.method == method
    assert request.url.path == path
    assert dict(request.url.params) == query
    assert request.headers["user-agent"] == USER_AGENT
    if bot:
        assert request.headers["authorization"] == f"Bot {BOT_TOKEN}"
    else:
        assert "authorization" not in request.headers
    assert _body(request) == sent
    assert fake_time.sleeps == []


@pytest.mark.anyio
async def test_create_message_adds_a_nonce_so_retries_cannot_post_twice(
    make_client: MakeClient,
) -> None:
    script = Script(httpx.Response(502), ok({"id": "1"}), ok({"id": "2"}))
    async with make_client(script) as client:
        assert await client.create_message("42", {"content": "hi"}) == {"id": "1"}
        await client.create_message("42", {"content": "again", "nonce": "mine"})
    first, retry, second = (_body(r) for r in script.requests)
    assert script.requests[0].url.path == "/api/v10/channels/42/messages"
    assert script.requests[0].headers["authorization"] == f"Bot {BOT_TOKEN}"
    assert first["content"] == "hi" and first["enforce_nonce"] is True
    assert isinstance(first["nonce"], str) and 0 < len(first["nonce"]) <= 25
    assert retry == first
    assert second == {"content": "again", "nonce": "mine"}


@pytest.mark.anyio
@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.create_message("1", {"content": "x"}),
        lambda c: c.get_current_user(),
        lambda c: c.bulk_overwrite_global_commands([]),
    ],
)
async def test_bot_routes_need_a_bot_token(make_client: MakeClient, call: Call) -> None:
    script = Script()
    async with make_client(script, bot_token=None) as client:
        with pytest.raises(DiscordConfigError, match="DISCORD_BOT_TOKEN"):
            await call(client)
    assert script.requests == []


@pytest.mark.anyio
async def test_interaction_routes_work_without_a_bot_token(make_client: MakeClient) -> None:
    script = Script(ok({"id": "1"}))
    async with make_client(script, bot_token=None) as client:
        assert await client.edit_original(TOKEN, {"content": "x"}) == {"id": "1"}


@pytest.mark.anyio
async def test_429_waits_retry_after_then_succeeds(
    make_client: MakeClient, fake_time: FakeTime
) -> None:
    bucket = {
        "X-RateLimit-Bucket": "abcd1234",
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset-After": "0.5",
        "X-RateLimit-Scope": "user",
    }
    script = Script(limited(0.75, headers=bucket), ok({"id": "1"}))
    async with make_client(script) as client:
        assert await client.create_message("42", {"content": "x"}) == {"id": "1"}
    assert fake_time.sleeps == [0.75]
    assert len(script.requests) == 2


@pytest.mark.anyio
async def test_exhausted_bucket_delays_the_same_route_only(
    make_client: MakeClient, fake_time: FakeTime
) -> None:
    exhausted = {
        "X-RateLimit-Bucket": "b1",
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset-After": "1.5",
    }
    script = Script(ok({"id": "1"}, exhausted), ok({"id": "u"}), ok({"id": "c"}), ok({"id": "2"}))
    async with make_client(script) as client:
        await client.create_message("42", {"content": "one"})
        await client.get_current_user()  # another route
        await client.create_message("43", {"content": "other channel"})  # same bucket, other major
        assert fake_time.sleeps == []
        await client.create_message("42", {"content": "two"})
    assert fake_time.sleeps == [1.5]
    assert len(script.requests) == 4


@pytest.mark.anyio
async def test_routes_sharing_a_bucket_hash_share_its_limit(
    make_client: MakeClient, fake_time: FakeTime
) -> None:
    def headers(remaining: int, reset_after: str) -> dict[str, str]:
        return {
            "X-RateLimit-Bucket": "shared",
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset-After": reset_after,
        }

    script = Script(ok({"id": "1"}, headers(3, "4")), ok({"id": "2"}, headers(0, "2")), ok({}))
    async with make_client(script) as client:
        await client.edit_message("42", "1", {"content": "a"})
        await client.create_message("42", {"content": "b"})
        await client.edit_message("42", "1", {"content": "c"})
    assert fake_time.sleeps == [2.0]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "response",
    [
        limited(2.0, is_global=True),
        limited(2.0, headers={"X-RateLimit-Global": "true"}),
        limited(2.0, headers={"X-RateLimit-Scope": "global"}),
    ],
    ids=["body", "global-header", "scope-header"],
)
async def test_global_429_delays_every_route(
    make_client: MakeClient, fake_time: FakeTime, response: httpx.Response
) -> None:
    script = Script(response, ok({"id": "u"}))
    async with make_client(script, max_retries=0) as client:
        with pytest.raises(RateLimited) as caught:
            await client.create_message("42", {"content": "x"})
        assert caught.value.is_global and caught.value.retry_after == 2.0
        assert fake_time.sleeps == []
        await client.get_current_user()
    assert fake_time.sleeps == [2.0]


@pytest.mark.anyio
async def test_429_beyond_max_wait_raises_instead_of_sleeping(
    make_client: MakeClient, fake_time: FakeTime
) -> None:
    script = Script(limited(45.0))
    async with make_client(script, max_wait=30.0) as client:
        with pytest.raises(RateLimited) as caught:
            await client.edit_original(TOKEN, {"content": "x"})
    assert caught.value.retry_after == 45.0
    assert fake_time.sleeps == []
    assert len(script.requests) == 1


@pytest.mark.anyio
async def test_known_exhausted_bucket_beyond_max_wait_raises_without_sending(
    make_client: MakeClient, fake_time: FakeTime
) -> None:
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "60"}
    script = Script(ok({"id": "1"}, headers))
    async with make_client(script, max_wait=30.0) as client:
        await client.create_message("42", {"content": "x"})
        with pytest.raises(RateLimited, match=re.escape("POST /channels/{channel_id}/messages")):
            await client.create_message("42", {"content": "y"})
    assert len(script.requests) == 1
    assert fake_time.sleeps == []


@pytest.mark.anyio
async def test_429_forever_stops_after_max_retries(
    make_client: MakeClient, fake_time: FakeTime
) -> None:
    script = Script(limited(0.25), forever=True)
    async with make_client(script, max_retries=2) as client:
        with pytest.raises(RateLimited):
            await client.get_current_user()
    assert len(script.requests) == 3
    assert fake_time.sleeps == [0.25, 0.25]


@pytest.mark.anyio
async def test_5xx_twice_then_success(make_client: MakeClient, fake_time: FakeTime) -> None:
    script = Script(httpx.Response(500), httpx.Response(502), ok({"id": "1"}))
    async with make_client(script) as client:
        assert await client.edit_original(TOKEN, {"content": "x"}) == {"id": "1"}
    assert len(script.requests) == 3
    assert fake_time.sleeps == [0.5, 1.0]


@pytest.mark.anyio
@pytest.mark.parametrize("max_retries", [0, 1, 3])
async def test_5xx_forever_gives_up_after_max_retries_plus_one_attempts(
    make_client: MakeClient, fake_time: FakeTime, max_retries: int
) -> None:
    script = Script(httpx.Response(503, text="<html>upstream</html>"), forever=True)
    async with make_client(script, max_retries=max_retries) as client:
        with pytest.raises(DiscordUnavailable) as caught:
            await client.get_global_commands()
    assert len(script.requests) == max_retries + 1
    assert caught.value.attempts == max_retries + 1
    assert caught.value.status == 503
    assert fake_time.sleeps == [0.5, 1.0, 2.0][:max_retries]


@pytest.mark.anyio
async def test_5xx_honours_retry_after(make_client: MakeClient, fake_time: FakeTime) -> None:
    script = Script(httpx.Response(503, headers={"Retry-After": "3"}), ok({"id": "1"}))
    async with make_client(script) as client:
        await client.get_current_user()
    assert fake_time.sleeps == [3.0]


@pytest.mark.anyio
async def test_5xx_retry_after_beyond_max_wait_gives_up(
    make_client: MakeClient, fake_time: FakeTime
) -> None:
    script = Script(httpx.Response(503, headers={"Retry-After": "120"}))
    async with make_client(script, max_wait=30.0) as client:
        with pytest.raises(DiscordUnavailable, match="retry after 120s"):
            await client.get_current_user()
    assert fake_time.sleeps == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadTimeout("timed out"),
        httpx.ConnectTimeout("timed out"),
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("peer closed"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_transport_failure_then_success(
    make_client: MakeClient, fake_time: FakeTime, error: Exception
) -> None:
    script = Script(error, ok({"id": "1"}))
    async with make_client(script) as client:
        assert await client.create_followup(TOKEN, {"content": "x"}) == {"id": "1"}
    assert fake_time.sleeps == [0.5]
    assert len(script.requests) == 2


@pytest.mark.anyio
async def test_timeouts_forever_become_unavailable(
    make_client: MakeClient, fake_time: FakeTime
) -> None:
    script = Script(httpx.ReadTimeout("timed out"), forever=True)
    async with make_client(script, max_retries=2) as client:
        with pytest.raises(DiscordUnavailable, match="ReadTimeout") as caught:
            await client.edit_original(TOKEN, {"content": "x"})
    assert caught.value.attempts == 3 and caught.value.status is None
    assert fake_time.sleeps == [0.5, 1.0]


@pytest.mark.anyio
async def test_400_raises_with_discord_code_without_retrying(
    make_client: MakeClient, fake_time: FakeTime
) -> None:
    error = {
        "code": 50035,
        "message": "Invalid Form Body",
        "errors": {
            "embeds": {
                "0": {"color": {"_errors": [{"code": "NUMBER_TYPE_MAX", "message": "Too big."}]}}
            }
        },
    }
    script = Script(httpx.Response(400, json=error))
    async with make_client(script) as client:
        with pytest.raises(DiscordHTTPError) as caught:
            await client.create_message("42", {"embeds": [{"color": 2**40}]})
    assert caught.value.status == 400
    assert caught.value.code == 50035
    assert caught.value.message == "Invalid Form Body (embeds.0.color: Too big.)"
    assert caught.value.errors == error["errors"]
    assert len(script.requests) == 1
    assert fake_time.sleeps == []


@pytest.mark.anyio
async def test_404_unknown_webhook(make_client: MakeClient) -> None:
    script = Script(httpx.Response(404, json={"message": "Unknown Webhook", "code": 10015}))
    async with make_client(script) as client:
        with pytest.raises(DiscordHTTPError, match="Unknown Webhook") as caught:
            await client.edit_original(TOKEN, {"content": "x"})
    assert (caught.value.status, caught.value.code) == (404, 10015)
    assert TOKEN not in str(caught.value)
    assert "{webhook_token}" in str(caught.value)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "body",
    [b"<html>Forbidden</html>", b"{", b"[1, 2]", b"", b'{"code": "x", "message": 5}', b"\xff\xfe"],
)
async def test_malformed_error_bodies_do_not_crash(make_client: MakeClient, body: bytes) -> None:
    script = Script(httpx.Response(403, content=body))
    async with make_client(script) as client:
        with pytest.raises(DiscordHTTPError) as caught:
            await client.get_current_user()
    assert caught.value.status == 403
    assert caught.value.code == 0
    assert "403" in caught.value.message


@pytest.mark.anyio
async def test_long_messages_are_clamped_before_sending(make_client: MakeClient) -> None:
    message = {
        "content": "c" * 5000,
        "embeds": [{"description": "d" * 5000, "fields": [{"name": "n", "value": "v" * 2000}]}]
        * 11,
    }
    script = Script(ok({"id": "1"}), ok({"id": "2"}))
    async with make_client(script) as client:
        await client.create_followup(TOKEN, message)
        await client.edit_message("42", "1", message)
    for request in script.requests:
        sent = _body(request)
        assert sent["content"] == "c" * 1999 + "…"
        # ten embeds kept of eleven, then the 6000 total: 4096 + 1025 in the first, the
        # second keeps 879 characters of description, the other eight are emptied and dropped
        assert len(sent["embeds"]) == 2
        assert sent["embeds"][1] == {"description": "d" * 878 + "…"}
        total = sum(
            len(e.get("description", ""))
            + sum(len(f["name"] + f["value"]) for f in e.get("fields", []))
            for e in sent["embeds"]
        )
        assert total == 6000
        assert sent["embeds"][0]["description"] == "d" * 4095 + "…"
    assert len(message["content"]) == 5000  # the caller's dict is untouched


@pytest.mark.anyio
async def test_no_token_reaches_the_logs_or_errors(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # the app's log setup quiets httpx
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "0.1"}
    script = Script(
        limited(0.2, headers=headers),
        httpx.Response(500),
        httpx.ReadTimeout(f"timed out on /webhooks/{APP}/{TOKEN}"),
        httpx.Response(400, json={"code": 50006, "message": "Cannot send an empty message"}),
        httpx.Response(401, json={"code": 0, "message": "401: Unauthorized"}),
    )
    errors: list[Exception] = []
    async with make_client(script) as client:
        with pytest.raises(DiscordHTTPError) as first:
            await client.edit_followup(TOKEN, "5", {"content": ""})
        errors.append(first.value)
        with pytest.raises(DiscordHTTPError) as second:
            await client.get_current_user()
        errors.append(second.value)
    assert len(script.requests) == 5
    messages = [record.getMessage() for record in caplog.records]
    dumped = messages + [repr(vars(record)) for record in caplog.records]
    dumped += [str(error) for error in errors] + [repr(error.__cause__) for error in errors]
    for text in dumped:
        assert TOKEN not in text
        assert BOT_TOKEN not in text
    # The records exist and name the route template: the checks above are not vacuous.
    httpx_lines = [m for m in messages if m.startswith("HTTP Request")]
    assert len(httpx_lines) == 4  # the timed-out attempt has no response to log
    assert any("/webhooks/" in m and "{webhook_token}" in m for m in httpx_lines)
    assert any(
        "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/{message_id}" in m for m in messages
    )


@pytest.mark.anyio
async def test_context_manager_closes_the_client(make_client: MakeClient) -> None:
    script = Script(ok({"id": "1"}))
    async with make_client(script) as client:
        pass
    with pytest.raises(RuntimeError, match="closed"):
        await client.get_current_user()
    assert script.requests == []


@pytest.mark.anyio
async def test_unexpected_success_bodies_raise_a_discord_error(make_client: MakeClient) -> None:
    script = Script(httpx.Response(200, content=b"not json"), ok([1, 2]))
    async with make_client(script) as client:
        with pytest.raises(Exception, match="not JSON") as caught:
            await client.get_current_user()
        assert type(caught.value).__name__ == "DiscordError"
        with pytest.raises(Exception, match="array of objects"):
            await client.get_global_commands()


def test_importing_the_module_does_not_import_httpx() -> None:
    code = "import sys, orchestrator.discord.rest; print('httpx' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"


def test_route_path_quotes_parameters() -> None:
    route = Route.of("GET", "/channels/{channel_id}/messages", channel_id="a/b?c")
    assert route.path == "/channels/a%2Fb%3Fc/messages"


def test_route_repr_and_major_never_show_a_webhook_token() -> None:
    route = Route.of(
        "POST", "/webhooks/{webhook_id}/{webhook_token}", webhook_id=APP, webhook_token=TOKEN
    )
    assert TOKEN not in repr(route) and "'webhook_token': '***'" in repr(route)
    assert TOKEN not in route.major and f"webhook_id={APP}" in route.major
