"""Deployable apps: what the bot deploys, tracks and verifies.

An app comes from the config file's `[[apps]]` table; admins can change a few
fields at runtime with `/config set` (replacing the old `/set-frontend` and
`/set-api-base`). Runtime overrides live in the store, are validated the same
way, and are audited. URLs must pass `http.check_url`: https, and in production
no private or loopback hosts, the same policy production fetches apply to every
hop (a bot that fetches any URL an admin types would otherwise be a way into the VPC).
They are kept in the normal form `check_url` returns, the form that was judged.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from orchestrator.config_file import load_file_config
from orchestrator.http import RefusedURL, check_url
from orchestrator.store import keys

if TYPE_CHECKING:
    from pathlib import Path

    from orchestrator.runtime import Runtime
    from orchestrator.store.base import Store

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
    def from_dict(cls, data: dict[str, Any]) -> App:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidApp(f"app {data.get('name', '?')!r}: unknown keys {', '.join(unknown)}")
        try:
            app = cls(**data)
        except TypeError as exc:
            raise InvalidApp(f"app {data.get('name', '?')!r}: {exc}") from None
        return app

    def validate(self, *, production: bool) -> App:
        """This app with its URLs in normal form (`http.check_url`), or InvalidApp: what is
        stored and fetched is the URL that was judged, not another spelling of it."""
        if not _NAME.match(self.name):
            raise InvalidApp(f"app name {self.name!r}: lowercase letters, digits, - and _")
        if self.repo.count("/") != 1 or not all(self.repo.split("/")):
            raise InvalidApp(f"app {self.name}: repo must be owner/name, got {self.repo!r}")
        if not self.workflow:
            raise InvalidApp(f"app {self.name}: workflow is required")
        urls: dict[str, Any] = {}
        for name in _URL_FIELDS:
            value = getattr(self, name)
            if value is not None:
                try:
                    urls[name] = check_url(value, production=production, what=f"{self.name}.{name}")
                except RefusedURL as exc:
                    raise InvalidApp(str(exc)) from None
        if self.frontend_version_pattern is not None:
            try:
                re.compile(self.frontend_version_pattern)
            except re.error as exc:
                raise InvalidApp(f"app {self.name}: bad frontend_version_pattern: {exc}") from None
        if not isinstance(self.overridable_inputs, list) or not all(
            isinstance(name, str) for name in self.overridable_inputs
        ):
            raise InvalidApp(f"app {self.name}: overridable_inputs is a list of input names")
        if self.channel_id is not None and not (
            str(self.channel_id).isascii() and str(self.channel_id).isdigit()
        ):
            raise InvalidApp(f"app {self.name}: channel_id must be a channel id")
        return replace(self, **urls, environments=self._validated_environments(production))

    def _validated_environments(self, production: bool) -> dict[str, Any]:
        """Each environment's app settings pass this very validation, as the app it makes
        (its URLs are judged and kept in normal form like the app's own); what only an
        environment has (approvals, queue, ...) `deploys.environments` checks when it reads
        them."""
        if not isinstance(self.environments, dict):
            raise InvalidApp(f"app {self.name}: environments is a table of [apps.environments.*]")
        checked: dict[str, Any] = {}
        for env, table in self.environments.items():
            if not isinstance(table, dict) or not _NAME.match(str(env)):
                raise InvalidApp(
                    f"app {self.name}: environments.{env}: a table named with lowercase "
                    "letters, digits, - and _"
                )
            own = {k: v for k, v in table.items() if k in ENVIRONMENT_FIELDS}
            try:
                effective = replace(self, environments={}, **own).validate(production=production)
            except InvalidApp as exc:
                raise InvalidApp(f"app {self.name}: environments.{env}: {exc}") from None
            checked[env] = {**table, **{k: getattr(effective, k) for k in own}}
        return checked


def load_apps(config_file: Path, store: Store, *, production: bool) -> dict[str, App]:
    """The apps from the config file with runtime overrides applied, by name."""
    apps: dict[str, App] = {}
    for data in load_file_config(config_file).apps:
        app = App.from_dict(dict(data)).validate(production=production)
        apps[app.name] = app
    for record in store.query_prefix(keys.APP_OVERRIDE_PREFIX, limit=200):
        name = keys.parse_app_override(record.key)
        if name in apps:
            values = {k: v for k, v in record.value.items() if k in SETTABLE}
            apps[name] = replace(apps[name], **values)
    return apps


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
