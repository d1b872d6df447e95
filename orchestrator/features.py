"""Every feature module, imported on demand so its registrations exist.

Commands, GitHub event handlers and jobs register themselves when their
module is imported, and the request path imports only what it needs. A job
event arriving in a fresh Lambda container may name a job whose module
nothing has imported yet: the job registry calls `load_all()` before it
calls a job unknown.
"""

from __future__ import annotations


def load_all() -> None:
    import orchestrator.commands
    import orchestrator.discord.dispatch
    import orchestrator.github.intake  # the webhook delivery job
    import orchestrator.schedules.jobs  # noqa: F401  - probes.run, digest.send
    from orchestrator.github.routing import product_router

    product_router()  # GitHub event handlers (notifications, deploy tracking)
