"""The app's dependencies in one place, built lazily.

Routers and jobs reach the store, the job dispatcher and the API clients
through `Services`, never by constructing them. Lower layers see it only as
`orchestrator.runtime.Runtime` / `orchestrator.clients.Clients`; the product's
command tree, event router and job registry come from `orchestrator.product`
unless a test hands in others. Each is created on first use,
so a cold start that only answers a PING opens no database and imports no
HTTP client, and tests can hand in fakes by passing them to the constructor.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, cast

from orchestrator.config import JobsBackend, Settings

if TYPE_CHECKING:
    from orchestrator.discord.rest import DiscordREST
    from orchestrator.discord.tree import Bot, CommandLookup
    from orchestrator.github.auth import Auth
    from orchestrator.github.client import GitHubClient
    from orchestrator.github.routing import EventRouter
    from orchestrator.jobs.base import Dispatcher, JobRegistry
    from orchestrator.jobs.runner import JobRunner
    from orchestrator.store.base import Store
    from orchestrator.store.writer import StoreWriter


class Services:
    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        jobs: Dispatcher | None = None,
        bot: Bot | None = None,
        events: EventRouter | None = None,
        registry: JobRegistry | None = None,
    ) -> None:
        self.settings = settings
        self._store = store
        self._jobs = jobs
        # What a test hands in is the test's; only what we built is dropped on a restore.
        self._own_store = store is None
        self._own_jobs = jobs is None
        self._bot = bot
        self._events = events
        self._registry = registry
        self._github_auth: Auth | None = None
        self._writer: StoreWriter | None = None
        self._lock = threading.Lock()

    @property
    def bot(self) -> Bot:
        """The slash-command tree; the product's own unless a test hands in another."""
        if self._bot is None:
            from orchestrator import product

            self._bot = product.bot()
        return self._bot

    @property
    def commands(self) -> CommandLookup:
        """The tree interactions are dispatched on: the product's built on demand (an
        interaction, or its deferred job, imports only the module that declares what it
        names; `/help` still sees every command), or the one a test handed in."""
        if self._bot is not None:
            return self._bot
        from orchestrator import product

        return product.commands()

    @property
    def events(self) -> EventRouter:
        """GitHub event handlers; the product's own unless a test hands in another."""
        if self._events is None:
            from orchestrator import product

            self._events = product.events()
        return self._events

    @property
    def registry(self) -> JobRegistry:
        """Every job by name; the product's own unless a test hands in another."""
        if self._registry is None:
            from orchestrator import product

            self._registry = product.jobs(lambda: self.commands, lambda: self.events)
        return self._registry

    def runner(self) -> JobRunner:
        """A runner for this app's jobs (the in-process loop, a Lambda job event)."""
        from orchestrator.jobs.runner import JobRunner

        return JobRunner(self, self.registry)

    def discord_rest(self) -> DiscordREST:
        """A new Discord REST client; use as `async with` (one per job: loops differ)."""
        from orchestrator.discord.rest import DiscordREST

        settings = self.settings
        token = settings.discord_bot_token
        return DiscordREST(
            base_url=settings.discord_api_base,
            application_id=settings.discord_application_id or "",
            bot_token=token.get_secret_value() if token is not None else None,
        )

    def github(self) -> GitHubClient:
        """A new GitHub API client; use as `async with`. The credential is shared, so a
        GitHub App's installation token is fetched once per container, not per job."""
        from orchestrator.github.client import GitHubClient
        from orchestrator.github.errors import GitHubNotConfigured

        settings = self.settings
        if not settings.has_github_credentials:
            raise GitHubNotConfigured(
                "GitHub is not configured: set GITHUB_TOKEN or the GITHUB_APP_* settings"
            )
        with self._lock:
            if self._github_auth is None:
                self._github_auth = self._make_github_auth()
        return GitHubClient(base_url=settings.github_api_base, auth=self._github_auth)

    def _make_github_auth(self) -> Auth:
        from orchestrator.github.auth import AppAuth, TokenAuth

        settings = self.settings
        if settings.github_token is not None and settings.github_token.get_secret_value():
            return TokenAuth(settings.github_token.get_secret_value())
        assert settings.github_app_id and settings.github_app_private_key  # has_github_app
        return AppAuth(
            settings.github_app_id,
            settings.github_app_private_key.get_secret_value(),
            settings.github_app_installation_id,
            base_url=settings.github_api_base,
        )

    @property
    def store(self) -> Store:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    from orchestrator.store import open_store

                    self._store = open_store(self.settings)
        return self._store

    @property
    def writer(self) -> StoreWriter:
        """How a request awaits its store writes (`store.writer`): on threads of their own,
        or inline for a store whose writes are local and short (its `inline_writes`)."""
        if self._writer is None:
            store = self.store
            with self._lock:
                if self._writer is None:
                    from orchestrator.store.writer import InlineStore, InlineWriter, Writer

                    # Inline only when everything the request's write does is local: the
                    # store's commit, and handing the job to this process's job loop (the
                    # Lambda dispatcher's start is an HTTP call).
                    inline = (
                        getattr(store, "inline_writes", False)
                        and self.settings.jobs is JobsBackend.INPROCESS
                    )
                    self._writer = (
                        InlineWriter(cast(InlineStore, store), Writer()) if inline else Writer()
                    )
        return self._writer

    @property
    def jobs(self) -> Dispatcher:
        if self._jobs is None:
            with self._lock:
                if self._jobs is None:
                    self._jobs = self._open_jobs()
        return self._jobs

    def _open_jobs(self) -> Dispatcher:
        if self.settings.jobs is JobsBackend.INPROCESS:
            from orchestrator.jobs.inprocess import InProcessDispatcher

            return InProcessDispatcher(self, self.runner())
        from orchestrator.jobs.lambda_ import LambdaDispatcher

        return LambdaDispatcher(self, function_name=self.settings.jobs_function)

    def reset_after_restore(self) -> None:
        """Drop what holds connections or time-bound state, to be rebuilt lazily on next use.

        Lambda SnapStart clones one initialised container into many, possibly days later
        (`orchestrator.aws.snapstart` calls this before the snapshot and after each
        restore): sockets in the snapshot are dead, credentials and tokens in it may have
        expired, and clones must not share them. So the store we opened is closed and
        forgotten, the Lambda dispatcher drops its boto3 client, and the GitHub credential
        goes with its cached installation token. What holds no such state stays: settings
        (secrets included), the command tree, the event router, the job registry.
        """
        with self._lock:
            store = self._store if self._own_store else None
            if store is not None:
                self._store = None
            jobs = self._jobs if self._own_jobs else None
            self._github_auth = None
        if store is not None:
            store.close()
        if jobs is not None:
            from orchestrator.jobs.lambda_ import LambdaDispatcher

            if isinstance(jobs, LambdaDispatcher):
                jobs.drop_client()

    def close(self, timeout: float = 10.0) -> None:
        """Finish in-flight jobs and queued writes, then release the store."""
        with self._lock:
            writer, self._writer = self._writer, None  # used again, it starts a new one
        if writer is not None:
            writer.close()
        if self._jobs is not None:
            self._jobs.close(timeout)
        if self._store is not None:
            self._store.close()
