"""Parsing webhook payloads in bounded memory, accepting exactly what `json.loads` accepts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.github import events
from orchestrator.github.events import (
    STREAM_ABOVE,
    MalformedPayload,
    _load_streaming,
    _prune_object,
    load_bounded,
    parse_body,
    slim,
)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=8) | st.dictionaries(st.text(max_size=8), children, max_size=8)
    ),
    max_leaves=40,
)


def reference(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_prune_object)


# Both ways a body is decoded: whole (the usual delivery) and streamed (a big one).
LOADERS = pytest.mark.parametrize("load", [load_bounded, _load_streaming], ids=["whole", "stream"])


@LOADERS
@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(max_size=10), JSON, max_size=10), st.sampled_from([None, 0, 2]))
def test_same_result_as_json_loads_for_objects(
    load: Any, value: dict[str, Any], indent: int | None
) -> None:
    text = json.dumps(value, indent=indent)
    assert load(text) == reference(text)


@LOADERS
@settings(max_examples=150, deadline=None)
@given(st.text(alphabet='{}[]":,0123456789 truefalsenul\\\\\n\t-.eE', max_size=40))
def test_accepts_exactly_what_json_loads_accepts(load: Any, text: str) -> None:
    try:
        expected = reference(text)
    except (ValueError, RecursionError):
        with pytest.raises(json.JSONDecodeError):
            load(text)
        return
    assert load(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1,}',
        '{"a" 1}',
        '{"a": [1,]}',
        '{"a": [1 2]}',
        '{"a": 1} x',
        "{a: 1}",
        '{"a": [}',
        "{",
        '{"a": 1',
    ],
)
def test_malformed_objects_are_refused(text: str) -> None:
    for load in (load_bounded, _load_streaming):
        with pytest.raises(json.JSONDecodeError):
            load(text)
    with pytest.raises(MalformedPayload):
        parse_body(text.encode(), "application/json")


def test_long_top_level_arrays_keep_only_what_a_handler_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = json.dumps(
        {
            "commits": [{"id": i, "message": "m" * 3000} for i in range(2_000)],
            "ref": "refs/heads/main",
        }
    )
    assert len(text) > STREAM_ABOVE
    streamed: list[int] = []

    def spy(body: str) -> Any:
        streamed.append(len(body))
        return _load_streaming(body)

    monkeypatch.setattr(events, "_load_streaming", spy)
    parsed = load_bounded(text)
    assert streamed == [len(text)]  # a big body is walked, never decoded whole
    load_bounded(json.dumps({"commits": [], "ref": "x"}))
    assert streamed == [len(text)]  # the usual small one is decoded in one call
    assert len(parsed["commits"]) == 50
    assert len(parsed["commits"][0]["message"]) == 2000
    assert parsed["ref"] == "refs/heads/main"


@LOADERS
def test_nested_repositories_are_summarised_and_duplicates_dropped(load: Any) -> None:
    payload = {
        "repository": {
            "full_name": "a/b",
            "id": 1,
            "description": "x" * 100,
            "owner": {"login": "a", "id": 2},
        },
        "workflow_run": {"head_repository": {"full_name": "a/b"}, "id": 3},
    }
    parsed = load(json.dumps(payload))
    assert parsed["repository"] == {"full_name": "a/b", "id": 1, "owner": {"login": "a"}}
    assert parsed["workflow_run"] == {"id": 3}


def test_form_bodies_and_non_objects() -> None:
    from urllib.parse import urlencode

    form = urlencode({"payload": json.dumps({"zen": "z"})})
    assert parse_body(form.encode(), "application/x-www-form-urlencoded") == {"zen": "z"}
    with pytest.raises(MalformedPayload, match="object"):
        parse_body(b"[1, 2]", "application/json")
    with pytest.raises(MalformedPayload):
        parse_body(b"\xff\xfe", None)


def test_a_small_delivery_is_slimmed_without_being_encoded_to_measure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its largest possible re-encoding fits: measuring it would only encode it twice."""
    import orchestrator.github.events as events

    payload = {"action": "completed", "workflow_run": {"id": 1, "name": "Deploy"}}
    body = json.dumps(payload).encode()

    def no_encoding(*args: object, **kwargs: object) -> str:
        raise AssertionError("encoded to be measured")

    monkeypatch.setattr(events.json, "dumps", no_encoding)
    assert slim(payload, source_bytes=len(body)) == payload
    with pytest.raises(AssertionError, match="measured"):
        slim(payload)  # size unknown: measured, as before


def test_a_body_under_the_small_bound_cannot_slim_past_the_cap() -> None:
    """The bound behind skipping the measure, at its edge and with the input that grows most
    when encoded again: numbers written short (`1e15` comes back 18 characters long) and
    non-ASCII text (escaped, 6 bytes for 2)."""
    from orchestrator.github.events import _GROWTH_BOUND, SLIM_MAX_BYTES

    budget = SLIM_MAX_BYTES // _GROWTH_BOUND
    for filler in ("1e15", '"' + "é" * 900 + '"', "9E15"):
        entries, size, n = [], 2, 0
        while True:
            entry = f'"k{n}":{filler}'
            if size + len(entry.encode()) + 1 > budget:
                break
            entries.append(entry)
            size += len(entry.encode()) + 1
            n += 1
        body = ("{" + ",".join(entries) + "}").encode()
        assert len(body) <= budget
        out = slim(parse_body(body, "application/json"), source_bytes=len(body))
        assert len(json.dumps(out, separators=(",", ":"))) <= SLIM_MAX_BYTES
