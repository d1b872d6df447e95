"""The edge's ASGI helpers: `_receive_by` (a body already in hand costs no timer; one that has
to wait is bounded), `_headers` (one pass, what each lookup would find) and `_decode_object`
(the decoder's scanner called directly: the decoder's answer, value or error)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.routers import edge
from orchestrator.routers.edge import _receive_by

MESSAGE = {"type": "http.request", "body": b"{}", "more_body": False}


async def _ready() -> dict[str, Any]:
    return MESSAGE


@pytest.fixture
def timers(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The deadlines `_receive_by` armed a timer for."""
    armed: list[float] = []
    real = asyncio.timeout_at

    def spy(when: float | None) -> asyncio.Timeout:
        armed.append(when or 0.0)
        return real(when)

    monkeypatch.setattr(asyncio, "timeout_at", spy)
    return armed


def test_a_message_in_hand_costs_no_timer(timers: list[float]) -> None:
    async def run() -> Any:
        return await _receive_by(_ready, asyncio.get_running_loop().time() + 5)

    assert asyncio.run(run()) is MESSAGE
    assert timers == []


def test_a_receive_that_waits_is_awaited_to_its_answer(timers: list[float]) -> None:
    async def run() -> Any:
        loop = asyncio.get_running_loop()
        arrived: asyncio.Future[dict[str, Any]] = loop.create_future()
        loop.call_later(0.01, arrived.set_result, MESSAGE)

        async def receive() -> dict[str, Any]:
            return await arrived

        return await _receive_by(receive, loop.time() + 5)

    assert asyncio.run(run()) is MESSAGE
    assert len(timers) == 1


def test_a_receive_that_waits_past_the_deadline_times_out() -> None:
    never_released = []

    async def run() -> None:
        loop = asyncio.get_running_loop()

        async def receive() -> dict[str, Any]:
            try:
                await asyncio.sleep(1)  # a body far slower than the deadline
            finally:
                never_released.append("receive cancelled")
            return MESSAGE

        await _receive_by(receive, loop.time() + 0.02)

    with pytest.raises(TimeoutError):
        asyncio.run(run())
    assert never_released == ["receive cancelled"]


def test_an_outside_cancellation_is_not_taken_for_the_deadline() -> None:
    async def run() -> None:
        loop = asyncio.get_running_loop()

        async def receive() -> dict[str, Any]:
            await loop.create_future()
            return MESSAGE

        task = asyncio.create_task(_receive_by(receive, loop.time() + 5))
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
    assert edge._headers({"headers": headers}, *names) == [first.get(name) for name in names]


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
