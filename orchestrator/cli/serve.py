"""Run the service locally with uvicorn, on the embedded defaults unless configured otherwise.

Limits, so strangers cannot hold memory or connections: at most --limit-concurrency
connections and requests at once (more get 503); a connection has --header-timeout seconds
to send a complete request head and an idle keep-alive one is closed after
--keep-alive-timeout; /discord and /github bodies must arrive within
ORCHESTRATOR_BODY_TIMEOUT (else 408), and the bodies being read share
ORCHESTRATOR_BODY_BUDGET_BYTES (past it 503 with Retry-After). Each flag defaults to its
ORCHESTRATOR_* setting (`orchestrator config` shows them).

In dev it also runs local stand-ins for Discord and GitHub for as long as it runs (and,
without an orchestrator.toml, the demo app `demo` on them), points the app at them unless
DISCORD_API_BASE / GITHUB_API_BASE are set, and records where it listens in the data dir,
so `orchestrator simulate` finds it from any folder of the checkout.
"""

from __future__ import annotations

import argparse
import functools
import os
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orchestrator.cli.arguments import seconds, whole
from orchestrator.config import Env, Settings, load_settings

if TYPE_CHECKING:
    from orchestrator.devtools.dev_server import DevTools


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=whole(0, 65535), default=8000, help="port (default 8000; 0: any free one)"
    )
    parser.add_argument("--reload", action="store_true", help="restart on code changes")
    parser.add_argument(
        "--stand-ins",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the local Discord and GitHub stand-ins (and the demo app) alongside "
        "(default: in dev only)",
    )
    # Defaults are None, read from settings in `run`: building the parser loads no settings.
    parser.add_argument(
        "--limit-concurrency",
        type=whole(1),
        metavar="N",
        help="connections plus requests in progress before new requests get 503 "
        "(default: ORCHESTRATOR_LIMIT_CONCURRENCY, 100)",
    )
    parser.add_argument(
        "--keep-alive-timeout",
        type=whole(1),
        metavar="SECONDS",
        help="close an idle keep-alive connection after this long "
        "(default: ORCHESTRATOR_KEEP_ALIVE_TIMEOUT, 5)",
    )
    parser.add_argument(
        "--header-timeout",
        type=seconds(0, allow_minimum=False),
        metavar="SECONDS",
        help="close a connection that has not sent a complete request head this long after "
        "connecting or after its previous answer (default: ORCHESTRATOR_HEADER_TIMEOUT, 10)",
    )


def banner(settings: Settings, base: str, tools: DevTools | None = None) -> str:
    lines = [
        f"orchestrator ({settings.env.value}) on {base}",
        f"  docs     {base}/docs",
        f"  discord  {base}/discord",
        f"  github   {base}/github",
        f"  store    {settings.store.value}"
        + (f" ({settings.sqlite_file})" if settings.store.value == "sqlite" else ""),
    ]
    if tools is not None:
        lines.extend(tools.banner_lines())
    if not settings.is_prod:
        from orchestrator.devkeys import load_or_create_dev_identity

        identity = load_or_create_dev_identity(settings.data_dir)
        if settings.discord_public_key == identity.discord_public_key:
            lines.append(f"  dev public key  {identity.discord_public_key}")
            lines.append("  try it: orchestrator simulate /ping")
            if tools is not None and tools.demo_config is not None:
                lines.append('          orchestrator simulate "/deploy app:demo env:staging"')
    return "\n".join(lines)


def start_dev_tools(settings: Settings, args: argparse.Namespace) -> DevTools | None:
    """The stand-ins and the demo, when asked for or in dev; None otherwise (never in prod)."""
    wanted = getattr(args, "stand_ins", None)
    if settings.is_prod or wanted is False or (wanted is None and settings.env is not Env.DEV):
        return None
    from orchestrator.devtools.dev_server import DevTools, explicit_settings, local_url

    tools = DevTools(settings, local_url(args.host, args.port), explicit_settings()).start()
    os.environ.update(tools.env)  # read by the app (and a --reload worker) when it starts
    return tools


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
    tools = start_dev_tools(settings, args)
    try:
        if tools is not None:
            _stop_on_sigterm(tools.stop)
            settings = load_settings()  # as the app will see them, stand-ins included
        print(banner(settings, f"http://{args.host}:{args.port}", tools), flush=True)
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
    finally:
        if tools is not None:
            tools.stop()
    return 0


def _stop_on_sigterm(stop: Callable[[], None]) -> None:
    """Run `stop` on SIGTERM, then die of it. uvicorn re-raises the signal once it has shut
    down (an honest exit status), which would end the process before any `finally`."""

    def handler(signum: int, frame: object) -> None:
        stop()
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)

    signal.signal(signal.SIGTERM, handler)


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
