"""A completed run of an app's deploy workflow goes into the run log the digest reads."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from orchestrator.digest.runlog import is_deploy_run, record_run
from orchestrator.github.events import Event, WorkflowRun
from orchestrator.github.routing import EventRouter

if TYPE_CHECKING:
    from orchestrator.jobs.base import JobContext
    from orchestrator.runtime import Runtime

log = logging.getLogger(__name__)

router = EventRouter()


@router.on("workflow_run", action="completed")
async def record_deploy_run(event: Event, ctx: JobContext[Runtime]) -> None:
    from orchestrator.apps import apps_of

    run = WorkflowRun(event.payload.get("workflow_run"))
    repo = event.repo or run.repo
    workflow = event.payload.get("workflow")
    workflow_name = workflow.get("name") if isinstance(workflow, dict) else None
    for app in apps_of(ctx.services).values():
        if is_deploy_run(app, repo, run, workflow_name):
            record_run(ctx.services.store, app.name, run)
            log.info("deploy run recorded", extra={"app": app.name, "run_id": run.id})
