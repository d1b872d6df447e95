"""Sign saved webhook payloads and post them to a running service, as GitHub would."""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from pathlib import Path

from orchestrator.cli.arguments import existing_path, http_url

_EVENT = re.compile(r"^[a-z][a-z_]{0,63}$")


def event_name(value: str) -> str:
    """A GitHub event name as X-GitHub-Event carries it: `workflow_run`, `push`."""
    if not _EVENT.match(value):
        raise argparse.ArgumentTypeError(
            f"wants a GitHub event name like workflow_run or push, got {value!r}"
        )
    return value


def secret_text(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("is empty; leave it out to use the service's secret")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path", type=existing_path, help="a .json payload or fixture, or a directory"
    )
    parser.add_argument(
        "--event", type=event_name, help="X-GitHub-Event to send (default: from the file)"
    )
    parser.add_argument(
        "--url",
        type=http_url,
        help="the service's base URL (default: the dev server running for this checkout, "
        "else http://127.0.0.1:8000)",
    )
    parser.add_argument(
        "--secret",
        type=secret_text,
        help="webhook secret (default: the service's configured or dev secret)",
    )
    parser.add_argument(
        "--keep-delivery-ids",
        action="store_true",
        help="reuse recorded X-GitHub-Delivery ids (the service will answer "
        "duplicate for ones it has seen)",
    )


def _secret(args: argparse.Namespace) -> str | None:
    if args.secret:
        return str(args.secret)
    from orchestrator.config import load_settings

    secrets = load_settings().github_webhook_secret
    return secrets[0].get_secret_value() if secrets else None


def _url(args: argparse.Namespace) -> str:
    from orchestrator.config import load_settings
    from orchestrator.devtools.dev_server import server_url

    return server_url(load_settings().data_dir, args.url)


def run(args: argparse.Namespace) -> int:
    import httpx

    from orchestrator.config import load_settings
    from orchestrator.devtools.saved_deliveries import FixtureError, load_fixtures
    from orchestrator.github.verify import sign

    try:
        deliveries = load_fixtures(args.path, args.event, private=load_settings().data_dir)
    except FixtureError as exc:
        print(f"orchestrator: {exc}", file=sys.stderr)
        return 2
    secret = _secret(args)
    url = _url(args)
    if secret is None:
        print("orchestrator: no webhook secret; pass --secret", file=sys.stderr)
        return 2
    failures = 0
    with httpx.Client(timeout=30) as client:
        for saved in deliveries:
            body = json.dumps(saved.payload, separators=(",", ":")).encode()
            delivery = (
                saved.delivery if args.keep_delivery_ids and saved.delivery else str(uuid.uuid4())
            )
            headers = {
                "content-type": "application/json",
                "x-github-event": saved.event,
                "x-github-delivery": delivery,
                "x-hub-signature-256": sign(secret, body),
                "user-agent": "GitHub-Hookshot/orchestrator-replay",
            }
            try:
                response = client.post(url + "/github", content=body, headers=headers)
            except httpx.TransportError as exc:
                # Nothing is listening (or answering): every other delivery would fail the
                # same way, so say it once.
                print(
                    f"orchestrator: could not reach {url} ({type(exc).__name__}). "
                    "Is `make run` running?",
                    file=sys.stderr,
                )
                return 1
            except httpx.HTTPError as exc:
                print(f"✗ {saved.source}: {exc}", file=sys.stderr)
                failures += 1
                continue
            mark = "✓" if response.is_success else "✗"
            failures += not response.is_success
            action = saved.payload.get("action")
            label = f"{saved.event}.{action}" if isinstance(action, str) else saved.event
            print(
                f"{mark} {label} ({Path(saved.source).name}) → {response.status_code} "
                f"{response.text[:120]}"
            )
    return 1 if failures else 0
