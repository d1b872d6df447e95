"""Ed25519 request verification, exactly as Discord signs interactions.

Discord signs `X-Signature-Timestamp` + the raw body with the application's
key. We verify those exact bytes (never a re-serialised body), and also refuse
timestamps outside a window: Discord does not protect against replays, so a
captured request would otherwise stay valid forever.

The check is libsodium's `crypto_sign_open`, called through PyNaCl's own binding
(`nacl._sodium`) as `nacl.signing.VerifyKey.verify` calls it, but without importing
`nacl.signing`: that sets up every primitive PyNaCl wraps (boxes, AEADs, password hashing,
...), about 9 ms of a cold start that needs one function. Same call, same answers;
`tests/discord/test_verify.py` holds the two side by side.
"""

from __future__ import annotations

import functools
from typing import Any

SIGNATURE_HEADER = "x-signature-ed25519"
TIMESTAMP_HEADER = "x-signature-timestamp"
_SIGNATURE_HEX_LEN = 128  # 64 bytes
_SIGNATURE_BYTES = 64
_PUBLIC_KEY_BYTES = 32


class SignatureError(ValueError):
    """The request is not provably from Discord. The message says why, and holds no secret."""


@functools.lru_cache(maxsize=8)
def verify_key(public_key_hex: str) -> bytes:
    """Parse the public key once per process; a bad key is a configuration error."""
    try:
        key_bytes = bytes.fromhex(public_key_hex)
    except ValueError:
        raise ValueError("DISCORD_PUBLIC_KEY is not hex") from None
    if len(key_bytes) != _PUBLIC_KEY_BYTES:
        raise ValueError("DISCORD_PUBLIC_KEY must be 32 bytes (64 hex characters)")
    return key_bytes


@functools.cache
def _sodium() -> tuple[Any, Any]:
    """PyNaCl's binding of libsodium (`ffi`, `lib`), initialised once per process under
    PyNaCl's own `init_once` key, so PyNaCl, imported too, does not initialise it again.
    Cached: the import statement and `init_once` cost ~1 us of every check otherwise."""
    from nacl._sodium import ffi, lib

    def init() -> None:
        if lib.sodium_init() == -1:
            raise RuntimeError("could not initialise libsodium")

    ffi.init_once(init, "libsodium")
    return ffi, lib


def ed25519_valid(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Whether `signature` is the key's Ed25519 signature of `message`: what
    `VerifyKey(public_key).verify(message, signature)` decides, by the same libsodium call.
    Lengths are checked here: libsodium reads exactly 32 key bytes, whatever it is given."""
    if len(public_key) != _PUBLIC_KEY_BYTES or len(signature) != _SIGNATURE_BYTES:
        return False
    ffi, lib = _sodium()
    signed = signature + message
    opened = ffi.new("unsigned char[]", len(signed))
    opened_len = ffi.new("unsigned long long *")
    return bool(lib.crypto_sign_open(opened, opened_len, signed, len(signed), public_key) == 0)


def _hex_bytes(text: str) -> bytes | None:
    """The bytes `text` spells in hex digits only, a non-zero even number of them (whole
    bytes); None for anything else. `bytes.fromhex` skips ASCII whitespace and refuses
    every other non-hex character, so it parsed exactly hex digits when it made a byte of
    every two characters; in C, with no per-character check in front of it (`isalnum`
    cost three times the parse itself)."""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        return None
    return raw if 0 < 2 * len(raw) == len(text) else None


def check_headers(
    signature: str | None, timestamp: str | None, *, now: float, max_age: float
) -> tuple[bytes, str]:
    """The checks that need no body: run before reading it, so a request that cannot be
    valid costs neither the read nor the signature check. The signature comes back as its
    64 bytes (checking the hex is decoding it: `verify_signed` takes them as they are)."""
    if not signature or not timestamp:
        raise SignatureError("missing signature headers")
    raw = _hex_bytes(signature) if len(signature) == _SIGNATURE_HEX_LEN else None
    if raw is None:
        raise SignatureError("malformed signature")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureError("malformed timestamp")
    if abs(now - int(timestamp)) > max_age:
        raise SignatureError("timestamp outside the accepted window")
    return raw, timestamp


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
    raw, timestamp = check_headers(signature, timestamp, now=now, max_age=max_age)
    verify_signed(public_key, raw, timestamp, body)


def verify_signed(
    public_key: str, signature: bytes, timestamp: str, body: bytes | bytearray
) -> None:
    """The Ed25519 check alone, for headers `check_headers` accepted (the signature as the
    bytes it returned)."""
    try:
        valid = ed25519_valid(verify_key(public_key), signature, timestamp.encode() + body)
    except ValueError:
        # A key that is not 32 hex bytes can verify nothing: the answer is still 401, never
        # a 500 (startup refuses such a key; this holds if one slips past anyway).
        raise SignatureError("invalid request signature") from None
    if not valid:
        raise SignatureError("invalid request signature")


def sign_request(private_key_hex: str, timestamp: str, body: bytes) -> str:
    """What Discord does: hex signature over timestamp + body. For the simulator and tests."""
    from nacl.signing import SigningKey

    signed = SigningKey(bytes.fromhex(private_key_hex)).sign(timestamp.encode() + body)
    return signed.signature.hex()
