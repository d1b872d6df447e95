"""Run the Discord portal's endpoint check against a deployment; exit 1 if it would fail."""

from __future__ import annotations

import argparse
import os
import sys

from orchestrator.cli.arguments import hex_key, http_url, seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        required=True,
        type=http_url,
        help="the service base URL or its /discord endpoint",
    )
    parser.add_argument(
        "--private-key",
        metavar="HEX",
        type=hex_key,
        default=os.environ.get("DISCORD_CHECK_PRIVATE_KEY") or None,
        help="Ed25519 seed matching the service's DISCORD_PUBLIC_KEY, to also "
        "check a signed PING (default: $DISCORD_CHECK_PRIVATE_KEY, or the dev "
        "key for a local service)",
    )
    parser.add_argument(
        "--timeout",
        type=seconds(0, allow_minimum=False),
        default=10.0,
        help="seconds per request (default 10)",
    )


def endpoint(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/discord") else url + "/discord"


def local_dev_key(url: str) -> str | None:
    """The dev key, when the target is this machine (where `make run` uses it)."""
    from urllib.parse import urlsplit

    if urlsplit(url).hostname not in {"127.0.0.1", "localhost", "::1"}:
        return None
    from orchestrator.config import Settings
    from orchestrator.devkeys import DEV_IDENTITY_FILE, load_or_create_dev_identity

    settings = Settings()
    if not (settings.data_dir / DEV_IDENTITY_FILE).exists():
        return None
    return load_or_create_dev_identity(settings.data_dir).discord_private_key


def run(args: argparse.Namespace) -> int:
    import httpx

    from orchestrator.discord.handshake import run_handshake

    url = endpoint(args.url)
    key = args.private_key or local_dev_key(url)
    with httpx.Client(timeout=args.timeout) as client:
        results = run_handshake(client, url, key)
    if all(r.detail.startswith("request failed") for r in results):
        # Nothing answered: one line saying so beats a list of the same failure.
        print(f"orchestrator: could not reach {url} ({results[0].detail})", file=sys.stderr)
        return 1
    for result in results:
        print(f"{'✓' if result.ok else '✗'} {result.name} ({result.detail})")
    if key is None:
        print("(no private key: the signed-PING check was skipped; pass --private-key)")
    failed = [r for r in results if not r.ok]
    if failed:
        print(
            f"orchestrator: {len(failed)} check(s) failed: Discord's portal would reject {url}",
            file=sys.stderr,
        )
        return 1
    return 0
