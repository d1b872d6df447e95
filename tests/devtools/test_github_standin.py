"""The GitHub stand-in over HTTP: the product's own client against it, and its webhooks as
GitHub sends them (signed with HMAC-SHA256 of the raw body)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest

from orchestrator.devtools.github_standin import HOOK_ID, GitHubStandIn
from orchestrator.devtools.github_world import REPO
from orchestrator.github.auth import TokenAuth
from orchestrator.github.client import GitHubClient
from orchestrator.github.errors import GitHubHTTPError
from orchestrator.github.events import WorkflowRun
from orchestrator.github.verify import verify_signature
from tests.support.servers import QuietHTTPServer

SECRET = "standin-webhook-secret"
STEP = 0.05


@dataclass
class Hook:
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded


class Receiver:
    """Where the stand-in's webhooks land: raw bodies kept, so signatures can be checked."""

    def __init__(self) -> None:
        self.hooks: list[Hook] = []
        self.status = 202
        self._lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver._lock:
                    receiver.hooks.append(
                        Hook({k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    receiver._lock.notify_all()
                self.send_response(receiver.status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/github"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Hook]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.hooks) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{len(self.hooks)} webhooks, wanted {count}")
                self._lock.wait(remaining)
            return list(self.hooks)

    def wait_for_copies(self, guid: str, copies: int, timeout: float = 10.0) -> list[Hook]:
        """The deliveries of `guid` once `copies` of them arrived (a redelivery keeps the
        original's guid); other deliveries may arrive meanwhile, in any order."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [h for h in self.hooks if h.headers.get("x-github-delivery") == guid]
                if len(found) >= copies:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{len(found)} deliveries of {guid}, wanted {copies}")
                self._lock.wait(remaining)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def github(receiver: Receiver) -> Iterator[GitHubStandIn]:
    with GitHubStandIn(webhook_url=receiver.url, webhook_secret=SECRET, step=STEP) as standin:
        yield standin


def client(github: GitHubStandIn) -> GitHubClient:
    return GitHubClient(base_url=github.url, auth=TokenAuth("any-token"), max_retries=0)


def test_a_dispatch_sends_signed_webhooks_as_the_run_moves(
    github: GitHubStandIn, receiver: Receiver
) -> None:
    async def dispatch() -> int | None:
        async with client(github) as gh:
            result = await gh.dispatch_workflow(
                REPO, "deploy.yml", "main", {"correlation_id": "orc-0badc0de"}
            )
            assert result.html_url and result.run_url
            return result.run_id

    run_id = asyncio.run(dispatch())
    hooks = receiver.wait_for(9)
    events = [(h.headers["x-github-event"], h.payload["action"]) for h in hooks]
    assert events[0] == ("workflow_run", "requested")
    assert events[-1] == ("workflow_run", "completed")
    assert ("workflow_job", "in_progress") in events
    deliveries = {h.headers["x-github-delivery"] for h in hooks}
    assert len(deliveries) == len(hooks), "every delivery has its own id"
    for hook in hooks:
        digest = hmac.new(SECRET.encode(), hook.body, hashlib.sha256).hexdigest()
        assert hook.headers["x-hub-signature-256"] == f"sha256={digest}"
        verify_signature([SECRET], hook.headers["x-hub-signature-256"], hook.body)
        assert hook.headers["content-type"] == "application/json"
        assert hook.headers["user-agent"].startswith("GitHub-Hookshot/")
    statuses = [
        WorkflowRun(h.payload["workflow_run"]).status
        for h in hooks
        if h.headers["x-github-event"] == "workflow_run"
    ]
    assert statuses == ["queued", "in_progress", "completed"]
    run = WorkflowRun(hooks[-1].payload["workflow_run"])
    assert (run.id, run.event, run.path, run.conclusion) == (
        run_id,
        "workflow_dispatch",
        ".github/workflows/deploy.yml",
        "success",
    )
    assert "orc-0badc0de" in (run.title or "")  # tracking finds a run by its correlation id
    assert hooks[-1].payload["repository"]["full_name"] == REPO


def test_a_wrong_secret_would_not_verify(github: GitHubStandIn, receiver: Receiver) -> None:
    github.deliver("ping", {"zen": "Keep it logically awesome.", "hook_id": HOOK_ID})
    [hook] = receiver.wait_for(1)
    with pytest.raises(ValueError, match="invalid"):
        verify_signature(["another-secret"], hook.headers["x-hub-signature-256"], hook.body)


def test_the_product_client_reads_everything_it_asks_for(
    github: GitHubStandIn, receiver: Receiver
) -> None:
    async def scenario() -> None:
        async with client(github) as gh:
            head = await gh.get_branch_head(REPO, "main")
            assert len(head) == 40
            assert (await gh.get_commit(REPO, head[:7]))["sha"] == head
            assert await gh.get_branch_head(REPO, "main") == head  # again, with its ETag
            workflow = await gh.find_workflow(REPO, "deploy")
            assert workflow is not None and workflow["path"] == ".github/workflows/deploy.yml"
            result = await gh.dispatch_workflow(REPO, "deploy.yml", "main", {"fail": "true"})
            assert result.run_id is not None
            github.wait_for_run(lambda run: run.finished, timeout=10)
            run = await gh.get_run(REPO, result.run_id)
            assert (run["status"], run["conclusion"]) == ("completed", "failure")
            assert (await gh.get_run_attempt(REPO, result.run_id, 1))["id"] == result.run_id
            listed = await gh.list_workflow_runs(REPO, "deploy.yml", branch="main", per_page=1)
            assert [r["id"] for r in listed] == [result.run_id]
            jobs = await gh.list_run_jobs(REPO, result.run_id)
            failed = next(job for job in jobs if job["conclusion"] == "failure")
            log = await gh.get_job_logs(REPO, failed["id"])
            assert "AssertionError" in log and "exit code 1" in log
            deployments = await gh.list_deployments(REPO, environment="production")
            assert deployments[0]["sha"] == head
            statuses = await gh.list_deployment_statuses(REPO, deployments[0]["id"])
            assert statuses[0]["state"] == "failure"
            status = await gh.create_deployment_status(REPO, deployments[0]["id"], "inactive")
            assert status["state"] == "inactive"
            await gh.rerun_failed_jobs(REPO, result.run_id)
            assert (await gh.get_run(REPO, result.run_id))["run_attempt"] == 2
            await gh.cancel_run(REPO, result.run_id)
            compare = await gh.compare(REPO, "greeting", "main")
            assert (compare["status"], compare["behind_by"]) == ("behind", 1)
            pull = await gh.get_pull(REPO, 1)
            checks = await gh.list_check_runs_for_ref(REPO, pull["head"]["sha"])
            assert [(c["name"], c["conclusion"]) for c in checks] == [("test", "failure")]
            assert (await gh.rate_limit())["rate"]["limit"] == 5000
            assert gh.last_rate_limit is not None and gh.last_rate_limit.limit == 5000
            listed_hooks = await gh.list_hook_deliveries(repo=REPO, hook_id=HOOK_ID)
            assert listed_hooks and listed_hooks[0]["status_code"] == 202
            newest = listed_hooks[0]["id"]
            one = await gh.get_hook_delivery(repo=REPO, hook_id=HOOK_ID, delivery_id=newest)
            assert one["request"]["headers"]["X-GitHub-Event"] == one["event"]
            await gh.redeliver(repo=REPO, hook_id=HOOK_ID, delivery_id=newest)
            # The original and its redelivery: the same guid twice (other deliveries of the
            # run may still be arriving, so not "the last one received").
            original, redelivered = receiver.wait_for_copies(one["guid"], 2)
            assert redelivered.body == original.body
            with pytest.raises(GitHubHTTPError) as missing:
                await gh.get_run("someone/else", 1)
            assert missing.value.status == 404

    asyncio.run(scenario())
    assert any(d.redelivery for d in github.world.deliveries)


def test_it_wants_a_credential_and_signs_its_log_links(github: GitHubStandIn) -> None:
    assert httpx.get(f"{github.url}/repos/{REPO}/actions/runs").status_code == 401
    headers = {"authorization": "token x"}
    pull = httpx.get(f"{github.url}/repos/{REPO}/pulls/1", headers=headers).json()
    checks = httpx.get(
        f"{github.url}/repos/{REPO}/commits/{pull['head']['sha']}/check-runs", headers=headers
    ).json()
    job = checks["check_runs"][0]["id"]
    redirect = httpx.get(f"{github.url}/repos/{REPO}/actions/jobs/{job}/logs", headers=headers)
    assert redirect.status_code == 302
    location = redirect.headers["location"]
    assert httpx.get(location).status_code == 200  # the link itself is the credential
    assert httpx.get(location.replace("sig=", "sig=0")).status_code == 403
    other = location.replace(f"/_logs/{job}", f"/_logs/{job + 1}")
    assert httpx.get(other).status_code == 403, "a link opens only its own job's log"


def test_the_live_site_reports_what_the_last_successful_deploy_deployed(
    github: GitHubStandIn,
) -> None:
    def version() -> str:
        found: str = httpx.get(github.site_url + "version").json()["sha"]
        page = httpx.get(github.site_url)
        assert page.headers["cache-control"] == "no-cache"
        assert f'name="app-version" content="{found}"' in page.text
        return found

    headers = {"authorization": "token x"}
    head = httpx.get(
        f"{github.url}/repos/{REPO}/commits/main",
        headers={**headers, "accept": "application/vnd.github.sha"},
    ).text
    initial = version()
    assert initial != head
    assert httpx.get(github.site_url + "healthz").json() == {"ok": True}

    def deploy(inputs: dict[str, str]) -> str | None:
        answer = httpx.post(
            f"{github.url}/repos/{REPO}/actions/workflows/deploy.yml/dispatches",
            json={"ref": "main", "inputs": inputs, "return_run_details": True},
            headers=headers,
        )
        run_id = answer.json()["workflow_run_id"]
        return github.wait_for_run(lambda run: run.id == run_id and run.finished).conclusion

    assert deploy({"fail": "true"}) == "failure"
    assert version() == initial
    assert deploy({"stale": "true"}) == "success"
    assert version() == initial, "a stale deploy goes green and leaves the site as it was"
    assert deploy({}) == "success"
    assert version() == head


def test_it_lists_what_it_answered_with_when_and_to_whom(github: GitHubStandIn) -> None:
    """`/_standin/requests?since=N`: what a test outside the process orders statuses by."""
    before = httpx.get(f"{github.url}/_standin/requests", params={"since": "999"}).json()
    httpx.get(github.site_url + "version", headers={"user-agent": "orchestrator-verify"})
    httpx.post(
        f"{github.url}/repos/{REPO}/deployments/1/statuses",
        json={"state": "success"},
        headers={"authorization": "token x"},
    )
    found = httpx.get(
        f"{github.url}/_standin/requests", params={"since": str(before["count"])}
    ).json()
    site, status = found["requests"][:2]
    assert (site["path"], site["agent"]) == ("/sites/demo/version", "orchestrator-verify")
    assert (status["method"], status["body"]) == ("POST", {"state": "success"})
    assert site["index"] == before["count"] and site["at"] <= status["at"]
    run = github.world.dispatch("deploy.yml", "main", {})
    [shown] = [
        r for r in httpx.get(f"{github.url}/_standin/state").json()["runs"] if r["id"] == run.id
    ]
    assert shown["completed_at"] is None and shown["inputs"] == {}


def test_dispatch_without_run_details_answers_204_like_older_github(
    github: GitHubStandIn,
) -> None:
    answer = httpx.post(
        f"{github.url}/repos/{REPO}/actions/workflows/deploy.yml/dispatches",
        json={"ref": "main"},
        headers={"authorization": "token x"},
    )
    assert answer.status_code == 204
    missing_ref = httpx.post(
        f"{github.url}/repos/{REPO}/actions/workflows/deploy.yml/dispatches",
        json={"inputs": {}},
        headers={"authorization": "token x"},
    )
    assert missing_ref.status_code == 422
