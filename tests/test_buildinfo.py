from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from orchestrator import buildinfo


def test_a_build_module_wins(tmp_path: Path) -> None:
    """With `_build_info.py` present (an artifact), its SHA is the answer, not git's."""
    package = tmp_path / "orchestrator"
    src = Path(buildinfo.__file__).parent
    package.mkdir()
    for name in ["__init__.py", "buildinfo.py"]:
        (package / name).write_text((src / name).read_text())
    (package / "_build_info.py").write_text(
        'GIT_SHA = "' + "a" * 40 + '"\nBUILT_AT = "2026-11-29T00:00:00Z"\n'
    )
    code = (
        "import sys; sys.path.insert(0, '.'); from orchestrator.buildinfo import build_info; "
        "i = build_info(); print(i.sha, i.built_at, i.source)"
    )
    run = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert run.stdout.split() == ["a" * 40, "2026-11-29T00:00:00Z", "build"]


def test_without_build_module_or_git_the_sha_is_unknown(tmp_path: Path) -> None:
    package = tmp_path / "orchestrator"
    src = Path(buildinfo.__file__).parent
    package.mkdir()
    for name in ["__init__.py", "buildinfo.py"]:
        (package / name).write_text((src / name).read_text())
    code = (
        "import sys; sys.path.insert(0, '.'); from orchestrator.buildinfo import build_info; "
        "i = build_info(); print(i.sha, i.source)"
    )
    run = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert run.stdout.split() == ["unknown", "unknown"]


def test_a_checkout_reports_its_head() -> None:
    root = Path(buildinfo.__file__).resolve().parent.parent
    head = buildinfo.git_head(root)
    info = buildinfo.build_info()
    if head is None:  # not a git checkout with commits: nothing to compare
        assert info.source in {"unknown", "build"}
    else:
        assert info.source in {"git", "build"}
        if info.source == "git":
            assert info.sha == head
