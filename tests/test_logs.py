from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import urllib.parse
from collections.abc import Iterator
from pathlib import PurePosixPath

import pytest
from fastapi.testclient import TestClient

from orchestrator import logs
from orchestrator.logs import REDACTED, JSONFormatter, Redactor, bind, info_line, log_context

SECRET = "s3cr3t-value/with+chars="


@pytest.mark.parametrize(
    "form",
    [
        SECRET,
        urllib.parse.quote(SECRET, safe=""),
        base64.b64encode(SECRET.encode()).decode().rstrip("="),
        SECRET.encode().hex(),
    ],
)
def test_known_secrets_are_redacted_in_every_obvious_encoding(form: str) -> None:
    assert Redactor([SECRET])(f"value={form};") == f"value={REDACTED};"


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (
            "PATCH /webhooks/123/aW50ZXJhY3Rpb246MTIzOnRva2VuLXZhbHVlLWhlcmU/messages/@original",
            "/webhooks/123/",
        ),
        ("Authorization: Bot MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.abcdefghijklmnopqrstuv", "Bot "),
        ("Authorization: Bearer ghp_abcdefghijklmnopqrstuvwxyz0123456789", "Bearer "),
        ("github_pat_11ABCDEFG0abcdefghijklmnopqrstuvwxyz leaked", "github_pat_"),
    ],
)
def test_token_shapes_are_redacted(text: str, kept: str) -> None:
    out = Redactor()(text)
    assert REDACTED in out
    assert kept in out


def test_the_marker_check_is_any_marker_in_the_line() -> None:
    """`_has_marker` is written out for speed: it must still say what a scan of every
    marker says, for each marker anywhere in a line, alone or next to its neighbours."""
    import random

    rng = random.Random(7)
    pieces = [*logs._MARKERS, "gh", "g", "h", "_", "pat", " ", "/", "webhooks", "x", "git"]
    lines = [m for m in logs._MARKERS] + [f"a{m}b" for m in logs._MARKERS]
    lines += ["".join(rng.choices(pieces, k=rng.randint(0, 6))) for _ in range(3000)]
    for line in lines:
        assert logs._has_marker(line) == any(m in line for m in logs._MARKERS), line


def test_short_values_are_not_treated_as_secrets() -> None:
    assert Redactor(["abc"])("abc abc") == "abc abc"


def test_lines_are_json_with_context_and_extras() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter())
    logger = logging.getLogger("test.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    with log_context(request_id="r1", interaction_id=None):
        bind(delivery_id="d1")
        logger.info("hello %s", "there", extra={"status": 202})
    logger.info("outside")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["msg"] == "hello there"
    assert first["request_id"] == "r1"
    assert first["delivery_id"] == "d1"
    assert first["status"] == 202
    assert "interaction_id" not in first
    assert "request_id" not in second


def test_responses_carry_the_request_id(client: TestClient) -> None:
    assert (
        client.get("/healthz", headers={"x-request-id": "abc-1"}).headers["x-request-id"] == "abc-1"
    )
    assert len(client.get("/healthz").headers["x-request-id"]) == 16


@pytest.fixture
def sole_handler(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """Our JSON handler, writing to a buffer, as the one `info_line` writes through; the
    tests make it the root's only handler with `alone()` (as in production, where nothing
    else listens): the case `info_line` writes without a LogRecord."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter())
    monkeypatch.setattr(logs, "_handler", handler)
    monkeypatch.setattr(logging.getLogger(), "handlers", [handler])
    monkeypatch.setattr(logs, "redactor", Redactor([SECRET]))
    logging.getLogger("test.access").setLevel(logging.INFO)
    return stream


@contextlib.contextmanager
def alone() -> Iterator[None]:
    """Our handler as the root's only one within, whatever pytest's logging plugin added
    for the test's call (its capture handlers would send every line the ordinary way)."""
    root = logging.getLogger()
    saved = root.handlers
    root.handlers = [logs._handler] if logs._handler else []
    try:
        assert logs._sole_handler(logging.getLogger("test.access")) is logs._handler
        yield
    finally:
        root.handlers = saved


def test_info_line_writes_the_line_logging_would(sole_handler: io.StringIO) -> None:
    logger = logging.getLogger("test.access")
    with alone(), log_context(request_id="r1", route="/discord", method="POST"):
        info_line(logger, "request", {"status": 200, "duration_ms": 0.25})
        logger.info("request", extra={"status": 200, "duration_ms": 0.25})
    fast, slow = (json.loads(line) for line in sole_handler.getvalue().splitlines())
    assert fast.pop("ts") == pytest.approx(slow.pop("ts"), abs=1)
    assert fast == slow
    assert fast == {
        "level": "info",
        "logger": "test.access",
        "msg": "request",
        "request_id": "r1",
        "route": "/discord",
        "method": "POST",
        "status": 200,
        "duration_ms": 0.25,
    }


def test_info_line_encodes_exactly_as_the_formatter(sole_handler: io.StringIO) -> None:
    """The access line's encoder is the formatter's C core, built once: the same text for
    floats, non-ASCII text, escapes and values JSON has no type for (`default=str`)."""
    logger = logging.getLogger("test.access")
    fields = {"duration_ms": 0.1 + 0.2, "who": 'zoë \u2603 "q"\n', "path": PurePosixPath("/x")}
    with alone(), log_context(request_id="r1", route="/d\u00e9j\u00e0"):
        info_line(logger, "request", fields)
    [line] = sole_handler.getvalue().splitlines()
    head = {"ts": json.loads(line)["ts"], "level": "info", "logger": "test.access"}
    entry = {**head, "msg": "request", "request_id": "r1", "route": "/d\u00e9j\u00e0", **fields}
    assert line == logs._ENCODER.encode(entry)


def test_info_line_never_raises_into_the_request(sole_handler: io.StringIO) -> None:
    loop: list[object] = []
    loop.append(loop)  # no JSON for this: the ordinary path reports it, the request goes on
    with alone(), log_context(request_id="r1", odd=loop):
        info_line(logging.getLogger("test.access"), "request", {"status": 200})


def test_info_line_keeps_secrets_out(sole_handler: io.StringIO) -> None:
    with alone(), log_context(route=f"/discord/{SECRET}", method="POST"):
        info_line(logging.getLogger("test.access"), "request", {"status": 401})
    [line] = sole_handler.getvalue().splitlines()
    assert SECRET not in line
    assert json.loads(line)["route"] == f"/discord/{REDACTED}"


def test_info_line_honours_the_level(sole_handler: io.StringIO) -> None:
    logger = logging.getLogger("test.access")
    logger.setLevel(logging.WARNING)
    with alone():
        info_line(logger, "request", {"status": 200})
    assert sole_handler.getvalue() == ""


def test_info_line_reaches_any_other_listener_the_ordinary_way(
    sole_handler: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    # caplog's handler sits on the root next to ours: it must see the record, extras and all.
    with caplog.at_level(logging.INFO, logger="test.access"):
        info_line(logging.getLogger("test.access"), "request", {"status": 204})
    [record] = [r for r in caplog.records if r.name == "test.access"]
    assert (record.getMessage(), record.__dict__["status"]) == ("request", 204)
    assert len(sole_handler.getvalue().splitlines()) == 1  # and ours wrote it once


def test_one_access_line_per_request_with_method_path_status_and_duration(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="orchestrator.access"):
        client.get("/healthz")
        client.post("/discord", content=b"{}")
    lines = [r for r in caplog.records if r.name == "orchestrator.access"]
    assert [(r.__dict__["status"], r.getMessage()) for r in lines] == [
        (200, "request"),
        (401, "request"),
    ]
    for record in lines:
        assert isinstance(record.__dict__["duration_ms"], float)
