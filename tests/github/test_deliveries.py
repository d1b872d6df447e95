from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from orchestrator.github.deliveries import failed_deliveries, parse_since
from tests.support import github_objects as gh
from tests.support.fake_github import FakeGitHub


def attempt(id_: int, guid: str, at: str, code: int, event: str = "push") -> dict[str, Any]:
    return gh.hook_delivery_item(
        id=id_,
        guid=guid,
        delivered_at=at,
        status_code=code,
        status="OK" if code < 300 else f"Invalid HTTP Response: {code}",
        event=event,
        action=None,
        redelivery=False,
    )


LOG = [
    attempt(1, "a", "2026-11-29T01:00:00Z", 503),
    attempt(2, "a", "2026-11-29T01:10:00Z", 200),  # redelivered fine: nothing to do
    attempt(3, "b", "2026-11-29T02:00:00Z", 502),
    attempt(4, "b", "2026-11-29T02:05:00Z", 500),  # still failing after a retry
    attempt(5, "c", "2026-11-29T03:00:00Z", 200),
    attempt(6, "d", "2026-11-28T03:00:00Z", 0, "workflow_run"),  # timed out, long ago
    {"guid": "e"},  # garbage is skipped
]


def test_only_deliveries_whose_latest_attempt_failed() -> None:
    failed = failed_deliveries(LOG)
    assert [(f.guid, f.id, f.attempts) for f in failed] == [("d", 6, 1), ("b", 4, 2)]
    assert failed[1].status == "Invalid HTTP Response: 500"


def test_since_filters_on_the_first_attempt() -> None:
    cutoff = 1_795_000_000.0  # 2026-11-18; everything in LOG is later
    assert len(failed_deliveries(LOG, since=cutoff)) == 2
    assert [f.guid for f in failed_deliveries(LOG, since=1_795_000_000.0 + 10 * 86400)] == ["b"]


@pytest.mark.parametrize(
    ("text", "seconds"), [("30m", 1800), ("6h", 21600), ("2d", 172800), ("45 s", 45)]
)
def test_parse_since(text: str, seconds: int) -> None:
    assert parse_since(text) == seconds


def test_parse_since_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_since("yesterday")


def test_cli_redelivers_the_failed_ones(tmp_path: Path) -> None:
    with FakeGitHub() as github:
        github.on(
            "GET",
            "/repos/acme/web/hooks/7/deliveries",
            [
                attempt(11, "x", "2099-01-01T00:00:00Z", 500),
                attempt(12, "y", "2099-01-01T00:01:00Z", 200),
            ],
        )
        github.on("POST", "/repos/acme/web/hooks/7/deliveries/11/attempts", {}, status=202)
        env = {
            **os.environ,
            "ORCHESTRATOR_DATA_DIR": str(tmp_path),
            "GITHUB_TOKEN": "t",
            "GITHUB_API_BASE": github.url,
        }
        base = [sys.executable, "-m", "orchestrator", "deliveries"]
        where = ["--repo", "acme/web", "--hook-id", "7", "--since", "1d"]
        listed = subprocess.run(
            [*base, "list", *where],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert listed.returncode == 0, listed.stderr
        assert "x" in listed.stdout and "500" in listed.stdout
        assert not github.calls("POST", "/repos/acme/web/hooks/7/deliveries/11/attempts")
        done = subprocess.run(
            [*base, "redeliver", *where],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert len(github.calls("POST", "/repos/acme/web/hooks/7/deliveries/11/attempts")) == 1
        assert "redeliver 1 delivery" in done.stdout
