"""The product's slash commands. Each feature module registers on `bot` when imported."""

from orchestrator.discord.commands import Bot

bot = Bot()

# Registration order is the order Discord lists them in.
from orchestrator.commands import basics, deploys, notify, ops, relay, release, triage  # noqa: E402, F401

__all__ = ["bot"]
