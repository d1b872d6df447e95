"""The Discord spec validator itself: it passes what Discord accepts and fails what it refuses.

Every body here is checked against Discord's official OpenAPI spec (the `discord-api-spec`
npm package, strict objects). Valid examples are shaped like what the orchestrator sends;
each invalid one breaks exactly one rule, so a validator that accepts everything fails here.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.support.discord_spec import DiscordSpec

APP = "100000000000000001"
TOKEN = "aW50ZXJhY3Rpb246MTIz"
CHANNEL = "200000000000000002"
MESSAGE = "300000000000000003"
GUILD = "400000000000000004"

EPHEMERAL = 1 << 6

EMBED = {
    "title": "Deploy #42 succeeded",
    "description": "`main` @ `abc1234` is live on **production**.",
    "url": "https://github.com/acme/shop/actions/runs/42",
    "color": 0x2ECC71,
    "fields": [
        {"name": "Environment", "value": "production", "inline": True},
        {"name": "Duration", "value": "3m 12s", "inline": True},
    ],
    "footer": {"text": "orchestrator"},
    "timestamp": "2024-05-01T12:00:00Z",
}


def button(index: int) -> dict[str, Any]:
    return {"type": 2, "style": 1, "label": f"Button {index}", "custom_id": f"b:{index}"}


ROW = {
    "type": 1,
    "components": [
        {"type": 2, "style": 3, "label": "Approve", "custom_id": "deploy:approve:42"},
        {"type": 2, "style": 4, "label": "Reject", "custom_id": "deploy:reject:42"},
        {"type": 2, "style": 5, "label": "Run", "url": "https://github.com/acme/shop/actions"},
    ],
}

MESSAGE_BODY = {
    "content": "Deploying `main` to production…",
    "embeds": [EMBED],
    "components": [ROW],
    "allowed_mentions": {"parse": []},
}

COMMANDS: list[dict[str, Any]] = [
    {
        "name": "deploy",
        "description": "Deploy a ref to an environment",
        "type": 1,
        "default_member_permissions": "32",
        "contexts": [0],
        "integration_types": [0],
        "options": [
            {
                "type": 3,
                "name": "environment",
                "description": "Where to deploy",
                "required": True,
                "choices": [
                    {"name": "staging", "value": "staging"},
                    {"name": "production", "value": "production"},
                ],
            },
            {
                "type": 3,
                "name": "ref",
                "description": "Branch, tag or SHA",
                "autocomplete": True,
                "min_length": 1,
                "max_length": 100,
            },
            {
                "type": 4,
                "name": "timeout",
                "description": "Minutes to wait",
                "min_value": 1,
                "max_value": 60,
            },
        ],
    },
    {
        "name": "status",
        "description": "Deploy status",
        "default_member_permissions": None,
        "contexts": [0, 1, 2],
        "integration_types": [0, 1],
        "options": [
            {
                "type": 1,
                "name": "latest",
                "description": "The latest deploy",
                "options": [
                    {"type": 3, "name": "environment", "description": "Which one"},
                ],
            },
            {
                "type": 2,
                "name": "history",
                "description": "Past deploys",
                "options": [
                    {
                        "type": 1,
                        "name": "list",
                        "description": "List them",
                        "options": [
                            {"type": 4, "name": "limit", "description": "How many", "min_value": 1}
                        ],
                    }
                ],
            },
        ],
    },
]


@pytest.fixture(scope="module")
def spec() -> DiscordSpec:
    return DiscordSpec.get()


def test_the_session_shares_one_validator(spec: DiscordSpec) -> None:
    assert DiscordSpec.get() is spec
    assert spec.routes > 100
    assert any("default_member_permissions" in quirk for quirk in spec.quirks)


# --- Interaction responses (the HTTP answer of POST /discord) ---------------------------------

VALID_RESPONSES: dict[str, dict[str, Any]] = {
    "pong": {"type": 1},
    "message": {
        "type": 4,
        "data": {
            "content": "Deploy queued.",
            "embeds": [EMBED],
            "components": [ROW],
            "flags": EPHEMERAL,
            "allowed_mentions": {"parse": [], "users": ["500000000000000005"]},
        },
    },
    "deferred": {"type": 5},
    "deferred_ephemeral": {"type": 5, "data": {"flags": EPHEMERAL}},
    "deferred_update": {"type": 6},
    "update": {"type": 7, "data": {"content": "Approved by <@1>.", "components": []}},
    "autocomplete": {
        "type": 8,
        "data": {"choices": [{"name": "main", "value": "main"}, {"name": "v1.2", "value": "v1.2"}]},
    },
    "modal": {
        "type": 9,
        "data": {
            "custom_id": "rollback:42",
            "title": "Roll back production",
            "components": [
                {
                    "type": 1,
                    "components": [
                        {
                            "type": 4,
                            "custom_id": "reason",
                            "style": 2,
                            "label": "Why?",
                            "required": True,
                            "max_length": 500,
                        }
                    ],
                }
            ],
        },
    },
}


@pytest.mark.parametrize("name", sorted(VALID_RESPONSES))
def test_valid_interaction_responses_pass(spec: DiscordSpec, name: str) -> None:
    spec.assert_valid_interaction_response(VALID_RESPONSES[name])
    assert spec.validate_interaction_response(VALID_RESPONSES[name]) == []


INVALID_RESPONSES: dict[str, tuple[Any, str]] = {
    "unknown type": ({"type": 99}, "type"),
    "type as a string": ({"type": "4", "data": {"content": "x"}}, "type"),
    "not an object": ([{"type": 1}], "expected object"),
    "content as a number": ({"type": 4, "data": {"content": 5}}, "data.content"),
    "unknown top-level key": (
        {"type": 4, "data": {"content": "x"}, "ephemeral": True},
        "ephemeral",
    ),
    "unknown key in data": ({"type": 4, "data": {"content": "x", "ephemeral": True}}, "ephemeral"),
    "unknown key in an embed": (
        {"type": 4, "data": {"embeds": [{**EMBED, "colour": 1}]}},
        "data.embeds[0]",
    ),
    "content over 2000 characters": ({"type": 4, "data": {"content": "x" * 2001}}, "2000"),
    "six buttons in a row": (
        {
            "type": 4,
            "data": {"components": [{"type": 1, "components": [button(i) for i in range(6)]}]},
        },
        "components[0].components",
    ),
    "an empty action row": (
        {"type": 4, "data": {"components": [{"type": 1, "components": []}]}},
        ">=1",
    ),
    "41 top-level components": (
        {"type": 4, "data": {"components": [{"type": 1, "components": [button(0)]}] * 41}},
        "<=40",
    ),
    "eleven embeds": ({"type": 4, "data": {"embeds": [EMBED] * 11}}, "<=10"),
    "pong with data": ({"type": 1, "data": {"content": "x"}}, "data"),
    "modal without a title": (
        {
            "type": 9,
            "data": {
                "custom_id": "m",
                "components": VALID_RESPONSES["modal"]["data"]["components"],
            },
        },
        "data.title",
    ),
    "autocomplete with 26 choices": (
        {"type": 8, "data": {"choices": [{"name": str(i), "value": str(i)} for i in range(26)]}},
        "choices",
    ),
    "button without style": (
        {
            "type": 4,
            "data": {"components": [{"type": 1, "components": [{"type": 2, "custom_id": "x"}]}]},
        },
        "style",
    ),
}


@pytest.mark.parametrize("name", sorted(INVALID_RESPONSES))
def test_invalid_interaction_responses_fail(spec: DiscordSpec, name: str) -> None:
    body, expected = INVALID_RESPONSES[name]
    errors = spec.validate_interaction_response(body)
    assert errors, f"{name}: accepted, but Discord's spec refuses it"
    assert any(expected in error for error in errors), errors
    with pytest.raises(AssertionError, match="not valid per Discord's OpenAPI spec"):
        spec.assert_valid_interaction_response(body)


def test_union_errors_come_from_the_closest_member(spec: DiscordSpec) -> None:
    errors = spec.validate_interaction_response({"type": 9, "data": {"title": "t"}})
    assert errors and all("ModalInteractionCallbackRequest" in e for e in errors), errors
    assert any("data.custom_id" in e for e in errors), errors


def test_six_action_rows_are_within_the_spec(spec: DiscordSpec) -> None:
    """A spec fact: since Components V2 the top-level cap is 40 components, not 5 rows."""
    rows = [{"type": 1, "components": [button(i)]} for i in range(6)]
    assert spec.validate_interaction_response({"type": 4, "data": {"components": rows}}) == []


def test_embed_timestamps_need_the_z_form(spec: DiscordSpec) -> None:
    """A spec quirk: `RichEmbed.timestamp` is zod's iso.datetime(), which refuses `+00:00`.

    Python's `datetime.isoformat()` gives `+00:00`; render embed timestamps with `Z`.
    """
    z_form = {"type": 4, "data": {"embeds": [{"timestamp": "2024-05-01T12:00:00.123Z"}]}}
    offset_form = {"type": 4, "data": {"embeds": [{"timestamp": "2024-05-01T12:00:00+00:00"}]}}
    assert spec.validate_interaction_response(z_form) == []
    assert spec.validate_interaction_response(offset_form)


# --- REST requests (what our Discord client sends) -------------------------------------------

VALID_REQUESTS: dict[str, tuple[str, str, Any]] = {
    "edit original": (
        "PATCH",
        f"/webhooks/{APP}/{TOKEN}/messages/@original",
        {**MESSAGE_BODY, "content": "Deployed."},
    ),
    "edit original, /api/v10 prefix": (
        "PATCH",
        f"/api/v10/webhooks/{APP}/{TOKEN}/messages/@original",
        {"components": []},
    ),
    "follow-up": (
        "POST",
        f"/webhooks/{APP}/{TOKEN}?wait=true",
        {"content": "Rolled back.", "flags": EPHEMERAL, "allowed_mentions": {"parse": []}},
    ),
    "follow-up, full URL": (
        "POST",
        f"https://discord.com/api/v10/webhooks/{APP}/{TOKEN}?wait=true",
        {"embeds": [EMBED]},
    ),
    "edit follow-up": (
        "PATCH",
        f"/webhooks/{APP}/{TOKEN}/messages/{MESSAGE}",
        {"content": "Still running…"},
    ),
    "delete original": ("DELETE", f"/webhooks/{APP}/{TOKEN}/messages/@original", None),
    "channel message": ("POST", f"/channels/{CHANNEL}/messages", MESSAGE_BODY),
    "channel message reply": (
        "POST",
        f"/channels/{CHANNEL}/messages",
        {"content": "Thread update", "message_reference": {"message_id": MESSAGE}},
    ),
    "edit channel message": (
        "PATCH",
        f"/channels/{CHANNEL}/messages/{MESSAGE}",
        {"content": "Deploy #42 finished", "embeds": [EMBED], "components": []},
    ),
    "global commands": ("PUT", f"/applications/{APP}/commands", COMMANDS),
    "global commands, permissions as a number": (
        "PUT",
        f"/applications/{APP}/commands",
        [{**COMMANDS[0], "default_member_permissions": 32}],
    ),
    "no global commands": ("PUT", f"/applications/{APP}/commands", []),
    "guild commands": ("PUT", f"/applications/{APP}/guilds/{GUILD}/commands", COMMANDS),
}


@pytest.mark.parametrize("name", sorted(VALID_REQUESTS))
def test_valid_requests_pass(spec: DiscordSpec, name: str) -> None:
    method, path, body = VALID_REQUESTS[name]
    spec.assert_valid_request(method, path, body)


INVALID_REQUESTS: dict[str, tuple[str, str, Any, str]] = {
    "edit original, unknown key": (
        "PATCH",
        f"/webhooks/{APP}/{TOKEN}/messages/@original",
        {"content": "x", "ephemeral": True},
        "ephemeral",
    ),
    "follow-up, content too long": (
        "POST",
        f"/webhooks/{APP}/{TOKEN}?wait=true",
        {"content": "x" * 2001},
        "content",
    ),
    "channel message, embeds not a list": (
        "POST",
        f"/channels/{CHANNEL}/messages",
        {"embeds": EMBED},
        "embeds",
    ),
    "channel message, no body": ("POST", f"/channels/{CHANNEL}/messages", None, "missing body"),
    "edit channel message, flags as a string": (
        "PATCH",
        f"/channels/{CHANNEL}/messages/{MESSAGE}",
        {"flags": "64"},
        "flags",
    ),
    "global commands, name too long": (
        "PUT",
        f"/applications/{APP}/commands",
        [{**COMMANDS[0], "name": "d" * 33}],
        "[0].name",
    ),
    "global commands, permissions not digits": (
        "PUT",
        f"/applications/{APP}/commands",
        [{**COMMANDS[0], "default_member_permissions": "MANAGE_GUILD"}],
        "default_member_permissions",
    ),
    "global commands, min_value on a string option": (
        "PUT",
        f"/applications/{APP}/commands",
        [
            {
                "name": "x",
                "description": "x",
                "options": [{"type": 3, "name": "o", "description": "o", "min_value": 1}],
            }
        ],
        "options[0]",
    ),
    "guild commands, an object instead of a list": (
        "PUT",
        f"/applications/{APP}/guilds/{GUILD}/commands",
        COMMANDS[0],
        "expected an array",
    ),
    "guild commands, unknown context": (
        "PUT",
        f"/applications/{APP}/guilds/{GUILD}/commands",
        [{**COMMANDS[0], "contexts": [7]}],
        "contexts",
    ),
    "a body where the spec has none": (
        "DELETE",
        f"/webhooks/{APP}/{TOKEN}/messages/@original",
        {"content": "x"},
        "no request body",
    ),
}


@pytest.mark.parametrize("name", sorted(INVALID_REQUESTS))
def test_invalid_requests_fail(spec: DiscordSpec, name: str) -> None:
    method, path, body, expected = INVALID_REQUESTS[name]
    errors = spec.validate_request(method, path, body)
    assert errors, f"{name}: accepted, but Discord's spec refuses it"
    assert any(expected in error for error in errors), errors
    with pytest.raises(AssertionError) as raised:
        spec.assert_valid_request(method, path, body)
    message = str(raised.value)
    assert "not valid per Discord's OpenAPI spec" in message and expected in message, message


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", f"/nowhere/{CHANNEL}"),
        ("POST", f"/channels/{CHANNEL}/messages/{MESSAGE}/nope/x/y"),
        ("PUT", f"/channels/{CHANNEL}/messages"),
        ("POST", "/"),
    ],
)
def test_unknown_routes_are_never_ok(spec: DiscordSpec, method: str, path: str) -> None:
    errors = spec.validate_request(method, path, {"content": "x"})
    assert errors and "unknown route" in errors[0], errors


def test_inline_body_types_are_reported_not_passed(spec: DiscordSpec) -> None:
    errors = spec.validate_request(
        "POST", f"/channels/{CHANNEL}/messages/bulk-delete", {"messages": [MESSAGE]}
    )
    assert errors and "inline" in errors[0], errors


def test_literal_segments_win_over_parameters(spec: DiscordSpec) -> None:
    original = spec.describe("PATCH", f"/webhooks/{APP}/{TOKEN}/messages/@original")
    assert original["route"] == "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original"
    other = spec.describe("PATCH", f"/api/v10/webhooks/{APP}/{TOKEN}/messages/{MESSAGE}/")
    assert other["route"] == "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"
    commands = spec.describe("PUT", f"/applications/{APP}/guilds/{GUILD}/commands")
    assert commands["schema"] == "ApplicationCommandUpdateRequest[] | null"
    callback = spec.describe("POST", f"/interactions/1/{TOKEN}/callback")
    assert "PongInteractionCallbackRequest" in callback["schema"]


def test_concurrent_callers_get_their_own_answers(spec: DiscordSpec) -> None:
    results: dict[int, list[str]] = {}
    failures: list[BaseException] = []

    def work(index: int) -> None:
        try:
            body = {"type": 4, "data": {"content": index if index % 2 else str(index)}}
            results[index] = spec.validate_interaction_response(body)
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not failures and len(results) == 40
    for index, errors in results.items():
        assert bool(errors) == bool(index % 2), (index, errors)
