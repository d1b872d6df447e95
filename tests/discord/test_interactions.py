from __future__ import annotations

from orchestrator.discord.interactions import Interaction


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
