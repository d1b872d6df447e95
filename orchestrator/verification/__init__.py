"""The DeployVerifier: is what runs what we merged, and is it healthy?

`verify(app, services)` = `collect` (all the I/O, bounded by a time budget)
then `decide` (pure judgement). It never raises for an unreachable GitHub or
app: those are facts in the report. Render with `report.to_message` (Discord)
or `report.to_json` (scripts).

    report = await verify(app, services, run_url="https://github.com/acme/web/actions/runs/1")
    await rest.create_message(channel_id, to_message(report))
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from orchestrator.verification.collect import collect
from orchestrator.verification.decide import Check, Report, Status, decide
from orchestrator.verification.facts import Facts
from orchestrator.verification.parse import parse_run_url
from orchestrator.verification.report import to_json, to_message

if TYPE_CHECKING:
    from orchestrator.apps import App
    from orchestrator.clients import Clients

__all__ = [
    "Check",
    "Facts",
    "Report",
    "Status",
    "collect",
    "decide",
    "parse_run_url",
    "to_json",
    "to_message",
    "verify",
]

log = logging.getLogger(__name__)


async def verify(
    app: App,
    services: Clients,
    *,
    run_id: int | None = None,
    run_url: str | None = None,
    budget: float = 10.0,
    check_timeout: float = 4.0,
) -> Report:
    facts = await collect(
        app, services, run_id=run_id, run_url=run_url, budget=budget, check_timeout=check_timeout
    )
    report = decide(facts)
    log.info(
        "deploy verified",
        extra={
            "app": app.name,
            "run_id": report.run_id,
            "verdict": report.verdict.name.lower(),
            "duration_ms": report.duration_ms,
        },
    )
    return report
