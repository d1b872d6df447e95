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

The option builders (`string`, ...) live in `orchestrator.discord.options`, `Context` and
what a handler returns in `orchestrator.discord.context`, `Access` in
`orchestrator.discord.access`.

`OnDemandBot` is the product's tree as dispatch sees it: a lookup builds only the part
that owns the name it looks up, anything that needs every command builds them all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol

from orchestrator.discord.access import Access
from orchestrator.discord.interactions import OptionType
from orchestrator.discord.options import (
    Option,
    check_description,
    check_name,
    check_option_order,
)

# Handlers are only annotated here: a module declaring commands, or dispatch answering a
# deferred one, need not build what a handler gets and returns.
if TYPE_CHECKING:
    from orchestrator.discord.context import Autocompleter, Context, Handler


class InteractionContext:
    """Where a command runs (GUILD, BOT_DM, PRIVATE_CHANNEL), as Discord numbers them."""

    GUILD = 0
    BOT_DM = 1
    PRIVATE_CHANNEL = 2


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
    """A component (button/select) or modal handler, found by its custom_id prefix.

    `commands` names the slash commands whose messages carry it: their per-command
    allow-lists govern the route as they govern the command (a button must not be a way
    around `/release`'s list). `once`: a press acts once per message; later presses are
    told who already pressed it.
    """

    name: str
    handler: Handler
    defer: bool
    ephemeral: bool
    access: Access
    commands: tuple[str, ...] = ()
    once: bool = False


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
        check_name(name)
        check_description(description)
        check_option_order((*self.path, name), options)
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
        check_name(name)
        check_description(description)
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


class _Simple(NamedTuple):
    """A top-level command that is itself a leaf (a `NamedTuple`: built at import by every
    command module, where a dataclass's class costs ten times as much)."""

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
        check_name(name)
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
        check_description(description)
        check_option_order((name,), options)

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
        check_description(description)
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
        commands: Sequence[str],
        defer: bool = False,
        ephemeral: bool = True,
        access: Access = Access.EVERYONE,
        once: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Handle buttons/selects whose custom_id is `name` or `name:state...`, carried by
        the messages of `commands` (whose allow-lists then govern it too)."""
        return self._route(
            self._components,
            Route(name, _no_handler, defer, ephemeral, access, tuple(commands), once),
        )

    def modal(
        self,
        name: str,
        *,
        commands: Sequence[str],
        defer: bool = False,
        ephemeral: bool = True,
        access: Access = Access.EVERYONE,
    ) -> Callable[[Handler], Handler]:
        """Handle submitted modals whose custom_id is `name` or `name:state...`."""
        return self._route(
            self._modals, Route(name, _no_handler, defer, ephemeral, access, tuple(commands))
        )

    @staticmethod
    def _route(table: dict[str, Route], spec: Route) -> Callable[[Handler], Handler]:
        name = spec.name
        if ":" in name or not name:
            raise ValueError("route names cannot contain ':'")
        if name in table:
            raise ValueError(f"route {name!r} is declared twice")
        if not spec.commands:
            raise ValueError(f"route {name!r} must name the commands whose messages carry it")
        if spec.once and not spec.defer:
            # The claim is released when the deferred job fails; an immediate handler has no
            # such path, so a failure would use the button up for good.
            raise ValueError(f"route {name!r}: once=True needs defer=True")
        for command in spec.commands:
            check_name(command)

        def register(handler: Handler) -> Handler:
            table[name] = replace(spec, handler=handler)
            return handler

        return register

    def routes(self) -> list[Route]:
        """Every component and modal route."""
        return [*self._components.values(), *self._modals.values()]

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


async def _no_handler(_: Context) -> None:  # replaced when the route's handler registers
    raise NotImplementedError


def _lookup(table: dict[str, Route], custom_id: str) -> tuple[Route, tuple[str, ...]] | None:
    name, *state = custom_id.split(":")
    route = table.get(name)
    return (route, tuple(state)) if route else None


# -- the tree on demand -----------------------------------------------------------------------

# What an interaction names: a top-level command, or a component or modal route (the part of
# its custom_id before the first ':').
Kind = Literal["command", "component", "modal"]


class CommandLookup(Protocol):
    """What dispatch asks of a command tree: find what an interaction names, and hand
    handlers the whole tree (`/help` lists it). A `Bot` is one; so is `OnDemandBot`."""

    def leaf(self, path: Sequence[str]) -> Leaf | None: ...

    def component_route(self, custom_id: str) -> tuple[Route, tuple[str, ...]] | None: ...

    def modal_route(self, custom_id: str) -> tuple[Route, tuple[str, ...]] | None: ...

    def leaves(self) -> list[Leaf]: ...

    def registration(self) -> list[dict[str, Any]]: ...


class OnDemandBot:
    """A merged tree whose parts are built when an interaction names them.

    Building every part means importing every feature module and its domain, which a cold
    container answering one command (or running one deferred job) does not need. `part(kind,
    name)` is the part that owns a name (the composition root's index; for a name it does
    not know, the whole tree); `whole()` is the merged tree. A lookup the part cannot answer
    falls back to the whole, so an index that went stale costs time, never a refusal; what
    needs every command (`leaves()`, `registration()`) builds the whole. Parts and the whole
    share their `Leaf` and `Route` objects, so either answers with the very same handler,
    access and allow-list names.
    """

    def __init__(self, part: Callable[[Kind, str], Bot], whole: Callable[[], Bot]) -> None:
        self._part = part
        self._whole = whole

    def leaf(self, path: Sequence[str]) -> Leaf | None:
        found = self._part("command", path[0]).leaf(path) if path else None
        return found if found is not None else self._whole().leaf(path)

    def component_route(self, custom_id: str) -> tuple[Route, tuple[str, ...]] | None:
        part = self._part("component", custom_id.split(":", 1)[0])
        return part.component_route(custom_id) or self._whole().component_route(custom_id)

    def modal_route(self, custom_id: str) -> tuple[Route, tuple[str, ...]] | None:
        part = self._part("modal", custom_id.split(":", 1)[0])
        return part.modal_route(custom_id) or self._whole().modal_route(custom_id)

    def leaves(self) -> list[Leaf]:
        return self._whole().leaves()

    def registration(self) -> list[dict[str, Any]]:
        return self._whole().registration()
