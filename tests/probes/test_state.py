"""The probe state machine, table-driven: first observation silent, changes only on flips."""

from __future__ import annotations

import pytest

from orchestrator.probes.state import Change, ProbeResult, ProbeState, transition

UP_SINCE_100 = ProbeState(up=True, since=100.0, checked_at=100.0, generation=1, status=200, ms=50)
DOWN_SINCE_100 = ProbeState(
    up=False, since=100.0, checked_at=100.0, generation=4, status=503, ms=40, cause="HTTP 503"
)


def ok(at: float, ms: int = 30) -> ProbeResult:
    return ProbeResult(ok=True, at=at, status=200, ms=ms)


def bad(at: float, status: int | None = 503, error: str | None = None) -> ProbeResult:
    return ProbeResult(ok=False, at=at, status=status, ms=20, error=error)


@pytest.mark.parametrize(
    ("previous", "result", "state", "change"),
    [
        pytest.param(
            None,
            ok(100),
            ProbeState(True, 100, 100, 1, 200, 30, None),
            None,
            id="first-up-silent",
        ),
        pytest.param(
            None,
            bad(100),
            ProbeState(False, 100, 100, 1, 503, 20, "HTTP 503"),
            None,
            id="first-down-silent",
        ),
        pytest.param(
            UP_SINCE_100,
            ok(160, ms=70),
            ProbeState(True, 100, 160, 2, 200, 70, None),
            None,
            id="still-up-keeps-since",
        ),
        pytest.param(
            UP_SINCE_100,
            bad(160),
            ProbeState(False, 160, 160, 2, 503, 20, "HTTP 503"),
            Change(up=False, at=160, previous_since=100, cause="HTTP 503", status=503, ms=20),
            id="up-to-down",
        ),
        pytest.param(
            DOWN_SINCE_100,
            bad(160, status=None, error="timed out after 10 s"),
            ProbeState(False, 100, 160, 5, None, 20, "HTTP 503"),
            None,
            id="still-down-keeps-first-cause",
        ),
        pytest.param(
            DOWN_SINCE_100,
            ok(400),
            ProbeState(True, 400, 400, 5, 200, 30, None),
            Change(up=True, at=400, previous_since=100, cause="HTTP 503", status=200, ms=30),
            id="down-to-up-carries-the-cause",
        ),
        pytest.param(UP_SINCE_100, bad(99), UP_SINCE_100, None, id="stale-result-ignored"),
    ],
)
def test_transition(
    previous: ProbeState | None, result: ProbeResult, state: ProbeState, change: Change | None
) -> None:
    assert transition(previous, result) == (state, change)


def test_a_stale_result_returns_the_very_same_state() -> None:
    """`run.commit` relies on identity to skip the write."""
    new, change = transition(UP_SINCE_100, bad(50))
    assert new is UP_SINCE_100 and change is None


def test_flapping_is_two_changes_and_the_incident_spans_the_outage() -> None:
    state, changes = None, []
    for result in (ok(0), bad(300), bad(600), ok(900), ok(1200)):
        state, change = transition(state, result)
        if change is not None:
            changes.append(change)
    down, up = changes
    assert (down.up, up.up) == (False, True)
    assert down.incident_start == up.incident_start == 300
    assert up.downtime == 600 and down.downtime is None
    assert state is not None and state.generation == 5


@pytest.mark.parametrize(
    ("result", "cause"),
    [
        (ProbeResult(ok=False, at=0, error="connection failed"), "connection failed"),
        (ProbeResult(ok=False, at=0, status=500), "HTTP 500"),
        (ProbeResult(ok=True, at=0, status=204), "HTTP 204"),
        (ProbeResult(ok=False, at=0), "no answer"),
    ],
)
def test_cause(result: ProbeResult, cause: str) -> None:
    assert result.cause == cause


def test_json_round_trips() -> None:
    assert ProbeState.from_json(DOWN_SINCE_100.to_json()) == DOWN_SINCE_100
    result = bad(5, error="timed out")
    assert ProbeResult.from_json(result.to_json()) == result
    assert ProbeState.from_json({}) == ProbeState(False, 0.0, 0.0, 0)
