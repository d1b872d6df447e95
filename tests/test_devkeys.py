"""The dev identity: the keys `make run` and `orchestrator simulate` share, kept private."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from orchestrator import logs
from orchestrator.devkeys import DevIdentity, load_or_create_dev_identity


def test_the_identity_is_created_once_and_read_back_the_same(tmp_path: Path) -> None:
    first = load_or_create_dev_identity(tmp_path)
    again = load_or_create_dev_identity(tmp_path)
    assert again == first and hash(again) == hash(first)
    assert again is not first


def test_the_private_key_is_never_spelled_out_by_accident(tmp_path: Path) -> None:
    identity = load_or_create_dev_identity(tmp_path)
    private = identity.discord_private_key
    assert private not in repr(identity) and private not in str(identity)
    assert private not in f"{identity}"
    # A log field or a JSON dump of it gets the repr, not its values (a tuple would be an array).
    assert private not in logs._ENCODER.encode({"identity": identity})
    with pytest.raises(TypeError):
        json.dumps(identity)
    with pytest.raises(TypeError):
        list(identity)  # type: ignore[call-overload]
    record = logging.makeLogRecord({"msg": "x", "identity": identity})
    assert private not in logs.JSONFormatter().format(record)


def test_the_identity_is_read_only(tmp_path: Path) -> None:
    identity = load_or_create_dev_identity(tmp_path)
    with pytest.raises(AttributeError):
        identity.discord_private_key = "00" * 32
    assert identity != DevIdentity("00" * 32, identity.discord_public_key, "s")
