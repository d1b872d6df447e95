"""Ed25519 verification, as the developer portal's handshake exercises it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from orchestrator.discord.verify import (
    SignatureError,
    _hex_bytes,
    check_headers,
    ed25519_valid,
    sign_request,
    verify_request,
    verify_signed,
)
from tests.support.cold import ROOT

KEY = SigningKey(bytes(range(32)))
PUBLIC = KEY.verify_key.encode().hex()
PRIVATE = KEY.encode().hex()
NOW = 1_800_000_000
BODY = b'{"type":1,"id":"1","application_id":"1","token":"t","version":1}'


def check(
    signature: str | None,
    timestamp: str | None,
    body: bytes = BODY,
    now: float = NOW,
    public: str = PUBLIC,
) -> None:
    verify_request(
        public_key=public, signature=signature, timestamp=timestamp, body=body, now=now, max_age=300
    )


def test_a_correctly_signed_request_passes() -> None:
    check(sign_request(PRIVATE, str(NOW), BODY), str(NOW))


def flip(text: str, index: int) -> str:
    swapped = "1" if text[index] != "1" else "2"
    return text[:index] + swapped + text[index + 1 :]


@pytest.mark.parametrize("index", [0, 1, 63, 64, 127])
def test_one_flipped_character_in_the_signature_fails(index: int) -> None:
    signature = sign_request(PRIVATE, str(NOW), BODY)
    with pytest.raises(SignatureError, match="invalid request signature"):
        check(flip(signature, index), str(NOW))


@pytest.mark.parametrize("index", [0, 10, len(BODY) - 1])
def test_one_flipped_byte_in_the_body_fails(index: int) -> None:
    signature = sign_request(PRIVATE, str(NOW), BODY)
    altered = bytearray(BODY)
    altered[index] ^= 0x01
    with pytest.raises(SignatureError):
        check(signature, str(NOW), bytes(altered))


def test_a_changed_timestamp_fails_even_inside_the_window() -> None:
    signature = sign_request(PRIVATE, str(NOW), BODY)
    with pytest.raises(SignatureError, match="invalid request signature"):
        check(signature, str(NOW + 1))


@pytest.mark.parametrize(
    ("signature", "timestamp"), [(None, str(NOW)), ("ab" * 64, None), ("", ""), (None, None)]
)
def test_missing_headers_fail(signature: str | None, timestamp: str | None) -> None:
    with pytest.raises(SignatureError, match="missing"):
        check(signature, timestamp)


@pytest.mark.parametrize("signature", ["zz" * 64, "ab" * 63, "ab" * 65, "é" * 128])
def test_malformed_signatures_fail(signature: str) -> None:
    with pytest.raises(SignatureError, match="malformed signature"):
        check(signature, str(NOW))


@pytest.mark.parametrize("timestamp", ["abc", "-5", "1.5", "１２３", "9" * 40])
def test_malformed_timestamps_fail(timestamp: str) -> None:
    with pytest.raises(SignatureError, match="malformed timestamp"):
        check("ab" * 64, timestamp)


@pytest.mark.parametrize("skew", [301, -301, 86_400])
def test_timestamps_outside_the_window_fail(skew: int) -> None:
    stamp = str(NOW - skew)
    with pytest.raises(SignatureError, match="window"):
        check(sign_request(PRIVATE, stamp, BODY), stamp)


@pytest.mark.parametrize("skew", [0, 299, -299])
def test_timestamps_inside_the_window_pass(skew: int) -> None:
    stamp = str(NOW - skew)
    check(sign_request(PRIVATE, stamp, BODY), stamp)


def test_the_wrong_key_fails() -> None:
    other = SigningKey(bytes(range(1, 33)))
    with pytest.raises(SignatureError, match="invalid"):
        check(sign_request(other.encode().hex(), str(NOW), BODY), str(NOW))


# `ed25519_valid` calls libsodium directly; PyNaCl's `VerifyKey.verify` is the reference it
# must agree with, on good signatures and on every kind of bad one.
def _nacl_says(public: bytes, signature: bytes, message: bytes) -> bool:
    try:
        VerifyKey(public).verify(message, signature)
    except (BadSignatureError, ValueError):
        return False
    return True


def _cases() -> list[tuple[bytes, bytes, bytes]]:
    key = SigningKey(bytes(range(1, 33)))
    public = key.verify_key.encode()
    other = SigningKey(bytes(32)).verify_key.encode()
    cases = []
    for message in (b"", b"x", BODY, bytes(range(256)) * 4):
        signature = key.sign(message).signature
        cases.append((public, signature, message))
        cases.append((other, signature, message))  # the wrong key
        cases.append((public, signature, message + b"!"))  # another message
        for index in (0, 31, 32, 63):  # R and S, each end
            flipped = bytearray(signature)
            flipped[index] ^= 0x01
            cases.append((public, bytes(flipped), message))
        # S pushed past the group order (non-canonical): libsodium refuses it.
        s_high = signature[:32] + bytes([*signature[32:63], signature[63] | 0xF0])
        cases.append((public, s_high, message))
    # Small-order and non-canonical public keys (the identity, zero, all ones).
    for weak in (bytes([1]) + bytes(31), bytes(32), b"\xff" * 32):
        cases.append((weak, key.sign(BODY).signature, BODY))
    return cases


@pytest.mark.parametrize(("public", "signature", "message"), _cases())
def test_the_direct_check_agrees_with_pynacl(
    public: bytes, signature: bytes, message: bytes
) -> None:
    assert ed25519_valid(public, signature, message) is _nacl_says(public, signature, message)


def test_the_direct_check_accepts_what_pynacl_signs_and_nothing_else() -> None:
    """Guards the cross-check: both sides cannot be agreeing on `False` for everything."""
    outcomes = [ed25519_valid(p, s, m) for p, s, m in _cases()]
    assert outcomes.count(True) == 4  # one good signature per message, no more


@pytest.mark.parametrize("length", [0, 1, 63, 65, 128])
def test_a_signature_or_key_of_another_length_is_invalid_not_a_crash(length: int) -> None:
    signature = KEY.sign(BODY).signature
    assert not ed25519_valid(KEY.verify_key.encode(), bytes(length), BODY)
    assert not ed25519_valid(bytes(length or 1), signature, BODY)


def test_verifying_imports_no_more_of_pynacl_than_libsodium() -> None:
    """The point of the direct call: `nacl.signing` (and `nacl.bindings`, every primitive
    PyNaCl wraps) stays out of a cold start."""
    timestamp = str(NOW)
    script = (
        "import sys\n"
        "from orchestrator.discord.verify import verify_signed\n"
        f"verify_signed({PUBLIC!r}, {bytes.fromhex(sign_request(PRIVATE, timestamp, BODY))!r}, "
        f"{timestamp!r}, {BODY!r})\n"
        "print(sorted(m for m in sys.modules if m.startswith('nacl')))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
        check=True,
    )
    assert run.stdout.split() == ["['nacl',", "'nacl._sodium']"]


def test_a_signature_cannot_borrow_bytes_of_the_message() -> None:
    """libsodium checks signature and message as one buffer: a 65-byte "signature" ending in
    the message's first byte must not pass for the rest of the message."""
    signature = KEY.sign(BODY).signature
    public = KEY.verify_key.encode()
    assert ed25519_valid(public, signature, BODY)
    assert not ed25519_valid(public, signature + BODY[:1], BODY[1:])


_HEX_DIGITS = "0123456789abcdefABCDEF"


@given(
    st.text(
        alphabet=st.one_of(
            st.sampled_from(_HEX_DIGITS),
            st.sampled_from(" \t\n\x0bgzGZ_-+x0\u0661\u00b2\uff10\u00e9"),
            st.characters(),
        ),
        max_size=140,
    )
)
def test_the_hex_check_is_exactly_whole_bytes_of_hex_digits(text: str) -> None:
    whole_bytes = text != "" and len(text) % 2 == 0
    hex_only = whole_bytes and all(c in _HEX_DIGITS for c in text)
    assert _hex_bytes(text) == (bytes.fromhex(text) if hex_only else None)
    padded = (text * 128)[:128] if text else "a" * 128
    hex_only = all(c in _HEX_DIGITS for c in padded)
    assert _hex_bytes(padded) == (bytes.fromhex(padded) if hex_only else None)


def test_the_accepted_signature_comes_back_as_its_bytes() -> None:
    """`check_headers` decodes the hex once; `verify_signed` takes those bytes."""
    signature = sign_request(PRIVATE, str(NOW), BODY)
    raw, stamp = check_headers(signature, str(NOW), now=NOW, max_age=300)
    assert (raw, stamp) == (bytes.fromhex(signature), str(NOW))
    verify_signed(PUBLIC, raw, stamp, BODY)
    verify_signed(PUBLIC, raw, stamp, bytearray(BODY))  # the edge's body, as it read it
    with pytest.raises(SignatureError):
        verify_signed(PUBLIC, raw, stamp, BODY + b" ")


@pytest.mark.parametrize(
    "signature",
    [
        "a" * 127 + "g",
        "a" * 126 + " a",
        "a" * 127 + "\u0661",
        "a" * 127 + "\uff10",
        "0x" + "a" * 126,
    ],
)
def test_a_signature_with_anything_but_hex_digits_is_malformed(signature: str) -> None:
    with pytest.raises(SignatureError, match="malformed signature"):
        check_headers(signature, str(NOW), now=NOW, max_age=300)
