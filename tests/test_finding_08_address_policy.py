"""Finding 8 (issue 14): one address policy, however a host is spelled.

Before the fix `/config set` accepted trailing-dot, percent-encoded and Unicode host names
that the fetch guard then refused, and both accepted `[::7f00:1]`, `[64:ff9b::a9fe:a9fe]`
(NAT64), `[2002:7f00:1::1]` (6to4) and `224.0.0.1`, because `ipaddress.is_global` says
True for them on Python 3.11/3.12. One table of spellings goes through all three doors
(`check_url(production=True)`, `/config set` via `set_override` and `App.validate`, and
the fetch guard `public_only`, for the URL itself and as a DNS answer), which must agree.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

import orchestrator.http
from orchestrator.apps import App, InvalidApp, set_override
from orchestrator.http import RefusedURL, check_url, public_only
from orchestrator.store import keys
from orchestrator.store.sqlite import SQLiteStore

REFUSED = None

# (host as typed, its normal form or REFUSED, the address it reaches, as a DNS server would
# answer it, for the rows that name an address).
SPELLINGS: list[tuple[str, str | None, str | None]] = [
    # Names that stay what they are, or take their one normal form.
    ("example.com", "example.com", None),
    ("app.example.co.uk", "app.example.co.uk", None),
    ("EXAMPLE.COM", "example.com", None),
    ("example.com.", "example.com", None),  # one trailing dot: the same name
    ("bücher.example", "xn--bcher-kva.example", None),  # IDNA
    ("BÜCHER.example.", "xn--bcher-kva.example", None),
    ("xn--bcher-kva.example", "xn--bcher-kva.example", None),
    ("ｅｘａｍｐｌｅ．ｃｏｍ", "example.com", None),  # full-width letters and dot
    ("example。com。", "example.com", None),  # ideographic full stops, one trailing
    ("my_app.example", "my_app.example", None),
    # Public addresses, and IPv6 forms that carry a public IPv4 address.
    ("8.8.8.8", "8.8.8.8", "8.8.8.8"),
    ("134744072", "8.8.8.8", "8.8.8.8"),
    ("[2606:4700:4700::1111]", "2606:4700:4700::1111", "2606:4700:4700::1111"),
    ("[64:ff9b::808:808]", "64:ff9b::808:808", "64:ff9b::808:808"),  # NAT64 to 8.8.8.8
    ("[2002:808:808::1]", "2002:808:808::1", "2002:808:808::1"),  # 6to4 from 8.8.8.8
    # Loopback, every spelling.
    ("127.0.0.1", REFUSED, "127.0.0.1"),
    ("127.1", REFUSED, "127.0.0.1"),
    ("2130706433", REFUSED, "127.0.0.1"),
    ("0x7f000001", REFUSED, "127.0.0.1"),
    ("0177.0.0.1", REFUSED, "127.0.0.1"),
    ("127.0.0.1.", REFUSED, "127.0.0.1"),
    ("①②⑦.0.0.1", REFUSED, "127.0.0.1"),  # circled digits (UTS 46 maps them)
    ("１２７.０.０.１", REFUSED, "127.0.0.1"),  # full-width digits
    ("127。0。0。1", REFUSED, "127.0.0.1"),  # ideographic full stops
    ("[::1]", REFUSED, "::1"),
    ("[::ffff:127.0.0.1]", REFUSED, "::ffff:7f00:1"),  # IPv4-mapped
    ("[::7f00:1]", REFUSED, "::7f00:1"),  # IPv4-compatible
    ("[::127.0.0.1]", REFUSED, "::7f00:1"),
    ("[64:ff9b::7f00:1]", REFUSED, "64:ff9b::7f00:1"),  # NAT64
    ("[2002:7f00:1::1]", REFUSED, "2002:7f00:1::1"),  # 6to4
    # The metadata address and the rest of link-local.
    ("169.254.169.254", REFUSED, "169.254.169.254"),
    ("2852039166", REFUSED, "169.254.169.254"),
    ("[::a9fe:a9fe]", REFUSED, "::a9fe:a9fe"),
    ("[64:ff9b::a9fe:a9fe]", REFUSED, "64:ff9b::a9fe:a9fe"),
    ("[64:ff9b:1::a9fe:a9fe]", REFUSED, "64:ff9b:1::a9fe:a9fe"),  # local-use NAT64
    ("[2002:a9fe:a9fe::1]", REFUSED, "2002:a9fe:a9fe::1"),
    ("[fe80::1]", REFUSED, "fe80::1"),
    # Private, shared, unspecified, documentation, tunnels.
    ("10.0.0.5", REFUSED, "10.0.0.5"),
    ("[64:ff9b::10.0.0.5]", REFUSED, "64:ff9b::a00:5"),
    ("[2002:a00:5::1]", REFUSED, "2002:a00:5::1"),
    ("100.64.0.1", REFUSED, "100.64.0.1"),
    ("0.0.0.0", REFUSED, "0.0.0.0"),
    ("[::]", REFUSED, "::"),
    ("[fc00::1]", REFUSED, "fc00::1"),
    ("[2001:db8::1]", REFUSED, "2001:db8::1"),
    ("[::ffff:8.8.8.8]", REFUSED, "::ffff:808:808"),  # mapped: name the IPv4 itself
    ("[64:ff9b:1::808:808]", REFUSED, "64:ff9b:1::808:808"),  # local-use NAT64, whatever
    ("[2001:0:a00:1::80ff:fffe]", REFUSED, "2001:0:a00:1::80ff:fffe"),  # Teredo 10/8, 127/8
    ("[2001:0:808:808::f7f7:f7f7]", REFUSED, "2001:0:808:808::f7f7:f7f7"),  # Teredo
    # Multicast (is_global says True for these on 3.11).
    ("224.0.0.1", REFUSED, "224.0.0.1"),
    ("239.255.255.250", REFUSED, "239.255.255.250"),
    ("[ff02::1]", REFUSED, "ff02::1"),
    ("[ff0e::1]", REFUSED, "ff0e::1"),
    # Names that are not public, with or without the trailing dot.
    ("localhost", REFUSED, None),
    ("localhost.", REFUSED, None),
    ("LOCALHOST", REFUSED, None),
    ("app.localhost", REFUSED, None),
    ("db.internal", REFUSED, None),
    ("db.internal.", REFUSED, None),
    ("printer.local.", REFUSED, None),
    # Spellings with no one meaning: percent-encoding, zones, empty labels, bad A-labels.
    ("ex%61mple.com", REFUSED, None),
    ("%31%32%37.0.0.1", REFUSED, None),
    ("b%C3%BCcher.example", REFUSED, None),
    ("[fe80::1%25eth0]", REFUSED, None),
    ("example.com..", REFUSED, None),
    ("example..com", REFUSED, None),
    ("-bad.example", REFUSED, None),
    ("xn--zz-.example", REFUSED, None),
    ("999.0.0.1", REFUSED, None),  # ends in a number, yet no address
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "store.db")
    yield store
    store.close()


def guard_says(url: str) -> str | None:
    """The fetch guard's verdict on one hop: None when allowed, the refusal otherwise."""
    try:
        asyncio.run(public_only(httpx.Request("GET", url)))
    except RefusedURL as exc:
        return str(exc)
    return None


@pytest.mark.parametrize(("host", "normal", "answer"), SPELLINGS, ids=[s[0] for s in SPELLINGS])
def test_finding_08_one_address_policy_for_every_spelling(
    host: str,
    normal: str | None,
    answer: str | None,
    store: SQLiteStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    typed = f"https://{host}:8443/health?x=1"
    expected = None
    if normal is not None:
        netloc = f"[{normal}]" if ":" in normal else normal
        expected = f"https://{netloc}:8443/health?x=1"

    # 1. The policy itself: the URL in its normal form, or refused.
    if expected is None:
        with pytest.raises(RefusedURL):
            check_url(typed, production=True)
    else:
        assert check_url(typed, production=True) == expected

    # 2. `/config set`: the same verdict, and what is stored is the normal form.
    web = App(name="web", repo="acme/web", workflow="deploy.yml")
    if expected is None:
        with pytest.raises(InvalidApp, match=r"web\.frontend_url: "):
            set_override(store, web, "frontend_url", typed, production=True, actor="42")
        assert store.get(keys.app_override("web")) is None
    else:
        updated = set_override(store, web, "frontend_url", typed, production=True, actor="42")
        assert updated.frontend_url == expected
        assert (store.get(keys.app_override("web")) or {})["frontend_url"] == expected
        assert replace(web, frontend_url=typed).validate(production=True).frontend_url == expected

    # 3. The fetch guard: on the URL as httpx sends it (a redirect hop may be spelled any
    # way httpx can build), on the stored form, and on the address as a DNS answer.
    answers = {"answer.example": [answer or "93.184.216.34"]}

    async def resolve(name: str, port: int) -> list[str]:
        return answers.get(name, ["93.184.216.34"])

    monkeypatch.setattr(orchestrator.http, "resolve", resolve)
    try:
        httpx.Request("GET", typed)
    except Exception:  # httpx builds no request from it: nothing is ever sent to it
        pass  # (what is stored and fetched is `expected`, checked just below)
    else:
        verdict = guard_says(typed)
        assert (verdict is None) == (expected is not None), verdict
    if expected is not None:
        assert guard_says(expected) is None
    if answer is not None:
        verdict = guard_says("https://answer.example/")
        assert (verdict is None) == (expected is not None), verdict


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com",
        "https://app.example.co.uk:8443/path",
        "https://example.com/a/b?c=d&e=f#g",
        "https://xn--bcher-kva.example/",
        "https://8.8.8.8/",
        "https://[2606:4700:4700::1111]:443/dns-query",
    ],
)
def test_finding_08_legitimate_urls_are_kept_as_typed(url: str) -> None:
    assert check_url(url, production=True) == url
    app = App(name="web", repo="acme/web", workflow="deploy.yml", frontend_url=url)
    assert app.validate(production=True).frontend_url == url
