"""The probe state machine, pure: a result and the previous state in, the new state out.

Why a state and not "post whenever a probe fails": a site that is down for an hour
must produce one message, not twelve, and the first probe after a deploy of this
service must not announce anything (it has nothing to compare with). So:

* the first observation of a target sets its state silently;
* up -> down and down -> up are changes, and only they are announced;
* a result older than what the state already reflects (a slow probe finishing after
  a newer one was committed) changes nothing.

Each state carries a `generation`, written with `put_if_newer(version=generation)`:
two probe runs that read the same state race for the same next generation, and only
the winner's change is announced (see `run.commit`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

# The pseudo-app this service's own `/healthz` is recorded under. Not a valid app name
# (those start with a letter or digit), so it can never collide with a configured app.
SELF_APP = "_orchestrator"
SELF_TARGET = "self"
TARGETS = ("frontend", "api", SELF_TARGET)


def display_app(app: str) -> str:
    return "orchestrator (this service)" if app == SELF_APP else app


@dataclass(frozen=True)
class Target:
    app: str
    name: str  # frontend | api | self
    url: str
    channel_id: str | None = None


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    at: float
    status: int | None = None
    ms: int | None = None
    error: str | None = None

    @property
    def cause(self) -> str:
        """Why a result is what it is, in a few words (the incident's cause)."""
        if self.error:
            return self.error
        if self.status is not None:
            return f"HTTP {self.status}"
        return "ok" if self.ok else "no answer"

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "at": self.at,
            "status": self.status,
            "ms": self.ms,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProbeResult:
        return cls(
            ok=bool(data.get("ok")),
            at=float(data.get("at") or 0.0),
            status=_int(data.get("status")),
            ms=_int(data.get("ms")),
            error=data.get("error") if isinstance(data.get("error"), str) else None,
        )


@dataclass(frozen=True)
class ProbeState:
    up: bool
    since: float  # when the target was first seen in this state
    checked_at: float  # the newest result folded in
    generation: int
    status: int | None = None
    ms: int | None = None
    cause: str | None = None  # why it is down (the result that took it down)

    def to_json(self) -> dict[str, Any]:
        return {
            "up": self.up,
            "since": self.since,
            "checked_at": self.checked_at,
            "generation": self.generation,
            "status": self.status,
            "ms": self.ms,
            "cause": self.cause,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProbeState:
        return cls(
            up=bool(data.get("up")),
            since=float(data.get("since") or 0.0),
            checked_at=float(data.get("checked_at") or 0.0),
            generation=_int(data.get("generation")) or 0,
            status=_int(data.get("status")),
            ms=_int(data.get("ms")),
            cause=data.get("cause") if isinstance(data.get("cause"), str) else None,
        )


@dataclass(frozen=True)
class Change:
    """An up -> down or down -> up change, to announce once and record as an incident."""

    up: bool  # the new state
    at: float  # when the new state was first observed
    previous_since: float  # when the previous state began (the incident start on recovery)
    cause: str | None  # why it went down (for a recovery: why it had been down)
    status: int | None = None
    ms: int | None = None

    @property
    def incident_start(self) -> float:
        return self.previous_since if self.up else self.at

    @property
    def downtime(self) -> float | None:
        return self.at - self.previous_since if self.up else None


def transition(
    previous: ProbeState | None, result: ProbeResult
) -> tuple[ProbeState, Change | None]:
    """Fold `result` into `previous`. Returns `previous` itself (same object) for a stale
    result, which the caller takes as "nothing to write"."""
    if previous is None:
        return _fresh(result, generation=1), None
    if result.at < previous.checked_at:
        return previous, None
    if previous.up == result.ok:
        return (
            replace(
                previous,
                checked_at=result.at,
                generation=previous.generation + 1,
                status=result.status,
                ms=result.ms,
                # While down, keep what took it down: "down since 09:05 (HTTP 503)" stays
                # true even if later probes time out instead.
                cause=previous.cause if not previous.up else None,
            ),
            None,
        )
    new = _fresh(result, generation=previous.generation + 1)
    change = Change(
        up=result.ok,
        at=result.at,
        previous_since=previous.since,
        cause=previous.cause if result.ok else result.cause,
        status=result.status,
        ms=result.ms,
    )
    return new, change


def _fresh(result: ProbeResult, generation: int) -> ProbeState:
    return ProbeState(
        up=result.ok,
        since=result.at,
        checked_at=result.at,
        generation=generation,
        status=result.status,
        ms=result.ms,
        cause=None if result.ok else result.cause,
    )


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None
