"""The demo app: what a newcomer deploys locally before configuring anything.

`orchestrator serve` in dev, with no `orchestrator.toml`, writes this config into the
data dir and points `ORCHESTRATOR_CONFIG` at it, so the app list has `demo`
(`local/demo` on the GitHub stand-in, its live site served by the stand-in too) and
`make run` then `orchestrator simulate "/deploy app:demo env:staging"` shows the whole
live message. Its `production` environment needs one approval, so
`orchestrator simulate "/deploy app:demo env:production"` shows an approval request. A
deploy with `inputs:stale=true` succeeds but leaves the live site as it was
(`github_world.STALE_INPUT`), so its verification fails: `staging` (`auto_rollback = true`)
then rolls back to the last verified commit by itself, `production` offers Roll back. It
lives here, with the stand-ins, because nothing below the dev tools may know about it:
production never sees a demo, and the config layer only reads a file.
"""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.devtools.github_world import BRANCH, CORRELATION_INPUT, REPO
from orchestrator.devtools.simulate import DEV_CHANNEL_ID

DEMO_APP = "demo"
DEMO_CONFIG_FILE = "demo.toml"
VERSION_PATTERN = 'app-version" content="([0-9a-f]{40})"'


def demo_config(site_url: str, channel_id: str = DEV_CHANNEL_ID) -> str:
    """The `[[apps]]` entry for the demo (and a subscription that keeps a card per commit, its
    finished runs and Deployment statuses, in the simulator's channel), as TOML. `site_url` is
    the stand-in's live page, ending in `/`."""

    def value(text: str) -> str:
        return json.dumps(text)  # a JSON string is a TOML basic string

    return "\n".join(
        [
            "# Written by `orchestrator serve` (dev mode, no orchestrator.toml): the demo app,",
            "# deployed through the local GitHub stand-in. Removed when the server stops.",
            "",
            "[[apps]]",
            f"name = {value(DEMO_APP)}",
            f"repo = {value(REPO)}",
            'workflow = "deploy.yml"',
            f"branch = {value(BRANCH)}",
            f"frontend_url = {value(site_url)}",
            f"api_health_url = {value(site_url + 'healthz')}",
            f"version_url = {value(site_url + 'version')}",
            'version_field = "sha"',
            f"frontend_version_pattern = {value(VERSION_PATTERN)}",
            'diagnose_workflow = "diagnose.yml"',
            'triage_workflow = "triage.yml"',
            'promote_workflow = "promote.yml"',
            'rollback_workflow = "rollback.yml"',
            f"correlation_input = {value(CORRELATION_INPUT)}",
            f"channel_id = {value(channel_id)}",
            "",
            "# Both verify against the stand-in's live site; production needs one approval",
            "# (by someone else than whoever asked: `orchestrator simulate --user ...`).",
            "# Staging rolls itself back when a deploy's verification fails (try",
            "# `inputs:stale=true`: the run succeeds, the site keeps its old version);",
            "# production offers a Roll back button instead.",
            "[apps.environments.staging]",
            "auto_rollback = true",
            "",
            "[apps.environments.production]",
            "approvals = 1",
            "",
            "# A card per commit: its workflow runs, and the Deployments the bot records on",
            "# GitHub (green only once verified: a deploy that fails verification says so).",
            "[[notify]]",
            f"repo = {value(REPO)}",
            f"channel_id = {value(channel_id)}",
            'events = ["workflow_run.completed", "deployment_status"]',
            "",
        ]
    )


def write_demo_config(data_dir: Path, site_url: str) -> Path:
    path = data_dir / DEMO_CONFIG_FILE
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.write_text(demo_config(site_url), encoding="utf-8")
    return path
