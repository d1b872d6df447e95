"""Building realistic interaction payloads from a command line, without Discord.

`"/config set key:frontend_url value:https://x"` becomes the APPLICATION_COMMAND
payload Discord would send, with option values typed from the command's own
declaration (so `count:3` is an integer where the option is an INTEGER). Pure:
signing and sending are the CLI's job.
"""

from __future__ import annotations

import math
import secrets
import shlex
import time
from dataclasses import dataclass
from typing import Any

from orchestrator.discord.interactions import InteractionType, OptionType
from orchestrator.discord.tree import Bot, Leaf

_DISCORD_EPOCH_MS = 1_420_070_400_000
# Where simulated commands come from, unless told otherwise; the demo app posts here too.
DEV_GUILD_ID = "100000000000000010"
DEV_CHANNEL_ID = "100000000000000020"


class SimulationError(ValueError):
    """The command line does not match a declared command; the message says how."""


@dataclass(frozen=True)
class Invoker:
    user_id: str
    username: str = "dev"
    roles: tuple[str, ...] = ()
    guild_id: str | None = DEV_GUILD_ID
    channel_id: str = DEV_CHANNEL_ID


def snowflake(at: float | None = None) -> str:
    """A fresh snowflake whose timestamp is now, like Discord's own ids."""
    millis = int((time.time() if at is None else at) * 1000) - _DISCORD_EPOCH_MS
    return str((millis << 22) | secrets.randbelow(1 << 22))


# Discord's own bounds for what a user can type, whatever a command declares.
_INTEGER_LIMIT = 2**53  # integers are JSON doubles: |n| < 2^53
_STRING_LIMIT = 6000  # the longest a string option's value can be


def declared_options(bot: Bot, path: tuple[str, ...]) -> list[dict[str, Any]]:
    """The options of the command at `path`, as its registration JSON declares them.

    Read from `bot.registration()`, the very body `sync-commands` sends Discord, so the
    checks below enforce what Discord would, not a second copy of the rules."""
    grouping = (OptionType.SUB_COMMAND.value, OptionType.SUB_COMMAND_GROUP.value)
    nodes: list[dict[str, Any]] = bot.registration()
    for name in path:
        found = next((n for n in nodes if n.get("name") == name), None)
        if found is None:
            return []
        nodes = list(found.get("options") or [])
    return [o for o in nodes if o.get("type") not in grouping]


def _typed(option: dict[str, Any], raw: str) -> Any:
    """`raw` as the JSON value Discord would send for this option, or SimulationError."""
    name, kind = option["name"], OptionType(option["type"])
    if kind == OptionType.INTEGER:
        try:
            value: Any = int(raw)
        except ValueError:
            raise SimulationError(f"option {name!r} wants a whole number, got {raw!r}") from None
        if not -_INTEGER_LIMIT < value < _INTEGER_LIMIT:
            raise SimulationError(f"option {name!r}: {raw} is beyond what Discord accepts")
        return value
    if kind == OptionType.NUMBER:
        try:
            number = float(raw)
        except ValueError:
            raise SimulationError(f"option {name!r} wants a number, got {raw!r}") from None
        if not math.isfinite(number) or abs(number) >= _INTEGER_LIMIT:
            raise SimulationError(f"option {name!r}: {raw} is beyond what Discord accepts")
        return number
    if kind == OptionType.BOOLEAN:
        lowered = raw.lower()
        if lowered not in {"true", "false", "yes", "no", "1", "0"}:
            raise SimulationError(f"option {name!r} wants true/false, got {raw!r}")
        return lowered in {"true", "yes", "1"}
    if kind in (OptionType.USER, OptionType.CHANNEL, OptionType.ROLE, OptionType.MENTIONABLE):
        cleaned = raw.strip("<@#&!>")
        if not (0 < len(cleaned) <= 20 and cleaned.isascii() and cleaned.isdigit()):
            raise SimulationError(f"option {name!r} wants an id (snowflake), got {raw!r}")
        return cleaned
    if kind == OptionType.ATTACHMENT:
        raise SimulationError(f"option {name!r} wants a file upload, which simulate cannot send")
    return raw


def _choice(option: dict[str, Any], raw: str) -> Any:
    """With declared choices Discord only sends one of their values: a user picks it by its
    name, so either the value or the name is accepted here."""
    choices = option["choices"]
    for choice in choices:
        if choice["name"] == raw:
            return choice["value"]
    try:
        value = _typed(option, raw)
    except SimulationError:
        value = None
    if value is not None and any(choice["value"] == value for choice in choices):
        return value
    listed = ", ".join(str(c["value"]) for c in choices)
    raise SimulationError(f"option {option['name']!r} is one of: {listed} (got {raw!r})")


def _bounds(option: dict[str, Any], value: Any) -> None:
    """min_value/max_value for numbers, min_length/max_length for strings, as declared."""
    name = option["name"]
    kind = OptionType(option["type"])
    if kind in (OptionType.INTEGER, OptionType.NUMBER):
        low, high = option.get("min_value"), option.get("max_value")
        if (low is not None and value < low) or (high is not None and value > high):
            span = (
                f"from {low} to {high}"
                if low is not None and high is not None
                else (f"at least {low}" if low is not None else f"at most {high}")
            )
            raise SimulationError(f"option {name!r} must be {span}, got {value}")
    if kind == OptionType.STRING:
        low = option.get("min_length", 0)
        high = option.get("max_length", _STRING_LIMIT)
        if not low <= len(value) <= high:
            span = f"{low} to {high}" if low else f"at most {high}"
            raise SimulationError(f"option {name!r} takes {span} characters, got {len(value)}")


def _declared(leaf: Leaf, declared: list[dict[str, Any]], name: str) -> dict[str, Any]:
    option = next((o for o in declared if o["name"] == name), None)
    if option is None:
        known = ", ".join(o["name"] for o in declared) or "none"
        raise SimulationError(f"{leaf.display} has no option {name!r} (options: {known})")
    return option


def _coerce(leaf: Leaf, declared: list[dict[str, Any]], name: str, raw: str) -> Any:
    """A typed option value Discord would send: declared, of the right type, within the
    declared choices and bounds. Anything else is refused with what would be accepted."""
    option = _declared(leaf, declared, name)
    if raw == "":
        # Discord's client sends no empty values: an option left blank is left out.
        raise SimulationError(f"option {name!r} is empty; leave it out instead")
    value = _choice(option, raw) if option.get("choices") else _typed(option, raw)
    _bounds(option, value)
    return value


def parse_command(bot: Bot, line: str) -> tuple[Leaf, dict[str, Any], str | None]:
    """`"/deploy app:web"` -> (leaf, {"app": "web"}, focused option or None).

    `name:?partial` marks the option being typed (for autocomplete). Every other value is
    checked as Discord's client would before sending: a declared option, given once, of
    its type, within its choices and bounds, and every required option present.
    """
    try:
        words = shlex.split(line.strip())
    except ValueError as exc:
        raise SimulationError(f"cannot parse {line!r}: {exc}") from None
    if not words or not words[0].startswith("/"):
        raise SimulationError("commands start with '/', e.g. orchestrator simulate /ping")
    path = [words[0][1:]]
    rest = words[1:]
    while rest and ":" not in rest[0] and bot.leaf(path) is None:
        path.append(rest.pop(0))
    leaf = bot.leaf(path)
    if leaf is None:
        known = ", ".join(sorted(leaf.display for leaf in bot.leaves()))
        raise SimulationError(f"no command /{' '.join(path)} (known: {known})")
    declared = declared_options(bot, leaf.path)
    values: dict[str, Any] = {}
    focused = None
    for word in rest:
        name, sep, raw = word.partition(":")
        if not sep:
            raise SimulationError(f"options look like name:value, got {word!r}")
        if name in values:
            raise SimulationError(f"option {name!r} is given twice")
        if raw.startswith("?"):
            # What the user is still typing: Discord sends it as typed, unchecked.
            _declared(leaf, declared, name)
            focused, raw = name, raw[1:]
            values[name] = raw
            continue
        values[name] = _coerce(leaf, declared, name, raw)
    missing = [o["name"] for o in declared if o.get("required") and o["name"] not in values]
    if missing and focused is None:
        raise SimulationError(f"{leaf.display} needs {', '.join(missing)}")
    return leaf, values, focused


def _options_json(leaf: Leaf, values: dict[str, Any], focused: str | None) -> list[dict[str, Any]]:
    types = {o.name: o.type for o in leaf.options}
    options: list[dict[str, Any]] = []
    for name, value in values.items():
        entry: dict[str, Any] = {"name": name, "type": types[name].value, "value": value}
        if name == focused:
            entry["focused"] = True
        options.append(entry)
    for depth in range(len(leaf.path) - 1, 0, -1):
        kind = (
            OptionType.SUB_COMMAND
            if depth == len(leaf.path) - 1
            else (OptionType.SUB_COMMAND_GROUP)
        )
        options = [{"name": leaf.path[depth], "type": kind.value, "options": options}]
    return options


def _base(kind: InteractionType, application_id: str, invoker: Invoker) -> dict[str, Any]:
    user = {
        "id": invoker.user_id,
        "username": invoker.username,
        "global_name": invoker.username,
        "discriminator": "0",
        "avatar": None,
    }
    payload: dict[str, Any] = {
        "type": kind.value,
        "id": snowflake(),
        "application_id": application_id,
        "token": "sim-" + secrets.token_urlsafe(48),
        "version": 1,
        "channel_id": invoker.channel_id,
        "channel": {"id": invoker.channel_id, "type": 0},
        "locale": "en-US",
        "app_permissions": "2248473465835073",
        "entitlements": [],
        "authorizing_integration_owners": {"0": invoker.guild_id or "0"},
        "context": 0 if invoker.guild_id else 1,
    }
    if invoker.guild_id:
        payload["guild_id"] = invoker.guild_id
        payload["guild_locale"] = "en-US"
        payload["member"] = {
            "user": user,
            "roles": list(invoker.roles),
            "permissions": "0",
            "joined_at": "2026-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
        }
    else:
        payload["user"] = user
    return payload


def command_interaction(
    bot: Bot, line: str, application_id: str, invoker: Invoker, *, autocomplete: bool = False
) -> dict[str, Any]:
    leaf, values, focused = parse_command(bot, line)
    if autocomplete and focused is None:
        if not values:
            raise SimulationError("autocomplete needs the option being typed, e.g. app:?we")
        focused = list(values)[-1]
    kind = (
        InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE
        if autocomplete
        else InteractionType.APPLICATION_COMMAND
    )
    payload = _base(kind, application_id, invoker)
    data: dict[str, Any] = {"id": snowflake(), "name": leaf.path[0], "type": 1}
    options = _options_json(leaf, values, focused if autocomplete else None)
    if options:
        data["options"] = options
    payload["data"] = data
    return payload


CUSTOM_ID_LIMIT = 100  # Discord's: a button's or modal's custom_id is 1-100 characters


def check_custom_id(custom_id: str) -> str:
    """Discord's client never sends an empty custom_id, nor one over 100 characters: nor
    does `orchestrator simulate` (the server refuses them too, with a 400 no user can
    cause). The payload builders below still build them, for tests of that refusal."""
    if not 0 < len(custom_id) <= CUSTOM_ID_LIMIT:
        raise SimulationError(
            f"a custom_id is 1-{CUSTOM_ID_LIMIT} characters on Discord, got {len(custom_id)}: "
            "copy the button's id from the message (after the →)"
        )
    return custom_id


def component_interaction(
    custom_id: str, application_id: str, invoker: Invoker, *, message_id: str | None = None
) -> dict[str, Any]:
    payload = _base(InteractionType.MESSAGE_COMPONENT, application_id, invoker)
    payload["data"] = {"custom_id": custom_id, "component_type": 2}
    payload["message"] = {
        "id": message_id or snowflake(),
        "channel_id": invoker.channel_id,
        "content": "",
        "components": [],
    }
    return payload


def modal_interaction(
    custom_id: str, fields: dict[str, str], application_id: str, invoker: Invoker
) -> dict[str, Any]:
    payload = _base(InteractionType.MODAL_SUBMIT, application_id, invoker)
    payload["data"] = {
        "custom_id": custom_id,
        "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": key, "value": value}]}
            for key, value in fields.items()
        ],
    }
    return payload
