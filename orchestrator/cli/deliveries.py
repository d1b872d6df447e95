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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list", "redeliver"])
    parser.add_argument(
        "--repo",
        default=os.environ.get("GITHUB_HOOK_REPO"),
        help="owner/name of a repository webhook ($GITHUB_HOOK_REPO)",
    )
    parser.add_argument(
        "--org",
        default=os.environ.get("GITHUB_HOOK_ORG"),
        help="organisation of an org webhook ($GITHUB_HOOK_ORG)",
    )
    parser.add_argument(
        "--hook-id",
        type=int,
        default=int(os.environ["GITHUB_HOOK_ID"])
        if os.environ.get("GITHUB_HOOK_ID", "").isascii()
        and os.environ.get("GITHUB_HOOK_ID", "").isdigit()
        else None,
        help="the webhook's id ($GITHUB_HOOK_ID)",
    )
    parser.add_argument("--since", default="24h", help="look back this far (default 24h)")
    parser.add_argument("--max-pages", type=int, default=5, help="log pages to read (100 each)")
    parser.add_argument("--dry-run", action="store_true", help="with redeliver: only show")


async def _run(args: argparse.Namespace) -> int:
    from orchestrator.config import load_settings
    from orchestrator.github.deliveries import failed_deliveries, parse_since
    from orchestrator.github.errors import GitHubError
    from orchestrator.services import Services

    since = time.time() - parse_since(args.since)
    services = Services(load_settings())
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
    except (GitHubError, ValueError) as exc:
        print(f"orchestrator: {exc}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))
