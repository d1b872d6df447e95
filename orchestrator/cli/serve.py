"""Run the service locally with uvicorn, on the embedded defaults unless configured otherwise."""

from __future__ import annotations

import argparse
import sys

from orchestrator.config import Settings, load_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--reload", action="store_true", help="restart on code changes")


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
    )
    return 0
