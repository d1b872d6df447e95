"""The composition root: the one module that knows every feature.

It builds the three things the front doors route to, each by merging the
registries the feature modules own, the way gidgethub composes `Router(*routers)`:

* `bot()`: the slash-command tree (`orchestrator.commands.*`), in the order
  Discord lists the commands; `commands()` is the same tree built on demand, one
  feature module per interaction (by the index `FEATURES`);
* `events()`: the GitHub event router (`orchestrator.webhooks.*`);
* `jobs()`: every job by name (deferred interactions, webhook deliveries, the
  features' background tasks).

It also judges the config file that describes those features (`config_problems`).

Each is built on first use and then kept, so a cold start imports only what its
front door needs: a PING builds none of them, a slash command (or a button, or its
deferred job) imports only the module that declares it, a webhook builds the router, a job
event in a fresh Lambda container builds the job registry and nothing it does
not run. Nothing below this module imports it; `Services` asks it for defaults
and tests may hand in their own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from pathlib import Path

    from orchestrator.discord.tree import Bot, CommandLookup, Kind, OnDemandBot
    from orchestrator.github.routing import EventRouter
    from orchestrator.jobs.base import JobRegistry


class Feature(NamedTuple):
    """A slash-command module under `orchestrator.commands` and what its `bot` declares:
    top-level commands, component routes and modal routes (a route is the part of a
    custom_id before the first ':'). A NamedTuple: every cold start imports this module, and
    a frozen dataclass costs ~0.7 ms to build on 3.12."""

    module: str
    commands: tuple[str, ...]
    components: tuple[str, ...] = ()
    modals: tuple[str, ...] = ()


# Every slash-command module, in the order Discord lists their commands. The index an
# interaction is routed by: a name here loads only its module. Kept honest by
# tests/test_product.py, which builds the whole tree and checks each module declares exactly
# what is listed (and that no module with a `bot` is missing); a name that is not here, or
# listed under the wrong module, falls back to the whole tree, so a stale entry costs time,
# never a command.
FEATURES = (
    Feature("basics", ("ping", "help", "audit", "trace")),
    Feature(
        "deploys",
        ("deploy", "status"),
        components=("deploy.verify", "deploy.rerun", "deploy.cancel", "deploy.rollback"),
    ),
    Feature("approvals", (), components=("deploy.approve", "deploy.reject")),
    Feature("locks", ("lock", "unlock", "locks")),
    Feature("freeze", ("freeze",)),
    Feature("verify", ("verify-latest", "verify-run", "history")),
    Feature("diagnose", ("diagnose",)),
    Feature("config", ("config",)),
    Feature("notify", ("notify",)),
    Feature("ops", ("uptime", "digest")),
    Feature("relay", ("relay-send", "relay-dm"), components=("relay.confirm", "relay.cancel")),
    Feature("release", ("release",), components=("release.promote", "release.rollback")),
    Feature("triage", ("triage",)),
)


def index() -> dict[tuple[Kind, str], str]:
    """(kind, name) -> the module that declares it, from `FEATURES`."""
    found: dict[tuple[Kind, str], str] = {}
    for feature in FEATURES:
        declared: tuple[tuple[Kind, tuple[str, ...]], ...] = (
            ("command", feature.commands),
            ("component", feature.components),
            ("modal", feature.modals),
        )
        for kind, names in declared:
            for name in names:
                found[kind, name] = feature.module
    return found


_INDEX = index()


@functools.cache
def feature_bot(module: str) -> Bot:
    """The command tree one feature module declares (importing it, and nothing else)."""
    # `__import__`, the import statement's own machinery, rather than `importlib`'s Python
    # one: `-X importtime` (the bench's per-front-door report) only sees the former.
    imported = __import__(f"orchestrator.commands.{module}", fromlist=["bot"])
    part: Bot = imported.bot
    return part


@functools.cache
def bot() -> Bot:
    """Every slash command, button and autocomplete of the product: what registration,
    `/help` and `/diagnose` see."""
    from orchestrator.discord.tree import Bot

    return Bot(*(feature_bot(feature.module) for feature in FEATURES))


def bot_for(kind: Kind, name: str) -> Bot:
    """The part of the tree that owns `name` (a top-level command, or a component or modal
    route): only its module is imported. A name the index does not know gets the whole
    tree."""
    module = _INDEX.get((kind, name))
    return bot() if module is None else feature_bot(module)


@functools.cache
def commands() -> OnDemandBot:
    """The tree the front door and deferred jobs dispatch on: each interaction builds only
    the part that owns it; whatever needs every command (`/help`) builds `bot()`."""
    from orchestrator.discord.tree import OnDemandBot

    return OnDemandBot(bot_for, bot)


@functools.cache
def events() -> EventRouter:
    """Every GitHub event handler: deploy tracking, the run log, notifications."""
    from orchestrator.github.routing import EventRouter
    from orchestrator.webhooks import deploys, digest, notifications

    return EventRouter(deploys.router, digest.router, notifications.router)


def jobs(
    commands: Callable[[], CommandLookup] = commands, router: Callable[[], EventRouter] = events
) -> JobRegistry:
    """Every job: deferred interactions (answered with `commands()`, which by default builds
    only the part of the tree an interaction names), webhook deliveries
    (routed through `router()`) and the features' tasks. `Services` passes its own tree and
    router, so a job runs with the very ones that accepted its request."""
    from orchestrator.discord.dispatch import deferred_jobs
    from orchestrator.jobs.base import JobRegistry

    # The deferred-interaction job is built at once, the rest in order on the first other
    # name, no further than the part holding it: a container finishing a slash command
    # imports neither the GitHub intake nor the features' tasks (and the deploy domain
    # behind them), one handling a delivery not the tasks.
    return JobRegistry(deferred_jobs(commands), later=(lambda: _deliveries(router), _tasks))


def _deliveries(router: Callable[[], EventRouter]) -> JobRegistry:
    from orchestrator.github.intake import delivery_jobs

    return delivery_jobs(router)


def _tasks() -> JobRegistry:
    from orchestrator import tasks

    return tasks.jobs


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
