"""The ETag cache and its decisions (what is cached, what is kept, what a 304 means)."""

from __future__ import annotations

import pytest

from orchestrator.github.cache import (
    ETAG_MAX_BODY_BYTES,
    ETagCache,
    Reply,
    cache_key,
    keepable_etag,
    revalidated,
)
from orchestrator.github.errors import GitHubError

URL = "https://api.github.com/repos/acme/api/pulls/1"
JSON = "application/vnd.github+json"


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("GET", (URL, JSON)),
        ("POST", None),  # never answer a write from memory
        ("PUT", None),
        ("HEAD", None),
    ],
)
def test_only_gets_are_cached(method: str, expected: tuple[str, str] | None) -> None:
    assert cache_key(method, URL, JSON) == expected


def test_the_accept_header_is_part_of_the_key() -> None:
    assert cache_key("GET", URL, JSON) != cache_key("GET", URL, "application/vnd.github.sha")


@pytest.mark.parametrize(
    ("status", "etag", "expected"),
    [
        (200, '"v1"', '"v1"'),
        (200, 'W/"v1"', 'W/"v1"'),
        (200, None, None),  # nothing to revalidate with
        (200, "", None),
        (201, '"v1"', None),  # only a plain 200 is a representation worth serving again
        (302, '"v1"', None),
    ],
)
def test_which_answers_are_kept(status: int, etag: str | None, expected: str | None) -> None:
    assert keepable_etag(status, etag) == expected


def test_a_304_to_a_cached_reply_is_a_hit_marked_from_cache() -> None:
    kept = Reply(200, {"etag": '"v1"'}, b'{"n": 1}')
    hit = revalidated(304, kept)
    assert hit == Reply(200, {"etag": '"v1"'}, b'{"n": 1}', from_cache=True)
    assert revalidated(200, kept) is None  # changed: the new answer is used
    assert revalidated(304, None) is None  # evicted meanwhile: not a hit


def test_lru_keeps_the_recently_used_and_refuses_big_bodies() -> None:
    cache = ETagCache(2)
    a, b, c = (("u" + name, JSON) for name in "abc")
    cache.put(a, "ea", Reply(200, {}, b"a"))
    cache.put(b, "eb", Reply(200, {}, b"b"))
    assert cache.get(a) is not None  # a is now the most recent
    cache.put(c, "ec", Reply(200, {}, b"c"))
    assert cache.get(b) is None and cache.get(a) is not None and len(cache) == 2
    cache.put(a, "big", Reply(200, {}, b"x" * (ETAG_MAX_BODY_BYTES + 1)))
    entry = cache.get(a)
    assert entry is not None and entry[0] == "ea"  # the big body was not kept
    off = ETagCache(0)
    off.put(a, "ea", Reply(200, {}, b"a"))
    assert len(off) == 0


def test_reply_json() -> None:
    assert Reply(200, {}, b'{"a": 1}').json() == {"a": 1}
    assert Reply(204, {}, b"").json() is None
    with pytest.raises(GitHubError, match="not JSON"):
        Reply(200, {}, b"<html>").json()
