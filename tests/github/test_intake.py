"""The intake's guarantee: a 2xx means the delivery's claim and its queued job are durable
together; an answer other than 2xx leaves the delivery free to be redelivered."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestrator.config import load_settings
from orchestrator.devkeys import load_or_create_dev_identity
from orchestrator.jobs.inprocess import InProcessDispatcher
from orchestrator.main import create_app
from orchestrator.services import Services
from tests.support import github_objects as gh
from tests.support.signing import PING_INTERACTION, discord_headers, dumps, github_headers

SECRET = "webhook-secret-for-tests"
ROOT = Path(__file__).resolve().parents[2]


def completed_run() -> dict[str, Any]:
    run = gh.workflow_run(status="completed", conclusion="success")
    return {"action": "completed", "workflow_run": run, "repository": run["repository"]}


def test_a_delivery_whose_job_cannot_start_is_released_then_accepted_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(ORCHESTRATOR_DATA_DIR=tmp_path, GITHUB_WEBHOOK_SECRET=SECRET)
    services = Services(settings)
    jobs = services.jobs
    assert isinstance(jobs, InProcessDispatcher)
    real_start = jobs._run_soon
    failures = [RuntimeError("injected: the job loop is gone")]

    def start_fails_once(job: Any) -> Any:
        if failures:
            raise failures.pop()
        return real_start(job)

    monkeypatch.setattr(jobs, "_run_soon", start_fails_once)
    body = dumps(completed_run())
    delivery = str(uuid.uuid4())
    headers = github_headers(SECRET, body, "workflow_run", delivery)
    with TestClient(create_app(services=services), raise_server_exceptions=False) as client:
        first = client.post("/github", content=body, headers=headers)
        assert first.status_code == 503
        assert first.headers["retry-after"] == "30"
        assert services.store.get(f"delivery:{delivery}") is None  # released
        second = client.post("/github", content=body, headers=headers)
        assert second.status_code == 202
        third = client.post("/github", content=body, headers=headers)
        assert third.json() == {"duplicate": True, "delivery": delivery}
    services.close(timeout=5)


_CHILD = """
import os, signal, sys
from fastapi.testclient import TestClient
from orchestrator.jobs.inprocess import InProcessDispatcher
from orchestrator.main import create_app
from orchestrator.services import Services
from orchestrator.config import load_settings

settings = load_settings()
services = Services(settings)
# The job must not run before the kill: the 2xx alone has to have made it durable.
InProcessDispatcher._run_soon = lambda self, job: None
client = TestClient(create_app(services=services))
body = sys.stdin.buffer.read()
response = client.post("/github", content=body, headers={
    "content-type": "application/json", "x-github-event": "workflow_run",
    "x-github-delivery": os.environ["DELIVERY"],
    "x-hub-signature-256": os.environ["SIGNATURE"],
})
print(response.status_code, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # no shutdown, no close: a crash right after the 2xx
"""


def test_a_2xx_survives_a_crash_right_after_it(tmp_path: Path) -> None:
    body = dumps(completed_run())
    delivery = str(uuid.uuid4())
    signature = github_headers(SECRET, body, "workflow_run", delivery)["x-hub-signature-256"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "ORCHESTRATOR_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        ORCHESTRATOR_ENV="test",
        ORCHESTRATOR_ENV_FILE="",
        ORCHESTRATOR_DATA_DIR=str(tmp_path),
        GITHUB_WEBHOOK_SECRET=SECRET,
        DELIVERY=delivery,
        SIGNATURE=signature,
    )
    child = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input=body,
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == -9, child.stderr[-2000:]
    assert child.stdout.decode().split() == ["202"]
    db = sqlite3.connect(tmp_path / "orchestrator.sqlite3")
    rows = dict(db.execute("SELECT key, value FROM records").fetchall())
    db.close()
    assert f"delivery:{delivery}" in rows
    job = json.loads(rows[f"job:gh-{delivery}"])
    assert job["status"] == "pending"  # the next start resumes it
    assert job["payload"]["delivery"] == delivery


def test_a_delivery_makes_no_general_thread_pool_hop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per delivery with SQLite, no thread hop at all: no sync dependency run in the thread
    pool, no `run_in_threadpool` for the write, and the write itself runs inline, on the
    request's own thread (the store says its writes are local and short)."""
    import fastapi.dependencies.utils
    import fastapi.routing

    import orchestrator.routers.github

    hops: list[str] = []

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(func, "__qualname__", repr(func)))
        return func(*args, **kwargs)

    for module in (fastapi.dependencies.utils, fastapi.routing, orchestrator.routers.github):
        monkeypatch.setattr(module, "run_in_threadpool", counted)
    settings = load_settings(ORCHESTRATOR_DATA_DIR=tmp_path, GITHUB_WEBHOOK_SECRET=SECRET)
    services = Services(settings)
    writes: list[tuple[str, bool]] = []
    real_run = services.writer.run

    async def run(func: Any, *args: Any) -> Any:
        request_thread = threading.get_ident()

        def traced(*inner: Any) -> Any:
            writes.append((func.__name__, threading.get_ident() == request_thread))
            return func(*inner)

        return await real_run(traced, *args)

    monkeypatch.setattr(services.writer, "run", run)
    body = dumps(completed_run())
    delivery = str(uuid.uuid4())
    with TestClient(create_app(services=services)) as client:
        answer = client.post(
            "/github", content=body, headers=github_headers(SECRET, body, "workflow_run", delivery)
        )
    assert answer.status_code == 202
    assert hops == []
    assert writes == [("queue_delivery", True)]  # on the request's thread
    assert services.writer.threads() == 0
    assert services.store.get(f"job:gh-{delivery}") is not None


def test_a_claim_that_cannot_be_released_still_answers_503_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The job did not start and un-claiming fails too (the store went away meanwhile): the
    answer is still 503, never a 500, and an error names the delivery left claimed."""
    from orchestrator.store import StoreUnavailable

    settings = load_settings(ORCHESTRATOR_DATA_DIR=tmp_path, GITHUB_WEBHOOK_SECRET=SECRET)
    services = Services(settings)
    jobs = services.jobs
    assert isinstance(jobs, InProcessDispatcher)

    def start_fails(job: Any) -> Any:
        raise RuntimeError("injected: the job loop is gone")

    def delete_fails(key: str) -> None:
        raise StoreUnavailable("sqlite: database is locked")

    monkeypatch.setattr(jobs, "_run_soon", start_fails)
    monkeypatch.setattr(services.store, "delete", delete_fails)
    body = dumps(completed_run())
    delivery = str(uuid.uuid4())
    headers = github_headers(SECRET, body, "workflow_run", delivery)
    with TestClient(create_app(services=services), raise_server_exceptions=False) as client:
        answer = client.post("/github", content=body, headers=headers)
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "30"
    [stuck] = [r for r in caplog.records if "could not release the claim" in r.getMessage()]
    assert stuck.levelname == "ERROR" and stuck.__dict__["delivery"] == delivery
    assert services.store.get(f"delivery:{delivery}") is not None  # what the log warns of
    services.close(timeout=5)


def test_a_delivery_meeting_a_busy_store_is_written_on_a_thread_not_on_the_loop(
    tmp_path: Path,
) -> None:
    """Another process holds SQLite's write lock: the inline write is refused at once and the
    delivery's transaction waits on a writer thread instead, so the event loop never stalls
    (a PING answered meanwhile); the delivery is still claimed and queued before its 202."""
    settings = load_settings(ORCHESTRATOR_DATA_DIR=tmp_path, GITHUB_WEBHOOK_SECRET=SECRET)
    services = Services(settings)
    identity = load_or_create_dev_identity(tmp_path)
    body = dumps(completed_run())
    delivery = str(uuid.uuid4())
    with TestClient(create_app(services=services)) as client:
        services.store.put("audit:warm", {"n": 0})
        other = sqlite3.connect(settings.sqlite_file, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        answered: list[int] = []

        def post() -> None:
            headers = github_headers(SECRET, body, "workflow_run", delivery)
            answered.append(client.post("/github", content=body, headers=headers).status_code)

        poster = threading.Thread(target=post)
        poster.start()
        ping = dumps(PING_INTERACTION)
        # While the delivery waits for the lock, the loop still answers.
        deadline = time.monotonic() + 10
        while services.writer.threads() == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        pong = client.post("/discord", content=ping, headers=discord_headers(identity, ping))
        assert pong.status_code == 200 and not answered
        other.execute("ROLLBACK")
        poster.join(10)
        other.close()
        threads = services.writer.threads()
    assert answered == [202]
    assert threads == 1  # the refused write went to a thread
    assert services.store.get(f"delivery:{delivery}") is not None
