"""Ed25519 request verification, exactly as Discord signs interactions.

Discord signs `X-Signature-Timestamp` + the raw body with the application's
key. We verify those exact bytes (never a re-serialised body), and also refuse
timestamps outside a window: Discord does not protect against replays, so a
captured request would otherwise stay valid forever.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nacl.signing import VerifyKey

SIGNATURE_HEADER = "x-signature-ed25519"
TIMESTAMP_HEADER = "x-signature-timestamp"
_SIGNATURE_HEX_LEN = 128  # 64 bytes
_HEX = frozenset("0123456789abcdefABCDEF")


class SignatureError(ValueError):
    """The request is not provably from Discord. The message says why, and holds no secret."""


@functools.lru_cache(maxsize=8)
def verify_key(public_key_hex: str) -> VerifyKey:
    """Parse the public key once per process; a bad key is a configuration error."""
    from nacl.signing import VerifyKey

    try:
        key_bytes = bytes.fromhex(public_key_hex)
    except ValueError:
        raise ValueError("DISCORD_PUBLIC_KEY is not hex") from None
    if len(key_bytes) != 32:
        raise ValueError("DISCORD_PUBLIC_KEY must be 32 bytes (64 hex characters)")
    return VerifyKey(key_bytes)


def check_headers(
    signature: str | None, timestamp: str | None, *, now: float, max_age: float
) -> tuple[str, str]:
    """The checks that need no body: run before reading it, so a request that cannot be
    valid costs neither the read nor the signature check."""
    if not signature or not timestamp:
        raise SignatureError("missing signature headers")
    if len(signature) != _SIGNATURE_HEX_LEN or not _HEX.issuperset(signature):
        raise SignatureError("malformed signature")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureError("malformed timestamp")
    if abs(now - int(timestamp)) > max_age:
        raise SignatureError("timestamp outside the accepted window")
    return signature, timestamp


def verify_request(
    *,
    public_key: str,
    signature: str | None,
    timestamp: str | None,
    body: bytes,
    now: float,
    max_age: float,
) -> None:
    """Return None if Discord signed this body at an acceptable time; else SignatureError."""
    signature, timestamp = check_headers(signature, timestamp, now=now, max_age=max_age)
    verify_signed(public_key, signature, timestamp, body)


def verify_signed(public_key: str, signature: str, timestamp: str, body: bytes) -> None:
    """The Ed25519 check alone, for headers `check_headers` already accepted."""
    from nacl.exceptions import BadSignatureError

    try:
        verify_key(public_key).verify(timestamp.encode() + body, bytes.fromhex(signature))
    except BadSignatureError:
        raise SignatureError("invalid request signature") from None
    except ValueError:
        # A key that is not 32 hex bytes can verify nothing: the answer is still 401, never
        # a 500 (startup refuses such a key; this holds if one slips past anyway).
        raise SignatureError("invalid request signature") from None


def sign_request(private_key_hex: str, timestamp: str, body: bytes) -> str:
    """What Discord does: hex signature over timestamp + body. For the simulator and tests."""
    from nacl.signing import SigningKey

    signed = SigningKey(bytes.fromhex(private_key_hex)).sign(timestamp.encode() + body)
    return signed.signature.hex()
