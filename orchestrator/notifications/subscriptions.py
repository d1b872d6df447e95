"""Who wants which GitHub events, where: subscriptions and the pure matching rule.

Subscriptions come from two places: the config file (seeded, read-only from
Discord) and the store (managed with `/notify add|remove`). Matching is a pure
function of a subscription and an event, so every filter (repository,
event/action, branch glob, workflow glob, actors, bots, conclusion) is table-tested.

A subscription's mode says how matching events are shown: `card` folds the events of
one commit into one message edited in place (`notifications.cards`), `each` posts one
message per event. Unset, it is `card` for the CI events (`CARD_EVENTS`) and `each` for
the rest, so one subscription to `*` gets cards for CI and single posts for releases.
"""

from __future__ import annotations

import fnmatch
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from orchestrator.github.events import Event, dig, text
from orchestrator.store import keys
from orchestrator.store.base import JSONObject, Store


class InvalidSubscription(ValueError):
    pass


Mode = Literal["card", "each"]
MODES: tuple[Mode, ...] = ("card", "each")
# The events a card shows (one line each); every other event is posted on its own.
CARD_EVENTS = ("workflow_run", "check_suite", "deployment_status")
# `<@&role>` or `<@user>` (`<@!user>` too): the one role or user a failing card may ping.
_MENTION = re.compile(r"^<@(&|!)?([0-9]{1,25})>$")
_KNOWN = {
    "repo", "channel_id", "thread_id", "events", "branches", "ignore_bots", "ignore_actors",
    "created_by", "created_at", "mode", "workflows", "actors", "conclusions", "quiet",
    "mention_on_failure",
}  # fmt: skip
CONCLUSIONS = (
    "success", "failure", "timed_out", "cancelled", "action_required", "startup_failure",
    "skipped", "neutral", "stale", "error",
)  # fmt: skip


def _flag(data: dict[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise InvalidSubscription(f"{name} must be true or false, got {value!r}")
    return value


def event_conclusion(event: Event) -> str | None:
    """How the event's run, job, suite or deployment ended; None while it has not."""
    if event.name in ("workflow_run", "workflow_job", "check_suite", "check_run"):
        return text(dig(event.payload, event.name), "conclusion")
    if event.name == "deployment_status":
        state = text(event.payload, "deployment_status", "state")
        return state if state in ("success", "failure", "error") else None
    return None


def workflow_name(event: Event) -> str | None:
    """The workflow (or checking app) an event is about, for the `workflows` globs."""
    if event.name == "workflow_run":
        return text(event.payload, "workflow_run", "name")
    if event.name == "workflow_job":
        return text(event.payload, "workflow_job", "workflow_name")
    if event.name == "check_suite":
        return text(event.payload, "check_suite", "app", "name")
    return None


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
    mode: Mode | None = None  # None: card for CARD_EVENTS, each for the rest
    workflows: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()
    conclusions: tuple[str, ...] = ()
    quiet: bool = False
    mention_on_failure: str | None = None

    def __post_init__(self) -> None:
        if self.mode is not None and self.mode not in MODES:
            raise InvalidSubscription(f"mode must be card or each, got {self.mode!r}")
        if self.quiet and self.mode == "each":
            raise InvalidSubscription("quiet needs mode card (it waits for a commit's verdict)")
        unknown = [c for c in self.conclusions if c not in CONCLUSIONS]
        if unknown:
            raise InvalidSubscription(
                f"unknown conclusion {', '.join(unknown)}; pick from {', '.join(CONCLUSIONS)}"
            )
        if self.mention_on_failure is not None and not _MENTION.match(self.mention_on_failure):
            raise InvalidSubscription(
                "mention_on_failure must be one role or user, like <@&123> or <@456>, "
                f"got {self.mention_on_failure!r}"
            )
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
        if not isinstance(data, dict):
            raise InvalidSubscription("a subscription is a table of settings")
        unknown = sorted(set(data) - _KNOWN)
        if unknown:
            raise InvalidSubscription(f"unknown setting {', '.join(map(repr, unknown))}")
        mode = data.get("mode")
        if mode is not None and mode not in MODES:
            raise InvalidSubscription(f"mode must be card or each, got {mode!r}")
        mention = data.get("mention_on_failure")
        if mention is not None and not isinstance(mention, str):
            raise InvalidSubscription("mention_on_failure must be a string like <@&123>")
        try:
            return cls(
                id=id,
                repo=str(data["repo"]).strip(),
                channel_id=str(data.get("channel_id") or data.get("thread_id") or "").strip(),
                events=_tuple(data.get("events", ["*"])),
                branches=_tuple(data.get("branches")),
                ignore_bots=_flag(data, "ignore_bots"),
                ignore_actors=_tuple(data.get("ignore_actors")),
                source=source,
                created_by=data.get("created_by"),
                mode=mode,
                workflows=_tuple(data.get("workflows")),
                actors=_tuple(data.get("actors")),
                conclusions=_tuple(data.get("conclusions")),
                quiet=_flag(data, "quiet"),
                mention_on_failure=mention.strip() if mention else None,
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
            "mode": self.mode,
            "workflows": list(self.workflows),
            "actors": list(self.actors),
            "conclusions": list(self.conclusions),
            "quiet": self.quiet,
            "mention_on_failure": self.mention_on_failure,
        }

    def mode_for(self, event_name: str) -> Mode:
        """How this subscription shows an event: a card only for the events a card shows."""
        if event_name not in CARD_EVENTS:
            return "each"
        return self.mode or "card"

    def describe(self) -> str:
        parts = [f"`{self.id}` {self.repo} → <#{self.channel_id}>", ", ".join(self.events)]
        parts.append(f"mode {self.mode}" if self.mode else "mode card for CI, each for the rest")
        if self.branches:
            parts.append("branches " + ", ".join(self.branches))
        if self.workflows:
            parts.append("workflows " + ", ".join(self.workflows))
        if self.actors:
            parts.append("actors " + ", ".join(self.actors))
        if self.conclusions:
            parts.append("only " + ", ".join(self.conclusions))
        if self.quiet:
            parts.append("quiet (failures only)")
        if self.mention_on_failure:
            parts.append(f"pings {self.mention_on_failure} on failure")
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
        if self.workflows:
            name = workflow_name(event)
            if name is None or not any(
                fnmatch.fnmatchcase(name.lower(), glob.lower()) for glob in self.workflows
            ):
                return False
        if self.conclusions and event_conclusion(event) not in self.conclusions:
            return False
        actor = (event.sender or "").lower()
        if self.ignore_bots and event.sender_is_bot:
            return False
        if self.actors and actor not in {a.lower() for a in self.actors}:
            return False
        return actor not in {a.lower() for a in self.ignore_actors}


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
