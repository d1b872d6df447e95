"""The in-process scheduler: a daemon thread that dispatches each due slot as a job,
and on every tick submits the failed jobs whose retry is due (`jobs.retry`).

Why a thread of its own rather than a task on the jobs loop: it only decides and
dispatches (pure `due`, one store claim), the job itself runs wherever the jobs
backend runs it. Each slot is claimed in the store before it is dispatched, so with
several workers (or a restart within a slot) one of them dispatches it; the job id is
the slot's, so even a dispatch that slipped through meets the runner's claim.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from orchestrator.config import Env
from orchestrator.schedules.timing import (
    Schedule,
    due,
    schedules,
    slot_job_id,
    slot_payload,
)
from orchestrator.store import keys

if TYPE_CHECKING:
    from orchestrator.config import Settings
    from orchestrator.services import Services

log = logging.getLogger(__name__)

SLOT_CLAIM_TTL = 8 * 24 * 3600  # longer than the longest schedule period
TICK = 5.0


def enabled(settings: Settings) -> bool:
    """`ORCHESTRATOR_SCHEDULER`: on in dev unless turned off; in test and prod only if
    asked (prod has EventBridge Scheduler; tests drive schedules themselves)."""
    if settings.scheduler is None:
        return settings.env is Env.DEV
    return settings.scheduler == "on"


class LocalScheduler:
    def __init__(
        self,
        services: Services,
        plan: Sequence[Schedule] | None = None,
        *,
        tick: float = TICK,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.services = services
        self.plan = tuple(plan) if plan is not None else schedules(services.settings)
        self.tick = tick
        self.clock = clock
        self._last: dict[str, datetime] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick_once(self, now: datetime | None = None) -> list[str]:
        """Dispatch every due slot; returns the job ids this scheduler dispatched."""
        moment = now or datetime.fromtimestamp(self.clock(), UTC)
        dispatched = []
        for schedule in self.plan:
            slot = due(schedule, self._last.get(schedule.name), moment)
            if slot is None:
                continue
            job_id = slot_job_id(schedule, slot)
            try:
                if self.services.store.claim(keys.schedule_slot(job_id), ttl=SLOT_CLAIM_TTL):
                    self.services.jobs.dispatch(
                        schedule.job, slot_payload(schedule, slot), job_id=job_id
                    )
                    dispatched.append(job_id)
            except Exception as exc:  # the store or the dispatcher failing: next tick retries
                log.warning(
                    "scheduled job not dispatched",
                    extra={"job_id": job_id, "error": type(exc).__name__},
                )
                continue
            self._last[schedule.name] = slot
        self._sweep(moment)
        return dispatched

    def _sweep(self, moment: datetime) -> None:
        """Failed jobs whose retry is due (`jobs.retry`): one small store query per tick."""
        from orchestrator.jobs.retry import sweep

        try:
            sweep(self.services, now=moment.timestamp())
        except Exception as exc:  # the store down: the plan stays, the next tick tries again
            log.warning("retry sweep failed", extra={"error": type(exc).__name__})

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick_once()
            except Exception:  # never let the thread die: log and try again next tick
                log.exception("scheduler tick failed")
            self._stop.wait(self.tick)

    def start(self) -> LocalScheduler:
        self._thread = threading.Thread(
            target=self._serve, name="orchestrator-scheduler", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


def start_scheduler(services: Services) -> LocalScheduler | None:
    """Start the scheduler if `ORCHESTRATOR_SCHEDULER` says so (the app lifespan calls it)."""
    if not enabled(services.settings):
        return None
    log.info("local scheduler started")
    return LocalScheduler(services).start()
