"""A fake GitHub REST API on 127.0.0.1 for tests: scripted answers, every exchange recorded.

Answers are set per (method, path) with `fake.on("GET", "/repos/o/r/...", body)`;
an unscripted route answers 404 the way GitHub does. Requests are recorded
with their JSON bodies so tests can assert what we asked GitHub to do.

Every exchange (the request and the answer the fake gave) also goes to a session-wide
journal that `tests/conftest.py` checks after each test against GitHub's OpenAPI
description (`tests/support/github_spec.py`): a fake that answers what GitHub never would
fails the test that scripted it. Build answers with `tests/support/github_objects.py`. A
test that makes GitHub misbehave on purpose (a 200 with HTML, a half object) says so on
the route: `fake.on(..., off_contract="why")`. Text answers are labelled with the media
type the request asked for (`application/vnd.github.sha`), else `text/plain`, as GitHub does.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tests.support.servers import QuietHTTPServer

Responder = Callable[["Recorded"], tuple[int, Any, dict[str, str]]]
REDIRECT_TARGET = "the target of a redirect GitHub documents (storage, not the REST API)"
_GENERIC_ACCEPTS = frozenset({"", "*/*", "application/json", "application/vnd.github+json"})


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    body: Any
    headers: dict[str, str]
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Exchange:
    """One request and the answer the fake gave, as GitHub's description would judge it."""

    request: Recorded
    status: int
    headers: dict[str, str]
    body: bytes
    off_contract: str | None  # why this exchange is not meant to look like GitHub
    test: str  # the test running when it happened (PYTEST_CURRENT_TEST)


class Journal:
    """Every exchange of every FakeGitHub in the process, until the contract check takes it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []

    def add(self, exchange: Exchange) -> None:
        with self._lock:
            self._exchanges.append(exchange)

    def drain(self) -> list[Exchange]:
        with self._lock:
            taken, self._exchanges = self._exchanges, []
            return taken


JOURNAL = Journal()


def contract_violations(exchanges: list[Exchange]) -> list[str]:
    """Why each exchange (not marked off contract) breaks GitHub's OpenAPI description."""
    from tests.support.github_spec import describe_failure, validate_exchange

    problems: list[str] = []
    for exchange in exchanges:
        if exchange.off_contract is not None:
            continue
        request = exchange.request
        errors = validate_exchange(
            request.method,
            request.path,
            request.query,
            request.body,
            exchange.status,
            exchange.headers,
            exchange.body,
            request_headers=request.headers,
        )
        if errors:
            report = describe_failure(
                request.method,
                request.path,
                request.query,
                request.body,
                exchange.status,
                exchange.body,
                errors,
            )
            problems.append(f"[{exchange.test}]\n{report}")
    return problems


class FakeGitHub:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.exchanges: list[Exchange] = []
        self._routes: dict[tuple[str, str], Responder] = {}
        self._off_contract: dict[tuple[str, str], str] = {}
        self._redirect_targets: set[str] = set()
        self._lock = threading.Condition()
        self._server = QuietHTTPServer(("127.0.0.1", 0), self._handler())

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeGitHub:
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def on(
        self,
        method: str,
        path: str,
        body: Any = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
        *,
        off_contract: str | None = None,
    ) -> None:
        """Answer `method path` with `body` (JSON, or text: a str); `off_contract` says why
        this answer is knowingly not what GitHub would send, and exempts it from the check."""
        self.respond(
            method, path, lambda _: (status, body, headers or {}), off_contract=off_contract
        )

    def respond(
        self, method: str, path: str, responder: Responder, *, off_contract: str | None = None
    ) -> None:
        self._routes[(method.upper(), path)] = responder
        if off_contract is None:
            self._off_contract.pop((method.upper(), path), None)
        else:
            self._off_contract[(method.upper(), path)] = off_contract

    def job_logs(self, repo: str, job_id: int, text: str) -> None:
        """Serve a job's log as GitHub does: a 302 to a short-lived URL elsewhere that holds
        the text (here a path on this fake, which the contract check knows is no API)."""
        blob = f"/_signed_logs/{repo}/jobs/{job_id}.txt"
        self.on(
            "GET",
            f"/repos/{repo}/actions/jobs/{job_id}/logs",
            None,
            status=302,
            headers={"location": f"{self.url}{blob}?sig=test"},
        )
        self.on("GET", blob, text, headers={"content-type": "text/plain"})

    def deployments(self, repo: str, first_id: int = 1000) -> Callable[[], list[tuple[int, str]]]:
        """Serve `POST /repos/{repo}/deployments` (a new id each time, 201) and each one's
        `POST …/statuses`, in GitHub's shapes. Returns a function listing the statuses
        posted so far as (deployment id, state), in order."""
        from tests.support import github_objects as gh

        ids = iter(range(first_id, first_id + 10_000))
        base = f"/repos/{repo}/deployments"

        def create(recorded: Recorded) -> tuple[int, Any, dict[str, str]]:
            deployment_id = next(ids)
            body = recorded.body if isinstance(recorded.body, dict) else {}
            answer = gh.deployment(
                repo=repo,
                id=deployment_id,
                sha=body.get("ref"),
                ref=body.get("ref"),
                environment=body.get("environment"),
                payload=body.get("payload") or {},
                url=f"https://api.github.com{base}/{deployment_id}",
                statuses_url=f"https://api.github.com{base}/{deployment_id}/statuses",
            )
            self.respond("POST", f"{base}/{deployment_id}/statuses", status_of(deployment_id))
            return 201, answer, {}

        def status_of(deployment_id: int) -> Responder:
            def answer(recorded: Recorded) -> tuple[int, Any, dict[str, str]]:
                body = recorded.body if isinstance(recorded.body, dict) else {}
                return 201, gh.deployment_status(repo=repo, state=body.get("state")), {}

            return answer

        self.respond("POST", base, create)

        def posted() -> list[tuple[int, str]]:
            with self._lock:
                return [
                    (int(r.path.split("/")[-2]), str(r.body.get("state")))
                    for r in self.requests
                    if r.method == "POST"
                    and r.path.startswith(base + "/")
                    and r.path.endswith("/statuses")
                ]

        return posted

    def hook_deliveries(
        self, hook: str, log: list[dict[str, Any]], *, redelivered_code: int = 200
    ) -> list[dict[str, Any]]:
        """Serve a webhook's delivery log as GitHub does, at `hook` (`/repos/o/r/hooks/1`,
        `/orgs/o/hooks/1` or `/app/hook`): `GET …/deliveries` lists `log` newest first and
        `POST …/deliveries/{id}/attempts` answers 202 and logs the new attempt (same guid,
        `redelivered_code`) at the top, as GitHub does. Returns the live log, for the test
        to read or extend."""
        lock = threading.Lock()
        ids = itertools.count(max([int(e["id"]) for e in log] or [0]) + 1000)

        def listing(_: Recorded) -> tuple[int, Any, dict[str, str]]:
            with lock:
                return 200, list(log), {}

        def one(entry: dict[str, Any]) -> Responder:
            def attempt(_: Recorded) -> tuple[int, Any, dict[str, str]]:
                ok = 200 <= redelivered_code < 300
                with lock:
                    log.insert(
                        0,
                        {
                            **entry,
                            "id": next(ids),
                            "redelivery": True,
                            "status_code": redelivered_code,
                            "status": "OK" if ok else f"Invalid HTTP Response: {redelivered_code}",
                            "delivered_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        },
                    )
                return 202, {}, {}

            return attempt

        self.respond("GET", f"{hook}/deliveries", listing)
        for entry in list(log):
            self.respond("POST", f"{hook}/deliveries/{entry['id']}/attempts", one(entry))
        return log

    def calls(self, method: str, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    def wait_for(self, predicate: Callable[[list[Recorded]], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(self.requests):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError([f"{r.method} {r.path}" for r in self.requests])
                self._lock.wait(remaining)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
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
                recorded = Recorded(
                    self.command, path, query, body, {k.lower(): v for k, v in self.headers.items()}
                )
                responder = fake._routes.get((self.command, path))
                if responder is None:
                    status, answer, headers = (
                        404,
                        {
                            "message": "Not Found",
                            "documentation_url": "https://docs.github.com/rest",
                        },
                        {},
                    )
                else:
                    status, answer, headers = responder(recorded)
                payload = (
                    b""
                    if answer is None
                    else (
                        answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
                    )
                )
                sent = dict(headers)
                if payload and "content-type" not in {h.lower() for h in headers}:
                    sent["content-type"] = fake._media_type(recorded, answer)
                fake._record(recorded, status, sent, payload)
                self.send_response(status)
                for name, value in sent.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

    @staticmethod
    def _media_type(recorded: Recorded, answer: Any) -> str:
        """JSON for JSON; text in the media type the request asked for, as GitHub labels it."""
        if not isinstance(answer, str):
            return "application/json; charset=utf-8"
        accept = recorded.headers.get("accept", "").split(";", 1)[0].strip().lower()
        if accept not in _GENERIC_ACCEPTS and "," not in accept:
            return f"{accept}; charset=utf-8"
        return "text/plain; charset=utf-8"

    def _record(
        self, recorded: Recorded, status: int, headers: dict[str, str], body: bytes
    ) -> None:
        key = (recorded.method, recorded.path)
        off_contract = self._off_contract.get(key)
        if recorded.path in self._redirect_targets:
            off_contract = off_contract or REDIRECT_TARGET
        lowered = {name.lower(): value for name, value in headers.items()}
        location = lowered.get("location")
        if 300 <= status < 400 and location:
            target = urlsplit(location)
            if f"{target.scheme}://{target.netloc}" == self.url:
                self._redirect_targets.add(target.path)
        exchange = Exchange(
            recorded,
            status,
            lowered,
            body,
            off_contract,
            os.environ.get("PYTEST_CURRENT_TEST", "(outside a test)"),
        )
        with self._lock:
            self.requests.append(recorded)
            self.exchanges.append(exchange)
            self._lock.notify_all()
        JOURNAL.add(exchange)
