"""Slash-command options: what a command asks for, as Discord's registration JSON takes it.

The builders (`string`, `integer`, ...) and the checks below run when a module
declares its commands, so a name or description Discord would refuse fails at
import, in tests, instead of at `sync-commands` against the live API.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from orchestrator.discord.interactions import OptionType

_NAME = re.compile(r"^[-_\w]{1,32}$")


class Choice(NamedTuple):
    """One of an option's fixed values (a `NamedTuple`: built at import by each command
    module, where a frozen dataclass's class costs ten times as much)."""

    name: str
    value: str | int | float


@dataclass(frozen=True)
class Option:
    type: OptionType
    name: str
    description: str
    required: bool = False
    choices: tuple[Choice, ...] = ()
    min_value: int | float | None = None
    max_value: int | float | None = None
    min_length: int | None = None
    max_length: int | None = None
    autocomplete: bool = False
    channel_types: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        check_name(self.name)
        check_description(self.description)
        if self.autocomplete and self.choices:
            raise ValueError(f"option {self.name!r}: autocomplete and choices exclude each other")
        if len(self.choices) > 25:
            raise ValueError(f"option {self.name!r}: at most 25 choices")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type.value,
            "name": self.name,
            "description": self.description,
        }
        if self.required:
            out["required"] = True
        if self.choices:
            out["choices"] = [{"name": c.name, "value": c.value} for c in self.choices]
        for key in ("min_value", "max_value", "min_length", "max_length"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.autocomplete:
            out["autocomplete"] = True
        if self.channel_types:
            out["channel_types"] = list(self.channel_types)
        return out


def _choices(
    values: Sequence[str | int | float | tuple[str, str | int | float]],
) -> tuple[Choice, ...]:
    out = []
    for value in values:
        if isinstance(value, tuple):
            out.append(Choice(value[0], value[1]))
        else:
            out.append(Choice(str(value), value))
    return tuple(out)


def string(
    name: str,
    description: str,
    *,
    required: bool = False,
    choices: Sequence[str | tuple[str, str]] = (),
    min_length: int | None = None,
    max_length: int | None = None,
    autocomplete: bool = False,
) -> Option:
    return Option(
        OptionType.STRING,
        name,
        description,
        required,
        _choices(choices),
        min_length=min_length,
        max_length=max_length,
        autocomplete=autocomplete,
    )


def integer(
    name: str,
    description: str,
    *,
    required: bool = False,
    choices: Sequence[int | tuple[str, int]] = (),
    min_value: int | None = None,
    max_value: int | None = None,
    autocomplete: bool = False,
) -> Option:
    return Option(
        OptionType.INTEGER,
        name,
        description,
        required,
        _choices(choices),
        min_value=min_value,
        max_value=max_value,
        autocomplete=autocomplete,
    )


def number(
    name: str,
    description: str,
    *,
    required: bool = False,
    min_value: float | None = None,
    max_value: float | None = None,
) -> Option:
    return Option(
        OptionType.NUMBER, name, description, required, min_value=min_value, max_value=max_value
    )


def boolean(name: str, description: str, *, required: bool = False) -> Option:
    return Option(OptionType.BOOLEAN, name, description, required)


def user(name: str, description: str, *, required: bool = False) -> Option:
    return Option(OptionType.USER, name, description, required)


def channel(
    name: str, description: str, *, required: bool = False, channel_types: Sequence[int] = ()
) -> Option:
    return Option(
        OptionType.CHANNEL, name, description, required, channel_types=tuple(channel_types)
    )


def role(name: str, description: str, *, required: bool = False) -> Option:
    return Option(OptionType.ROLE, name, description, required)


def check_name(name: str) -> None:
    """Commands, subcommands, groups and options share Discord's naming rule."""
    if not _NAME.match(name) or name != name.lower():
        raise ValueError(f"invalid command/option name {name!r}: 1-32 lowercase word characters")


def check_option_order(path: tuple[str, ...], options: Sequence[Option]) -> None:
    """Discord rejects a command whose required options follow optional ones; fail at import."""
    seen_optional = False
    for option in options:
        if option.required and seen_optional:
            raise ValueError(f"/{' '.join(path)}: required options must come first")
        seen_optional |= not option.required
    if len({o.name for o in options}) != len(options):
        raise ValueError(f"/{' '.join(path)}: option names must be unique")
    if len(options) > 25:
        raise ValueError(f"/{' '.join(path)}: at most 25 options")


def check_description(text: str) -> None:
    """Discord refuses a whole registration over one description out of bounds."""
    if not 1 <= len(text) <= 100:
        raise ValueError(f"descriptions are 1-100 characters: {text!r}")
