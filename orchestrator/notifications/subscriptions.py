"""Who wants which GitHub events, where: subscriptions and the pure matching rule.

Subscriptions come from two places: the config file (seeded, read-only from
Discord) and the store (managed with `/notify add|remove`). Matching is a pure
function of a subscription and an event, so every filter (repository,
event/action, branch glob, bots, ignored actors) is table-tested.
"""

from __future__ import annotations

import fnmatch
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from orchestrator.github.events import Event
from orchestrator.store import keys
from orchestrator.store.base import JSONObject, Store


class InvalidSubscription(ValueError):
    pass


def _tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, list | tuple):
        return tuple(str(item).strip() for item in value if str(item).strip())
    raise InvalidSubscription(f"expected a list, got {type(value).__name__}")


@dataclass(frozen=True)
class Subscription:
    id: str
    repo: str
    channel_id: str
    events: tuple[str, ...] = ("*",)
    branches: tuple[str, ...] = ()
    ignore_bots: bool = False
    ignore_actors: tuple[str, ...] = ()
    source: Literal["config", "store"] = "store"
    created_by: str | None = None

    def __post_init__(self) -> None:
        if self.repo != "*" and (self.repo.count("/") != 1 or not all(self.repo.split("/"))):
            raise InvalidSubscription(f"repo must be owner/name, owner/* or *, got {self.repo!r}")
        if not (self.channel_id.isascii() and self.channel_id.isdigit()):
            raise InvalidSubscription(f"channel must be a channel id, got {self.channel_id!r}")
        if not self.events:
            raise InvalidSubscription("a subscription needs at least one event")

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], *, id: str, source: Literal["config", "store"]
    ) -> Subscription:
        try:
            return cls(
                id=id,
                repo=str(data["repo"]).strip(),
                channel_id=str(data.get("channel_id") or data.get("thread_id") or "").strip(),
                events=_tuple(data.get("events", ["*"])),
                branches=_tuple(data.get("branches")),
                ignore_bots=bool(data.get("ignore_bots", False)),
                ignore_actors=_tuple(data.get("ignore_actors")),
                source=source,
                created_by=data.get("created_by"),
            )
        except KeyError as exc:
            raise InvalidSubscription(f"missing {exc.args[0]!r}") from None

    def to_record(self) -> JSONObject:
        return {
            "repo": self.repo,
            "channel_id": self.channel_id,
            "events": list(self.events),
            "branches": list(self.branches),
            "ignore_bots": self.ignore_bots,
            "ignore_actors": list(self.ignore_actors),
            "created_by": self.created_by,
            "created_at": time.time(),
        }

    def describe(self) -> str:
        parts = [f"`{self.id}` {self.repo} → <#{self.channel_id}>", ", ".join(self.events)]
        if self.branches:
            parts.append("branches " + ", ".join(self.branches))
        if self.ignore_bots:
            parts.append("no bots")
        if self.ignore_actors:
            parts.append("ignoring " + ", ".join(self.ignore_actors))
        if self.source == "config":
            parts.append("(from config)")
        return " · ".join(parts)

    def matches(self, event: Event) -> bool:
        repo = (event.repo or "").lower()
        if self.repo != "*" and not fnmatch.fnmatchcase(repo, self.repo.lower()):
            return False
        if not any(wanted in ("*", event.name, event.key) for wanted in self.events):
            return False
        if self.branches:
            branch = event.branch
            if branch is None or not any(
                fnmatch.fnmatchcase(branch, glob) for glob in self.branches
            ):
                return False
        actor = event.sender or ""
        if self.ignore_bots and event.sender_is_bot:
            return False
        return actor.lower() not in {a.lower() for a in self.ignore_actors}


def from_config(entries: Iterable[dict[str, Any]]) -> list[Subscription]:
    return [
        Subscription.from_dict(entry, id=f"cfg{index + 1}", source="config")
        for index, entry in enumerate(entries)
    ]


def stored(store: Store) -> list[Subscription]:
    out = []
    for record in store.query_prefix(keys.SUBSCRIPTION_PREFIX, limit=500):
        try:
            out.append(
                Subscription.from_dict(
                    record.value, id=keys.parse_subscription(record.key), source="store"
                )
            )
        except InvalidSubscription:
            continue  # a record from an older version; /notify list will not show it
    return out


def add(store: Store, subscription: Subscription) -> Subscription:
    sub_id = subscription.id or secrets.token_hex(3)
    store.put(keys.subscription(sub_id), subscription.to_record())
    return Subscription.from_dict(subscription.to_record(), id=sub_id, source="store")


def remove(store: Store, sub_id: str) -> bool:
    key = keys.subscription(sub_id)
    if store.get(key) is None:
        return False
    store.delete(key)
    return True
