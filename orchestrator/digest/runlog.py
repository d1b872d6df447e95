"""The run log: every completed run of a configured app's deploy workflow, for the digest.

Why record it ourselves rather than ask GitHub when the digest is due: the digest
then needs no GitHub call (and no rate limit), covers deploys started outside
Discord too, and works the same from a scheduled Lambda invocation. The key ends in
the run id and attempt, so a redelivered webhook overwrites instead of counting twice.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from orchestrator.github.events import WorkflowRun
from orchestrator.store import keys

if TYPE_CHECKING:
    from orchestrator.apps import App
    from orchestrator.store.base import Store

log = logging.getLogger(__name__)

RUNLOG_TTL = 60 * 24 * 3600


def is_deploy_run(app: App, repo: str | None, run: WorkflowRun, workflow_name: str | None) -> bool:
    """The app's deploy workflow, named by file (`deploy.yml`) or by name (`Deploy`)."""
    if not repo or repo.lower() != app.repo.lower():
        return False
    wanted = app.workflow.strip().lower()
    names = {run.workflow_file, run.raw.get("name"), workflow_name}
    return any(isinstance(n, str) and n.strip().lower() == wanted for n in names)


def run_record(run: WorkflowRun) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "attempt": run.attempt,
        "conclusion": run.conclusion,
        "duration": run.duration,
        "url": run.html_url,
        "head_sha": run.head_sha,
        "branch": run.head_branch,
        "completed_at": run.updated_at or time.time(),
    }


def record_run(store: Store, app: str, run: WorkflowRun) -> str:
    value = run_record(run)
    key = keys.run(app, float(value["completed_at"]), run.id, run.attempt)
    store.put(key, value, ttl=RUNLOG_TTL)
    return key
