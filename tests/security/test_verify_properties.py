"""Property tests of the pure cores an attacker reaches first: the two signature checks, the
webhook body parser and the interaction accessors.

For random keys, secrets, bodies and timestamps, exactly the signed request passes and every
mutation of it fails with the verifier's own `SignatureError`; arbitrary header values (None,
empty, unicode, huge) never raise anything else. The parsers answer every input with a value
or their documented error, never a crash.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from orchestrator.config import Settings
from orchestrator.discord import verify as discord
from orchestrator.discord.interactions import Interaction, Options
from orchestrator.github import verify as github
from orchestrator.github.events import MalformedPayload, parse_body
from tests.support.tally import Tally

MAX_AGE = 300
NOW = 1_800_000_000.0
FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

seeds = st.binary(min_size=32, max_size=32)
bodies = st.binary(max_size=2048)
skews = st.integers(min_value=-MAX_AGE, max_value=MAX_AGE)
header_values = st.one_of(
    st.none(),
    st.just(""),
    st.text(max_size=200),
    st.text(alphabet="0123456789abcdefABCDEF", min_size=120, max_size=136),
    st.text(min_size=2_000, max_size=8_000),
    st.from_regex(r"\A[0-9]{1,14}\Z"),
    st.from_regex(r"\Asha256=[0-9a-f]{60,68}\Z"),
    st.text(alphabet=st.characters(min_codepoint=0x80), min_size=64, max_size=140),
)


def _discord_sign(seed: bytes, timestamp: str, body: bytes) -> str:
    return discord.sign_request(seed.hex(), timestamp, body)


def _public(seed: bytes) -> str:
    return SigningKey(seed).verify_key.encode().hex()


def _discord_accepts(
    public: str, signature: str | None, timestamp: str | None, body: bytes
) -> bool:
    try:
        discord.verify_request(
            public_key=public,
            signature=signature,
            timestamp=timestamp,
            body=body,
            now=NOW,
            max_age=MAX_AGE,
        )
    except discord.SignatureError:
        return False
    return True


def _github_accepts(secrets: list[str], signature: str | None, body: bytes) -> bool:
    try:
        github.verify_signature(secrets, signature, body)
    except github.SignatureError:
        return False
    return True


def _different_hex(signature: str, index: int, replacement: str) -> str:
    """`signature` with the nibble at `index` changed to another value (not just its case)."""
    current = int(signature[index], 16)
    value = int(replacement, 16)
    if value == current:
        value = (value + 1) % 16
    return signature[:index] + format(value, "x") + signature[index + 1 :]


# -- Discord: Ed25519 over timestamp + body ------------------------------------------------


@FUZZ
@given(
    seed=seeds,
    other_seed=seeds,
    body=bodies,
    other_body=bodies,
    skew=skews,
    other_skew=skews,
    index=st.integers(min_value=0, max_value=127),
    nibble=st.sampled_from("0123456789abcdef"),
)
def test_discord_accepts_exactly_the_signed_request(
    tally: Tally,
    seed: bytes,
    other_seed: bytes,
    body: bytes,
    other_body: bytes,
    skew: int,
    other_skew: int,
    index: int,
    nibble: str,
) -> None:
    public = _public(seed)
    stamp = str(int(NOW) + skew)
    signature = _discord_sign(seed, stamp, body)
    assert _discord_accepts(public, signature, stamp, body)
    assert _discord_accepts(public, signature.upper(), stamp, body)  # same bytes, other case

    forgeries: list[tuple[str, str, str, bytes]] = [
        (public, _different_hex(signature, index, nibble), stamp, body),
        (public, signature, "0" + stamp, body),  # same instant, other signed bytes
    ]
    if other_body != body:
        forgeries.append((public, signature, stamp, other_body))
    if other_skew != skew:
        forgeries.append((public, signature, str(int(NOW) + other_skew), body))
    if other_seed != seed:
        forgeries.append((_public(other_seed), signature, stamp, body))
        # signed by someone else's key, for this key's holder
        forgeries.append((public, _discord_sign(other_seed, stamp, body), stamp, body))
    # correctly signed, but outside the replay window
    stale = str(int(NOW) - MAX_AGE - 1 - abs(skew))
    forgeries.append((public, _discord_sign(seed, stale, body), stale, body))
    tally.tried(len(forgeries) + 2)
    for forged in forgeries:
        if _discord_accepts(*forged):
            tally.forged()
            pytest.fail(f"forged request accepted: {forged[1][:16]}… at {forged[2]}")


@FUZZ
@given(signature=header_values, timestamp=header_values, body=bodies, seed=seeds)
@example(signature=None, timestamp=None, body=b"", seed=b"\x01" * 32)
@example(signature="", timestamp="", body=b"{}", seed=b"\x01" * 32)
@example(signature="a" * 128, timestamp="١٢٣٤٥", body=b"{}", seed=b"\x01" * 32)
@example(signature="g" * 128, timestamp=str(int(NOW)), body=b"{}", seed=b"\x01" * 32)
@example(signature="0" * 128, timestamp="9" * 13, body=b"{}", seed=b"\x01" * 32)
def test_discord_headers_never_raise_anything_but_signature_error(
    tally: Tally, signature: str | None, timestamp: str | None, body: bytes, seed: bytes
) -> None:
    tally.tried(2)
    # well-formed headers may pass this stage; nothing but SignatureError may escape it
    with contextlib.suppress(discord.SignatureError):
        discord.check_headers(signature, timestamp, now=NOW, max_age=MAX_AGE)
    with pytest.raises(discord.SignatureError):
        discord.verify_request(
            public_key=_public(seed),
            signature=signature,
            timestamp=timestamp,
            body=body,
            now=NOW,
            max_age=MAX_AGE,
        )


# -- GitHub: HMAC-SHA256 with any of several secrets ------------------------------------------

secret_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),
    min_size=1,
    max_size=80,
)


def _hmac_key(secret: str) -> bytes:
    """The key HMAC really uses (long keys are hashed, short ones zero-padded)."""
    key = secret.encode()
    return hashlib.sha256(key).digest() if len(key) > 64 else key


@FUZZ
@given(
    secrets=st.lists(secret_text, min_size=1, max_size=4, unique=True),
    outsider=secret_text,
    body=bodies,
    other_body=bodies,
    index=st.integers(min_value=7, max_value=70),
    nibble=st.sampled_from("0123456789abcdef"),
)
def test_github_accepts_any_current_secret_and_nothing_else(
    tally: Tally,
    secrets: list[str],
    outsider: str,
    body: bytes,
    other_body: bytes,
    index: int,
    nibble: str,
) -> None:
    keys = {_hmac_key(s) for s in secrets}
    assume(len(keys) == len(secrets) and _hmac_key(outsider) not in keys)
    for secret in secrets:  # rotation: every listed secret is good on its own
        signature = github.sign(secret, body)
        assert _github_accepts(secrets, signature, body)
        assert _github_accepts(list(reversed(secrets)), signature, body)
    signature = github.sign(secrets[0], body)
    forgeries: list[tuple[list[str], str, bytes]] = [
        (secrets, github.sign(outsider, body), body),
        (secrets, "sha256=" + _different_hex(signature[7:], index - 7, nibble), body),
        (secrets, "sha256=" + "0" * 64, body),
        (secrets[1:] or [outsider], signature, body),  # a secret removed from the list
        (secrets, "sha1=" + hmac.new(secrets[0].encode(), body, "sha1").hexdigest(), body),
        ([], signature, body),
    ]
    if other_body != body:
        forgeries.append((secrets, signature, other_body))
    tally.tried(len(forgeries) + len(secrets) * 2)
    for forged in forgeries:
        if _github_accepts(*forged):
            tally.forged()
            pytest.fail(f"forged delivery accepted: {forged[1][:20]}…")


@FUZZ
@given(
    secrets=st.lists(
        secret_text.filter(lambda s: "," not in s and s.strip() == s), min_size=1, max_size=4
    ),
    body=bodies,
)
def test_a_comma_separated_secret_list_accepts_each_entry(
    tally: Tally, secrets: list[str], body: bytes
) -> None:
    configured = Settings(GITHUB_WEBHOOK_SECRET=" , ".join(secrets) + ",,")
    held = [s.get_secret_value() for s in configured.github_webhook_secret]
    assert held == secrets  # empty entries never become an "anyone may sign" secret
    for secret in secrets:
        assert _github_accepts(held, github.sign(secret, body), body)
    assert not _github_accepts(held, github.sign("", body), body)
    if len(secrets) > 1:
        assert not _github_accepts(held, github.sign(" , ".join(secrets), body), body)
    tally.tried(len(secrets) + 2)


@FUZZ
@given(signature=header_values, body=bodies, secret=secret_text)
@example(signature=None, body=b"", secret="s")
@example(signature="", body=b"", secret="s")
@example(signature="sha256=" + "é" * 64, body=b"", secret="s")
@example(signature="sha256=" + "\x00" * 64, body=b"", secret="s")
@example(signature="SHA256=" + "0" * 64, body=b"", secret="s")
def test_github_header_values_never_raise_anything_but_signature_error(
    tally: Tally, signature: str | None, body: bytes, secret: str
) -> None:
    assume(signature != github.sign(secret, body))
    tally.tried(2)
    with contextlib.suppress(github.SignatureError):
        github.check_header(signature)
    with pytest.raises(github.SignatureError):
        github.verify_signature([secret], signature, body)


# -- parsers -----------------------------------------------------------------------------------

content_types = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "APPLICATION/X-WWW-FORM-URLENCODED",
            "application/x-www-form-urlencoded; charset=latin-1",
            "text/plain",
            "",
            ";",
            "multipart/form-data; boundary=x",
        ]
    ),
    st.text(max_size=60),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=40,
)


def _form(value: Any) -> bytes:
    from urllib.parse import urlencode

    return urlencode({"payload": json.dumps(value)}).encode()


@FUZZ
@given(
    body=st.one_of(
        st.binary(max_size=1024),
        json_values.map(lambda v: json.dumps(v).encode()),
        json_values.map(_form),
        st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
    ),
    content_type=content_types,
)
@example(body=b"payload=" + b"%5B" * 10, content_type="application/x-www-form-urlencoded")
@example(body=b"&".join([b"a=1"] * 40), content_type="application/x-www-form-urlencoded")
@example(body=b"\xff\xfe{}", content_type="application/x-www-form-urlencoded")
@example(body=b"1" * 5000, content_type=None)
def test_parse_body_returns_a_dict_or_malformed(
    tally: Tally, body: bytes, content_type: str | None
) -> None:
    tally.tried()
    try:
        parsed = parse_body(body, content_type)
    except MalformedPayload:
        return
    assert isinstance(parsed, dict)


DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (DEEP, "application/json"),
        (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, None),
        (b"payload=" + b"%5B" * 50_000, "application/x-www-form-urlencoded"),
    ],
    ids=["array", "object", "form"],
)
def test_parse_body_refuses_deep_nesting_as_malformed(
    tally: Tally, body: bytes, content_type: str | None
) -> None:
    tally.tried()
    try:
        parse_body(body, content_type)
    except MalformedPayload:
        return
    except RecursionError:
        tally.server_error()  # at the endpoint this is a 500
        pytest.fail("parse_body raised RecursionError on deeply nested JSON (500 at /github)")
    pytest.fail("deeply nested JSON was accepted")


_VOCABULARY = st.sampled_from(
    [
        "type",
        "id",
        "token",
        "application_id",
        "guild_id",
        "channel_id",
        "channel",
        "member",
        "user",
        "roles",
        "data",
        "name",
        "options",
        "value",
        "focused",
        "custom_id",
        "components",
        "component",
        "message",
        "global_name",
        "username",
    ]
)
interaction_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["1", "2", "3", "status", "ping", "config"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(_VOCABULARY | st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=60,
)


def _touch_options(options: Options) -> None:
    assert options.focused is None or isinstance(options.focused, str)
    for name in list(options):
        options.string(name)
        options.integer(name)
        options.number(name)
        options.boolean(name)
        options.snowflake(name)
        _ = options[name]
    assert len(options) >= 0


@FUZZ
@given(
    raw=st.dictionaries(_VOCABULARY, interaction_json, max_size=12),
    option_type=st.sampled_from([1, 2, 3, "1", None, True]),
)
def test_interaction_accessors_never_raise(
    tally: Tally, raw: dict[str, Any], option_type: Any
) -> None:
    tally.tried()
    if isinstance(raw.get("data"), dict) and isinstance(raw["data"].get("options"), list):
        # steer some inputs into the subcommand-walking branches
        raw["data"]["options"] = [
            {"type": option_type, "name": "x", "options": raw["data"]["options"]}
        ]
    interaction = Interaction(raw)
    assert interaction.type is None or isinstance(interaction.type, int)
    for text in (interaction.id, interaction.token, interaction.application_id):
        assert isinstance(text, str)
    for maybe in (
        interaction.guild_id,
        interaction.channel_id,
        interaction.user_id,
        interaction.command_name,
        interaction.custom_id,
    ):
        assert maybe is None or isinstance(maybe, str)
    assert isinstance(interaction.user_name, str)
    assert all(isinstance(role, str) for role in interaction.role_ids)
    assert isinstance(interaction.user, dict)
    assert isinstance(interaction.data, dict)
    assert isinstance(interaction.message, dict)
    assert all(isinstance(part, str) for part in interaction.command_path())
    _touch_options(interaction.options())
    values = interaction.modal_values()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in values.items())
