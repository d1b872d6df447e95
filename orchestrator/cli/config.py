"""Show the effective configuration: the values the service really runs with.

Outside production that includes what the dev server fills in by itself (the dev
identity's public key and webhook secret, the local stand-ins' URLs), marked as such.
Secrets show as set/unset, never their values.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from orchestrator.config import (
    FIELDS,
    TEST_GITHUB_API_BASE,
    ConfigError,
    Secret,
    Settings,
    settings_table,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--markdown", action="store_true", help="print the README's table of every setting instead"
    )


def markdown_table() -> str:
    lines = ["| Variable | Default | What uses it |", "|---|---|---|"]
    for variable, default, description in settings_table():
        lines.append(f"| `{variable}` | {default} | {description} |")
    return "\n".join(lines)


# Why a value differs from what the environment says: `config.finalize` filled it in.
_FILLED = {
    "discord_public_key": "dev identity",
    "github_webhook_secret": "dev identity",
    "discord_application_id": "dev stand-in",
    "discord_api_base": "the local Discord stand-in",
    "discord_admin_user_ids": "dev: the simulator's user",
}


def _filled_because(name: str, value: Any) -> str:
    if name == "github_api_base":
        if value == TEST_GITHUB_API_BASE:
            return "test: a closed port, GitHub is never reached"
        return "the local GitHub stand-in"
    return _FILLED.get(name, "dev default")


def _shown(value: Any) -> str:
    if isinstance(value, Secret) or (
        isinstance(value, list) and value and isinstance(value[0], Secret)
    ):
        return f"set ({len(value)})" if isinstance(value, list) else "set"
    if value is None or value == []:
        return "unset"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(getattr(value, "value", value))


def describe(settings: Settings, configured: Settings | None = None) -> str:
    """One line per setting. `configured` (what the environment says) marks the values
    `settings` got from elsewhere: the dev server's own identity and stand-ins."""
    lines = []
    for name, field in FIELDS.items():
        value = getattr(settings, name)
        shown = _shown(value)
        if configured is not None and getattr(configured, name) != value:
            why = _filled_because(name, value)
            # A filled-in secret: where it comes from, still never its value.
            secret = shown.startswith("set")
            shown = f"set ({why})" if secret else f"{shown}  ({why})"
        lines.append(f"{field.variable:<28} {shown}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from orchestrator.cli import config_problems
    from orchestrator.config import finalize

    if args.markdown:
        print(markdown_table())
        return 0
    configured = Settings()  # invalid values: main() names them, exit 2
    try:
        # What the service does at startup: outside prod this fills the gaps (creating the
        # dev identity in the data dir if this is the first run, as `serve` would).
        effective = finalize(configured)
    except ConfigError as exc:
        print(describe(configured))
        print(f"orchestrator: {config_problems(exc.problems)}", file=sys.stderr)
        return 2
    print(describe(effective, configured))
    return 0
