"""`/help command:<name>`: a command's options with their types and limits, from the same
registration JSON Discord enforces."""

from __future__ import annotations

import asyncio
from typing import Any

from orchestrator import product
from orchestrator.commands.basics import describe_option, registered_options
from orchestrator.devtools.simulate import Invoker, command_interaction
from orchestrator.discord import dispatch
from orchestrator.discord.interactions import Interaction
from orchestrator.services import Services
from tests.support.commands import Run
from tests.support.discord_spec import DiscordSpec


def _text(answer: dict[str, Any]) -> str:
    [shown] = answer["data"]["embeds"]
    return f"{shown['title']}\n{shown['description']}"


def test_help_for_deploy_lists_each_option_with_type_and_limits(run: Run) -> None:
    answer = run("/help command:deploy", user="5")
    assert answer["data"]["flags"] == 64
    text = _text(answer)
    assert "**/deploy** 🔑 deploy role" in text
    assert "`app` · text · required · suggestions as you type" in text
    assert "`ref` · text · optional · up to 200 characters" in text
    assert "`inputs` · text · optional · up to 500 characters" in text


def test_help_shows_ranges_and_choices(run: Run) -> None:
    audit = _text(run("/help command:audit", user="5"))
    assert "`count` · whole number · optional · 1–25" in audit
    digest = _text(run("/help command:/digest", user="5"))
    assert "`period` · text · optional · one of: `daily`, `weekly`" in digest


def test_help_for_a_group_explains_each_subcommand(run: Run) -> None:
    text = _text(run("/help command:config", user="5"))
    assert "**/config show**" in text and "**/config set**" in text
    assert "`key` · text · required · one of: `frontend_url`" in text
    one = _text(run("/help command:'config set'", user="5"))
    assert "**/config show**" not in one and "**/config set**" in one


def test_help_for_an_unknown_command_says_so(run: Run) -> None:
    answer = run("/help command:launch", user="5")
    assert answer["data"]["content"] == "🤔 No command `/launch`. Try `/help`."


def test_every_option_of_every_command_is_described() -> None:
    """Each limit Discord enforces appears in the help, for every command there is."""
    bot = product.bot()
    for leaf in bot.leaves():
        for option in registered_options(bot, leaf.path):
            line = describe_option(option)
            assert option["description"] in line
            for key in ("min_value", "max_value", "max_length"):
                if key in option:
                    assert str(option[key]) in line, (leaf.display, option["name"], key)
            for choice in option.get("choices", []):
                assert f"`{choice['value']}`" in line


def test_the_list_points_at_the_details(run: Run) -> None:
    shown = run("/help", user="5")["data"]["embeds"][0]
    assert shown["footer"]["text"] == "A command's options and limits: /help command:<name>"


def test_help_suggests_commands_and_groups(services: Services) -> None:
    bot = services.bot
    raw = command_interaction(
        bot, "/help command:?con", "1", Invoker(user_id="5"), autocomplete=True
    )
    answer = asyncio.run(dispatch.respond(bot, Interaction(raw), services))
    DiscordSpec.get().assert_valid_interaction_response(answer)
    values = [c["value"] for c in answer["data"]["choices"]]
    assert values == ["config", "config show", "config set", "config reset"]
