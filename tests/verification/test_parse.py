"""The verifier's pure readings: run URLs, GitHub's run and jobs JSON, version bodies, headers."""

from __future__ import annotations

import httpx
import pytest

from orchestrator.apps import App
from orchestrator.verification import parse_run_url
from orchestrator.verification.facts import HttpProbe
from orchestrator.verification.parse import (
    decode_body,
    failed_jobs_of,
    kept_headers,
    run_facts_of,
    run_request,
    version_from_json,
)
from tests.support.verification import RUN_URL, SHA, job, raw_run

# --- parse_run_url and the request ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "parsed"),
    [
        ("https://github.com/acme/web/actions/runs/123", ("acme/web", 123, None)),
        ("https://github.com/acme/web/actions/runs/123/", ("acme/web", 123, None)),
        ("https://github.com/acme/web/actions/runs/123/attempts/2", ("acme/web", 123, 2)),
        ("https://github.com/acme/web/actions/runs/123/job/456", ("acme/web", 123, None)),
        ("https://github.com/acme/web/actions/runs/123/job/456#step:4:10", ("acme/web", 123, None)),
        ("https://github.com/acme/web/actions/runs/123?pr=9", ("acme/web", 123, None)),
        ("  github.com/acme/my.site/actions/runs/7  ", ("acme/my.site", 7, None)),
        ("https://api.github.com/repos/acme/web/actions/runs/123", ("acme/web", 123, None)),
        ("https://ghe.example.com/acme/web/actions/runs/5/attempts/3", ("acme/web", 5, 3)),
    ],
)
def test_parse_run_url(url: str, parsed: tuple[str, int, int | None]) -> None:
    assert parse_run_url(url) == parsed


@pytest.mark.parametrize(
    "url",
    [
        "",
        "123",
        "https://github.com/acme/web",
        "https://github.com/acme/web/actions/runs/",
        "https://github.com/acme/web/actions/runs/abc",
        "https://github.com/acme/web/actions/runs/0",
        "https://github.com/acme/web/actions/runs/12/attempts/0",
        "https://github.com/acme/web/pull/12",
        "ftp://github.com/acme/web/actions/runs/12",
        "https://github.com/acme/../actions/runs/12",
        "https://github.com/a/b/c/actions/runs/12",
    ],
)
def test_parse_run_url_refuses_other_urls(url: str) -> None:
    with pytest.raises(ValueError, match=r"run URL|owner/name"):
        parse_run_url(url)


def test_run_request_checks_the_repository_and_the_id() -> None:
    app = App(name="web", repo="acme/web", workflow="deploy.yml")
    assert run_request(app, None, None) == (run_request(app, None, None)[0], None)
    request, error = run_request(app, None, "https://github.com/ACME/Web/actions/runs/9/attempts/2")
    assert (request.run_id, request.attempt, error) == (9, 2, None)
    _, error = run_request(app, None, "https://github.com/other/web/actions/runs/9")
    assert error is not None and error.kind == "invalid" and "other/web" in error.message
    _, error = run_request(app, 8, "https://github.com/acme/web/actions/runs/9")
    assert error is not None and "differ" in error.message
    _, error = run_request(app, None, "not a url")
    assert error is not None and error.kind == "invalid"


def test_failed_jobs_keep_failures_and_their_steps() -> None:
    jobs = [
        job("lint", "success"),
        job("build", "failure", "npm ci", "npm test"),
        job("e2e", "timed_out"),
        job("matrix-2", "cancelled"),  # collateral of fail-fast, not a cause
        "garbage",
    ]
    found = failed_jobs_of(jobs)
    assert [(j.name, j.conclusion, j.steps) for j in found] == [
        ("build", "failure", ("npm ci", "npm test")),
        ("e2e", "timed_out", ()),
    ]


def test_run_facts_read_the_run_and_fall_back_for_what_is_missing() -> None:
    run = run_facts_of(raw_run(), "acme/web", None)
    assert (run.id, run.repo, run.name, run.head_sha, run.html_url) == (
        123,
        "acme/web",
        "Deploy",
        SHA,
        RUN_URL,
    )
    assert (run.attempt, run.event, run.actor, run.duration_s) == (1, "push", "octocat", 192.0)
    bare = run_facts_of({}, "acme/web", 77)
    assert (bare.id, bare.repo, bare.status, bare.started_at) == (77, "acme/web", None, None)


@pytest.mark.parametrize(
    ("page", "body", "found", "problem"),
    [
        (HttpProbe("u", status=200), b'{"build": {"sha": "abc1234"}}', "abc1234", None),
        (HttpProbe("u", status=200), b'{"build": {}}', None, "no field build.sha"),
        (HttpProbe("u", status=200), b"<html>", None, "not JSON"),
        (HttpProbe("u", status=503), b'{"build": {"sha": "abc1234"}}', None, "answered 503"),
    ],
)
def test_version_from_json(page: HttpProbe, body: bytes, found: str | None, problem: str) -> None:
    version = version_from_json(body, "build.sha", "https://api/version", page)
    assert (version.source, version.found, version.problem, version.probe) == (
        "https://api/version",
        found,
        problem,
        page,
    )


@pytest.mark.parametrize(
    ("body", "charset", "text"),
    [
        ("héllo".encode(), None, "héllo"),
        ("héllo".encode("latin-1"), "latin-1", "héllo"),
        ("héllo".encode(), "no-such-charset", "héllo"),
        (b"\xff ok", "utf-8", "\ufffd ok"),
    ],
)
def test_decode_body(body: bytes, charset: str | None, text: str) -> None:
    assert decode_body(body, charset) == text


def test_kept_headers_are_the_evidence_ones_whatever_their_case() -> None:
    headers = httpx.Headers(
        {"Cache-Control": "no-cache", "Set-Cookie": "s=1", "ETag": '"x"', "X-Other": "y"}
    )
    assert kept_headers(headers) == {"cache-control": "no-cache", "etag": '"x"'}
    assert kept_headers({}) == {}
