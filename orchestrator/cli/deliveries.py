"""Find webhook deliveries that failed and ask GitHub to redeliver them.

    orchestrator deliveries list --repo acme/web --hook-id 123 --since 6h
    orchestrator deliveries redeliver --repo acme/web --hook-id 123 --since 6h

Without --repo/--org the GitHub App's own webhook is used (App credentials).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import UTC, datetime

from orchestrator.cli.arguments import duration, organisation, repository, whole


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # String defaults from the environment pass through `type` too: a bad $GITHUB_HOOK_ID
    # is refused like a bad --hook-id.
    parser.add_argument("action", choices=["list", "redeliver"])
    parser.add_argument(
        "--repo",
        type=repository,
        default=os.environ.get("GITHUB_HOOK_REPO") or None,
        help="owner/name of a repository webhook ($GITHUB_HOOK_REPO)",
    )
    parser.add_argument(
        "--org",
        type=organisation,
        default=os.environ.get("GITHUB_HOOK_ORG") or None,
        help="organisation of an org webhook ($GITHUB_HOOK_ORG)",
    )
    parser.add_argument(
        "--hook-id",
        type=whole(1),
        default=os.environ.get("GITHUB_HOOK_ID") or None,
        help="the webhook's id ($GITHUB_HOOK_ID)",
    )
    parser.add_argument(
        "--since",
        type=duration,
        default="24h",
        help="look back this far: 30m, 6h, 2d (default 24h)",
    )
    parser.add_argument(
        "--max-pages", type=whole(1, 50), default=5, help="log pages to read (100 each, 1-50)"
    )
    parser.add_argument("--dry-run", action="store_true", help="with redeliver: only show")


def hook_problem(args: argparse.Namespace, has_github_app: bool) -> str | None:
    """Why these flags cannot name a webhook (None when they can), in the flags' words."""
    if args.repo and args.org:
        return "give --repo or --org, not both"
    if (args.repo or args.org) and args.hook_id is None:
        return "--hook-id is required with --repo or --org"
    if args.hook_id is not None and not (args.repo or args.org):
        return "--hook-id needs --repo or --org (the GitHub App's own webhook has no id)"
    if not (args.repo or args.org) and not has_github_app:
        return (
            "without --repo or --org this reads the GitHub App's own webhook, which needs "
            "GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY and GITHUB_APP_INSTALLATION_ID; or pass "
            "--repo (or --org) and --hook-id"
        )
    return None


async def _run(args: argparse.Namespace) -> int:
    from orchestrator.config import load_settings
    from orchestrator.github.deliveries import failed_deliveries, parse_since
    from orchestrator.github.errors import GitHubError
    from orchestrator.services import Services

    settings = load_settings()
    problem = hook_problem(args, settings.has_github_app)
    if problem is not None:
        print(f"orchestrator: {problem}", file=sys.stderr)
        return 2
    since = time.time() - parse_since(args.since)
    services = Services(settings)
    where = {"repo": args.repo, "org": args.org, "hook_id": args.hook_id}
    try:
        async with services.github() as github:
            log = await github.list_hook_deliveries(**where, max_pages=args.max_pages)
            failed = failed_deliveries(log, since)
            if not failed:
                print(f"no failed deliveries in the last {args.since} ({len(log)} checked) 🎉")
                return 0
            for item in failed:
                when = datetime.fromtimestamp(item.delivered_at, UTC).strftime("%Y-%m-%d %H:%M")
                label = f"{item.event}.{item.action}" if item.action else item.event
                print(
                    f"{when}Z  {item.guid}  {label:<28} {item.status} "
                    f"({item.attempts} attempt{'s' if item.attempts > 1 else ''})"
                )
            if args.action == "list" or args.dry_run:
                return 0
            done = 0
            for item in failed:
                await github.redeliver(**where, delivery_id=item.id)
                done += 1
            print(f"asked GitHub to redeliver {done} deliver{'y' if done == 1 else 'ies'}")
            return 0
    except GitHubError as exc:
        print(f"orchestrator: {exc}", file=sys.stderr)
        # Our missing configuration (no token) is bad input to fix, not GitHub failing.
        return 2 if exc.upstream is None else 1


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))
