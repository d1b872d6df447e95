"""Building Discord messages: content, embeds, buttons, modal inputs.

Plain data in, plain JSON out. `Message.to_data()` is the one place that
applies the policies every message gets: no mass mentions unless asked for,
the ephemeral flag, and Discord's length limits (truncated, never rejected).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

EPHEMERAL = 1 << 6
CUSTOM_ID_MAX = 100

# No pings unless a message asks for them: a commit title quoting "@everyone" or "<@id>"
# must not ping anyone.
NO_MENTIONS: dict[str, Any] = {"parse": []}


class Color(IntEnum):
    GREEN = 0x2EA043
    RED = 0xCF222E
    YELLOW = 0xD4A72C
    BLUE = 0x0969DA
    GREY = 0x6E7781
    PURPLE = 0x8250DF


class ButtonStyle(IntEnum):
    PRIMARY = 1
    SECONDARY = 2
    SUCCESS = 3
    DANGER = 4
    LINK = 5


@dataclass(frozen=True)
class Message:
    content: str | None = None
    embeds: Sequence[dict[str, Any]] = ()
    components: Sequence[dict[str, Any]] = ()
    ephemeral: bool = False
    allowed_mentions: dict[str, Any] = field(default_factory=lambda: dict(NO_MENTIONS))

    def to_data(self, *, edit: bool = False) -> dict[str, Any]:
        """The message body.

        For an edit (`edit=True`) empty lists are sent so old embeds and buttons go
        away, and no ephemeral flag: visibility is fixed when a message is created.
        """
        from orchestrator.discord.limits import clamp_message

        data: dict[str, Any] = {"allowed_mentions": self.allowed_mentions}
        if self.content is not None:
            data["content"] = self.content
        if self.embeds or edit:
            data["embeds"] = list(self.embeds)
        if self.components or edit:
            data["components"] = list(self.components)
        if self.ephemeral and not edit:
            data["flags"] = EPHEMERAL
        clamped: dict[str, Any] = clamp_message(data)
        return clamped


def embed(
    title: str | None = None,
    description: str | None = None,
    *,
    color: int | None = None,
    url: str | None = None,
    fields: Sequence[tuple[str, str] | tuple[str, str, bool]] = (),
    footer: str | None = None,
    timestamp: str | None = None,
) -> dict[str, Any]:
    """An embed. Fields are `(name, value)` or `(name, value, inline)`."""
    out: dict[str, Any] = {}
    if title:
        out["title"] = title
    if description:
        out["description"] = description
    if color is not None:
        out["color"] = int(color)
    if url:
        out["url"] = url
    if fields:
        out["fields"] = [
            {
                "name": f[0] or "\u200b",
                "value": f[1] or "\u200b",
                "inline": f[2] if len(f) > 2 else False,
            }
            for f in fields
        ]
    if footer:
        out["footer"] = {"text": footer}
    if timestamp:
        out["timestamp"] = timestamp
    return out


def custom_id(route: str, *state: str) -> str:
    """`route:state1:state2`, the component routing key. State must be small (100 chars total)."""
    value = ":".join((route, *state))
    if len(value) > CUSTOM_ID_MAX:
        raise ValueError(f"custom_id over {CUSTOM_ID_MAX} characters: keep state small")
    return value


def button(
    label: str,
    custom_id: str,
    *,
    style: ButtonStyle = ButtonStyle.SECONDARY,
    disabled: bool = False,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": 2,
        "style": int(style),
        "label": label[:80],
        "custom_id": custom_id,
    }
    if disabled:
        out["disabled"] = True
    return out


def link_button(label: str, url: str) -> dict[str, Any]:
    return {"type": 2, "style": int(ButtonStyle.LINK), "label": label[:80], "url": url}


def action_row(*components: dict[str, Any]) -> dict[str, Any]:
    if not 1 <= len(components) <= 5:
        raise ValueError("an action row holds 1 to 5 components")
    return {"type": 1, "components": list(components)}


def text_input(
    custom_id: str,
    label: str,
    *,
    paragraph: bool = False,
    required: bool = True,
    value: str | None = None,
    placeholder: str | None = None,
    max_length: int | None = None,
) -> dict[str, Any]:
    """A modal text input, wrapped in the action row Discord expects around it."""
    field_: dict[str, Any] = {
        "type": 4,
        "custom_id": custom_id,
        "style": 2 if paragraph else 1,
        "label": label[:45],
        "required": required,
    }
    if value is not None:
        field_["value"] = value[:4000]
    if placeholder:
        field_["placeholder"] = placeholder[:100]
    if max_length is not None:
        field_["max_length"] = max_length
    return {"type": 1, "components": [field_]}
