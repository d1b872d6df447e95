"""Webhook signature verification (HMAC-SHA256 over the raw body).

Several secrets may be valid at once so a secret can be rotated without
dropping deliveries: add the new one, change it on GitHub, remove the old one.
Only `X-Hub-Signature-256` counts; the legacy SHA-1 header alone is refused.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

SIGNATURE_HEADER = "x-hub-signature-256"
_PREFIX = "sha256="
_DIGEST_HEX_LEN = 64


class SignatureError(ValueError):
    """Not signed by a secret we hold. The message says why, and holds no secret."""


def sign(secret: str | bytes, body: bytes | bytearray) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return _PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()


def check_header(signature: str | None) -> str:
    """The check that needs no body: a request without a well-formed header is refused
    before its (up to 25 MB) body is read."""
    if not signature:
        raise SignatureError("missing X-Hub-Signature-256 header")
    if not signature.startswith(_PREFIX) or len(signature) != len(_PREFIX) + _DIGEST_HEX_LEN:
        raise SignatureError("malformed signature")
    return signature


def verify_signature(
    secrets: Iterable[str], signature: str | None, body: bytes | bytearray
) -> None:
    """Return None if any of `secrets` signed `body`; else SignatureError."""
    signature = check_header(signature)
    given = signature.encode("ascii", "replace")
    matched = False
    for secret in secrets:
        # Compare against every secret (no early exit) so timing says nothing about which.
        matched |= hmac.compare_digest(sign(secret, body).encode(), given)
    if not matched:
        raise SignatureError("invalid request signature")
