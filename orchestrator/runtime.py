"""What lower layers may ask of the running app: settings, the store, the jobs seam.

The composition root (`orchestrator.services.Services`) builds these lazily and knows
every feature; the kernel and the features must not, or every module would import
every other one. So they annotate against this small `Protocol` instead, and tests
can hand in anything with these three attributes.

The two API clients are one layer up, in `orchestrator.clients`: the kernel (jobs,
audit, traces) never talks to Discord or GitHub.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from orchestrator.config import Settings
    from orchestrator.jobs.base import Dispatcher
    from orchestrator.store.base import Store


class Runtime(Protocol):
    """The settings, the store and where jobs run; each built on first use."""

    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> Store: ...

    @property
    def jobs(self) -> Dispatcher: ...
