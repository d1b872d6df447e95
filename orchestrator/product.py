"""The composition root: the one module that knows every feature.

It builds the three things the front doors route to, each by merging the
registries the feature modules own, the way gidgethub composes `Router(*routers)`:

* `bot()`: the slash-command tree (`orchestrator.commands.*`), in the order
  Discord lists the commands;
* `events()`: the GitHub event router (`orchestrator.webhooks.*`);
* `jobs()`: every job by name (deferred interactions, webhook deliveries, the
  features' background tasks).

Each is built on first use and then kept, so a cold start imports only what its
front door needs: a PING builds none of them, a webhook builds the router, a job
event in a fresh Lambda container builds the job registry and nothing it does
not run. Nothing below this module imports it; `Services` asks it for defaults
and tests may hand in their own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrator.discord.tree import Bot
    from orchestrator.github.routing import EventRouter
    from orchestrator.jobs.base import JobRegistry


@functools.cache
def bot() -> Bot:
    """Every slash command, button and autocomplete of the product."""
    from orchestrator.commands import (
        basics,
        config,
        deploys,
        diagnose,
        freeze,
        locks,
        notify,
        ops,
        relay,
        release,
        triage,
        verify,
    )
    from orchestrator.discord.tree import Bot

    return Bot(
        basics.bot,
        deploys.bot,
        locks.bot,
        freeze.bot,
        verify.bot,
        diagnose.bot,
        config.bot,
        notify.bot,
        ops.bot,
        relay.bot,
        release.bot,
        triage.bot,
    )


@functools.cache
def events() -> EventRouter:
    """Every GitHub event handler: deploy tracking, the run log, notifications."""
    from orchestrator.github.routing import EventRouter
    from orchestrator.webhooks import deploys, digest, notifications

    return EventRouter(deploys.router, digest.router, notifications.router)


def jobs(
    commands: Callable[[], Bot] = bot, router: Callable[[], EventRouter] = events
) -> JobRegistry:
    """Every job: deferred interactions (answered with `commands()`), webhook deliveries
    (routed through `router()`) and the features' tasks. `Services` passes its own tree and
    router, so a job runs with the very ones that accepted its request."""
    from orchestrator import tasks
    from orchestrator.discord.dispatch import deferred_jobs
    from orchestrator.github.intake import delivery_jobs
    from orchestrator.jobs.base import JobRegistry

    return JobRegistry(deferred_jobs(commands), delivery_jobs(router), tasks.jobs)
