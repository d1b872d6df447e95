"""Structured logs: one JSON object per line, with the ids that tie a request to its work.

Every line carries the request id and, where known, the interaction id or the
GitHub delivery id (from a context variable the routers and the job runner
set), so one grep follows a click from the HTTP answer to the job's follow-up.

Secrets never reach a line: the formatter replaces every configured secret
value (and its obvious encodings) and anything shaped like a token (bot
tokens, bearer headers, GitHub tokens, interaction-webhook URLs) with
`[redacted]` before writing.
"""

from __future__ import annotations

import atexit
import base64
import contextvars
import functools
import json
import logging
import re
import select
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "orchestrator_log_context", default=None
)

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured duplicate of `msg`
}

# Token shapes; compiled when a line first needs them (`_token_patterns`).
_TOKEN_PATTERNS = (
    # Discord interaction/webhook tokens live in URL paths.
    r"(/webhooks/\d+/)[A-Za-z0-9_\-.]{20,}",
    # After any whitespace, or the two-character escape JSON writes a tab or a line break as.
    r"(?i)(\b(?:bot|bearer|token)(?:\s|\\[tnrf])+)[A-Za-z0-9_\-.=]{20,}",
    r"\b(gh[pousr]_)[A-Za-z0-9]{20,}",
    r"\b(github_pat_)[A-Za-z0-9_]{20,}",
)


@functools.cache
def _token_patterns() -> tuple[re.Pattern[str], ...]:
    """`_TOKEN_PATTERNS`, compiled once, the first time a line has a marker: compiling them
    cost ~1 ms of every cold start, whose lines have none."""
    return tuple(re.compile(pattern) for pattern in _TOKEN_PATTERNS)


# What `_TOKEN_PATTERNS` need to see in a (lowered) line before they can match. The words
# alone, not "bot " and the like: the pattern takes any whitespace after them (a tab, a
# no-break space, which JSON lines keep as they are), and a marker must hold wherever a
# pattern can match, or whether a token is redacted would depend on the rest of the text.
_MARKERS = (
    "/webhooks/",
    "bot",
    "bearer",
    "token",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
)
_GH_MARKERS = tuple(marker for marker in _MARKERS if marker.startswith("gh"))
REDACTED = "[redacted]"
# Between the texts `Redactor.each` redacts together: matched by no token pattern (not a
# word character, not whitespace, in no token's alphabet), and in no JSON line (the encoder
# escapes it), so a match never spans two texts and the split gives them back.
_SEPARATOR = "\x00"
# Built once: `json.dumps` with any non-default argument builds a new encoder per call,
# which was half the cost of encoding a log line (10 us against 4.5 us, measured).
_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)
# The same encoder's C core, built once. `JSONEncoder.encode` builds a fresh one (and its
# cycle-marker dict) for every call, a quarter of the cost of encoding an access line.
# Without cycle markers: an access line holds flat context fields and numbers, and a
# structure it cannot encode makes `info_line` fall back to the ordinary path.
_LINE_ENCODER: Callable[[Any, int], Any] | None = (
    None
    if c_make_encoder is None
    else c_make_encoder(
        None,
        _ENCODER.default,
        encode_basestring,
        None,
        _ENCODER.key_separator,
        _ENCODER.item_separator,
        False,
        False,
        True,
    )
)


def _has_marker(lowered: str) -> bool:
    # Substring tests, written out: ~0.9 us a line (a generator over `_MARKERS` measured
    # ~2 us, a regex alternation of the same markers ~2 us, case-insensitive ~40 us). The
    # five short GitHub token prefixes all start "gh", so one scan rules them all out.
    return (
        "/webhooks/" in lowered
        or "bot" in lowered
        or "bearer" in lowered
        or "token" in lowered
        or "github_pat_" in lowered
        or ("gh" in lowered and any(marker in lowered for marker in _GH_MARKERS))
    )


class Redactor:
    """Replaces known secret values and token-shaped strings in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._needles: list[str] = []
        # A secret holding `_SEPARATOR` could be replaced across two texts joined by `each`.
        self._joins_badly = False
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        for secret in secrets:
            if not secret or len(secret) < 6:
                continue  # too short to be a credential; replacing would shred logs
            for form in _encodings(secret):
                if form not in self._needles:
                    self._needles.append(form)
                    self._joins_badly = self._joins_badly or _SEPARATOR in form
        self._needles.sort(key=len, reverse=True)

    def each(self, texts: list[str]) -> list[str]:
        """`[self(text) for text in texts]`, in one pass over them all: the per-call work
        (the needle loop, `lower`, the marker scans) was half of what redacting a short line
        cost, and a loop turn's access lines are written together. Joined by a character
        no replacement can span (not in any pattern, nor in a needle, where `add` checks),
        so the texts come back one for one; if they do not (a text holding that character),
        each is redacted alone."""
        if len(texts) < 2 or self._joins_badly:
            return [self(text) for text in texts]
        redacted = self(_SEPARATOR.join(texts)).split(_SEPARATOR)
        if len(redacted) != len(texts):
            return [self(text) for text in texts]
        return redacted

    def __call__(self, text: str) -> str:
        for needle in self._needles:
            if needle in text:
                text = text.replace(needle, REDACTED)
        # The patterns only fire near these markers; most lines have none, and skipping the
        # regex passes keeps a log line cheap on the request path.
        if _has_marker(text.lower()):
            for pattern in _token_patterns():
                text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        return text


def _encodings(secret: str) -> Iterator[str]:
    """The forms a secret may take in a line: as is, URL-quoted, base64, hex."""
    yield secret
    yield urllib.parse.quote(secret, safe="")
    raw = secret.encode()
    yield base64.b64encode(raw).decode().rstrip("=")
    yield base64.urlsafe_b64encode(raw).decode().rstrip("=")
    yield raw.hex()


redactor = Redactor()


class log_context:  # lower case: used like the function it was, `with log_context(...):`
    """Add fields (request_id, interaction_id, delivery_id, job_id...) to every line within.

    A class, not `@contextmanager`: every request enters one, and a generator-based context
    manager costs ~2 us where this costs ~0.5."""

    __slots__ = ("_fields", "_token")

    def __init__(self, **fields: Any) -> None:
        self._fields = fields

    def __enter__(self) -> None:
        merged = {**(_context.get() or {})}
        for key, value in self._fields.items():
            if value is not None:
                merged[key] = value
        self._token = _context.set(merged)

    def __exit__(self, *exc: object) -> None:
        _context.reset(self._token)


def bind(**fields: Any) -> None:
    """Add fields to the current context (e.g. the interaction id once the body is parsed)."""
    current = _context.get()
    if current is None:
        return
    current.update({k: v for k, v in fields.items() if v is not None})


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {**(_context.get() or {})}
        extra = record.__dict__
        for key in extra.keys() - _STANDARD:  # what `extra=` added: a set difference in C
            if not key.startswith("_"):
                fields[key] = extra[key]
        if record.exc_info:
            fields["error"] = self.formatException(record.exc_info)
        level, msg = record.levelname.lower(), record.getMessage()
        return redactor(_render(round(record.created * 1000), level, record.name, msg, fields))


# Every line opens with these four, in this order; the time in seconds with its milliseconds.
_HEAD = frozenset(("ts", "level", "logger", "msg"))
_TS_TEXT = '{"ts": %d.%03d'
_HEAD_TEXT = _TS_TEXT + ', "level": %s, "logger": %s, "msg": %s'


def _render(
    ms: int,
    level: str,
    logger: str,
    msg: str,
    fields: dict[str, Any],
    encode: Callable[[dict[str, Any]], str] = _ENCODER.encode,
) -> str:
    """One line's JSON text: the head written as text, then `fields` in their order.

    The head is not handed to the encoder: no dictionary is built to hold it, its keys are
    not escaped again for every line, and the time is printed from whole milliseconds (no
    `round(t, 3)` and `repr` of a float, ~11k of a ~31k-instruction line). The head's own
    `%` format costs most of what that saves: the access line's template saves more. A
    field named like one of the head's (`extra={"level": ...}`) takes its place, and a head
    that is not text is written as JSON writes it (`null`), as when the line was one
    dictionary."""
    try:
        if fields.keys().isdisjoint(_HEAD):
            head = _HEAD_TEXT % (
                ms // 1000,
                ms % 1000,
                encode_basestring(level),
                encode_basestring(logger),
                encode_basestring(msg),
            )
            return head + ", " + encode(fields)[1:] if fields else head + "}"
    except TypeError:  # a head that is not text (`logging.makeLogRecord({})` has no name)
        pass
    return encode({"ts": ms / 1000, "level": level, "logger": logger, "msg": msg, **fields})


def info_line(logger: logging.Logger, msg: str, fields: dict[str, Any]) -> None:
    """`logger.info(msg, extra=fields)`, the same JSON line through the same handler, without
    the `LogRecord` machinery when nothing else could see the record.

    Every request writes one access line, and the logging module's record, level, filter
    and handler dispatch measured ~25 us of it on a ~140 us PING; this writes the identical
    line (same fields, same redaction, same stream, under the handler's lock). Any other
    handler or filter on the way (pytest's caplog, a developer's handler) sends the line the
    ordinary way, so nothing that listens to `logging` misses it.

    On an event loop the line is encoded and written at the end of the loop's turn, with
    the other lines of that turn (see `_pending`): its fields are taken now,
    so `fields` must not change afterwards. Elsewhere (a thread, a script) it is written now.
    """
    if not logger.isEnabledFor(logging.INFO):
        return
    handler = _sole_handler(logger)
    if handler is None:
        logger.info(msg, extra=fields)
        return
    context = _context.get()
    if context:
        fields = {**context, **fields}  # the formatter's order: the context's fields first
    elif fields.__class__ is not dict:
        fields = dict(fields)  # another mapping: the encoder writes only a dict as an object
    _enqueue(handler, (round(time.time() * 1000), logger.name, msg, fields))


# The access line's keys, written once (`_render_access`): only its values are rendered.
_ACCESS_KEYS = frozenset(("request_id", "route", "method", "status", "duration_ms")) | _HEAD
# JSON text of strings most access lines repeat (routes, methods, logger names, id names).
_TEXTS: dict[str, str] = {}
_TEXTS_MAX = 64  # the routes come from requests: a bounded cache, not one per path ever seen
# JSON text of the statuses and durations (positive, finite: `access_line` checks) access
# lines repeat. Printing an int or a float is most of what a `%d` or `%r` costs (~0.3 us
# each, more than a `%s`): a PING's duration is one of a few hundred hundredths of a ms.
# Two tables, not one: 200 and 200.0 are the same key, and print differently.
_STATUSES: dict[int, str] = {}
_DURATIONS: dict[float, str] = {}
_NUMBERS_MAX = 1024
# The last line's time and its text: lines logged in the same millisecond share it.
_last_ts: tuple[int, str] = (-1, "")


def _text(value: str) -> str:
    text = _TEXTS.get(value)
    if text is None:
        text = encode_basestring(value)
        if len(_TEXTS) < _TEXTS_MAX:
            _TEXTS[value] = text
    return text


def _number(table: dict[Any, str], value: float) -> str:
    """`repr(value)`, JSON's text of an int or a finite float, kept in `table` (bounded)."""
    text = repr(value)
    if len(table) < _NUMBERS_MAX and value > 0:  # 0.0 and -0.0 are one key, two texts
        table[value] = text
    return text


def access_line(
    logger: logging.Logger,
    msg: str,
    request_id: str,
    route: str,
    method: str,
    ids: dict[str, str],
    status: int,
    duration_ms: float,
) -> None:
    """`info_line(logger, msg, {"request_id": ..., "route": ..., "method": ..., **ids,
    "status": ..., "duration_ms": ...})`: the same line, character for character, rendered
    from a template whose keys are written once (`_render_access`).

    Every request has one, and most (every PING) are answered by the edge, whose line has
    exactly these fields. Through a dictionary and the encoder the line took ~43k
    instructions (`valgrind`; each key escaped again, each value dispatched by type); from
    the template, ~26k. Here only its values are taken (a tuple, the time); the text is
    rendered with the turn's other lines (`_pending`), where the format's code stays hot:
    under uvicorn, rendering it here cost a PING ~3.5% of its throughput (a `%` template).
    Where the template could differ from the dictionary (a log context, an id named like
    one of the fixed keys or the head's, a status that is not an int, a duration that is
    not a finite float, text that is not a `str`, another listener), the line goes the
    ordinary way. The ids are taken as they are at the call: the line says what they were
    then, whatever becomes of the caller's dict."""
    if not logger.isEnabledFor(logging.INFO):
        return
    handler = _sole_handler(logger)
    if (
        handler is not None
        and not _context.get()
        and ids.keys().isdisjoint(_ACCESS_KEYS)
        # `repr` prints an int and a finite float as JSON does: not a bool (`true`), an
        # int subclass, or NaN (`NaN` in JSON, `nan` from `repr`).
        and status.__class__ is int
        and duration_ms.__class__ is float
        and duration_ms - duration_ms == 0.0
    ):
        _enqueue(
            handler,
            (
                round(time.time() * 1000),
                logger.name,
                msg,
                request_id,
                route,
                method,
                # Its items as they are now: the caller's dict (the scope's) may change later.
                tuple(ids.items()),
                status,
                duration_ms,
            ),
        )
        return
    info_line(logger, msg, _access_fields(request_id, route, method, ids, status, duration_ms))


def _access_fields(
    request_id: str,
    route: str,
    method: str,
    ids: Iterable[tuple[str, str]] | dict[str, str],
    status: int,
    duration_ms: float,
) -> dict[str, Any]:
    """The access line as `info_line`'s fields, in the line's order: the ordinary way."""
    fields: dict[str, Any] = {"request_id": request_id, "route": route, "method": method}
    fields.update(ids)
    fields["status"] = status
    fields["duration_ms"] = duration_ms
    return fields


# An access line's values, as `access_line` took them: the time in milliseconds, the
# logger's name, the message, then its own arguments from `request_id` on.
_AccessValues = tuple[int, str, str, str, str, str, tuple[tuple[str, str], ...], int, float]
# A line still to be written: `info_line`'s (time in milliseconds, logger name, message,
# fields) or `access_line`'s values.
_Pending = tuple[int, str, str, dict[str, Any]] | _AccessValues


def _render_access(line: _AccessValues) -> str:
    """The access line's text (`access_line`): one f-string, with the texts above reused, at
    ~1.7 us where a `%` template took ~3.6. Text that is not a `str` (a `str()` of it would
    be printed, where JSON writes it otherwise), or a value the template cannot print (an
    int past Python's digit limit), is rendered the ordinary way: one line's problem never
    costs the turn's other lines."""
    global _last_ts
    ms, logger, msg, request_id, route, method, ids, status, duration_ms = line
    texts = _TEXTS  # `texts.get(x) or _text(x)`: a dict lookup, a call the first time
    try:
        named = ""
        for key, value in ids:
            named += f", {texts.get(key) or _text(key)}: {encode_basestring(value)}"
        last, ts = _last_ts
        if last != ms:
            ts = f"{ms // 1000}.{ms % 1000:03d}"
            _last_ts = (ms, ts)
        return (
            f'{{"ts": {ts}, "level": "info", "logger": {texts.get(logger) or _text(logger)}, '
            f'"msg": {texts.get(msg) or _text(msg)}, '
            f'"request_id": {encode_basestring(request_id)}, '
            f'"route": {texts.get(route) or _text(route)}, '
            f'"method": {texts.get(method) or _text(method)}{named}, '
            f'"status": {_STATUSES.get(status) or _number(_STATUSES, status)}, '
            f'"duration_ms": {_DURATIONS.get(duration_ms) or _number(_DURATIONS, duration_ms)}}}'
        )
    except Exception:  # text that is not a `str`, or a value beyond the template: the encoder's
        fields = _access_fields(request_id, route, method, ids, status, duration_ms)
        return _encode((ms, logger, msg, fields))  # its error line, for what it cannot encode


def _enqueue(handler: JSONHandler, line: _Pending) -> None:
    """Queue a line for the end of the running loop's turn, or write it now off a loop."""
    global _scheduled
    asyncio = sys.modules.get("asyncio")  # never imported: no loop can be running
    loop = None if asyncio is None else asyncio.events._get_running_loop()
    _pending.append(line)
    if loop is None:
        handler.acquire()
        try:
            handler.write_pending()
        finally:
            handler.release()
    elif _scheduled is not loop:
        # Once per turn and loop. Another loop's turn (another thread's) writes this line if
        # it comes first; a loop that closed with its turn unrun is not waited for.
        _scheduled = loop
        loop.call_soon(flush)


# Lines logged on an event loop and not yet written, oldest first. Under load a loop turn
# answers several requests (eight on average in `make bench`'s PING run), and encoding,
# redacting and writing their access lines together once the turn's callbacks are done
# costs a third less than doing it per line between requests (27 against 17 us a line,
# measured in the server): the encoder, the redactor and the stream stay in the CPU's
# caches, and one `write(2)` carries up to `PIPE_BUF` bytes of lines (about sixteen).
# Every other write of the handler (`JSONHandler.emit`, `flush`) writes these first, so
# the log keeps the order lines were logged in.
# Each is `info_line`'s (rendered by `_render`) or `access_line`'s (`_render_access`),
# redacted when written, either way.
_pending: list[_Pending] = []
# What one write(2) to a pipe may hold and stay whole (POSIX guarantees at least 512).
_PIPE_BUF = getattr(select, "PIPE_BUF", 512)
# The loop whose turn will write `_pending` (`info_line` asked it to), if any.
_scheduled: Any = None


def flush() -> None:
    """Write the lines still pending now: at the end of a Lambda invocation (the container
    may be frozen before its loop turns again), at exit, and wherever a test reads the log."""
    global _scheduled
    _scheduled = None
    handler = _handler
    if handler is None:
        return
    # Under the lock even with nothing pending: another thread may have taken the lines
    # and be writing them, and the caller must find them written when this returns.
    handler.acquire()
    try:
        handler.write_pending()
    finally:
        handler.release()


def _line_encode(fields: dict[str, Any]) -> str:
    return "".join(_LINE_ENCODER(fields, 0)) if _LINE_ENCODER else _ENCODER.encode(fields)


def _encode(line: tuple[int, str, str, dict[str, Any]]) -> str:
    """A pending line's JSON text, exactly as `JSONFormatter` would write it; for a value JSON
    cannot hold (a cycle, a `str()` that raises), still a line: what it could say, and why
    not the rest."""
    ms, logger, msg, fields = line
    try:
        return _render(ms, "info", logger, msg, fields, _line_encode)
    except Exception:
        return _render(ms, "info", logger, msg, {"error": "fields could not be encoded as JSON"})


def _chunks(lines: list[str]) -> Iterator[list[str]]:
    """The lines in as few groups as keep each group's write atomic on a pipe (at most
    `PIPE_BUF` bytes, whole lines only): several processes (uvicorn workers) may share the
    same stderr pipe, and a longer write could interleave with theirs mid-line. A line
    longer than that is written alone, as it always was."""
    chunk: list[str] = []
    size = 0
    for line in lines:
        # In bytes, as stderr writes them (a lone surrogate as its `\\ud800` escape).
        length = len(line) if line.isascii() else len(line.encode("utf-8", "backslashreplace"))
        if chunk and size + length > _PIPE_BUF:
            yield chunk
            chunk, size = [], 0
        chunk.append(line)
        size += length
    if chunk:
        yield chunk


class JSONHandler(logging.StreamHandler[Any]):
    """Our one handler: JSON lines on a stream, lines pending from `info_line` first."""

    def write_pending(self) -> None:
        """Encode, redact and write every pending line. Call with the lock held."""
        if not _pending:
            return
        taken = _pending[:]
        # Only what was taken: a line another thread adds meanwhile stays for the next write.
        del _pending[: len(taken)]
        texts = [_encode(line) if len(line) == 4 else _render_access(line) for line in taken]
        redacted = redactor.each(texts)
        terminator = self.terminator
        text = terminator.join(redacted) + terminator
        # A turn's lines (~2 KB under load) nearly always fit one atomic write whole: then
        # no line is measured and none is copied on its own.
        if len(text) <= _PIPE_BUF and text.isascii():
            if self._write(text) or len(redacted) == 1:
                return
            # One line the stream refuses costs no other line: each is tried alone.
            chunks: Iterable[list[str]] = [[line + terminator] for line in redacted]
        else:
            chunks = _chunks([line + terminator for line in redacted])
        for chunk in chunks:
            if not self._write("".join(chunk)) and len(chunk) > 1:
                for line in chunk:  # one line the stream refuses costs no other line
                    self._write(line)

    def _write(self, text: str) -> bool:
        """One `write(2)`; a failure is reported as `StreamHandler.emit` reports it, never
        raised into a request."""
        try:
            self.stream.write(text)
            self.stream.flush()
        except Exception:
            self.handleError(logging.makeLogRecord({"msg": text[:200], "levelno": logging.INFO}))
            return False
        return True

    def emit(self, record: logging.LogRecord) -> None:
        if self is _handler:  # the pending lines are the configured handler's to write
            self.write_pending()  # called with the lock held (`Handler.handle`)
        super().emit(record)


def _sole_handler(logger: logging.Logger) -> JSONHandler | None:
    """Our JSON handler if it is the only thing that would see an INFO record of `logger`
    (no filters, no other handler on the way to the root); else None."""
    handler = _handler
    if handler is None or handler.filters or handler.level > logging.INFO:
        return None
    node: logging.Logger | None = logger
    while node is not None:
        if node.filters:
            return None
        if node.parent is None:  # the root
            handlers = node.handlers
            return handler if len(handlers) == 1 and handlers[0] is handler else None
        if node.handlers or not node.propagate:
            return None
        node = node.parent
    return None


_configured = False
_handler: JSONHandler | None = None


def configure(level: str = "INFO", secrets: Iterable[str] = (), stream: Any = None) -> None:
    """JSON lines on stderr for the whole process; idempotent, secrets accumulate."""
    global _configured, _handler
    redactor.add(secrets)
    root = logging.getLogger()
    root.setLevel(level.upper())
    if _configured:
        return
    # The logging HOWTO's own optimisations: our lines carry no caller, thread or process
    # fields, so skip collecting them (the caller lookup walks the stack on every line).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = JSONHandler(stream or sys.stderr)
    handler.setFormatter(JSONFormatter())
    handler.name = "orchestrator-json"
    root.handlers = [h for h in root.handlers if h.name != "orchestrator-json"]
    root.addHandler(handler)
    _handler = handler
    # What an event loop's last turn left pending (a server stopped between turns).
    atexit.register(flush)
    # Their own access lines (uvicorn's, Mangum's "POST /discord 200") repeat ours, with less.
    for noisy in ("uvicorn.access", "mangum", "httpx", "httpcore", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _configured = True
