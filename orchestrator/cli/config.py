"""Show the effective configuration (secrets as set/unset, never their values)."""

from __future__ import annotations

import argparse
import sys

from orchestrator.config import ConfigError, Settings, settings_table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--markdown", action="store_true", help="print the README's table of every setting instead"
    )


def markdown_table() -> str:
    lines = ["| Variable | Default | What uses it |", "|---|---|---|"]
    for variable, default, description in settings_table():
        lines.append(f"| `{variable}` | {default} | {description} |")
    return "\n".join(lines)


def describe(settings: Settings) -> str:
    from pydantic import SecretStr

    lines = []
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        if isinstance(value, SecretStr) or (
            isinstance(value, list) and value and isinstance(value[0], SecretStr)
        ):
            shown = f"set ({len(value)})" if isinstance(value, list) else "set"
        elif value is None or value == []:
            shown = "unset"
        else:
            shown = str(getattr(value, "value", value))
        alias = field.validation_alias
        variable = alias if isinstance(alias, str) else getattr(alias, "choices", [name])[0]
        lines.append(f"{variable:<28} {shown}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.markdown:
        print(markdown_table())
        return 0
    try:
        settings = Settings()
    except ValueError as exc:  # pydantic's ValidationError, with input values hidden
        print(f"orchestrator: {exc}", file=sys.stderr)
        return 2
    print(describe(settings))
    if settings.is_prod and settings.missing_for_prod():
        print(ConfigError(settings.missing_for_prod()), file=sys.stderr)
        return 2
    return 0
