from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.discord.interactions import Interaction, _shape_problem, shape_problem


def command(options: list[dict[str, object]]) -> Interaction:
    return Interaction(
        {
            "type": 2,
            "id": "9",
            "token": "t",
            "guild_id": "5",
            "member": {"user": {"id": "42", "username": "ada"}, "roles": ["7", 8]},
            "data": {"name": "config", "options": options},
        }
    )


def test_subcommand_paths_and_leaf_options() -> None:
    ix = command(
        [
            {
                "type": 2,
                "name": "notify",
                "options": [
                    {
                        "type": 1,
                        "name": "add",
                        "options": [
                            {"type": 3, "name": "repo", "value": "o/r"},
                            {"type": 4, "name": "count", "value": 3},
                            {"type": 5, "name": "quiet", "value": True, "focused": True},
                        ],
                    }
                ],
            }
        ]
    )
    assert ix.command_path() == ("config", "notify", "add")
    options = ix.options()
    assert options.string("repo") == "o/r"
    assert options.integer("count") == 3
    assert options.boolean("quiet") is True
    assert options.focused == "quiet"


def test_typed_getters_fall_back_instead_of_raising() -> None:
    options = command(
        [
            {"type": 3, "name": "a", "value": 5},
            {"type": 4, "name": "b", "value": "x"},
            {"type": 5, "name": "c", "value": 1},
            {"type": 6, "name": "u", "value": "123"},
        ]
    ).options()
    assert options.string("a", "dflt") == "dflt"
    assert options.integer("b", 7) == 7
    assert options.integer("c") == 1
    assert options.boolean("c") is None
    assert options.snowflake("u") == "123"
    assert options.string("missing") is None


def test_member_and_user_accessors() -> None:
    ix = command([])
    assert ix.user_id == "42"
    assert ix.user_name == "ada"
    assert ix.role_ids == frozenset({"7"})  # non-string role entries are ignored
    dm = Interaction({"type": 2, "user": {"id": "1", "global_name": "Bo"}})
    assert dm.user_id == "1"
    assert dm.user_name == "Bo"
    assert dm.guild_id is None
    assert dm.role_ids == frozenset()


def test_garbage_never_raises() -> None:
    for raw in [
        {},
        {"data": "x"},
        {"data": {"options": "x"}},
        {"member": []},
        {"data": {"name": 5, "options": [None, 3]}},
    ]:
        ix = Interaction(raw)  # type: ignore[arg-type]
        ix.command_path()
        ix.options()
        ix.modal_values()
        assert ix.user_id is None or isinstance(ix.user_id, str)


def test_modal_values_from_rows_and_labels() -> None:
    ix = Interaction(
        {
            "type": 5,
            "data": {
                "custom_id": "m",
                "components": [
                    {"type": 1, "components": [{"type": 4, "custom_id": "title", "value": "hi"}]},
                    {"type": 18, "component": {"type": 4, "custom_id": "body", "value": "there"}},
                ],
            },
        }
    )
    assert ix.modal_values() == {"title": "hi", "body": "there"}


def _shape_problem_reference(raw: dict[str, Any]) -> str | None:
    """Every check, no shortcut."""
    return _shape_problem(raw)


_leaf = st.one_of(
    st.sampled_from(["1", "123456789012345678", "x", "", "١٢", "9" * 21]),
    st.integers(-2, 3),
    st.none(),
    st.booleans(),
    st.text(max_size=3),
)
_value = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(["id", "user", "roles", "custom_id", "x"]), inner, max_size=3
        ),
    ),
    max_leaves=8,
)
_keys = st.sampled_from(
    [
        "type",
        "id",
        "application_id",
        "guild_id",
        "channel_id",
        "channel",
        "user",
        "member",
        "message",
        "data",
        "token",
        "version",
        "locale",
    ]
)


@given(st.dictionaries(_keys, _value, max_size=8), st.integers(1, 5))
def test_the_shape_check_says_what_every_check_says(raw: dict[str, Any], kind: int) -> None:
    """The shortcut for bodies with no nested object (a PING) changes no answer."""
    for body in (raw, {**raw, "type": kind}):
        assert shape_problem(body) == _shape_problem_reference(body)


@pytest.mark.parametrize("key", ["id", "application_id", "guild_id", "channel_id"])
@pytest.mark.parametrize("value", ["x", "", "١٢", "9" * 21, 12, True, ["1"]])
def test_a_flat_body_gets_each_top_level_check(key: str, value: Any) -> None:
    """A body with no nested object (a PING) takes the shortcut: each of its ids is still
    refused as the full check refuses it."""
    body = {"type": 1, "id": "1", "application_id": "2", key: value}
    assert shape_problem(body) == f"{key} is not a snowflake" == _shape_problem_reference(body)
    assert shape_problem({**body, key: "9" * 20}) is None


@pytest.mark.parametrize("token", ["t" * 1001, 7, ["t"]])
def test_a_flat_body_with_a_bad_token_is_refused(token: Any) -> None:
    body = {"type": 1, "id": "1", "token": token}
    assert shape_problem(body) == "token is not an interaction token"
    assert shape_problem(body) == _shape_problem_reference(body)
    assert shape_problem({**body, "token": "t" * 1000}) is None


@pytest.mark.parametrize(
    "nested",
    [
        {"channel": {"id": "x"}},
        {"user": {"id": "x"}},
        {"member": {"user": {"id": "x"}}},
        {"member": {"roles": ["x"]}},
        {"member": {"roles": "1"}},
        {"message": {"id": "9" * 21}},
        {"data": {"id": ""}},
        {"data": {"custom_id": "c" * 101}},
    ],
)
def test_each_nested_check_still_runs_alone(nested: dict[str, Any]) -> None:
    body = {"type": 3, "id": "1", "application_id": "2", **nested}
    assert shape_problem(body) is not None
    assert shape_problem(body) == _shape_problem_reference(body)
