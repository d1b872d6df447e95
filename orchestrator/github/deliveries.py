"""Which webhook deliveries failed, from GitHub's own delivery log.

GitHub never retries a failed delivery by itself. Its log lists every attempt
(redeliveries share the original's `guid`), so a delivery still needs
redelivering when its *latest* attempt was not a 2xx. Pure: the CLI fetches
the log and asks GitHub to redeliver what this returns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from orchestrator.github.events import number, text, timestamp

_SINCE = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class FailedDelivery:
    id: int
    guid: str
    event: str
    action: str | None
    status: str
    status_code: int | None
    delivered_at: float
    attempts: int


def parse_since(value: str) -> float:
    """`"90m"`, `"6h"`, `"2d"` -> seconds."""
    match = _SINCE.match(value.strip().lower())
    if not match:
        raise ValueError(f"--since wants a duration like 30m, 6h or 2d, got {value!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def ok(delivery: dict[str, Any]) -> bool:
    code = number(delivery, "status_code")
    return code is not None and 200 <= code < 300


def failed_deliveries(
    log: list[dict[str, Any]], since: float | None = None
) -> list[FailedDelivery]:
    """Deliveries whose latest attempt failed, oldest first, optionally only those since `since`."""
    attempts: dict[str, list[dict[str, Any]]] = {}
    for entry in log:
        guid = text(entry, "guid")
        if guid and number(entry, "id") is not None:
            attempts.setdefault(guid, []).append(entry)
    out = []
    for guid, tries in attempts.items():
        tries.sort(key=lambda e: timestamp(e, "delivered_at") or 0.0)
        first, latest = tries[0], tries[-1]
        if ok(latest):
            continue
        first_at = timestamp(first, "delivered_at") or 0.0
        if since is not None and first_at < since:
            continue
        out.append(
            FailedDelivery(
                id=number(latest, "id") or 0,
                guid=guid,
                event=text(latest, "event") or "?",
                action=text(latest, "action"),
                status=text(latest, "status") or "?",
                status_code=number(latest, "status_code"),
                delivered_at=first_at,
                attempts=len(tries),
            )
        )
    return sorted(out, key=lambda d: d.delivered_at)


# -- which webhook ---------------------------------------------------------------------------


class HookMisconfigured(ValueError):
    """The hook settings contradict each other; the message names the variables."""


@dataclass(frozen=True)
class Hook:
    """The webhook whose deliveries we read: a repository's, an org's, or the App's own."""

    repo: str | None = None
    org: str | None = None
    hook_id: int | None = None

    def where(self) -> dict[str, Any]:
        """The keyword arguments of the client's hook delivery calls."""
        return {"repo": self.repo, "org": self.org, "hook_id": self.hook_id}

    def describe(self) -> str:
        if self.repo is not None:
            return f"{self.repo} hook {self.hook_id}"
        if self.org is not None:
            return f"org {self.org} hook {self.hook_id}"
        return "the GitHub App's hook"


def configured_hook(
    repo: str | None, org: str | None, hook_id: int | None, has_github_app: bool
) -> Hook | None:
    """The hook named by `GITHUB_HOOK_REPO`/`GITHUB_HOOK_ORG` + `GITHUB_HOOK_ID`, else the
    App's own (with App credentials); None when nothing names one. Contradictions raise
    `HookMisconfigured`: a typo must not silently turn redelivery off."""
    if repo and org:
        raise HookMisconfigured("set GITHUB_HOOK_REPO or GITHUB_HOOK_ORG, not both")
    if (repo or org) and hook_id is None:
        raise HookMisconfigured("GITHUB_HOOK_ID is required with GITHUB_HOOK_REPO/GITHUB_HOOK_ORG")
    if hook_id is not None and not (repo or org):
        raise HookMisconfigured(
            "GITHUB_HOOK_ID needs GITHUB_HOOK_REPO or GITHUB_HOOK_ORG "
            "(the GitHub App's own webhook has no id)"
        )
    if repo or org:
        return Hook(repo=repo or None, org=org or None, hook_id=hook_id)
    return Hook() if has_github_app else None
