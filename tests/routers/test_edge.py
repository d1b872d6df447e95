"""The edge's ASGI helpers: `_read_capped` (a body already in hand costs no timer; one that
has to wait is bounded), `_headers` (one pass, what each lookup would find) and
`_decode_object` (the decoder's scanner called directly: the decoder's answer, value or
error)."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.config import load_settings
from orchestrator.main import create_app
from orchestrator.routers import edge
from orchestrator.routers.budget import BodyBudget
from orchestrator.routers.errors import Refusal

MESSAGE = {"type": "http.request", "body": b"{}", "more_body": False}


async def _ready() -> dict[str, Any]:
    return MESSAGE


async def _read(
    receive: Any,
    body_timeout: float = 5.0,
    budget: BodyBudget | None = None,
    *,
    declared: str | None = "2",
    expect: str | None = None,
) -> bytearray:
    """`_read_capped` with a declared length of 2, a 10-byte cap and its own budget."""
    settings: Any = SimpleNamespace(body_timeout=body_timeout, body_budget_bytes=100)
    return await edge._read_capped(
        declared, receive, 10, settings, budget or BodyBudget(), expect=expect
    )


@pytest.fixture
def timers(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The deadlines the body read armed a timer for."""
    armed: list[float] = []
    real = asyncio.timeout_at

    def spy(when: float | None) -> asyncio.Timeout:
        armed.append(when or 0.0)
        return real(when)

    monkeypatch.setattr(asyncio, "timeout_at", spy)
    return armed


def test_a_body_in_hand_costs_no_timer(timers: list[float]) -> None:
    assert asyncio.run(_read(_ready)) == b"{}"
    assert timers == []


def test_a_receive_that_waits_is_awaited_to_its_answer_under_one_deadline(
    timers: list[float],
) -> None:
    async def run() -> tuple[bytearray, float]:
        loop = asyncio.get_running_loop()
        arrived: list[asyncio.Future[dict[str, Any]]] = []

        async def receive() -> dict[str, Any]:
            # Two chunks, each waited for: one deadline for the whole body, not one each.
            future = loop.create_future()
            more = not arrived
            loop.call_later(0.01, future.set_result, {**MESSAGE, "body": b"{", "more_body": more})
            arrived.append(future)
            return await future

        began = loop.time()
        return await _read(receive), began

    body, began = asyncio.run(run())
    assert body == b"{{"
    assert len(timers) == 2 and timers[0] == timers[1]
    assert began + 5 <= timers[0] < began + 5.5  # set at the first wait, from the setting


def test_a_receive_that_waits_past_the_deadline_is_refused_and_cancelled() -> None:
    never_released = []

    async def receive() -> dict[str, Any]:
        try:
            await asyncio.sleep(1)  # a body far slower than the deadline
        finally:
            never_released.append("receive cancelled")
        return MESSAGE

    with pytest.raises(Refusal) as refused:
        asyncio.run(_read(receive, body_timeout=0.02))
    assert refused.value.status == 408
    assert never_released == ["receive cancelled"]


def _spent() -> BodyBudget:
    """A budget someone else has used up (its limit is the 100 bytes `_read` gives it)."""
    budget = BodyBudget()
    assert budget.take(100, 100)
    return budget


def test_a_body_in_hand_is_taken_even_when_the_budget_is_spent() -> None:
    """Nothing is waited for, so nothing is claimed: refusing it would free nothing."""
    budget = _spent()
    assert asyncio.run(_read(_ready, budget=budget)) == b"{}"
    assert budget.held == 100


def test_a_body_to_wait_for_is_refused_when_the_budget_is_spent_and_its_receive_closed() -> None:
    closed: list[str] = []

    async def run() -> None:
        loop = asyncio.get_running_loop()

        async def receive() -> dict[str, Any]:
            try:
                await loop.create_future()  # the body has not arrived
            finally:
                closed.append("receive closed")
            return MESSAGE

        await _read(receive, budget=_spent())

    with pytest.raises(Refusal) as refused:
        asyncio.run(run())
    assert refused.value.status == 503
    assert closed == ["receive closed"]


def test_the_claim_covers_the_wait_and_ends_with_the_read() -> None:
    budget = BodyBudget()
    held: list[int] = []

    async def run() -> bytearray:
        loop = asyncio.get_running_loop()

        def arrive(future: asyncio.Future[dict[str, Any]]) -> None:
            held.append(budget.held)  # as the body was waited for
            future.set_result(MESSAGE)

        async def receive() -> dict[str, Any]:
            future = loop.create_future()
            loop.call_later(0.01, arrive, future)
            return await future

        return await _read(receive, budget=budget)

    assert asyncio.run(run()) == b"{}"
    assert held == [2]  # the declared length, claimed before the wait
    assert budget.held == 0


@pytest.mark.parametrize("declared", [None, "2"])  # chunked, or a Content-Length it outgrows
def test_a_body_waited_for_in_one_message_is_claimed_at_its_real_size(
    declared: str | None,
) -> None:
    """A body that arrives whole after a wait is counted at the size it came in, not at what
    was declared: with 95 of the 100 bytes held elsewhere, eight bytes are refused (503)
    and four are taken."""

    def read(body: bytes, budget: BodyBudget) -> bytearray:
        async def run() -> bytearray:
            loop = asyncio.get_running_loop()

            async def receive() -> dict[str, Any]:
                future = loop.create_future()
                loop.call_later(0.01, future.set_result, {**MESSAGE, "body": body})
                return await future

            return await _read(receive, budget=budget, declared=declared)

        return asyncio.run(run())

    budget = BodyBudget()
    assert budget.take(95, 100)
    with pytest.raises(Refusal) as refused:
        read(b"x" * 8, budget)
    assert refused.value.status == 503
    assert budget.held == 95  # the refused claim is given back
    assert read(b"x" * 4, budget) == b"xxxx"
    assert budget.held == 95


def test_a_body_in_hand_over_the_cap_is_refused() -> None:
    """No Content-Length to refuse it by: the body itself is measured."""

    async def eleven_bytes() -> dict[str, Any]:
        return {**MESSAGE, "body": b"x" * 11}

    with pytest.raises(Refusal) as refused:
        asyncio.run(_read(eleven_bytes, declared=None))
    assert refused.value.status == 413


def test_a_client_expecting_100_continue_is_refused_before_it_is_asked_for_its_body() -> None:
    """uvicorn answers `100 Continue` at the first `receive()`: with the budget spent, the
    client is told 503 without being invited to upload first."""
    asked: list[str] = []

    async def receive() -> dict[str, Any]:
        asked.append("receive")
        return MESSAGE

    for declared in ("2", None):  # a declared length, or none (chunked)
        with pytest.raises(Refusal) as refused:
            asyncio.run(_read(receive, budget=_spent(), expect="100-continue", declared=declared))
        assert refused.value.status == 503
        assert asked == []
    budget = BodyBudget()
    assert asyncio.run(_read(receive, budget=budget, expect="100-continue")) == b"{}"
    assert budget.held == 0  # claimed for the ask, given back with the read


def test_a_body_in_hand_after_an_expect_claim_is_taken_as_it_is() -> None:
    """A client that sent `Expect` and its body anyway (without waiting for `100 Continue`):
    the body is in hand, so it is not measured against the budget (refusing it would free
    nothing), and the `Expect` claim is given back."""
    budget = BodyBudget()
    assert budget.take(99, 100)

    async def four_bytes() -> dict[str, Any]:
        return {**MESSAGE, "body": b"xxxx"}

    body = asyncio.run(_read(four_bytes, budget=budget, expect="100-continue", declared=None))
    assert body == b"xxxx"
    assert budget.held == 99


def test_an_outside_cancellation_is_not_taken_for_the_deadline() -> None:
    async def run() -> None:
        loop = asyncio.get_running_loop()

        async def receive() -> dict[str, Any]:
            await loop.create_future()
            return MESSAGE

        task = asyncio.create_task(_read(receive))
        await asyncio.sleep(0.01)
        task.cancel()
        await task

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(run())


_NAMES = [b"content-length", b"x-signature-ed25519", b"x-signature-timestamp", b"x-other"]


@given(
    st.lists(st.tuples(st.sampled_from(_NAMES), st.binary(max_size=4)), max_size=8),
    st.lists(st.sampled_from(_NAMES[:3]), min_size=1, max_size=3, unique=True),
)
def test_one_pass_over_the_headers_finds_what_each_lookup_finds(
    headers: list[tuple[bytes, bytes]], names: list[bytes]
) -> None:
    """Repeated headers included: the first one counts, in one pass as in one lookup each."""
    first = {}
    for key, value in headers:
        first.setdefault(key, value.decode("latin-1"))
    wanted = {name: at for at, name in enumerate(names)}
    assert edge._headers({"headers": headers}, wanted) == [first.get(name) for name in names]


def _decoded(decode: Any, text: str) -> tuple[str, Any]:
    try:
        return ("value", decode(text))
    except (ValueError, RecursionError) as exc:  # what `_interaction` turns into a 400
        return ("refused", type(exc).__name__)


_EDGES = [
    "{}",
    '{"type":1}',
    '{"type": 1, "id": "1"}  \r\n\t',
    "{} x",
    "{}{}",
    "{} \x0b",  # not JSON whitespace, though `str.isspace` says it is
    "{} \u00a0",
    "{",
    '{"a": }',
    '{"a": 1,}',
    " {}",
    "\ufeff{}",
    "[]",
    "1",
    "",
    "{" * 100_000,  # deeper than the stack: refused, as the decoder refuses it
    '{"a": NaN, "b": [1, 2.5e3, true, null], "c": {"d": "\\u2603"}}',
]


@pytest.mark.parametrize("text", _EDGES, ids=range(len(_EDGES)))
def test_decode_object_answers_as_the_decoder_does(text: str) -> None:
    assert _decoded(edge._decode_object, text) == _decoded(json.JSONDecoder().decode, text)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    ),
    st.sampled_from(["", " ", "\n", " x", "}", "\u2003"]),
)
def test_decode_object_answers_as_the_decoder_does_for_any_json(value: Any, tail: str) -> None:
    text = json.dumps({"v": value}) + tail
    assert _decoded(edge._decode_object, text) == _decoded(json.JSONDecoder().decode, text)


def test_a_refused_body_is_let_go_before_the_refusal_is_sent(tmp_path: Path) -> None:
    """The refusal is sent outside the `except` that caught it: the exception's traceback
    holds the frames that read the body, and a client that never reads its answer would
    keep that body alive, no longer claimed, for as long as the send waits."""
    app = create_app(load_settings(ORCHESTRATOR_DATA_DIR=tmp_path))
    chunk, chunks = 1_000_000, 5
    sent: list[int] = []
    held_while_sending: list[int] = []

    async def receive() -> dict[str, Any]:
        sent.append(chunk)  # made here, kept by no one but the edge
        return {"type": "http.request", "body": b"a" * chunk, "more_body": len(sent) < chunks}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            held_while_sending.append(tracemalloc.get_traced_memory()[0])
            assert message["status"] == 401

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/github",
        "headers": [
            (b"x-hub-signature-256", b"sha256=" + b"ab" * 32),  # well formed, wrong
            (b"x-github-event", b"push"),
            (b"content-length", str(chunk * chunks).encode()),
        ],
    }
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        asyncio.run(app(scope, receive, send))
    finally:
        tracemalloc.stop()
    assert len(sent) == chunks  # read whole, then refused
    assert held_while_sending[0] - before < chunk  # not the 5 MB it read
