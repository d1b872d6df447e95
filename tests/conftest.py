"""Test-wide setup. The environment is fixed before any `orchestrator` import.

`orchestrator.main` builds its app at import time, so the environment must be
safe first: a throwaway data dir, `test` mode, no `.env`, and none of the
developer's real secrets.
"""

from __future__ import annotations

import os
import tempfile

_SESSION_DATA = tempfile.mkdtemp(prefix="orchestrator-tests-")
os.environ["ORCHESTRATOR_DATA_DIR"] = _SESSION_DATA
os.environ["ORCHESTRATOR_ENV"] = "test"
os.environ["ORCHESTRATOR_ENV_FILE"] = ""
for _name in list(os.environ):
    if _name.startswith(("DISCORD_", "GITHUB_", "AWS_")) or (
        _name.startswith("ORCHESTRATOR_")
        and _name not in {"ORCHESTRATOR_DATA_DIR", "ORCHESTRATOR_ENV", "ORCHESTRATOR_ENV_FILE"}
    ):
        del os.environ[_name]

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import hypothesis  # noqa: E402
import pytest  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from orchestrator.config import Settings, load_settings  # noqa: E402
from orchestrator.devkeys import DevIdentity, load_or_create_dev_identity  # noqa: E402
from orchestrator.main import create_app  # noqa: E402
from orchestrator.services import Services  # noqa: E402

# Property tests check answers, not speed (that is `bench/`'s): no per-example deadline, and
# no health check on how fast inputs are made. On a fresh checkout Hypothesis first builds
# its Unicode tables (`.hypothesis/`), and a busy 2-vCPU machine made a text strategy's
# first inputs "too slow" there: a failure of the machine, not of the code.
hypothesis.settings.register_profile(
    "orchestrator", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
hypothesis.settings.load_profile("orchestrator")

PUBLIC_TEST_ADDRESS = "93.184.216.34"  # what every name "resolves" to in tests


@pytest.fixture(autouse=True)
def _no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Production-mode fetches resolve names to check them (`http.public_only`); tests never
    send a DNS query, so every name resolves to one public address unless a test says
    otherwise. Only this process: servers the tests start run in test mode, without it."""
    import orchestrator.http

    async def resolve(host: str, port: int) -> list[str]:
        return [PUBLIC_TEST_ADDRESS]

    monkeypatch.setattr(orchestrator.http, "resolve", resolve)


@pytest.fixture(autouse=True)
def _count_security_findings(request: pytest.FixtureRequest) -> None:
    """The attack pass's regression tests (`test_finding_NN_*`) live beside the code they
    test; the security suite's closing line counts them with its own."""
    if request.node.name.startswith("test_finding_") and "tests/security/" not in str(
        request.node.path
    ):
        from tests.support.tally import TALLY

        TALLY.tests += 1


def _check_github_exchanges() -> None:
    from tests.support.fake_github import JOURNAL, contract_violations

    problems = contract_violations(JOURNAL.drain())
    if problems:
        pytest.fail(
            f"{len(problems)} exchange(s) with FakeGitHub break GitHub's OpenAPI description "
            "(fix the fake's answer, build it with tests/support/github_objects.py, or mark "
            "the route off_contract= with the reason):\n\n" + "\n\n".join(problems),
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _github_contract(_github_contract_leftovers: None) -> Iterator[None]:
    """What every FakeGitHub answered must be what GitHub could answer: after each test, the
    exchanges since the last check (the test's, and those of fixtures set up for it) are
    checked against GitHub's OpenAPI description, and the test errors at teardown naming
    each one that is not, with the test that made it (tests/support/github_spec.py). A route
    scripted with `off_contract="why"` is exempt. Costs nothing without a fake."""
    yield
    _check_github_exchanges()


@pytest.fixture(scope="session", autouse=True)
def _github_contract_leftovers() -> Iterator[None]:
    """The exchanges made after the last test's check (a module fixture's teardown)."""
    yield
    _check_github_exchanges()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return load_settings(ORCHESTRATOR_DATA_DIR=data_dir)


@pytest.fixture
def identity(settings: Settings) -> DevIdentity:
    return load_or_create_dev_identity(settings.data_dir)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    services = Services(settings)
    yield services
    services.close(timeout=5)


@pytest.fixture
def app(services: Services) -> FastAPI:
    return create_app(services=services)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
