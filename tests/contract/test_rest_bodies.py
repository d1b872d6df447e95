"""Every request body the Discord REST client sends validates against Discord's spec.

Each method is called against the local stand-in with realistic (and over-long) messages;
the stand-in records the exact bytes, and each is checked against the route's schema.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from orchestrator import product
from orchestrator.deploys.render import render
from orchestrator.deploys.tracking import Tracked
from orchestrator.devtools.discord_standin import DiscordStandIn
from orchestrator.discord.messages import Message, action_row, button, embed, link_button
from orchestrator.discord.rest import DiscordREST
from tests.support.discord_spec import DiscordSpec

bot = product.bot()

LONG = Message(
    content="x" * 2500,
    embeds=[
        embed("t" * 300, "d" * 5000, fields=[(f"f{i}", "v" * 2000) for i in range(30)])
        for _ in range(12)
    ],
    components=[action_row(button("ok", "a:1"), link_button("open", "https://example.com"))],
)
TRACKED = render(
    Tracked(
        kind="deploy",
        app="web",
        repo="acme/web",
        ref="main",
        actor="1",
        correlation="orc-00000000",
        run_id=5,
        status="in_progress",
        run_url="https://github.com/acme/web/actions/runs/5",
    )
)


@pytest.fixture
def standin() -> Iterator[DiscordStandIn]:
    with DiscordStandIn() as fake:
        yield fake


def test_every_client_method_sends_valid_bodies(standin: DiscordStandIn) -> None:
    async def exercise() -> None:
        async with DiscordREST(
            base_url=standin.api_base, application_id="1", bot_token="bot-token"
        ) as client:
            await client.edit_original("tok", LONG.to_data(edit=True))
            await client.edit_original("tok", TRACKED.to_data(edit=True))
            created = await client.create_followup("tok", LONG.to_data())
            await client.edit_followup("tok", str(created["id"]), TRACKED.to_data(edit=True))
            await client.delete_original("tok")
            message = await client.create_message("42", LONG.to_data())
            await client.create_message("42", TRACKED.to_data())
            await client.edit_message("42", str(message["id"]), TRACKED.to_data(edit=True))
            dm = await client.create_dm("7")
            await client.create_message(str(dm["id"]), Message(content="hi").to_data())
            await client.get_current_user()
            await client.get_global_commands()
            await client.bulk_overwrite_global_commands(bot.registration())
            await client.bulk_overwrite_guild_commands("9", bot.registration())

    asyncio.run(exercise())
    spec = DiscordSpec.get()
    checked = 0
    for request in standin.requests:
        spec.assert_valid_request(request.method, request.path, request.body)
        checked += request.body is not None
    assert checked >= 11
    routes = {r.route for r in standin.requests}
    assert "POST /channels/{id}/messages" in routes
    assert "PATCH /webhooks/{id}/{token}/messages/@original" in routes
    assert "PUT /applications/{id}/commands" in routes
