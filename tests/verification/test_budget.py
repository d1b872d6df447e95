"""The collector's two time properties: its checks overlap, and the budget is the bound.

Concurrency is shown with four checks (run, frontend, API, self) that each take
about a second on 127.0.0.1: run one after another they would take four. The
budget is shown with answers that hang longer than `check_timeout`, itself larger
than the budget: only the budget can end them. Every hang here is released when
its test ends, so even a broken collector costs seconds, not a stuck run.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator import buildinfo
from orchestrator.services import Services
from orchestrator.verification import Status, collect, decide
from orchestrator.verification.budget import Deadline, TimedOut
from orchestrator.verification.facts import CheckError
from tests.support import github_objects as gh
from tests.support.fake_github import FakeGitHub, Recorded
from tests.support.sites import Site, page
from tests.support.verification import (
    OWN,
    RUNS,
    SHA,
    QuickFakeGitHub,
    make_services,
    raw_run,
    script,
    site_app,
)

pytestmark = pytest.mark.anyio

SLOW = 1.0  # each check's answer in the concurrency test
HANG = 8.0  # longer than any check_timeout below; released early when a test ends
OWN_HEAD = "/repos/acme/orchestrator/commits/main"
# The module, not the function `orchestrator.verification` re-exports under the same name.
collect_module = importlib.import_module("orchestrator.verification.collect")
TIMED_OUT = re.compile(r"^timed out after (\d+(?:\.\d)?) (m?s) \((\d) attempts?\)$")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def own_build(monkeypatch: pytest.MonkeyPatch) -> None:
    info = buildinfo.BuildInfo("0.0.0", OWN, None, "3.11", "build")
    monkeypatch.setattr(buildinfo, "build_info", lambda: info)


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with QuickFakeGitHub() as github:
        yield github


@pytest.fixture
def services(tmp_path: Path, fake: FakeGitHub) -> Services:
    return make_services(tmp_path, fake.url, ORCHESTRATOR_REPO="acme/orchestrator")


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set when the test ends: every slow GitHub answer below waits on it (bounded)."""
    event = threading.Event()
    yield event
    event.set()


def answer_after(seconds: float, release: threading.Event, body: Any) -> Any:
    def answer(_: Recorded) -> tuple[int, Any, dict[str, str]]:
        release.wait(seconds)
        return 200, body, {}

    return answer


def timed_out_seconds(error: str | None) -> tuple[float, int]:
    """`"timed out after 900 ms (1 attempt)"` -> `(0.9, 1)`; `"… 1.2 s …"` -> `(1.2, …)`."""
    match = TIMED_OUT.match(error or "")
    assert match is not None, error
    return float(match[1]) / (1000 if match[2] == "ms" else 1), int(match[3])


# --- concurrency ---------------------------------------------------------------------------------


class ArrivalCounter(Counter[str]):
    """`Site.hits` that also notes when each request arrived (the site counts on arrival)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: dict[str, list[float]] = {}

    def __setitem__(self, key: str, value: int) -> None:
        self.arrived.setdefault(key, []).append(time.time())
        super().__setitem__(key, value)


async def test_the_checks_run_concurrently(
    fake: FakeGitHub, services: Services, release: threading.Event
) -> None:
    script(fake)
    listing = gh.runs_page(raw_run())
    fake.respond("GET", RUNS, answer_after(SLOW, release, listing))
    fake.respond("GET", OWN_HEAD, answer_after(SLOW, release, OWN))
    with Site(SHA) as site:
        site.hits = hits = ArrivalCounter()
        html = {"content-type": "text/html; charset=utf-8", "cache-control": "no-cache"}
        site.route("/slow-page", body=page(SHA), headers=html, delay=SLOW)
        site.route(
            "/slow-api",
            body={"ok": True, "build": {"sha": SHA}},
            headers={"content-type": "application/json"},
            delay=SLOW,
        )
        api = site.url + "/slow-api"  # health and version in one answer: the API is one request
        app = site_app(
            site, frontend_url=site.url + "/slow-page", api_health_url=api, version_url=api
        )
        started = time.time()
        facts = await collect(app, services, budget=6.0, check_timeout=3.0)
        ended = time.time()

    # Every check was made, and each took its second...
    assert facts.errors == {}
    assert facts.run is not None and facts.run.head_sha == SHA
    assert facts.frontend is not None and facts.frontend.status == 200
    assert facts.frontend.elapsed_ms is not None and facts.frontend.elapsed_ms >= 900
    assert facts.api is not None and facts.api.status == 200
    assert facts.api.elapsed_ms is not None and facts.api.elapsed_ms >= 900
    assert facts.api_version is not None and facts.api_version.found == SHA
    assert facts.self_facts is not None and facts.self_facts.branch_head == OWN
    (runs_call,) = fake.calls("GET", RUNS)
    (own_call,) = fake.calls("GET", OWN_HEAD)
    (page_at,) = hits.arrived["/slow-page"]
    (api_at,) = hits.arrived["/slow-api"]
    arrivals = {"run": runs_call.at, "self": own_call.at, "frontend": page_at, "api": api_at}
    first = min(arrivals.values())
    timeline = ", ".join(f"{name} +{at - first:.2f} s" for name, at in arrivals.items())
    # ...yet all four were asked before any answered: in flight at once, not one after another.
    assert max(arrivals.values()) - first < 0.8 * SLOW, timeline
    # So from the first request to the facts took about one second, not four...
    assert ended - first < 1.7, f"{ended - first:.2f} s for 4 x {SLOW} s ({timeline})"
    # ...and the whole call, building its HTTP clients included, clearly less than the sum.
    assert ended - started < 3.0, f"{ended - started:.2f} s for 4 x {SLOW} s ({timeline})"


# --- the budget ---------------------------------------------------------------------------------


def test_the_default_budget_is_ten_seconds() -> None:
    defaults = inspect.signature(collect).parameters
    assert defaults["budget"].default == 10.0
    assert defaults["check_timeout"].default < defaults["budget"].default


async def test_a_hang_ends_with_the_budget_not_the_longer_check_timeout(
    fake: FakeGitHub, services: Services, release: threading.Event
) -> None:
    budget, check_timeout = 1.5, 6.0
    script(fake)
    fake.respond("GET", RUNS, answer_after(HANG, release, gh.runs_page()))
    with Site(SHA, slow_seconds=HANG) as site:
        app = site_app(site, frontend_url=site.url + "/slow", api_health_url=site.url + "/slow")
        started = time.perf_counter()
        facts = await collect(app, services, budget=budget, check_timeout=check_timeout)
        elapsed = time.perf_counter() - started

    assert elapsed < budget + 1.5, f"{elapsed:.2f} s for a {budget} s budget"
    assert elapsed > budget * 0.9  # it did wait for the hung answers
    # The hung checks are reported as timeouts at the budget, not missing.
    assert facts.errors["run"].kind == "timeout"
    match = re.fullmatch(r"timed out after (\d+(?:\.\d)?) (m?s)", facts.errors["run"].message)
    assert match is not None, facts.errors["run"]
    assert 0 < float(match[1]) / (1000 if match[2] == "ms" else 1) <= budget, facts.errors["run"]
    assert facts.run is None
    assert facts.frontend is not None
    seconds, attempts = timed_out_seconds(facts.frontend.error)
    assert 0 < seconds <= budget and attempts == 1  # no retry: the budget was spent
    assert facts.api is not None
    seconds, attempts = timed_out_seconds(facts.api.error)
    assert 0 < seconds <= budget and attempts == 1
    # The version, asked after the hung health check, is an error too, not a hang.
    assert facts.api_version is not None and facts.api_version.probe is not None
    assert facts.api_version.probe.error is not None
    assert site.hits["/slow"] == 2 and site.hits["/version"] <= 1
    # What answered in time is still there.
    assert facts.self_facts is not None and facts.self_facts.branch_head == OWN

    report = decide(facts)
    assert report.check("run").status is Status.WARN
    assert report.check("run").summary.startswith("could not check the run: timed out after ")
    assert report.check("frontend").status is Status.FAIL
    assert report.check("frontend").summary.startswith("frontend unreachable: timed out after ")
    assert report.check("api").status is Status.FAIL
    assert report.check("self").status is Status.PASS
    assert report.verdict is Status.FAIL


async def test_the_one_retry_gets_only_what_is_left_of_the_budget(
    fake: FakeGitHub, services: Services
) -> None:
    budget, check_timeout = 2.0, 1.0
    script(fake)
    with Site(SHA, slow_seconds=HANG) as site:
        app = site_app(site, frontend_url=site.url + "/slow")
        started = time.perf_counter()
        facts = await collect(app, services, budget=budget, check_timeout=check_timeout)
        elapsed = time.perf_counter() - started

    assert facts.frontend is not None
    seconds, attempts = timed_out_seconds(facts.frontend.error)
    assert attempts == 2 and site.hits["/slow"] == 2  # one retry, no more
    assert seconds < check_timeout  # the retry was cut to the rest of the budget (~0.9 s)
    assert "frontend" not in facts.errors
    assert elapsed < budget + 1.5, f"{elapsed:.2f} s for a {budget} s budget"
    assert facts.run is not None and facts.api is not None and facts.api.status == 200


async def test_a_part_that_ignores_the_budget_is_cut_off_by_the_last_guard(
    fake: FakeGitHub, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check that hangs somewhere no per-request bound reaches still ends with the budget."""

    async def hang(*_: Any) -> tuple[None, None]:
        await asyncio.sleep(HANG)  # bounded, so a broken guard fails the test, not the run
        return None, None

    monkeypatch.setattr(collect_module, "frontend_check", hang)
    monkeypatch.setattr(collect_module, "api_check", hang)
    budget = 1.0
    script(fake)
    with Site(SHA) as site:
        started = time.perf_counter()
        facts = await collect(site_app(site), services, budget=budget, check_timeout=4.0)
        elapsed = time.perf_counter() - started

    assert elapsed < budget + 0.5 + 1.5, f"{elapsed:.2f} s for a {budget} s budget"
    out_of_time = CheckError("timeout", "timed out: the time budget ran out")
    assert facts.errors == {"frontend": out_of_time, "api": out_of_time, "version": out_of_time}
    assert facts.frontend is None and facts.api is None and facts.api_version is None
    assert facts.run is not None and facts.self_facts is not None  # the others still report

    report = decide(facts)
    assert report.check("frontend").status is Status.FAIL
    assert report.check("frontend").summary == (
        "could not check the frontend: timed out: the time budget ran out"
    )
    assert report.check("api").status is Status.FAIL
    assert report.check("run").status is Status.PASS


# --- the deadline itself -------------------------------------------------------------------------


async def test_the_deadline_bounds_work_and_says_how_long_it_waited() -> None:
    deadline = Deadline(0.05)
    assert 0 < deadline.bound(4.0) <= 0.05
    with pytest.raises(TimedOut, match=r"^timed out after \d+ ms$"):
        await deadline.run(asyncio.sleep(1), 4.0)
    with pytest.raises(TimedOut, match=r"^timed out after 0 s$"):
        await deadline.run(asyncio.sleep(1), 4.0)  # nothing left: not even started
