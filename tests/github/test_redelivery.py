"""Failed deliveries are redelivered once each, by one sweep or two at once, never again.

Against `FakeGitHub` serving a hook's delivery log and its redelivery endpoint (every
exchange checked against GitHub's OpenAPI description, as everywhere in the suite).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator.github import redelivery
from orchestrator.github.auth import TokenAuth
from orchestrator.github.client import GitHubClient
from orchestrator.github.deliveries import Hook, HookMisconfigured, configured_hook
from orchestrator.github.intake import delivery_claim
from orchestrator.github.redelivery import Redelivered, redeliver_failed
from orchestrator.store import keys
from orchestrator.store.sqlite import SQLiteStore
from tests.support import github_objects as gh
from tests.support.fake_github import FakeGitHub

HOOK_PATH = "/repos/acme/web/hooks/77"
HOOK = Hook(repo="acme/web", hook_id=77)


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def attempt(
    id_: int, guid: str, ago: float, code: int, status: str | None = None
) -> dict[str, Any]:
    return gh.hook_delivery_item(
        id=id_,
        guid=guid,
        delivered_at=_iso(time.time() - ago),
        status_code=code,
        status=status or ("OK" if code < 300 else f"Invalid HTTP Response: {code}"),
        event="workflow_run",
        action="completed",
        redelivery=False,
    )


def fresh_log() -> list[dict[str, Any]]:
    """Newest first, as GitHub lists them."""
    return [
        attempt(5, "fine", 60, 200),
        attempt(4, "bad-gateway", 120, 502),
        attempt(3, "timed-out", 180, 0, status="timed out"),
        attempt(2, "taken-late", 240, 0, status="timed out"),  # we got it; GitHub gave up
        attempt(1, "too-old", 4 * 86400, 502),  # past GitHub's 3-day window
    ]


def asked(github: FakeGitHub) -> list[str]:
    return [r.path for r in github.requests if r.method == "POST"]


def sweep(github: FakeGitHub, store: SQLiteStore) -> Redelivered:
    async def go() -> Redelivered:
        async with GitHubClient(base_url=github.url, auth=TokenAuth("ghp_test")) as client:
            return await redeliver_failed(client, store, HOOK)

    return asyncio.run(go())


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    found = SQLiteStore(tmp_path / "s.sqlite3")
    claim = delivery_claim("taken-late", "workflow_run", "completed")  # the intake's claim
    found.claim(claim.key, ttl=claim.ttl, value=claim.value)
    return found


def test_each_failed_delivery_is_redelivered_once_across_two_sweeps(store: SQLiteStore) -> None:
    with FakeGitHub() as github:
        # The redeliveries fail too: still only asked for once.
        github.hook_deliveries(HOOK_PATH, fresh_log(), redelivered_code=502)
        first = sweep(github, store)
        assert sorted(asked(github)) == [
            f"{HOOK_PATH}/deliveries/3/attempts",
            f"{HOOK_PATH}/deliveries/4/attempts",
        ], "the 502 and the timed-out one; never the fine one, the received one, the old one"
        assert (first.failed, first.redelivered, first.already_received) == (3, 2, 1)
        second = sweep(github, store)
        assert len(asked(github)) == 2, "nothing asked for twice"
        assert (second.redelivered, second.already_redelivered) == (0, 2)
        assert second.already_received == 1


def test_a_sweep_that_reads_a_log_without_our_request_asks_nothing_again(
    store: SQLiteStore,
) -> None:
    """GitHub's log may not list our redelivery yet: our own claim remembers it."""
    with FakeGitHub() as github:
        log = github.hook_deliveries(HOOK_PATH, fresh_log())
        sweep(github, store)
        del log[:2]  # the two new attempts are not listed yet
        again = sweep(github, store)
        assert len(asked(github)) == 2 and again.already_redelivered == 2


def test_two_sweeps_at_once_redeliver_nothing_twice(store: SQLiteStore) -> None:
    with FakeGitHub() as github:
        # Still failing once redelivered, so whichever sweep reads the log last sees them.
        github.hook_deliveries(HOOK_PATH, fresh_log(), redelivered_code=502)

        async def both() -> list[Redelivered]:
            async with (
                GitHubClient(base_url=github.url, auth=TokenAuth("a")) as one,
                GitHubClient(base_url=github.url, auth=TokenAuth("b")) as two,
            ):
                return list(
                    await asyncio.gather(
                        redeliver_failed(one, store, HOOK), redeliver_failed(two, store, HOOK)
                    )
                )

        results = asyncio.run(both())
    assert sorted(asked(github)) == [
        f"{HOOK_PATH}/deliveries/3/attempts",
        f"{HOOK_PATH}/deliveries/4/attempts",
    ]
    assert sum(r.redelivered for r in results) == 2
    assert sum(r.already_redelivered for r in results) == 2


def test_a_refused_redelivery_is_asked_for_again_by_the_next_sweep(store: SQLiteStore) -> None:
    with FakeGitHub() as github:
        github.hook_deliveries(HOOK_PATH, fresh_log())
        github.on(
            "POST",
            f"{HOOK_PATH}/deliveries/4/attempts",
            gh.error("Validation Failed"),
            status=422,
        )
        first = sweep(github, store)
        assert (first.redelivered, first.errors) == (1, 1)
        assert store.get(keys.redelivery("bad-gateway")) is None, "claim released"
        github.hook_deliveries(HOOK_PATH, fresh_log())  # GitHub takes it now
        second = sweep(github, store)
        assert second.redelivered == 1 and second.already_redelivered == 1
    assert asked(github).count(f"{HOOK_PATH}/deliveries/4/attempts") == 2


def test_the_redelivered_claim_outlives_githubs_window() -> None:
    assert redelivery.REDELIVERED_TTL >= redelivery.WINDOW >= 3 * 86400


@pytest.mark.parametrize(
    ("repo", "org", "hook_id", "app", "expected"),
    [
        ("acme/web", None, 7, False, Hook(repo="acme/web", hook_id=7)),
        (None, "acme", 7, True, Hook(org="acme", hook_id=7)),
        (None, None, None, True, Hook()),
        (None, None, None, False, None),
    ],
)
def test_the_configured_hook(
    repo: str | None, org: str | None, hook_id: int | None, app: bool, expected: Hook | None
) -> None:
    assert configured_hook(repo, org, hook_id, app) == expected


@pytest.mark.parametrize(
    ("repo", "org", "hook_id"), [("a/b", "a", 1), ("a/b", None, None), (None, None, 3)]
)
def test_contradictory_hook_settings_are_refused(
    repo: str | None, org: str | None, hook_id: int | None
) -> None:
    with pytest.raises(HookMisconfigured, match="GITHUB_HOOK"):
        configured_hook(repo, org, hook_id, True)
