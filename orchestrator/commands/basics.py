"""`/ping`, `/help`, `/audit` and `/trace`: is the bot alive, what can it do (and what
does each command take), who did what, and what happened to my commands."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from orchestrator import traces
from orchestrator.discord.access import Access
from orchestrator.discord.interactions import OptionType
from orchestrator.discord.messages import Color, Message, embed
from orchestrator.discord.options import integer, string
from orchestrator.discord.tree import Bot

# Handlers only annotate these: a cold `/ping` answering "deferred" imports this module to
# find the command, and need not build what a handler gets.
if TYPE_CHECKING:
    from orchestrator.discord.context import CommandTree, Context, Invocable

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


# What an option's type is called where people read it.
_KINDS = {
    OptionType.STRING: "text",
    OptionType.INTEGER: "whole number",
    OptionType.BOOLEAN: "true/false",
    OptionType.USER: "user",
    OptionType.CHANNEL: "channel",
    OptionType.ROLE: "role",
    OptionType.MENTIONABLE: "user or role",
    OptionType.NUMBER: "number",
    OptionType.ATTACHMENT: "file",
}


def _span(low: Any, high: Any, unit: str = "") -> str | None:
    if low is not None and high is not None:
        return f"{low}–{high}{unit}"
    if low is not None:
        return f"at least {low}{unit}"
    if high is not None:
        return f"up to {high}{unit}"
    return None


def describe_option(option: dict[str, Any]) -> str:
    """One option as `/help command:` shows it, from its registration JSON (what Discord
    enforces): name, type, required or not, limits, choices, then what it is for."""
    parts = [f"`{option['name']}`", _KINDS.get(OptionType(option["type"]), "value")]
    parts.append("required" if option.get("required") else "optional")
    values = _span(option.get("min_value"), option.get("max_value"))
    if values:
        parts.append(values)
    lengths = _span(option.get("min_length"), option.get("max_length"), " characters")
    if lengths:
        parts.append(lengths)
    if option.get("choices"):
        parts.append("one of: " + ", ".join(f"`{c['value']}`" for c in option["choices"]))
    if option.get("autocomplete"):
        parts.append("suggestions as you type")
    return " · ".join(parts) + f" — {option['description']}"


def _lock(leaf: Invocable) -> str:
    return {Access.ADMIN: " 🔒 admin", Access.DEPLOY: " 🔑 deploy role"}.get(leaf.access, "")


def _wanted(name: str) -> tuple[str, ...]:
    return tuple(name.strip().lstrip("/").lower().split())


def registered_options(commands: CommandTree, path: tuple[str, ...]) -> list[dict[str, Any]]:
    """The options of the command at `path` in the registration JSON: what Discord shows
    and enforces, so the help cannot describe limits Discord does not apply."""
    nodes = commands.registration()
    for name in path:
        found = next((n for n in nodes if n.get("name") == name), None)
        if found is None:
            return []
        nodes = list(found.get("options") or [])
    grouping = (OptionType.SUB_COMMAND.value, OptionType.SUB_COMMAND_GROUP.value)
    return [o for o in nodes if o.get("type") not in grouping]


def command_help(commands: CommandTree, name: str) -> Message:
    """Every option of the command `name` ("deploy", "/config set"), or of each subcommand
    of a group ("config", "notify")."""
    wanted = _wanted(name)
    leaves = [leaf for leaf in commands.leaves() if wanted and leaf.path[: len(wanted)] == wanted]
    if not leaves:
        return Message(content=f"🤔 No command `/{' '.join(wanted)}`. Try `/help`.", ephemeral=True)
    blocks = []
    for leaf in leaves:
        options = [describe_option(o) for o in registered_options(commands, leaf.path)]
        body = "\n".join(options) if options else "No options."
        blocks.append(f"**{leaf.display}**{_lock(leaf)}: {leaf.description}\n{body}")
    return Message(
        embeds=[embed(f"/{' '.join(wanted)}", "\n\n".join(blocks), color=Color.BLUE)],
        ephemeral=True,
    )


@bot.command(
    "help",
    "What each command does, or one command's options",
    options=[
        string(
            "command",
            "A command to explain, e.g. deploy or config set",
            max_length=100,
            autocomplete=True,
        )
    ],
    ephemeral=True,
)
async def help_(ctx: Context) -> Message:
    commands = ctx.bot or bot
    wanted = ctx.options.string("command")
    if wanted and wanted.strip():
        return command_help(commands, wanted)
    lines = [f"`{leaf.display}` {leaf.description}{_lock(leaf)}" for leaf in commands.leaves()]
    return Message(
        embeds=[
            embed(
                "What I can do",
                "\n".join(lines),
                color=Color.BLUE,
                footer="A command's options and limits: /help command:<name>",
            )
        ],
        ephemeral=True,
    )


@bot.autocomplete("help", "command")
async def suggest_commands(ctx: Context, typed: str) -> list[tuple[str, str]]:
    """Commands (and groups) whose name starts with what is typed."""
    wanted = " ".join(_wanted(typed))
    names: dict[str, str] = {}
    for leaf in (ctx.bot or bot).leaves():
        for depth in range(1, len(leaf.path) + 1):
            names.setdefault(" ".join(leaf.path[:depth]), leaf.description)
    return [
        (f"/{name} · {description}"[:100], name)
        for name, description in names.items()
        if name.startswith(wanted)
    ][:25]


@bot.command(
    "audit",
    "Who did what: the latest audited actions",
    options=[integer("count", "How many entries (1-25, default 10)", min_value=1, max_value=25)],
    access=Access.ADMIN,
    ephemeral=True,
)
async def audit_(ctx: Context) -> Message:
    # Discord enforces the declared 1-25; clamp anyway, so no request (a stale client, a
    # hand-made one) can ask for none, a negative count or the whole log.
    count = ctx.options.integer("count", 10)
    limit = 10 if count is None else min(max(count, 1), 25)
    from orchestrator import audit

    entries = audit.recent(ctx.services.store, limit=limit)
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
