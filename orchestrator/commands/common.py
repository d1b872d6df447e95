"""What the slash-command modules share: the `app` option, its suggestions, and the short
formats their answers use.

Every command that takes an app describes and completes the option the same way, so a
user learns it once; this module is that one place.
"""

from __future__ import annotations

from orchestrator.apps import apps_of
from orchestrator.discord.context import Context
from orchestrator.discord.messages import Message

APP_OPTION = "Which app (see /config show)"


def error(text: str) -> Message:
    """A refusal only the user who asked sees: a wrong app or input is nobody else's news."""
    return Message(content=f"⚠️ {text}", ephemeral=True)


async def suggest_apps(ctx: Context, typed: str) -> list[tuple[str, str]]:
    apps = apps_of(ctx.services)
    return [
        (f"{a.name} ({a.repo})", a.name) for a in apps.values() if a.name.startswith(typed.lower())
    ][:25]
