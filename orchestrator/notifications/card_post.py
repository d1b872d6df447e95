"""Cards in the store and in Discord: fold an event in, then show the card, once.

Two steps, both safe when a burst of events for one commit is handled at once:

1. `record` folds the event's line into the card with a compare-and-set
   (`store.update`), so six runs finishing together each keep their line.
2. `show` talks to Discord under the card's lease (a field of the same record, taken
   and released by compare-and-set). Only the lease holder creates or edits the
   message, so there is exactly one create per card, and edits never race each other
   (an older rendering can never land after a newer one). Every other job leaves at
   once: the holder re-reads the card after each edit and before letting go (letting
   go fails if the card changed meanwhile), so their lines are shown by its next
   edit. A burst of six events costs one create and an edit or two, not six posts.

Discord refuses to edit some messages (deleted, too old, too many edits: 403, 404,
30046): the card is then posted afresh and the new message remembered. A lease whose
holder died lapses after `LEASE_SECONDS`.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orchestrator.notifications import cards
from orchestrator.notifications.card_render import render_card
from orchestrator.notifications.subscriptions import Subscription
from orchestrator.store import keys
from orchestrator.store.base import JSONObject, Store
from orchestrator.store.update import update

if TYPE_CHECKING:
    from orchestrator.discord.rest import DiscordREST
    from orchestrator.github.events import Event

log = logging.getLogger(__name__)

LEASE_SECONDS = 30.0
MAX_ROUNDS = 8  # each round shows everything recorded so far; a burst needs one or two


class CardStillChanging(RuntimeError):
    """The card kept changing through every round: the job is retried and shows the rest."""


def card_key(subscription: Subscription, found: cards.Identity) -> str:
    return keys.card(subscription.id, found.repo, found.sha, found.pull_request)


def record(
    store: Store,
    subscription: Subscription,
    event: Event,
    failed_jobs: list[tuple[str, str | None, tuple[str, ...]]],
    deploy: cards.DeployLink | None,
) -> str | None:
    """Fold the event into its card; the card's key, or None if no card shows this event."""
    found = cards.identity(event)
    line = cards.line_for(event, failed_jobs, deploy)
    if found is None or line is None:
        return None
    line_id, value = line
    facts = cards.commit_facts(event)

    def change(current: JSONObject | None) -> JSONObject | None:
        card = current or cards.new_card(found, subscription.channel_id)
        return cards.fold(card, line_id, value, facts)

    key = card_key(subscription, found)
    update(store, key, change, ttl=cards.CARD_TTL)
    return key


def _holds(card: JSONObject | None, token: str) -> bool:
    lease = (card or {}).get("lease")
    return isinstance(lease, dict) and lease.get("token") == token


async def show(
    store: Store,
    discord: DiscordREST,
    subscription: Subscription,
    key: str,
    *,
    clock: Callable[[], float] = time.time,
) -> None:
    """Bring the card's message up to date, unless another job is already doing it."""
    from orchestrator.discord.errors import DiscordHTTPError

    token = secrets.token_hex(8)
    quiet = subscription.quiet

    def take(card: JSONObject | None) -> JSONObject | None:
        if card is None or cards.plan(card, quiet=quiet) is None:
            return None  # nothing to show (a repeated event, or quiet and not failing)
        lease = card.get("lease")
        if isinstance(lease, dict) and float(lease.get("until") or 0) > clock():
            return None  # someone is on it, and will show our line too
        return {**card, "lease": {"token": token, "until": clock() + LEASE_SECONDS}}

    card, taken = update(store, key, take, ttl=cards.CARD_TTL)
    if not taken:
        return
    try:
        for _ in range(MAX_ROUNDS):
            assert card is not None
            action = cards.plan(card, quiet=quiet)
            if action is None:
                card, released = update(
                    store, key, _release_if_idle(token, quiet), ttl=cards.CARD_TTL
                )
                if released or not _holds(card, token):
                    return
                continue  # it changed since we looked: show it again
            shown_rev = int(card.get("rev") or 0)
            message = render_card(card, mention=subscription.mention_on_failure)
            message_id = card.get("message_id")
            if action == "edit" and message_id:
                try:
                    await discord.edit_message(
                        subscription.channel_id, str(message_id), message.to_data(edit=True)
                    )
                except DiscordHTTPError as exc:
                    log.info(
                        "card edit refused, posting a fresh card",
                        extra={"status": exc.status, "code": exc.code},
                    )
                    message_id = None
            if not message_id:
                sent = await discord.create_message(subscription.channel_id, message.to_data())
                message_id = str(sent.get("id") or "")
            card, _ = update(store, key, _mark_sent(shown_rev, message_id), ttl=cards.CARD_TTL)
            if not _holds(card, token):
                return  # our lease lapsed and another job took over
        raise CardStillChanging(f"card {key} kept changing through {MAX_ROUNDS} rounds")
    except BaseException:
        update(store, key, _release(token), ttl=cards.CARD_TTL)
        raise


def _release_if_idle(token: str, quiet: bool) -> Callable[[JSONObject | None], JSONObject | None]:
    def change(card: JSONObject | None) -> JSONObject | None:
        if card is None or not _holds(card, token) or cards.plan(card, quiet=quiet) is not None:
            return None
        return {**card, "lease": None}

    return change


def _release(token: str) -> Callable[[JSONObject | None], JSONObject | None]:
    def change(card: JSONObject | None) -> JSONObject | None:
        if card is None or not _holds(card, token):
            return None
        return {**card, "lease": None}

    return change


def _mark_sent(rev: int, message_id: str) -> Callable[[JSONObject | None], JSONObject | None]:
    def change(card: JSONObject | None) -> JSONObject | None:
        if card is None:
            return None
        out: dict[str, Any] = {**card, "message_id": message_id}
        out["sent_rev"] = max(int(card.get("sent_rev") or 0), rev)
        return out

    return change
