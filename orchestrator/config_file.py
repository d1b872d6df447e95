"""The optional TOML file: deployable apps, seed notification subscriptions, freeze windows.

Environment variables configure the service; this file describes the team's
world (which apps exist, where their events go), which is too structured for
env vars. It is read once per process and re-read when it changes, so a
local edit shows up without a restart. A missing file is an empty world.
"""

from __future__ import annotations

import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ConfigFileError(ValueError):
    """The file exists but is not valid; the message names the file and the problem."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True)
class FileConfig:
    apps: tuple[dict[str, Any], ...] = ()
    notify: tuple[dict[str, Any], ...] = ()
    freeze: tuple[dict[str, Any], ...] = ()  # `[[freeze]]` windows (`deploys.freezes`)


_cache: dict[Path, tuple[float, FileConfig]] = {}
_lock = threading.Lock()


def _tables(data: dict[str, Any], key: str, path: Path) -> tuple[dict[str, Any], ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ConfigFileError(path, f"[[{key}]] must be a list of tables")
    return tuple(value)


def load_file_config(path: Path) -> FileConfig:
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return FileConfig()
    with _lock:
        cached = _cache.get(path)
        if cached is not None and cached[0] == mtime:
            return cached[1]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigFileError(path, str(exc)) from None
    config = FileConfig(
        apps=_tables(data, "apps", path),
        notify=_tables(data, "notify", path),
        freeze=_tables(data, "freeze", path),
    )
    with _lock:
        _cache[path] = (mtime, config)
    return config
