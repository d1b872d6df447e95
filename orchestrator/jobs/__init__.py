"""Jobs seam: a feature registers on its own `JobRegistry`, the composition root merges
them, and work is started with `services.jobs.dispatch(name, payload)`."""

from orchestrator.jobs.base import Dispatcher, Job, JobContext, JobRegistry, UnknownJob

__all__ = ["Dispatcher", "Job", "JobContext", "JobRegistry", "UnknownJob"]
