"""`/ping` and `/help`: is the bot alive, and what can it do."""

from __future__ import annotations

import time

from orchestrator import audit, traces
from orchestrator.discord.access import Access
from orchestrator.discord.context import Context
from orchestrator.discord.messages import Color, Message, embed
from orchestrator.discord.options import integer, string
from orchestrator.discord.tree import Bot

# Discord snowflakes carry their creation time: milliseconds since 2015-01-01.
bot = Bot()

_DISCORD_EPOCH_MS = 1_420_070_400_000


def snowflake_time(snowflake: str) -> float | None:
    """When Discord created the interaction, in Unix seconds (None if not a snowflake)."""
    if not (snowflake.isascii() and snowflake.isdigit()):
        return None
    return ((int(snowflake) >> 22) + _DISCORD_EPOCH_MS) / 1000


@bot.command(
    "ping", "Check the bot end to end: endpoint, worker and follow-up", defer=True, ephemeral=True
)
async def ping(ctx: Context) -> Message:
    created = snowflake_time(ctx.interaction.id)
    if created is None:
        latency = ""
    else:
        latency = (
            f"({max(0.0, (time.time() - created) * 1000):.0f} ms from your click to the worker)"
        )
    return Message(content=ctx.say("pong", latency=latency).strip())


@bot.command("help", "What each command does", ephemeral=True)
async def help_(ctx: Context) -> Message:
    lines = []
    for leaf in (ctx.bot or bot).leaves():
        lock = {Access.ADMIN: " 🔒 admin", Access.DEPLOY: " 🔑 deploy role"}.get(leaf.access, "")
        lines.append(f"`{leaf.display}` {leaf.description}{lock}")
    return Message(
        embeds=[embed("What I can do", "\n".join(lines), color=Color.BLUE)], ephemeral=True
    )


@bot.command(
    "audit",
    "Who did what: the latest audited actions",
    options=[integer("count", "How many entries (1-25, default 10)", min_value=1, max_value=25)],
    access=Access.ADMIN,
    ephemeral=True,
)
async def audit_(ctx: Context) -> Message:
    entries = audit.recent(ctx.services.store, limit=ctx.options.integer("count", 10) or 10)
    if not entries:
        return Message(content="The audit log is empty. Quiet times.", ephemeral=True)
    icons = {"denied": "🚫", "failed": "💥", "accepted": "▶️", "completed": "✅"}
    lines = []
    for entry in entries:
        value = entry.value
        when = int(float(value.get("at", 0)))
        who = f"<@{value['actor']}>" if value.get("actor") else "someone"
        result = str(value.get("result", "?"))
        lines.append(
            f"{icons.get(result, '•')} <t:{when}:R> {who} `{value.get('action')}` {result}"
        )
    return Message(
        embeds=[embed("📜 Audit log", "\n".join(lines), color=Color.GREY)], ephemeral=True
    )


@bot.command(
    "trace",
    "What happened to your recent commands, step by step",
    options=[
        string(
            "interaction", "An interaction id from the list (default: the latest 5)", max_length=25
        )
    ],
    ephemeral=True,
)
async def trace(ctx: Context) -> Message:
    user = ctx.user_id or ""
    wanted = ctx.options.string("interaction")
    if wanted:
        found = traces.get(ctx.services.store, user, wanted.strip())
        if found is None:
            return Message(
                content="No trace with that id (traces last a week, and you only see your own).",
                ephemeral=True,
            )
        lines = []
        started = float(found.get("started_at", 0))
        for step in found.get("steps", []):
            offset = float(step.get("at", started)) - started
            extra = ", ".join(
                f"{k}={v}"
                for k, v in step.items()
                if k not in ("step", "ok", "at") and v is not None
            )
            lines.append(
                f"{'✅' if step.get('ok') else '❌'} +{offset:.2f}s {step.get('step')}"
                + (f" ({extra})" if extra else "")
            )
        return Message(
            embeds=[
                embed(f"🔎 {found.get('command')} · {wanted}", "\n".join(lines), color=Color.GREY)
            ],
            ephemeral=True,
        )
    records = traces.recent(ctx.services.store, user)
    if not records:
        return Message(content="No traces yet: run a command first.", ephemeral=True)
    lines = []
    for record in records:
        value = record.value
        steps = value.get("steps", [])
        last = steps[-1]["step"] if steps else "?"
        mark = "❌" if value.get("failed") else "✅"
        lines.append(
            f"{mark} <t:{int(float(value.get('started_at', 0)))}:R> "
            f"`{value.get('command')}` → {last} · id `{value.get('interaction_id')}`"
        )
    return Message(
        embeds=[embed("🔎 Your recent commands", "\n".join(lines), color=Color.GREY)],
        ephemeral=True,
    )
