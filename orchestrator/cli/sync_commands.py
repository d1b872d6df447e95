"""Register the slash commands with Discord, only when they differ from what is registered."""

from __future__ import annotations

import argparse
import asyncio
import sys

from orchestrator.cli.arguments import snowflake
from orchestrator.config import load_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--guild",
        metavar="ID",
        type=snowflake,
        help="register for one guild (instant) instead of globally",
    )
    parser.add_argument("--dry-run", action="store_true", help="show the diff, change nothing")
    parser.add_argument(
        "--check",
        action="store_true",
        help="like --dry-run, but exit 1 when the commands differ (for CI)",
    )


async def _sync(args: argparse.Namespace) -> int:
    from orchestrator import product

    bot = product.bot()
    from orchestrator.discord.errors import DiscordError, DiscordHTTPError
    from orchestrator.discord.sync import diff
    from orchestrator.services import Services

    settings = load_settings()
    token = settings.discord_bot_token
    if token is None or not token.get_secret_value():
        # Ours to fix, before any request: Discord has said nothing yet.
        print(
            "orchestrator: sync-commands needs the bot token: set DISCORD_BOT_TOKEN "
            "(developer portal, Bot, Reset Token)",
            file=sys.stderr,
        )
        return 2
    services = Services(settings)
    declared = bot.registration()
    scope = f"guild {args.guild}" if args.guild else "global"
    async with services.discord_rest() as discord:
        try:
            registered = (
                await discord.get_guild_commands(args.guild)
                if args.guild
                else await discord.get_global_commands()
            )
            changes = diff(declared, registered)
            print(f"{scope} commands ({len(declared)} declared, {len(registered)} registered):")
            for line in changes.lines():
                print(f"  {line}")
            if changes.in_sync:
                return 0
            if args.check:
                return 1
            if args.dry_run:
                return 0
            if args.guild:
                await discord.bulk_overwrite_guild_commands(args.guild, declared)
            else:
                await discord.bulk_overwrite_global_commands(declared)
        except DiscordError as exc:
            if exc.upstream is None:  # our configuration, not Discord's answer
                print(f"orchestrator: not set up: {exc}", file=sys.stderr)
                return 2
            said = "Discord said no: " if isinstance(exc, DiscordHTTPError) else ""
            print(f"orchestrator: {said}{exc}", file=sys.stderr)
            return 1
    print(f"registered {len(declared)} commands ({scope})")
    return 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_sync(args))
