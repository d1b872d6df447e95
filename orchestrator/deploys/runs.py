"""Starting and following tracked runs: dispatch, find the run, edit the message, verify.

The I/O around `tracking` and `render`: GitHub calls through `services.github()`,
Discord edits through the interaction token while it lives (15 minutes) and
through the bot token after that, verification through `orchestrator.verification`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from orchestrator.deploys import deployments, history
from orchestrator.deploys.render import render
from orchestrator.deploys.tracking import (
    TOKEN_LIFETIME,
    Tracked,
    new_correlation_id,
    save,
)
from orchestrator.github.events import WorkflowRun
from orchestrator.github.refs import InvalidRef, check_sha

if TYPE_CHECKING:
    from orchestrator.apps import App
    from orchestrator.clients import Clients
    from orchestrator.discord.rest import DiscordREST
    from orchestrator.github.client import GitHubClient

log = logging.getLogger(__name__)

FIND_RUN_ATTEMPTS = 6
FIND_RUN_INTERVAL = 2.0


async def find_run_by_correlation(
    github: GitHubClient,
    repo: str,
    workflow: str,
    ref: str,
    correlation: str,
    *,
    attempts: int = FIND_RUN_ATTEMPTS,
    interval: float = FIND_RUN_INTERVAL,
) -> dict[str, Any] | None:
    """Older GitHub answers a dispatch with 204 and no run id: look for the run whose title
    carries our correlation id, for a bounded while (runs take a few seconds to appear)."""
    for attempt in range(attempts):
        runs = await github.list_workflow_runs(
            repo, workflow, branch=ref, event="workflow_dispatch", per_page=20
        )
        for raw in runs:
            run = WorkflowRun(raw)
            if correlation in " ".join(filter(None, [run.title, run.name])):
                return raw
        if attempt < attempts - 1:
            await asyncio.sleep(interval)
    return None


async def start(
    services: Clients,
    *,
    kind: str,
    app: App,
    workflow: str,
    ref: str,
    inputs: dict[str, str],
    actor: str | None,
    interaction_token: str | None,
    discord: DiscordREST,
    followup: bool = False,
    environment: str | None = None,
    correlation: str | None = None,
    token_expires_at: float | None = None,
    posted: tuple[str, str] | None = None,
    sha: str | None = None,
) -> Tracked:
    """Dispatch `workflow`, post the tracking message, remember both.

    It raises only when nothing went out (the dispatch itself failed, or never happened):
    whatever fails after GitHub accepted the dispatch (a Discord edit, the store, looking
    the run up) is logged and noted on the run, which is returned and saved as far as it
    can be, so its webhooks still find it and nobody dispatches it again.

    The message is the deferred reply itself, or (`followup=True`, when the reply is
    used for something else, like /diagnose's self-check) a follow-up message. A deploy
    started later from the queue (`deploys.launch`) passes its own correlation id, when
    its token lapses (`token_expires_at`), and the message it `posted` (channel id,
    message id), which is edited with the bot token once the token no longer works.
    """
    correlation = correlation or new_correlation_id()
    expires = time.time() + TOKEN_LIFETIME if token_expires_at is None else token_expires_at
    token = interaction_token if interaction_token and time.time() < expires else None
    if token is None and posted is None:
        raise ValueError("a tracked run needs a live interaction token or a posted message")
    sent_inputs = dict(inputs)
    if app.correlation_input:
        sent_inputs[app.correlation_input] = correlation
    tracked = Tracked(
        kind=kind,
        app=app.name,
        repo=app.repo,
        ref=ref,
        actor=actor,
        correlation=correlation,
        workflow=workflow,
        environment=environment,
        interaction_token=token,
        token_expires_at=expires,
        followup=followup,
        channel_id=posted[0] if posted else None,
        message_id=posted[1] if posted else None,
    )
    async with services.github() as github:
        if deployments.wanted(kind, environment):
            # The GitHub Deployment comes first, so every webhook about the run finds it.
            tracked = await _create_deployment(services, github, tracked, app, inputs, sha)
        try:
            result = await github.dispatch_workflow(
                app.repo, workflow, ref, sent_inputs, return_run_details=True
            )
        except Exception as exc:
            await deployments.dispatch_failed(github, tracked, exc)
            raise
        try:
            if result.run_id is not None:
                tracked = replace(
                    tracked, run_id=result.run_id, run_url=result.html_url, status="queued"
                )
            save(services.store, tracked)  # webhooks may arrive before we are done here
            tracked = await deployments.sync(services, tracked, github)
            if token is None:
                assert posted is not None
                message = await discord.edit_message(*posted, render(tracked).to_data(edit=True))
            elif followup:
                message = await discord.create_followup(token, render(tracked).to_data())
            else:
                message = await discord.edit_original(token, render(tracked).to_data(edit=True))
            tracked = replace(
                tracked,
                channel_id=_str(message.get("channel_id")),
                message_id=_str(message.get("id")),
            )
            save(services.store, tracked)
            if tracked.run_id is None and app.correlation_input:
                found = await find_run_by_correlation(github, app.repo, workflow, ref, correlation)
                if found is not None:
                    run = WorkflowRun(found)
                    tracked = replace(
                        tracked,
                        run_id=run.id,
                        run_url=run.html_url,
                        status="queued" if run.status != "in_progress" else "in_progress",
                    )
                    save(services.store, tracked)
                    await publish(services, tracked, discord)
            elif tracked.run_id is None:
                tracked = replace(
                    tracked,
                    note="GitHub did not say which run this is; set "
                    "`correlation_input` for this app so I can follow it.",
                )
                save(services.store, tracked)
                await publish(services, tracked, discord)
        except Exception as exc:  # it went out: say so, never "failed" (no second dispatch)
            tracked = _dispatched_anyway(services, tracked, exc)
    return tracked


def _dispatched_anyway(services: Clients, tracked: Tracked, exc: Exception) -> Tracked:
    """A dispatch that went out, and something after it failed: note it on the run and
    save it (best effort: the store may be what failed)."""
    log.warning(
        "dispatched, but not all follow-up went through",
        extra={"app": tracked.app, "correlation": tracked.correlation, "error": repr(exc)},
    )
    noted = replace(
        tracked,
        note=f"dispatched, but {type(exc).__name__} while following it up: this message may "
        "lag behind until GitHub reports on the run.",
    )
    try:
        save(services.store, noted)
    except Exception as again:
        log.warning("dispatched run not saved", extra={"error": repr(again)})
    return noted


async def _create_deployment(
    services: Clients,
    github: GitHubClient,
    tracked: Tracked,
    app: App,
    inputs: dict[str, str],
    approved: str | None = None,
) -> Tracked:
    """The Deployment of the commit this run ships: the approved SHA (which the dispatch
    checked the ref still points at), the `sha` input of a release or rollback workflow,
    else what `ref` points at now (a branch moves; a Deployment of a branch name would say
    nothing about what went live)."""
    from orchestrator.apps import get_app
    from orchestrator.deploys.environments import target

    try:
        sha: str | None = (
            check_sha(approved or inputs["sha"]) if approved or "sha" in inputs else None
        )
    except InvalidRef:
        sha = None
    try:
        if sha is None:
            sha = await github.get_branch_head(tracked.repo, tracked.ref)
        target_ = target(get_app(services, app.name), tracked.environment)
    except Exception as exc:  # no Deployment, but the deploy goes on
        log.warning("no GitHub Deployment: commit not resolved", extra={"error": repr(exc)})
        return tracked
    return await deployments.create(github, replace(tracked, deploy_sha=sha), target_)


def _str(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) else None


async def publish(services: Clients, tracked: Tracked, discord: DiscordREST) -> None:
    """Show the current state: through the interaction webhook while its token lives,
    then by editing the channel message with the bot token. Its GitHub Deployment shows
    it too (`deployments.sync`: once per state, never raises)."""
    synced = await deployments.sync(services, tracked)
    if synced != tracked:
        save(services.store, synced)
    data = render(tracked).to_data(edit=True)
    if tracked.interaction_token and time.time() < tracked.token_expires_at:
        if tracked.followup and tracked.message_id:
            await discord.edit_followup(tracked.interaction_token, tracked.message_id, data)
        else:
            await discord.edit_original(tracked.interaction_token, data)
    elif tracked.channel_id and tracked.message_id:
        await discord.edit_message(tracked.channel_id, tracked.message_id, data)
    else:
        log.warning("tracked run has no message to update", extra={"run_id": tracked.run_id})


async def verify(services: Clients, tracked: Tracked) -> Tracked:
    """Run the verifier on the tracked run; record it; fold the verdict into the state."""
    from orchestrator.apps import InvalidApp, get_app
    from orchestrator.deploys import rollback
    from orchestrator.deploys.environments import target
    from orchestrator.verification import verify as run_verifier
    from orchestrator.verification.report import to_json

    try:
        app = get_app(services, tracked.app)
        if tracked.environment is not None:  # verify where it was deployed: its URLs
            app = target(app, tracked.environment).app
    except InvalidApp as exc:
        # Nothing could be checked: its Deployment says `error` rather than hanging on.
        failed = replace(
            tracked, note=f"could not verify: {exc}", verdict="SKIP", verdict_summary=str(exc)
        )
        return await deployments.sync(services, failed)
    report = await run_verifier(app, services, run_id=tracked.run_id)
    data = to_json(report)
    if tracked.environment is not None:
        data["environment"] = tracked.environment
    history.record(services.store, app.name, data)
    summary = _summary(data)
    verdict = str(data.get("verdict")).upper()
    tracked = replace(
        tracked,
        verdict=verdict,
        verdict_summary=summary,
        environment_url=app.frontend_url or app.api_health_url or app.version_url,
        rollback_sha=rollback.target_sha(
            tracked, verdict, rollback.last_verified(services.store, app, tracked.environment)
        )
        if app.rollback_workflow
        else None,
    )
    return await deployments.sync(services, tracked)


def _summary(report: dict[str, Any]) -> str:
    """The worst checks in a line, e.g. "frontend serves abc1234, expected def5678"."""
    checks = [c for c in report.get("checks", []) if isinstance(c, dict)]
    bad = [c for c in checks if str(c.get("status")).upper() in ("FAIL", "WARN")]
    if not bad:
        return "all checks passed"
    return "; ".join(f"{c.get('name')}: {c.get('summary')}" for c in bad[:3])[:300]
