"""The test suite's own layout: shared helpers live in tests/support, never in a test or conftest.

Test modules and conftests are leaves that only pytest imports. pytest imports a conftest
under a name that depends on the rootdir and the import mode; importing it again as a
library can make a second copy (a second session-wide security tally, whose counts the
summary line would miss). Importing from a test module collects whatever test or fixture
the importer picks up a second time, and ties one test file to the insides of another. So
what tests share (classes, constants, builders) lives in `tests/support/`, and the other
folders hold nothing but their tests, their conftest (fixtures and hooks) and `__init__.py`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
SCANNED = sorted([*TESTS.rglob("*.py"), *(ROOT / "bench").rglob("*.py")])


def is_leaf(module: str) -> bool:
    """A dotted name whose last part is a conftest or a test module: only pytest imports it."""
    last = module.rpartition(".")[2]
    return last == "conftest" or last.startswith("test_")


def imported(tree: ast.Module) -> list[tuple[int, str]]:
    """Every module an import statement could load, anywhere in the file (function-level
    and `TYPE_CHECKING` imports included): for `from a.b import c`, both `a.b` and `a.b.c`,
    since `c` may be a module. Relative imports keep their leading dots."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            found.append((node.lineno, base))
            found += [
                (node.lineno, f"{base}.{alias.name}" if node.module else base + alias.name)
                for alias in node.names
            ]
    return found


def leaf_imports(source: str, filename: str) -> list[str]:
    tree = ast.parse(source, filename)
    return [f"{filename}:{line}: {name}" for line, name in imported(tree) if is_leaf(name)]


def test_no_module_imports_a_conftest_or_a_test_module() -> None:
    offending = [
        found
        for path in SCANNED
        for found in leaf_imports(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert offending == [], "move what is shared into tests/support/:\n" + "\n".join(offending)


def test_helpers_live_in_tests_support() -> None:
    """Outside tests/support, a folder holds its tests, its conftest and `__init__.py`."""
    support = TESTS / "support"
    strays = [
        str(path.relative_to(ROOT))
        for path in TESTS.rglob("*.py")
        if support not in path.parents
        and path.name not in ("__init__.py", "conftest.py")
        and not path.name.startswith("test_")
    ]
    assert strays == [], "move these helpers into tests/support/: " + ", ".join(sorted(strays))


def test_every_test_folder_is_a_package() -> None:
    """Same-named test modules in two folders (tests/commands/test_digest.py and
    tests/digest/test_digest.py) only coexist when each folder is a package."""
    folders = {path.parent for path in TESTS.rglob("*.py")}
    missing = sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").exists())
    assert missing == []


@pytest.mark.parametrize(
    ("source", "caught"),
    [
        ("from tests.commands.conftest import Run", True),
        ("from tests.verification.test_collect import SHA", True),
        ("from tests.verification import test_collect", True),
        ("import tests.schedules.conftest", True),
        ("from . import conftest", True),
        ("from .test_collect import SHA", True),
        ("def f():\n    from tests.security.conftest import TALLY", True),
        ("from tests.support.commands import ADMIN, Run", False),
        ("from tests.support import commands", False),
        ("import pytest", False),
        ("from orchestrator.verification import collect", False),
    ],
)
def test_the_scan_catches_every_spelling(source: str, caught: bool) -> None:
    assert bool(leaf_imports(source, "t.py")) is caught
