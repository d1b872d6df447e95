"""A world for deploy commands: the real services against the local fakes (a `Site` for
the app, `FakeGitHub`, the Discord stand-in) and a config file the tests rewrite.

`deploy_world` builds it; the approvals and deploy-safety suites each subclass
`DeployWorld` with the steps they take (run a command, press a button, read what was sent).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from orchestrator.config import Settings, load_settings
from orchestrator.devtools.discord_standin import DiscordStandIn
from orchestrator.services import Services
from tests.support.commands import ADMIN
from tests.support.fake_github import FakeGitHub, Recorded
from tests.support.sites import Site

W = TypeVar("W", bound="DeployWorld")


@dataclass
class DeployWorld:
    services: Services
    discord: DiscordStandIn
    github: FakeGitHub
    site: Site
    config: Path

    def rewrite(self, text: str) -> None:
        """Replace the config file (read per command); its mtime must move for the cache."""
        before = self.config.stat().st_mtime_ns
        self.config.write_text(text)
        if self.config.stat().st_mtime_ns == before:
            os.utime(self.config, ns=(before + 1_000_000, before + 1_000_000))


def numbered_runs(github: FakeGitHub, path: str, first: int) -> None:
    """Each dispatch to `path` starts a run of its own, `first`, `first + 1`, ... (GitHub
    answers a dispatch with the run's id)."""
    ids = itertools.count(first)
    repo = path.split("/")[2] + "/" + path.split("/")[3]

    def respond(_: Recorded) -> tuple[int, Any, dict[str, str]]:
        run_id = next(ids)
        url = f"https://github.com/{repo}/actions/runs/{run_id}"
        return 200, {"workflow_run_id": run_id, "run_url": url, "html_url": url}, {}

    github.respond("POST", path, respond)


def fakes_settings(
    tmp_path: Path, config: Path, discord: DiscordStandIn, github: FakeGitHub, deployers: str
) -> Settings:
    """Settings pointing at the fakes: data in `tmp_path`, apps from `config`, `ADMIN` an
    admin and `deployers` (comma-separated ids) allowed to deploy."""
    return load_settings(
        ORCHESTRATOR_DATA_DIR=tmp_path,
        ORCHESTRATOR_CONFIG=config,
        DISCORD_ADMIN_USER_IDS=ADMIN,
        DISCORD_DEPLOY_USER_IDS=deployers,
        DISCORD_API_BASE=discord.api_base,
        DISCORD_BOT_TOKEN="bot",
        GITHUB_TOKEN="ghp",
        GITHUB_API_BASE=github.url,
    )


@contextmanager
def deploy_world(
    kind: type[W],
    tmp_path: Path,
    config_text: Callable[[Site], str],
    *,
    live_sha: str,
    deployers: str,
) -> Iterator[W]:
    """`kind` over fresh fakes: the site serving `live_sha`, the config `config_text(site)`,
    `ADMIN` an admin and `deployers` (comma-separated ids) allowed to deploy."""
    with Site(sha=live_sha) as site, FakeGitHub() as github, DiscordStandIn() as discord:
        config = tmp_path / "orchestrator.toml"
        config.write_text(config_text(site))
        services = Services(fakes_settings(tmp_path, config, discord, github, deployers))
        try:
            yield kind(services, discord, github, site, config)
        finally:
            services.close()
