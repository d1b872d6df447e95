"""Which GitHub Deployment status a tracked run calls for, and posting each once."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from orchestrator.deploys import deployments
from orchestrator.deploys.deployments import Status, github_environment, is_ours, status_for
from orchestrator.deploys.tracking import Tracked
from orchestrator.store.sqlite import SQLiteStore

SHA = "abcdef0123456789abcdef0123456789abcdef01"
RUN_URL = "https://github.com/acme/web/actions/runs/7"
SITE = "https://web.example.com/"


def tracked(**changes: Any) -> Tracked:
    base = Tracked(
        kind="deploy",
        app="web",
        repo="acme/web",
        ref="main",
        actor="1",
        correlation="orc-0123abcd",
        environment="production",
        run_id=7,
        run_url=RUN_URL,
        deploy_sha=SHA,
        deployment_id=42,
        environment_url=SITE,
    )
    return replace(base, **changes)


DONE = {"status": "completed", "conclusion": "success"}


@pytest.mark.parametrize(
    ("changes", "state", "log_url", "environment_url", "auto_inactive"),
    [
        ({"status": "requested", "run_id": None, "run_url": None}, "queued", None, None, None),
        ({"status": "queued"}, "queued", RUN_URL, None, None),
        ({"status": "in_progress", "current_job": "build"}, "in_progress", RUN_URL, None, None),
        # Finished well, not verified yet: still in progress, never success.
        (DONE, "in_progress", RUN_URL, None, None),
        ({**DONE, "verdict": "PASS"}, "success", RUN_URL, SITE, True),
        ({**DONE, "verdict": "WARN"}, "success", RUN_URL, SITE, True),
        ({**DONE, "verdict": "FAIL"}, "failure", RUN_URL, None, None),
        ({**DONE, "verdict": "SKIP"}, "error", RUN_URL, None, None),
        ({"status": "completed", "conclusion": "failure"}, "failure", RUN_URL, None, None),
        ({"status": "completed", "conclusion": "timed_out"}, "failure", RUN_URL, None, None),
        # A failed run verified FAIL is a failed run: the run failed first.
        (
            {"status": "completed", "conclusion": "failure", "verdict": "FAIL"},
            "failure",
            RUN_URL,
            None,
            None,
        ),
        ({"status": "completed", "conclusion": "cancelled"}, "error", RUN_URL, None, None),
        ({"status": "completed", "conclusion": "skipped"}, "error", RUN_URL, None, None),
    ],
)
def test_the_status_each_state_calls_for(
    changes: dict[str, Any],
    state: str,
    log_url: str | None,
    environment_url: str | None,
    auto_inactive: bool | None,
) -> None:
    status = status_for(tracked(**changes))
    assert (status.state, status.log_url, status.environment_url, status.auto_inactive) == (
        state,
        log_url,
        environment_url,
        auto_inactive,
    )
    assert "abcdef0" in status.description


def test_descriptions_say_why_and_fit_github() -> None:
    long = "x" * 500
    failed = tracked(**DONE, verdict="FAIL", verdict_summary=f"frontend: serves old; {long}")
    status = deployments._fitted(status_for(failed))
    assert status.description.startswith("abcdef0 verification failed: frontend: serves old")
    assert len(status.description) == 140
    jobs = status_for(tracked(status="completed", conclusion="failure", failed_jobs=("test",)))
    assert jobs.description == "abcdef0 run failure (test)"


def test_the_implicit_environment_is_githubs_production() -> None:
    assert github_environment("default") == "production"
    assert github_environment("staging") == "staging"


def test_only_our_payload_is_ours() -> None:
    assert is_ours(deployments.payload_for(tracked()))
    assert not is_ours({"via": "orchestrator"})
    assert not is_ours({"via": "orchestrator", "correlation_id": "orc-0123abcd; rm"})
    assert not is_ours({"correlation_id": "orc-0123abcd"})
    assert not is_ours("orc-0123abcd")


def test_deploys_releases_and_rollbacks_get_a_deployment_diagnose_does_not() -> None:
    assert [k for k in ("deploy", "release", "rollback", "diagnose") if deployments.wanted(k, "p")]
    assert not deployments.wanted("diagnose", "production")
    assert not deployments.wanted("deploy", None)


# -- posting once per state -------------------------------------------------------------------


class Posts:
    """A GitHub client that records the statuses posted (and can refuse the next one)."""

    def __init__(self) -> None:
        self.posted: list[str] = []
        self.refuse = False

    async def create_deployment_status(
        self, repo: str, deployment: int, state: str, **_: Any
    ) -> dict[str, Any]:
        if self.refuse:
            self.refuse = False
            raise RuntimeError("GitHub is down")
        self.posted.append(state)
        return {}


class Clients:
    def __init__(self, store: SQLiteStore) -> None:
        self.store = store


def sync(store: SQLiteStore, github: Posts, state: Tracked) -> Tracked:
    return asyncio.run(deployments.sync(Clients(store), state, github))  # type: ignore[arg-type]


def test_each_state_is_posted_once_however_often_it_is_seen(tmp_path: Path) -> None:
    store, github = SQLiteStore(tmp_path / "s.sqlite3"), Posts()
    running = tracked(status="in_progress")
    first = sync(store, github, tracked(status="queued"))
    assert first.deployment_state == "queued"
    sync(store, github, tracked(status="queued"))  # a redelivery, from a stale copy
    running = sync(store, github, running)
    sync(store, github, replace(running, deployment_state=None))  # another container
    verified = sync(store, github, replace(running, **DONE, verdict="PASS"))
    sync(store, github, verified)
    assert github.posted == ["queued", "in_progress", "success"]
    assert verified.deployment_state == "success"


def test_a_late_event_never_takes_a_status_back(tmp_path: Path) -> None:
    store, github = SQLiteStore(tmp_path / "s.sqlite3"), Posts()
    sync(store, github, tracked(status="completed", conclusion="failure"))
    sync(store, github, tracked(status="in_progress"))  # arrived after the end
    sync(store, github, tracked(status="queued"))
    assert github.posted == ["failure"]


def test_a_failed_post_is_tried_again_by_the_next_event(tmp_path: Path) -> None:
    store, github = SQLiteStore(tmp_path / "s.sqlite3"), Posts()
    github.refuse = True
    after = sync(store, github, tracked(status="queued"))
    assert github.posted == [] and after.deployment_state is None
    sync(store, github, tracked(status="queued"))
    assert github.posted == ["queued"]


class Interleaved:
    """A store that lets another sync run to its end just before this sync's first write:
    two containers posting for one Deployment at once, in a chosen order."""

    def __init__(self, store: SQLiteStore, meanwhile: Any) -> None:
        self.store, self.meanwhile = store, meanwhile

    def _first_write(self) -> None:
        meanwhile, self.meanwhile = self.meanwhile, None
        if meanwhile is not None:
            thread = threading.Thread(target=meanwhile)
            thread.start()
            thread.join()

    def claim(self, *args: Any, **kwargs: Any) -> bool:
        self._first_write()
        return self.store.claim(*args, **kwargs)

    def put_if_newer(self, *args: Any, **kwargs: Any) -> bool:
        self._first_write()
        return self.store.put_if_newer(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


@pytest.mark.parametrize(
    ("first", "then", "posted"),
    [
        # in_progress has looked, success is posted meanwhile: in_progress must not follow
        ("in_progress", "success", ["success"]),
        # success has looked, in_progress is posted meanwhile: success still follows it
        ("success", "in_progress", ["in_progress", "success"]),
    ],
)
def test_two_syncs_at_once_never_post_an_earlier_state_after_a_later_one(
    tmp_path: Path, first: str, then: str, posted: list[str]
) -> None:
    store, github = SQLiteStore(tmp_path / "s.sqlite3"), Posts()
    states = {
        "in_progress": tracked(status="in_progress"),
        "success": tracked(**DONE, verdict="PASS"),
    }

    def meanwhile() -> None:
        sync(store, github, states[then])

    sync(Interleaved(store, meanwhile), github, states[first])  # type: ignore[arg-type]
    assert github.posted == posted
    sync(store, github, states["in_progress"])  # and a late event afterwards: nothing
    assert github.posted == posted


def test_without_a_deployment_nothing_is_posted(tmp_path: Path) -> None:
    store, github = SQLiteStore(tmp_path / "s.sqlite3"), Posts()
    sync(store, github, tracked(deployment_id=None, **DONE, verdict="PASS"))
    assert github.posted == []


def test_the_status_dataclass_is_what_github_is_sent() -> None:
    assert Status("queued", "x").environment_url is None
