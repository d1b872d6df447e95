from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.devtools.saved_deliveries import (
    FixtureError,
    guess_event,
    load_fixtures,
    parse_fixture,
)


@pytest.mark.parametrize(
    ("payload", "filename", "event"),
    [
        ({"workflow_run": {}}, "x.json", "workflow_run"),
        ({"deployment_status": {}, "deployment": {}}, "x.json", "deployment_status"),
        ({"deployment": {}}, "x.json", "deployment"),
        ({"issue": {}}, "x.json", "issues"),
        ({"zen": "z"}, "x.json", "ping"),
        ({"ref": "r", "commits": []}, "x.json", "push"),
        ({"anything": 1}, "workflow_job.completed.json", "workflow_job"),
        ({"anything": 1}, "x.json", None),
    ],
)
def test_guess_event(payload: dict[str, object], filename: str, event: str | None) -> None:
    assert guess_event(payload, filename) == event


def test_recorded_deliveries_keep_their_headers() -> None:
    saved = parse_fixture(
        {
            "headers": {"X-GitHub-Event": "push", "X-GitHub-Delivery": "abc"},
            "payload": {"ref": "x"},
        },
        "f.json",
    )
    assert (saved.event, saved.delivery, saved.payload) == ("push", "abc", {"ref": "x"})
    body_string = parse_fixture(
        {"headers": {"x-github-event": "ping"}, "body": '{"zen": 1}'}, "f.json"
    )
    assert body_string.payload == {"zen": 1}


def test_directories_replay_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "2-b.json").write_text(json.dumps({"workflow_job": {}}))
    (tmp_path / "1-a.json").write_text(json.dumps({"workflow_run": {}}))
    assert [d.event for d in load_fixtures(tmp_path)] == ["workflow_run", "workflow_job"]


def test_a_folder_never_replays_hidden_files_or_dependencies(tmp_path: Path) -> None:
    """`orchestrator replay .` in a checkout must not post `.orchestrator/dev-identity.json`
    (the dev keys) or packages' JSON as webhook payloads."""
    (tmp_path / "saved").mkdir()
    (tmp_path / "saved" / "run.json").write_text(json.dumps({"workflow_run": {}}))
    for hidden in (".orchestrator/dev-identity.json", ".venv/x/p.json", "node_modules/a.json"):
        (tmp_path / hidden).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / hidden).write_text(json.dumps({"workflow_job": {}}))
    assert [Path(d.source).name for d in load_fixtures(tmp_path)] == ["run.json"]
    # A data folder that is not hidden (ORCHESTRATOR_DATA_DIR=var) holds the keys too.
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "dev-identity.json").write_text(json.dumps({"workflow_job": {}}))
    kept = load_fixtures(tmp_path, private=tmp_path / "var")
    assert [Path(d.source).name for d in kept] == ["run.json"]
    # Named on its own, a file is read wherever it is.
    assert load_fixtures(tmp_path / "node_modules" / "a.json")[0].event == "workflow_job"


def test_bad_files_explain_themselves(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(FixtureError, match=r"bad\.json"):
        load_fixtures(bad)
    unknown = tmp_path / "x.json"
    unknown.write_text("{}")
    with pytest.raises(FixtureError, match="--event"):
        load_fixtures(unknown)
    assert load_fixtures(unknown, event="push")[0].event == "push"
