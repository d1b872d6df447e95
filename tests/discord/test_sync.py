"""`diff` between declared and registered commands: only real differences count.

Discord echoes every command back with ids, versions, nulls and default values we never
sent; none of those may look like a change, or every deploy would rewrite the commands
(clients refetch, and command creations are rate-limited per day).
"""

from __future__ import annotations

import copy
from typing import Any

from orchestrator import product
from orchestrator.discord.sync import diff, normalize

bot = product.bot()

AUDIT: dict[str, Any] = {
    "name": "audit",
    "description": "Who did what",
    "type": 1,
    "options": [
        {
            "type": 4,
            "name": "count",
            "description": "How many",
            "min_value": 1,
            "max_value": 25,
        }
    ],
    "default_member_permissions": "0",
    "contexts": [0],
}
NOTIFY: dict[str, Any] = {
    "name": "notify",
    "description": "Send GitHub events to a channel",
    "type": 1,
    "options": [
        {
            "type": 1,
            "name": "add",
            "description": "Subscribe",
            "options": [
                {"type": 3, "name": "repo", "description": "owner/name", "required": True},
                {
                    "type": 3,
                    "name": "events",
                    "description": "Which",
                    "choices": [{"name": "push", "value": "push"}],
                },
            ],
        }
    ],
    "contexts": [0],
}


def echoed(command: dict[str, Any], n: int) -> dict[str, Any]:
    """`command` as Discord's GET returns it: ids, a version, nulls and defaults added."""
    out = copy.deepcopy(command)
    out.update(
        id=f"12{n:017d}",
        application_id="100000000000000001",
        version=f"13{n:017d}",
        guild_id=None,
        dm_permission=True,
        integration_types=[0],
        nsfw=False,
        name_localizations=None,
        description_localizations=None,
    )
    out.setdefault("default_member_permissions", None)
    if out.get("default_member_permissions") is not None:
        out["default_member_permissions"] = str(out["default_member_permissions"])

    def option(o: dict[str, Any]) -> dict[str, Any]:
        o = {
            "required": False,
            "autocomplete": False,
            "name_localized": o["name"],
            "name_localizations": None,
            "description_localizations": {},
            "channel_types": [],
            **o,
        }
        if "options" in o:
            o["options"] = [option(child) for child in o["options"]]
        if "choices" in o:
            o["choices"] = [{**c, "name_localizations": None} for c in o["choices"]]
        return o

    if "options" in out:
        out["options"] = [option(o) for o in out["options"]]
    return out


def test_what_discord_echoes_back_is_not_a_difference() -> None:
    registered = [echoed(AUDIT, 1), echoed(NOTIFY, 2)]
    result = diff([AUDIT, NOTIFY], registered)
    assert result.in_sync, result
    assert result.lines() == ["commands are in sync"]
    assert normalize(registered[0]) == normalize(AUDIT)
    assert "id" not in normalize(registered[0]) and "version" not in normalize(registered[0])


def test_the_real_registration_is_in_sync_with_its_own_echo() -> None:
    declared = bot.registration()
    registered = [echoed(command, n) for n, command in enumerate(declared)]
    result = diff(declared, registered)
    assert result.in_sync, result.lines()


def test_equivalent_spellings_are_equal() -> None:
    """A missing type is CHAT_INPUT; permissions may come back as an int or a string."""
    sent = {"name": "x", "description": "d", "default_member_permissions": 8}
    back = {"name": "x", "description": "d", "type": 1, "default_member_permissions": "8"}
    assert diff([sent], [back]).in_sync


def test_added_removed_and_changed_are_each_reported() -> None:
    changed_audit = copy.deepcopy(AUDIT)
    changed_audit["description"] = "Who did what, and when"
    changed_audit["options"][0]["max_value"] = 50
    ping = {"name": "ping", "description": "Pong", "type": 1}
    registered = [echoed(AUDIT, 1), echoed(NOTIFY, 2), echoed({**ping, "name": "ship"}, 3)]

    result = diff([ping, changed_audit, NOTIFY], registered)

    assert result.added == ["ping"]
    assert result.removed == ["ship"]
    assert result.changed == {"audit": ["description", "options"]}
    assert not result.in_sync
    assert result.lines() == [
        "+ /ping",
        "- /ship",
        "~ /audit: description, options",
    ]


def test_each_real_field_change_counts() -> None:
    def changed(edit: Any) -> dict[str, list[str]]:
        mine = copy.deepcopy(NOTIFY)
        edit(mine)
        return diff([mine], [echoed(NOTIFY, 1)]).changed

    def drop_required(c: dict[str, Any]) -> None:
        c["options"][0]["options"][0]["required"] = False

    def new_choice(c: dict[str, Any]) -> None:
        c["options"][0]["options"][1]["choices"].append({"name": "star", "value": "star"})

    def rename_choice(c: dict[str, Any]) -> None:
        c["options"][0]["options"][1]["choices"][0]["value"] = "push.v2"

    def lock(c: dict[str, Any]) -> None:
        c["default_member_permissions"] = "0"

    def dms(c: dict[str, Any]) -> None:
        c["contexts"] = [0, 1]

    def reorder(c: dict[str, Any]) -> None:
        c["options"][0]["options"].reverse()

    assert changed(drop_required) == {"notify": ["options"]}
    assert changed(new_choice) == {"notify": ["options"]}
    assert changed(rename_choice) == {"notify": ["options"]}
    assert changed(lock) == {"notify": ["default_member_permissions"]}
    assert changed(dms) == {"notify": ["contexts"]}
    assert changed(reorder) == {"notify": ["options"]}  # Discord shows options in order


def test_removed_is_sorted_and_non_objects_are_ignored() -> None:
    registered: list[Any] = [echoed({**AUDIT, "name": n}, i) for i, n in enumerate("zab")]
    registered.append("garbage")
    result = diff([], registered)
    assert result.removed == ["a", "b", "z"]
    assert result.lines() == ["- /a", "- /b", "- /z"]
