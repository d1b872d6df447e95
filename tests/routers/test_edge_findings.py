"""Security findings 10 and 11 at the front doors, through the app.

10. Oversized ids escaped as the store's "value too large" (a 500): snowflakes are now
    checked at the edge of the interaction model, a 400.
11. Robustness: `"type": true` or `1.0` was taken for a PING; an unsigned `POST /discord/`
    got a 307 redirect instead of a 401; `run_attempt: 10**400` made a delivery job fail
    with OverflowError; a late `in_progress` with a later `updated_at` reopened a finished
    run; the SQLite file holding live interaction tokens was world-readable.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestrator.devkeys import DevIdentity
from orchestrator.github import reconcile
from orchestrator.github.events import Event, WorkflowRun
from orchestrator.store.sqlite import SQLiteStore
from tests.support.signing import PING_INTERACTION, discord_headers, dumps, github_headers
from tests.support.tally import TALLY

BIG = "9" * 400_000
COMMAND = {
    "type": 2,
    "id": "1300000000000000042",
    "application_id": "100000000000000001",
    "token": "tok",
    "version": 1,
    "guild_id": "100000000000000003",
    "channel_id": "100000000000000004",
    "member": {"user": {"id": "100000000000000005", "username": "u"}, "roles": []},
    "data": {"id": "100000000000000006", "name": "help", "type": 1},
}


def signed(client: TestClient, identity: DevIdentity, payload: Any, path: str = "/discord") -> Any:
    body = dumps(payload)
    answer = client.post(path, content=body, headers=discord_headers(identity, body))
    TALLY.status(answer.status_code)
    return answer


def with_value(payload: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(payload))
    node = out
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    return out


@pytest.mark.parametrize(
    "path",
    [
        ("id",),
        ("guild_id",),
        ("channel_id",),
        ("application_id",),
        ("member", "user", "id"),
        ("user", "id"),
        ("message", "id"),
    ],
)
@pytest.mark.parametrize("value", [BIG, "12a", "", 42, "１２３", "1" * 21])
def test_finding_10_ids_that_are_not_snowflakes_are_a_400(
    client: TestClient, identity: DevIdentity, path: tuple[str, ...], value: Any
) -> None:
    answer = signed(client, identity, with_value(COMMAND, path, value))
    assert answer.status_code == 400, (path, str(value)[:20])
    assert answer.json()["error"] == "malformed"
    assert ".".join(path) in answer.json()["message"]


def test_finding_10_roles_tokens_and_custom_ids_are_bounded(
    client: TestClient, identity: DevIdentity
) -> None:
    for path, value in (
        (("member", "roles"), [BIG]),
        (("member", "roles"), "100000000000000007"),
        (("token",), "t" * 5000),
        (("data", "custom_id"), "x" * 101),
    ):
        answer = signed(client, identity, with_value(COMMAND, path, value))
        assert answer.status_code == 400, path
    assert signed(client, identity, COMMAND).status_code == 200


@pytest.mark.parametrize("kind", [True, 1.0, "1", None, [1]])
def test_finding_11_only_the_integer_1_is_a_ping(
    client: TestClient, identity: DevIdentity, kind: Any
) -> None:
    answer = signed(client, identity, {**PING_INTERACTION, "type": kind})
    assert answer.status_code == 400
    assert answer.json()["message"] == "type must be an integer"


@pytest.mark.parametrize("path", ["/discord/", "/github/"])
def test_finding_11_a_trailing_slash_is_the_same_door(client: TestClient, path: str) -> None:
    answer = client.post(path, content=b"{}", follow_redirects=False)
    TALLY.status(answer.status_code)
    if answer.status_code < 400:
        TALLY.forged()
    assert answer.status_code == 401
    assert answer.json()["error"] == "bad_signature"


def test_finding_11_a_signed_request_with_a_trailing_slash_is_served(
    client: TestClient, identity: DevIdentity
) -> None:
    answer = signed(client, identity, PING_INTERACTION, path="/discord/")
    assert (answer.status_code, answer.json()) == (200, {"type": 1})
    body = dumps({"zen": "Keep it logically awesome.", "hook_id": 1})
    secret = identity.github_webhook_secret
    pinged = client.post(
        "/github/", content=body, headers=github_headers(secret, body, "ping", "d")
    )
    assert pinged.status_code == 200


def test_finding_11_a_huge_run_attempt_is_not_a_number() -> None:
    run = WorkflowRun({"id": 7, "run_attempt": 10**400, "status": "completed"})
    assert run.attempt == 1
    event = Event(
        "workflow_run", "d", {"workflow_run": run.raw, "repository": {"full_name": "a/b"}}
    )
    found = reconcile.state_key(event)
    assert found is not None and found[1] < float("inf")


def _run_event(status: str, updated_at: str, delivery: str) -> Event:
    run = {"id": 7, "run_attempt": 1, "status": status, "updated_at": updated_at}
    return Event(
        "workflow_run", delivery, {"workflow_run": run, "repository": {"full_name": "a/b"}}
    )


def test_finding_11_a_late_in_progress_never_reopens_a_completed_attempt(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3")
    assert reconcile.is_current(store, _run_event("completed", "2026-11-29T04:02:00Z", "c"))
    # GitHub stamped the in_progress event a second later than completed: still stale.
    assert not reconcile.is_current(store, _run_event("in_progress", "2026-11-29T04:02:01Z", "i"))
    # The next attempt (a re-run) does move it on.
    rerun = _run_event("queued", "2026-11-29T04:00:00Z", "r")
    rerun.payload["workflow_run"]["run_attempt"] = 2
    assert reconcile.is_current(store, rerun)


def test_finding_11_the_sqlite_file_and_a_new_data_dir_are_private(tmp_path: Path) -> None:
    fresh = tmp_path / "data"
    SQLiteStore(fresh / "orchestrator.sqlite3").put("k:1", {"token": "live"})
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(fresh / "orchestrator.sqlite3").st_mode) == 0o600
    loose = tmp_path / "loose.sqlite3"
    loose.touch(mode=0o644)
    os.chmod(loose, 0o644)
    SQLiteStore(loose)
    assert stat.S_IMODE(os.stat(loose).st_mode) == 0o600
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    SQLiteStore(shared / "s.sqlite3")
    assert stat.S_IMODE(os.stat(shared).st_mode) == 0o755, "an existing folder is left alone"
