"""The Discord developer portal's endpoint check, runnable against any deployment.

The portal saves an Interactions Endpoint URL only if a signed PING gets
`{"type": 1}` and mis-signed requests get 401. Running the same checks from
CI after a deploy catches a wrong public key or a proxy that rewrites bodies
before Discord does. The checks are data; `run_handshake` is the I/O.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestrator.discord.verify import sign_request

if TYPE_CHECKING:
    import httpx

PING = {"type": 1, "id": "1", "application_id": "1", "token": "handshake", "version": 1}


@dataclass(frozen=True)
class Probe:
    name: str
    headers: dict[str, str]
    body: bytes
    expect_status: int
    expect_pong: bool = False


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


def probes(private_key: str | None, now: float | None = None) -> list[Probe]:
    body = json.dumps(PING, separators=(",", ":")).encode()
    stamp = str(int(time.time() if now is None else now))
    json_type = {"content-type": "application/json"}
    fake_signature = secrets.token_hex(64)
    out = [
        Probe("unsigned request is refused", json_type, body, 401),
        Probe(
            "forged signature is refused",
            {**json_type, "x-signature-ed25519": fake_signature, "x-signature-timestamp": stamp},
            body,
            401,
        ),
    ]
    if private_key:
        signature = sign_request(private_key, stamp, body)
        signed = {**json_type, "x-signature-ed25519": signature, "x-signature-timestamp": stamp}
        out += [
            Probe("signed PING answers PONG", signed, body, 200, expect_pong=True),
            Probe(
                "altered body is refused", signed, body.replace(b'"version":1', b'"version":2'), 401
            ),
            Probe(
                "stale timestamp is refused",
                {
                    **json_type,
                    "x-signature-timestamp": str(int(stamp) - 3600),
                    "x-signature-ed25519": sign_request(private_key, str(int(stamp) - 3600), body),
                },
                body,
                401,
            ),
        ]
    return out


def judge(probe: Probe, status: int, body: bytes) -> CheckResult:
    if status != probe.expect_status:
        return CheckResult(probe.name, False, f"expected {probe.expect_status}, got {status}")
    if probe.expect_pong:
        try:
            answer = json.loads(body)
        except ValueError:
            return CheckResult(probe.name, False, "the answer is not JSON")
        if answer != {"type": 1}:
            return CheckResult(probe.name, False, f'expected {{"type": 1}}, got {answer!r:.80}')
    return CheckResult(probe.name, True, f"{status}")


def run_handshake(client: httpx.Client, url: str, private_key: str | None) -> list[CheckResult]:
    """POST each probe to `url` (the /discord endpoint) and judge the answers."""
    import httpx

    results = []
    for probe in probes(private_key):
        try:
            response = client.post(url, content=probe.body, headers=probe.headers)
        except httpx.HTTPError as exc:
            results.append(CheckResult(probe.name, False, f"request failed: {type(exc).__name__}"))
            continue
        results.append(judge(probe, response.status_code, response.content))
    return results
