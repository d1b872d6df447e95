"""Interaction responses (what `POST /discord` answers), by callback type.

Discord allows exactly one of these per interaction, within 3 seconds. Long
work answers `deferred()` (the user sees "thinking…") or `deferred_update()`
(for a button) and finishes later through the interaction webhook.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Any

from orchestrator.discord.messages import EPHEMERAL, Message

AUTOCOMPLETE_MAX_CHOICES = 25


class CallbackType(IntEnum):
    PONG = 1
    CHANNEL_MESSAGE = 4
    DEFERRED_CHANNEL_MESSAGE = 5
    DEFERRED_UPDATE_MESSAGE = 6
    UPDATE_MESSAGE = 7
    AUTOCOMPLETE_RESULT = 8
    MODAL = 9


def pong() -> dict[str, Any]:
    return {"type": CallbackType.PONG.value}


def message(msg: Message) -> dict[str, Any]:
    return {"type": CallbackType.CHANNEL_MESSAGE.value, "data": msg.to_data()}


def update(msg: Message) -> dict[str, Any]:
    """Replace the message a button sits on."""
    return {"type": CallbackType.UPDATE_MESSAGE.value, "data": msg.to_data(edit=True)}


def deferred(*, ephemeral: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {"type": CallbackType.DEFERRED_CHANNEL_MESSAGE.value}
    if ephemeral:
        response["data"] = {"flags": EPHEMERAL}
    return response


def deferred_update() -> dict[str, Any]:
    return {"type": CallbackType.DEFERRED_UPDATE_MESSAGE.value}


def autocomplete(choices: Sequence[tuple[str, str | int | float]]) -> dict[str, Any]:
    """Up to 25 `(label, value)` suggestions; labels are cut to Discord's 100 characters."""
    return {
        "type": CallbackType.AUTOCOMPLETE_RESULT.value,
        "data": {
            "choices": [
                {"name": (name or str(value))[:100], "value": value}
                for name, value in list(choices)[:AUTOCOMPLETE_MAX_CHOICES]
            ]
        },
    }


def modal(custom_id: str, title: str, inputs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": CallbackType.MODAL.value,
        "data": {"custom_id": custom_id, "title": title[:45], "components": list(inputs)},
    }
