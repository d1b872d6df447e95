"""`simulate` refuses what Discord's client would never send, from the registration JSON.

Discord enforces required options, min/max values and lengths, and choices before an
interaction ever reaches us; a simulator that sent `count:99` to a command declaring 1-25
would show handler behaviour no user can trigger (and hide what they can). The checks are
derived from `bot.registration()`, the body `sync-commands` sends Discord: the product's
every declared limit is exercised below, whatever commands exist.
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator import product
from orchestrator.devtools.simulate import (
    Invoker,
    SimulationError,
    check_custom_id,
    command_interaction,
    component_interaction,
    declared_options,
    parse_command,
)
from orchestrator.discord.context import Context
from orchestrator.discord.interactions import OptionType
from orchestrator.discord.messages import Message
from orchestrator.discord.options import boolean, channel, integer, number, string
from orchestrator.discord.tree import Bot

BOT = product.bot()


def _leaves_with(predicate: Any) -> list[tuple[str, dict[str, Any]]]:
    """(command path, option JSON) for every declared option the predicate picks."""
    found = []
    for leaf in BOT.leaves():
        for option in declared_options(BOT, leaf.path):
            if predicate(option):
                found.append((" ".join(leaf.path), option))
    return found


def _filler(option: dict[str, Any]) -> str:
    """A value Discord would accept for an option."""
    if option.get("choices"):
        return str(option["choices"][0]["value"])
    kind = OptionType(option["type"])
    if kind in (OptionType.INTEGER, OptionType.NUMBER):
        return str(option.get("min_value", 1))
    if kind == OptionType.BOOLEAN:
        return "true"
    if kind in (OptionType.USER, OptionType.CHANNEL, OptionType.ROLE, OptionType.MENTIONABLE):
        return "123456789012345678"
    return "x" * max(1, option.get("min_length", 1))


def _line(path: str, **values: str) -> str:
    """`/path` with every required option filled in, then `values`."""
    options = {
        o["name"]: _filler(o)
        for o in declared_options(BOT, tuple(path.split()))
        if o.get("required")
    }
    options.update(values)
    words = [
        f"{name}:{value!r}" if " " in value else f"{name}:{value}"
        for name, value in options.items()
    ]
    return " ".join([f"/{path}", *words])


def _refused(line: str, bot: Bot = BOT) -> str:
    with pytest.raises(SimulationError) as caught:
        command_interaction(bot, line, "1", Invoker(user_id="1"))
    return str(caught.value)


def _sent(line: str, bot: Bot = BOT) -> dict[str, Any]:
    """The option values the built interaction carries (subcommands unwrapped)."""
    payload = command_interaction(bot, line, "1", Invoker(user_id="1"))
    options = payload["data"].get("options", [])
    while options and options[0]["type"] in (1, 2):
        options = options[0].get("options", [])
    return {o["name"]: o["value"] for o in options}


def test_the_product_declares_limits_to_check() -> None:
    # The loops below must not pass by finding nothing.
    assert _leaves_with(lambda o: o.get("required"))
    assert _leaves_with(lambda o: "max_value" in o)
    assert _leaves_with(lambda o: "max_length" in o)
    assert _leaves_with(lambda o: o.get("choices"))


@pytest.mark.parametrize(("path", "option"), _leaves_with(lambda o: o.get("required")))
def test_required_options_are_required(path: str, option: dict[str, Any]) -> None:
    line = " ".join(
        part for part in _line(path).split(" ") if not part.startswith(option["name"] + ":")
    )
    assert option["name"] in _refused(line)


@pytest.mark.parametrize(
    ("path", "option"), _leaves_with(lambda o: "min_value" in o or "max_value" in o)
)
def test_values_stay_within_min_and_max(path: str, option: dict[str, Any]) -> None:
    name = option["name"]
    for bound, step in (("min_value", -1), ("max_value", 1)):
        if bound in option:
            edge = option[bound]
            assert _sent(_line(path, **{name: str(edge)}))[name] == edge
            message = _refused(_line(path, **{name: str(edge + step)}))
            assert name in message and str(edge) in message


@pytest.mark.parametrize(("path", "option"), _leaves_with(lambda o: "max_length" in o))
def test_text_stays_within_max_length(path: str, option: dict[str, Any]) -> None:
    name, longest = option["name"], option["max_length"]
    assert _sent(_line(path, **{name: "x" * longest}))[name] == "x" * longest
    assert str(longest) in _refused(_line(path, **{name: "x" * (longest + 1)}))


@pytest.mark.parametrize(("path", "option"), _leaves_with(lambda o: o.get("choices")))
def test_only_declared_choices_are_sent(path: str, option: dict[str, Any]) -> None:
    name = option["name"]
    for choice in option["choices"]:
        assert _sent(_line(path, **{name: str(choice["value"])}))[name] == choice["value"]
        # A user picks a choice by its name; Discord sends its value.
        assert _sent(_line(path, **{name: choice["name"]}))[name] == choice["value"]
    message = _refused(_line(path, **{name: "surely-not-a-choice"}))
    assert str(option["choices"][0]["value"]) in message


def test_the_audit_count_limit_is_the_one_declared() -> None:
    """The bug that started this: /audit count:-1, 0 and 99 reached the handler."""
    for bad in ("-1", "0", "26", "99"):
        assert "from 1 to 25" in _refused(f"/audit count:{bad}")
    assert _sent("/audit count:25") == {"count": 25}


def _custom_bot() -> Bot:
    bot = Bot()

    async def handler(ctx: Context) -> Message:
        return Message(content="ok")

    bot.command(
        "try",
        "Options of every kind",
        options=[
            integer("count", "A count", min_value=2, max_value=4),
            number("ratio", "A ratio", min_value=0.5),
            boolean("loud", "Shout"),
            channel("where", "A channel"),
            string("name", "A name", min_length=3, max_length=5),
            string("size", "A size", choices=[("Small", "s"), ("Large", "l")]),
        ],
    )(handler)
    return bot


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/try count:nine", "whole number"),
        ("/try count:2.5", "whole number"),
        ("/try count:5", "from 2 to 4"),
        ("/try count:99999999999999999999", "beyond"),
        ("/try ratio:x", "number"),
        ("/try ratio:0.25", "at least 0.5"),
        ("/try ratio:nan", "beyond"),
        ("/try loud:perhaps", "true/false"),
        ("/try where:#general", "snowflake"),
        ("/try name:ab", "3 to 5 characters"),
        ("/try name:abcdef", "3 to 5 characters"),
        ("/try size:medium", "one of: s, l"),
        ("/try colour:red", "no option 'colour'"),
        ("/try count:3 count:4", "given twice"),
        ("/try name:", "empty"),
        ("/try count", "name:value"),
    ],
)
def test_wrong_values_are_refused_with_what_would_do(line: str, expected: str) -> None:
    assert expected in _refused(line, _custom_bot())


def test_right_values_are_typed_as_discord_sends_them() -> None:
    sent = _sent(
        "/try count:3 ratio:0.75 loud:yes where:<#123> name:abcd size:Large", _custom_bot()
    )
    assert sent == {
        "count": 3,
        "ratio": 0.75,
        "loud": True,
        "where": "123",
        "name": "abcd",
        "size": "l",
    }


def test_the_limits_come_from_the_registration_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """Change only what `registration()` says, and simulate follows it."""
    bot = _custom_bot()
    registration = bot.registration()
    [count] = [o for o in registration[0]["options"] if o["name"] == "count"]
    count["max_value"] = 10
    monkeypatch.setattr(bot, "registration", lambda: registration)
    assert _sent("/try count:9", bot) == {"count": 9}
    assert "from 2 to 10" in _refused("/try count:11", bot)


def test_autocomplete_sends_the_typed_text_unchecked() -> None:
    _, values, focused = parse_command(_custom_bot(), "/try name:?a")
    assert (values, focused) == ({"name": "a"}, "name")
    assert "no option 'nope'" in _refused("/try nope:?a", _custom_bot())


def test_required_options_may_wait_while_autocompleting() -> None:
    payload = command_interaction(
        BOT, "/deploy app:?we", "1", Invoker(user_id="1"), autocomplete=True
    )
    assert payload["data"]["options"] == [
        {"name": "app", "type": 3, "value": "we", "focused": True}
    ]


@pytest.mark.parametrize("custom_id", ["", "deploy.approve:" + "a" * 86])
def test_a_custom_id_discord_would_not_send_is_refused(custom_id: str) -> None:
    with pytest.raises(SimulationError, match="1-100 characters on Discord"):
        check_custom_id(custom_id)
    # The builder still builds it: tests of the server's own refusal need one.
    assert component_interaction(custom_id, "1", Invoker("1"))["data"]["custom_id"] == custom_id


def test_the_longest_custom_id_discord_sends_goes() -> None:
    longest = "deploy.approve:" + "a" * 85
    assert check_custom_id(longest) == longest
