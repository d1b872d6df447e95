"""`JobRegistry`'s parts built later: a container running one kind of job imports only it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from orchestrator.jobs.base import JobContext, JobRegistry, UnknownJob


async def noop(ctx: JobContext[object]) -> None:
    pass


def _part(name: str, retries: int = 0) -> JobRegistry:
    part = JobRegistry()
    part.job(name, retries=retries)(noop)
    return part


def _counted(part: JobRegistry, builds: list[str], pause: float = 0.0) -> Callable[[], JobRegistry]:
    def build() -> JobRegistry:
        builds.append("built")
        time.sleep(pause)
        return part

    return build


def test_a_later_part_is_built_only_for_a_name_the_others_lack() -> None:
    builds: list[str] = []
    registry = JobRegistry(_part("now"), later=[_counted(_part("then", retries=2), builds)])
    assert registry.get("now") is noop and registry.retries("now") == 0
    assert builds == []
    assert registry.retries("then") == 2 and registry.get("then") is noop
    assert builds == ["built"]
    assert registry.names() == ["now", "then"] and builds == ["built"]
    with pytest.raises(UnknownJob):
        registry.get("never")


def test_names_builds_every_part() -> None:
    builds: list[str] = []
    registry = JobRegistry(later=[_counted(_part("a"), builds), _counted(_part("b"), builds)])
    assert registry.names() == ["a", "b"] and builds == ["built", "built"]


def test_a_name_registered_twice_across_parts_is_refused() -> None:
    other = JobRegistry()

    async def different(ctx: JobContext[object]) -> None:
        pass

    other.job("a")(different)
    registry = JobRegistry(_part("a"), later=[lambda: other])
    with pytest.raises(ValueError, match="registered twice"):
        registry.names()


def test_concurrent_misses_wait_for_one_build() -> None:
    """Jobs run on threads: a second miss during the build must find the job, not be told
    it is unknown because the first took the parts off the list."""
    builds: list[str] = []
    registry = JobRegistry(later=[_counted(_part("slow"), builds, pause=0.2)])
    found: list[object] = []

    def ask() -> None:
        try:
            found.append(registry.get("slow"))
        except UnknownJob as exc:
            found.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert found == [noop, noop] and builds == ["built"]


def test_a_later_part_is_built_no_further_than_the_part_holding_the_name() -> None:
    first: list[str] = []
    second: list[str] = []
    registry = JobRegistry(
        later=[_counted(_part("intake"), first), _counted(_part("task"), second)]
    )
    assert registry.get("intake") is noop
    assert first == ["built"] and second == []
    assert registry.get("task") is noop
    assert first == ["built"] and second == ["built"]


def test_a_part_whose_build_fails_is_tried_again_and_spares_the_others() -> None:
    """One failed import must not leave every deferred job unknown for the life of the
    process: the part stays listed, the next miss builds it again."""
    builds: list[str] = []
    failures = [ImportError("flaky import")]

    def flaky() -> JobRegistry:
        if failures:
            raise failures.pop()
        return _part("flaky")

    registry = JobRegistry(later=[flaky, _counted(_part("other"), builds)])
    with pytest.raises(ImportError):
        registry.get("other")
    assert registry.get("other") is noop and registry.get("flaky") is noop
    assert registry.names() == ["flaky", "other"] and builds == ["built"]


def test_the_delivery_job_builds_only_the_intake_part() -> None:
    """The product's own parts: a delivery imports the GitHub intake, not the features'
    tasks and the deploy domain behind them (as docs/architecture.md says)."""
    from orchestrator import product
    from orchestrator.github.intake import DELIVERY_JOB

    registry = product.jobs()
    registry.get(DELIVERY_JOB)
    assert len(registry._later) == 1  # the tasks' part, not built
