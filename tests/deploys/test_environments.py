"""Environments per app: reading them from the config file, validating them with the app, and
the effective settings of one environment (the environment's value over the app's)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from orchestrator.apps import App, InvalidApp, load_apps
from orchestrator.deploys.environments import (
    DEFAULT,
    Environment,
    environments_of,
    primary,
    target,
    targets,
)
from orchestrator.store.sqlite import SQLiteStore

CONFIG = """
[[apps]]
name = "web"
repo = "acme/web"
workflow = "deploy.yml"
frontend_url = "https://web.example.com"
deploy_inputs = { region = "eu", stage = "prod" }
channel_id = "100"

[apps.environments.staging]
branch = "develop"
frontend_url = "https://STAGING.web.example.com"
deploy_inputs = { stage = "staging" }
channel_id = "200"

[apps.environments.production]
approvals = 1
auto_rollback = true
queue = "refuse"
required_contexts = ["ci/test"]

[[apps]]
name = "api"
repo = "acme/api"
workflow = "deploy.yml"
"""


BARE = """
[[apps]]
name = "web"
repo = "acme/web"
workflow = "deploy.yml"

[apps.environments.production]
{table}
"""


def app_from(text: str, *, production: bool = True) -> dict[str, App]:
    apps = {}
    for data in tomllib.loads(text)["apps"]:
        app = App.from_dict(data).validate(production=production)
        apps[app.name] = app
    return apps


def test_an_environment_sets_its_own_values_and_keeps_the_apps_others() -> None:
    web = app_from(CONFIG)["web"]
    staging = target(web, "staging")
    assert staging.app.branch == "develop"
    assert staging.app.frontend_url == "https://staging.web.example.com"  # normal form
    assert staging.app.channel_id == "200"
    assert staging.app.deploy_inputs == {"region": "eu", "stage": "staging"}, "inputs merge"
    assert staging.app.workflow == "deploy.yml" and staging.app.repo == "acme/web"
    production = target(web, "production")
    assert production.app.branch == "main" and production.app.channel_id == "100"
    assert production.app.deploy_inputs == {"region": "eu", "stage": "prod"}
    assert production.label == "web/production"


def test_an_environments_own_settings_and_their_defaults() -> None:
    found = environments_of(app_from(CONFIG)["web"])
    assert list(found) == ["staging", "production"], "in the file's order"
    assert found["production"] == Environment(
        "production",
        approvals=1,
        auto_rollback=True,
        queue="refuse",
        required_contexts=("ci/test",),
        production_environment=True,
    )
    staging = found["staging"]
    assert (staging.approvals, staging.auto_rollback, staging.queue) == (0, False, "queue")
    assert staging.approval_ttl == 30 * 60, "a request waits 30 min by default"
    assert (staging.production_environment, staging.transient_environment) == (False, False)


def test_an_app_without_environments_has_the_implicit_default() -> None:
    api = app_from(CONFIG)["api"]
    [only] = environments_of(api).values()
    assert (only.name, only.implicit, only.production_environment) == (DEFAULT, True, True)
    assert target(api, None).app == api, "deploys exactly as before"
    assert target(api, "default").label == "api"
    with pytest.raises(InvalidApp, match="no environment 'production'"):
        target(api, "production")


def test_choosing_an_environment() -> None:
    web = app_from(CONFIG)["web"]
    with pytest.raises(InvalidApp, match=r"which environment of web\? \(staging, production\)"):
        target(web, None)
    assert [t.environment.name for t in targets(web, "*")] == ["staging", "production"]
    assert [t.environment.name for t in targets(web, "staging")] == ["staging"]
    assert primary(web).environment.name == "production"
    last = app_from(CONFIG.replace("production]", "qa]").replace("approvals = 1\n", ""))["web"]
    assert primary(last).environment.name == "qa", "no production: the last one declared"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("approvals = -1", r"environments\.production\.approvals: a whole number 0-10"),
        ("approvals = true", r"environments\.production\.approvals"),
        ('approvals = "two"', r"environments\.production\.approvals"),
        ('queue = "later"', r'environments\.production\.queue: "queue" or "refuse"'),
        ('auto_rollback = "yes"', r"environments\.production\.auto_rollback: true or false"),
        ('required_contexts = "ci"', r"environments\.production\.required_contexts"),
        ("transient_environment = 1", r"environments\.production\.transient_environment"),
        ("colour = 1", r"environments\.production: unknown keys colour"),
        ('approval_ttl = "soon"', r"environments\.production\.approval_ttl: 'soon' is not a"),
        ('approval_ttl = "10s"', r"environments\.production\.approval_ttl: .*from 1min to 7d"),
        ('approval_ttl = "8d"', r"environments\.production\.approval_ttl: .*from 1min to 7d"),
        ("approval_ttl = 30", r"environments\.production\.approval_ttl: .*from 1min to 7d"),
    ],
)
def test_an_environments_own_settings_are_validated_naming_the_field(
    table: str, message: str
) -> None:
    web = app_from(BARE.format(table=table))["web"]
    with pytest.raises(InvalidApp, match=message):
        environments_of(web)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            'frontend_url = "http://web.example.com"',
            r"environments\.production\.frontend_url: .*https",
        ),
        (
            'version_url = "https://10.0.0.1/v"',
            r"environments\.production\.version_url: .*not a public",
        ),
        ('channel_id = "#general"', r"environments\.production\.channel_id"),
        ('frontend_version_pattern = "("', r"environments\.production\.frontend_version_pattern"),
        ('workflow = ""', r"environments\.production\.workflow: required"),
        # An environment's inputs are checked with the app's own, when the config is loaded.
        ("deploy_inputs = { n = 1 }", r"environments\.production\.deploy_inputs"),
    ],
)
def test_an_environments_app_settings_are_validated_with_the_app(table: str, message: str) -> None:
    with pytest.raises(InvalidApp, match=message):
        app_from(BARE.format(table=table))


def test_environment_urls_follow_the_apps_address_policy_per_mode() -> None:
    local = BARE.format(table='frontend_url = "http://127.0.0.1:8080"')
    web = app_from(local, production=False)["web"]
    assert target(web, "production").app.frontend_url == "http://127.0.0.1:8080"
    with pytest.raises(InvalidApp, match="production"):
        app_from(local, production=True)


@pytest.mark.parametrize(
    "environments",
    [
        {"Prod": {}},
        {"prod": "yes"},
        {"a:b": {}},
        ["production"],
    ],
)
def test_environment_tables_must_be_named_tables(environments: Any) -> None:
    data = {"name": "web", "repo": "a/b", "workflow": "d.yml", "environments": environments}
    with pytest.raises(InvalidApp, match="environments"):
        App.from_dict(data).validate(production=True)


def test_load_apps_reads_environments_from_the_file(tmp_path: Path) -> None:
    config = tmp_path / "orchestrator.toml"
    config.write_text(CONFIG)
    store = SQLiteStore(tmp_path / "store.db")
    try:
        apps = load_apps(config, store, production=True)
    finally:
        store.close()
    assert list(environments_of(apps["web"])) == ["staging", "production"]


def test_an_approval_ttl_is_a_duration() -> None:
    web = app_from(BARE.format(table='approval_ttl = "2h"'))["web"]
    assert environments_of(web)["production"].approval_ttl == 7200.0
