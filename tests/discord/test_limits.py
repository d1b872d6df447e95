from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.discord.limits import (
    CONTENT_LIMIT,
    EMBED_AUTHOR_NAME_LIMIT,
    EMBED_DESCRIPTION_LIMIT,
    EMBED_FIELD_NAME_LIMIT,
    EMBED_FIELD_VALUE_LIMIT,
    EMBED_FIELDS_LIMIT,
    EMBED_FOOTER_TEXT_LIMIT,
    EMBED_TITLE_LIMIT,
    EMBEDS_LIMIT,
    EMBEDS_TOTAL_LIMIT,
    clamp_message,
    embeds_length,
    truncate,
)

E_ACUTE = "e\u0301"  # "e" + combining acute accent: two code points, one letter
FR, DE = "\U0001f1eb\U0001f1f7", "\U0001f1e9\U0001f1ea"  # flags: two regional indicators each
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # man ZWJ woman ZWJ girl
THUMBS_MEDIUM = "\U0001f44d\U0001f3fd"  # thumbs up + skin-tone modifier


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("", 5, ""),
        ("hello", 5, "hello"),
        ("hello!", 5, "hell…"),
        ("hello", 0, ""),
        ("hello", 1, "…"),
        ("a" * 2000, 2000, "a" * 2000),
        ("a" * 2001, 2000, "a" * 1999 + "…"),
        ("é" * 10, 5, "éééé…"),  # precomposed: one code point each
        ("\U0001f600" * 3, 2, "\U0001f600…"),  # astral code points count once
        (E_ACUTE * 3, 4, E_ACUTE + "…"),  # never strands an accent
        (FR + DE, 4, FR + DE),
        (FR + DE, 3, FR + "…"),  # never half a flag
        (FR + DE, 2, "…"),
        ("a" + FAMILY + "b", 4, "a…"),  # never part of a ZWJ sequence
        ("x" + THUMBS_MEDIUM + "y", 3, "x…"),  # never drops just the skin tone
    ],
)
def test_truncate(text: str, limit: int, expected: str) -> None:
    result = truncate(text, limit)
    assert result == expected
    assert len(result) <= limit


def test_truncate_refuses_negative_limits() -> None:
    with pytest.raises(ValueError, match="negative"):
        truncate("abc", -1)


@pytest.mark.parametrize(
    ("length", "expected_length", "cut"),
    [(1999, 1999, False), (2000, 2000, False), (2001, 2000, True), (10_000, 2000, True)],
)
def test_content_boundary(length: int, expected_length: int, cut: bool) -> None:
    result = clamp_message({"content": "x" * length})
    assert len(result["content"]) == expected_length
    assert result["content"].endswith("…") is cut


def _embed_with(path: tuple[str, ...], text: str) -> dict[str, Any]:
    if len(path) == 1:
        return {path[0]: text}
    if path[0] == "fields":
        return {"fields": [{"name": "n", "value": "v", path[1]: text}]}
    return {path[0]: {path[1]: text}}


def _get(embed: dict[str, Any], path: tuple[str, ...]) -> str:
    if path[0] == "fields":
        return str(embed["fields"][0][path[1]])
    node: Any = embed
    for key in path:
        node = node[key]
    return str(node)


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        (("title",), EMBED_TITLE_LIMIT),
        (("description",), EMBED_DESCRIPTION_LIMIT),
        (("fields", "name"), EMBED_FIELD_NAME_LIMIT),
        (("fields", "value"), EMBED_FIELD_VALUE_LIMIT),
        (("footer", "text"), EMBED_FOOTER_TEXT_LIMIT),
        (("author", "name"), EMBED_AUTHOR_NAME_LIMIT),
    ],
)
def test_embed_part_limits(path: tuple[str, ...], limit: int) -> None:
    exact = clamp_message({"embeds": [_embed_with(path, "z" * limit)]})
    assert _get(exact["embeds"][0], path) == "z" * limit
    over = clamp_message({"embeds": [_embed_with(path, "z" * (limit + 1))]})
    assert _get(over["embeds"][0], path) == "z" * (limit - 1) + "…"


def test_at_most_ten_embeds_and_25_fields() -> None:
    fields = [{"name": f"f{i}", "value": "v"} for i in range(30)]
    message = {"embeds": [{"title": f"e{i}", "fields": fields} for i in range(12)]}
    result = clamp_message(message)
    assert len(result["embeds"]) == EMBEDS_LIMIT
    assert [e["title"] for e in result["embeds"]] == [f"e{i}" for i in range(10)]
    assert all(len(e["fields"]) == EMBED_FIELDS_LIMIT for e in result["embeds"])
    assert result["embeds"][0]["fields"][-1]["name"] == "f24"


def test_input_is_never_mutated() -> None:
    message: dict[str, Any] = {
        "content": "c" * 3000,
        "embeds": [
            {"title": "t" * 300, "description": "d" * 5000, "fields": [{"name": "n", "value": "v"}]}
            for _ in range(12)
        ],
        "components": [{"type": 1, "components": []}],
    }
    before = copy.deepcopy(message)
    result = clamp_message(message)
    assert message == before
    result["components"][0]["type"] = 99
    assert message["components"][0]["type"] == 1


def test_absent_keys_stay_absent_and_other_keys_pass_through() -> None:
    assert clamp_message({}) == {}
    edit = {"components": [], "flags": 64, "embeds": [{"color": 5}], "allowed_mentions": {}}
    assert clamp_message(edit) == edit
    assert clamp_message({"content": None, "embeds": None}) == {"content": None, "embeds": None}


def test_total_trims_the_last_description_first() -> None:
    message = {"embeds": [{"description": "a" * 4000}, {"description": "b" * 4000}]}
    result = clamp_message(message)
    assert result["embeds"][0]["description"] == "a" * 4000
    assert result["embeds"][1]["description"] == "b" * 1999 + "…"
    assert embeds_length(result["embeds"]) == EMBEDS_TOTAL_LIMIT


def test_total_trims_fields_from_the_end_before_the_description() -> None:
    fields = [{"name": f"name-{i:04}", "value": str(i) * 1000} for i in range(3)]
    message = {"embeds": [{"title": "T", "description": "d" * 4000, "fields": fields}]}
    # 1 + 4000 + 3 * (9 + 1000) = 7028: 1028 over
    result = clamp_message(message)
    embed = result["embeds"][0]
    assert embed["description"] == "d" * 4000
    assert [f["name"] for f in embed["fields"]] == ["name-0000", "name-0001"]
    assert embed["fields"][0]["value"] == "0" * 1000
    assert embed["fields"][1]["value"] == "1" * 980 + "…"
    assert embeds_length(result["embeds"]) == EMBEDS_TOTAL_LIMIT


def test_total_drops_trailing_embeds_when_nothing_else_is_left_to_trim() -> None:
    embed = {"title": "t" * 256, "footer": {"text": "f" * 2048}, "author": {"name": "a" * 256}}
    result = clamp_message({"embeds": [dict(embed, color=i) for i in range(10)]})
    assert [e["color"] for e in result["embeds"]] == [0, 1]
    assert embeds_length(result["embeds"]) <= EMBEDS_TOTAL_LIMIT


def test_total_is_deterministic() -> None:
    message = {
        "embeds": [
            {"description": "x" * 3000, "fields": [{"name": "n", "value": "v" * 900}] * 4}
            for _ in range(3)
        ]
    }
    assert clamp_message(message) == clamp_message(message)


def test_shared_sub_objects_are_trimmed_independently() -> None:
    embed = {"description": "d" * 3500}
    result = clamp_message({"embeds": [embed, embed]})  # one dict in two places
    assert result["embeds"][0]["description"] == "d" * 3500
    assert result["embeds"][1]["description"] == "d" * 2499 + "…"
    assert embed == {"description": "d" * 3500}


def test_embeds_emptied_by_the_total_are_dropped() -> None:
    big = {"description": "a" * 4096, "fields": [{"name": "n", "value": "v" * 1024}]}
    message = {
        "embeds": [big, {"description": "b" * 1000}, {"fields": [{"name": "x", "value": "y"}]}]
    }
    result = clamp_message(message)
    # 5121 + 1000 + 2 = 6123: the last embed goes entirely, the second loses 121 characters
    assert len(result["embeds"]) == 2
    assert result["embeds"][1]["description"] == "b" * 878 + "…"
    bigger = {"description": "a" * 4096, "fields": [{"name": "n", "value": "v" * 1000}] * 2}
    image = {"url": "https://x.test/i.png"}
    kept_image = clamp_message({"embeds": [bigger, {"description": "b" * 50, "image": image}]})
    # 6098 + 50: the description goes, the embed stays for its image, then a field is cut
    assert kept_image["embeds"][1] == {"image": image}
    assert kept_image["embeds"][0]["fields"][1]["value"] == "v" * 901 + "…"


def test_non_dict_embeds_are_passed_through() -> None:
    result = clamp_message({"embeds": ["odd", {"title": "t" * 300}]})
    assert result["embeds"][0] == "odd"
    assert len(result["embeds"][1]["title"]) == EMBED_TITLE_LIMIT


_text = st.text(alphabet=st.sampled_from(["a", "é", "\u0301", "\U0001f1eb", "\u200d", " "]))
_field = st.fixed_dictionaries(
    {"name": _text.map(lambda t: "n" + t * 40), "value": _text.map(lambda t: "v" + t * 200)}
)
_embed = st.fixed_dictionaries(
    {},
    optional={
        "title": _text.map(lambda t: t * 60),
        "description": _text.map(lambda t: t * 500),
        "fields": st.lists(_field, max_size=30),
        "footer": st.fixed_dictionaries({"text": _text.map(lambda t: t * 300)}),
        "author": st.fixed_dictionaries({"name": _text.map(lambda t: t * 60)}),
    },
)
_message = st.fixed_dictionaries(
    {},
    optional={"content": _text.map(lambda t: t * 400), "embeds": st.lists(_embed, max_size=12)},
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_message)
def test_clamped_messages_always_fit_and_clamping_is_idempotent(message: dict[str, Any]) -> None:
    result = clamp_message(message)
    assert len(result.get("content", "")) <= CONTENT_LIMIT
    embeds = result.get("embeds", [])
    assert len(embeds) <= EMBEDS_LIMIT
    assert embeds_length(embeds) <= EMBEDS_TOTAL_LIMIT
    for embed in embeds:
        assert len(embed.get("title", "")) <= EMBED_TITLE_LIMIT
        assert len(embed.get("description", "")) <= EMBED_DESCRIPTION_LIMIT
        assert len(embed.get("fields", [])) <= EMBED_FIELDS_LIMIT
        for field in embed.get("fields", []):
            assert 0 < len(field["value"]) <= EMBED_FIELD_VALUE_LIMIT
            assert len(field["name"]) <= EMBED_FIELD_NAME_LIMIT
    assert clamp_message(result) == result
