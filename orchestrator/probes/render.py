"""Probe messages, pure: a change (or the stored states) in, a Discord message out.

Times are Discord timestamp markup (`<t:unix:R>`), so every reader sees them in their
own time zone and relative ("5 minutes ago") without us knowing where they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from orchestrator.discord.messages import Color, Message, embed
from orchestrator.probes.state import Change, ProbeState, Target, display_app
from orchestrator.text import duration


def when(at: float, style: str = "R") -> str:
    return f"<t:{int(at)}:{style}>"


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


def change_message(target: Target, change: Change) -> Message:
    """The one message a state change gets."""
    name = f"{display_app(target.app)} · {target.name}"
    if change.up:
        took = duration(change.downtime)
        lines = [f"Down for {took} (since {when(change.previous_since, 'f')})."]
        if change.cause:
            lines.append(f"It was: {change.cause}")
        if change.ms is not None:
            lines.append(f"Answering in {change.ms} ms.")
        title, color = f"✅ {name} is back up", Color.GREEN
    else:
        lines = [f"`{target.url}`: {change.cause or 'no answer'}"]
        title, color = f"❌ {name} is down", Color.RED
    return Message(
        embeds=[
            embed(
                title,
                "\n".join(lines),
                color=color,
                url=target.url,
                footer="uptime probe",
                timestamp=_iso(change.at),
            )
        ]
    )


def state_line(target: str, state: ProbeState) -> str:
    """`✅ frontend: up since <t:..:R> · 120 ms` for `/uptime`."""
    latency = f" · {state.ms} ms" if state.ms is not None else ""
    if state.up:
        return f"✅ **{target}**: up since {when(state.since)}{latency}"
    cause = f" ({state.cause})" if state.cause else ""
    return f"❌ **{target}**: down since {when(state.since)}{cause}{latency}"


def incident_line(incident: dict[str, Any], now: float) -> str:
    start = float(incident.get("start") or 0.0)
    end = incident.get("end")
    target = incident.get("target") or "?"
    cause = incident.get("cause") or "?"
    if isinstance(end, int | float):
        lasted = f"lasted {duration(float(end) - start)}"
    else:
        lasted = f"ongoing, {duration(now - start)} so far"
    return f"• {when(start, 'f')} · {target} · {lasted} · {cause}"


def uptime_message(
    apps: Sequence[tuple[str, Sequence[tuple[str, ProbeState]], Sequence[dict[str, Any]]]],
    now: float,
) -> Message:
    """`/uptime`: one embed field per app, with its targets and recent incidents."""
    fields: list[tuple[str, str] | tuple[str, str, bool]] = []
    all_up = True
    for app, states, incidents in apps:
        lines = [state_line(target, state) for target, state in states]
        all_up &= all(state.up for _, state in states)
        if not lines:
            lines = ["not probed yet"]
        if incidents:
            lines.append("Recent incidents:")
            lines.extend(incident_line(incident, now) for incident in incidents)
        fields.append((display_app(app), "\n".join(lines)))
    if not fields:
        return Message(embeds=[embed("📡 Uptime", "No apps with URLs to probe.", color=Color.GREY)])
    return Message(
        embeds=[
            embed(
                "📡 Uptime",
                None,
                color=Color.GREEN if all_up else Color.RED,
                fields=fields[:25],
                footer="probed on a schedule; times in your time zone",
            )
        ]
    )
