"""`/notify add|list|remove`: which GitHub events go to which channel (admins only)."""

from __future__ import annotations

from orchestrator.discord.access import Access
from orchestrator.discord.context import Context
from orchestrator.discord.messages import Color, Message, embed
from orchestrator.discord.options import boolean, channel, role, string, user
from orchestrator.discord.tree import Bot
from orchestrator.notifications import subscriptions
from orchestrator.notifications.deliver import all_subscriptions
from orchestrator.notifications.render import NOTIFIABLE_EVENTS

bot = Bot()

notify = bot.group("notify", "Send GitHub events to a channel", access=Access.ADMIN)

TEXT_CHANNELS = (0, 5, 10, 11, 12)  # text, announcement and thread channels


def parse_events(raw: str | None) -> tuple[str, ...]:
    """`"workflow_run.completed, deployment_status"` -> validated event keys."""
    if not raw or raw.strip() in ("*", "all"):
        return ("*",)
    keys = tuple(part.strip() for part in raw.split(",") if part.strip())
    unknown = [k for k in keys if k.split(".")[0] not in NOTIFIABLE_EVENTS]
    if unknown:
        raise subscriptions.InvalidSubscription(
            f"unknown event {', '.join(unknown)}; pick from {', '.join(NOTIFIABLE_EVENTS)}"
        )
    return keys


@notify.subcommand(
    "add",
    "Send a repository's events to a channel",
    options=[
        string("repo", "owner/name (or owner/*)", required=True, max_length=140),
        channel("channel", "Where to post", required=True, channel_types=TEXT_CHANNELS),
        string("events", "Comma-separated, e.g. workflow_run,deployment_status (default: all)"),
        string("branches", "Comma-separated branch globs, e.g. main,release/*"),
        boolean("ignore_bots", "Skip events caused by bots"),
        string("ignore_actors", "Comma-separated GitHub logins to skip"),
        string(
            "mode",
            "card: one message per commit, edited in place; each: one per event",
            choices=subscriptions.MODES,
        ),
        string("workflows", "Comma-separated workflow name globs, e.g. CI*,deploy"),
        string("actors", "Comma-separated GitHub logins: only their events"),
        string("conclusions", "Comma-separated, e.g. failure,timed_out: only these outcomes"),
        boolean("quiet", "Cards only: post a commit's card only once it fails"),
        role("mention_role", "A role to ping when a commit's card shows a failure"),
        user("mention_user", "A user to ping when a commit's card shows a failure"),
    ],
)
async def notify_add(ctx: Context) -> Message:
    options = ctx.options
    mention_role, mention_user = (
        options.snowflake("mention_role"),
        options.snowflake("mention_user"),
    )
    if mention_role and mention_user:
        return Message(content="⚠️ Ping a role or a user on failure, not both.", ephemeral=True)
    mention = (
        f"<@&{mention_role}>" if mention_role else f"<@{mention_user}>" if mention_user else None
    )
    mode = options.string("mode")
    try:
        subscription = subscriptions.Subscription(
            id="",
            repo=(options.string("repo") or "").strip(),
            channel_id=options.snowflake("channel") or "",
            events=parse_events(options.string("events")),
            branches=subscriptions._tuple(options.string("branches")),
            ignore_bots=bool(options.boolean("ignore_bots", False)),
            ignore_actors=subscriptions._tuple(options.string("ignore_actors")),
            created_by=ctx.user_id,
            mode="card" if mode == "card" else "each" if mode == "each" else None,
            workflows=subscriptions._tuple(options.string("workflows")),
            actors=subscriptions._tuple(options.string("actors")),
            conclusions=subscriptions._tuple(options.string("conclusions")),
            quiet=bool(options.boolean("quiet", False)),
            mention_on_failure=mention,
        )
    except subscriptions.InvalidSubscription as exc:
        return Message(content=f"⚠️ {exc}", ephemeral=True)
    saved = subscriptions.add(ctx.services.store, subscription)
    return Message(content=f"📡 Subscribed: {saved.describe()}", ephemeral=True)


@notify.subcommand("list", "Show every subscription")
async def notify_list(ctx: Context) -> Message:
    found = all_subscriptions(ctx.services)
    if not found:
        return Message(content="No subscriptions yet. `/notify add` makes one.", ephemeral=True)
    lines = [s.describe() for s in found]
    return Message(
        embeds=[embed(f"📡 {len(found)} subscription(s)", "\n".join(lines), color=Color.BLUE)],
        ephemeral=True,
    )


@notify.subcommand(
    "remove",
    "Remove a subscription",
    options=[string("id", "The subscription id (see /notify list)", required=True, max_length=20)],
)
async def notify_remove(ctx: Context) -> Message:
    sub_id = (ctx.options.string("id") or "").strip().strip("`")
    if sub_id.startswith("cfg"):
        return Message(
            content="That one comes from the config file; edit it there.", ephemeral=True
        )
    if subscriptions.remove(ctx.services.store, sub_id):
        return Message(content=f"🗑️ Removed `{sub_id}`.", ephemeral=True)
    return Message(content=f"No subscription `{sub_id}`.", ephemeral=True)
