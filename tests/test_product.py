"""The composition root's index of feature modules: an interaction imports only the module
that declares what it names, and the index cannot drift from what the modules declare."""

from __future__ import annotations

import asyncio
import json
import pkgutil
from pathlib import Path
from typing import Any

import pytest

import orchestrator.commands
from orchestrator import product
from orchestrator.aws.events import http_api_event
from orchestrator.config import load_settings
from orchestrator.devkeys import load_or_create_dev_identity
from orchestrator.devtools.discord_standin import DiscordStandIn
from orchestrator.devtools.simulate import (
    DEV_GUILD_ID,
    Invoker,
    command_interaction,
    component_interaction,
)
from orchestrator.discord import dispatch
from orchestrator.discord.interactions import Interaction
from orchestrator.discord.tree import Bot
from orchestrator.jobs.base import Job
from orchestrator.services import Services
from tests.support.cold import cold_process
from tests.support.signing import discord_headers, dumps

DEPLOYER = "900000000000000002"


def _declared(part: Bot) -> product.Feature:
    """What a module's `bot` declares, in the index's shape."""
    routes = part.routes()
    return product.Feature(
        "",
        tuple(command["name"] for command in part.registration()),
        tuple(r.name for r in routes if part.component_route(r.name) is not None),
        tuple(r.name for r in routes if part.modal_route(r.name) is not None),
    )


def test_every_command_module_is_in_the_index() -> None:
    """A module with a `bot` left out of `FEATURES` would be missing from the product."""
    with_a_bot = []
    for info in pkgutil.iter_modules(orchestrator.commands.__path__):
        module = __import__(f"orchestrator.commands.{info.name}", fromlist=["bot"])
        if isinstance(getattr(module, "bot", None), Bot):
            with_a_bot.append(info.name)
    assert sorted(with_a_bot) == sorted(feature.module for feature in product.FEATURES)


def test_the_index_lists_exactly_what_each_module_declares() -> None:
    for feature in product.FEATURES:
        part = product.feature_bot(feature.module)
        declared = _declared(part)
        assert (feature.commands, set(feature.components), set(feature.modals)) == (
            declared.commands,
            set(declared.components),
            set(declared.modals),
        ), f"update product.FEATURES for commands/{feature.module}.py: {declared}"


def test_the_whole_tree_is_the_index_in_order() -> None:
    whole = product.bot()
    listed = [name for feature in product.FEATURES for name in feature.commands]
    assert [command["name"] for command in whole.registration()] == listed
    assert len(product.index()) == len(listed) + len(whole.routes())


def test_on_demand_finds_the_very_objects_of_the_whole_tree() -> None:
    """Same leaf, same route: the same handler, access, deferral and allow-list names, so
    every decision dispatch makes is the one it made on the whole tree."""
    whole, on_demand = product.bot(), product.commands()
    for leaf in whole.leaves():
        assert on_demand.leaf(leaf.path) is leaf
    for route in whole.routes():
        custom_id = f"{route.name}:state"
        assert on_demand.component_route(custom_id) == whole.component_route(custom_id)
        assert on_demand.modal_route(custom_id) == whole.modal_route(custom_id)
    for kind, name in product.index():
        owner = product.bot_for(kind, name)
        assert owner is not whole and owner is product.feature_bot(product.index()[kind, name])
    assert product.bot_for("command", "launch") is whole


class _Recorded:
    """A dispatcher that only records what it was asked to run."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def dispatch(self, name: str, payload: Any, *, job_id: str | None = None) -> Any:
        self.names.append(name)

    def close(self, timeout: float = 10.0) -> None:
        pass


def _services(tmp_path: Path, **env: str) -> tuple[Services, _Recorded]:
    jobs = _Recorded()
    settings = load_settings(
        ORCHESTRATOR_DATA_DIR=tmp_path, ORCHESTRATOR_CONFIG=tmp_path / "none.toml", **env
    )
    return Services(settings, jobs=jobs), jobs  # type: ignore[arg-type]


def test_help_on_demand_lists_every_command(tmp_path: Path) -> None:
    services, _ = _services(tmp_path)
    assert services.commands is product.commands()
    raw = command_interaction(product.bot(), "/help", "1", Invoker(user_id="5"))
    answer = asyncio.run(dispatch.respond(services.commands, Interaction(raw), services))
    listed = answer["data"]["embeds"][0]["description"]
    for leaf in product.bot().leaves():
        assert f"`{leaf.display}`" in listed


@pytest.mark.parametrize("release_users", [["900000000000000009"], [DEPLOYER]])
def test_a_button_is_still_governed_by_commands_of_other_modules(
    tmp_path: Path, release_users: list[str]
) -> None:
    """`deploy.rerun` is carried by `/release`'s messages too: `/release`'s allow-list
    (settings keyed by its name, never release's module) governs a press dispatched on
    deploys' part alone, exactly as on the whole tree."""
    access = json.dumps({"release": {"users": release_users}})
    answers, ran = [], []
    for tree in (product.commands(), product.bot()):
        services, jobs = _services(
            tmp_path / str(len(answers)),
            DISCORD_DEPLOY_USER_IDS=DEPLOYER,
            DISCORD_COMMAND_ACCESS=access,
        )
        raw = component_interaction("deploy.rerun:web:1", "1", Invoker(user_id=DEPLOYER))
        answers.append(asyncio.run(dispatch.respond(tree, Interaction(raw), services)))
        ran.append(jobs.names)
    assert answers[0] == answers[1]
    if DEPLOYER in release_users:
        assert answers[0] == {"type": 6} and ran == [[dispatch.DEFERRED_JOB]] * 2
    else:
        assert "Nope" in answers[0]["data"]["content"] and ran == [[], []]


def test_services_given_a_tree_dispatch_on_it(tmp_path: Path) -> None:
    mine = Bot()
    settings = load_settings(ORCHESTRATOR_DATA_DIR=tmp_path)
    assert Services(settings, bot=mine).commands is mine


WATCHED = ("orchestrator.commands.", "orchestrator.deploys", "orchestrator.verification")


def cold(tmp_path: Path, api_base: str, events: list[Any]) -> tuple[list[Any], list[str]]:
    """A fresh process, as a cold Lambda container: it answers `events` through the handler,
    finishes its in-process jobs, then says which command and domain modules it imported."""
    answers, modules = cold_process(
        tmp_path,
        events,
        {
            "ORCHESTRATOR_JOBS": "inprocess",
            "ORCHESTRATOR_STORE": "sqlite",
            "DISCORD_API_BASE": api_base,
            "DISCORD_GUILD_IDS": DEV_GUILD_ID,
        },
        finish_jobs=True,
    )
    return answers, sorted(m for m in modules if m.startswith(WATCHED))


APPLICATION = "100000000000000001"


def _ping() -> dict[str, Any]:
    return command_interaction(product.bot(), "/ping", APPLICATION, Invoker(user_id="5"))


def test_a_cold_slash_command_imports_only_its_module(tmp_path: Path) -> None:
    """A signed `/ping` (deferred) answers type 5 and its job edits the reply, importing
    `commands.basics` and no other feature module, nor the deploy or verification domain."""
    identity = load_or_create_dev_identity(tmp_path / "keys")
    raw = _ping()
    body = dumps(raw)
    event = http_api_event("POST", "/discord", headers=discord_headers(identity, body), body=body)
    with DiscordStandIn() as discord:
        answers, imported = cold(tmp_path, discord.api_base, [event])
        edits = [r for r in discord.requests if raw["token"] in r.path]
    assert [(a["statusCode"], json.loads(a["body"])) for a in answers] == [
        (200, {"type": 5, "data": {"flags": 64}})
    ]
    assert [e.method for e in edits] == ["PATCH"] and "🏓" in edits[0].body["content"]
    assert imported == ["orchestrator.commands.basics"]


def test_a_cold_deferred_job_runs_with_only_its_module(tmp_path: Path) -> None:
    """The self-invoked container: a job event for `/ping` finishes it with basics alone
    (the job registry builds the features' tasks, and the deploy domain, only for theirs)."""
    raw = _ping()
    event = Job(dispatch.DEFERRED_JOB, {"interaction": raw}, f"ix-{raw['id']}").to_event()
    with DiscordStandIn() as discord:
        answers, imported = cold(tmp_path, discord.api_base, [event])
        edits = [r for r in discord.requests if raw["token"] in r.path]
    assert answers == [{"job": f"ix-{raw['id']}", "status": "done"}]
    assert len(edits) == 1
    assert imported == ["orchestrator.commands.basics"]


def test_a_cold_help_still_sees_every_command(tmp_path: Path) -> None:
    """The other side: what lists every command builds the whole tree."""
    identity = load_or_create_dev_identity(tmp_path / "keys")
    raw = command_interaction(product.bot(), "/help", APPLICATION, Invoker(user_id="5"))
    body = dumps(raw)
    event = http_api_event("POST", "/discord", headers=discord_headers(identity, body), body=body)
    with DiscordStandIn() as discord:
        answers, imported = cold(tmp_path, discord.api_base, [event])
    listed = json.loads(answers[0]["body"])["data"]["embeds"][0]["description"]
    assert all(f"`{leaf.display}`" in listed for leaf in product.bot().leaves())
    modules = {f"orchestrator.commands.{feature.module}" for feature in product.FEATURES}
    assert modules <= set(imported)
