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


def test_every_environment_variable_the_code_reads_is_documented() -> None:
    """Settings document themselves; anything read straight from the environment must be
    in the table too, or a user could never find it."""
    from orchestrator.config import settings_table

    documented = {variable for variable, _, _ in settings_table()}
    read = set()
    pattern = re.compile(r"environ(?:\.get\(|\[)\s*\"([A-Z][A-Z0-9_]+)\"")
    for source in (ROOT / "orchestrator").rglob("*.py"):
        read |= set(pattern.findall(source.read_text()))
    assert len(read) >= 5, read  # the scan still finds what it looks for
    assert read - documented == set(), "document these in config.ENVIRONMENT_ONLY"


def test_ci_runs_exactly_the_readme_test_command() -> None:
    assert "make test" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.strip().splitlines()[-1] == "exec make test"


def test_every_cli_command_is_documented() -> None:
    for name in COMMANDS:
        assert f"orchestrator {name}" in README, f"README does not mention `orchestrator {name}`"
