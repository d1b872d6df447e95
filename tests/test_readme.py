"""The README is part of the product: its commands and tables must stay true."""

from __future__ import annotations

import re
from pathlib import Path

from orchestrator.cli import COMMANDS
from orchestrator.cli.config import markdown_table

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_settings_table_matches_the_code() -> None:
    match = re.search(r"<!-- settings:start[^\n]*-->\n(.*?)<!-- settings:end -->", README, re.S)
    assert match, "README lost its settings table markers"
    assert match.group(1).strip() == markdown_table(), (
        "README settings table is stale: paste `orchestrator config --markdown`"
    )


def test_ci_runs_exactly_the_readme_test_command() -> None:
    assert "make test" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.strip().splitlines()[-1] == "exec make test"


def test_every_cli_command_is_documented() -> None:
    for name in COMMANDS:
        assert f"orchestrator {name}" in README, f"README does not mention `orchestrator {name}`"
