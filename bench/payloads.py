"""What the benchmarks send: one Ed25519 keypair, signed PINGs, signed GitHub deliveries.

Signing happens once, before any timing; the same bytes then go to every target.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

APPLICATION_ID = "100000000000000001"
WEBHOOK_SECRET = "bench-webhook-secret-0123456789abcdef"


@dataclass(frozen=True)
class Keypair:
    private_hex: str
    public_hex: str

    @classmethod
    def generate(cls) -> Keypair:
        from nacl.signing import SigningKey

        key = SigningKey.generate()
        return cls(key.encode().hex(), key.verify_key.encode().hex())

    def sign(self, timestamp: str, body: bytes) -> str:
        from nacl.signing import SigningKey

        signed = SigningKey(bytes.fromhex(self.private_hex)).sign(timestamp.encode() + body)
        return signed.signature.hex()


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def ping_body(index: int) -> bytes:
    return dumps(
        {
            "type": 1,
            "id": str(1_100_000_000_000_000_000 + index),
            "application_id": APPLICATION_ID,
            "token": f"bench-token-{index}",
            "version": 1,
        }
    )


@dataclass(frozen=True)
class SignedPing:
    body: bytes
    headers: dict[str, str]


def signed_pings(keys: Keypair, count: int, timestamp: int | None = None) -> list[SignedPing]:
    """`count` distinct PING bodies, each signed once (within Discord's replay window)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    pings = []
    for index in range(count):
        body = ping_body(index)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Discord-Interactions/1.0 (+https://discord.com)",
            "X-Signature-Ed25519": keys.sign(stamp, body),
            "X-Signature-Timestamp": stamp,
        }
        pings.append(SignedPing(body, headers))
    return pings


# --- GitHub ----------------------------------------------------------------------------------


def github_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_headers(event: str, delivery: str, body: bytes, secret: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": "GitHub-Hookshot/bench",
        "x-github-event": event,
        "x-github-delivery": delivery,
        "x-github-hook-id": "1",
        "x-hub-signature-256": github_signature(secret, body),
    }


def _repository() -> dict[str, Any]:
    return {
        "id": 1296269,
        "name": "web",
        "full_name": "octo-org/web",
        "private": False,
        "owner": {"login": "octo-org", "id": 1, "type": "Organization"},
        "html_url": "https://github.com/octo-org/web",
        "default_branch": "main",
    }


def workflow_run_completed() -> bytes:
    """A `workflow_run` `completed` delivery of ordinary size (~3 KB)."""
    run = {
        "id": 30433642,
        "name": "Deploy",
        "node_id": "WFR_kwLOABCD",
        "head_branch": "main",
        "head_sha": "acb5820ced9479c074f688cc328bf03f341a511d",
        "path": ".github/workflows/deploy.yml",
        "run_number": 562,
        "run_attempt": 1,
        "event": "push",
        "display_title": "Bump the thing",
        "status": "completed",
        "conclusion": "success",
        "workflow_id": 159038,
        "html_url": "https://github.com/octo-org/web/actions/runs/30433642",
        "created_at": "2026-11-29T04:00:00Z",
        "updated_at": "2026-11-29T04:03:12Z",
        "run_started_at": "2026-11-29T04:00:05Z",
        "actor": {"login": "octocat", "id": 583231, "type": "User"},
        "triggering_actor": {"login": "octocat", "id": 583231, "type": "User"},
        "head_commit": {
            "id": "acb5820ced9479c074f688cc328bf03f341a511d",
            "message": "Bump the thing\n\nA longer explanation of why the thing was bumped.",
            "timestamp": "2026-11-29T03:59:00Z",
            "author": {"name": "Octo Cat", "email": "octocat@github.com"},
        },
        "repository": _repository(),
        "pull_requests": [],
    }
    return dumps(
        {
            "action": "completed",
            "workflow_run": run,
            "workflow": {"id": 159038, "name": "Deploy", "path": ".github/workflows/deploy.yml"},
            "repository": _repository(),
            "sender": {"login": "octocat", "id": 583231, "type": "User"},
        }
    )


def _commits(approx_bytes: int) -> Iterator[dict[str, Any]]:
    index, produced = 0, 0
    while produced < approx_bytes:
        sha = hashlib.sha1(str(index).encode(), usedforsecurity=False).hexdigest()
        commit = {
            "id": sha,
            "tree_id": sha[::-1],
            "distinct": True,
            "message": f"Change {index}: " + "refactor the deployment pipeline " * 4,
            "timestamp": "2026-11-29T03:59:00Z",
            "url": f"https://github.com/octo-org/web/commit/{sha}",
            "author": {"name": "Octo Cat", "email": "octocat@github.com", "username": "octocat"},
            "committer": {"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"},
            "added": [f"src/generated/module_{index}_{n}.py" for n in range(8)],
            "removed": [],
            "modified": [f"src/app/part_{index % 97}_{n}.py" for n in range(8)],
        }
        produced += len(dumps(commit)) + 1
        index += 1
        yield commit


def big_push(target_bytes: int = 25_000_000) -> bytes:
    """A `push` delivery of about `target_bytes` (GitHub's cap is 25 MB), most of it commits."""
    payload = {
        "ref": "refs/heads/main",
        "before": "0" * 40,
        "after": "acb5820ced9479c074f688cc328bf03f341a511d",
        "repository": _repository(),
        "pusher": {"name": "octocat", "email": "octocat@github.com"},
        "sender": {"login": "octocat", "id": 583231, "type": "User"},
        "created": False,
        "deleted": False,
        "forced": False,
        "commits": list(_commits(target_bytes - 2_000)),
    }
    return dumps(payload)
