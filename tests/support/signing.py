"""Signed requests as Discord and GitHub would send them, for tests."""

from __future__ import annotations

import json
import time
from typing import Any

from orchestrator.devkeys import DevIdentity
from orchestrator.discord.verify import sign_request
from orchestrator.github.verify import sign


def discord_headers(
    identity: DevIdentity, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "content-type": "application/json",
        "x-signature-ed25519": sign_request(identity.discord_private_key, stamp, body),
        "x-signature-timestamp": stamp,
    }


def github_headers(secret: str, body: bytes, event: str, delivery: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-github-event": event,
        "x-github-delivery": delivery,
        "x-hub-signature-256": sign(secret, body),
    }


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


PING_INTERACTION = {
    "type": 1,
    "id": "1100000000000000001",
    "application_id": "100000000000000001",
    "token": "tok",
    "version": 1,
}
