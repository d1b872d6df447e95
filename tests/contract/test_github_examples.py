"""Every webhook example GitHub publishes (via `@octokit/webhooks-examples`), replayed at the
real service over HTTP, signed by Octokit's own `sign()`: accepted with the right secret,
refused with a wrong one.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from orchestrator.github.verify import sign
from tests.support.github_examples import load_examples, node_sign, replay_examples
from tests.support.servers import Served, serve

SECRET = "contract-test-webhook-secret"

# GitHub's documented test vector ("Validating webhook deliveries").
VECTOR_SECRET = "It's a Secret to Everybody"
VECTOR_BODY = "Hello, World!"
VECTOR_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir: Path = tmp_path_factory.mktemp("github-contract")
    env = {"ORCHESTRATOR_DATA_DIR": str(data_dir), "GITHUB_WEBHOOK_SECRET": SECRET}
    with serve(env) as served:
        yield served


def test_the_package_holds_many_examples() -> None:
    examples = load_examples()
    assert len(examples) > 100
    events = {event for event, _ in examples}
    assert {"ping", "push", "pull_request", "workflow_run", "workflow_job"} <= events
    assert all(isinstance(payload, dict) and payload for _, payload in examples)


def test_githubs_test_vector_holds_for_octokit_and_for_us() -> None:
    assert node_sign(VECTOR_SECRET, VECTOR_BODY) == VECTOR_SIGNATURE
    assert sign(VECTOR_SECRET, VECTOR_BODY.encode()) == VECTOR_SIGNATURE
    digest = hmac.new(VECTOR_SECRET.encode(), VECTOR_BODY.encode(), hashlib.sha256).hexdigest()
    assert f"sha256={digest}" == VECTOR_SIGNATURE
    # Non-ASCII payloads: Octokit signs the UTF-8 bytes, as GitHub does and as we verify.
    assert node_sign(SECRET, '{"name":"café ✓"}') == sign(SECRET, '{"name":"café ✓"}'.encode())


def test_every_example_is_accepted_with_the_right_secret(service: Served) -> None:
    expected = len(load_examples())
    summary = replay_examples(service.url + "/github", SECRET, delivery_prefix=f"ok-{uuid.uuid4()}")
    assert summary["sent"] == summary["examples"] == expected > 100, summary
    statuses = {str(status): count for status, count in summary["by_status"].items()}
    server_errors = {s: n for s, n in statuses.items() if not s.isdigit() or int(s) >= 500}
    assert not server_errors, f"{server_errors}: {summary['failures']}\n{service.output()[-3000:]}"
    not_2xx = {s: n for s, n in statuses.items() if not 200 <= int(s) < 300}
    assert not not_2xx, f"{not_2xx}: {summary['failures']}"
    assert sum(statuses.values()) == expected


def test_every_example_is_refused_with_a_wrong_secret(service: Served) -> None:
    expected = len(load_examples())
    summary = replay_examples(
        service.url + "/github", "not-the-secret", delivery_prefix=f"bad-{uuid.uuid4()}"
    )
    assert summary["sent"] == expected, summary
    assert summary["by_status"] == {"401": expected}, summary["failures"][:3]
    assert len(summary["failures"]) == 20
    assert all(f["status"] == 401 for f in summary["failures"])


def test_the_service_still_answers_after_the_replays(service: Served) -> None:
    assert httpx.get(service.url + "/healthz", timeout=5).status_code == 200
