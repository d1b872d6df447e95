"""GitHub events -> Discord channel messages, for every matching subscription.

`orchestrator.webhooks.notifications` routes each event `render` knows here. A
subscription shows an event in one of two ways (`Subscription.mode_for`):

* `card`: the event becomes a line of its commit's card, one message edited in place
  (`notifications.card_post`); a repeated event changes nothing and edits nothing.
* `each`: one message per event. Within a delivery each subscription is sent at most
  once, even when the job is retried after a partial failure (sent ones are recorded).

A failed send fails the job, so it stays recorded and `orchestrator jobs retry` replays
it. A workflow run that is a tracked deploy already has its live deploy message: its
card line links there, and an `each` subscription posting to that very channel skips it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from orchestrator.config_file import load_file_config
from orchestrator.github import reconcile
from orchestrator.github.events import Event, WorkflowJob, WorkflowRun
from orchestrator.notifications import card_post, subscriptions
from orchestrator.notifications.cards import DeployLink
from orchestrator.notifications.render import (
    FailedJob,
    needs_failed_jobs,
    render,
)
from orchestrator.store import keys

if TYPE_CHECKING:
    from orchestrator.clients import Clients
    from orchestrator.runtime import Runtime

log = logging.getLogger(__name__)

SENT_TTL = 7 * 24 * 3600
_FAILED = ("failure", "timed_out", "cancelled", "startup_failure")


DeployLookup = Callable[[Event], DeployLink | None]


class NotificationFailed(RuntimeError):
    pass


def all_subscriptions(services: Runtime) -> list[subscriptions.Subscription]:
    seeded = load_file_config(services.settings.config_file).notify
    return subscriptions.from_config(seeded) + subscriptions.stored(services.store)


async def fetch_failed_jobs(services: Clients, event: Event) -> list[FailedJob]:
    """The failed jobs of a run and their failing steps; empty if GitHub can't say."""
    from orchestrator.github.errors import GitHubError

    run = WorkflowRun(event.payload.get("workflow_run"))
    if run.id is None or event.repo is None:
        return []
    try:
        async with services.github() as github:
            jobs = await github.list_run_jobs(event.repo, run.id, attempt=run.attempt)
    except GitHubError as exc:
        log.warning("could not list the run's jobs", extra={"error": type(exc).__name__})
        return []
    failed = []
    for raw in jobs:
        job = WorkflowJob(raw)
        if job.conclusion in _FAILED:
            failed.append(FailedJob(job.name or "?", job.html_url, tuple(job.failed_steps)))
    return failed


async def notify(
    services: Clients, event: Event, deploy_lookup: DeployLookup | None = None
) -> None:
    """Show `event` to every subscription that wants it: on its commit's card, or as a post
    of its own (at most once per delivery and subscription)."""
    store = services.store
    matching = [s for s in all_subscriptions(services) if s.matches(event)]
    if not matching:
        return
    if not reconcile.is_current(store, event):
        # Stale for posts of their own (one per news), but a card folds each line by its
        # own order and shows nothing twice: a lost webhook redelivered after the reconcile
        # sweep already recorded its run's state still belongs on its commit's card.
        matching = [s for s in matching if s.mode_for(event.name) == "card"]
        if not matching:
            log.info("stale event skipped", extra={"event": event.key, "delivery": event.delivery})
            return
    failed_jobs = await fetch_failed_jobs(services, event) if needs_failed_jobs(event) else []
    deploy = deploy_lookup(event) if deploy_lookup is not None else None
    on_cards = [s for s in matching if s.mode_for(event.name) == "card"]
    each = [s for s in matching if s.mode_for(event.name) == "each"]
    if deploy is not None:  # its deploy message already shows it in that channel
        each = [s for s in each if s.channel_id != deploy.channel_id]
    from orchestrator.discord.errors import DiscordError
    from orchestrator.store.update import UpdateContended

    errors = []
    card_keys = []
    jobs = [(job.name, job.url, job.steps) for job in failed_jobs]
    for subscription in on_cards:
        try:
            key = card_post.record(store, subscription, event, jobs, deploy)
        except UpdateContended as exc:
            errors.append(f"{subscription.id}: {exc}")
            continue
        if key is not None:
            card_keys.append((subscription, key))
    message = render(event, failed_jobs) if each else None
    if not card_keys and message is None and not errors:
        return
    async with services.discord_rest() as discord:
        for subscription, key in card_keys:
            try:
                await card_post.show(store, discord, subscription, key)
            except (DiscordError, UpdateContended, card_post.CardStillChanging) as exc:
                errors.append(f"{subscription.id}: {exc}")
        for subscription in each:
            if message is None:
                break
            sent_key = keys.notified(event.delivery, subscription.id)
            if store.get(sent_key) is not None:
                continue
            try:
                sent = await discord.create_message(subscription.channel_id, message.to_data())
            except DiscordError as exc:
                errors.append(f"{subscription.id}: {exc}")
                continue
            store.put(
                sent_key,
                {"channel_id": subscription.channel_id, "message_id": sent.get("id")},
                ttl=SENT_TTL,
            )
    if errors:
        raise NotificationFailed("; ".join(errors)[:500])
