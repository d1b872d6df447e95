"""Deploy environments: where an app is deployed to, and what deploying there takes.

An app lists its environments in the config file:

    [[apps]]
    name = "web"
    ...
    [apps.environments.staging]
    branch = "develop"
    [apps.environments.production]
    approvals = 1
    queue = "refuse"
    frontend_url = "https://web.example.com/"

An environment sets some of the app's own settings for itself (`apps.ENVIRONMENT_FIELDS`:
its branch, workflow and inputs, the URLs verification checks, its channel) and has a few of
its own (approvals, approval_ttl, auto_rollback, queue, required_contexts,
transient_environment, production_environment). An app without environments has one implicit
environment, `default`, with the app's settings: it deploys exactly as it did before
environments existed.

Pure: `environments_of` reads an `App`, `resolve` gives the effective settings of one
environment (the environment's value where it sets one, the app's otherwise) as a `Target`.
The app's settings are validated with the app (`App.validate`); what only environments
have is validated here, and every error names the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

from orchestrator.apps import ENVIRONMENT_FIELDS, App, InvalidApp
from orchestrator.text import parse_duration

DEFAULT = "default"
EVERY = "*"  # `/lock app env:*`: every environment of the app
QueueMode = Literal["queue", "refuse"]
QUEUE_MODES: tuple[QueueMode, ...] = ("queue", "refuse")
MAX_APPROVALS = 10
APPROVAL_TTL = 30 * 60.0  # how long an approval request waits, unless `approval_ttl` says
APPROVAL_TTL_BOUNDS = (60.0, 7 * 24 * 3600.0)

_OWN_FIELDS = (
    "approvals",
    "approval_ttl",
    "auto_rollback",
    "queue",
    "required_contexts",
    "transient_environment",
    "production_environment",
)


@dataclass(frozen=True)
class Environment:
    """One environment of an app: its own settings, and the app settings it sets."""

    name: str
    approvals: int = 0  # distinct approvals a deploy needs before it is dispatched
    approval_ttl: float = APPROVAL_TTL  # seconds a request waits for them before it expires
    auto_rollback: bool = False  # roll back to the last verified SHA when verification fails
    queue: QueueMode = "queue"  # a deploy while one is in flight: wait for it, or be refused
    required_contexts: tuple[str, ...] = ()  # for the GitHub Deployment (default: none)
    transient_environment: bool = False
    production_environment: bool = False
    overrides: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    implicit: bool = False  # the one environment of an app that declares none


@dataclass(frozen=True)
class Target:
    """An app in one environment: `app` is the app with the environment's settings applied,
    so everything that takes an `App` (dispatch, verification) deploys and checks there."""

    app: App
    environment: Environment

    @property
    def label(self) -> str:
        """How messages name it: "web/production", or just "web" for an app without
        environments (its users never named one)."""
        env = self.environment
        return self.app.name if env.implicit else f"{self.app.name}/{env.name}"


def _error(app: str, env: str, key: str, problem: str) -> InvalidApp:
    return InvalidApp(f"app {app}: environments.{env}.{key}: {problem}")


def _flag(app: str, env: str, table: Mapping[str, Any], key: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise _error(app, env, key, f"true or false, got {value!r}")
    return value


def _approval_ttl(app: str, env: str, value: Any) -> float:
    """`approval_ttl = "2h"`: how long a request waits for its approvals (1 min to 7 d)."""
    if value is None:
        return APPROVAL_TTL
    low, high = APPROVAL_TTL_BOUNDS
    try:
        seconds = parse_duration(value) if isinstance(value, str) else -1.0
    except ValueError as exc:
        raise _error(app, env, "approval_ttl", str(exc)) from None
    if not low <= seconds <= high:
        raise _error(
            app, env, "approval_ttl", f'a duration from 1min to 7d, e.g. "30min"; got {value!r}'
        )
    return seconds


def parse_environment(app: str, name: str, table: Mapping[str, Any]) -> Environment:
    """One `[apps.environments.<name>]` table; InvalidApp naming the field otherwise."""
    unknown = sorted(set(table) - set(ENVIRONMENT_FIELDS) - set(_OWN_FIELDS))
    if unknown:
        raise InvalidApp(f"app {app}: environments.{name}: unknown keys {', '.join(unknown)}")
    approvals = table.get("approvals", 0)
    if (
        not isinstance(approvals, int)
        or isinstance(approvals, bool)
        or not 0 <= approvals <= MAX_APPROVALS
    ):
        raise _error(app, name, "approvals", f"a whole number 0-{MAX_APPROVALS}, got {approvals!r}")
    approval_ttl = _approval_ttl(app, name, table.get("approval_ttl"))
    queue = table.get("queue", "queue")
    if queue not in QUEUE_MODES:
        raise _error(app, name, "queue", f'"queue" or "refuse", got {queue!r}')
    contexts = table.get("required_contexts", [])
    if not isinstance(contexts, list) or not all(isinstance(c, str) and c for c in contexts):
        raise _error(app, name, "required_contexts", "a list of status check names")
    inputs = table.get("deploy_inputs", {})
    if not isinstance(inputs, dict) or not all(isinstance(v, str) for v in inputs.values()):
        raise _error(app, name, "deploy_inputs", "a table of input names to strings")
    return Environment(
        name=name,
        approvals=approvals,
        approval_ttl=approval_ttl,
        auto_rollback=_flag(app, name, table, "auto_rollback", False),
        queue=queue,
        required_contexts=tuple(contexts),
        transient_environment=_flag(app, name, table, "transient_environment", False),
        production_environment=_flag(
            app, name, table, "production_environment", name == "production"
        ),
        overrides=MappingProxyType({k: v for k, v in table.items() if k in ENVIRONMENT_FIELDS}),
    )


def environments_of(app: App) -> dict[str, Environment]:
    """The app's environments by name, in the order the file declares them; an app that
    declares none has the implicit `default` (a production environment: it is what that
    app's deploys have always gone to)."""
    if not app.environments:
        return {DEFAULT: Environment(DEFAULT, production_environment=True, implicit=True)}
    return {
        name: parse_environment(app.name, name, table) for name, table in app.environments.items()
    }


def resolve(app: App, environment: Environment) -> Target:
    """The effective settings: the environment's value where it sets one, the app's
    otherwise. Workflow inputs merge (the environment's win), so an app can send
    `region` everywhere and each environment its own `stage`."""
    overrides = dict(environment.overrides)
    if "deploy_inputs" in overrides:
        overrides["deploy_inputs"] = {**app.deploy_inputs, **overrides["deploy_inputs"]}
    return Target(replace(app, **overrides), environment)


def target(app: App, name: str | None) -> Target:
    """The named environment of the app, or its only one; InvalidApp otherwise."""
    found = environments_of(app)
    if name is None or not name.strip():
        if len(found) == 1:
            return resolve(app, next(iter(found.values())))
        raise InvalidApp(f"which environment of {app.name}? ({', '.join(found)})")
    if name.strip() not in found:
        raise InvalidApp(f"{app.name} has no environment {name.strip()!r} ({', '.join(found)})")
    return resolve(app, found[name.strip()])


def targets(app: App, name: str) -> list[Target]:
    """`target`, or every environment of the app for `*`."""
    if name.strip() == EVERY:
        return [resolve(app, env) for env in environments_of(app).values()]
    return [target(app, name)]


def primary(app: App) -> Target:
    """The environment `/release`'s Promote and Roll back act on: the first production
    environment (by default the one named production), else the last one declared (files
    tend to list them on the way to production)."""
    found = list(environments_of(app).values())
    chosen = next((env for env in found if env.production_environment), found[-1])
    return resolve(app, chosen)


def all_targets(apps: Mapping[str, App]) -> list[Target]:
    """Every environment of every app (for `/locks`, the lock reminders, the queue watch)."""
    return [resolve(app, env) for app in apps.values() for env in environments_of(app).values()]
