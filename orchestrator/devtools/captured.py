"""What the bot sent to the Discord stand-in, as `orchestrator simulate` reads it back.

Two sources with one shape: the dev server's own stand-in, read over HTTP from
another process (`RemoteCapture`), or a stand-in `simulate` runs itself when the
server sends elsewhere (`LocalCapture`, the older way). The readings are pure: which
requests are a command's follow-ups, which are channel posts, and when a tracked
deploy message is final (verified, or failed) rather than still moving.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from orchestrator.deploys.approvals import APPROVE
from orchestrator.deploys.render import VERDICT_ICONS
from orchestrator.deploys.tracking import CORRELATION
from orchestrator.notifications.render import conclusion_parts

if TYPE_CHECKING:
    import httpx

    from orchestrator.devtools.discord_standin import DiscordStandIn

DeployState = Literal["running", "verified", "failed", "awaiting_approval"]


@dataclass(frozen=True)
class Seen:
    """One request the bot sent to Discord."""

    method: str
    path: str  # without /api/vN
    route: str  # ids and tokens replaced, e.g. PATCH /webhooks/{id}/{token}/messages/@original
    body: Any

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "route": self.route, "body": self.body}


class Capture(Protocol):
    def count(self) -> int:
        """How many requests were recorded so far."""
        ...

    def since(self, index: int) -> list[Seen]:
        """The requests recorded from `index` on, oldest first."""
        ...

    def close(self) -> None: ...


class LocalCapture:
    """A stand-in this process runs."""

    def __init__(self, standin: DiscordStandIn) -> None:
        self.standin = standin

    def count(self) -> int:
        return len(self.standin.requests)

    def since(self, index: int) -> list[Seen]:
        return [
            Seen(r.method, r.path, r.route, r.body) for r in list(self.standin.requests)[index:]
        ]

    def close(self) -> None:
        self.standin.stop()


class RemoteCapture:
    """The dev server's stand-in, read through `GET /_standin/requests?since=N`."""

    def __init__(self, base_url: str, client: httpx.Client | None = None) -> None:
        import httpx

        from orchestrator.devtools.discord_standin import RECORD_PATH

        self.url = base_url.rstrip("/") + RECORD_PATH
        self._client = client or httpx.Client(timeout=5.0)

    def _read(self, since: int) -> dict[str, Any]:
        response = self._client.get(self.url, params={"since": since})
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def count(self) -> int:
        return int(self._read(1 << 62).get("count") or 0)

    def since(self, index: int) -> list[Seen]:
        found = self._read(index).get("requests") or []
        return [
            Seen(str(r.get("method")), str(r.get("path")), str(r.get("route")), r.get("body"))
            for r in found
            if isinstance(r, dict)
        ]

    def close(self) -> None:
        self._client.close()


def is_followup(seen: Seen, token: str) -> bool:
    """A follow-up (or an edit of the reply) of the interaction with this token."""
    parts = seen.path.strip("/").split("/")
    return len(parts) >= 3 and parts[0] == "webhooks" and parts[2] == token


def is_channel_post(seen: Seen) -> bool:
    """A message the bot posted (or edited) in a channel with its bot token."""
    parts = seen.path.strip("/").split("/")
    return len(parts) in (3, 4) and parts[0] == "channels" and parts[2] == "messages"


def channel_of(seen: Seen) -> str:
    return seen.path.strip("/").split("/")[1]


def _offers(message: Any, route: str) -> bool:
    """Whether the message carries a button of `route`."""
    rows = message.get("components") if isinstance(message, dict) else None
    return any(
        isinstance(c, dict) and str(c.get("custom_id") or "").startswith(route + ":")
        for row in rows or ()
        if isinstance(row, dict)
        for c in row.get("components") or ()
    )


def deploy_state(message: Any) -> DeployState | None:
    """Where a tracked-run message (`deploys.render`) says its run is (or that a request
    waits for approval); None for any other message. Final means a verdict is shown: the
    verifier runs once the run completes, whatever its conclusion. `verified`: the run
    succeeded and every check passed."""
    if _offers(message, APPROVE):
        return "awaiting_approval"  # a request (`deploys.approvals`): nothing dispatched yet
    embeds = message.get("embeds") if isinstance(message, dict) else None
    if not isinstance(embeds, list) or not embeds or not isinstance(embeds[0], dict):
        return None
    first = embeds[0]
    footer = first.get("footer") if isinstance(first.get("footer"), dict) else {}
    if not CORRELATION.search(str((footer or {}).get("text") or "")):
        return None
    lines = str(first.get("description") or "").splitlines()
    verdicts = [
        verdict
        for line in lines
        for verdict, icon in VERDICT_ICONS.items()
        if line.startswith(f"{icon} verification:")
    ]
    if not verdicts:
        return "running"
    icon, verb, _ = conclusion_parts("success")
    succeeded = bool(lines) and lines[0].startswith(f"{icon} {verb}")
    return "verified" if succeeded and verdicts[0] == "PASS" else "failed"
