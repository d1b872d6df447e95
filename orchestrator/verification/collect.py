"""The verifier's only I/O: ask GitHub and the app's own URLs, concurrently, within a budget.

Everything here ends as a fact. A page that does not answer, GitHub answering
502, a run id that does not exist, the budget running out: each becomes a
`CheckError` or an `HttpProbe.error` that `decide` turns into a readable line,
because an exception escaping the verifier would leave the person asking
"is the deploy OK?" with no answer at all.

Time is bounded three ways: every request by `check_timeout`, every check by
what is left of the total `budget` (one retry only if time remains), and each
part once more by the budget (`_guarded`) as a last guard against a hang nobody
foresaw. The parts live beside this module: `github_facts` (the run, freshness,
our own commit), `http_checks` (frontend and API), `parse` (the pure readings)
and `budget` (the deadline they share).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar

from orchestrator.verification.budget import Deadline
from orchestrator.verification.facts import API, FRONTEND, RUN, SELF, VERSION, CheckError, Facts
from orchestrator.verification.github_facts import GitHubFacts, error_of
from orchestrator.verification.http_checks import (
    HttpClientFactory,
    api_check,
    frontend_check,
    open_client,
)
from orchestrator.verification.parse import run_request

if TYPE_CHECKING:
    from orchestrator.apps import App
    from orchestrator.clients import Clients

T = TypeVar("T")


async def _guarded(
    name: str, work: Awaitable[T], default: T, deadline: Deadline, errors: dict[str, CheckError]
) -> T:
    """Last line of defence: whatever a part does, it ends with the budget, as a fact."""
    try:
        return await asyncio.wait_for(work, timeout=max(0.01, deadline.remaining() + 0.5))
    except TimeoutError:
        errors.setdefault(name, CheckError("timeout", "timed out: the time budget ran out"))
    except Exception as exc:
        errors.setdefault(name, error_of(exc))
    return default


async def collect(
    app: App,
    services: Clients,
    *,
    run_id: int | None = None,
    run_url: str | None = None,
    budget: float = 10.0,
    check_timeout: float = 4.0,
    http_client_factory: HttpClientFactory | None = None,
) -> Facts:
    collected_at = time.time()
    started = time.perf_counter()
    deadline = Deadline(budget)
    request, request_error = run_request(app, run_id, run_url)
    github = GitHubFacts(app, services, request, deadline, check_timeout)
    errors = github.errors
    if request_error is not None:
        errors[RUN] = request_error
    github.open_github()  # builds a client only: no request until a check needs one
    client = open_client(
        check_timeout, production=services.settings.is_prod, factory=http_client_factory
    )
    try:
        (run, freshness), (page, page_version), (health, api_version), own = await asyncio.gather(
            _guarded(RUN, github.run_and_freshness(), (None, None), deadline, errors),
            _guarded(
                FRONTEND,
                frontend_check(client, app, deadline, check_timeout),
                (None, None),
                deadline,
                errors,
            ),
            _guarded(
                API, api_check(client, app, deadline, check_timeout), (None, None), deadline, errors
            ),
            _guarded(SELF, github.own_commit(), None, deadline, errors),
        )
    finally:
        await client.aclose()
        await github.aclose()
    if app.version_url and api_version is None and API in errors:
        errors.setdefault(VERSION, errors[API])
    return Facts(
        app=app,
        request=request,
        run=run,
        freshness=freshness,
        frontend=page,
        frontend_version=page_version,
        api=health,
        api_version=api_version,
        self_facts=own,
        errors=dict(errors),
        collected_at=collected_at,
        duration_ms=round((time.perf_counter() - started) * 1000),
    )
