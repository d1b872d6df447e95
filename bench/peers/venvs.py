"""Peers from PyPI, each in a throwaway venv under build/bench/venvs/ (never the project's).

A peer that does not install (or does not import) is recorded with the reason; the run
goes on without it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.common import PYTHON, VENVS, base_python

INSTALL_TIMEOUT = 240.0


def _ours(name: str) -> str:
    return f"{name}=={metadata.version(name)}"


@dataclass(frozen=True)
class Peer:
    name: str
    requirements: tuple[str, ...]
    reported: tuple[str, ...]  # distributions whose versions the report shows
    module: str  # imported once after install to prove it works
    fallbacks: tuple[str, ...] = ()  # older CPython minors to try if it will not run on ours


def peers() -> dict[str, Peer]:
    return {
        # As dispike installs: it pins its own fastapi/starlette/uvicorn/pydantic.
        "dispike": Peer(
            "dispike",
            ("dispike",),
            ("dispike", "fastapi", "starlette", "uvicorn", "pydantic", "PyNaCl"),
            "dispike",
            fallbacks=("3.10", "3.9"),
        ),
        "fdi": Peer(
            "fdi",
            ("flask-discord-interactions", "waitress"),
            ("flask-discord-interactions", "Flask", "Werkzeug", "waitress", "PyNaCl"),
            "flask_discord_interactions",
        ),
        # Same Starlette/httpx as the project, so only the webhook handling differs.
        "gidgethub": Peer(
            "gidgethub",
            ("gidgethub", _ours("starlette"), _ours("httpx")),
            ("gidgethub", "starlette", "httpx"),
            "gidgethub.routing",
        ),
    }


@dataclass
class PeerEnv:
    name: str
    python: str | None
    versions: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    note: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.python is not None and self.error is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "python": self.python,
            "versions": self.versions,
            "error": self.error,
            "note": self.note,
            "install_seconds": round(self.seconds, 1),
        }


def _tail(text: str, lines: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def ensure(peer: Peer, root: Path = VENVS) -> PeerEnv:
    """Install `peer` with the project's interpreter; if it will not import there, with the
    older CPythons it names as fallbacks (the report says which one ran, and why)."""
    record = root / f"{peer.name}.json"
    if record.is_file():  # already settled in this build/bench (installed, or why not)
        return PeerEnv(**json.loads(record.read_text(encoding="utf-8")))
    started = time.monotonic()
    env = _ensure(peer, root, base_python())
    first_error = env.error
    for minor in peer.fallbacks if not env.ok else ():
        other = _interpreter(minor)
        if other is None:
            continue
        env = _ensure(peer, root, other)
        if env.ok:
            env.note = f"does not run on Python {_running()} ({_first_line(first_error)}); ran on "
            env.note += f"Python {env.versions.get('python')}"
            break
    if not env.ok and first_error is not None:
        env.error = first_error
    env.seconds = time.monotonic() - started
    root.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(asdict(env)), encoding="utf-8")
    return env


def _running() -> str:
    return ".".join(map(str, sys.version_info[:3]))


def _first_line(error: str | None) -> str:
    lines = (error or "").strip().splitlines()
    return lines[-1][:160] if lines else "unknown error"


def _interpreter(minor: str) -> str | None:
    from orchestrator.devtools.build import find_interpreter

    found = find_interpreter(minor, {"PATH": ""})  # pyenv's installed versions, no shims
    return found.argv[0] if found is not None else None


def _with_bytecode() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _ensure(peer: Peer, root: Path, interpreter: str) -> PeerEnv:
    home = root / peer.name
    python = home / "bin" / "python"
    try:
        subprocess.run(
            [interpreter, "-m", "venv", "--clear", "--without-pip", str(home)],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        install = subprocess.run(
            [
                PYTHON,
                "-m",
                "pip",
                "--python",
                str(python),
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
                "--no-compile",  # imports compile what they use, once
                *peer.requirements,
            ],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
        if install.returncode != 0:
            problem = _tail(install.stderr or install.stdout)
            return PeerEnv(peer.name, None, error=f"pip install failed: {problem}")
        probe = subprocess.run(
            [
                str(python),
                "-c",
                "import importlib, importlib.metadata as m, json, platform; "
                f"importlib.import_module({peer.module!r}); "
                f"v = {{d: m.version(d) for d in {list(peer.reported)!r}}}; "
                "v['python'] = platform.python_version(); print(json.dumps(v))",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=_with_bytecode(),  # this first import also compiles the peer's modules
        )
        if probe.returncode != 0:
            return PeerEnv(peer.name, None, error=f"import failed: {_tail(probe.stderr)}")
        return PeerEnv(peer.name, str(python), json.loads(probe.stdout))
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        return PeerEnv(peer.name, None, error=f"{type(exc).__name__}: {exc}")


def ensure_all(names: list[str] | None = None) -> dict[str, PeerEnv]:
    """Install the named peers (default: all), two at a time."""
    chosen = [p for n, p in peers().items() if names is None or n in names]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(ensure, chosen))
    return {env.name: env for env in results}


if __name__ == "__main__":
    for name, env in ensure_all(sys.argv[1:] or None).items():
        print(name, json.dumps(env.as_dict()))
