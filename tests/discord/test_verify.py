"""Ed25519 verification, as the developer portal's handshake exercises it."""

from __future__ import annotations

import pytest
from nacl.signing import SigningKey

from orchestrator.discord.verify import SignatureError, sign_request, verify_request

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
