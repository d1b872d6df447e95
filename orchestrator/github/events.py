"""Webhook events: the raw payload plus lenient, typed accessors.

GitHub adds fields and enum values without notice and payloads differ
between repository, organisation and App hooks, so nothing here raises on a
missing or oddly typed key: accessors return None/defaults and the handler
decides what that means. Payloads stay plain dicts all the way through.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs


class MalformedPayload(ValueError):
    """The body is neither a JSON object nor a form with a JSON `payload` field."""


def dig(data: Any, *path: str | int) -> Any:
    """`dig(p, "workflow_run", "head_commit", "message")`, None wherever the path breaks."""
    for key in path:
        if isinstance(key, int):
            if not isinstance(data, list) or not -len(data) <= key < len(data):
                return None
            data = data[key]
        elif isinstance(data, dict):
            data = data.get(key)
        else:
            return None
    return data


def text(data: Any, *path: str | int) -> str | None:
    value = dig(data, *path)
    return value if isinstance(value, str) else None


# GitHub's ids and counters are 64-bit; a larger "number" is not GitHub's and would only
# overflow the arithmetic built on it (`run_attempt: 10**400` as a float).
_INT_BOUND = 2**63


def number(data: Any, *path: str | int) -> int | None:
    value = dig(data, *path)
    if isinstance(value, int) and not isinstance(value, bool) and -_INT_BOUND < value < _INT_BOUND:
        return value
    return None


def timestamp(data: Any, *path: str | int) -> float | None:
    """An ISO 8601 time (GitHub's `2026-11-29T04:00:00Z`) as Unix seconds."""
    value = text(data, *path)
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def parse_body(body: str | bytes | bytearray, content_type: str | None) -> dict[str, Any]:
    """JSON bodies, or `application/x-www-form-urlencoded` with the JSON in `payload=`.

    Objects are pruned as they are parsed (`_prune_object`): long strings cut, long lists
    shortened, nested copies of repositories summarised. Handlers only ever see the
    slimmed payload, and pruning while parsing keeps a 25 MB delivery from costing 4x
    its size in Python objects.
    """
    kind = (content_type or "application/json").split(";")[0].strip().lower()
    try:
        text = body if isinstance(body, str) else body.decode("utf-8")
        if kind == "application/x-www-form-urlencoded":
            fields = parse_qs(text, strict_parsing=False, max_num_fields=16)
            raw = fields.get("payload", [None])[0]
            if raw is None:
                raise MalformedPayload("form body without a payload field")
            text = raw
        data = load_bounded(text)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: [[[[...]]]]
        raise MalformedPayload("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise MalformedPayload("payload is not a JSON object")
    return data


@dataclass(frozen=True)
class Event:
    name: str
    delivery: str
    payload: dict[str, Any]

    @property
    def action(self) -> str | None:
        return text(self.payload, "action")

    @property
    def repo(self) -> str | None:
        return text(self.payload, "repository", "full_name")

    @property
    def sender(self) -> str | None:
        return text(self.payload, "sender", "login")

    @property
    def sender_is_bot(self) -> bool:
        login = self.sender or ""
        return text(self.payload, "sender", "type") == "Bot" or login.endswith("[bot]")

    @property
    def branch(self) -> str | None:
        """The branch the event is about, wherever this event type keeps it."""
        ref = text(self.payload, "ref")
        if self.name == "push" and ref and ref.startswith("refs/heads/"):
            return ref.removeprefix("refs/heads/")
        for path in (
            ("workflow_run", "head_branch"),
            ("workflow_job", "head_branch"),
            ("pull_request", "base", "ref"),
            ("check_suite", "head_branch"),
            ("deployment", "ref"),
            ("release", "target_commitish"),
        ):
            found = text(self.payload, *path)
            if found:
                return found
        return None

    @property
    def key(self) -> str:
        """`event.action` (or just `event`): what filters and subscriptions match on."""
        return f"{self.name}.{self.action}" if self.action else self.name


class _Actions:
    """What workflow runs and jobs share: one shape, from a webhook or the REST API."""

    def __init__(self, raw: Any) -> None:
        self.raw: dict[str, Any] = raw if isinstance(raw, dict) else {}

    @property
    def id(self) -> int | None:
        return number(self.raw, "id")

    @property
    def name(self) -> str | None:
        return text(self.raw, "name")

    @property
    def status(self) -> str | None:
        return text(self.raw, "status")

    @property
    def conclusion(self) -> str | None:
        return text(self.raw, "conclusion")

    @property
    def head_sha(self) -> str | None:
        return text(self.raw, "head_sha")

    @property
    def head_branch(self) -> str | None:
        return text(self.raw, "head_branch")

    @property
    def html_url(self) -> str | None:
        return text(self.raw, "html_url")

    @property
    def attempt(self) -> int:
        return number(self.raw, "run_attempt") or 1


class WorkflowRun(_Actions):
    """A `workflow_run` object."""

    @property
    def name(self) -> str | None:
        return text(self.raw, "name") or text(self.raw, "display_title")

    @property
    def title(self) -> str | None:
        return text(self.raw, "display_title")

    @property
    def event(self) -> str | None:
        return text(self.raw, "event")

    @property
    def path(self) -> str | None:
        return text(self.raw, "path")

    @property
    def actor(self) -> str | None:
        return text(self.raw, "triggering_actor", "login") or text(self.raw, "actor", "login")

    @property
    def repo(self) -> str | None:
        return text(self.raw, "repository", "full_name")

    @property
    def created_at(self) -> float | None:
        return timestamp(self.raw, "created_at")

    @property
    def updated_at(self) -> float | None:
        return timestamp(self.raw, "updated_at")

    @property
    def started_at(self) -> float | None:
        return timestamp(self.raw, "run_started_at")

    @property
    def commit_message(self) -> str | None:
        return text(self.raw, "head_commit", "message")

    @property
    def workflow_file(self) -> str | None:
        """`deploy.yml` from `.github/workflows/deploy.yml` (or a dynamic path's last part)."""
        path = self.path
        return path.split("@")[0].rsplit("/", 1)[-1] if path else None

    @property
    def duration(self) -> float | None:
        start, end = self.started_at or self.created_at, self.updated_at
        if start is None or end is None or self.status != "completed":
            return None
        return max(0.0, end - start)


class WorkflowJob(_Actions):
    """A `workflow_job` object (or one job of a run's jobs list)."""

    @property
    def run_id(self) -> int | None:
        return number(self.raw, "run_id")

    @property
    def started_at(self) -> float | None:
        return timestamp(self.raw, "started_at")

    @property
    def completed_at(self) -> float | None:
        return timestamp(self.raw, "completed_at")

    @property
    def workflow_name(self) -> str | None:
        return text(self.raw, "workflow_name")

    @property
    def failed_steps(self) -> list[str]:
        steps = dig(self.raw, "steps")
        if not isinstance(steps, list):
            return []
        return [
            text(step, "name") or "?"
            for step in steps
            if text(step, "conclusion") in ("failure", "timed_out", "cancelled")
        ]


def short_sha(sha: str | None) -> str:
    return sha[:7] if sha else "???????"


# -- slimming: what a job needs, not the 25 MB GitHub may send -------------------------------

SLIM_MAX_BYTES = 200_000
_MAX_STRING = 2_000
_MAX_LIST = 50
_MAX_DEPTH = 6
# Nested copies of objects the payload already carries at the top, and link maps.
_DROP_NESTED = frozenset(
    {
        "repository",
        "head_repository",
        "organization",
        "_links",
        "template_repository",
        "installation",
    }
)


def _summary(value: Any, keys: tuple[str, ...]) -> Any:
    if not isinstance(value, dict):
        return value
    out = {key: value[key] for key in keys if key in value}
    owner = value.get("owner")
    if isinstance(owner, dict) and "login" in owner:
        out["owner"] = {"login": owner["login"]}
    return out


_TOP_SUMMARIES = {
    "repository": ("id", "name", "full_name", "html_url", "default_branch", "private"),
    "sender": ("id", "login", "type", "html_url"),
    "organization": ("id", "login"),
    "installation": ("id",),
    "enterprise": ("id", "slug"),
}


def _trim(value: Any, depth: int, max_string: int, max_list: int) -> Any:
    if isinstance(value, str):
        return value if len(value) <= max_string else value[: max_string - 1] + "…"
    if isinstance(value, list):
        return [_trim(item, depth + 1, max_string, max_list) for item in value[:max_list]]
    if isinstance(value, dict):
        if depth > _MAX_DEPTH:
            return {k: v for k, v in value.items() if k in ("id", "name", "login", "url")}
        return {
            key: _trim(item, depth + 1, max_string, max_list)
            for key, item in value.items()
            if key not in _DROP_NESTED or depth == 0
        }
    return value


# A copy is never more than this many times the JSON it was parsed from: it keeps a subset
# of the values, and re-encoding one grows it at most 4.5x (`1e15` comes back as
# `1000000000000000.0`; an escaped non-ASCII character 3x its UTF-8 bytes; the cut mark
# `…` 3x the two or more characters it replaces).
_GROWTH_BOUND = 5


def slim(payload: dict[str, Any], *, source_bytes: int | None = None) -> dict[str, Any]:
    """A bounded copy of a webhook payload for the job queue and the store.

    Jobs travel through the store (350 KB records) and Lambda's async invoke
    (256 KB events), while GitHub sends up to 25 MB. Handlers read the main
    object of an event and a few top-level fields, so nested duplicates go,
    long strings and lists are cut, and the cut tightens until it fits.

    `source_bytes`, the size of the JSON `payload` was parsed from: when even its
    largest possible re-encoding fits, the copy is not encoded to be measured (the usual
    delivery, a few KB, is encoded once, into the store).
    """
    max_string, max_list = _MAX_STRING, _MAX_LIST
    small = source_bytes is not None and source_bytes * _GROWTH_BOUND <= SLIM_MAX_BYTES
    while True:
        out: dict[str, Any] = {}
        for key, value in payload.items():
            if key in _TOP_SUMMARIES:
                out[key] = _summary(value, _TOP_SUMMARIES[key])
            else:
                out[key] = _trim(value, 1, max_string, max_list)
        if small:
            return out
        size = len(json.dumps(out, separators=(",", ":")))
        if size <= SLIM_MAX_BYTES or max_list <= 1:
            if size > SLIM_MAX_BYTES:  # pathological: keep only the event's identity
                return {k: out[k] for k in ("action", "repository", "sender") if k in out}
            return out
        max_string, max_list = max(80, max_string // 4), max(1, max_list // 4)


def _prune_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`json.loads` hook: bound each object as soon as it is built (see `parse_body`).

    The same limits `slim` applies later, so pruning early changes nothing a handler
    sees; it only lets the oversized originals be freed during the parse.
    """
    out: dict[str, Any] = {}
    for key, value in pairs:
        if isinstance(value, str):
            if len(value) > _MAX_STRING:
                value = value[: _MAX_STRING - 1] + "…"
        elif isinstance(value, list):
            if len(value) > _MAX_LIST:
                value = value[:_MAX_LIST]
        elif isinstance(value, dict):
            if key in _TOP_SUMMARIES:
                value = _summary(value, _TOP_SUMMARIES[key])
            elif key in _DROP_NESTED:
                continue
        out[key] = value
    return out


_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder(object_pairs_hook=_prune_object)


# Up to this many characters a body is decoded in one call of the C decoder. Its objects
# then cost up to ~25x its size at once (a list of empty objects, measured: ~12 MB at this
# bound), bounded, and only for a signed body; walking the top level in Python, as
# `_load_streaming` does to keep a 25 MB push within a few MB, would cost more than the
# whole decode of the usual few-KB delivery.
STREAM_ABOVE = 512 * 1024


def load_bounded(text: str) -> Any:
    """`json.loads` for webhook payloads, in bounded memory, objects pruned as they are
    built (`_prune_object`). Accepts exactly what `json.loads` accepts; anything else is a
    `json.JSONDecodeError`, as from `json.loads`. The same result either way a body is
    decoded (in one call, or streamed when it is big)."""
    if len(text) <= STREAM_ABOVE:
        return _DECODER.decode(text)
    return _load_streaming(text)


def _load_streaming(text: str) -> Any:
    """`load_bounded` for big bodies. The top-level object is walked here, and the elements
    of its arrays are decoded one at a time (C speed, through `raw_decode`), keeping only
    the first `_MAX_LIST`: a push with tens of thousands of commits never has them all in
    memory at once. Everything else goes through the C decoder with `_prune_object`.
    """
    index = _WHITESPACE.match(text, 0).end()  # type: ignore[union-attr]
    if not text.startswith("{", index):
        return _DECODER.decode(text)
    pairs: list[tuple[str, Any]] = []
    index = _skip(text, index + 1)
    if text.startswith("}", index):
        return _finish(text, index + 1, pairs)
    while True:
        if not text.startswith('"', index):
            raise json.JSONDecodeError("expected a property name", text, index)
        key, index = _DECODER.raw_decode(text, index)
        index = _skip(text, index)
        if not text.startswith(":", index):
            raise json.JSONDecodeError("expected ':'", text, index)
        index = _skip(text, index + 1)
        if text.startswith("[", index):
            value, index = _bounded_array(text, index + 1)
        else:
            value, index = _DECODER.raw_decode(text, index)
        pairs.append((key, value))
        index = _skip(text, index)
        if text.startswith("}", index):
            return _finish(text, index + 1, pairs)
        if not text.startswith(",", index):
            raise json.JSONDecodeError("expected ',' or '}'", text, index)
        index = _skip(text, index + 1)


def _skip(text: str, index: int) -> int:
    return _WHITESPACE.match(text, index).end()  # type: ignore[union-attr]


def _bounded_array(text: str, index: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    index = _skip(text, index)
    if text.startswith("]", index):
        return items, index + 1
    while True:
        value, index = _DECODER.raw_decode(text, index)
        if len(items) < _MAX_LIST:
            items.append(value)
        index = _skip(text, index)
        if text.startswith("]", index):
            return items, index + 1
        if not text.startswith(",", index):
            raise json.JSONDecodeError("expected ',' or ']'", text, index)
        index = _skip(text, index + 1)


def _finish(text: str, index: int, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if _skip(text, index) != len(text):
        raise json.JSONDecodeError("extra data after the object", text, index)
    return _prune_object(pairs)
