"""The store interface: the few operations every feature needs, and nothing more.

Keys are `"<collection>:<id>"`, built by `store.keys` (the one place that
knows each layout). The collection (before the first colon) is how the
DynamoDB backend partitions data, so a prefix query must name one
(`"audit:2026-11"` is fine, `"aud"` is not). Values are small JSON objects.

Why these operations:
* `claim` is the idempotency primitive: true exactly once per key until its TTL
  lapses. GitHub redeliveries, Lambda's async retries and double-clicked
  buttons all collapse onto it.
* `put_if_newer` keeps the newest version of a record when events arrive out
  of order (a late `in_progress` must not overwrite `completed`).
* `claim_and_put` is the two together in one atomic write: a claim that must never be
  left without its record (a webhook delivery and its queued job), in one transaction
  instead of two, so there is no window in which a crash leaves one without the other.
* `claim_and_put_many` and `put_versioned_many` are those writes for a batch: one commit
  where the backend can make one (SQLite), so a process running many jobs at once records
  their starts and their outcomes in one transaction each, not one per job.
* the rest is a plain key/value store with TTL and prefix listing.
"""

from __future__ import annotations

import contextvars
import json
import re
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

JSONObject = dict[str, Any]

MAX_VALUE_BYTES = 350_000  # DynamoDB's item cap is 400 KB; leave room for keys and attributes
_COLLECTION = re.compile(r"^[a-z0-9_.-]+$")


class StoreError(RuntimeError):
    """Base for store failures."""


class StoreUnavailable(StoreError):
    """The backend could not be reached or stayed busy past its retries.

    Routers turn this into 503 so the sender (GitHub) records a failure and
    the event can be redelivered, instead of a 2xx that silently drops it.
    """


class StoreBusy(StoreError):
    """A write asked not to wait (`SQLiteStore.without_waiting`) found another writer at
    work. Nothing was written; the caller may hand the write to a thread that can wait."""


class InvalidKey(StoreError, ValueError):
    pass


# -- fail fast within one request ------------------------------------------------------------
#
# A request makes several store calls (job record, trace, audit). When the backend is
# locked or throttled, the first call already spent its retry budget; if every following
# call waited as long, the answer would miss Discord's 3 seconds and GitHub's 10. So once
# a call fails inside a scope (a request, a job), the rest of that scope fails at once and
# the answer ("try again" / 503) goes out in time. Other requests are not affected.

_failure_scope: contextvars.ContextVar[dict[str, bool] | None] = contextvars.ContextVar(
    "store_failure_scope", default=None
)


class failure_scope:  # lower case: used like the function it was, `with failure_scope():`
    """Open a scope (the mutable dict is shared with worker threads the scope starts).

    A class, not `@contextmanager`: every request opens one, and a generator-based context
    manager costs ~1.3 us where this costs ~0.4."""

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = _failure_scope.set({})

    def __exit__(self, *exc: object) -> None:
        _failure_scope.reset(self._token)


def fail_fast(backend: str) -> None:
    """Raise at once if an earlier store call in this scope already failed."""
    scope = _failure_scope.get()
    if scope and scope.get("failed"):
        raise StoreUnavailable(f"{backend}: unavailable (an earlier call in this request failed)")


def mark_failed() -> None:
    scope = _failure_scope.get()
    if scope is not None:
        scope["failed"] = True


class Versioned(NamedTuple):
    """A `put_if_newer` write (`Store.put_versioned`, or with a claim: `Store.claim_and_put`).

    `kept` names a field of `value` that the stored record already holds, unchanged,
    whenever its version is at least `kept_since` (a job's payload, the same for every
    status of one attempt). A backend may then carry the stored field over instead of
    encoding and rewriting it; the record written is the same either way.
    """

    key: str
    value: JSONObject
    version: float
    ttl: float | None = None
    kept: str | None = None
    kept_since: float | None = None


class ClaimAndPut(NamedTuple):
    """One item of `Store.claim_and_put_many`: the arguments of one `claim_and_put`."""

    key: str
    ttl: float
    value: JSONObject | None
    write: Versioned


class Record(NamedTuple):
    key: str
    value: JSONObject


def split_key(key: str) -> tuple[str, str]:
    """`"collection:rest"` -> `("collection", "rest")`, or InvalidKey."""
    collection, sep, rest = key.partition(":")
    if not sep or not rest or not _COLLECTION.match(collection):
        raise InvalidKey(f"store keys look like 'collection:id', got {key[:60]!r}")
    return collection, rest


def split_prefix(prefix: str) -> tuple[str, str]:
    """Like `split_key`, but the part after the colon may be empty (`"audit:"`)."""
    collection, sep, rest = prefix.partition(":")
    if not sep or not _COLLECTION.match(collection):
        raise InvalidKey(
            f"prefixes name a collection first ('collection:...'), got {prefix[:60]!r}"
        )
    return collection, rest


# Built once: `json.dumps` with options builds an encoder per call. ASCII output (escaped
# non-ASCII), so a value's length in characters is its length in bytes.
_ENCODER = json.JSONEncoder(separators=(",", ":"), sort_keys=True, ensure_ascii=True)


def encode_value(value: JSONObject) -> str:
    if not isinstance(value, dict):
        raise TypeError("store values are JSON objects")
    text = _ENCODER.encode(value)
    if len(text) > MAX_VALUE_BYTES:
        raise ValueError(f"store value too large ({len(text)} bytes > {MAX_VALUE_BYTES})")
    return text


def expiry(ttl: float | None, now: float) -> float | None:
    if ttl is None:
        return None
    if ttl <= 0:
        raise ValueError("ttl must be positive seconds")
    return now + ttl


Clock = Callable[[], float]


class Store(Protocol):
    """What features may ask of storage. One implementation per backend."""

    def claim(self, key: str, ttl: float, value: JSONObject | None = None) -> bool:
        """Atomically create `key`; True for the first caller, False while it exists."""
        ...

    def claim_and_put(
        self, key: str, ttl: float, value: JSONObject | None, write: Versioned
    ) -> bool:
        """`claim(key)` and, if that wins, `put_if_newer(write)`, as one atomic write.

        True: the claim and the write (unless a newer version was already stored, as
        `put_if_newer` decides) are durable together. False: the claim was taken and
        nothing was written. Raises StoreUnavailable with nothing written.
        """
        ...

    def claim_and_put_many(self, items: Sequence[ClaimAndPut]) -> list[bool | None]:
        """Each item as `claim_and_put` makes it, in order (a later item sees an earlier
        one's claim), in one transaction where the backend has one for them (SQLite).

        Per item: True (claimed and written), False (the claim was taken; nothing written)
        or None: a backend writing them one by one did not write it (too large to), or
        stopped at a store failure at it or before it. A failure is what `claim_and_put`
        raising would be: the failing item's write was not confirmed, and a write whose
        answer was lost may yet have landed. Raises (StoreUnavailable, ValueError for a
        value too large) only when no item was written.
        """
        ...

    def put(self, key: str, value: JSONObject, ttl: float | None = None) -> None: ...

    def put_versioned_many(self, writes: Sequence[Versioned]) -> None:
        """`put_versioned` for each write, in one transaction where the backend has one
        (SQLite). Raises as `put_versioned` does (StoreUnavailable, ValueError for a value
        too large): none written there; one by one, those before it are. For writes that
        may land again or not at all (a job's outcome records)."""
        ...

    def put_versioned(self, write: Versioned) -> bool:
        """`put_if_newer(write)`, free to carry `write.kept` over (see `Versioned`)."""
        ...

    def put_if_newer(
        self, key: str, value: JSONObject, version: float, ttl: float | None = None
    ) -> bool:
        """Write unless the stored record has a version >= `version`; True if written."""
        ...

    def get(self, key: str) -> JSONObject | None: ...

    def delete(self, key: str) -> None: ...

    def query_prefix(
        self, prefix: str, limit: int = 100, newest_first: bool = False
    ) -> list[Record]:
        """Live records whose key starts with `prefix`, in key order."""
        ...

    def ping(self) -> None:
        """Raise StoreUnavailable unless the backend answers; `/healthz` calls it."""
        ...

    def close(self) -> None: ...


def now() -> float:
    return time.time()
