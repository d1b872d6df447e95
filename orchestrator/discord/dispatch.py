"""From a verified interaction to its answer, and from a deferred job to its follow-up.

`respond()` runs inside Discord's 3-second window: it checks access, then
either runs a quick handler (bounded by `IMMEDIATE_BUDGET`) or hands the work
to the jobs seam and answers "deferred" at once. `run_deferred()` is that job:
it runs the handler with a REST client and edits the deferred reply with the
result. Every failure becomes a short message to the user, never silence and
never a 500 that Discord would show as "This interaction failed".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orchestrator.discord import responses
from orchestrator.discord.access import Access
from orchestrator.discord.interactions import Interaction, InteractionType, Options
from orchestrator.store.base import StoreUnavailable

# A cold container answering a deferred command runs `respond()` only up to the type 5 answer:
# what only an immediate handler, a refusal, the job itself or a once-only button needs
# (`Context` and the replies, `Message`, the phrases, the job registry, store keys) is
# imported where it is used, so that answer does not pay for it
# (`tests/discord/test_dispatch.py` keeps it so).
if TYPE_CHECKING:
    from orchestrator.clients import Clients
    from orchestrator.discord.context import Handler, Reply
    from orchestrator.discord.tree import CommandLookup, Leaf, Route
    from orchestrator.jobs.base import JobContext, JobRegistry

log = logging.getLogger(__name__)

# Discord waits 3 s for the HTTP answer; keep room for the network and a cold start.
IMMEDIATE_BUDGET = 2.0
DEFERRED_JOB = "discord.interaction"


class UnsupportedInteraction(ValueError):
    """An interaction type we do not handle; the router answers 400."""


class _Target:
    """A resolved handler: a command leaf or a component/modal route, plus its state."""

    def __init__(
        self,
        name: str,
        handler: Handler,
        defer: bool,
        ephemeral: bool,
        access: Access,
        path: tuple[str, ...],
        state: tuple[str, ...] = (),
        governed_by: tuple[tuple[str, ...], ...] = (),
        once: bool = False,
    ) -> None:
        self.name = name
        self.handler = handler
        self.defer = defer
        self.ephemeral = ephemeral
        self.access = access
        self.path = path
        self.state = state
        # Whose per-command allow-lists apply: the command itself, or for a button every
        # command whose messages carry it.
        self.governed_by = governed_by or (path,)
        self.once = once

    @classmethod
    def of_leaf(cls, leaf: Leaf) -> _Target:
        return cls(leaf.display, leaf.handler, leaf.defer, leaf.ephemeral, leaf.access, leaf.path)

    @classmethod
    def of_route(cls, route: Route, state: tuple[str, ...]) -> _Target:
        return cls(
            route.name,
            route.handler,
            route.defer,
            route.ephemeral,
            route.access,
            (route.name,),
            state,
            governed_by=tuple((command,) for command in route.commands),
            once=route.once,
        )


def _resolve(bot: CommandLookup, interaction: Interaction) -> _Target | None:
    kind = interaction.type
    if kind in (
        InteractionType.APPLICATION_COMMAND,
        InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE,
    ):
        leaf = bot.leaf(interaction.command_path())
        return _Target.of_leaf(leaf) if leaf else None
    custom_id = interaction.custom_id or ""
    if kind == InteractionType.MESSAGE_COMPONENT:
        found = bot.component_route(custom_id)
    elif kind == InteractionType.MODAL_SUBMIT:
        found = bot.modal_route(custom_id)
    else:
        return None
    return _Target.of_route(*found) if found else None


# An answer, and the reason (a voice key) when it reports a problem: the trace shows it.
Answer = tuple[dict[str, Any], str | None]


def _refuse(reason: str, tone: Any, **values: Any) -> Answer:
    from orchestrator.discord.messages import Message
    from orchestrator.discord.voice import say

    message = Message(content=say(reason, tone, **values), ephemeral=True)
    return responses.message(message), reason


def _short(exc: BaseException) -> str:
    from orchestrator.text import error_line

    return error_line(exc, 180)


def _failure(exc: BaseException) -> tuple[str, dict[str, str]]:
    """The phrase for a failed handler, naming the right party: GitHub's and Discord's
    errors name them (their message is usually the fix); a client error that declares no
    upstream (`upstream = None`: no bot token, GitHub not configured) is this service's
    missing configuration, and its message says what to set; anything else is ours.
    Checked by attribute, so the request path imports neither client."""
    kind = type(exc)
    upstream = getattr(kind, "upstream", None)
    if isinstance(upstream, str):
        return "upstream_failed", {"upstream": upstream, "error": _short(exc)}
    if hasattr(kind, "upstream"):
        return "not_configured", {"error": _short(exc)}
    return "failed", {"error": _short(exc)}


async def respond(
    bot: CommandLookup, interaction: Interaction, services: Clients
) -> dict[str, Any]:
    """The HTTP answer to a verified interaction (PING included), traced for `/trace`."""
    started = time.perf_counter()
    answer, reason = await _respond(bot, interaction, services)
    if interaction.type in (
        InteractionType.APPLICATION_COMMAND,
        InteractionType.MESSAGE_COMPONENT,
        InteractionType.MODAL_SUBMIT,
    ):
        kind = {4: "message", 5: "deferred", 6: "deferred", 7: "updated", 9: "form"}.get(
            answer.get("type", 0), "answered"
        )
        _trace(
            services,
            interaction,
            "answered",
            ok=reason is None,
            result=reason or kind,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
    return answer


# A once-only button acts once per message for as long as a message is worth acting on.
PRESS_TTL = 7 * 24 * 3600


def _press_key(interaction: Interaction) -> str:
    from orchestrator.store import keys

    message = interaction.raw.get("message")
    message_id = message.get("id") if isinstance(message, dict) else None
    # Without a message id (never from Discord) fall back to the channel: still once.
    anchor = message_id if isinstance(message_id, str) else f"ch{interaction.channel_id}"
    # The route's name, not the whole custom id: extra `:state` crafted onto a press must not
    # make a second, unclaimed key for the same button of the same message.
    route = (interaction.custom_id or "").split(":", 1)[0]
    return keys.button_press(anchor, route)


def _claim_press(services: Clients, interaction: Interaction) -> dict[str, str] | None:
    """None for the first press of this button on this message (now claimed); for a later
    press, who pressed first and when, for the answer. Concurrent presses meet the store's
    once-only claim, so exactly one acts."""
    key = _press_key(interaction)
    value = {"user_id": interaction.user_id or "?", "at": time.time()}
    if services.store.claim(key, ttl=PRESS_TTL, value=value):
        return None
    first = services.store.get(key) or {}
    user = first.get("user_id")
    at = first.get("at")
    when = f"<t:{int(at)}:R>" if isinstance(at, int | float) else "earlier"
    return {
        "who": f"<@{user}>" if isinstance(user, str) and user.isdigit() else "someone",
        "when": when,
    }


def _release_press(services: Clients, interaction: Interaction, target: _Target) -> None:
    """The press did nothing (its job could not start, or failed): let a later one try."""
    if target.once:
        try:
            services.store.delete(_press_key(interaction))
        except Exception:
            log.warning("could not release a button press", exc_info=True)


def _trace(
    services: Clients, interaction: Interaction, step: str, ok: bool = True, **detail: Any
) -> None:
    from orchestrator import traces

    name = (
        "/" + " ".join(interaction.command_path())
        if interaction.command_name
        else (interaction.custom_id or "?").split(":")[0]
    )
    try:
        store = services.store
    except StoreUnavailable:
        return  # a trace is a nicety: never let it turn an answer into an error
    traces.add_step(
        store,
        user_id=interaction.user_id,
        interaction_id=interaction.id,
        command=name,
        step=step,
        ok=ok,
        **detail,
    )


async def _respond(bot: CommandLookup, interaction: Interaction, services: Clients) -> Answer:
    from orchestrator.discord.access import AccessPolicy

    kind = interaction.type
    if kind == InteractionType.PING:
        return responses.pong(), None
    if kind not in (
        InteractionType.APPLICATION_COMMAND,
        InteractionType.MESSAGE_COMPONENT,
        InteractionType.MODAL_SUBMIT,
        InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE,
    ):
        raise UnsupportedInteraction(f"interaction type {kind!r}")
    tone = services.settings.tone

    target = _resolve(bot, interaction)
    if target is None:
        if kind == InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE:
            return responses.autocomplete([]), None
        if kind == InteractionType.APPLICATION_COMMAND:
            command = "/" + " ".join(interaction.command_path())
            return _refuse("unknown_command", tone, command=command)
        return _refuse("stale_button", tone)

    policy = AccessPolicy.from_settings(services.settings)
    allowed = policy.admits(target.access, target.governed_by, interaction)
    if kind == InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE:
        # Suggestions could leak app names or run ids: none for those who may not run it.
        if not allowed:
            return responses.autocomplete([]), None
        return await _autocomplete(bot, interaction, services), None
    if not allowed:
        from orchestrator.discord.voice import WHO

        _audit(services, interaction, target, "denied")
        return _refuse("denied", tone, command=target.name, who=WHO[target.access.value])
    if target.once:
        earlier = _claim_press(services, interaction)
        if earlier is not None:
            _audit(services, interaction, target, "already pressed")
            return _refuse("already_pressed", tone, **earlier)
    if target.access is not Access.EVERYONE:
        _audit(services, interaction, target, "accepted")

    if target.defer:
        try:
            services.jobs.dispatch(
                DEFERRED_JOB, {"interaction": interaction.raw}, job_id=f"ix-{interaction.id}"
            )
        except StoreUnavailable:
            _release_press(services, interaction, target)
            return _refuse("try_again", tone)
        except Exception:
            log.exception("could not dispatch deferred interaction")
            _release_press(services, interaction, target)
            return _refuse("dispatch_failed", tone)
        if kind == InteractionType.MESSAGE_COMPONENT:
            return responses.deferred_update(), None
        return responses.deferred(ephemeral=target.ephemeral), None

    from orchestrator.discord.context import Context, Declined

    context = Context(
        interaction, services, interaction.options(), target.state, path=target.path, bot=bot
    )
    try:
        result = await asyncio.wait_for(target.handler(context), IMMEDIATE_BUDGET)
    except TimeoutError:
        log.warning(
            "handler exceeded the immediate budget; declare it defer=True",
            extra={"command": target.name},
        )
        return _refuse("too_slow", tone)
    except StoreUnavailable:
        return _refuse("try_again", tone)
    except Exception as exc:
        log.exception("handler failed", extra={"command": target.name})
        key, values = _failure(exc)
        return _refuse(key, tone, **values)
    if isinstance(result, Declined):
        _release_press(services, interaction, target)
        result = result.reply
    return _immediate_response(result, target, kind, tone), None


def _immediate_response(
    result: Reply, target: _Target, kind: int | None, tone: Any
) -> dict[str, Any]:
    from orchestrator.discord.context import Declined, Keep, ModalReply, Update
    from orchestrator.discord.messages import Message
    from orchestrator.discord.voice import say

    if isinstance(result, ModalReply):
        return responses.modal(result.custom_id, result.title, result.inputs)
    if isinstance(result, Declined):  # its press was given back by the caller
        result = result.reply
    if isinstance(result, Keep):
        result = None
    if isinstance(result, Update):
        if kind == InteractionType.MESSAGE_COMPONENT:
            return responses.update(result.message)
        result = result.message
    if result is None:
        result = Message(content=say("done", tone), ephemeral=True)
    if target.ephemeral and not result.ephemeral:
        result = Message(
            result.content, result.embeds, result.components, True, result.allowed_mentions
        )
    return responses.message(result)


async def _autocomplete(
    bot: CommandLookup, interaction: Interaction, services: Clients
) -> dict[str, Any]:
    leaf = bot.leaf(interaction.command_path())
    options = interaction.options()
    focused = options.focused
    if leaf is None or focused is None or focused not in leaf.autocompleters:
        return responses.autocomplete([])
    typed = options.get(focused)
    from orchestrator.discord.context import Context

    context = Context(interaction, services, options, path=leaf.path, bot=bot)
    try:
        choices = await asyncio.wait_for(
            leaf.autocompleters[focused](context, "" if typed is None else str(typed)),
            IMMEDIATE_BUDGET,
        )
    except Exception:  # suggestions are best effort: an empty list beats a failed interaction
        log.warning("autocomplete failed", extra={"command": leaf.display}, exc_info=True)
        return responses.autocomplete([])
    return responses.autocomplete(choices)


def _audit(
    services: Clients, interaction: Interaction, target: _Target, result: str, **detail: Any
) -> None:
    from orchestrator.discord.context import audit_interaction

    try:
        audit_interaction(services.store, interaction, target.name, result, **detail)
    except StoreUnavailable:
        log.warning("audit record lost: store unavailable", extra={"action": target.name})


async def run_deferred(bot: CommandLookup, interaction: Interaction, services: Clients) -> None:
    """Run a deferred handler and edit the deferred reply with what it returns."""
    from orchestrator.discord.context import Context, Declined, Keep, ModalReply, Update
    from orchestrator.discord.messages import Message
    from orchestrator.discord.voice import say

    tone = services.settings.tone
    target = _resolve(bot, interaction)
    async with services.discord_rest() as discord:
        if target is None:  # the command was removed between answer and job
            await discord.edit_original(
                interaction.token, Message(content=say("stale_button", tone)).to_data(edit=True)
            )
            return
        options = (
            interaction.options()
            if interaction.type in (InteractionType.APPLICATION_COMMAND,)
            else Options({})
        )
        context = Context(
            interaction,
            services,
            options,
            target.state,
            deferred=True,
            discord=discord,
            path=target.path,
            bot=bot,
        )
        started = time.perf_counter()
        try:
            result = await target.handler(context)
        except Exception as exc:
            _trace(
                services,
                interaction,
                "worker failed",
                ok=False,
                error=_short(exc),
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
            log.exception("deferred handler failed", extra={"command": target.name})
            _release_press(services, interaction, target)
            if target.access is not Access.EVERYONE:
                _audit(services, interaction, target, "failed", error=_short(exc))
            key, values = _failure(exc)
            result = Message(content=say(key, tone, **values))
        else:
            _trace(
                services,
                interaction,
                "worker finished",
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
            if isinstance(result, Declined):  # refused for now: a later press may act
                _release_press(services, interaction, target)
                result = result.reply
                if target.access is not Access.EVERYONE:
                    _audit(services, interaction, target, "declined")
            elif target.access is not Access.EVERYONE:
                _audit(services, interaction, target, "completed")
        if isinstance(result, Keep):
            return
        if isinstance(result, ModalReply):
            log.error("a deferred handler cannot open a modal", extra={"command": target.name})
            result = Message(content=say("failed", tone, error="cannot open a form here"))
        if isinstance(result, Update):
            result = result.message
        if result is None:
            result = Message(content=say("done", tone))
        try:
            await discord.edit_original(interaction.token, result.to_data(edit=True))
        except Exception as exc:
            _trace(services, interaction, "follow-up failed", ok=False, error=_short(exc))
            raise
        _trace(services, interaction, "follow-up sent")


def deferred_jobs(bot: Callable[[], CommandLookup]) -> JobRegistry:
    """The deferred-interaction job, answering with `bot()`: the composition root's command
    tree (on demand: only the part that owns the interaction), built only when a deferred
    command runs."""
    from orchestrator.jobs.base import JobRegistry

    jobs = JobRegistry()

    @jobs.job(DEFERRED_JOB)
    async def deferred_interaction(ctx: JobContext[Clients]) -> None:
        raw = ctx.job.payload.get("interaction")
        if not isinstance(raw, dict):
            raise ValueError("job payload has no interaction")
        await run_deferred(bot(), Interaction(raw), ctx.services)

    return jobs
