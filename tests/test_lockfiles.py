"""The lockfiles agree: what `make run` installs is what `make test` installs, minus tools.

`make run` installs `requirements/serve.txt` (serving needs no linter or test runner) and
`make test` installs `requirements/dev.txt`; both can land in the same `.venv`. If the two
pinned different versions, or serve lacked a runtime dependency, the venv would depend on
which command ran last, and a dependency added to the runtime would break `make run` only.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements"
REGENERATE = "regenerate with `make lock` (see requirements/README.md)"
# The development tools serving must not need; none of them may reach serve.txt.
DEV_ONLY = {"pytest", "ruff", "mypy", "moto", "boto3", "schemathesis", "hypothesis", "cfn-lint"}


def pins(name: str) -> dict[str, set[str]]:
    """`package -> versions` of a lockfile (a package may be pinned once per marker)."""
    found: dict[str, set[str]] = {}
    text = (REQUIREMENTS / name).read_text(encoding="utf-8")
    for match in re.finditer(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", text, re.M):
        found.setdefault(match.group(1).lower(), set()).add(match.group(2))
    assert found, name
    return found


def test_serving_installs_every_runtime_dependency_at_its_pin() -> None:
    runtime, serve = pins("runtime.txt"), pins("serve.txt")
    missing = {name: pin for name, pin in runtime.items() if not pin <= serve.get(name, set())}
    assert missing == {}, f"serve.txt lacks or re-pins these: {REGENERATE}"


def test_serving_installs_the_server_and_what_the_editable_install_takes() -> None:
    serve = pins("serve.txt")
    assert {"uvicorn", "hatchling", "editables"} <= set(serve)
    assert DEV_ONLY & set(serve) == set(), "make run must not install the development tools"


def test_testing_installs_everything_serving_does_at_the_same_pins() -> None:
    serve, dev = pins("serve.txt"), pins("dev.txt")
    differ = {
        name: (pin, dev.get(name)) for name, pin in serve.items() if not pin <= dev.get(name, set())
    }
    assert differ == {}, f"dev.txt and serve.txt disagree: {REGENERATE}"


@pytest.mark.parametrize("name", ["runtime.txt", "serve.txt", "dev.txt"])
def test_every_pin_carries_hashes(name: str) -> None:
    text = (REQUIREMENTS / name).read_text(encoding="utf-8")
    blocks = re.split(r"\n(?=[A-Za-z0-9._-]+==)", text.strip())
    assert all("--hash=sha256:" in block for block in blocks), name


def test_make_run_installs_the_serve_lockfile_and_make_test_the_dev_one() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^run: \$\(SERVE_STAMP\)\s", makefile, re.M), "make run: serve only"
    serve_rule = makefile.split("$(SERVE_STAMP): ", 1)[1].split("\n\n", 1)[0]
    assert "requirements/serve.txt" in serve_rule and "dev.txt" not in serve_rule
    assert re.search(r"^test: \$\(STAMP\)", makefile, re.M)
    dev_rule = makefile.split("$(STAMP): ", 1)[1].split("\n\n", 1)[0]
    assert "-r requirements/dev.txt" in dev_rule
