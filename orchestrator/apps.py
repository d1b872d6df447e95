"""Deployable apps: what the bot deploys, tracks and verifies.

An app comes from the config file's `[[apps]]` table; admins can change a few
fields at runtime with `/config set` (replacing the old `/set-frontend` and
`/set-api-base`). Runtime overrides live in the store, are validated the same
way, and are audited. URLs must pass `http.check_url`: https, and in production
no private or loopback hosts, the same policy production fetches apply to every
hop (a bot that fetches any URL an admin types would otherwise be a way into the VPC).
They are kept in the normal form `check_url` returns, the form that was judged.

Precedence: an override wins over the file's value for its key until `/config reset`
removes it (`reset_override`); the file is re-read when it changes, and keys without an
override follow it. An override that today's rules refuse (stored under older rules, or in
another mode) is ignored, the file's value applies, and `load` reports it, so `/healthz` can.
Every problem names its field (`apps[web].frontend_url: only https URLs are allowed`), so
`orchestrator build`, production startup and `/healthz` can say exactly what to fix.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from orchestrator.config_file import ConfigFileError, load_file_config
from orchestrator.http import RefusedURL, check_url
from orchestrator.store import keys

if TYPE_CHECKING:
    from pathlib import Path

    from orchestrator.runtime import Runtime
    from orchestrator.store.base import Store

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")

# Fields `/config set` may change, with what they hold.
SETTABLE = {
    "frontend_url": "URL of the app's HTML page",
    "api_health_url": "URL of the API health endpoint",
    "version_url": "URL of a JSON endpoint reporting the deployed version",
    "version_field": "dotted path of the SHA in that JSON (e.g. build.sha)",
    "branch": "branch deploys come from",
    "workflow": "deploy workflow file (deploy.yml) or name",
    "diagnose_workflow": "on-demand diagnose workflow file or name",
    "triage_workflow": "workflow /triage may dispatch for a failing PR or run",
    "promote_workflow": "workflow /release's Promote button dispatches (input: sha)",
    "rollback_workflow": "workflow /release's Roll back button dispatches (input: sha)",
    "channel_id": "channel for this app's deploy messages",
}
_URL_FIELDS = ("frontend_url", "api_health_url", "version_url")
_REQUIRED = ("branch", "workflow", "version_field")
# Fields that hold text (channel_id may be a TOML integer: it is checked as digits instead).
_TEXT_FIELDS = (
    "name",
    "repo",
    "workflow",
    "branch",
    *_URL_FIELDS,
    "version_field",
    "frontend_version_pattern",
    "diagnose_workflow",
    "triage_workflow",
    "promote_workflow",
    "rollback_workflow",
    "correlation_input",
)

# The app's settings an environment (`[apps.environments.<name>]`) may set for itself; the
# rest (name, repo, correlation_input, ...) belong to the app. `orchestrator.deploys.
# environments` reads the environments; they are validated here, with the app they refine.
ENVIRONMENT_FIELDS = (
    "branch",
    "workflow",
    "deploy_inputs",
    "overridable_inputs",
    "frontend_url",
    "api_health_url",
    "version_url",
    "version_field",
    "frontend_version_pattern",
    "promote_workflow",
    "rollback_workflow",
    "channel_id",
)

# HTML that caches longer than this (seconds) makes a deploy invisible to users for that long.
DEFAULT_MAX_HTML_CACHE = 300


class InvalidApp(ValueError):
    pass


@dataclass(frozen=True)
class App:
    name: str
    repo: str
    workflow: str
    branch: str = "main"
    frontend_url: str | None = None
    api_health_url: str | None = None
    version_url: str | None = None
    version_field: str = "sha"
    frontend_version_pattern: str | None = None
    max_html_cache_seconds: int = DEFAULT_MAX_HTML_CACHE
    diagnose_workflow: str | None = None
    triage_workflow: str | None = None
    promote_workflow: str | None = None
    rollback_workflow: str | None = None
    channel_id: str | None = None
    deploy_inputs: dict[str, str] = field(default_factory=dict)
    # Which of `deploy_inputs` `/deploy inputs:` may replace; the rest are always sent as is.
    overridable_inputs: list[str] = field(default_factory=list)
    correlation_input: str | None = None
    # `[apps.environments.<name>]` tables as the file gives them (URLs normalised by
    # `validate`); none means one implicit environment, which is how every app deployed before.
    environments: dict[str, Any] = field(default_factory=dict)

    def inputs_with(self, given: Mapping[str, str]) -> dict[str, str]:
        """The workflow inputs of a deploy: `deploy_inputs`, plus what the user gave.

        A configured input is the team's decision ("always sent"): the user may replace
        it only where `overridable_inputs` says so, and never the correlation input."""
        fixed = [
            k
            for k in given
            if (k in self.deploy_inputs and k not in self.overridable_inputs)
            or k == self.correlation_input
        ]
        if fixed:
            allowed = ", ".join(self.overridable_inputs) or "none"
            raise InvalidApp(
                f"{', '.join(sorted(fixed))} is set by the config for {self.name} "
                f"(inputs you may override: {allowed})"
            )
        return {**self.deploy_inputs, **given}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str | None = None) -> App:
        """The app a config table describes; InvalidApp naming `where` (default: the app)."""
        label = where or f"app {data.get('name', '?')!r}"
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidApp(f"{label}: unknown keys {', '.join(unknown)}")
        missing = [f for f in ("name", "repo", "workflow") if f not in data]
        if missing:
            raise InvalidApp("; ".join(f"{label}.{f}: required" for f in missing))
        return cls(**data)

    def checked(self, *, production: bool, where: str | None = None) -> tuple[App, list[str]]:
        """This app with its URLs in normal form (`http.check_url`), and every problem under
        the given rules, each as `<where>.<field>: <why>` (`where` defaults to the name).

        What is stored and fetched is the URL that was judged, not another spelling of it."""
        at = where or self.name
        problems = [
            f"{at}.{name}: must be a string"
            for name in _TEXT_FIELDS
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str)
        ]
        if problems:
            return self, problems  # the checks below assume text
        if not _NAME.match(self.name):
            problems.append(f"{at}.name: {self.name!r}: lowercase letters, digits, - and _")
        if self.repo.count("/") != 1 or not all(self.repo.split("/")):
            problems.append(f"{at}.repo: must be owner/name, got {self.repo!r}")
        if not self.workflow:
            problems.append(f"{at}.workflow: required")
        urls: dict[str, Any] = {}
        for name in _URL_FIELDS:
            value = getattr(self, name)
            if value is not None:
                try:
                    urls[name] = check_url(value, production=production, what=f"{at}.{name}")
                except RefusedURL as exc:
                    problems.append(str(exc))
        if self.frontend_version_pattern is not None:
            try:
                re.compile(self.frontend_version_pattern)
            except re.error as exc:
                problems.append(f"{at}.frontend_version_pattern: not a regular expression: {exc}")
        if not isinstance(self.max_html_cache_seconds, int) or self.max_html_cache_seconds < 0:
            problems.append(f"{at}.max_html_cache_seconds: a whole number of seconds")
        if not isinstance(self.deploy_inputs, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.deploy_inputs.items()
        ):
            problems.append(f"{at}.deploy_inputs: a table of text values")
        if not isinstance(self.overridable_inputs, list) or not all(
            isinstance(name, str) for name in self.overridable_inputs
        ):
            problems.append(f"{at}.overridable_inputs: a list of input names")
        if self.channel_id is not None and not (
            str(self.channel_id).isascii() and str(self.channel_id).isdigit()
        ):
            problems.append(f"{at}.channel_id: must be a channel id")
        environments, found = self._checked_environments(production, at)
        problems.extend(found)
        return replace(self, **urls, environments=environments), problems

    def _checked_environments(self, production: bool, at: str) -> tuple[dict[str, Any], list[str]]:
        """Each environment's app settings pass this very check, as the app it makes (its
        URLs are judged and kept in normal form like the app's own); what only an
        environment has (approvals, queue, ...) `deploys.environments` checks when it reads
        them."""
        raw: Any = self.environments  # from TOML: not necessarily the declared type
        if not isinstance(raw, dict):
            return {}, [f"{at}.environments: a table of [apps.environments.*]"]
        checked: dict[str, Any] = {}
        problems: list[str] = []
        for env, table in raw.items():
            if not isinstance(table, dict) or not _NAME.match(str(env)):
                problems.append(
                    f"{at}.environments.{env}: a table named with lowercase letters, digits, "
                    "- and _"
                )
                continue
            own = {k: v for k, v in table.items() if k in ENVIRONMENT_FIELDS}
            effective, found = replace(self, environments={}, **own).checked(
                production=production, where=f"{at}.environments.{env}"
            )
            problems.extend(found)
            checked[env] = {**table, **{k: getattr(effective, k) for k in own}}
        return checked, problems

    def validate(self, *, production: bool) -> App:
        """`checked`, raising InvalidApp with every problem when there is any."""
        app, problems = self.checked(production=production)
        if problems:
            raise InvalidApp("; ".join(problems))
        return app


# The last judgement of each file's `[[apps]]`, by (file, rules): the tables it judged (the
# very tuple `load_file_config` keeps while the file's mtime stands) and what it found.
# Every delivery job asks (`webhooks.digest`); the tables change only with the file.
_judged: dict[tuple[Path, bool], tuple[tuple[dict[str, Any], ...], dict[str, App], list[str]]] = {}


def file_apps(config_file: Path, *, production: bool) -> tuple[dict[str, App], list[str]]:
    """The config file's apps by name, and every problem of its `[[apps]]` under the given
    rules, each naming its field (`apps[web].frontend_url: ...`). Only valid apps are kept.
    Judged once per version of the file (`load_file_config` re-reads it when it changes)."""
    try:
        tables = load_file_config(config_file).apps
    except ConfigFileError as exc:
        return {}, [exc.problem]
    judged = _judged.get((config_file, production))
    if judged is not None and judged[0] is tables:
        return dict(judged[1]), list(judged[2])
    apps, problems = _judge(tables, production=production)
    _judged[(config_file, production)] = (tables, apps, problems)
    return dict(apps), list(problems)


def _judge(
    tables: tuple[dict[str, Any], ...], *, production: bool
) -> tuple[dict[str, App], list[str]]:
    apps: dict[str, App] = {}
    problems: list[str] = []
    for index, data in enumerate(tables, 1):
        name = data.get("name")
        where = f"apps[{name}]" if isinstance(name, str) and name else f"apps[#{index}]"
        try:
            app, found = App.from_dict(dict(data), where=where).checked(
                production=production, where=where
            )
        except InvalidApp as exc:
            problems.append(str(exc))
            continue
        if app.name in apps:
            found.append(f"{where}: defined twice")
        problems.extend(found)
        if not found:
            apps[app.name] = app
    return apps, problems


def file_problems(config_file: Path, *, production: bool) -> list[str]:
    """What is wrong with the config file's `[[apps]]` under the given rules (empty: nothing).
    `orchestrator build` asks with production's rules before it ships the file."""
    return file_apps(config_file, production=production)[1]


def overrides_of(store: Store) -> dict[str, dict[str, Any]]:
    """The stored runtime overrides (`/config set`), by app, settable keys only."""
    found: dict[str, dict[str, Any]] = {}
    for record in store.query_prefix(keys.APP_OVERRIDE_PREFIX, limit=200):
        values = {k: v for k, v in record.value.items() if k in SETTABLE}
        if values:
            found[keys.parse_app_override(record.key)] = values
    return found


@dataclass(frozen=True)
class Loaded:
    """The apps as they run, and how they came to be: what the file says, which overrides
    apply, and the overrides ignored because today's rules refuse them (`/healthz`)."""

    apps: dict[str, App]
    from_file: dict[str, App]
    overrides: dict[str, dict[str, Any]]
    ignored: list[str]


def load(config_file: Path, store: Store, *, production: bool) -> Loaded:
    """The file's apps with the runtime overrides that pass today's rules applied; InvalidApp
    (every problem named) if the file itself is invalid."""
    from_file, problems = file_apps(config_file, production=production)
    if problems:
        raise InvalidApp("; ".join(problems))
    apps = dict(from_file)
    applied: dict[str, dict[str, Any]] = {}
    ignored: list[str] = []
    # No app in the file, nothing an override could apply to: no store query (every
    # delivery job loads the apps).
    for name, values in (overrides_of(store) if apps else {}).items():
        if name not in apps:
            continue  # an app since removed from the file: nothing to override
        for key, value in values.items():
            candidate, found = replace(apps[name], **{key: value}).checked(
                production=production, where=f"apps[{name}]"
            )
            if found:
                ignored.extend(f"{p} (set with /config set; ignored)" for p in found)
                continue
            apps[name] = candidate
            applied.setdefault(name, {})[key] = getattr(candidate, key)
    if ignored:
        log.warning("config overrides ignored", extra={"problems": ignored})
    return Loaded(apps, from_file, applied, ignored)


def load_apps(config_file: Path, store: Store, *, production: bool) -> dict[str, App]:
    """The apps from the config file with runtime overrides applied, by name."""
    return load(config_file, store, production=production).apps


def loaded_of(runtime: Runtime) -> Loaded:
    """`load` with the running app's config file, store and mode."""
    settings = runtime.settings
    return load(settings.config_file, runtime.store, production=settings.is_prod)


def apps_of(runtime: Runtime) -> dict[str, App]:
    """`load_apps` with the running app's config file, store and mode."""
    settings = runtime.settings
    return load_apps(settings.config_file, runtime.store, production=settings.is_prod)


def get_app(runtime: Runtime, name: str | None) -> App:
    """The named app of the running app, or its only one; InvalidApp otherwise."""
    return pick_app(apps_of(runtime), name)


def pick_app(apps: Mapping[str, App], name: str | None) -> App:
    """The named app, or the only one when there is exactly one; InvalidApp otherwise."""
    if name:
        if name not in apps:
            known = ", ".join(sorted(apps)) or "none configured"
            raise InvalidApp(f"no app {name!r} (apps: {known})")
        return apps[name]
    if len(apps) == 1:
        return next(iter(apps.values()))
    if not apps:
        raise InvalidApp("no apps configured: add [[apps]] to the config file")
    raise InvalidApp(f"which app? ({', '.join(sorted(apps))})")


def set_override(
    store: Store, app: App, key: str, value: str, *, production: bool, actor: str | None
) -> App:
    """Validate and persist one runtime change; returns the app as it now is."""
    if key not in SETTABLE:
        raise InvalidApp(f"{key!r} cannot be set; settable: {', '.join(SETTABLE)}")
    cleaned: str | None = value.strip() or None
    if cleaned is None and key in _REQUIRED:
        raise InvalidApp(f"{key} cannot be empty")
    changes: dict[str, Any] = {key: cleaned}
    updated = replace(app, **changes).validate(production=production)
    stored = getattr(updated, key)  # a URL in the normal form it was judged in
    record = store.get(keys.app_override(app.name)) or {}
    record = {**record, key: stored, "_updated_by": actor, "_updated_at": time.time()}
    store.put(keys.app_override(app.name), record)
    return updated


def reset_override(store: Store, app: str, key: str, *, actor: str | None) -> bool:
    """Remove one runtime override, so the config file's value applies again; False when
    there was none. What other keys remain keeps who changed the record last."""
    if key not in SETTABLE:
        raise InvalidApp(f"{key!r} cannot be set; settable: {', '.join(SETTABLE)}")
    record = store.get(keys.app_override(app))
    if record is None or key not in record:
        return False
    rest = {k: v for k, v in record.items() if k != key}
    if any(k in SETTABLE for k in rest):
        store.put(
            keys.app_override(app), {**rest, "_updated_by": actor, "_updated_at": time.time()}
        )
    else:
        store.delete(keys.app_override(app))
    return True
