"""Where each environment of an app stands: live SHA, last verification, lock, deploys.

`/status` and `/history` show one compact line per environment from this. It reads only
the store (the verification history, locks, the slot and the queue); `/status` may replace
the live SHA with what the environment's version endpoint reports.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from orchestrator.apps import App
from orchestrator.deploys import history, locks, queue
from orchestrator.deploys.environments import DEFAULT, Target, environments_of, resolve
from orchestrator.deploys.gate import describe_in_flight
from orchestrator.deploys.locks import Lock
from orchestrator.deploys.queue import InFlight
from orchestrator.deploys.render import VERDICT_ICONS
from orchestrator.github.events import short_sha
from orchestrator.store.base import Store
from orchestrator.text import ago

_LIVE_VERDICTS = ("PASS", "WARN")  # a verification that found the deploy serving


@dataclass(frozen=True)
class EnvironmentState:
    target: Target
    live_sha: str | None  # what the last passing verification saw live (or the endpoint says)
    last_verification: dict[str, Any] | None
    lock: Lock | None
    in_flight: InFlight | None
    waiting: int


def _environment_of(report: dict[str, Any]) -> str | None:
    found = report.get("environment")
    return found if isinstance(found, str) else None


def environment_states(store: Store, app: App, *, reports: int = 50) -> list[EnvironmentState]:
    """Every environment of `app`, in the config's order. Verifications recorded before the
    app had environments belong to its implicit one only."""
    recent = history.recent(store, app.name, limit=reports)
    states = []
    for env in environments_of(app).values():
        fallback = DEFAULT if env.implicit else None
        mine = [r for r in recent if (_environment_of(r) or fallback) == env.name]
        live = next(
            (
                str(r["head_sha"])
                for r in mine
                if str(r.get("verdict")).upper() in _LIVE_VERDICTS
                and isinstance(r.get("head_sha"), str)
            ),
            None,
        )
        states.append(
            EnvironmentState(
                target=resolve(app, env),
                live_sha=live,
                last_verification=mine[0] if mine else None,
                lock=locks.get(store, app.name, env.name),
                in_flight=queue.in_flight(store, app.name, env.name),
                waiting=len(queue.waiting(store, app.name, env.name)),
            )
        )
    return states


def with_live_sha(state: EnvironmentState, sha: str | None) -> EnvironmentState:
    return replace(state, live_sha=sha) if sha else state


def state_line(state: EnvironmentState, now: float) -> str:
    """ "**production** · live `abc1234` · ✅ verified 2 h ago · 🔒 <@42> “db” · 2 waiting"."""
    parts = [f"**{state.target.environment.name}**"]
    parts.append(f"live `{short_sha(state.live_sha)}`" if state.live_sha else "live ?")
    last = state.last_verification
    if last is not None:
        verdict = str(last.get("verdict")).upper()
        when = last.get("recorded_at")
        age = ago(now - float(when)) if isinstance(when, int | float) else "?"
        parts.append(f"{VERDICT_ICONS.get(verdict, '❔')} {verdict.lower()} {age}")
    else:
        parts.append("never verified")
    if state.lock is not None:
        parts.append(f"🔒 <@{state.lock.owner}> “{state.lock.reason}”")
    if state.in_flight is not None:
        parts.append(f"🚀 {describe_in_flight(state.in_flight, now)}")
    if state.waiting:
        parts.append(f"🕒 {state.waiting} waiting")
    return " · ".join(parts)
