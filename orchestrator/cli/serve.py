"""Run the service locally with uvicorn, on the embedded defaults unless configured otherwise.

Limits, so strangers cannot hold memory or connections: at most --limit-concurrency
connections and requests at once (more get 503); a connection has --header-timeout seconds
to send a complete request head and an idle keep-alive one is closed after
--keep-alive-timeout; /discord and /github bodies must arrive within
ORCHESTRATOR_BODY_TIMEOUT (else 408), and the bodies being read share
ORCHESTRATOR_BODY_BUDGET_BYTES (past it 503 with Retry-After). Each flag defaults to its
ORCHESTRATOR_* setting (`orchestrator config` shows them).
"""

from __future__ import annotations

import argparse
import functools
import sys
from typing import Any

from orchestrator.config import Settings, load_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--reload", action="store_true", help="restart on code changes")
    # Defaults are None, read from settings in `run`: building the parser loads no settings.
    parser.add_argument(
        "--limit-concurrency",
        type=int,
        metavar="N",
        help="connections plus requests in progress before new requests get 503 "
        "(default: ORCHESTRATOR_LIMIT_CONCURRENCY, 100)",
    )
    parser.add_argument(
        "--keep-alive-timeout",
        type=int,
        metavar="SECONDS",
        help="close an idle keep-alive connection after this long "
        "(default: ORCHESTRATOR_KEEP_ALIVE_TIMEOUT, 5)",
    )
    parser.add_argument(
        "--header-timeout",
        type=float,
        metavar="SECONDS",
        help="close a connection that has not sent a complete request head this long after "
        "connecting or after its previous answer (default: ORCHESTRATOR_HEADER_TIMEOUT, 10)",
    )


def banner(settings: Settings, base: str) -> str:
    lines = [
        f"orchestrator ({settings.env.value}) on {base}",
        f"  docs     {base}/docs",
        f"  discord  {base}/discord",
        f"  github   {base}/github",
        f"  store    {settings.store.value}"
        + (f" ({settings.sqlite_file})" if settings.store.value == "sqlite" else ""),
    ]
    if not settings.is_prod:
        from orchestrator.devkeys import load_or_create_dev_identity

        identity = load_or_create_dev_identity(settings.data_dir)
        if settings.discord_public_key == identity.discord_public_key:
            lines.append(f"  dev public key  {identity.discord_public_key}")
            lines.append("  try it: orchestrator simulate /ping")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        import uvicorn
    except ImportError:
        print(
            "orchestrator: uvicorn is not installed (pip install 'orchestrator[serve]')",
            file=sys.stderr,
        )
        return 2
    print(banner(settings, f"http://{args.host}:{args.port}"), flush=True)
    uvicorn.run(
        "orchestrator.main:app",
        host=args.host,
        port=args.port,
        reload=args.reload,
        log_level=settings.log_level.lower(),
        log_config=None,  # the app logs JSON lines through the root logger
        access_log=False,  # and writes its own access line per request, with ids
        **connection_limits(settings, args),
    )
    return 0


def connection_limits(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """uvicorn's options bounding what connections may hold: flags win over settings."""
    from orchestrator.cli.uvicorn_protocol import HeadDeadlineProtocol

    def chosen(flag: str, setting: str) -> Any:
        value = getattr(args, flag, None)
        return getattr(settings, setting) if value is None else value

    # uvicorn calls `http` like the protocol class; a partial of a module-level class still
    # pickles, which `--reload` needs to hand the config to its worker process.
    protocol: Any = functools.partial(
        HeadDeadlineProtocol, head_timeout=chosen("header_timeout", "header_timeout")
    )
    return {
        "http": protocol,
        "limit_concurrency": chosen("limit_concurrency", "limit_concurrency"),
        "timeout_keep_alive": chosen("keep_alive_timeout", "keep_alive_timeout"),
    }
