"""One list of commands: what Discord is told and what we route can never differ."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from orchestrator import product
from tests.support.discord_spec import DiscordSpec

bot = product.bot()

PACKAGE = Path(__file__).resolve().parents[2] / "orchestrator"


def registered_paths(commands: list[dict[str, Any]]) -> set[tuple[str, ...]]:
    paths: set[tuple[str, ...]] = set()

    def walk(prefix: tuple[str, ...], options: list[dict[str, Any]]) -> bool:
        found = False
        for option in options:
            if option["type"] in (1, 2):
                found = True
                path = (*prefix, option["name"])
                if option["type"] == 1:
                    paths.add(path)
                else:
                    walk(path, option.get("options", []))
        return found

    for command in commands:
        if not walk((command["name"],), command.get("options", [])):
            paths.add((command["name"],))
    return paths


def test_every_registered_command_is_routed_and_vice_versa() -> None:
    registration = bot.registration()
    assert registered_paths(registration) == {leaf.path for leaf in bot.leaves()}
    DiscordSpec.get().assert_valid_request("PUT", "/applications/1/commands", registration)
    assert len(registration) <= 100  # Discord's cap on global chat commands


def test_every_button_the_code_renders_has_a_handler() -> None:
    used = set()
    for source in PACKAGE.rglob("*.py"):
        used |= set(re.findall(r'custom_id\(\s*"([a-z0-9_.-]+)"', source.read_text()))
    handled = {name for name in bot._components} | {name for name in bot._modals}
    assert used, "the scan found no buttons: the pattern is stale"
    assert used <= handled, f"buttons without a handler: {sorted(used - handled)}"
    assert handled <= used, f"handlers no button uses: {sorted(handled - used)}"


def test_help_lists_every_command() -> None:
    import asyncio

    from orchestrator.commands.basics import help_
    from orchestrator.discord.context import Context
    from orchestrator.discord.interactions import Interaction, Options

    context = Context(Interaction({}), object(), Options({}), bot=bot)  # type: ignore[arg-type]
    text = asyncio.run(help_(context)).embeds[0]["description"]
    for leaf in bot.leaves():
        assert f"`{leaf.display}`" in text
