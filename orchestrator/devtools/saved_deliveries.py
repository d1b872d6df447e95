"""Saved webhook deliveries: files of payloads to replay against a running service.

Two shapes are accepted, so payloads copied from GitHub's "Recent Deliveries"
page and fixtures from other tools both work:

* a bare payload (`{"action": "completed", "workflow_run": {...}}`), whose event
  comes from `--event`, the file name (`workflow_run.completed.json`) or its keys;
* a recorded delivery (`{"headers": {"X-GitHub-Event": ...}, "payload": {...}}`),
  octomachinery-style, also with `body` instead of `payload`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Ordered: the first key found names the event (deployment_status before deployment).
_EVENT_KEYS = (
    "workflow_run",
    "workflow_job",
    "deployment_status",
    "deployment",
    "pull_request",
    "release",
    "check_suite",
    "check_run",
    "issue",
    "zen",
)
_KEY_EVENT = {"issue": "issues", "zen": "ping"}
# Event names a file may be named after (`workflow_run.completed.json`).
KNOWN_EVENTS = frozenset(
    {
        "check_run",
        "check_suite",
        "create",
        "delete",
        "deployment",
        "deployment_status",
        "issue_comment",
        "issues",
        "ping",
        "pull_request",
        "pull_request_review",
        "push",
        "release",
        "repository_dispatch",
        "status",
        "workflow_dispatch",
        "workflow_job",
        "workflow_run",
    }
)


class FixtureError(ValueError):
    pass


@dataclass(frozen=True)
class SavedDelivery:
    source: str
    event: str
    payload: dict[str, Any]
    delivery: str | None = None


def guess_event(payload: dict[str, Any], filename: str) -> str | None:
    stem = Path(filename).name.split(".")[0].split("-")[-1]
    if stem in KNOWN_EVENTS:
        return stem
    for key in _EVENT_KEYS:
        if key in payload:
            return _KEY_EVENT.get(key, key)
    if "commits" in payload and "ref" in payload:
        return "push"
    return None


def _headers(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        return {}
    return {str(k).lower(): str(v) for k, v in raw.items()}


def parse_fixture(data: Any, source: str, event: str | None = None) -> SavedDelivery:
    if not isinstance(data, dict):
        raise FixtureError(f"{source}: not a JSON object")
    if "headers" in data and ("payload" in data or "body" in data):
        headers = _headers(data["headers"])
        payload = data.get("payload", data.get("body"))
        if isinstance(payload, str):
            payload = json.loads(payload)
        if not isinstance(payload, dict):
            raise FixtureError(f"{source}: payload is not an object")
        name = event or headers.get("x-github-event") or guess_event(payload, source)
        delivery = headers.get("x-github-delivery")
    else:
        payload, name, delivery = data, event or guess_event(data, source), None
    if not name:
        raise FixtureError(f"{source}: cannot tell the event; pass --event")
    return SavedDelivery(source, name, payload, delivery)


def _replayable(file: Path, folder: Path, private: Path | None) -> bool:
    """Under a folder, what is not hidden (`.orchestrator/` holds the dev identity's keys,
    `.venv/` packages' JSON), not `node_modules/` and not in `private` (the data folder,
    wherever `ORCHESTRATOR_DATA_DIR` puts it): a checkout replayed whole posts its saved
    deliveries, never its secrets or its dependencies' files."""
    parts = file.relative_to(folder).parts
    if any(part.startswith(".") or part == "node_modules" for part in parts):
        return False
    return private is None or not file.resolve().is_relative_to(private.resolve())


def load_fixtures(
    path: Path, event: str | None = None, *, private: Path | None = None
) -> list[SavedDelivery]:
    """The saved deliveries in `path` (a file, or every `.json` under a folder, in name
    order, skipping what `_replayable` keeps private)."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.json") if _replayable(p, path, private))
    else:
        files = [path]
    if not files:
        raise FixtureError(f"no .json files under {path}")
    out = []
    for file in files:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise FixtureError(f"{file}: {exc}") from None
        out.append(parse_fixture(data, str(file), event))
    return out
