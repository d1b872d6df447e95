"""Declaring slash commands once: the same declaration drives dispatch and registration.

    bot = Bot()

    @bot.command("status", "Recent deploy runs",
                 options=[string("app", "Which app", autocomplete=True)], defer=True)
    async def status(ctx: Context) -> Message: ...

    config = bot.group("config", "Change settings", access=Access.ADMIN)

    @config.subcommand("set", "Set a value", options=[...])
    async def config_set(ctx: Context) -> Message: ...

`bot.registration()` is the exact JSON `PUT /applications/{id}/commands` takes,
so what Discord shows and what we route can never drift apart.

`defer=True` is the easy path for anything doing I/O: the endpoint answers
"thinking…" (type 5) at once and the handler runs as a job; its return value
becomes the message. The HTTP answer never waits for the handler.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from orchestrator.discord.interactions import Interaction, Options, OptionType
from orchestrator.discord.messages import Message

if TYPE_CHECKING:
    from orchestrator.clients import Clients
    from orchestrator.discord.rest import DiscordREST
    from orchestrator.store.base import Store

_NAME = re.compile(r"^[-_\w]{1,32}$")


class Access(StrEnum):
    """Who may run something. Deploy-capable and admin actions are deny-by-default."""

    EVERYONE = "everyone"
    DEPLOY = "deploy"
    ADMIN = "admin"


class InteractionContext:
    """Where a command runs (GUILD, BOT_DM, PRIVATE_CHANNEL), as Discord numbers them."""

    GUILD = 0
    BOT_DM = 1
    PRIVATE_CHANNEL = 2


# -- options ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    name: str
    value: str | int | float


@dataclass(frozen=True)
class Option:
    type: OptionType
    name: str
    description: str
    required: bool = False
    choices: tuple[Choice, ...] = ()
    min_value: int | float | None = None
    max_value: int | float | None = None
    min_length: int | None = None
    max_length: int | None = None
    autocomplete: bool = False
    channel_types: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_description(self.description)
        if self.autocomplete and self.choices:
            raise ValueError(f"option {self.name!r}: autocomplete and choices exclude each other")
        if len(self.choices) > 25:
            raise ValueError(f"option {self.name!r}: at most 25 choices")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type.value,
            "name": self.name,
            "description": self.description,
        }
        if self.required:
            out["required"] = True
        if self.choices:
            out["choices"] = [{"name": c.name, "value": c.value} for c in self.choices]
        for key in ("min_value", "max_value", "min_length", "max_length"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.autocomplete:
            out["autocomplete"] = True
        if self.channel_types:
            out["channel_types"] = list(self.channel_types)
        return out


def _choices(
    values: Sequence[str | int | float | tuple[str, str | int | float]],
) -> tuple[Choice, ...]:
    out = []
    for value in values:
        if isinstance(value, tuple):
            out.append(Choice(value[0], value[1]))
        else:
            out.append(Choice(str(value), value))
    return tuple(out)


def string(
    name: str,
    description: str,
    *,
    required: bool = False,
    choices: Sequence[str | tuple[str, str]] = (),
    min_length: int | None = None,
    max_length: int | None = None,
    autocomplete: bool = False,
) -> Option:
    return Option(
        OptionType.STRING,
        name,
        description,
        required,
        _choices(choices),
        min_length=min_length,
        max_length=max_length,
        autocomplete=autocomplete,
    )


def integer(
    name: str,
    description: str,
    *,
    required: bool = False,
    choices: Sequence[int | tuple[str, int]] = (),
    min_value: int | None = None,
    max_value: int | None = None,
    autocomplete: bool = False,
) -> Option:
    return Option(
        OptionType.INTEGER,
        name,
        description,
        required,
        _choices(choices),
        min_value=min_value,
        max_value=max_value,
        autocomplete=autocomplete,
    )


def number(
    name: str,
    description: str,
    *,
    required: bool = False,
    min_value: float | None = None,
    max_value: float | None = None,
) -> Option:
    return Option(
        OptionType.NUMBER, name, description, required, min_value=min_value, max_value=max_value
    )


def boolean(name: str, description: str, *, required: bool = False) -> Option:
    return Option(OptionType.BOOLEAN, name, description, required)


def user(name: str, description: str, *, required: bool = False) -> Option:
    return Option(OptionType.USER, name, description, required)


def channel(
    name: str, description: str, *, required: bool = False, channel_types: Sequence[int] = ()
) -> Option:
    return Option(
        OptionType.CHANNEL, name, description, required, channel_types=tuple(channel_types)
    )


def role(name: str, description: str, *, required: bool = False) -> Option:
    return Option(OptionType.ROLE, name, description, required)


def _check_name(name: str) -> None:
    if not _NAME.match(name) or name != name.lower():
        raise ValueError(f"invalid command/option name {name!r}: 1-32 lowercase word characters")


def _check_option_order(path: tuple[str, ...], options: Sequence[Option]) -> None:
    """Discord rejects a command whose required options follow optional ones; fail at import."""
    seen_optional = False
    for option in options:
        if option.required and seen_optional:
            raise ValueError(f"/{' '.join(path)}: required options must come first")
        seen_optional |= not option.required
    if len({o.name for o in options}) != len(options):
        raise ValueError(f"/{' '.join(path)}: option names must be unique")
    if len(options) > 25:
        raise ValueError(f"/{' '.join(path)}: at most 25 options")


def _check_description(text: str) -> None:
    if not 1 <= len(text) <= 100:
        raise ValueError(f"descriptions are 1-100 characters: {text!r}")


# -- handlers and their context ---------------------------------------------------------------


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

Reply = Message | Update | ModalReply | Keep | None


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
    bot: Bot | None = None  # the whole command tree, for handlers that list it (`/help`)

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


@dataclass
class Leaf:
    """Something a user can invoke: a command, or a subcommand inside one."""

    path: tuple[str, ...]
    description: str
    options: tuple[Option, ...]
    handler: Handler
    defer: bool
    ephemeral: bool
    access: Access
    autocompleters: dict[str, Autocompleter] = field(default_factory=dict)

    @property
    def display(self) -> str:
        return "/" + " ".join(self.path)


@dataclass
class Route:
    """A component (button/select) or modal handler, found by its custom_id prefix."""

    name: str
    handler: Handler
    defer: bool
    ephemeral: bool
    access: Access


# -- the tree ---------------------------------------------------------------------------------


class _Node:
    def __init__(self, bot: Bot, path: tuple[str, ...], description: str, access: Access) -> None:
        self.bot = bot
        self.path = path
        self.description = description
        self.access = access
        self.children: dict[str, Leaf | SubcommandGroup] = {}

    def subcommand(
        self,
        name: str,
        description: str,
        *,
        options: Sequence[Option] = (),
        defer: bool = False,
        ephemeral: bool = False,
        access: Access | None = None,
    ) -> Callable[[Handler], Handler]:
        _check_name(name)
        _check_description(description)
        _check_option_order((*self.path, name), options)
        if name in self.children:
            raise ValueError(f"{' '.join(self.path)} {name} is declared twice")

        def register(handler: Handler) -> Handler:
            leaf = Leaf(
                (*self.path, name),
                description,
                tuple(options),
                handler,
                defer,
                ephemeral,
                access or self.access,
            )
            self.children[name] = leaf
            self.bot._index_leaf(leaf)
            return handler

        return register

    def _options_json(self) -> list[dict[str, Any]]:
        out = []
        for name, child in self.children.items():
            if isinstance(child, Leaf):
                out.append(
                    {
                        "type": OptionType.SUB_COMMAND.value,
                        "name": name,
                        "description": child.description,
                        **(
                            {"options": [o.to_json() for o in child.options]}
                            if child.options
                            else {}
                        ),
                    }
                )
            else:
                out.append(
                    {
                        "type": OptionType.SUB_COMMAND_GROUP.value,
                        "name": name,
                        "description": child.description,
                        "options": child._options_json(),
                    }
                )
        return out


class SubcommandGroup(_Node):
    pass


class CommandGroup(_Node):
    """A top-level command whose invocable parts are subcommands (and groups of them)."""

    def __init__(
        self,
        bot: Bot,
        name: str,
        description: str,
        access: Access,
        default_member_permissions: int | None,
        contexts: Sequence[int],
    ) -> None:
        super().__init__(bot, (name,), description, access)
        self.default_member_permissions = default_member_permissions
        self.contexts = tuple(contexts)

    def group(
        self, name: str, description: str, *, access: Access | None = None
    ) -> SubcommandGroup:
        _check_name(name)
        _check_description(description)
        group = SubcommandGroup(self.bot, (*self.path, name), description, access or self.access)
        self.children[name] = group
        return group

    def to_json(self) -> dict[str, Any]:
        return _command_json(
            self.path[0],
            self.description,
            self._options_json(),
            self.default_member_permissions,
            self.contexts,
        )


@dataclass
class _Simple:
    leaf: Leaf
    default_member_permissions: int | None
    contexts: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return _command_json(
            self.leaf.path[0],
            self.leaf.description,
            [o.to_json() for o in self.leaf.options],
            self.default_member_permissions,
            self.contexts,
        )


def _command_json(
    name: str,
    description: str,
    options: list[dict[str, Any]],
    permissions: int | None,
    contexts: tuple[int, ...],
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "description": description, "type": 1}
    if options:
        out["options"] = options
    if permissions is not None:
        out["default_member_permissions"] = permissions
    if contexts:
        out["contexts"] = list(contexts)
    return out


DEFAULT_CONTEXTS = (InteractionContext.GUILD,)


class Bot:
    """The command tree, component and modal routes, and autocomplete handlers.

    Each feature module declares on a `Bot` of its own; the composition root merges
    them, `Bot(*bots)`, in the order Discord should list the commands. Merge once the
    modules are imported: what a part declares afterwards stays with that part.
    """

    def __init__(self, *bots: Bot) -> None:
        self._top: dict[str, CommandGroup | _Simple] = {}
        self._leaves: dict[tuple[str, ...], Leaf] = {}
        self._components: dict[str, Route] = {}
        self._modals: dict[str, Route] = {}
        for part in bots:
            for name, node in part._top.items():
                self._claim_name(name)
                self._top[name] = node
            self._leaves.update(part._leaves)
            for table, theirs in (
                (self._components, part._components),
                (self._modals, part._modals),
            ):
                for route in theirs:
                    if route in table:
                        raise ValueError(f"route {route!r} is declared twice")
                table.update(theirs)

    def _claim_name(self, name: str) -> None:
        _check_name(name)
        if name in self._top:
            raise ValueError(f"/{name} is declared twice")

    def _index_leaf(self, leaf: Leaf) -> None:
        self._leaves[leaf.path] = leaf

    def command(
        self,
        name: str,
        description: str,
        *,
        options: Sequence[Option] = (),
        defer: bool = False,
        ephemeral: bool = False,
        access: Access = Access.EVERYONE,
        default_member_permissions: int | None = None,
        contexts: Sequence[int] = DEFAULT_CONTEXTS,
    ) -> Callable[[Handler], Handler]:
        self._claim_name(name)
        _check_description(description)
        _check_option_order((name,), options)

        def register(handler: Handler) -> Handler:
            leaf = Leaf((name,), description, tuple(options), handler, defer, ephemeral, access)
            self._top[name] = _Simple(leaf, default_member_permissions, tuple(contexts))
            self._index_leaf(leaf)
            return handler

        return register

    def group(
        self,
        name: str,
        description: str,
        *,
        access: Access = Access.EVERYONE,
        default_member_permissions: int | None = None,
        contexts: Sequence[int] = DEFAULT_CONTEXTS,
    ) -> CommandGroup:
        self._claim_name(name)
        _check_description(description)
        group = CommandGroup(self, name, description, access, default_member_permissions, contexts)
        self._top[name] = group
        return group

    def autocomplete(self, path: str, option: str) -> Callable[[Autocompleter], Autocompleter]:
        """Register suggestions for `option` of the command at `path` ("deploy", "config set")."""

        def register(func: Autocompleter) -> Autocompleter:
            leaf = self._leaves.get(tuple(path.split()))
            if leaf is None:
                raise ValueError(f"autocomplete for unknown command /{path}")
            if not any(o.name == option and o.autocomplete for o in leaf.options):
                raise ValueError(f"/{path} has no option {option!r} with autocomplete=True")
            leaf.autocompleters[option] = func
            return func

        return register

    def component(
        self,
        name: str,
        *,
        defer: bool = False,
        ephemeral: bool = True,
        access: Access = Access.EVERYONE,
    ) -> Callable[[Handler], Handler]:
        """Handle buttons/selects whose custom_id is `name` or `name:state...`."""
        return self._route(self._components, name, defer, ephemeral, access)

    def modal(
        self,
        name: str,
        *,
        defer: bool = False,
        ephemeral: bool = True,
        access: Access = Access.EVERYONE,
    ) -> Callable[[Handler], Handler]:
        """Handle submitted modals whose custom_id is `name` or `name:state...`."""
        return self._route(self._modals, name, defer, ephemeral, access)

    @staticmethod
    def _route(
        table: dict[str, Route], name: str, defer: bool, ephemeral: bool, access: Access
    ) -> Callable[[Handler], Handler]:
        if ":" in name or not name:
            raise ValueError("route names cannot contain ':'")
        if name in table:
            raise ValueError(f"route {name!r} is declared twice")

        def register(handler: Handler) -> Handler:
            table[name] = Route(name, handler, defer, ephemeral, access)
            return handler

        return register

    # -- lookups --------------------------------------------------------------------------------

    def leaf(self, path: Sequence[str]) -> Leaf | None:
        return self._leaves.get(tuple(path))

    def leaves(self) -> list[Leaf]:
        return list(self._leaves.values())

    def component_route(self, custom_id: str) -> tuple[Route, tuple[str, ...]] | None:
        return _lookup(self._components, custom_id)

    def modal_route(self, custom_id: str) -> tuple[Route, tuple[str, ...]] | None:
        return _lookup(self._modals, custom_id)

    def registration(self) -> list[dict[str, Any]]:
        """The body of `PUT /applications/{application_id}/commands`, in declaration order."""
        return [node.to_json() for node in self._top.values()]


def _lookup(table: dict[str, Route], custom_id: str) -> tuple[Route, tuple[str, ...]] | None:
    name, *state = custom_id.split(":")
    route = table.get(name)
    return (route, tuple(state)) if route else None
