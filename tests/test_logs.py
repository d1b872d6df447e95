from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import threading
import urllib.parse
from collections.abc import Callable
from http import HTTPStatus
from pathlib import PurePosixPath
from types import MappingProxyType
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import example, given
from hypothesis import strategies as st

from orchestrator import logs
from orchestrator.logs import REDACTED, JSONFormatter, Redactor, bind, info_line, log_context
from tests.support.logs import alone, in_one_turn, json_handler

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


_PIECES = [SECRET, "\x00", "\n", " ", "Bot ", "bot", "token ", "/webhooks/1/", "ghp_", "_", "{"]
_PIECES += ["github_pat_", "A" * 20, "x", '"', "\u2603", "sec", "ret-value"]


@given(
    st.lists(st.lists(st.sampled_from(_PIECES), max_size=8).map("".join), max_size=6),
    st.sampled_from([[SECRET], [SECRET, "sec\x00ret-value"], [], ["token abcdef"]]),
)
# A secret spanning two texts, its lost separator made up by a text holding one.
@example(["a\x00b", "sec", "ret-value"], ["sec\x00ret-value"])
# A token after whitespace other than a space: redacted alone as next to a "Bot " line.
@example(["Bot ", "bot\n" + "A" * 20], [])
def test_redacting_texts_together_is_redacting_each_alone(
    texts: list[str], secrets: list[str]
) -> None:
    """`each` joins the texts to redact them in one pass: never a replacement across two
    of them (a token pattern, a secret holding the separator), and one text back for each,
    whatever they hold (the separator included)."""
    redactor = Redactor(secrets)
    assert redactor.each(texts) == [redactor(text) for text in texts]


@pytest.mark.parametrize("space", [" ", "\t", "\n", "\u00a0", "\u2003", "\u2028", "\x85"])
def test_a_token_after_any_whitespace_is_redacted(space: str) -> None:
    """The pattern takes any whitespace after `Bot`; its marker check must let it run."""
    line = json.dumps({"msg": f"auth Bot{space}{'A' * 24}"}, ensure_ascii=False)
    assert "A" * 24 not in Redactor()(line) and REDACTED in Redactor()(line)


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
    handler = json_handler(monkeypatch, stream)
    monkeypatch.setattr(logging.getLogger(), "handlers", [handler])
    monkeypatch.setattr(logs, "redactor", Redactor([SECRET]))
    logging.getLogger("test.access").setLevel(logging.INFO)
    return stream


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


# A time whose milliseconds print the same from whole milliseconds and from `repr(float)`.
NOW = 1_765_051_234.123


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> float:
    """`time.time()` stopped at `NOW` (lines and `LogRecord.created` both read it)."""
    monkeypatch.setattr(logs.time, "time", lambda: NOW)
    return NOW


def test_info_line_encodes_exactly_as_the_formatter(
    sole_handler: io.StringIO, frozen: float
) -> None:
    """The access line's encoder is the formatter's C core, built once: the same text for
    floats, non-ASCII text, escapes and values JSON has no type for (`default=str`)."""
    logger = logging.getLogger("test.access")
    fields = {"duration_ms": 0.1 + 0.2, "who": 'zoë \u2603 "q"\n', "path": PurePosixPath("/x")}
    with alone(), log_context(request_id="r1", route="/d\u00e9j\u00e0"):
        info_line(logger, "request", fields)
        logger.info("request", extra=fields)  # the formatter's own line, via a LogRecord
    fast, slow = sole_handler.getvalue().splitlines()
    head = {"ts": frozen, "level": "info", "logger": "test.access"}
    entry = {**head, "msg": "request", "request_id": "r1", "route": "/d\u00e9j\u00e0", **fields}
    assert fast == logs._ENCODER.encode(entry)
    # The formatter takes `extra=` as a set (its order is the set's), the same fields.
    assert json.loads(slow) == json.loads(fast)


@pytest.mark.parametrize(
    ("now", "text"),
    [(1_765_051_234.1, "1765051234.100"), (1_765_051_234.005, "1765051234.005"), (7.0, "7.000")],
)
def test_the_time_is_printed_from_whole_milliseconds(
    sole_handler: io.StringIO, monkeypatch: pytest.MonkeyPatch, now: float, text: str
) -> None:
    monkeypatch.setattr(logs.time, "time", lambda: now)
    logger = logging.getLogger("test.access")
    with alone():
        info_line(logger, "request", {"status": 200})
        logger.info("request", extra={"status": 200})
    for line in sole_handler.getvalue().splitlines():
        assert line.startswith(f'{{"ts": {text}, "level": "info",')
        assert json.loads(line)["ts"] == pytest.approx(now, abs=0.0005)


def test_a_record_without_a_name_is_still_a_line(frozen: float) -> None:
    record = logging.makeLogRecord({"msg": "x", "status": 200})
    line = JSONFormatter().format(record)
    assert json.loads(line)["logger"] is None
    assert json.loads(line)["status"] == 200


def test_a_field_named_like_the_head_takes_its_place_as_in_one_dictionary(
    sole_handler: io.StringIO, frozen: float
) -> None:
    logger = logging.getLogger("test.access")
    with alone():
        info_line(logger, "request", {"level": "loud", "status": 200})
        logger.info("request", extra={"level": "loud", "status": 200})
    for line in sole_handler.getvalue().splitlines():
        assert line == logs._ENCODER.encode(
            {
                "ts": frozen,
                "level": "loud",
                "logger": "test.access",
                "msg": "request",
                "status": 200,
            }
        )


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


def written(stream: io.StringIO, field: str) -> list[Any]:
    """`field` of each line written to `stream`, in order."""
    return [json.loads(line)[field] for line in stream.getvalue().splitlines()]


class Writes(io.StringIO):
    """A stream that counts its writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@pytest.fixture
def counted(sole_handler: io.StringIO) -> Writes:
    stream = Writes()
    assert logs._handler is not None
    logs._handler.setStream(stream)
    return stream


def test_lines_logged_on_a_loop_are_written_together_at_the_end_of_its_turn(
    counted: Writes, frozen: float
) -> None:
    logger = logging.getLogger("test.access")

    async def one_turn() -> None:
        with alone():
            for status in (200, 401, 413):
                info_line(logger, "request", {"request_id": f"r{status}", "status": status})
            assert counted.getvalue() == ""  # this turn is still answering
            await asyncio.sleep(0)
            assert counted.writes == 1

    asyncio.run(one_turn())
    lines = counted.getvalue().splitlines()
    assert written(counted, "status") == [200, 401, 413]
    for line in lines:  # each the line the formatter writes
        entry = json.loads(line)
        head = {"ts": frozen, "level": "info", "logger": "test.access", "msg": "request"}
        fields = {"request_id": entry["request_id"], "status": entry["status"]}
        assert line == logs._ENCODER.encode({**head, **fields})


def test_an_ordinary_line_is_written_after_the_pending_ones(counted: Writes) -> None:
    logger = logging.getLogger("test.access")

    def requests() -> None:
        info_line(logger, "request", {"status": 200})
        logger.warning("after the request")

    in_one_turn(requests)
    assert written(counted, "msg") == ["request", "after the request"]


def test_a_line_written_off_the_loop_writes_the_pending_ones_first(counted: Writes) -> None:
    logger = logging.getLogger("test.access")

    def requests() -> None:
        info_line(logger, "request", {"status": 200})
        worker = threading.Thread(target=info_line, args=(logger, "job", {"status": 1}))
        worker.start()
        worker.join()
        assert written(counted, "msg") == ["request", "job"]

    in_one_turn(requests)
    assert len(counted.getvalue().splitlines()) == 2  # nothing twice


def test_flush_writes_what_is_pending_at_once(counted: Writes) -> None:
    def requests() -> None:
        info_line(logging.getLogger("test.access"), "request", {"status": 200})
        logs.flush()
        assert written(counted, "status") == [200]

    in_one_turn(requests)
    assert len(counted.getvalue().splitlines()) == 1


def test_a_loop_that_never_turns_again_does_not_hold_later_lines(
    counted: Writes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loop asked to write the pending lines, then closed before its turn ended (a test's,
    a script's): the next loop's lines are written at the end of its own turn."""
    gone = asyncio.new_event_loop()
    gone.close()
    monkeypatch.setattr(logs, "_scheduled", gone)

    async def one_turn() -> None:
        with alone():
            info_line(logging.getLogger("test.access"), "request", {"status": 200})
            await asyncio.sleep(0)
            assert json.loads(counted.getvalue())["status"] == 200

    asyncio.run(one_turn())


def test_pending_lines_are_redacted_too(counted: Writes) -> None:
    def requests() -> None:
        with log_context(route=f"/discord/{SECRET}"):
            info_line(logging.getLogger("test.access"), "request", {"status": 401})

    in_one_turn(requests)
    assert SECRET not in counted.getvalue()
    assert json.loads(counted.getvalue())["route"] == f"/discord/{REDACTED}"


def test_a_line_json_cannot_hold_is_still_written(counted: Writes) -> None:
    loop: list[object] = []
    loop.append(loop)

    def requests() -> None:
        with log_context(request_id="r1", odd=loop):
            info_line(logging.getLogger("test.access"), "request", {"status": 200})

    in_one_turn(requests)
    entry = json.loads(counted.getvalue())
    assert (entry["msg"], entry["error"]) == ("request", "fields could not be encoded as JSON")


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text for this")


@pytest.mark.parametrize(
    "log_bad_line",
    [
        lambda logger: info_line(logger, "request", {"request_id": Unprintable()}),
        # Rendered with the turn's lines: a status past Python's digit limit.
        lambda logger: logs.access_line(logger, "request", **{**ACCESS, "status": 10**5000}),
    ],
    ids=["info_line", "access_line"],
)
def test_a_line_that_cannot_be_encoded_costs_no_other_line_and_raises_nowhere(
    counted: Writes, log_bad_line: Callable[[logging.Logger], None]
) -> None:
    logger = logging.getLogger("test.access")

    def requests() -> None:
        info_line(logger, "request", {"request_id": "before"})
        log_bad_line(logger)
        info_line(logger, "request", {"request_id": "after"})
        logger.warning("unrelated")  # writes the pending lines first: must not raise

    in_one_turn(requests)
    entries = [json.loads(line) for line in counted.getvalue().splitlines()]
    assert [e.get("request_id", e.get("error")) for e in entries] == [
        "before",
        "fields could not be encoded as JSON",
        "after",
        None,
    ]
    assert entries[-1]["msg"] == "unrelated"


_LINE = st.text(st.characters(blacklist_characters="\n"), max_size=3000).map(lambda t: t + "\n")


@given(st.lists(_LINE, max_size=40))
def test_chunks_are_whole_lines_each_a_write_a_pipe_keeps_whole(lines: list[str]) -> None:
    chunks = list(logs._chunks(lines))
    assert [line for chunk in chunks for line in chunk] == lines
    for chunk in chunks:
        size = sum(len(line.encode("utf-8", "backslashreplace")) for line in chunk)
        assert len(chunk) == 1 or size <= logs._PIPE_BUF


class Refusing(Writes):
    """A stream that cannot write some text (as a strict stream refuses a lone surrogate)."""

    def write(self, text: str) -> int:
        if "refused" in text:
            raise UnicodeEncodeError("utf-8", text, 0, 1, "refused here")
        return super().write(text)


def test_a_line_the_stream_refuses_costs_no_other_line(
    counted: Writes, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = Refusing()
    assert logs._handler is not None
    logs._handler.setStream(stream)
    monkeypatch.setattr(logging, "raiseExceptions", False)  # reported, quietly, here
    logger = logging.getLogger("test.access")

    def requests() -> None:
        for request_id in ("before", "refused", "after"):
            info_line(logger, "request", {"request_id": request_id})

    in_one_turn(requests)
    assert written(stream, "request_id") == ["before", "after"]


def test_a_turns_many_lines_go_out_in_writes_a_pipe_keeps_whole(counted: Writes) -> None:
    logger = logging.getLogger("test.access")

    def requests() -> None:
        for n in range(60):
            info_line(logger, "request", {"request_id": f"{n:016x}", "status": 200})

    in_one_turn(requests)
    assert len(counted.getvalue().splitlines()) == 60
    assert counted.writes == len(list(logs._chunks(counted.getvalue().splitlines(True))))
    assert counted.writes > 1


def test_a_turns_lines_are_measured_in_bytes_not_characters(counted: Writes) -> None:
    """Fewer characters than `PIPE_BUF`, more bytes: still split into writes a pipe keeps
    whole."""
    logger = logging.getLogger("test.access")
    each = logs._PIPE_BUF // 8  # characters of text per line; three bytes each in UTF-8

    def requests() -> None:
        for n in range(4):
            info_line(logger, "request", {"request_id": "\u2603" * each, "status": n})

    in_one_turn(requests)
    assert len(counted.getvalue()) < logs._PIPE_BUF < len(counted.getvalue().encode())
    assert written(counted, "status") == [0, 1, 2, 3]
    assert counted.writes > 1


def test_flush_returns_only_once_a_write_another_thread_started_is_done(counted: Writes) -> None:
    """A test (or the Lambda handler) that flushes, then reads, must find every line logged
    before: also one that another thread has taken and is writing right now."""
    started, slow = threading.Event(), threading.Event()
    write = counted.write

    def slow_write(text: str) -> int:
        started.set()
        slow.wait(0.5)  # the other thread's write, taking its time
        return write(text)

    counted.write = slow_write  # type: ignore[method-assign]
    with alone():
        writer = threading.Thread(
            target=info_line, args=(logging.getLogger("test.access"), "job", {"status": 1})
        )
        writer.start()
        assert started.wait(5)
        logs.flush()
        assert json.loads(counted.getvalue())["msg"] == "job"
        slow.set()
        writer.join()


def test_another_json_handler_leaves_the_pending_lines_to_ours(counted: Writes) -> None:
    elsewhere = io.StringIO()
    other = logs.JSONHandler(elsewhere)
    other.setFormatter(JSONFormatter())
    logger = logging.getLogger("test.access")

    def requests() -> None:
        info_line(logger, "request", {"status": 200})
        other.handle(logging.makeLogRecord({"name": "x", "msg": "elsewhere", "levelno": 30}))
        assert written(elsewhere, "msg") == ["elsewhere"]  # and only that

    in_one_turn(requests)
    assert written(counted, "status") == [200]


# --- access_line: the edge's access line, from a template ---------------------------------

ACCESS = {
    "request_id": "0123456789abcdef",
    "route": "/discord",
    "method": "POST",
    "ids": {"interaction_id": "1100000000000000003"},
    "status": 200,
    "duration_ms": 0.12,
}


def _as_fields(access: dict[str, Any]) -> dict[str, Any]:
    """What `info_line` is given for the same line: the ids between method and status."""
    named = {k: v for k, v in access.items() if k not in ("ids", "status", "duration_ms")}
    return {
        **named,
        **access["ids"],
        "status": access["status"],
        "duration_ms": access["duration_ms"],
    }


def _both_ways(stream: io.StringIO, access: dict[str, Any]) -> tuple[str, str]:
    """The line `access_line` writes for `access`, then the one `info_line` writes for it."""
    logger = logging.getLogger("test.access")
    with alone():
        logs.access_line(logger, "request", **access)
        info_line(logger, "request", _as_fields(access))
    template, dictionary = stream.getvalue().splitlines()
    return template, dictionary


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"ids": {}},
        {"ids": {"delivery_id": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}},
        {"ids": {"interaction_id": "1", "delivery_id": 'odd "id"\\'}},
        {"request_id": 'a "quoted"\\ id \u2603', "route": "/d\u00e9j\u00e0/", "method": "PATCH"},
        {"status": 413, "duration_ms": 1234.5},
        {"duration_ms": 0.1 + 0.2},
    ],
)
def test_access_line_writes_what_info_line_writes(
    sole_handler: io.StringIO, frozen: float, change: dict[str, Any]
) -> None:
    access = {**ACCESS, **change}
    template, dictionary = _both_ways(sole_handler, access)
    assert template == dictionary
    assert json.loads(template) == {
        "ts": frozen,
        "level": "info",
        "logger": "test.access",
        "msg": "request",
        **_as_fields(access),
    }


def test_access_line_in_a_log_context_carries_its_fields_as_info_line_does(
    sole_handler: io.StringIO, frozen: float
) -> None:
    logger = logging.getLogger("test.access")
    with alone(), log_context(job_id="j1", route="/elsewhere"):
        logs.access_line(logger, "request", **ACCESS)
        info_line(logger, "request", _as_fields(ACCESS))
    template, dictionary = sole_handler.getvalue().splitlines()
    assert template == dictionary
    assert json.loads(template)["job_id"] == "j1"


@pytest.mark.parametrize("named", ["status", "request_id", "msg", "ts", "level", "logger"])
def test_access_line_with_an_id_named_like_a_fixed_field_writes_one_of_each(
    sole_handler: io.StringIO, frozen: float, named: str
) -> None:
    access = {**ACCESS, "ids": {named: "spoofed", "interaction_id": "1"}}
    template, dictionary = _both_ways(sole_handler, access)
    assert template == dictionary
    assert template.count(f'"{named}"') == 1


@pytest.mark.parametrize(
    "change",
    [
        {"status": True},  # JSON `true`, where `%d` would print 1
        {"status": HTTPStatus.OK},
        {"duration_ms": float("nan")},  # JSON `NaN`, where `%r` would print nan
        {"duration_ms": float("inf")},
        {"duration_ms": 3},
        {"request_id": 42},
        {"ids": {"interaction_id": 7}},
        {"route": None},
    ],
)
def test_access_line_outside_its_types_writes_what_info_line_writes(
    sole_handler: io.StringIO, frozen: float, change: dict[str, Any]
) -> None:
    """What `log_answer` never passes still gets the ordinary line, never an error."""
    access = {**ACCESS, **change}
    template, dictionary = _both_ways(sole_handler, access)
    assert template == dictionary


def test_info_line_takes_any_mapping_of_fields(sole_handler: io.StringIO, frozen: float) -> None:
    logger = logging.getLogger("test.access")
    with alone():
        info_line(logger, "request", MappingProxyType({"status": 200}))  # type: ignore[arg-type]
    assert json.loads(sole_handler.getvalue())["status"] == 200


def test_access_line_reaches_any_other_listener_the_ordinary_way(
    sole_handler: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="test.access"):
        logs.access_line(logging.getLogger("test.access"), "request", **ACCESS)
    [record] = [r for r in caplog.records if r.name == "test.access"]
    assert {k: record.__dict__[k] for k in _as_fields(ACCESS)} == _as_fields(ACCESS)


def test_access_line_honours_the_level_and_keeps_secrets_out(sole_handler: io.StringIO) -> None:
    logger = logging.getLogger("test.access")
    with alone():
        logger.setLevel(logging.WARNING)
        logs.access_line(logger, "request", **ACCESS)
        assert sole_handler.getvalue() == ""
        logger.setLevel(logging.INFO)
        logs.access_line(logger, "request", **{**ACCESS, "request_id": f"x{SECRET}x"})
    [line] = sole_handler.getvalue().splitlines()
    assert SECRET not in line
    assert json.loads(line)["request_id"] == f"x{REDACTED}x"


def test_access_lines_remember_a_bounded_number_of_texts(
    sole_handler: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Routes come from requests: the texts kept for reuse stop growing at their cap, and
    a route past it is still written right."""
    monkeypatch.setattr(logs, "_TEXTS", {})
    logger = logging.getLogger("test.access")
    with alone():
        for n in range(logs._TEXTS_MAX + 20):
            logs.access_line(logger, "request", **{**ACCESS, "route": f"/r{n}"})
    assert len(logs._TEXTS) == logs._TEXTS_MAX
    routes = written(sole_handler, "route")  # type: ignore[arg-type]
    assert routes == [f"/r{n}" for n in range(logs._TEXTS_MAX + 20)]


@pytest.mark.parametrize(
    "durations",
    [
        [200.0],  # after a status of 200: equal keys, printed "200" and "200.0"
        [0.0, -0.0, 0.0],  # equal keys, printed "0.0" and "-0.0"
        [0.5, 1.0, 0.5, 1e-07, 1e16],
    ],
)
def test_access_lines_print_each_number_as_json_does_whatever_came_before(
    sole_handler: io.StringIO,
    frozen: float,
    monkeypatch: pytest.MonkeyPatch,
    durations: list[float],
) -> None:
    """Statuses and durations are printed once and their text reused: an int and a float that
    compare equal, or the two zeros, are still each printed as JSON prints it."""
    monkeypatch.setattr(logs, "_STATUSES", {})
    monkeypatch.setattr(logs, "_DURATIONS", {})
    for duration in durations:
        sole_handler.seek(0)
        sole_handler.truncate()
        template, dictionary = _both_ways(sole_handler, {**ACCESS, "duration_ms": duration})
        assert template == dictionary
        assert template.endswith(f'"duration_ms": {json.dumps(duration)}}}')


def test_access_lines_remember_a_bounded_number_of_numbers(
    sole_handler: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs, "_STATUSES", {})
    monkeypatch.setattr(logs, "_DURATIONS", {})
    logger = logging.getLogger("test.access")
    count = logs._NUMBERS_MAX + 20
    with alone():
        for n in range(count):
            logs.access_line(logger, "request", **{**ACCESS, "status": n, "duration_ms": n + 0.5})
    assert len(logs._STATUSES) == len(logs._DURATIONS) == logs._NUMBERS_MAX
    assert written(sole_handler, "status") == list(range(count))
    assert written(sole_handler, "duration_ms") == [n + 0.5 for n in range(count)]


def test_access_lines_carry_each_its_own_time(
    sole_handler: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The time's text is reused by lines of the same millisecond, and only by them."""
    logger = logging.getLogger("test.access")
    times = [1_700_000_000.0012, 1_700_000_000.0012, 1_700_000_000.0098, 1_700_000_001.0004]
    with alone():
        for at in times:
            monkeypatch.setattr(logs.time, "time", lambda at=at: at)
            logs.access_line(logger, "request", **ACCESS)
    assert written(sole_handler, "ts") == [round(at * 1000) / 1000 for at in times]
    assert sole_handler.getvalue().splitlines()[2].startswith('{"ts": 1700000000.010, ')


def test_an_access_line_says_what_its_ids_were_when_it_was_logged(counted: Writes) -> None:
    """The ids are the caller's dict (the edge's, in the scope): changed after the call, the
    line still says what they were, and says each field once."""
    logger = logging.getLogger("test.access")

    def requests() -> None:
        ids = {"interaction_id": "1"}
        logs.access_line(logger, "request", **{**ACCESS, "ids": ids})
        ids["interaction_id"] = "later"
        ids["status"] = "spoofed"

    in_one_turn(requests)
    [line] = counted.getvalue().splitlines()
    assert json.loads(line)["interaction_id"] == "1"
    assert line.count('"status"') == 1 and json.loads(line)["status"] == 200
