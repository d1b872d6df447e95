"""What a handler gets and what it may return.

A handler takes a `Context` (the interaction, its options, the app's clients)
and returns a `Reply`: a `Message`, an `Update` of the message its component
sits on, a `ModalReply`, `KEEP` (a deferred handler already put its reply in
place), `Declined` (refused for now: a once-only press is given back), or None.
`orchestrator.discord.tree` declares handlers; `orchestrator.discord.dispatch`
runs them and turns their reply into Discord's answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from orchestrator.discord.interactions import Interaction, Options
from orchestrator.discord.messages import Message

if TYPE_CHECKING:
    from orchestrator.clients import Clients
    from orchestrator.discord.access import Access
    from orchestrator.discord.rest import DiscordREST
    from orchestrator.store.base import Store


@dataclass(frozen=True)
class Update:
    """Returned by a component handler: replace the message the component sits on."""

    message: Message


@dataclass(frozen=True)
class ModalReply:
    """Returned by a command or component handler: open a modal (never from a deferred one)."""

    custom_id: str
    title: str
    inputs: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Keep:
    """Returned by a deferred handler that already put its reply in place (e.g. a tracked
    deploy message that webhooks keep updating): the framework must not overwrite it."""


KEEP = Keep()


@dataclass(frozen=True)
class Declined:
    """Returned by a handler that did nothing for now (a lock, a freeze): answer with
    `reply`, and give a once-only button's press back (`once=True`), so a later press may
    act once whatever refused it has passed. For anything else it is just `reply`."""

    reply: Message | Update


Reply = Message | Update | ModalReply | Keep | Declined | None


def audit_interaction(
    store: Store, interaction: Interaction, action: str, result: str, **detail: Any
) -> str:
    """`audit.record` for something a Discord user did: who, where and which interaction."""
    from orchestrator import audit

    return audit.record(
        store,
        actor=interaction.user_id,
        action=action,
        result=result,
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
        interaction_id=interaction.id,
        **detail,
    )


class Invocable(Protocol):
    """What a handler may read of a command in the tree (`/help` lists them)."""

    @property
    def path(self) -> tuple[str, ...]: ...

    @property
    def description(self) -> str: ...

    @property
    def access(self) -> Access: ...

    @property
    def display(self) -> str: ...


class CommandTree(Protocol):
    """What a handler may see of the whole command tree: `/help` lists its commands,
    `/diagnose` compares its registration with Discord's. A protocol, so that this module
    need not import `orchestrator.discord.tree`, which imports it (`tree.Bot` is one)."""

    def leaves(self) -> Sequence[Invocable]: ...

    def registration(self) -> list[dict[str, Any]]: ...


@dataclass
class Context:
    """What a handler gets: the interaction, its options, and the app's services.

    In deferred handlers (running as a job) `discord` is a live REST client for
    progress updates through the interaction webhook; in immediate handlers it is
    None, because there is no time for I/O before the 3-second deadline.
    """

    interaction: Interaction
    services: Clients
    options: Options
    state: tuple[str, ...] = ()
    deferred: bool = False
    discord: DiscordREST | None = None
    path: tuple[str, ...] = ()
    bot: CommandTree | None = None  # the whole command tree, for handlers that list it (`/help`)

    @property
    def user_id(self) -> str | None:
        return self.interaction.user_id

    def say(self, key: str, **values: Any) -> str:
        from orchestrator.discord.voice import say

        return say(key, self.services.settings.tone, **values)

    def audit(self, action: str, result: str, **detail: Any) -> None:
        """Record what this user did (who, where, which interaction) in the audit log."""
        audit_interaction(self.services.store, self.interaction, action, result, **detail)

    def trace(self, step: str, ok: bool = True, **detail: Any) -> None:
        """Add a step to this command's trace (shown by `/trace`); never raises."""
        from orchestrator import traces

        traces.add_step(
            self.services.store,
            user_id=self.user_id,
            interaction_id=self.interaction.id,
            command="/" + " ".join(self.path),
            step=step,
            ok=ok,
            **detail,
        )

    async def progress(self, message: Message) -> dict[str, Any]:
        """Edit the deferred reply in place (e.g. "queued -> in progress"); returns it."""
        if self.discord is None:
            raise RuntimeError("progress() is only available in deferred handlers")
        return await self.discord.edit_original(self.interaction.token, message.to_data(edit=True))


Handler = Callable[[Context], Awaitable[Reply]]
Autocompleter = Callable[[Context, str], Awaitable[Sequence[tuple[str, str | int | float]]]]
