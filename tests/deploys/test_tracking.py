"""Tracked runs: folding webhooks into state, and the message for every state."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from orchestrator.deploys import tracking
from orchestrator.deploys.render import render
from orchestrator.deploys.tracking import Tracked, apply
from orchestrator.github.events import Event
from orchestrator.store.sqlite import SQLiteStore
from tests.support.discord_spec import DiscordSpec

BASE = Tracked(
    kind="deploy",
    app="web",
    repo="acme/web",
    ref="main",
    actor="42",
    correlation="orc-0123abcd",
    workflow="deploy.yml",
)


def run_event(
    action: str, status: str, conclusion: str | None = None, attempt: int = 1, **extra: Any
) -> Event:
    run = {
        "id": 7,
        "status": status,
        "conclusion": conclusion,
        "run_attempt": attempt,
        "head_sha": "abcdef1234567890",
        "html_url": "https://github.com/acme/web/actions/runs/7",
        "run_started_at": "2026-11-29T04:00:00Z",
        "updated_at": "2026-11-29T04:02:30Z",
        "name": "Client Deploy",
        "display_title": "Deploy orc-0123abcd",
        "event": "workflow_dispatch",
        "path": ".github/workflows/deploy.yml",
        "workflow_id": 161335,
        **extra,
    }
    return Event(
        "workflow_run",
        "d",
        {"action": action, "workflow_run": run, "repository": {"full_name": "acme/web"}},
    )


def job_event(action: str, status: str, name: str, conclusion: str | None = None) -> Event:
    return Event(
        "workflow_job",
        "d",
        {
            "action": action,
            "repository": {"full_name": "acme/web"},
            "workflow_job": {
                "id": 70,
                "run_id": 7,
                "name": name,
                "status": status,
                "conclusion": conclusion,
            },
        },
    )


def test_a_deploy_moves_from_requested_to_completed() -> None:
    state = apply(BASE, run_event("requested", "queued"))
    assert (state.status, state.run_id) == ("queued", 7)
    state = apply(state, run_event("in_progress", "in_progress"))
    state = apply(state, job_event("in_progress", "in_progress", "build"))
    assert (state.status, state.current_job) == ("in_progress", "build")
    state = apply(state, job_event("completed", "completed", "build", "success"))
    assert (state.jobs_done, state.current_job) == (1, None)
    state = apply(state, job_event("completed", "completed", "deploy", "failure"))
    assert state.failed_jobs == ("deploy",)
    state = apply(state, run_event("completed", "completed", "failure"))
    assert (state.status, state.conclusion) == ("completed", "failure")
    assert state.duration == 150
    late_job = apply(state, job_event("in_progress", "in_progress", "ghost"))
    assert late_job == state, "a late job event must not reopen a finished run"


def test_a_rerun_reopens_the_run_and_drops_the_old_verdict() -> None:
    done = replace(
        apply(BASE, run_event("completed", "completed", "failure")),
        verdict="FAIL",
        verdict_summary="x",
    )
    rerun = apply(done, run_event("requested", "queued", attempt=2))
    assert (rerun.status, rerun.conclusion, rerun.verdict) == ("queued", None, None)


@pytest.mark.parametrize(
    ("state", "expect"),
    [
        (BASE, "requested"),
        (replace(BASE, run_id=7, status="queued"), "queued"),
        (
            replace(BASE, run_id=7, status="in_progress", current_job="build", jobs_done=2),
            "in progress: build (2 jobs done)",
        ),
        (
            replace(
                BASE,
                run_id=7,
                status="completed",
                conclusion="success",
                started_at=0.0,
                finished_at=185.0,
            ),
            "succeeded in 3 min 5 s",
        ),
        (
            replace(
                BASE, run_id=7, status="completed", conclusion="failure", failed_jobs=("deploy",)
            ),
            "failed",
        ),
        (
            replace(
                BASE,
                run_id=7,
                status="completed",
                conclusion="success",
                verdict="FAIL",
                verdict_summary="frontend serves old",
            ),
            "verification: frontend serves old",
        ),
    ],
)
def test_every_state_renders_a_valid_message(state: Tracked, expect: str) -> None:
    message = render(state)
    [embed] = message.embeds
    assert expect in embed["description"]
    DiscordSpec.get().assert_valid_request(
        "PATCH", "/webhooks/1/t/messages/@original", message.to_data(edit=True)
    )


def test_buttons_follow_the_state() -> None:
    def labels(state: Tracked) -> list[str]:
        rows = render(state).components
        return [c["label"] for row in rows for c in row["components"]]

    assert labels(BASE) == []
    assert labels(replace(BASE, run_id=7, status="in_progress", run_url="https://x")) == [
        "Verify now",
        "Cancel",
        "Open run",
    ]
    assert labels(replace(BASE, run_id=7, status="completed", conclusion="failure")) == [
        "Verify now",
        "Re-run failed jobs",
    ]
    assert labels(replace(BASE, run_id=7, status="completed", conclusion="success")) == [
        "Verify now"
    ]
    [row] = render(replace(BASE, run_id=7, status="queued")).components
    assert row["components"][0]["custom_id"] == "deploy.verify:web:7"
    # Cancelled is final: stopped on purpose, nothing to cancel or re-run.
    assert labels(replace(BASE, run_id=7, status="completed", conclusion="cancelled")) == [
        "Verify now"
    ]
    asked = replace(BASE, run_id=7, status="queued", cancel_requested_by="42")
    assert labels(asked) == ["Verify now"]
    assert "cancelling" in render(asked).embeds[0]["description"]


def test_a_conclusion_is_final_whatever_the_status_says() -> None:
    """A payload with a conclusion ends the run even if its status is not `completed`."""
    queued = apply(BASE, run_event("requested", "queued"))
    ended = apply(queued, run_event("completed", "cancelled", "cancelled"))
    assert (ended.status, ended.conclusion, ended.finished) == ("completed", "cancelled", True)
    assert "was cancelled" in render(ended).embeds[0]["description"]
    assert replace(BASE, status="queued", conclusion="cancelled").finished


def test_a_press_lands_on_the_run_as_webhooks_left_it() -> None:
    """What a button computed applies to the latest stored state; once the run moved on,
    only who asked for what does."""
    before = replace(BASE, run_id=7, status="queued")
    pressed = replace(before, cancel_requested_by="42", note="cancel requested by <@42>")
    cancelled = replace(before, status="completed", conclusion="cancelled", finished_at=9.0)
    assert tracking.after_press(None, before, pressed) == pressed
    assert tracking.after_press(before, before, pressed) == pressed
    landed = tracking.after_press(cancelled, before, pressed)
    assert (landed.status, landed.conclusion, landed.finished_at) == ("completed", "cancelled", 9.0)
    assert (landed.cancel_requested_by, landed.note) == ("42", "cancel requested by <@42>")
    failed = replace(before, status="completed", conclusion="failure")
    rerun = replace(failed, status="queued", conclusion=None, note="re-run by <@42>")
    back_in_flight = replace(failed, status="in_progress", conclusion=None)
    landed = tracking.after_press(back_in_flight, failed, rerun)
    assert (landed.status, landed.note) == ("in_progress", "re-run by <@42>")
    rerun_again = apply(
        replace(cancelled, cancel_requested_by="42"), run_event("requested", "queued", attempt=2)
    )
    assert rerun_again.cancel_requested_by is None and not rerun_again.finished


def test_events_find_their_run_by_id_or_by_correlation(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3")
    tracking.save(store, BASE)  # no run id yet: GitHub answered the dispatch with 204
    found = tracking.load_for_event(store, run_event("requested", "queued"))
    assert found is not None and found.run_id == 7
    tracking.save(store, found)
    assert tracking.load_for_event(store, job_event("queued", "queued", "build")) == found
    stranger = run_event("requested", "queued", display_title="Someone else's run", id=8)
    assert tracking.load_for_event(store, stranger) is None
    other_repo = Event(
        "workflow_run",
        "d",
        {**run_event("requested", "queued").payload, "repository": {"full_name": "evil/web"}},
    )
    assert tracking.load_for_event(store, replace(other_repo)) is None


@pytest.mark.parametrize(
    ("case", "extra"),
    [
        ("a pull request's run", {"event": "pull_request"}),
        ("a push's run", {"event": "push"}),
        ("another workflow", {"path": ".github/workflows/docs.yml"}),
        ("no event", {"event": None}),
    ],
)
def test_finding_01_only_the_dispatched_run_claims_a_correlation(
    tmp_path: Path, case: str, extra: dict[str, Any]
) -> None:
    """Security finding 1: a run whose title carries a tracked deploy's (public) correlation
    id takes it over only if it is a `workflow_dispatch` run of the dispatched workflow in
    the same repository, and only while no run id is known."""
    store = SQLiteStore(tmp_path / "s.sqlite3")
    tracking.save(store, BASE)
    forged = run_event("completed", "completed", "success", id=990001, **extra)
    assert tracking.load_for_event(store, forged) is None, case
    assert tracking.load(store, "acme/web", 990001) is None


def test_finding_01_a_known_run_id_is_the_only_one_that_moves_the_message(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3")
    tracking.save(store, replace(BASE, run_id=7, status="queued"))
    # Even a perfect imitation (dispatch, same workflow, same title) of another run is ignored.
    imitation = run_event("completed", "completed", "success", id=990001)
    assert tracking.load_for_event(store, imitation) is None
    by_id = tracking.load_for_event(store, run_event("completed", "completed", "success"))
    assert by_id is not None and by_id.run_id == 7
    # The workflow named by id matches a run of that workflow id.
    tracking.save(store, replace(BASE, correlation="orc-0000beef", workflow="161335"))
    numbered = run_event("requested", "queued", id=11, display_title="Deploy orc-0000beef")
    found = tracking.load_for_event(store, numbered)
    assert found is not None and found.run_id == 11


def test_records_round_trip() -> None:
    state = replace(BASE, failed_jobs=("a", "b"), run_id=3)
    assert Tracked.from_record(state.to_record()) == state
    assert Tracked.from_record({**state.to_record(), "from_the_future": 1}) == state


def test_a_retried_completion_still_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first try of a "completed" delivery failed after saving the finished state (a
    Discord 5xx, a verifier crash): the automatic retry must still verify, once."""
    import asyncio

    from orchestrator.config import load_settings
    from orchestrator.deploys import runs
    from orchestrator.jobs.base import Job, JobContext
    from orchestrator.services import Services
    from orchestrator.webhooks import deploys as handlers

    services = Services(load_settings(ORCHESTRATOR_DATA_DIR=tmp_path))
    tracking.save(services.store, replace(BASE, run_id=7, status="in_progress"))
    verified: list[int] = []

    async def publish(*_: Any) -> None:
        return None

    async def verify(_: Services, tracked: Tracked) -> Tracked:
        verified.append(tracked.run_id or 0)
        if len(verified) == 1:
            raise RuntimeError("verifier crashed")
        return replace(tracked, verdict="PASS", verdict_summary="all checks passed")

    monkeypatch.setattr(runs, "publish", publish)
    monkeypatch.setattr(runs, "verify", verify)
    done = run_event("completed", "completed", "success")
    context = JobContext(job=Job("github.delivery", {}), services=services)
    with pytest.raises(RuntimeError):
        asyncio.run(handlers.follow_run(done, context))
    asyncio.run(handlers.follow_run(done, context))  # the retry
    asyncio.run(handlers.follow_run(done, context))  # a later duplicate: already verified
    assert verified == [7, 7]
    stored = tracking.load(services.store, "acme/web", 7)
    assert stored is not None and stored.verdict == "PASS"
    services.close()


def test_a_repository_spelled_differently_by_github_still_finds_its_run(tmp_path: Path) -> None:
    """The config says `Acme/Web`, GitHub's webhooks say `acme/web`: the run found once by
    its correlation id is found by its run id afterwards (found by the final review)."""
    store = SQLiteStore(tmp_path / "s.sqlite3")
    tracking.save(store, replace(BASE, repo="Acme/Web"))
    first = tracking.load_for_event(store, run_event("requested", "queued"))
    assert first is not None and first.run_id == 7
    tracking.save(store, first)
    later = tracking.load_for_event(store, run_event("in_progress", "in_progress"))
    assert later is not None and later.run_id == 7
    assert tracking.load(store, "acme/web", 7) is not None
