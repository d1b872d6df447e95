"""A local stand-in for GitHub, on 127.0.0.1: the REST API, Actions, webhooks and a live site.

The dev server (`orchestrator serve`) runs it and points `GITHUB_API_BASE` at it, so
`/deploy`, `/status`, `/release` and `/triage` work locally with no account. It serves
GitHub's own REST shapes (`github_shapes`) for the endpoints `orchestrator.github.client`
calls, for the demo repository `local/demo` (`github_world`).

A dispatched run moves queued -> in progress -> completed one step every `step`
seconds and, like GitHub, sends signed `workflow_run` and `workflow_job` webhooks
(`X-GitHub-Event`, `X-GitHub-Delivery`, `X-Hub-Signature-256`) to `webhook_url`,
recording each as a hook delivery that can be listed and redelivered; each Deployment
status posted to it goes out as a `deployment_status` webhook the same way. Successful
deploy runs change what the demo's live site serves (`/sites/demo/`, with the version
in the page, and `/sites/demo/version`), so the verifier passes after a deploy and
fails before one or after a failed one (or after a `stale=true` one: see `github_world`).
What it answered is listed, in order and with timestamps, at `GET /_standin/requests?since=N`
(as the Discord stand-in's), and what it holds at `GET /_standin/state`: both outside the
API, for people and tests poking at it.

Threads and the network stay here; `github_world` holds the state and its rules.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import secrets
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote

from orchestrator.devtools import github_shapes as shapes
from orchestrator.devtools.github_world import (
    DEFAULT_ACTOR,
    OWNER,
    REPO,
    REPO_ID,
    Delivery,
    DemoWorld,
    Emit,
    GitHubRefusal,
    Run,
)

if TYPE_CHECKING:
    import httpx

DEFAULT_STEP = 1.0  # seconds between a run's steps: a deploy takes a few seconds
HOOK_ID = 490_000_001
SITE_PATH = "/sites/demo"
# Every request the stand-in answered, in order, outside the API (as the Discord stand-in's).
RECORD_PATH = "/_standin/requests"
LOG_LINK_LIFETIME = 60.0  # GitHub's signed log URLs expire about this fast
_DOCS = "https://docs.github.com/rest"


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    body: Any
    at: float = field(default_factory=time.time)
    agent: str = ""  # the User-Agent: tells the verifier's requests from the uptime probe's


@dataclass
class Answer:
    status: int
    body: Any = None  # JSON, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    match: re.Match[str] | None = None

    def group(self, name: str) -> str:
        assert self.match is not None
        return unquote(self.match.group(name))

    def number(self, name: str) -> int:
        value = self.group(name)
        if not (value.isascii() and value.isdigit()):
            raise GitHubRefusal(404, "Not Found")
        return int(value)


def _error(status: int, message: str) -> Answer:
    return Answer(status, {"message": message, "documentation_url": _DOCS, "status": str(status)})


Handler = Callable[[Request], Answer]


class _Server(ThreadingHTTPServer):
    """Threaded, and quiet when a client hangs up before the answer is written."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class GitHubStandIn:
    """`with GitHubStandIn(webhook_url=..., webhook_secret=...) as github:` then point
    `GITHUB_API_BASE` at `github.url`."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        step: float = DEFAULT_STEP,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.step = step
        self.clock = clock
        self.requests: list[Recorded] = []
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._drivers: list[threading.Thread] = []
        self._log_key = secrets.token_bytes(16)
        self._served = 0
        self._http: httpx.Client | None = None
        self._server = _Server((host, port), self._handler_class())
        self._thread: threading.Thread | None = None
        self.urls = shapes.Urls(api=self.url, web=self.url)
        self.world = DemoWorld(clock, site_url=self.site_url)
        self._routes = self._route_table()

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def site_url(self) -> str:
        """The demo app's live page; `version` and `healthz` live beside it."""
        return f"{self.url}{SITE_PATH}/"

    def start(self) -> GitHubStandIn:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="github-standin",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        for driver in list(self._drivers):
            driver.join(timeout=5)
        if self._http is not None:
            self._http.close()

    def __enter__(self) -> GitHubStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- runs and webhooks ------------------------------------------------------------------------

    def _drive(self, run_id: int) -> None:
        """Move a run along in its own thread, one step every `self.step` seconds.

        With `step` 0 the run finishes within the request that started it (its webhooks
        still go out from a thread, in order), so a test needs no timing at all."""
        if self.step <= 0:
            with self._lock:
                outgoing: list[tuple[str, dict[str, Any]]] = []
                while not self.world.runs[run_id].finished:
                    emits = self.world.tick(run_id)
                    outgoing += [self._payload(run_id, emit) for emit in emits]

            self._send_later(outgoing, f"github-run-{run_id}")
            return

        def drive() -> None:
            while not self._stopping.wait(self.step):
                with self._lock:
                    emits = self.world.tick(run_id)
                    outgoing = [self._payload(run_id, emit) for emit in emits]
                    finished = self.world.runs[run_id].finished
                for event, payload in outgoing:
                    self.deliver(event, payload)
                if finished:
                    return

        thread = threading.Thread(target=drive, daemon=True, name=f"github-run-{run_id}")
        with self._lock:
            self._drivers = [t for t in self._drivers if t.is_alive()] + [thread]
        thread.start()

    def _send_later(self, outgoing: list[tuple[str, dict[str, Any]]], name: str) -> None:
        """Deliver `outgoing` in order from a thread of its own, so the request that caused
        them (a dispatch, a new Deployment status) is answered without waiting for them: the
        receiver may be the very process waiting for that answer. (Webhooks of separate calls
        may then arrive in any order, as GitHub's may.)"""

        def send_all() -> None:
            for event, payload in outgoing:
                self.deliver(event, payload)

        sender = threading.Thread(target=send_all, daemon=True, name=name)
        with self._lock:
            self._drivers = [t for t in self._drivers if t.is_alive()] + [sender]
        sender.start()

    def _payload(self, run_id: int, emit: Emit) -> tuple[str, dict[str, Any]]:
        event, action, job_id = emit
        run = self.world.runs[run_id]
        if job_id is None:
            return event, shapes.workflow_run_event(self.urls, self.world, run, action)
        job = next(job for job in run.jobs if job.id == job_id)
        return event, shapes.workflow_job_event(self.urls, job, run, action)

    def deliver(
        self, event: str, payload: dict[str, Any], *, guid: str | None = None
    ) -> Delivery | None:
        """POST one webhook to `webhook_url`, signed as GitHub signs it, and record it."""
        if not self.webhook_url or self._stopping.is_set():
            return None
        import httpx

        from orchestrator.github.verify import sign

        body = json.dumps(payload, separators=(",", ":")).encode()
        delivery_guid = guid or str(uuid.uuid4())
        headers = {
            "Accept": "*/*",
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/orchestrator-standin",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery_guid,
            "X-GitHub-Hook-ID": str(HOOK_ID),
            "X-GitHub-Hook-Installation-Target-ID": str(REPO_ID),
            "X-GitHub-Hook-Installation-Target-Type": "repository",
        }
        if self.webhook_secret:
            key = self.webhook_secret.encode()
            headers["X-Hub-Signature"] = "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest()
            headers["X-Hub-Signature-256"] = sign(self.webhook_secret, body)
        started = time.monotonic()
        if self._http is None:
            self._http = httpx.Client(timeout=10.0)
        try:
            response = self._http.post(self.webhook_url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            status, code, answer_headers, answer = f"failed to connect: {exc}", 0, {}, ""
        else:
            code = response.status_code
            status = "OK" if response.is_success else f"Invalid HTTP Response: {code}"
            answer_headers, answer = dict(response.headers), response.text[:10_000]
        action = payload.get("action")
        with self._lock:
            record = Delivery(
                id=self.world.new_delivery_id(),
                guid=delivery_guid,
                event=event,
                action=action if isinstance(action, str) else None,
                delivered_at=self.clock(),
                redelivery=guid is not None,
                duration=time.monotonic() - started,
                status=status,
                status_code=code,
                request_headers={k: v for k, v in headers.items() if k != "X-Hub-Signature"},
                payload=payload,
                response_headers=answer_headers,
                response_body=answer,
            )
            self.world.deliveries.insert(0, record)  # newest first, as GitHub lists them
        return record

    def wait_for_run(self, predicate: Callable[[Run], bool], timeout: float = 10.0) -> Run:
        """The first dispatched run for which `predicate` holds, within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for run in self.world.runs.values():
                    if run.event == "workflow_dispatch" and predicate(run):
                        return run
            time.sleep(0.02)
        raise TimeoutError("no dispatched run matched in time")

    # -- routing ----------------------------------------------------------------------------------

    def _route_table(self) -> list[tuple[str, re.Pattern[str], Handler]]:
        repo = r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
        runs = repo + r"/actions/runs/(?P<run>[^/]+)"
        # The demo's one hook, seen from its repository, from its owner (as an org hook),
        # or as the App's own hook: every delivery is listed under each.
        hooks = (
            r"(?:" + repo[1:] + r"/hooks/(?P<hook>[^/]+)"
            r"|^/orgs/(?P<org>[^/]+)/hooks/(?P<org_hook>[^/]+)|^/app/hook)/deliveries"
        )
        table: list[tuple[str, str, Handler]] = [
            ("GET", r"^/rate_limit$", self._rate_limit),
            ("GET", repo + r"$", self._repository),
            ("GET", repo + r"/installation$", self._installation),
            ("POST", r"^/app/installations/(?P<installation>[^/]+)/access_tokens$", self._token),
            ("GET", repo + r"/actions/workflows$", self._workflows),
            ("GET", repo + r"/actions/workflows/(?P<wf>[^/]+)$", self._workflow),
            ("GET", repo + r"/actions/workflows/(?P<wf>[^/]+)/runs$", self._runs),
            ("POST", repo + r"/actions/workflows/(?P<wf>[^/]+)/dispatches$", self._dispatch),
            ("GET", repo + r"/actions/runs$", self._runs),
            ("GET", runs + r"$", self._run),
            ("GET", runs + r"/attempts/(?P<attempt>[^/]+)$", self._run),
            ("GET", runs + r"/jobs$", self._jobs),
            ("GET", runs + r"/attempts/(?P<attempt>[^/]+)/jobs$", self._jobs),
            ("POST", runs + r"/rerun$", self._rerun),
            ("POST", runs + r"/rerun-failed-jobs$", self._rerun),
            ("POST", runs + r"/cancel$", self._cancel),
            ("GET", repo + r"/actions/jobs/(?P<job>[^/]+)$", self._job),
            ("GET", repo + r"/actions/jobs/(?P<job>[^/]+)/logs$", self._logs),
            ("GET", repo + r"/commits/(?P<ref>[^/]+)$", self._commit),
            ("GET", repo + r"/commits/(?P<ref>[^/]+)/check-runs$", self._check_runs),
            ("GET", repo + r"/compare/(?P<basehead>[^/]+)$", self._compare),
            ("GET", repo + r"/pulls/(?P<number>[^/]+)$", self._pull),
            ("GET", repo + r"/deployments$", self._deployments),
            ("POST", repo + r"/deployments$", self._new_deployment),
            ("GET", repo + r"/deployments/(?P<deployment>[^/]+)/statuses$", self._statuses),
            ("POST", repo + r"/deployments/(?P<deployment>[^/]+)/statuses$", self._new_status),
            ("GET", hooks + r"$", self._deliveries),
            ("GET", hooks + r"/(?P<delivery>[^/]+)$", self._delivery),
            ("POST", hooks + r"/(?P<delivery>[^/]+)/attempts$", self._redeliver),
        ]
        return [(method, re.compile(pattern), handler) for method, pattern, handler in table]

    def _answer(self, request: Request) -> Answer:
        path = request.path
        if path == SITE_PATH or path.startswith(SITE_PATH + "/"):
            return self._site(request)
        if path.startswith("/_logs/"):
            return self._log_download(request)
        if path == "/_standin/state":
            return Answer(200, self._state())
        if path == RECORD_PATH:
            since = request.query.get("since", "0")
            return Answer(200, self.recorded(int(since) if since.isdigit() else 0))
        if path.startswith(f"/{REPO}/") or path == f"/{REPO}":
            return self._page(request)
        for method, pattern, handler in self._routes:
            match = pattern.match(path)
            if match is None or method != request.method:
                continue
            if not request.headers.get("authorization"):
                return _error(401, "Requires authentication")
            owner, name = match.groupdict().get("owner"), match.groupdict().get("repo")
            if owner is not None and f"{owner}/{name}".lower() != REPO:
                return _error(404, "Not Found")
            org = match.groupdict().get("org")
            if org is not None and org.lower() != OWNER:
                return _error(404, "Not Found")
            hook = match.groupdict().get("hook") or match.groupdict().get("org_hook")
            if hook is not None and hook != str(HOOK_ID):
                return _error(404, "Not Found")
            request.match = match
            try:
                with self._lock:
                    return handler(request)
            except GitHubRefusal as refusal:
                return _error(refusal.status, refusal.message)
        return _error(404, "Not Found")

    # -- pagination and helpers -------------------------------------------------------------------

    def _page(self, request: Request) -> Answer:
        """A plain page for the web URLs the API hands out ("Open run" links land here)."""
        with self._lock:
            lines = [f"<h1>{html.escape(REPO)}</h1>", "<p>The local GitHub stand-in.</p>"]
            match = re.match(r"^/[^/]+/[^/]+/actions/runs/(\d+)", request.path)
            run = self.world.runs.get(int(match.group(1))) if match else None
            if run is not None:
                lines.append(
                    f"<h2>{html.escape(run.display_title)}</h2><p>{run.status} "
                    f"{run.conclusion or ''} · attempt {run.attempt}</p><ul>"
                )
                for job in run.jobs:
                    lines.append(
                        f"<li>{html.escape(job.name)}: {job.status} {job.conclusion or ''}</li>"
                    )
                lines.append("</ul>")
        body = "<!doctype html><html><body>" + "".join(lines) + "</body></html>"
        return Answer(200, body.encode(), content_type="text/html; charset=utf-8")

    def _paginate(self, request: Request, items: list[Any], key: str | None = None) -> Answer:
        try:
            per_page = max(1, min(100, int(request.query.get("per_page") or 30)))
            page = max(1, int(request.query.get("page") or 1))
        except ValueError:
            return _error(422, "Invalid request.")
        chunk = items[(page - 1) * per_page : page * per_page]
        last = max(1, -(-len(items) // per_page))
        links = []
        base = {k: v for k, v in request.query.items() if k != "page"}

        def link(number: int, rel: str) -> str:
            query = "&".join(f"{k}={quote(v)}" for k, v in {**base, "page": str(number)}.items())
            return f'<{self.url}{request.path}?{query}>; rel="{rel}"'

        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        headers = {"link": ", ".join(links)} if links else {}
        body: Any = {"total_count": len(items), key: chunk} if key else chunk
        return Answer(200, body, headers)

    def _run_of(self, request: Request) -> Run:
        attempt = (
            request.number("attempt")
            if request.match and request.match.groupdict().get("attempt")
            else None
        )
        return self.world.run(request.number("run"), attempt)

    # -- API handlers -----------------------------------------------------------------------------

    def _rate_limit(self, request: Request) -> Answer:
        remaining, reset = self._rate()
        return Answer(200, shapes.rate_limit(remaining, reset))

    def _rate(self) -> tuple[int, int]:
        return max(0, 5000 - self._served % 5000), int(self.clock()) // 3600 * 3600 + 3600

    def _repository(self, request: Request) -> Answer:
        return Answer(200, shapes.repository(self.urls))

    def _installation(self, request: Request) -> Answer:
        return Answer(200, shapes.installation(self.urls))

    def _token(self, request: Request) -> Answer:
        """Any App JWT gets an hour's token: the stand-in checks no credential's content."""
        if request.number("installation") != shapes.INSTALLATION_ID:
            return _error(404, "Not Found")
        token = "ghs_" + secrets.token_hex(18)
        return Answer(201, shapes.installation_token(token, self.clock() + 3600))

    def _workflows(self, request: Request) -> Answer:
        workflows = [shapes.workflow(self.urls, wf) for wf in self.world.workflows.values()]
        return self._paginate(request, workflows, "workflows")

    def _workflow(self, request: Request) -> Answer:
        return Answer(200, shapes.workflow(self.urls, self.world.workflow(request.group("wf"))))

    def _runs(self, request: Request) -> Answer:
        query = request.query
        wanted = (
            request.group("wf") if request.match and request.match.groupdict().get("wf") else None
        )
        workflow = self.world.workflow(wanted) if wanted is not None else None
        found = []
        for run in sorted(self.world.runs.values(), key=lambda r: r.id, reverse=True):
            if workflow is not None and run.workflow.id != workflow.id:
                continue
            if query.get("branch") and run.head_branch != query["branch"]:
                continue
            if query.get("event") and run.event != query["event"]:
                continue
            if query.get("head_sha") and run.head_sha != query["head_sha"]:
                continue
            status = query.get("status")
            if status and status not in (run.status, run.conclusion):
                continue
            found.append(shapes.workflow_run(self.urls, self.world, run))
        return self._paginate(request, found, "workflow_runs")

    def _dispatch(self, request: Request) -> Answer:
        body = request.body if isinstance(request.body, dict) else None
        if body is None or not isinstance(body.get("ref"), str) or not body["ref"]:
            return _error(422, 'Invalid request.\n\n"ref" wasn\'t supplied.')
        inputs = body.get("inputs") or {}
        if not isinstance(inputs, dict) or len(inputs) > 25:
            return _error(422, "Invalid request.\n\nFor 'properties/inputs', it is not an object.")
        run = self.world.dispatch(request.group("wf"), body["ref"], inputs)
        self._drive(run.id)
        if body.get("return_run_details") is not True:
            return Answer(204)
        workflow_run = shapes.workflow_run(self.urls, self.world, run)
        return Answer(
            200,
            {
                "workflow_run_id": run.id,
                "run_url": workflow_run["url"],
                "html_url": workflow_run["html_url"],
            },
        )

    def _run(self, request: Request) -> Answer:
        return Answer(200, shapes.workflow_run(self.urls, self.world, self._run_of(request)))

    def _jobs(self, request: Request) -> Answer:
        run = self._run_of(request)
        runs = [run]
        if request.query.get("filter") == "all":
            runs = [*run.past.values(), run]
        jobs = [shapes.job(self.urls, job, item) for item in runs for job in item.jobs]
        return self._paginate(request, jobs, "jobs")

    def _rerun(self, request: Request) -> Answer:
        failed_only = request.path.endswith("/rerun-failed-jobs")
        run = self.world.rerun(request.number("run"), failed_only=failed_only)
        self._drive(run.id)
        return Answer(201, {})

    def _cancel(self, request: Request) -> Answer:
        self.world.cancel(request.number("run"))
        return Answer(202, {})

    def _job(self, request: Request) -> Answer:
        job, run = self.world.job(request.number("job"))
        return Answer(200, shapes.job(self.urls, job, run))

    def _logs(self, request: Request) -> Answer:
        job, _ = self.world.job(request.number("job"))
        expires = int(self.clock() + LOG_LINK_LIFETIME)
        signature = self._log_signature(job.id, expires)
        location = f"{self.url}/_logs/{job.id}?expires={expires}&sig={signature}"
        return Answer(302, None, {"location": location})

    def _log_signature(self, job_id: int, expires: int) -> str:
        message = f"{job_id}:{expires}".encode()
        return hmac.new(self._log_key, message, hashlib.sha256).hexdigest()[:32]

    def _log_download(self, request: Request) -> Answer:
        """The signed, short-lived log URL GitHub redirects to: no token, the link is the key."""
        job_id = request.path.removeprefix("/_logs/")
        try:
            expires = int(request.query.get("expires", ""))
        except ValueError:
            expires = 0
        signature = request.query.get("sig", "")
        if (
            not job_id.isdigit()
            or expires < self.clock()
            or not hmac.compare_digest(signature, self._log_signature(int(job_id), expires))
        ):
            return Answer(403, b"AuthenticationFailed", content_type="application/xml")
        with self._lock:
            try:
                job, _ = self.world.job(int(job_id))
            except GitHubRefusal:
                return Answer(404, b"BlobNotFound", content_type="application/xml")
            text = "\n".join(job.log) + "\n"
        return Answer(200, text.encode(), content_type="text/plain; charset=utf-8")

    def _commit(self, request: Request) -> Answer:
        sha = self.world.resolve(request.group("ref"))
        if "application/vnd.github.sha" in request.headers.get("accept", ""):
            return Answer(200, sha.encode(), content_type="application/vnd.github.sha")
        return Answer(200, shapes.commit(self.urls, self.world.commits[sha]))

    def _check_runs(self, request: Request) -> Answer:
        sha = self.world.resolve(request.group("ref"))
        name = request.query.get("check_name")
        found = [
            shapes.check_run(self.urls, self.world, job, run)
            for run in sorted(self.world.runs.values(), key=lambda r: r.id, reverse=True)
            if run.head_sha == sha
            for job in run.jobs
            if not name or job.name == name
        ]
        return self._paginate(request, found, "check_runs")

    def _compare(self, request: Request) -> Answer:
        base, sep, head = request.group("basehead").partition("...")
        if not sep or not base or not head:
            return _error(404, "Not Found")
        return Answer(200, shapes.comparison(self.urls, self.world, base, head))

    def _pull(self, request: Request) -> Answer:
        pull = self.world.pulls.get(request.number("number"))
        if pull is None:
            return _error(404, "Not Found")
        return Answer(200, shapes.pull(self.urls, self.world, pull))

    def _deployments(self, request: Request) -> Answer:
        query = request.query
        found = []
        for deployment in sorted(self.world.deployments.values(), key=lambda d: -d.id):
            if any(
                query.get(key) and query[key] != value
                for key, value in (
                    ("environment", deployment.environment),
                    ("sha", deployment.sha),
                    ("ref", deployment.ref),
                    ("task", deployment.task),
                )
            ):
                continue
            found.append(shapes.deployment(self.urls, deployment))
        return self._paginate(request, found)

    def _new_deployment(self, request: Request) -> Answer:
        """As GitHub: `ref` is required; `required_contexts` absent means every check must
        pass (the demo's CI), an empty list none; `auto_merge` (default true) is not
        modelled, and a client asking for it is told so rather than silently deployed."""
        body = request.body if isinstance(request.body, dict) else None
        if body is None or not isinstance(body.get("ref"), str) or not body["ref"]:
            return _error(422, 'Invalid request.\n\n"ref" wasn\'t supplied.')
        if body.get("auto_merge", True) is not False:
            return _error(422, "the stand-in only deploys with auto_merge: false")
        contexts = body.get("required_contexts")
        if contexts is not None and (
            not isinstance(contexts, list) or not all(isinstance(c, str) for c in contexts)
        ):
            return _error(422, "Invalid request.\n\nrequired_contexts is not an array.")
        payload = body.get("payload") or {}
        if isinstance(payload, str):
            payload = {"payload": payload}
        if not isinstance(payload, dict):
            return _error(422, "Invalid request.\n\npayload is not an object.")
        environment = body.get("environment") or "production"
        description = body.get("description") or ""
        if not isinstance(environment, str) or not isinstance(description, str):
            return _error(422, "Validation Failed")
        deployment = self.world.create_deployment(
            body["ref"],
            environment=environment,
            task=str(body.get("task") or "deploy"),
            description=description,
            creator=DEFAULT_ACTOR,
            payload=payload,
            required_contexts=["test"] if contexts is None else contexts,
            transient_environment=body.get("transient_environment") is True,
            production_environment=body.get("production_environment", environment == "production")
            is True,
        )
        return Answer(201, shapes.deployment(self.urls, deployment))

    def _statuses(self, request: Request) -> Answer:
        deployment = self.world.deployments.get(request.number("deployment"))
        if deployment is None:
            return _error(404, "Not Found")
        found = [
            shapes.deployment_status(self.urls, deployment, status)
            for status in deployment.statuses
        ]
        return self._paginate(request, found)

    def _new_status(self, request: Request) -> Answer:
        body = request.body if isinstance(request.body, dict) else {}
        state = body.get("state")
        valid = {"error", "failure", "inactive", "in_progress", "queued", "pending", "success"}
        if state not in valid:
            return _error(422, "Validation Failed")
        description = body.get("description")
        if isinstance(description, str) and len(description) > 140:
            return _error(422, "Validation Failed")
        environment_url = body.get("environment_url")
        log_url = body.get("log_url") or body.get("target_url") or ""
        status = self.world.add_status(
            request.number("deployment"),
            str(state),
            description if isinstance(description, str) else "",
            environment_url=environment_url if isinstance(environment_url, str) else "",
            log_url=log_url if isinstance(log_url, str) else "",
        )
        deployment = self.world.deployments[request.number("deployment")]
        event = shapes.deployment_status_event(self.urls, deployment, status)
        self._send_later([("deployment_status", event)], f"github-status-{status.id}")
        return Answer(201, shapes.deployment_status(self.urls, deployment, status))

    def _deliveries(self, request: Request) -> Answer:
        items = [shapes.delivery_item(item) for item in self.world.deliveries]
        return self._paginate(request, items)

    def _delivery_url(self, delivery_id: int) -> str:
        return f"{self.urls.repo_api}/hooks/{HOOK_ID}/deliveries/{delivery_id}"

    def _delivery(self, request: Request) -> Answer:
        found = self.world.delivery(request.number("delivery"))
        return Answer(200, shapes.delivery(found, self._delivery_url(found.id)))

    def _redeliver(self, request: Request) -> Answer:
        found = self.world.delivery(request.number("delivery"))
        # Sent from a thread of its own: the answer is 202 at once, as GitHub's is.
        threading.Thread(
            target=self.deliver,
            args=(found.event, found.payload),
            kwargs={"guid": found.guid},
            daemon=True,
        ).start()
        return Answer(202, {})

    # -- the demo app's live site -----------------------------------------------------------------

    def _site(self, request: Request) -> Answer:
        if request.method not in ("GET", "HEAD"):
            return Answer(405, b"method not allowed", content_type="text/plain")
        page = request.path.removeprefix(SITE_PATH).strip("/")
        with self._lock:
            sha = self.world.live_sha
        if page == "":
            body = (
                "<!doctype html><html><head><title>demo</title>"
                f'<meta name="app-version" content="{sha}"></head>'
                f"<body><h1>Hello from the demo app</h1><p>version {sha[:7]}</p></body></html>"
            )
            return Answer(
                200,
                body.encode(),
                {"cache-control": "no-cache"},
                content_type="text/html; charset=utf-8",
            )
        if page == "version":
            return Answer(200, {"sha": sha}, {"cache-control": "no-store"})
        if page == "healthz":
            return Answer(200, {"ok": True}, {"cache-control": "no-store"})
        return Answer(404, b"not found", content_type="text/plain")

    def recorded(self, since: int = 0) -> dict[str, Any]:
        """The requests answered from index `since` on, as JSON, with the total so far: what
        the bot asked (bodies included) and when, and which of the site's requests were the
        verifier's (`agent`), so a test can order a deployment status against them."""
        with self._lock:
            found = self.requests[max(0, since) :]
            return {
                "count": len(self.requests),
                "requests": [
                    {
                        "index": since + offset,
                        "method": r.method,
                        "path": r.path,
                        "query": r.query,
                        "body": r.body,
                        "agent": r.agent,
                        "at": r.at,
                    }
                    for offset, r in enumerate(found)
                ],
            }

    def _state(self) -> dict[str, Any]:
        """What the stand-in holds, for people and tests poking at it (`/_standin/state`)."""
        with self._lock:
            return {
                "repo": REPO,
                "live_sha": self.world.live_sha,
                "branches": dict(self.world.branches),
                "runs": [
                    {
                        "id": run.id,
                        "workflow": run.workflow.file,
                        "status": run.status,
                        "conclusion": run.conclusion,
                        "attempt": run.attempt,
                        "title": run.display_title,
                        "inputs": dict(run.inputs),
                        "deploy_sha": run.deploy_sha,
                        # Seconds since the epoch, unrounded: to order it against requests.
                        "created_at": run.created_at,
                        "completed_at": run.updated_at if run.finished else None,
                    }
                    for run in self.world.runs.values()
                ],
                "deliveries": len(self.world.deliveries),
            }

    # -- HTTP ------------------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class HandlerClass(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without TCP_NODELAY the second waits
            # for the peer's delayed ACK, ~40 ms on every keep-alive answer.
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                path, _, query = self.path.partition("?")
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                request = Request(
                    method=self.command,
                    path=path,
                    query={k: v[0] for k, v in parse_qs(query).items()},
                    body=body,
                    headers={k.lower(): v for k, v in self.headers.items()},
                )
                with standin._lock:
                    agent = self.headers.get("user-agent") or ""
                    standin.requests.append(Recorded(self.command, path, query, body, agent=agent))
                    standin._served += 1
                answer = standin._answer(request)
                self._send(request, answer)

            def _send(self, request: Request, answer: Answer) -> None:
                if isinstance(answer.body, bytes):
                    payload = answer.body
                elif answer.body is None:
                    payload = b""
                else:
                    payload = json.dumps(answer.body).encode()
                headers = dict(answer.headers)
                status = answer.status
                if request.path.startswith(("/repos/", "/orgs/", "/app/", "/rate_limit")):
                    remaining, reset = standin._rate()
                    headers.update(
                        {
                            "x-ratelimit-limit": "5000",
                            "x-ratelimit-remaining": str(remaining),
                            "x-ratelimit-used": str(5000 - remaining),
                            "x-ratelimit-reset": str(reset),
                            "x-ratelimit-resource": "core",
                            "x-github-api-version-selected": "2022-11-28",
                            "x-github-request-id": uuid.uuid4().hex[:20].upper(),
                        }
                    )
                    if status == 200 and request.method == "GET":
                        tag = 'W/"' + hashlib.sha256(payload).hexdigest()[:40] + '"'
                        headers["etag"] = tag
                        if request.headers.get("if-none-match") == tag:
                            status, payload = 304, b""
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if payload:
                    self.send_header("content-type", answer.content_type)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                if request.method != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _serve

            def log_message(self, format: str, *args: Any) -> None:  # quiet, like GitHub
                return

        return HandlerClass
