"""One declaration -> the registration JSON Discord takes, and validation at import time."""

from __future__ import annotations

import pytest

from orchestrator.discord.access import Access
from orchestrator.discord.context import Context
from orchestrator.discord.interactions import OptionType
from orchestrator.discord.messages import Message
from orchestrator.discord.options import Option, boolean, channel, integer, string
from orchestrator.discord.tree import Bot, InteractionContext


async def noop(ctx: Context) -> Message:
    return Message(content="ok")


def test_simple_command_registration_json() -> None:
    bot = Bot()
    bot.command(
        "status",
        "Recent deploy runs",
        options=[
            string("app", "Which app", required=True, autocomplete=True),
            integer("count", "How many", min_value=1, max_value=10),
            string("period", "Window", choices=["daily", ("This week", "weekly")]),
            boolean("verbose", "More detail"),
            channel("where", "Channel", channel_types=[0, 5]),
        ],
        default_member_permissions=1 << 5,
        contexts=[InteractionContext.GUILD, InteractionContext.BOT_DM],
    )(noop)
    assert bot.registration() == [
        {
            "name": "status",
            "description": "Recent deploy runs",
            "type": 1,
            "options": [
                {
                    "type": 3,
                    "name": "app",
                    "description": "Which app",
                    "required": True,
                    "autocomplete": True,
                },
                {
                    "type": 4,
                    "name": "count",
                    "description": "How many",
                    "min_value": 1,
                    "max_value": 10,
                },
                {
                    "type": 3,
                    "name": "period",
                    "description": "Window",
                    "choices": [
                        {"name": "daily", "value": "daily"},
                        {"name": "This week", "value": "weekly"},
                    ],
                },
                {"type": 5, "name": "verbose", "description": "More detail"},
                {"type": 7, "name": "where", "description": "Channel", "channel_types": [0, 5]},
            ],
            "default_member_permissions": 32,
            "contexts": [0, 1],
        }
    ]


def test_groups_and_subcommands_nest_as_discord_expects() -> None:
    bot = Bot()
    config = bot.group("config", "Change settings", access=Access.ADMIN)
    config.subcommand("set", "Set a value", options=[string("key", "Key", required=True)])(noop)
    config.subcommand("show", "Show values")(noop)
    notify = config.group("notify", "Notifications")
    notify.subcommand("add", "Add one")(noop)
    [registered] = bot.registration()
    assert registered["name"] == "config"
    assert registered["options"] == [
        {
            "type": 1,
            "name": "set",
            "description": "Set a value",
            "options": [{"type": 3, "name": "key", "description": "Key", "required": True}],
        },
        {"type": 1, "name": "show", "description": "Show values"},
        {
            "type": 2,
            "name": "notify",
            "description": "Notifications",
            "options": [{"type": 1, "name": "add", "description": "Add one"}],
        },
    ]
    assert bot.leaf(["config", "set"]).access is Access.ADMIN
    assert bot.leaf(["config", "notify", "add"]).access is Access.ADMIN
    assert bot.leaf(["config"]) is None
    assert [leaf.display for leaf in bot.leaves()] == [
        "/config set",
        "/config show",
        "/config notify add",
    ]


@pytest.mark.parametrize("name", ["Deploy", "has space", "", "x" * 33, "ok!"])
def test_invalid_names_fail_at_declaration(name: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        Bot().command(name, "desc")


def test_descriptions_are_bounded() -> None:
    with pytest.raises(ValueError, match="1-100"):
        Bot().command("x", "")
    with pytest.raises(ValueError, match="1-100"):
        string("x", "d" * 101)


def test_required_options_must_come_first() -> None:
    with pytest.raises(ValueError, match="required options must come first"):
        Bot().command("x", "d", options=[string("a", "a"), string("b", "b", required=True)])


def test_duplicates_are_refused() -> None:
    bot = Bot()
    bot.command("x", "d")(noop)
    with pytest.raises(ValueError, match="twice"):
        bot.command("x", "d")
    with pytest.raises(ValueError, match="unique"):
        bot.command("y", "d", options=[string("a", "a"), string("a", "b")])
    bot.component("btn", commands=["x"])(noop)
    with pytest.raises(ValueError, match="twice"):
        bot.component("btn", commands=["x"])
    with pytest.raises(ValueError, match="must name the commands"):
        bot.component("orphan", commands=[])
    with pytest.raises(ValueError, match="once=True needs defer=True"):
        bot.component("quick", commands=["x"], once=True)


def test_autocomplete_needs_a_declared_option() -> None:
    bot = Bot()
    bot.command("deploy", "d", options=[string("app", "a", autocomplete=True), string("ref", "r")])(
        noop
    )

    async def suggest(ctx: Context, typed: str) -> list[tuple[str, str]]:
        return []

    bot.autocomplete("deploy", "app")(suggest)
    with pytest.raises(ValueError, match="autocomplete=True"):
        bot.autocomplete("deploy", "ref")(suggest)
    with pytest.raises(ValueError, match="unknown command"):
        bot.autocomplete("nope", "app")(suggest)


def test_autocomplete_and_choices_exclude_each_other() -> None:
    Option(OptionType.STRING, "a", "a", autocomplete=True)  # either alone is fine
    with pytest.raises(ValueError, match="exclude"):
        string("a", "a", choices=["x"], autocomplete=True)


def test_component_routes_carry_state() -> None:
    bot = Bot()
    bot.component("deploy.cancel", commands=["deploy"])(noop)
    route, state = bot.component_route("deploy.cancel:123:abc")
    assert route.name == "deploy.cancel"
    assert state == ("123", "abc")
    assert bot.component_route("other:1") is None
    with pytest.raises(ValueError, match="cannot contain"):
        bot.component("bad:name", commands=["deploy"])


def test_every_product_button_is_governed_by_registered_commands() -> None:
    """A button's allow-lists are those of the commands it names: each must exist, or the
    button would be governed by nothing (finding 3)."""
    from orchestrator import product

    tree = product.bot()
    registered = {command["name"] for command in tree.registration()}
    routes = tree.routes()
    assert routes
    for route in routes:
        assert route.commands and set(route.commands) <= registered, route.name


def test_the_product_registration_is_valid_and_routes_match() -> None:
    """Everything routed is registered and vice versa (one list of commands)."""
    from orchestrator import product

    bot = product.bot()

    registered = bot.registration()
    names = {c["name"] for c in registered}
    assert names == {leaf.path[0] for leaf in bot.leaves()}
    assert {"ping", "help"} <= names


def _parts() -> tuple[Bot, Bot, Bot]:
    """Two feature parts (one command with a button and a form each) and their merge."""
    first, second = Bot(), Bot()
    first.command("alpha", "First")(noop)
    first.component("alpha.go", commands=["alpha", "beta"])(noop)
    second.command("beta", "Second")(noop)
    second.modal("beta.form", commands=["beta"])(noop)
    return first, second, Bot(first, second)


def test_on_demand_lookups_build_only_the_part_that_owns_the_name() -> None:
    from orchestrator.discord.tree import OnDemandBot

    first, second, whole = _parts()
    asked: list[tuple[str, str]] = []

    def part(kind: str, name: str) -> Bot:
        asked.append((kind, name))
        return {"alpha": first, "alpha.go": first, "beta": second, "beta.form": second}[name]

    def never() -> Bot:
        raise AssertionError("the whole tree was built for a name its part answers")

    tree = OnDemandBot(part, never)
    assert tree.leaf(["beta"]) is whole.leaf(["beta"])
    assert tree.component_route("alpha.go:7") == whole.component_route("alpha.go:7")
    assert tree.modal_route("beta.form:x:y") == whole.modal_route("beta.form:x:y")
    assert asked == [("command", "beta"), ("component", "alpha.go"), ("modal", "beta.form")]
    # The route keeps naming a command of another part: its allow-list still governs it.
    found = tree.component_route("alpha.go")
    assert found is not None and found[0].commands == ("alpha", "beta")


def test_on_demand_falls_back_to_the_whole_tree() -> None:
    """A stale index (a name under the wrong part) or an unknown name costs a build of the
    whole tree, never a refusal; what lists every command sees every command."""
    from orchestrator.discord.tree import OnDemandBot

    first, _, whole = _parts()
    builds: list[int] = []

    def everything() -> Bot:
        builds.append(1)
        return whole

    tree = OnDemandBot(lambda kind, name: first, everything)
    assert tree.leaf(["alpha"]) is whole.leaf(["alpha"]) and builds == []
    assert tree.leaf(["beta"]) is whole.leaf(["beta"]) and builds == [1]
    assert tree.modal_route("beta.form:1") == whole.modal_route("beta.form:1")
    assert tree.component_route("nope") is None and tree.leaf(["nope"]) is None
    assert [leaf.path for leaf in tree.leaves()] == [("alpha",), ("beta",)]
    assert tree.registration() == whole.registration()
