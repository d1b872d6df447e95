"""Catch up on lost GitHub webhooks once, now (the reconcile schedule does it every 5 min).

    orchestrator reconcile
    orchestrator reconcile --json

Every tracked deploy still unfinished, whatever its age, is looked up in GitHub and moved
on as its missing webhook would have (message edited, verified, environment freed); the
failed deliveries of the configured webhook (GITHUB_HOOK_REPO or GITHUB_HOOK_ORG with
GITHUB_HOOK_ID, else the GitHub App's own) within GitHub's 3 days are redelivered, once
each. Runs against the store and APIs the service uses (in dev, with `make run` going: its
GitHub and Discord stand-ins); `/diagnose` shows the last sweep.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print what the sweep did as JSON")


async def _run(args: argparse.Namespace) -> int:
    from orchestrator.config import load_settings
    from orchestrator.deploys.reconcile import summary_lines, sweep
    from orchestrator.devtools.dev_server import alongside
    from orchestrator.github.deliveries import HookMisconfigured, configured_hook
    from orchestrator.github.errors import GitHubError
    from orchestrator.services import Services

    settings = alongside(load_settings())  # in dev: the running dev server's stand-ins
    try:
        configured_hook(
            settings.github_hook_repo,
            settings.github_hook_org,
            settings.github_hook_id,
            settings.has_github_app,
        )
    except HookMisconfigured as exc:
        print(f"orchestrator: {exc}", file=sys.stderr)
        return 2
    services = Services(settings)
    try:
        done = await sweep(services, by_hand=True)
    except GitHubError as exc:  # no credentials: bad input to fix; GitHub failing: 1
        print(f"orchestrator: {exc}", file=sys.stderr)
        return 2 if exc.upstream is None else 1
    finally:
        services.close()
    record = done.to_record()
    if args.json:
        print(json.dumps(record, indent=2, sort_keys=True))
    else:
        for line in done.runs.lines:
            print(f"moved on: {line}")
        for line in summary_lines(record):
            print(line)
        if (
            not done.problems
            and not done.runs.moved
            and not (done.deliveries or {}).get("redelivered")
        ):
            print("nothing was lost, nothing to do 🎉")
    for problem in done.problems:
        print(f"orchestrator: {problem}", file=sys.stderr)
    return 1 if done.problems else 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))
