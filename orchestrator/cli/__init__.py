"""The `orchestrator` command. Each subcommand lives in its own module, imported on use."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# name -> (module, one-line help). Modules expose `add_arguments(parser)` and `run(args) -> int`.
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("orchestrator.cli.serve", "run the service locally (uvicorn)"),
    "config": ("orchestrator.cli.config", "show the effective configuration (no secret values)"),
    "simulate": ("orchestrator.cli.simulate", "send a signed interaction to a running service"),
    "sync-commands": ("orchestrator.cli.sync_commands", "register slash commands when they differ"),
    "discord-check": ("orchestrator.cli.discord_check", "run the portal's endpoint handshake"),
    "replay": ("orchestrator.cli.replay", "sign and post saved GitHub deliveries"),
    "deliveries": ("orchestrator.cli.deliveries", "find failed GitHub deliveries; redeliver"),
    "jobs": ("orchestrator.cli.jobs", "list background jobs; retry failed ones"),
    "build": ("orchestrator.cli.build", "build the AWS Lambda artifact (folder and zip)"),
    "verify-deploy": ("orchestrator.cli.verify_deploy", "post-deploy gate: right SHA, healthy"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orchestrator",
        description="Discord <-> GitHub deploy orchestrator.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=help_text, description=module.__doc__)
        module.add_arguments(command)
        command.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from orchestrator.config import ConfigError

    args = build_parser().parse_args(argv)
    try:
        code: int = args._run(args)
    except ConfigError as exc:  # one place for every command: name what to fix, exit 2
        print(f"orchestrator: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
