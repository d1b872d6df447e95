"""The runtime plus the two API clients: what features that talk to Discord or GitHub need.

Sits beside the protocol cores (`discord/`, `github/`) because it names their
clients; the domain and the adapters annotate against it instead of the whole
`Services` container, so they never import the composition root.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from orchestrator.runtime import Runtime

if TYPE_CHECKING:
    from orchestrator.discord.rest import DiscordREST
    from orchestrator.github.client import GitHubClient


class Clients(Runtime, Protocol):
    """`Runtime`, and a fresh client for each API (use each as `async with`)."""

    def discord_rest(self) -> DiscordREST:
        """A new Discord REST client (one per job: event loops differ)."""
        ...

    def github(self) -> GitHubClient:
        """A new GitHub client; raises `GitHubNotConfigured` without credentials."""
        ...
