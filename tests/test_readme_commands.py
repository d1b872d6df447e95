"""The README's command table says what the commands really take.

`/history app` was documented as required while the option is optional, and the README
promised modals no command opens. The table is checked against the registration JSON:
`name` for a required option, `[name]` for an optional one, `name:VALUE` an example.
"""

from __future__ import annotations

import re
from pathlib import Path

from orchestrator import product

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _table() -> str:
    section = README.split("## In Discord", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("| `/"))


def _spans() -> list[str]:
    """Each backticked command in the table's first column, e.g. `/deploy app [ref]`."""
    spans = []
    for row in _table().splitlines():
        first = row.split(" | ")[0]
        spans.extend(re.findall(r"`(/[^`]+)`", first))
    return spans


def test_the_table_is_found() -> None:
    assert len(_spans()) >= 15


def test_every_command_is_in_the_table() -> None:
    listed = {span[1:].split()[0] for span in _spans()}
    declared = {command["name"] for command in product.bot().registration()}
    assert declared <= listed, f"document {sorted(declared - listed)} in the README table"


def test_options_are_marked_required_or_optional_as_declared() -> None:
    bot = product.bot()
    checked = 0
    for span in _spans():
        words = span[1:].replace("\\|", "|").split()
        path = [words.pop(0)]
        while words and bot.leaf(path) is None and re.fullmatch(r"[a-z-]+", words[0]):
            path.append(words.pop(0))
        leaf = bot.leaf(path)
        if leaf is None:
            continue  # a group written with its subcommands, e.g. /notify add|list|remove
        declared = {option.name: option.required for option in leaf.options}
        for word in words:
            if ":" in word or word == "or":
                continue  # an example value, e.g. pr:N
            optional = word.startswith("[") and word.endswith("]")
            name = word.strip("[]")
            assert name in declared, f"{span}: {leaf.display} has no option {name!r}"
            assert declared[name] is not optional, (
                f"{span}: {name!r} is {'required' if declared[name] else 'optional'}, "
                f"write it as {name if declared[name] else f'[{name}]'}"
            )
            checked += 1
    assert checked >= 10


def test_no_modals_are_promised_when_none_exist() -> None:
    sources = [path.read_text(encoding="utf-8") for path in (ROOT / "orchestrator").rglob("*.py")]
    declares_modals = any(re.search(r"\.modal\(\s*\"", text) for text in sources)
    if not declares_modals:
        assert "modal" not in README.lower()
