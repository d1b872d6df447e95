"""`notifications.deliver`: cards and single posts, against the Discord stand-in.

Counts what reaches Discord (POSTs create, PATCHes edit) for retried jobs, redeliveries,
refused edits, quiet subscriptions, mentions and tracked deploys.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.config import load_settings
from orchestrator.devtools.discord_standin import Captured, DiscordStandIn
from orchestrator.github.events import Event
from orchestrator.notifications import card_post, cards, deliver
from orchestrator.services import Services
from orchestrator.store import keys
from tests.support import ci_events
from tests.support.discord_spec import DiscordSpec

CHANNEL = "1234567890123"
OTHER = "1234567890999"


@pytest.fixture
def discord() -> Iterator[DiscordStandIn]:
    with DiscordStandIn() as standin:
        yield standin


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "orchestrator.toml"
    path.write_text(f'[[notify]]\nrepo = "acme/*"\nchannel_id = "{CHANNEL}"\n')
    return path


@pytest.fixture
def services(tmp_path: Path, config: Path, discord: DiscordStandIn) -> Iterator[Services]:
    settings = load_settings(
        ORCHESTRATOR_DATA_DIR=tmp_path / "data",
        ORCHESTRATOR_CONFIG=config,
        DISCORD_API_BASE=discord.api_base,
        DISCORD_BOT_TOKEN="bot-test-token",
    )
    services = Services(settings)
    yield services
    services.close(timeout=5)


def subscribe(config: Path, **settings: Any) -> None:
    extra = "".join(f"{k} = {_toml(v)}\n" for k, v in settings.items())
    config.write_text(f'[[notify]]\nrepo = "acme/*"\nchannel_id = "{CHANNEL}"\n{extra}')


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(f'"{v}"' for v in value) + "]"
    return f'"{value}"'


def run_event(run_id: int, name: str, delivery: str | None = None, **kw: Any) -> Event:
    payload = ci_events.workflow_run(run_id=run_id, name=name, **kw)
    return Event("workflow_run", delivery or f"d-{run_id}-{kw}", payload)


def send(services: Services, *events: Event, lookup: deliver.DeployLookup | None = None) -> None:
    async def all_at_once() -> None:
        await asyncio.gather(*(deliver.notify(services, e, lookup) for e in events))

    asyncio.run(all_at_once())


def posts(discord: DiscordStandIn, channel: str = CHANNEL) -> list[Captured]:
    return [
        r
        for r in discord.requests
        if r.method == "POST" and r.path == f"/channels/{channel}/messages"
    ]


def edits(discord: DiscordStandIn) -> list[Captured]:
    return [r for r in discord.requests if r.method == "PATCH"]


def shown(discord: DiscordStandIn) -> dict[str, Any]:
    """The newest body sent for the card (created or edited), checked against Discord's spec."""
    last = [r for r in discord.requests if r.method in ("POST", "PATCH")][-1]
    DiscordSpec.get().assert_valid_request(last.method, last.path, last.body)
    body: dict[str, Any] = last.body
    return body


def the_card(services: Services, sha: str = ci_events.SHA) -> dict[str, Any]:
    card = services.store.get(keys.card("cfg1", "acme/web", sha))
    assert card is not None
    return card


def test_a_retried_or_redelivered_event_never_posts_a_second_card(
    services: Services, discord: DiscordStandIn
) -> None:
    first = run_event(1, "CI", delivery="d1")
    send(services, first)
    send(services, first)  # the job retried
    assert len(posts(discord)) == 1 and edits(discord) == []

    second = run_event(2, "Lint", delivery="d2")
    send(services, second)
    assert len(edits(discord)) == 1
    send(services, second)  # retried
    send(services, run_event(2, "Lint", delivery="d2-again"))  # redelivered by GitHub
    assert len(posts(discord)) == 1 and len(edits(discord)) == 1
    [message_id] = {the_card(services)["message_id"]}
    assert edits(discord)[0].path == f"/channels/{CHANNEL}/messages/{message_id}"


def test_a_burst_for_one_commit_is_one_message_and_a_new_commit_gets_its_own(
    services: Services, discord: DiscordStandIn
) -> None:
    names = ["CI", "Lint", "Docs", "E2E", "Deploy preview", "CodeQL"]
    burst = [
        run_event(i, name, conclusion="failure" if name == "E2E" else "success")
        for i, name in enumerate(names, 1)
    ]
    send(services, *burst)
    assert len(posts(discord)) == 1
    assert len(edits(discord)) <= 5  # coalesced: never one edit per event and then some
    text = shown(discord)["embeds"][0]["description"]
    assert all(f"[{name}](" in text for name in names)
    [failing] = [line for line in text.splitlines() if line.startswith("**")]
    assert "E2E" in failing and "failed" in failing
    assert the_card(services)["sent_rev"] == the_card(services)["rev"] == 6

    send(services, run_event(7, "CI", sha=ci_events.OTHER_SHA))
    assert len(posts(discord)) == 2


def test_a_refused_edit_posts_a_fresh_card_and_remembers_it(
    services: Services, discord: DiscordStandIn
) -> None:
    send(services, run_event(1, "CI"))
    old = the_card(services)["message_id"]
    # Discord: "Maximum number of edits to messages older than 1 hour reached."
    discord.fail_next(400, {"code": 30046, "message": "Maximum number of edits reached"})
    send(services, run_event(2, "Lint"))
    assert len(edits(discord)) == 1 and len(posts(discord)) == 2
    fresh = the_card(services)["message_id"]
    assert fresh != old
    assert "[CI](" in shown(discord)["embeds"][0]["description"]  # the whole card, again

    discord.fail_next(404, {"code": 10008, "message": "Unknown Message"})  # deleted by a human
    send(services, run_event(3, "Docs"))
    assert len(posts(discord)) == 3
    send(services, run_event(4, "E2E"))
    assert edits(discord)[-1].path.endswith(f"/messages/{the_card(services)['message_id']}")
    assert len(posts(discord)) == 3


def test_mention_on_failure_pings_exactly_that_role(
    services: Services, discord: DiscordStandIn, config: Path
) -> None:
    subscribe(config, mention_on_failure="<@&555000111>")
    send(services, run_event(1, "CI"))
    assert shown(discord)["allowed_mentions"] == {"parse": []}
    send(services, run_event(2, "E2E", conclusion="failure"))
    body = shown(discord)
    assert body["allowed_mentions"] == {"parse": [], "roles": ["555000111"]}
    assert body["content"].startswith("<@&555000111> E2E failed")


def test_quiet_posts_only_once_the_commit_fails(
    services: Services, discord: DiscordStandIn, config: Path
) -> None:
    subscribe(config, quiet=True)
    send(services, run_event(1, "CI"), run_event(2, "Lint"))
    assert discord.requests == []
    send(services, run_event(3, "E2E", conclusion="failure"))
    assert len(posts(discord)) == 1
    text = shown(discord)["embeds"][0]["description"]
    assert "[CI](" in text and "[Lint](" in text and "E2E" in text


def test_mode_each_posts_every_event_once_per_delivery(
    services: Services, discord: DiscordStandIn, config: Path
) -> None:
    subscribe(config, mode="each")
    first = run_event(1, "CI", delivery="d1")
    send(services, first)
    send(services, first)  # the job retried: the per-subscription record stops a second post
    send(services, run_event(2, "Lint", delivery="d2"))
    assert len(posts(discord)) == 2 and edits(discord) == []
    assert "CI" in posts(discord)[0].body["embeds"][0]["title"]


def test_releases_stay_single_posts_under_the_default_mode(
    services: Services, discord: DiscordStandIn
) -> None:
    from tests.support.github_examples import load_examples

    [release] = [p for n, p in load_examples() if n == "release" and p["action"] == "published"][:1]
    release["repository"]["full_name"] = "acme/web"
    send(services, Event("release", "r1", release))
    assert len(posts(discord)) == 1
    assert posts(discord)[0].body["embeds"][0]["title"].startswith("🏷️")


def test_a_tracked_deploy_is_a_link_on_the_card_not_a_second_post(
    services: Services, discord: DiscordStandIn, config: Path
) -> None:
    link = cards.DeployLink(CHANNEL, "777", None, "Deploy of web")

    def lookup(event: Event) -> cards.DeployLink | None:
        return link if "deploy" in (event.payload["workflow_run"]["name"] or "") else None

    send(services, run_event(1, "deploy", conclusion="success"), lookup=lookup)
    assert len(posts(discord)) == 1
    text = shown(discord)["embeds"][0]["description"]
    assert "Deploy of web" in text and f"its deploy message in <#{CHANNEL}>" in text

    subscribe(config, mode="each")  # single posts: not in the channel the deploy message is in
    send(services, run_event(2, "deploy", conclusion="success"), lookup=lookup)
    assert len(posts(discord)) == 1
    config.write_text(f'[[notify]]\nrepo = "acme/*"\nchannel_id = "{OTHER}"\nmode = "each"\n')
    send(services, run_event(3, "deploy", conclusion="success"), lookup=lookup)
    assert len(posts(discord, OTHER)) == 1


def test_filters_keep_lines_off_the_card(
    services: Services, discord: DiscordStandIn, config: Path
) -> None:
    subscribe(config, workflows=["CI*", "deploy"], ignore_bots=True)
    send(
        services,
        run_event(1, "CI / unit"),
        run_event(2, "Lint"),
        run_event(3, "deploy", sender="renovate[bot]", sender_type="Bot"),
    )
    assert len(posts(discord)) == 1
    text = shown(discord)["embeds"][0]["description"]
    assert "CI / unit" in text and "Lint" not in text and "deploy" not in text


class _Interloper:
    """A store through which another job records its line at the worst moment: right after
    the lease holder marked its rendering sent, before it lets go of the lease. That job
    found the lease held and left, trusting the holder to show its line."""

    def __init__(self, store: Any, services: Services, late: Event) -> None:
        self._store, self._services, self._late = store, services, late
        self.writes = 0
        self.armed = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def put_if_newer(self, *args: Any, **kwargs: Any) -> bool:
        self.writes += 1
        return bool(self._store.put_if_newer(*args, **kwargs))

    def get(self, key: str) -> Any:
        if self.armed and self.writes == 3:  # record, take the lease, mark sent
            self.armed = False
            [subscription] = deliver.all_subscriptions(self._services)
            card_post.record(self._store, subscription, self._late, [], None)
        return self._store.get(key)


def test_a_line_recorded_while_the_holder_lets_go_is_still_shown(
    services: Services, discord: DiscordStandIn
) -> None:
    store = _Interloper(services.store, services, run_event(2, "Lint"))
    [subscription] = deliver.all_subscriptions(services)

    async def holder() -> None:
        key = card_post.record(store, subscription, run_event(1, "CI"), [], None)
        assert key is not None
        async with services.discord_rest() as rest:
            await card_post.show(store, rest, subscription, key)

    asyncio.run(holder())
    assert not store.armed
    assert len(posts(discord)) == 1 and len(edits(discord)) == 1
    assert "[Lint](" in shown(discord)["embeds"][0]["description"]
    assert the_card(services)["lease"] is None


def test_a_holder_that_dies_after_posting_leaves_one_card(
    services: Services, discord: DiscordStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The card was posted but its message id never saved (the job died): the next holder
    posts with the same nonce, and Discord (`enforce_nonce`) answers with the first message."""
    real = card_post._mark_sent
    calls = {"n": 0}

    def dies_once(rev: int, message_id: str) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the container went away")
        return real(rev, message_id)

    monkeypatch.setattr(card_post, "_mark_sent", dies_once)
    with pytest.raises(RuntimeError):
        send(services, run_event(1, "CI", delivery="d1"))
    send(services, run_event(1, "CI", delivery="d1"))  # the job, retried
    sent = posts(discord)
    assert len(sent) == 2, "posted again, since the first message was never remembered"
    assert sent[0].body["nonce"] == sent[1].body["nonce"] and sent[1].body["enforce_nonce"]
    [message] = discord.messages(CHANNEL)
    assert the_card(services)["message_id"] == message["id"]


def test_the_fresh_card_after_a_refused_edit_has_a_nonce_of_its_own() -> None:
    first = card_post.card_nonce("card:x", None)
    assert first == card_post.card_nonce("card:x", None)
    assert len(first) <= 25
    assert card_post.card_nonce("card:x", "123") != first
    assert card_post.card_nonce("card:y", None) != first


def test_a_webhook_redelivered_after_the_sweep_still_reaches_the_card(
    services: Services, discord: DiscordStandIn
) -> None:
    """The reconcile sweep recorded the run's state under its own delivery id; the lost
    webhook, redelivered by the same sweep, is then "stale" for the run, yet it is the
    only news the commit's card gets: it is shown (once), not dropped."""
    from orchestrator.github import reconcile

    done = run_event(7, "Deploy", delivery="lost-then-redelivered")
    swept = Event(done.name, "reconcile-7-3", done.payload)
    assert reconcile.is_current(services.store, swept)
    send(services, done)
    assert len(posts(discord)) == 1
    assert "Deploy" in shown(discord)["embeds"][0]["description"]
    send(services, Event(done.name, "another-copy", done.payload))
    assert len(posts(discord)) == 1 and edits(discord) == []


def test_a_stale_event_posts_nothing_of_its_own(
    services: Services, config: Path, discord: DiscordStandIn
) -> None:
    """In `each` mode a redelivered copy (new delivery id, same news) is not posted again."""
    subscribe(config, mode="each")
    first = run_event(8, "CI", delivery="first")
    send(services, first)
    send(services, Event(first.name, "copy", first.payload))
    assert len(posts(discord)) == 1


def test_a_late_deployment_status_posts_nothing_after_the_final_one(
    services: Services, config: Path, discord: DiscordStandIn
) -> None:
    """In `each` mode, statuses arriving out of order (GitHub promises no order): an
    `in_progress` created before the `success` that beat it is stale, not a new post."""
    subscribe(config, mode="each")

    def status(status_id: int, state: str, created_at: str) -> Event:
        payload = ci_events.deployment_status(status_id=status_id, state=state)
        payload["deployment_status"]["created_at"] = created_at
        return Event("deployment_status", f"ds-{status_id}", payload)

    send(services, status(2, "success", "2026-12-06T10:00:05Z"))
    send(services, status(1, "in_progress", "2026-12-06T10:00:01Z"))
    assert len(posts(discord)) == 1
    send(services, status(3, "inactive", "2026-12-06T11:00:00Z"))  # superseded later: news
    assert len(posts(discord)) == 2
