"""Lambda SnapStart's runtime hooks, run in-process as the runtime would run them.

Why: a container resumed from a snapshot is a clone of the one that initialised, possibly
days later and never alone. Each test below clones, restores, and checks one thing the
hooks (`orchestrator.aws.snapstart`) must put right: shared pseudo-randomness, pooled
connections, credentials and tokens that belong to the initialising container. Nothing
here talks to AWS: clients are built offline or replaced by fakes.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import snapshot_restore_py

from orchestrator.aws import api, clients, credentials, snapstart
from orchestrator.aws.events import http_api_event, response_body
from orchestrator.config import Settings, load_settings
from orchestrator.devkeys import load_or_create_dev_identity
from orchestrator.jobs.lambda_ import LambdaDispatcher, invoke_path
from orchestrator.services import Services
from orchestrator.store.base import Store
from tests.support.signing import PING_INTERACTION, discord_headers, dumps

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / "tests" / "support" / "lambda_runtime.py"
SNAP = {snapstart.INITIALIZATION_TYPE: snapstart.SNAP_START}
ALIAS = "orchestrator-prod-orchestrator:live"


@pytest.fixture(autouse=True)
def isolated() -> Iterator[None]:
    """Each test starts with no registered resets, no boto3 session, no credential chain and
    its own `random`."""
    state = random.getstate()
    snapstart.clear()
    clients.reset()
    credentials.reset()
    yield
    snapstart.clear()
    clients.reset()
    credentials.reset()
    random.setstate(state)


@pytest.fixture
def registries(monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], list[Any]]:
    """`snapshot_restore_py`'s own registries, empty: what the runtime will call."""
    before: list[Any] = []
    after: list[Any] = []
    monkeypatch.setattr(snapshot_restore_py, "_before_snapshot_registry", before)
    monkeypatch.setattr(snapshot_restore_py, "_after_restore_registry", after)
    return before, after


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Static credentials and a region, so boto3 builds clients offline."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDBEFORESNAPSHOT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


def discard(hook: Any) -> Any:
    """A registration function that registers nothing: the test runs the hooks itself."""
    return hook


# --- registration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "environ",
    [{}, {snapstart.INITIALIZATION_TYPE: "on-demand"}, {snapstart.INITIALIZATION_TYPE: ""}],
)
def test_without_snapstart_nothing_is_registered_or_imported(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]
) -> None:
    """A cold start without SnapStart must not pay for it: not even the import."""
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # importing it would fail
    called: list[Any] = []
    assert snapstart.register(called.append, environ=environ) is False
    assert snapstart.register(called.append, environ=environ, before=called.append) is False
    assert called == []


def test_under_snapstart_exactly_the_two_hooks_are_registered_once(
    registries: tuple[list[Any], list[Any]],
) -> None:
    before, after = registries
    assert snapstart.register(lambda: None, environ=SNAP) is True
    assert snapstart.register(lambda: None, environ=SNAP) is True  # a second caller
    assert before == [(snapstart.before_snapshot, (), {})]
    assert after == [(snapstart.after_restore, (), {})]
    assert snapshot_restore_py.get_before_snapshot() is before


def test_the_app_registers_its_services_under_snapstart(
    monkeypatch: pytest.MonkeyPatch, registries: tuple[list[Any], list[Any]]
) -> None:
    """`orchestrator.main` hands the app's own `Services` to the hooks."""
    import orchestrator.main

    monkeypatch.setenv(snapstart.INITIALIZATION_TYPE, snapstart.SNAP_START)
    dropped: list[bool] = []
    services = orchestrator.main.app.state.services
    monkeypatch.setattr(services, "reset_after_restore", lambda: dropped.append(True))
    orchestrator.main._register_snapstart_hooks()
    before, after = registries
    assert len(before) == len(after) == 1
    after[0][0]()
    assert dropped == [True]


# --- what the hooks do ----------------------------------------------------------------------


def test_clones_draw_different_numbers_after_the_restore() -> None:
    def clone(restore: bool) -> list[float]:
        random.seed(1234)  # the state every clone inherits from the snapshot
        if restore:
            snapstart.after_restore()
        return [random.random() for _ in range(4)]

    assert clone(restore=False) == clone(restore=False), "clones agree without the hook"
    assert clone(restore=True) != clone(restore=True)


def test_a_restored_container_builds_new_clients_with_fresh_credentials(
    aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = clients.client("dynamodb")
    session = clients._session
    assert session is not None
    assert session.get_credentials().access_key == "AKIDBEFORESNAPSHOT"
    # The restored clone runs with other credentials; the session would keep the old ones.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDAFTERRESTORE")
    assert session.get_credentials().access_key == "AKIDBEFORESNAPSHOT"
    loader = session._session.get_component("data_loader")

    snapstart.after_restore()
    assert clients._session is None, "forgotten; built again on first use"
    second = clients.client("dynamodb")
    assert second is not first
    assert clients._session is not None and clients._session is not session
    assert clients._session.get_credentials().access_key == "AKIDAFTERRESTORE"
    # What the snapshot is for stays: the parsed service models, on one search path.
    kept = clients._session._session.get_component("data_loader")
    assert kept is loader
    assert len(kept.search_paths) == len(set(kept.search_paths))


def test_our_aws_client_resolves_the_restored_containers_own_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Off the environment (a profile, container credentials: what Lambda gives SnapStart
    functions), `aws.credentials` keeps botocore's chain while warm; the restore drops it."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    shared = tmp_path / "credentials"
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(shared))

    def profile(key: str) -> None:
        shared.write_text(f"[default]\naws_access_key_id = {key}\naws_secret_access_key = s\n")

    profile("AKIDBEFORESNAPSHOT")
    assert credentials.current().access_key == "AKIDBEFORESNAPSHOT"
    profile("AKIDAFTERRESTORE")  # the clone's own
    assert credentials.current().access_key == "AKIDBEFORESNAPSHOT", "kept while warm"
    snapstart.after_restore()
    assert credentials.current().access_key == "AKIDAFTERRESTORE"


def test_before_the_snapshot_the_session_is_dropped_too(aws_env: None) -> None:
    clients.client("ssm")  # the secrets read at initialisation build one
    assert clients._session is not None
    snapstart.before_snapshot()
    assert clients._session is None


class CountingStores:
    """`open_store` that counts what it opens and records what is closed."""

    def __init__(self, settings: Settings) -> None:
        from orchestrator.store import open_store

        self._open = open_store
        self.settings = settings
        self.opened: list[Store] = []
        self.closed: list[Store] = []

    def __call__(self, settings: Settings) -> Store:
        store = self._open(settings)
        close = store.close

        def recorded_close() -> None:
            self.closed.append(store)
            close()

        store.close = recorded_close  # type: ignore[method-assign]
        self.opened.append(store)
        return store


def test_services_reopen_their_store_lazily_after_the_restore(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import orchestrator.store

    stores = CountingStores(settings)
    monkeypatch.setattr(orchestrator.store, "open_store", stores)
    services = Services(settings)
    first = services.store
    snapstart.register(services.reset_after_restore, environ=SNAP, before=discard, after=discard)

    snapstart.after_restore()
    assert stores.closed == [first], "the store's connections are closed"
    assert len(stores.opened) == 1, "nothing is reopened until it is needed"
    second = services.store
    assert second is not first and len(stores.opened) == 2
    second.put("snapstart:probe", {"ok": True})
    assert second.get("snapstart:probe") is not None


def test_a_store_handed_in_is_left_alone(settings: Settings) -> None:
    class Handed:
        closed = False

        def close(self) -> None:
            self.closed = True

    handed = Handed()
    services = Services(settings, store=handed)  # type: ignore[arg-type]
    services.reset_after_restore()
    assert services.store is handed and not handed.closed


def test_the_github_credential_and_its_token_cache_are_rebuilt(data_dir: Path) -> None:
    services = Services(load_settings(ORCHESTRATOR_DATA_DIR=data_dir, GITHUB_TOKEN="ghp_test"))
    first = services.github()._auth
    assert services.github()._auth is first, "shared between clients while warm"
    services.reset_after_restore()
    assert services.github()._auth is not first


class FakeLambda:
    """Stands in for `aws.api.Client("lambda")`: records each invoke's path and headers."""

    def __init__(self, built: list[FakeLambda]) -> None:
        self.invoked: list[tuple[str, dict[str, str]]] = []
        self.closed = False
        built.append(self)

    def send(self, method: str, path: str, **request: Any) -> api.Response:
        self.invoked.append((path, request["headers"]))
        return api.Response(202, {}, b"")

    def close(self) -> None:
        self.closed = True


def test_jobs_invoke_the_alias_and_reconnect_after_the_restore(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[FakeLambda] = []
    monkeypatch.setattr(api, "Client", lambda service, **_: FakeLambda(built))
    services = Services(
        load_settings(
            ORCHESTRATOR_DATA_DIR=data_dir,
            ORCHESTRATOR_JOBS="lambda",
            ORCHESTRATOR_JOBS_FUNCTION=ALIAS,
        )
    )
    jobs = services.jobs
    assert isinstance(jobs, LambdaDispatcher) and jobs.function_name == ALIAS
    jobs.dispatch("snapstart.probe", {"n": 1})
    snapstart.register(services.reset_after_restore, environ=SNAP, before=discard, after=discard)

    snapstart.after_restore()
    assert [c.closed for c in built] == [True]
    jobs.dispatch("snapstart.probe", {"n": 2})
    assert len(built) == 2 and not built[1].closed
    assert [path for c in built for path, _ in c.invoked] == [invoke_path(ALIAS)] * 2
    assert all(h == {"X-Amz-Invocation-Type": "Event"} for c in built for _, h in c.invoked)


def test_one_failing_reset_does_not_keep_the_others(caplog: pytest.LogCaptureFixture) -> None:
    ran: list[str] = []

    def broken() -> None:
        ran.append("broken")
        raise OSError("already closed")

    snapstart.register(
        broken, lambda: ran.append("next"), environ=SNAP, before=discard, after=discard
    )
    snapstart.after_restore()
    assert ran == ["broken", "next"]
    assert "snapstart reset failed" in caplog.text


# --- the whole app, through the runtime stand-in ----------------------------------------------


def run_app(data_dir: Path, extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    identity = load_or_create_dev_identity(data_dir)
    ping = dumps(PING_INTERACTION)
    events = [
        http_api_event("GET", "/healthz"),
        http_api_event("POST", "/discord", headers=discord_headers(identity, ping), body=ping),
    ]
    return subprocess.run(
        [sys.executable, str(RUNTIME), "-", "orchestrator.main.handler"],
        input=json.dumps(events),
        capture_output=True,
        text=True,
        env={**os.environ, "ORCHESTRATOR_DATA_DIR": str(data_dir), **extra},
        timeout=60,
        check=False,
    )


def test_a_restored_app_answers(data_dir: Path) -> None:
    """Initialise, snapshot, restore, serve: the hooks run and the app still answers."""
    run = run_app(data_dir, SNAP)
    assert run.returncode == 0, run.stderr
    assert "snapstart hooks: 1 before, 1 after" in run.stderr
    answers = [(r["statusCode"], json.loads(response_body(r))) for r in json.loads(run.stdout)]
    assert answers == [(200, {"status": "ok", "store": "ok"}), (200, {"type": 1})]


def test_without_snapstart_the_app_never_imports_the_hooks_library(data_dir: Path) -> None:
    probe = (
        "import sys, orchestrator.main; "
        "print('snapshot_restore_py' in sys.modules, 'orchestrator.aws.snapstart' in sys.modules)"
    )
    env = {**os.environ, "ORCHESTRATOR_DATA_DIR": str(data_dir)}
    env.pop(snapstart.INITIALIZATION_TYPE, None)
    run = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert run.stdout.split() == ["False", "True"]
