"""The interaction dispatcher: access, immediate handlers, deferral, failures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator import audit, product
from orchestrator.aws.events import http_api_event
from orchestrator.config import load_settings
from orchestrator.devkeys import load_or_create_dev_identity
from orchestrator.devtools.simulate import DEV_GUILD_ID, Invoker, command_interaction
from orchestrator.discord import dispatch
from orchestrator.discord.access import Access
from orchestrator.discord.context import Context, ModalReply, Update
from orchestrator.discord.interactions import Interaction
from orchestrator.discord.messages import Message, button, text_input
from orchestrator.discord.options import string
from orchestrator.discord.tree import Bot
from orchestrator.jobs.base import Job
from orchestrator.services import Services
from orchestrator.store.base import StoreUnavailable
from tests.support.cold import cold_process
from tests.support.discord_spec import DiscordSpec
from tests.support.scripted_aws import Reply, ScriptedAWS
from tests.support.signing import discord_headers, dumps

ADMIN, DEPLOYER, STRANGER = "900", "901", "902"
DEPLOY_ROLE = "77"


class RecordingJobs:
    def __init__(self, fail: BaseException | None = None) -> None:
        self.dispatched: list[Job] = []
        self.fail = fail

    def dispatch(self, name: str, payload: dict[str, Any], *, job_id: str | None = None) -> Job:
        if self.fail is not None:
            raise self.fail
        job = Job(name, payload, job_id or "x")
        self.dispatched.append(job)
        return job

    def close(self, timeout: float = 10.0) -> None:
        pass


def make_bot() -> Bot:
    bot = Bot()

    @bot.command("hello", "Say hi", options=[string("name", "Who")])
    async def hello(ctx: Context) -> Message:
        return Message(content=f"hi {ctx.options.string('name', 'you')}")

    @bot.command("secret", "Only me", ephemeral=True)
    async def secret(ctx: Context) -> Message:
        return Message(content="psst")

    @bot.command(
        "deploy",
        "Deploy",
        options=[string("app", "App", required=True, autocomplete=True)],
        access=Access.DEPLOY,
        defer=True,
    )
    async def deploy(ctx: Context) -> Message:
        return Message(content="deployed")

    @bot.autocomplete("deploy", "app")
    async def apps(ctx: Context, typed: str) -> list[tuple[str, str]]:
        return [(a, a) for a in ["api", "web", "worker"] if a.startswith(typed)]

    admin = bot.group("admin", "Admin things", access=Access.ADMIN)

    @admin.subcommand("boom", "Fails")
    async def boom(ctx: Context) -> Message:
        raise RuntimeError("kaboom\nsecond line")

    @admin.subcommand("github", "GitHub refuses")
    async def github(ctx: Context) -> Message:
        from orchestrator.github.errors import GitHubHTTPError

        raise GitHubHTTPError(403, "Resource not accessible by integration")

    @admin.subcommand("slow", "Too slow")
    async def slow(ctx: Context) -> Message:
        await asyncio.sleep(5)
        return Message(content="late")

    @admin.subcommand("form", "Opens a form")
    async def form(ctx: Context) -> ModalReply:
        return ModalReply("feedback:1", "Feedback", (text_input("text", "Your words"),))

    @admin.subcommand("store", "Store down")
    async def store(ctx: Context) -> Message:
        raise StoreUnavailable("sqlite: locked")

    @bot.component("vote", commands=["admin"])
    async def vote(ctx: Context) -> Update:
        return Update(
            Message(
                content=f"voted {ctx.state[0]}",
                components=[{"type": 1, "components": [button("again", "vote:2")]}],
            )
        )

    @bot.component("later", commands=["admin"], defer=True)
    async def later(ctx: Context) -> Message:
        return Message(content="later")

    @bot.modal("feedback", commands=["admin"])
    async def feedback(ctx: Context) -> Message:
        return Message(
            content=f"thanks for {ctx.interaction.modal_values()['text']!r}", ephemeral=True
        )

    return bot


@pytest.fixture
def jobs() -> RecordingJobs:
    return RecordingJobs()


@pytest.fixture
def services(tmp_path: Path, jobs: RecordingJobs) -> Iterator[Services]:
    settings = load_settings(
        ORCHESTRATOR_DATA_DIR=tmp_path,
        DISCORD_ADMIN_USER_IDS=ADMIN,
        DISCORD_DEPLOY_ROLE_IDS=DEPLOY_ROLE,
    )
    services = Services(settings, jobs=jobs, bot=make_bot())
    yield services
    services.close()


def interaction(
    kind: int, user: str = STRANGER, roles: list[str] | None = None, **data: Any
) -> Interaction:
    return Interaction(
        {
            "type": kind,
            "id": "1300000000000000001",
            "token": "tok",
            "application_id": "1",
            "guild_id": "5",
            "channel_id": "6",
            "member": {"user": {"id": user, "username": "u"}, "roles": roles or []},
            "data": data,
            "message": {"id": "8"},
        }
    )


def command(name: str, options: list[dict[str, Any]] | None = None, **kw: Any) -> Interaction:
    return interaction(2, name=name, type=1, options=options or [], **kw)


def answer(services: Services, ix: Interaction) -> dict[str, Any]:
    """The endpoint's answer, which must always satisfy Discord's published schema."""
    result = asyncio.run(dispatch.respond(services.bot, ix, services))
    DiscordSpec.get().assert_valid_interaction_response(result)
    return result


def test_immediate_command_answers_type_4(services: Services) -> None:
    result = answer(services, command("hello", [{"name": "name", "type": 3, "value": "Ada"}]))
    assert result["type"] == 4
    assert result["data"]["content"] == "hi Ada"
    assert result["data"]["allowed_mentions"] == {"parse": []}
    assert "flags" not in result["data"]


def test_ephemeral_commands_set_the_flag(services: Services) -> None:
    assert answer(services, command("secret"))["data"]["flags"] == 64


def test_unknown_command_gets_a_polite_ephemeral(services: Services) -> None:
    result = answer(services, command("nope"))
    assert result["type"] == 4
    assert result["data"]["flags"] == 64
    assert "/nope" in result["data"]["content"]


def test_deploy_is_denied_without_the_role_and_audited(
    services: Services, jobs: RecordingJobs
) -> None:
    result = answer(services, command("deploy", [{"name": "app", "type": 3, "value": "web"}]))
    assert result["data"]["flags"] == 64
    assert "/deploy" in result["data"]["content"]
    assert jobs.dispatched == []
    [entry] = audit.recent(services.store)
    assert entry.value["actor"] == STRANGER
    assert entry.value["action"] == "/deploy"
    assert entry.value["result"] == "denied"


@pytest.mark.parametrize(("user", "roles"), [(DEPLOYER, [DEPLOY_ROLE]), (ADMIN, [])])
def test_deploy_role_or_admin_defers_and_dispatches(
    services: Services, jobs: RecordingJobs, user: str, roles: list[str]
) -> None:
    result = answer(
        services,
        command("deploy", [{"name": "app", "type": 3, "value": "web"}], user=user, roles=roles),
    )
    assert result == {"type": 5}
    [job] = jobs.dispatched
    assert job.name == dispatch.DEFERRED_JOB
    assert job.id == "ix-1300000000000000001"
    assert job.payload["interaction"]["data"]["name"] == "deploy"
    assert audit.recent(services.store)[0].value["result"] == "accepted"


def test_admin_group_refuses_others(services: Services) -> None:
    result = answer(services, command("admin", [{"type": 1, "name": "boom", "options": []}]))
    assert "admin" in result["data"]["content"]


def test_handler_exceptions_become_a_short_message(services: Services) -> None:
    result = answer(services, command("admin", [{"type": 1, "name": "boom"}], user=ADMIN))
    assert result["type"] == 4
    assert result["data"]["flags"] == 64
    assert "kaboom" in result["data"]["content"]
    assert "second line" not in result["data"]["content"]


def test_upstream_failures_name_the_upstream_not_us(services: Services) -> None:
    """A GitHub refusal is GitHub's message, attributed to GitHub; our own bugs stay ours."""
    result = answer(services, command("admin", [{"type": 1, "name": "github"}], user=ADMIN))
    content = result["data"]["content"]
    assert content.startswith("🌧️ GitHub didn't play along:"), content
    assert "Resource not accessible by integration" in content
    assert "my side" not in content
    ours = answer(services, command("admin", [{"type": 1, "name": "boom"}], user=ADMIN))
    assert "my side" in ours["data"]["content"]


def test_slow_handlers_are_cut_off(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatch, "IMMEDIATE_BUDGET", 0.05)
    result = answer(services, command("admin", [{"type": 1, "name": "slow"}], user=ADMIN))
    assert result["data"]["flags"] == 64
    assert "longer" in result["data"]["content"]


def test_store_failures_ask_to_try_again(services: Services) -> None:
    result = answer(services, command("admin", [{"type": 1, "name": "store"}], user=ADMIN))
    assert "Try again" in result["data"]["content"]


def test_dispatch_failure_asks_to_try_again(tmp_path: Path) -> None:
    settings = load_settings(ORCHESTRATOR_DATA_DIR=tmp_path, DISCORD_ADMIN_USER_IDS=ADMIN)
    services = Services(settings, jobs=RecordingJobs(StoreUnavailable("x")), bot=make_bot())
    result = answer(
        services, command("deploy", [{"name": "app", "type": 3, "value": "w"}], user=ADMIN)
    )
    assert result["type"] == 4
    assert "Try again" in result["data"]["content"]


def test_modal_opens_and_submits(services: Services) -> None:
    opened = answer(services, command("admin", [{"type": 1, "name": "form"}], user=ADMIN))
    assert opened["type"] == 9
    assert opened["data"]["custom_id"] == "feedback:1"
    submitted = answer(
        services,
        interaction(
            5,
            custom_id="feedback:1",
            components=[
                {"type": 1, "components": [{"type": 4, "custom_id": "text", "value": "nice"}]}
            ],
        ),
    )
    assert submitted["type"] == 4
    assert submitted["data"]["content"] == "thanks for 'nice'"


def test_component_updates_its_message_with_state(services: Services) -> None:
    result = answer(services, interaction(3, custom_id="vote:1", component_type=2))
    assert result["type"] == 7
    assert result["data"]["content"] == "voted 1"
    assert "flags" not in result["data"]


def test_deferred_component_answers_type_6(services: Services, jobs: RecordingJobs) -> None:
    assert answer(services, interaction(3, custom_id="later", component_type=2)) == {"type": 6}
    assert len(jobs.dispatched) == 1


def test_stale_components_get_a_hint(services: Services) -> None:
    result = answer(services, interaction(3, custom_id="gone:1", component_type=2))
    assert "stale" in result["data"]["content"]


def test_autocomplete_for_allowed_users(services: Services) -> None:
    options = [{"name": "app", "type": 3, "value": "w", "focused": True}]
    allowed = answer(services, interaction(4, user=ADMIN, name="deploy", type=1, options=options))
    assert allowed == {
        "type": 8,
        "data": {
            "choices": [{"name": "web", "value": "web"}, {"name": "worker", "value": "worker"}]
        },
    }
    refused = answer(services, interaction(4, name="deploy", type=1, options=options))
    assert refused == {"type": 8, "data": {"choices": []}}


def test_guild_allow_list_applies_to_everything(tmp_path: Path) -> None:
    settings = load_settings(ORCHESTRATOR_DATA_DIR=tmp_path, DISCORD_GUILD_IDS="1,2")
    services = Services(settings, jobs=RecordingJobs(), bot=make_bot())
    result = answer(services, command("hello"))
    assert result["data"]["flags"] == 64
    assert "hi" not in result["data"]["content"]


def test_per_command_allow_list(tmp_path: Path) -> None:
    settings = load_settings(
        ORCHESTRATOR_DATA_DIR=tmp_path, DISCORD_COMMAND_ACCESS='{"hello": {"users": ["42"]}}'
    )
    services = Services(settings, jobs=RecordingJobs(), bot=make_bot())
    assert answer(services, command("hello", user="42"))["data"]["content"] == "hi you"
    assert answer(services, command("hello", user="43"))["data"]["flags"] == 64


# What a cold container answering a deferred command must not import before its type 5
# answer: what a handler gets and returns (the job builds it), the phrases (a refusal's), the
# follow-up's REST client and message limits, the audit log (an open command records nothing),
# the parts of the jobs seam that run jobs rather than start them, and PyNaCl's wrappers (the
# signature check calls libsodium through its binding alone).
NOT_FOR_A_DEFERRED_ANSWER = (
    "nacl.signing",
    "nacl.bindings",
    "orchestrator.discord.context",
    "orchestrator.discord.voice",
    "orchestrator.discord.rest",
    "orchestrator.discord.limits",
    "orchestrator.audit",
    "orchestrator.text",
    "orchestrator.jobs.runner",
    "orchestrator.jobs.retry",
    "orchestrator.jobs.inprocess",
)


def test_a_cold_deferred_answer_imports_only_what_it_needs(tmp_path: Path) -> None:
    """A cold Lambda container answers a signed `/ping` "deferred" (its job recorded and
    handed to Lambda first) without importing what only the job or a refusal needs."""
    identity = load_or_create_dev_identity(tmp_path / "keys")
    raw = command_interaction(product.bot(), "/ping", "100000000000000001", Invoker(user_id="5"))
    assert raw["guild_id"] == DEV_GUILD_ID
    body = dumps(raw)
    event = http_api_event("POST", "/discord", headers=discord_headers(identity, body), body=body)
    with ScriptedAWS(Reply(200, {}), Reply(202), Reply(200, {}), Reply(200, {})) as aws:
        answers, modules = cold_process(
            tmp_path,
            [event],
            {
                "ORCHESTRATOR_JOBS": "lambda",
                "DISCORD_GUILD_IDS": DEV_GUILD_ID,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_REGION": "eu-west-1",
                "AWS_ENDPOINT_URL": aws.url,
            },
        )
    assert [(a["statusCode"], json.loads(a["body"])) for a in answers] == [
        (200, {"type": 5, "data": {"flags": 64}})
    ]
    # The job is recorded, then handed to Lambda; then the answer's trace step is written.
    record, invoke, *trace = aws.requests
    assert record.header("X-Amz-Target") == "DynamoDB_20120810.PutItem"
    assert json.loads(invoke.body)["orchestrator_job"]["name"] == dispatch.DEFERRED_JOB
    assert [r.header("X-Amz-Target") for r in trace] == [
        "DynamoDB_20120810.GetItem",
        "DynamoDB_20120810.PutItem",
    ]
    assert "orchestrator.discord.dispatch" in modules  # it did answer through dispatch
    assert sorted(modules & set(NOT_FOR_A_DEFERRED_ANSWER)) == []
