"""What differs between the commands we declare and those Discord has registered.

Discord echoes commands back with ids, versions, nulls and defaults we never
sent; `normalize` strips those so that only real differences count, and
`sync-commands` writes (a bulk overwrite) only when there are some: every
overwrite makes clients refetch, and Discord limits command creations a day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_COMMAND_KEYS = (
    "name",
    "description",
    "type",
    "options",
    "default_member_permissions",
    "contexts",
    "nsfw",
    "name_localizations",
    "description_localizations",
)
_OPTION_KEYS = (
    "type",
    "name",
    "description",
    "required",
    "choices",
    "options",
    "min_value",
    "max_value",
    "min_length",
    "max_length",
    "autocomplete",
    "channel_types",
    "name_localizations",
    "description_localizations",
)


def _clean(value: Any, keys: Iterable[str], nested_keys: Iterable[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in keys:
        item = value.get(key) if isinstance(value, dict) else None
        if item is None or item is False or item == [] or item == {}:
            continue
        if key == "options" and isinstance(item, list):
            item = [_clean(option, nested_keys, nested_keys) for option in item]
        elif key == "choices" and isinstance(item, list):
            item = [
                {"name": c.get("name"), "value": c.get("value")}
                for c in item
                if isinstance(c, dict)
            ]
        out[key] = item
    return out


def normalize(command: dict[str, Any]) -> dict[str, Any]:
    out = _clean(command, _COMMAND_KEYS, _OPTION_KEYS)
    out.setdefault("type", 1)
    if "default_member_permissions" in out:
        out["default_member_permissions"] = str(out["default_member_permissions"])
    return out


@dataclass
class CommandDiff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)

    @property
    def in_sync(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def lines(self) -> list[str]:
        out = [f"+ /{name}" for name in self.added]
        out += [f"- /{name}" for name in self.removed]
        out += [f"~ /{name}: {', '.join(fields)}" for name, fields in self.changed.items()]
        return out or ["commands are in sync"]


def diff(declared: list[dict[str, Any]], registered: list[dict[str, Any]]) -> CommandDiff:
    want = {c["name"]: normalize(c) for c in declared}
    have = {c.get("name"): normalize(c) for c in registered if isinstance(c, dict)}
    result = CommandDiff()
    for name, command in want.items():
        if name not in have:
            result.added.append(name)
            continue
        fields = sorted(
            k for k in set(command) | set(have[name]) if command.get(k) != have[name].get(k)
        )
        if fields:
            result.changed[name] = fields
    result.removed = sorted(str(name) for name in have if name not in want)
    return result
