"""The app's dependencies in one place, built lazily.

Routers and jobs reach the store, the job dispatcher and the API clients
through `Services`, never by constructing them. Each is created on first use,
so a cold start that only answers a PING opens no database and imports no
HTTP client, and tests can hand in fakes by passing them to the constructor.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from orchestrator.config import JobsBackend, Settings

if TYPE_CHECKING:
    from orchestrator.jobs.base import Dispatcher
    from orchestrator.store.base import Store


class Services:
    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        jobs: Dispatcher | None = None,
    ) -> None:
        self.settings = settings
        self._store = store
        self._jobs = jobs
        self._lock = threading.Lock()

    @property
    def store(self) -> Store:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    from orchestrator.store import open_store

                    self._store = open_store(self.settings)
        return self._store

    @property
    def jobs(self) -> Dispatcher:
        if self._jobs is None:
            with self._lock:
                if self._jobs is None:
                    self._jobs = self._open_jobs()
        return self._jobs

    def _open_jobs(self) -> Dispatcher:
        if self.settings.jobs is JobsBackend.INPROCESS:
            from orchestrator.jobs.inprocess import InProcessDispatcher

            return InProcessDispatcher(self)
        raise NotImplementedError(
            f"jobs backend {self.settings.jobs.value!r} is not available yet; "
            "use ORCHESTRATOR_JOBS=inprocess"
        )

    def close(self, timeout: float = 10.0) -> None:
        """Finish in-flight jobs, then release the store."""
        if self._jobs is not None:
            self._jobs.close(timeout)
        if self._store is not None:
            self._store.close()
