"""A failed command names the right party: GitHub or Discord when they refused, this
service's configuration when it is missing (saying what to set), and us for our bugs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from orchestrator.config import Tone, load_settings
from orchestrator.devtools.discord_standin import DiscordStandIn
from orchestrator.devtools.simulate import Invoker, command_interaction
from orchestrator.discord import dispatch
from orchestrator.discord.access import Access
from orchestrator.discord.context import Context
from orchestrator.discord.errors import DiscordConfigError, DiscordHTTPError
from orchestrator.discord.interactions import Interaction
from orchestrator.discord.messages import Message
from orchestrator.discord.tree import Bot
from orchestrator.github.errors import GitHubHTTPError, GitHubNotConfigured
from orchestrator.services import Services
from tests.support.commands import command, sent
from tests.support.discord_spec import DiscordSpec

ADMIN = "900000000000000001"
FAILURES: dict[str, BaseException] = {
    "no-github": GitHubNotConfigured(
        "GitHub is not configured: set GITHUB_TOKEN or the GITHUB_APP_* settings"
    ),
    "no-token": DiscordConfigError(
        "POST /channels/{channel_id}/messages needs a bot token; set DISCORD_BOT_TOKEN"
    ),
    "github-refused": GitHubHTTPError(403, "Resource not accessible by integration"),
    "discord-refused": DiscordHTTPError(403, 50013, "Missing Permissions"),
    "our-bug": RuntimeError("kaboom"),
}


def _failing(error: BaseException) -> Callable[[Context], Awaitable[Message]]:
    async def handler(ctx: Context) -> Message:
        raise error

    return handler


def _bot() -> Bot:
    bot = Bot()
    for name, error in FAILURES.items():
        bot.command(name, f"Fails: {name}", access=Access.EVERYONE)(_failing(error))
    return bot


def _answer(tmp_path: Path, name: str, tone: Tone = Tone.PLAYFUL) -> str:
    bot = _bot()
    services = Services(
        load_settings(ORCHESTRATOR_DATA_DIR=tmp_path, ORCHESTRATOR_TONE=tone.value), bot=bot
    )
    try:
        raw = command_interaction(bot, f"/{name}", "1", Invoker(user_id=ADMIN))
        answer = asyncio.run(dispatch.respond(bot, Interaction(raw), services))
    finally:
        services.close()
    DiscordSpec.get().assert_valid_interaction_response(answer)
    return str(answer["data"]["content"])


@pytest.mark.parametrize(
    ("name", "variable"), [("no-github", "GITHUB_TOKEN"), ("no-token", "DISCORD_BOT_TOKEN")]
)
def test_missing_configuration_says_what_to_set(tmp_path: Path, name: str, variable: str) -> None:
    content = _answer(tmp_path, name)
    assert content.startswith("⚙️ Not set up yet:"), content
    assert variable in content
    for blame in ("blew up", "my side", "didn't play along", "Discord said", "GitHub returned"):
        assert blame not in content


def test_missing_configuration_in_plain_words(tmp_path: Path) -> None:
    content = _answer(tmp_path, "no-github", Tone.PLAIN)
    assert content.startswith("This service is not configured for that:"), content
    assert "GITHUB_TOKEN" in content


@pytest.mark.parametrize(
    ("name", "party"), [("github-refused", "GitHub"), ("discord-refused", "Discord")]
)
def test_a_refusal_names_who_refused(tmp_path: Path, name: str, party: str) -> None:
    content = _answer(tmp_path, name)
    assert content.startswith(f"🌧️ {party} didn't play along:"), content
    assert "Not set up" not in content


def test_our_own_bugs_stay_ours(tmp_path: Path) -> None:
    content = _answer(tmp_path, "our-bug")
    assert content.startswith("💥 That blew up on my side: kaboom"), content


@pytest.fixture
def discord() -> Iterator[DiscordStandIn]:
    with DiscordStandIn() as standin:
        yield standin


def test_a_product_command_without_github_says_what_to_set(
    tmp_path: Path, discord: DiscordStandIn
) -> None:
    """`/status` for a configured app on a server with no GitHub credentials: the deferred
    follow-up names the setting, not a crash and not GitHub."""
    config = tmp_path / "orchestrator.toml"
    config.write_text('[[apps]]\nname = "web"\nrepo = "acme/web"\nworkflow = "deploy.yml"\n')
    services = Services(
        load_settings(
            ORCHESTRATOR_DATA_DIR=tmp_path,
            ORCHESTRATOR_CONFIG=config,
            DISCORD_API_BASE=discord.api_base,
            GITHUB_API_BASE="http://127.0.0.1:9",
        )
    )
    try:
        result = command(services, "/status app:web", ADMIN)
        [edit] = sent(discord, result["_token"])
    finally:
        services.close()
    content = edit.body["content"]
    assert content.startswith("⚙️ Not set up yet:"), content
    assert "GITHUB_TOKEN" in content
