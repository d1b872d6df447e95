"""The composition root: the one module that knows every feature.

It builds the three things the front doors route to, each by merging the
registries the feature modules own, the way gidgethub composes `Router(*routers)`:

* `bot()`: the slash-command tree (`orchestrator.commands.*`), in the order
  Discord lists the commands;
* `events()`: the GitHub event router (`orchestrator.webhooks.*`);
* `jobs()`: every job by name (deferred interactions, webhook deliveries, the
  features' background tasks).

It also judges the config file that describes those features (`config_problems`).

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
    from pathlib import Path

    from orchestrator.discord.tree import Bot
    from orchestrator.github.routing import EventRouter
    from orchestrator.jobs.base import JobRegistry


@functools.cache
def bot() -> Bot:
    """Every slash command, button and autocomplete of the product."""
    from orchestrator.commands import (
        approvals,
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
        approvals.bot,
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


def config_problems(config_file: Path, *, production: bool) -> list[str]:
    """Everything wrong with the config file under the given rules, each naming its field
    (`apps[web].frontend_url: only https URLs are allowed`, `notify[2]: ...`); empty when
    it is fine or absent. The file describes the features (apps, subscriptions), so their
    own validation judges it: `orchestrator build` with production's rules before shipping
    it, production startup before serving, `/healthz` while running."""
    if not config_file.is_file():
        return []  # nothing to judge, and nothing imported for it on a cold start
    from orchestrator.apps import file_problems
    from orchestrator.config_file import ConfigFileError, load_file_config
    from orchestrator.notifications.subscriptions import InvalidSubscription, Subscription

    problems = file_problems(config_file, production=production)
    try:
        tables = load_file_config(config_file).notify
    except ConfigFileError as exc:
        return problems if exc.problem in problems else [*problems, exc.problem]
    for index, table in enumerate(tables, 1):
        try:
            Subscription.from_dict(table, id=f"cfg{index}", source="config")
        except InvalidSubscription as exc:
            problems.append(f"notify[{index}]: {exc}")
    return problems
