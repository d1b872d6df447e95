"""The orchestrator checking itself, for `/diagnose`: is every part of me working?

Each check answers (name, ok, detail). Details say *whether* a secret is set,
never its value, and failures say what to fix. Checks run concurrently and
each is bounded, so a dead dependency cannot eat the whole deferred budget.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from orchestrator.buildinfo import build_info
from orchestrator.text import duration

if TYPE_CHECKING:
    from orchestrator.clients import Clients

CHECK_TIMEOUT = 5.0
Result = tuple[str, bool, str]


def settings_presence(services: Clients) -> Result:
    settings = services.settings
    present = {
        "DISCORD_PUBLIC_KEY": bool(settings.discord_public_key),
        "DISCORD_APPLICATION_ID": bool(settings.discord_application_id),
        "DISCORD_BOT_TOKEN": settings.discord_bot_token is not None,
        "GITHUB credentials": settings.has_github_credentials,
        "GITHUB_WEBHOOK_SECRET": bool(settings.github_webhook_secret),
    }
    missing = [name for name, ok in present.items() if not ok]
    detail = " ".join(f"{'✓' if ok else '✗'}{name}" for name, ok in present.items())
    return "Settings", not missing, detail


async def _discord_token(services: Clients) -> Result:
    from orchestrator.discord.errors import DiscordError

    async with services.discord_rest() as discord:
        try:
            me = await discord.get_current_user()
        except DiscordError as exc:
            return "Discord token", False, str(exc)[:200]
    return "Discord token", True, f"valid, I am {me.get('username', '?')}"


async def _github_token(services: Clients) -> Result:
    from orchestrator.github.errors import GitHubError

    try:
        async with services.github() as github:
            await github.rate_limit()
            remaining = github.last_rate_limit
    except GitHubError as exc:
        return "GitHub token", False, str(exc)[:200]
    return "GitHub token", True, remaining.describe() if remaining else "valid"


async def _store(services: Clients) -> Result:
    from orchestrator.store.base import StoreUnavailable

    try:
        await asyncio.to_thread(services.store.ping)
    except StoreUnavailable as exc:
        return "Store", False, str(exc)[:200]
    return "Store", True, f"{services.settings.store.value} reachable"


async def _commands(services: Clients, wanted: list[dict[str, Any]]) -> Result:
    from orchestrator.discord.errors import DiscordError
    from orchestrator.discord.sync import diff

    async with services.discord_rest() as discord:
        try:
            registered = await discord.get_global_commands()
        except DiscordError as exc:
            return "Commands", False, str(exc)[:200]
    changes = diff(wanted, registered)
    if changes.in_sync:
        return "Commands", True, f"{len(registered)} registered, in sync"
    return (
        "Commands",
        False,
        "out of sync (run `orchestrator sync-commands`): " + ", ".join(changes.lines()[:5]),
    )


async def _own_sha(services: Clients) -> Result:
    from orchestrator.github.errors import GitHubError

    info = build_info()
    repo, branch = services.settings.orchestrator_repo, services.settings.orchestrator_branch
    if not repo:
        return (
            "My version",
            True,
            f"running `{info.sha[:12]}` (set ORCHESTRATOR_REPO to compare with the branch head)",
        )
    try:
        async with services.github() as github:
            head = await github.get_branch_head(repo, branch)
    except GitHubError as exc:
        return "My version", False, f"running `{info.sha[:12]}`; branch head unknown: {exc}"
    if head == info.sha:
        return "My version", True, f"running `{info.sha[:12]}` = {branch} head"
    return "My version", False, f"running `{info.sha[:12]}` but {branch} is at `{head[:12]}`"


async def _bounded(name: str, check: Callable[[], Awaitable[Result]]) -> Result:
    try:
        return await asyncio.wait_for(check(), CHECK_TIMEOUT)
    except TimeoutError:
        return name, False, f"no answer within {duration(CHECK_TIMEOUT)}"
    except Exception as exc:
        return name, False, f"{type(exc).__name__}: {exc}"[:200]


async def self_check(services: Clients, commands: list[dict[str, Any]]) -> list[Result]:
    """Every check, concurrently; `commands` is the registration the bot should have."""
    checks = [
        ("Discord token", lambda: _discord_token(services)),
        ("GitHub token", lambda: _github_token(services)),
        ("Store", lambda: _store(services)),
        ("Commands", lambda: _commands(services, commands)),
        ("My version", lambda: _own_sha(services)),
    ]
    results = await asyncio.gather(*[_bounded(name, check) for name, check in checks])
    return [settings_presence(services), *results]
