"""Two current events of one run handled at once: the message ends on the newest state.

A job per delivery means a run's `in_progress` and `completed` may be handled at the same
time; their message edits must reach Discord in order, and the older one must not be
folded into (or drawn over) the state the newer one saved.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from orchestrator.config import load_settings
from orchestrator.deploys import tracking
from orchestrator.deploys.advance import advance
from orchestrator.deploys.tracking import Tracked
from orchestrator.github.events import Event
from orchestrator.services import Services
from tests.support import github_objects as gh

REPO = "acme/web"
RUN = 4242

BASE = Tracked(
    kind="diagnose",  # nothing to verify: the test is about the order of the edits
    app="web",
    repo=REPO,
    ref="main",
    actor="1",
    correlation="orc-0000abcd",
    interaction_token="live-token",
    token_expires_at=time.time() + 600,
    run_id=RUN,
    status="queued",
)


class SlowFirstEdit:
    """Discord, where the first edit is slow to land: the edits are recorded as they land."""

    def __init__(self) -> None:
        self.landed: list[str] = []
        self.calls = 0

    async def edit_original(self, token: str, data: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        if self.calls == 1:
            await asyncio.sleep(0.3)
        self.landed.append(str(data["embeds"][0]["description"]))
        return {"id": "66", "channel_id": "55"}


def event(status: str, conclusion: str | None, updated: str, delivery: str) -> Event:
    run = gh.workflow_run(
        repo=REPO, id=RUN, status=status, conclusion=conclusion, updated_at=updated
    )
    payload = {
        "action": "completed" if conclusion else "in_progress",
        "workflow_run": run,
        "repository": run["repository"],
    }
    return Event("workflow_run", delivery, payload)


def test_concurrent_events_of_one_run_are_drawn_in_order(tmp_path: Path) -> None:
    services = Services(load_settings(ORCHESTRATOR_DATA_DIR=tmp_path))
    tracking.save(services.store, BASE)
    discord = SlowFirstEdit()
    running = event("in_progress", None, "2026-12-01T10:00:10Z", "d-1")
    done = event("completed", "success", "2026-12-01T10:00:20Z", "d-2")

    async def handle(e: Event) -> None:
        found = tracking.load_for_event(services.store, e)
        assert found is not None
        from orchestrator.github import reconcile

        if reconcile.is_current(services.store, e):
            await advance(services, found, e, discord)  # type: ignore[arg-type]

    async def both() -> None:
        first = asyncio.create_task(handle(running))
        await asyncio.sleep(0.05)  # `in_progress` is being drawn when `completed` comes
        await asyncio.gather(first, handle(done))

    asyncio.run(both())
    final = tracking.load_correlation(services.store, BASE.correlation)
    assert final is not None and final.status == "completed"
    assert "succeeded" in discord.landed[-1], discord.landed


def test_an_older_event_that_waited_for_the_run_changes_nothing(tmp_path: Path) -> None:
    """`in_progress` was current when it came, but `completed` took the run first: once
    `in_progress` gets its turn, it is stale and must not reopen the run or redraw it."""
    from orchestrator.github import reconcile

    services = Services(load_settings(ORCHESTRATOR_DATA_DIR=tmp_path))
    tracking.save(services.store, BASE)
    discord = SlowFirstEdit()
    running = event("in_progress", None, "2026-12-01T10:00:10Z", "d-1")
    done = event("completed", "success", "2026-12-01T10:00:20Z", "d-2")
    assert reconcile.is_current(services.store, running)
    assert reconcile.is_current(services.store, done)

    async def both() -> None:
        first = asyncio.create_task(advance(services, BASE, done, discord))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)  # `completed` holds the run (its edit is slow)
        await asyncio.gather(first, advance(services, BASE, running, discord))  # type: ignore[arg-type]

    asyncio.run(both())
    final = tracking.load_correlation(services.store, BASE.correlation)
    assert final is not None and final.status == "completed"
    assert len(discord.landed) == 1 and "succeeded" in discord.landed[0], discord.landed


def test_events_folded_at_once_both_count(tmp_path: Path) -> None:
    """Two jobs finishing at once, each handler holding the state it read before the other
    saved: both are counted (the state is read again under the run's lock)."""
    services = Services(load_settings(ORCHESTRATOR_DATA_DIR=tmp_path))
    running = replace(BASE, status="in_progress", jobs_total=2)
    tracking.save(services.store, running)
    discord = SlowFirstEdit()

    def finished_job(job_id: int, name: str) -> Event:
        job = gh.job(
            repo=REPO,
            id=job_id,
            run_id=RUN,
            name=name,
            status="completed",
            conclusion="success",
            completed_at=f"2026-12-01T10:00:{job_id % 60:02d}Z",
        )
        return Event("workflow_job", f"job-{job_id}", {"action": "completed", "workflow_job": job})

    async def both() -> None:
        await asyncio.gather(
            advance(services, running, finished_job(11, "build"), discord),  # type: ignore[arg-type]
            advance(services, running, finished_job(12, "test"), discord),  # type: ignore[arg-type]
        )

    asyncio.run(both())
    final = tracking.load_correlation(services.store, BASE.correlation)
    assert final is not None and final.jobs_done == 2
