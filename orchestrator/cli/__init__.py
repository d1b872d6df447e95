"""The `orchestrator` command. Each subcommand lives in its own module, imported on use."""

from __future__ import annotations

import argparse
import importlib
import logging
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
    "reconcile": ("orchestrator.cli.reconcile", "catch up on lost webhooks now (runs, deliveries)"),
    "jobs": ("orchestrator.cli.jobs", "list background jobs; retry failed ones"),
    "build": ("orchestrator.cli.build", "build the AWS Lambda artifact (folder and zip)"),
    "verify-deploy": ("orchestrator.cli.verify_deploy", "post-deploy gate: right SHA, healthy"),
}


def build_parser() -> argparse.ArgumentParser:
    from orchestrator.cli.arguments import Parser

    parser = Parser(
        prog="orchestrator",
        description="Discord <-> GitHub deploy orchestrator.",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show the log (retries, warnings) and full tracebacks",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        # Raw: the module docstrings' examples keep their lines (argparse rewraps otherwise).
        command = sub.add_parser(
            name,
            help=help_text,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(command)
        command.set_defaults(_run=module.run)
    return parser


# Commands that configure logging themselves (the service writes JSON lines).
_OWN_LOGGING = frozenset({"serve"})


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand. Whatever goes wrong ends in one line on stderr, never a traceback:
    bad input and missing configuration exit 2, anything unforeseen exits 1."""
    from orchestrator.config import ConfigError

    args = build_parser().parse_args(argv)
    _remember_secrets(args)
    if args.command not in _OWN_LOGGING:
        _log_to_terminal(verbose=args.verbose)
    try:
        code: int = args._run(args)
    except ConfigError as exc:  # one place for every command: name what to fix, exit 2
        _say(config_problems(exc.problems))
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.verbose:
            raise
        _say(f"unexpected error: {type(exc).__name__}: {_one_line(str(exc))}")
        return 1
    return code


def config_problems(problems: Sequence[str]) -> str:
    """`ConfigError`'s problems on one line: the variables production misses named once,
    after the reason they share, then anything else."""
    missing: list[tuple[str, str]] = []
    other: list[tuple[str, str]] = []
    for problem in problems:
        name, sep, reason = problem.partition(" is not set ")
        (missing if sep else other).append((name, reason))
    parts = []
    for reason in dict.fromkeys(r for _, r in missing):
        names = ", ".join(n for n, r in missing if r == reason)
        parts.append(f"not set {reason}: {names}".replace("  ", " "))
    parts.extend(name for name, _ in other)
    return "invalid configuration: " + "; ".join(parts)


def _say(message: str) -> None:
    from orchestrator.logs import redactor

    print(f"orchestrator: {redactor(message)}", file=sys.stderr)


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _remember_secrets(args: argparse.Namespace) -> None:
    """Teach the redactor every secret this process may print: configured ones and keys
    given on the command line, so neither a log line nor the last-resort message shows one."""
    from orchestrator.logs import redactor

    given = [getattr(args, name, None) for name in ("private_key", "secret")]
    redactor.add(value for value in given if isinstance(value, str))
    try:
        from orchestrator.config import Settings

        redactor.add(Settings().secret_values())
    except Exception:  # invalid settings: the command itself reports them
        return


class _TerminalFormatter(logging.Formatter):
    """One line per record, `orchestrator: <message>`; an exception as its type and message
    unless `-v` asked for the traceback. Scrubbed like the service's JSON lines."""

    def __init__(self, verbose: bool) -> None:
        super().__init__()
        self.verbose = verbose

    def format(self, record: logging.LogRecord) -> str:
        from orchestrator.logs import redactor

        line = f"orchestrator: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            if self.verbose:
                line += "\n" + self.formatException(record.exc_info)
            else:
                line += f" ({type(error).__name__}: {_one_line(str(error), 200)})"
        return redactor(line)


def _log_to_terminal(*, verbose: bool) -> None:
    """Errors only, one line each, unless --verbose: a command retrying an unreachable host
    says so once, when it gives up, instead of a warning per attempt."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_TerminalFormatter(verbose))
    handler.name = "orchestrator-terminal"
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if h.name != handler.name]
    root.addHandler(handler)
    level = logging.INFO if verbose else logging.ERROR
    handler.setLevel(level)
    root.setLevel(level)


if __name__ == "__main__":
    sys.exit(main())
