"""The post-deploy gate: is the code the pipeline just deployed the code that is answering?

Checks, retrying for a bounded time (a new Lambda version can take a moment to
take all traffic): `/version` reports the expected commit, `/healthz` is 200,
and `/discord` answers the developer portal's handshake (unsigned and forged
requests get 401; with a key, a signed PING gets PONG). Exit 0 only when all
pass in the same round; the CI job fails otherwise, instead of reporting a
green deploy of stale code.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from orchestrator.cli.arguments import commit_sha, hex_key, http_url, seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", required=True, type=http_url, help="the deployment's base URL")
    parser.add_argument(
        "--expect-sha",
        required=True,
        type=commit_sha,
        help="the commit that must be running (7-40 hex characters)",
    )
    parser.add_argument(
        "--timeout",
        type=seconds(0),
        default=60.0,
        help="keep retrying this many seconds (default 60)",
    )
    parser.add_argument(
        "--interval",
        type=seconds(0, allow_minimum=False),
        default=5.0,
        help="seconds between rounds (default 5)",
    )
    parser.add_argument(
        "--private-key",
        metavar="HEX",
        type=hex_key,
        default=os.environ.get("DISCORD_CHECK_PRIVATE_KEY") or None,
        help="Ed25519 seed matching DISCORD_PUBLIC_KEY, to also check a signed "
        "PING (default: $DISCORD_CHECK_PRIVATE_KEY)",
    )


def sha_matches(running: Any, expected: str) -> bool:
    """Full SHAs must be equal; a short expected SHA (7+ chars) may prefix the running one."""
    hexdigits = set("0123456789abcdefABCDEF")
    if not isinstance(running, str) or len(expected) < 7 or not hexdigits.issuperset(expected):
        return False
    running, expected = running.lower(), expected.lower()
    return running == expected or (len(expected) < 40 and running.startswith(expected))


def check_round(client: Any, base: str, expect_sha: str, private_key: str | None) -> list[str]:
    """One round of checks; the problems found (empty when the deployment is right)."""
    import httpx

    from orchestrator.discord.handshake import run_handshake

    problems = []
    try:
        version = client.get(base + "/version")
        body = version.json() if version.status_code == 200 else {}
        running = body.get("sha") if isinstance(body, dict) else None
        if version.status_code != 200:
            problems.append(f"/version answered {version.status_code}")
        elif not sha_matches(running, expect_sha):
            problems.append(f"/version reports {running!r}, expected {expect_sha}")
    except (httpx.HTTPError, ValueError) as exc:
        problems.append(f"/version: {type(exc).__name__}")
    try:
        health = client.get(base + "/healthz")
        if health.status_code != 200:
            problems.append(f"/healthz answered {health.status_code}")
    except httpx.HTTPError as exc:
        problems.append(f"/healthz: {type(exc).__name__}")
    for result in run_handshake(client, base + "/discord", private_key):
        if not result.ok:
            problems.append(f"/discord: {result.name}: {result.detail}")
    return problems


def run(args: argparse.Namespace) -> int:
    import httpx

    base = args.url.rstrip("/")
    deadline = time.monotonic() + max(0.0, args.timeout)
    attempt = 0
    with httpx.Client(timeout=10.0, follow_redirects=False) as client:
        while True:
            attempt += 1
            problems = check_round(client, base, args.expect_sha, args.private_key)
            if not problems:
                print(
                    f"✓ {base} runs {args.expect_sha[:12]}, is healthy and passes the "
                    f"Discord handshake (round {attempt})"
                )
                return 0
            print(f"round {attempt}: " + "; ".join(problems))
            if time.monotonic() + args.interval > deadline:
                print(
                    f"orchestrator: ✗ {base} is not serving {args.expect_sha[:12]} correctly after "
                    f"{args.timeout:.0f}s",
                    file=sys.stderr,
                )
                return 1
            time.sleep(args.interval)
