"""Jobs seam: register with `@registry.job(name)`, run with `services.jobs.dispatch(...)`."""

from orchestrator.jobs.base import (
    Dispatcher,
    Job,
    JobContext,
    JobRegistry,
    JobRunner,
    UnknownJob,
    registry,
)

__all__ = ["Dispatcher", "Job", "JobContext", "JobRegistry", "JobRunner", "UnknownJob", "registry"]
