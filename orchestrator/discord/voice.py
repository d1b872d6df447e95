"""What the bot says, in two registers: playful (the default) and plain.

The owner likes replies short and a little playful; some teams want them
plain. Every user-facing sentence the framework produces lives here, keyed,
so the tone is one setting and clarity is reviewed in one place.
"""

from __future__ import annotations

from typing import Any

from orchestrator.config import Tone

# key -> (playful, plain). Keep them short: they are read at 2 a.m.
PHRASES: dict[str, tuple[str, str]] = {
    "denied": (
        "🙅 Nope: `{command}` needs {who}. I wrote that down.",
        "You are not allowed to use `{command}` (requires {who}). The attempt was recorded.",
    ),
    "unknown_command": (
        "🤔 I don't know `{command}` (yet?). Try `/help`.",
        "Unknown command `{command}`. See `/help`.",
    ),
    "stale_button": (
        "🕸️ That button has gone stale. Run the command again?",
        "This button is no longer active. Run the command again.",
    ),
    "try_again": (
        "🫠 My memory is having a moment. Try again in a few seconds.",
        "Storage is temporarily unavailable. Please try again in a few seconds.",
    ),
    "too_slow": (
        "🐢 That took longer than Discord lets me wait. Try again?",
        "The command took too long to answer. Please try again.",
    ),
    "failed": (
        "💥 That blew up on my side: {error}",
        "The command failed: {error}",
    ),
    "not_configured": (
        "⚙️ Not set up yet: {error}",
        "This service is not configured for that: {error}",
    ),
    "upstream_failed": (
        "🌧️ {upstream} didn't play along: {error}",
        "{upstream} returned an error: {error}",
    ),
    "dispatch_failed": (
        "📭 I couldn't hand that off to a worker. Try again in a moment.",
        "The command could not be queued. Please try again shortly.",
    ),
    "already_pressed": (
        "👯 Already on it: {who} pressed that {when}.",
        "This button was already used by {who} {when}.",
    ),
    "done": ("✅ Done.", "Done."),
    "pong": ("🏓 Pong! {latency}", "Pong. {latency}"),
}

WHO = {
    "admin": "an admin",
    "deploy": "the deploy role",
    "everyone": "an allowed guild, role or user",
}


def say(key: str, tone: Tone = Tone.PLAYFUL, **values: Any) -> str:
    playful, plain = PHRASES[key]
    template = plain if tone is Tone.PLAIN else playful
    return template.format(**values)
