"""Replies read into memory, and the ETag cache that keeps the last one per URL.

Polling a run every few seconds would spend the hourly rate limit on answers that
did not change. GitHub does not count a `304 Not Modified`, so every GET carries
the ETag of the last 200 for its URL in `If-None-Match`, and a 304 is answered
from here. Bounded twice (entries and body size) because the process is long
lived and a job log or a big listing is not worth keeping.

The decisions (which requests are cached, which answers are kept, when a 304 is a
hit) are plain functions, so the tests pin them without HTTP.
"""

from __future__ import annotations

import dataclasses
import json as jsonlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.github.errors import GitHubError

ETAG_CACHE_ENTRIES = 256
ETAG_MAX_BODY_BYTES = 1_000_000

CacheKey = tuple[str, str]  # (absolute URL with query, Accept): one representation


@dataclass(frozen=True)
class Reply:
    """An answer below 400, read whole: what every request returns and what the cache keeps.

    Plain data rather than an httpx response, so it outlives its connection and the
    modules that only read answers need no HTTP stack.
    """

    status: int
    headers: Mapping[str, str]
    content: bytes
    from_cache: bool = False

    def json(self) -> Any:
        if not self.content:
            return None
        try:
            return jsonlib.loads(self.content)
        except ValueError:
            raise GitHubError(
                f"GitHub answered {self.status} with a body that is not JSON"
            ) from None


def cache_key(method: str, url: str, accept: str) -> CacheKey | None:
    """The key a request is cached under, or None: only GETs are safe to answer from memory."""
    return (url, accept) if method == "GET" else None


def keepable_etag(status: int, etag: str | None) -> str | None:
    """The ETag to keep an answer under, or None: only a 200 with one can be served on a 304."""
    return etag if status == 200 and etag else None


def revalidated(status: int, cached: Reply | None) -> Reply | None:
    """The cached reply when GitHub's 304 vouched for it, else None (not a cache hit).

    A 304 with nothing cached (evicted meanwhile) is not a hit: the caller treats it
    as the unexpected answer it is.
    """
    if status == 304 and cached is not None:
        return dataclasses.replace(cached, from_cache=True)
    return None


class ETagCache:
    """Bounded LRU of (url, accept) -> last 200 reply with its ETag."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[CacheKey, tuple[str, Reply]] = OrderedDict()

    def get(self, key: CacheKey) -> tuple[str, Reply] | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: CacheKey, etag: str, reply: Reply) -> None:
        if self.max_entries <= 0 or len(reply.content) > ETAG_MAX_BODY_BYTES:
            return
        self._entries[key] = (etag, reply)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
