"""Environment locks: who holds an environment, why, since when and until when.

`/lock web production "migrating the db"` keeps everyone else's deploys (and /release's
Promote and Roll back) out of web/production until the owner unlocks it, an admin breaks
it (with a reason, audited), or it expires: a lock is a store record with the lock's TTL,
so an abandoned lock cannot block an environment forever, and a reminder is posted to the
environment's channel shortly before it lapses (`due_reminders`, run by the deploy watch).

Two kinds, as github/branch-deploy has them:
* sticky (the default): the owner's own deploys pass while it holds; it stays until
  unlocked or expired;
* one-deploy (`sticky:false`): the owner's next successful dispatch releases it, for
  "nobody touch production until my fix is out".

Taking a lock is the store's `claim`, so of two people locking at once exactly one holds
it; the owner locking again renews it (new reason, new expiry).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from orchestrator.store import keys
from orchestrator.store.base import JSONObject, Store
from orchestrator.text import duration

DEFAULT_TTL = 24 * 3600.0
MAX_TTL = 7 * 24 * 3600.0
MAX_REASON = 200
REMIND_BEFORE = 15 * 60.0  # the watch runs every 5 minutes: a reminder 10-15 min ahead


class LockHeld(Exception):
    """Someone else holds the lock."""

    def __init__(self, lock: Lock) -> None:
        super().__init__(f"{lock.app}/{lock.environment} is locked by {lock.owner}")
        self.lock = lock


@dataclass(frozen=True)
class Lock:
    app: str
    environment: str
    owner: str  # a Discord user id
    reason: str
    created_at: float
    expires_at: float
    sticky: bool = True

    def lets_through(self, actor: str | None) -> bool:
        """Does this lock let `actor` deploy? Only its owner (sticky or not)."""
        return actor is not None and actor == self.owner

    def to_record(self) -> JSONObject:
        return asdict(self)

    @classmethod
    def from_record(cls, record: JSONObject) -> Lock:
        return cls(
            app=str(record["app"]),
            environment=str(record["environment"]),
            owner=str(record["owner"]),
            reason=str(record.get("reason") or ""),
            created_at=float(record["created_at"]),
            expires_at=float(record["expires_at"]),
            sticky=bool(record.get("sticky", True)),
        )


def check_ttl(ttl: float | None) -> float:
    """The TTL a lock gets: the default for none, refused beyond a week."""
    if ttl is None:
        return DEFAULT_TTL
    if not 60 <= ttl <= MAX_TTL:
        raise ValueError(f"a lock lasts from 1 min to {duration(MAX_TTL)}")
    return ttl


def get(store: Store, app: str, environment: str) -> Lock | None:
    record = store.get(keys.deploy_lock(app, environment))
    return Lock.from_record(record) if record is not None else None


def everything(store: Store, limit: int = 200) -> list[Lock]:
    """Every live lock, by app and environment."""
    return [Lock.from_record(r.value) for r in store.query_prefix(keys.DEPLOY_LOCK_PREFIX, limit)]


def acquire(
    store: Store,
    app: str,
    environment: str,
    *,
    owner: str,
    reason: str,
    ttl: float | None = None,
    sticky: bool = True,
    now: float | None = None,
) -> tuple[Lock, bool]:
    """Take the lock, or renew it when `owner` already holds it: `(lock, renewed)`.
    LockHeld when someone else holds it."""
    at = time.time() if now is None else now
    lifetime = check_ttl(ttl)
    wanted = Lock(app, environment, owner, reason.strip()[:MAX_REASON], at, at + lifetime, sticky)
    key = keys.deploy_lock(app, environment)
    for _ in range(3):  # the holder's lock may lapse between the claim and the read
        if store.claim(key, lifetime, wanted.to_record()):
            return wanted, False
        current = get(store, app, environment)
        if current is None:
            continue
        if current.owner != owner:
            raise LockHeld(current)
        renewed = Lock(
            app, environment, owner, wanted.reason, current.created_at, wanted.expires_at, sticky
        )
        store.put(key, renewed.to_record(), ttl=lifetime)
        return renewed, True
    raise LockHeld(get(store, app, environment) or wanted)


def release(store: Store, lock: Lock) -> bool:
    """Remove `lock` if it is still the one in place (not a newer lock taken since)."""
    current = get(store, lock.app, lock.environment)
    if current is None or (current.owner, current.created_at) != (lock.owner, lock.created_at):
        return False
    store.delete(keys.deploy_lock(lock.app, lock.environment))
    return True


def after_dispatch(store: Store, app: str, environment: str, actor: str | None) -> Lock | None:
    """A one-deploy lock is spent by its owner's successful dispatch: release it, and
    return it (None when nothing was released)."""
    current = get(store, app, environment)
    if current is None or current.sticky or not current.lets_through(actor):
        return None
    return current if release(store, current) else None


def due_reminders(locks: list[Lock], now: float, before: float = REMIND_BEFORE) -> list[Lock]:
    """The locks that lapse within `before` (the watch reminds each expiry once)."""
    return [lock for lock in locks if now < lock.expires_at <= now + before]


def describe(lock: Lock, now: float) -> str:
    """ "🔒 <@42>: “migrating the db” · sticky · 1 h 20 min left"."""
    kind = "sticky" if lock.sticky else "until their next deploy"
    return (
        f"🔒 <@{lock.owner}>: “{lock.reason}” · {kind} · "
        f"{duration(max(0.0, lock.expires_at - now))} left"
    )
