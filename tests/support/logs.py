"""Our JSON handler as the only one on the root logger, as in production.

pytest's logging plugin adds its capture handlers to the root for each test's call, after
the fixtures ran, and with another handler there `logs.info_line` sends its line the
ordinary way. Tests of what production writes make our handler the only one within
`alone()`, inside the test's body."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Callable, Iterator

import pytest

from orchestrator import logs


@contextlib.contextmanager
def alone() -> Iterator[logs.JSONHandler]:
    """Our handler (`logs._handler`) as the root's only one within."""
    handler = logs._handler
    assert handler is not None
    root = logging.getLogger()
    saved = root.handlers
    root.handlers = [handler]
    try:
        # What the tests are for: `info_line` writing the production way, not the ordinary.
        assert logs._sole_handler(logging.getLogger("orchestrator.access")) is handler
        yield handler
    finally:
        root.handlers = saved


def json_handler(monkeypatch: pytest.MonkeyPatch, stream: io.StringIO) -> logs.JSONHandler:
    """A JSON handler writing to `stream`, made our handler for the test, with lines pending
    of its own (none left over for another test's stream, whatever this one leaves)."""
    handler = logs.JSONHandler(stream)
    handler.setFormatter(logs.JSONFormatter())
    monkeypatch.setattr(logs, "_handler", handler)
    monkeypatch.setattr(logs, "_pending", [])
    monkeypatch.setattr(logs, "_scheduled", None)
    return handler


def in_one_turn(body: Callable[[], object]) -> None:
    """`body` run within one turn of an event loop, our handler alone: what it logs with
    `info_line` is pending until the turn ends (or something writes it first)."""

    async def turn() -> None:
        with alone():
            body()

    asyncio.run(turn())
