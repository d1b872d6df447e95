"""`/relay-send` and `/relay-dm`: an admin posts as the bot, after a confirm button.

A boolean "are you sure" option is too easy to leave on; a preview with a
*Send* button makes the admin look at the text and the target first. The
pending relay waits in the store (15 minutes), the button sends it once even
if double-clicked, and the audit records who, where, a hash of the text (not
the text) and the result.
"""

from __future__ import annotations

import hashlib
import secrets

from orchestrator.discord.access import Access
from orchestrator.discord.context import Context, Update
from orchestrator.discord.messages import (
    ButtonStyle,
    Color,
    Message,
    action_row,
    button,
    custom_id,
    embed,
)
from orchestrator.discord.options import boolean, channel, string, user
from orchestrator.discord.tree import Bot
from orchestrator.store import keys

bot = Bot()

PENDING_TTL = 15 * 60
TEXT_CHANNELS = (0, 5, 10, 11, 12)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _preview(relay_id: str, target: str, text: str) -> Message:
    return Message(
        embeds=[
            embed(
                f"📣 Send this to {target}?",
                text,
                color=Color.YELLOW,
                footer="Nothing is sent until you press Send (expires in 15 minutes).",
            )
        ],
        components=[
            action_row(
                button("Send", custom_id("relay.confirm", relay_id), style=ButtonStyle.SUCCESS),
                button("Cancel", custom_id("relay.cancel", relay_id)),
            )
        ],
        ephemeral=True,
    )


def _pending(ctx: Context, kind: str, target: str, text: str, public_note: bool) -> Message:
    relay_id = secrets.token_hex(6)
    ctx.services.store.put(
        keys.relay(relay_id),
        {
            "kind": kind,
            "target": target,
            "text": text,
            "by": ctx.user_id,
            "public_note": public_note,
            "note_channel": ctx.interaction.channel_id,
        },
        ttl=PENDING_TTL,
    )
    label = f"<#{target}>" if kind == "channel" else f"<@{target}> (DM)"
    return _preview(relay_id, label, text)


@bot.command(
    "relay-send",
    "Post a message in a channel as the bot (admins; you confirm first)",
    options=[
        channel("channel", "Where to post", required=True, channel_types=TEXT_CHANNELS),
        string("message", "What to say (up to 2000 characters)", required=True, max_length=2000),
        boolean("ephemeral", "Keep the confirmation private (default: yes)"),
    ],
    access=Access.ADMIN,
    ephemeral=True,
)
async def relay_send(ctx: Context) -> Message:
    target = ctx.options.snowflake("channel") or ""
    text = (ctx.options.string("message") or "").strip()
    if not target or not text:
        return Message(content="⚠️ I need a channel and a message.", ephemeral=True)
    public_note = ctx.options.boolean("ephemeral", True) is False
    return _pending(ctx, "channel", target, text, public_note)


@bot.command(
    "relay-dm",
    "Send a direct message as the bot (admins; you confirm first)",
    options=[
        user("user", "Who gets it", required=True),
        string("message", "What to say (up to 2000 characters)", required=True, max_length=2000),
    ],
    access=Access.ADMIN,
    ephemeral=True,
)
async def relay_dm(ctx: Context) -> Message:
    target = ctx.options.snowflake("user") or ""
    text = (ctx.options.string("message") or "").strip()
    if not target or not text:
        return Message(content="⚠️ I need a user and a message.", ephemeral=True)
    return _pending(ctx, "dm", target, text, public_note=False)


@bot.component(
    "relay.confirm", commands=["relay-send", "relay-dm"], defer=True, access=Access.ADMIN
)
async def relay_confirm(ctx: Context) -> Update:
    from orchestrator.discord.errors import DiscordError

    relay_id = ctx.state[0] if ctx.state else ""
    store = ctx.services.store
    pending = store.get(keys.relay(relay_id))
    if pending is None:
        return Update(Message(content="⌛ That relay expired or was already handled."))
    if not store.claim(keys.relay_sent(relay_id), ttl=PENDING_TTL):
        return Update(Message(content="✅ Already sent."))
    text, target, kind = str(pending["text"]), str(pending["target"]), str(pending["kind"])
    where = f"channel:{target}" if kind == "channel" else f"dm:{target}"
    assert ctx.discord is not None
    try:
        channel_id = target
        if kind == "dm":
            channel_id = str((await ctx.discord.create_dm(target))["id"])
        sent = await ctx.discord.create_message(channel_id, Message(content=text).to_data())
    except DiscordError as exc:
        ctx.audit(
            "relay",
            "failed",
            target=where,
            text_sha256=_digest(text),
            error=str(exc)[:200],
        )
        store.delete(keys.relay_sent(relay_id))  # let the admin try again
        if getattr(type(exc), "upstream", None) is None:  # our missing bot token, not Discord
            return Update(Message(content=ctx.say("not_configured", error=str(exc))[:300]))
        return Update(Message(content=f"💥 Discord refused it: {exc}"[:300]))
    store.delete(keys.relay(relay_id))
    ctx.audit(
        "relay",
        "sent",
        target=where,
        text_sha256=_digest(text),
        message_id=sent.get("id"),
        requested_by=pending.get("by"),
    )
    label = f"<#{target}>" if kind == "channel" else f"<@{target}>"
    if pending.get("public_note") and pending.get("note_channel"):
        await ctx.discord.create_message(
            str(pending["note_channel"]),
            Message(content=f"📣 <@{ctx.user_id}> posted a message as me in {label}.").to_data(),
        )
    return Update(Message(content=f"✅ Sent to {label}."))


@bot.component("relay.cancel", commands=["relay-send", "relay-dm"], access=Access.ADMIN)
async def relay_cancel(ctx: Context) -> Update:
    relay_id = ctx.state[0] if ctx.state else ""
    ctx.services.store.delete(keys.relay(relay_id))
    return Update(Message(content="🗑️ Cancelled, nothing was sent."))
