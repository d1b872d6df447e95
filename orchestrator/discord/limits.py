"""Discord's content limits, applied by truncating instead of failing.

A deploy notification built from a 5 000-character commit message must still
arrive: Discord answers an over-long payload with a 400 and posts nothing, so
every message body is clamped just before it is sent. Truncated text ends in
an ellipsis so a reader can tell something was cut.

Lengths are Unicode code points (Python's `len`), which is how Discord's API
counts them. Cuts avoid splitting a character from the combining marks,
variation selectors, skin-tone modifiers or zero-width joiners that belong to
it, and never split a flag (a pair of regional indicators) in half.
"""

from __future__ import annotations

import unicodedata
from typing import Any

CONTENT_LIMIT = 2000
EMBEDS_LIMIT = 10
EMBED_TITLE_LIMIT = 256
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_FIELDS_LIMIT = 25
EMBED_FIELD_NAME_LIMIT = 256
EMBED_FIELD_VALUE_LIMIT = 1024
EMBED_FOOTER_TEXT_LIMIT = 2048
EMBED_AUTHOR_NAME_LIMIT = 256
EMBEDS_TOTAL_LIMIT = 6000

ELLIPSIS = "…"

_ZWJ = "\u200d"
_VISUAL_KEYS = ("image", "thumbnail", "video")


def _is_regional_indicator(char: str) -> bool:
    return "\U0001f1e6" <= char <= "\U0001f1ff"


def _attaches_to_previous(char: str) -> bool:
    """True for code points that render as part of the character before them."""
    return (
        unicodedata.combining(char) != 0
        or unicodedata.category(char) in ("Mn", "Mc", "Me")
        or "\ufe00" <= char <= "\ufe0f"  # variation selectors
        or "\U000e0100" <= char <= "\U000e01ef"  # variation selectors supplement
        or "\U0001f3fb" <= char <= "\U0001f3ff"  # skin-tone modifiers
        or "\U000e0020" <= char <= "\U000e007f"  # emoji tag sequences
        or char == _ZWJ
    )


def _safe_cut(text: str, end: int) -> int:
    """Move a cut at `end` left until it does not split a visible character."""
    while 0 < end < len(text) and (_attaches_to_previous(text[end]) or text[end - 1] == _ZWJ):
        end -= 1
    if 0 < end < len(text) and _is_regional_indicator(text[end]):
        run = 0
        while run < end and _is_regional_indicator(text[end - 1 - run]):
            run += 1
        if run % 2 == 1:
            end -= 1
    return end


def truncate(text: str, limit: int) -> str:
    """`text` if it fits in `limit` code points, else a prefix ending in "…" of at most `limit`."""
    if limit < 0:
        raise ValueError("limit must not be negative")
    if len(text) <= limit:
        return text
    if limit == 0:
        return ""
    return text[: _safe_cut(text, limit - 1)] + ELLIPSIS


def _clamp_str(obj: dict[str, Any], key: str, limit: int) -> None:
    value = obj.get(key)
    if isinstance(value, str):
        obj[key] = truncate(value, limit)


def _clamp_embed(embed: dict[str, Any]) -> None:
    _clamp_str(embed, "title", EMBED_TITLE_LIMIT)
    _clamp_str(embed, "description", EMBED_DESCRIPTION_LIMIT)
    footer, author = embed.get("footer"), embed.get("author")
    if isinstance(footer, dict):
        _clamp_str(footer, "text", EMBED_FOOTER_TEXT_LIMIT)
    if isinstance(author, dict):
        _clamp_str(author, "name", EMBED_AUTHOR_NAME_LIMIT)
    fields = embed.get("fields")
    if isinstance(fields, list):
        del fields[EMBED_FIELDS_LIMIT:]
        for field in fields:
            if isinstance(field, dict):
                _clamp_str(field, "name", EMBED_FIELD_NAME_LIMIT)
                _clamp_str(field, "value", EMBED_FIELD_VALUE_LIMIT)


def _text_len(obj: Any, key: str) -> int:
    if not isinstance(obj, dict):
        return 0
    value = obj.get(key)
    return len(value) if isinstance(value, str) else 0


def embed_length(embed: Any) -> int:
    """The characters of one embed that count towards Discord's 6000 total."""
    if not isinstance(embed, dict):
        return 0
    total = _text_len(embed, "title") + _text_len(embed, "description")
    total += _text_len(embed.get("footer"), "text") + _text_len(embed.get("author"), "name")
    fields = embed.get("fields")
    if isinstance(fields, list):
        total += sum(_text_len(f, "name") + _text_len(f, "value") for f in fields)
    return total


def embeds_length(embeds: list[Any]) -> int:
    return sum(embed_length(embed) for embed in embeds)


def _shrink_embed(embed: dict[str, Any], excess: int) -> int:
    """Cut up to `excess` characters from the end of one embed; returns what is still over.

    Fields go first, last to first (a field whose value would shrink to nothing
    is dropped whole: Discord rejects empty field values), then the description.
    """
    fields = embed.get("fields")
    if isinstance(fields, list):
        while excess > 0 and fields:
            field = fields[-1]
            value = field.get("value") if isinstance(field, dict) else None
            if isinstance(value, str) and excess < len(value):
                field["value"] = truncate(value, len(value) - excess)
                excess -= len(value) - len(field["value"])
            else:
                excess -= _text_len(field, "name") + _text_len(field, "value")
                fields.pop()
                if len(fields) == 0:
                    del embed["fields"]
    description = embed.get("description")
    if excess > 0 and isinstance(description, str) and description:
        if excess < len(description):
            embed["description"] = truncate(description, len(description) - excess)
            excess -= len(description) - len(embed["description"])
        else:
            del embed["description"]
            excess -= len(description)
    return excess


def _fit_total(embeds: list[Any]) -> None:
    excess = embeds_length(embeds) - EMBEDS_TOTAL_LIMIT
    for index in range(len(embeds) - 1, -1, -1):
        if excess <= 0:
            return
        embed = embeds[index]
        if isinstance(embed, dict):
            excess = _shrink_embed(embed, excess)
            if embed_length(embed) == 0 and not any(k in embed for k in _VISUAL_KEYS):
                del embeds[index]  # nothing left to show; Discord rejects an empty embed
    # Only titles, footers and author names remain, and one embed's worth always fits
    # (256 + 2048 + 256 < 6000): drop trailing embeds until the rest does.
    while excess > 0 and len(embeds) > 1:
        excess -= embed_length(embeds.pop())


def _copy(value: Any) -> Any:
    """A fresh copy of every dict and list, even ones the input shares between places.

    `copy.deepcopy` would keep `[embed] * 3` as three references to one embed, and
    trimming "the last one" would then trim them all.
    """
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def clamp_message(message: dict[str, Any]) -> dict[str, Any]:
    """A copy of a message payload that Discord will accept length-wise; the input is untouched.

    Works on any message-shaped body (create/edit message, interaction callback
    `data`, webhook execute/edit). Absent keys stay absent, so a partial edit
    remains partial; values of unexpected types are passed through for Discord
    to judge.
    """
    clamped: dict[str, Any] = _copy(message)
    _clamp_str(clamped, "content", CONTENT_LIMIT)
    embeds = clamped.get("embeds")
    if isinstance(embeds, list):
        del embeds[EMBEDS_LIMIT:]
        for embed in embeds:
            if isinstance(embed, dict):
                _clamp_embed(embed)
        _fit_total(embeds)
    return clamped
