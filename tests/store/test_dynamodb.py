"""DynamoDB-specific behaviour; the shared contract lives in test_contract.py.

Two kinds of server: moto over HTTP for the real wire format, and a scripted
fake on 127.0.0.1 for what moto cannot produce on demand (throttling, a lost
response, a server that never answers).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from orchestrator.aws.clients import client as aws_client
from orchestrator.store.base import ClaimAndPut, StoreError, StoreUnavailable, Versioned
from orchestrator.store.dynamodb import DynamoDBStore, create_table
from tests.support.moto_server import delete_table, moto_endpoint  # noqa: F401
from tests.support.servers import QuietHTTPServer, free_port

_PREFIX = "com.amazonaws.dynamodb.v20120810#"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


# -- a scripted DynamoDB endpoint --------------------------------------------------------------


class ScriptedDynamoDB:
    """Answers each request with the next scripted (status, body); then with `{}` (success)."""

    def __init__(self, script: list[tuple[int, Any]]) -> None:
        self.script = list(script)
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body: dict[str, Any] = json.loads(self.rfile.read(length) or b"{}")
                target = self.headers.get("x-amz-target", "").rpartition(".")[2]
                with fake.lock:
                    fake.requests.append((target, body))
                    status, answer = fake.script.pop(0) if fake.script else (200, {})
                if callable(answer):
                    answer = answer(fake)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/x-amz-json-1.0")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def targets(self) -> list[str]:
        with self.lock:
            return [target for target, _ in self.requests]


@pytest.fixture
def scripted() -> Iterator[Any]:
    started: list[ScriptedDynamoDB] = []

    def start(*script: tuple[int, Any]) -> ScriptedDynamoDB:
        fake = ScriptedDynamoDB(list(script))
        fake.thread.start()
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.server.shutdown()
        fake.server.server_close()
        fake.thread.join(timeout=5)


def error(code: str, status: int = 400, **extra: Any) -> tuple[int, dict[str, Any]]:
    return status, {"__type": _PREFIX + code, "message": f"scripted {code}", **extra}


def store_at(url: str, sleeps: list[float] | None = None, **options: Any) -> DynamoDBStore:
    return DynamoDBStore(
        "orchestrator",
        endpoint_url=url,
        region="eu-west-1",
        sleep=(sleeps.append if sleeps is not None else time.sleep),
        **options,
    )


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Dummy credentials for tests that talk to a fake rather than to moto."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


# -- retries -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("aws_credentials")
@pytest.mark.parametrize(
    "code",
    [
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
    ],
)
def test_throttling_is_retried_then_succeeds(scripted: Any, code: str) -> None:
    fake = scripted(error(code), error(code, status=500 if code == "InternalServerError" else 400))
    sleeps: list[float] = []
    store = store_at(fake.url, sleeps, max_attempts=4, backoff=0.05)
    store.put("things:a", {"n": 1})
    assert fake.targets() == ["PutItem", "PutItem", "PutItem"]
    assert len(sleeps) == 2
    assert all(0 < pause <= 1.0 for pause in sleeps)
    store.close()


@pytest.mark.usefixtures("aws_credentials")
def test_persistent_throttling_becomes_store_unavailable(scripted: Any) -> None:
    throttled = error("ProvisionedThroughputExceededException")
    fake = scripted(*[throttled] * 10)
    sleeps: list[float] = []
    store = store_at(fake.url, sleeps, max_attempts=3)
    with pytest.raises(StoreUnavailable, match=r"ProvisionedThroughputExceeded.*3 attempts"):
        store.get("things:a")
    assert fake.targets() == ["GetItem"] * 3
    assert len(sleeps) == 2
    assert sleeps[1] > sleeps[0] / 2  # backs off rather than hammering
    store.close()


@pytest.mark.usefixtures("aws_credentials")
def test_retries_stop_at_the_time_budget(scripted: Any) -> None:
    fake = scripted(*[error("ThrottlingException")] * 10)
    store = store_at(fake.url, max_attempts=10, backoff=0.2, budget=0.3)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        store.put("things:a", {})
    assert len(fake.targets()) < 10
    assert time.monotonic() - started < 5
    store.close()


@pytest.mark.usefixtures("aws_credentials")
def test_a_bad_request_is_a_bug_not_an_outage(scripted: Any) -> None:
    fake = scripted(error("ValidationException"))
    store = store_at(fake.url, [])
    with pytest.raises(StoreError) as raised:
        store.put("things:a", {})
    assert not isinstance(raised.value, StoreUnavailable)
    assert fake.targets() == ["PutItem"]  # not retried
    store.close()


@pytest.mark.usefixtures("aws_credentials")
def test_a_claim_whose_answer_was_lost_is_still_won(scripted: Any) -> None:
    """Attempt 1 writes but its answer is lost; attempt 2 fails its condition on our own item."""

    def our_item(fake: ScriptedDynamoDB) -> dict[str, Any]:
        _, first = fake.requests[0]
        return {
            "__type": _PREFIX + "ConditionalCheckFailedException",
            "message": "The conditional request failed",
            "Item": first["Item"],
        }

    fake = scripted(error("InternalServerError", status=500), (400, our_item))
    store = store_at(fake.url, [])
    assert store.claim("delivery:1", ttl=60) is True
    assert fake.targets() == ["PutItem", "PutItem"]
    store.close()


@pytest.mark.usefixtures("aws_credentials")
def test_a_claim_held_by_someone_else_is_lost(scripted: Any) -> None:
    other = {"pk": {"S": "delivery"}, "sk": {"S": "1"}, "writer": {"S": "someone-else"}}
    fake = scripted(error("ConditionalCheckFailedException", Item=other))
    store = store_at(fake.url, [])
    assert store.claim("delivery:1", ttl=60) is False
    store.close()


_JOB = Versioned("job:gh-1", {"status": "pending"}, version=11.0, ttl=60)


@pytest.mark.usefixtures("aws_credentials")
def test_claim_and_put_is_one_transaction_retried_under_its_token(scripted: Any) -> None:
    """One TransactWriteItems for both rows; a retry after a lost answer carries the same
    ClientRequestToken, so DynamoDB answers it as the first attempt's success."""
    fake = scripted(error("InternalServerError", status=500))
    store = store_at(fake.url, [])
    assert store.claim_and_put("delivery:1", 60, None, _JOB) is True
    assert fake.targets() == ["TransactWriteItems", "TransactWriteItems"]
    (_, first), (_, second) = fake.requests
    assert first["ClientRequestToken"] == second["ClientRequestToken"]
    keys = [item["Put"]["Item"]["pk"]["S"] for item in first["TransactItems"]]
    assert keys == ["delivery", "job"]
    assert all("ConditionExpression" in item["Put"] for item in first["TransactItems"])
    store.close()


def _cancelled(*codes: str, item: Any = None) -> tuple[int, dict[str, Any]]:
    reasons: list[dict[str, Any]] = [{"Code": code} for code in codes]
    if item is not None:
        reasons[0]["Item"] = item
    return error("TransactionCanceledException", CancellationReasons=reasons)


@pytest.mark.usefixtures("aws_credentials")
def test_claim_and_put_of_a_taken_claim_is_lost(scripted: Any) -> None:
    other = {"pk": {"S": "delivery"}, "sk": {"S": "1"}, "writer": {"S": "someone-else"}}
    fake = scripted(_cancelled("ConditionalCheckFailed", "None", item=other))
    store = store_at(fake.url, [])
    assert store.claim_and_put("delivery:1", 60, None, _JOB) is False
    assert fake.targets() == ["TransactWriteItems"]  # nothing written after the answer
    store.close()


@pytest.mark.usefixtures("aws_credentials")
def test_claim_and_put_retries_a_transaction_conflict(scripted: Any) -> None:
    fake = scripted(_cancelled("TransactionConflict", "None"))
    store = store_at(fake.url, [])
    assert store.claim_and_put("delivery:1", 60, None, _JOB) is True
    assert fake.targets() == ["TransactWriteItems", "TransactWriteItems"]
    store.close()


def _starts(*names: str) -> list[ClaimAndPut]:
    return [
        ClaimAndPut(f"jobrun:{n}.1", 60, None, Versioned(f"job:{n}", {"n": n}, 12.0)) for n in names
    ]


@pytest.mark.usefixtures("aws_credentials")
def test_a_batch_of_claims_stops_at_a_store_failure(scripted: Any) -> None:
    """One transaction per item; an outage stops the batch there: the failing item and
    the rest are None (not confirmed written; the rest not even sent)."""
    fake = scripted((200, {}), error("InternalServerError", status=500))
    store = store_at(fake.url, [], max_attempts=1)
    assert store.claim_and_put_many(_starts("a", "b", "c")) == [True, None, None]
    assert fake.targets() == ["TransactWriteItems"] * 2
    store.close()


@pytest.mark.usefixtures("aws_credentials")
def test_a_batch_that_claimed_nothing_before_a_store_failure_raises(scripted: Any) -> None:
    other = {"pk": {"S": "jobrun"}, "sk": {"S": "a.1"}, "writer": {"S": "someone-else"}}
    fake = scripted(
        _cancelled("ConditionalCheckFailed", "None", item=other),
        error("InternalServerError", status=500),
    )
    store = store_at(fake.url, [], max_attempts=1)
    with pytest.raises(StoreUnavailable):
        store.claim_and_put_many(_starts("a", "b", "c"))
    assert fake.targets() == ["TransactWriteItems"] * 2
    store.close()


@pytest.mark.usefixtures("aws_credentials")
def test_a_batch_of_claims_failing_at_once_raises_with_nothing_written(scripted: Any) -> None:
    fake = scripted(error("InternalServerError", status=500))
    store = store_at(fake.url, [], max_attempts=1)
    with pytest.raises(StoreUnavailable):
        store.claim_and_put_many(_starts("a", "b"))
    assert fake.targets() == ["TransactWriteItems"]
    store.close()


# -- unreachable endpoints ---------------------------------------------------------------------


@pytest.mark.usefixtures("aws_credentials")
def test_a_refused_connection_is_unavailable_quickly() -> None:
    sleeps: list[float] = []
    store = store_at(f"http://127.0.0.1:{free_port()}", sleeps, max_attempts=3)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="3 attempts"):
        store.put("things:a", {})
    with pytest.raises(StoreUnavailable):
        store.ping()
    assert len(sleeps) == 4
    assert time.monotonic() - started < 10
    store.close()


@pytest.mark.usefixtures("aws_credentials")
def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections complete in the kernel, nobody ever reads or replies
        port = silent.getsockname()[1]
        store = store_at(
            f"http://127.0.0.1:{port}",
            [],
            max_attempts=2,
            connect_timeout=0.2,
            read_timeout=0.3,
        )
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="ReadTimeout"):
            store.get("things:a")
        elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 10
    store.close()


# -- against moto over HTTP --------------------------------------------------------------------


@pytest.fixture
def endpoint(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue("moto_endpoint")
    return url


@pytest.fixture
def table(endpoint: str) -> Iterator[str]:
    name = f"extra-{uuid.uuid4().hex[:12]}"
    assert create_table(name, endpoint_url=endpoint) is True
    yield name
    delete_table(name, endpoint)


def test_create_table_is_idempotent_with_ttl_and_on_demand(endpoint: str, table: str) -> None:
    assert create_table(table, endpoint_url=endpoint) is False
    dynamodb = aws_client("dynamodb", endpoint_url=endpoint)
    described = dynamodb.describe_table(TableName=table)["Table"]
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert {(k["AttributeName"], k["KeyType"]) for k in described["KeySchema"]} == {
        ("pk", "HASH"),
        ("sk", "RANGE"),
    }
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    dynamodb.close()


def test_item_layout(endpoint: str, table: str) -> None:
    clock = FakeClock()
    store = DynamoDBStore(table, endpoint_url=endpoint, clock=clock)
    store.put("audit:2026-11-01:x", {"a": 1}, ttl=10.5)
    store.put_if_newer("run:7", {"s": "done"}, version=12.25)
    dynamodb = aws_client("dynamodb", endpoint_url=endpoint)
    item = dynamodb.get_item(
        TableName=table, Key={"pk": {"S": "audit"}, "sk": {"S": "2026-11-01:x"}}
    )["Item"]
    assert item["value"] == {"S": '{"a":1}'}
    assert item["expires_at"] == {"N": "1800000011"}  # whole seconds, rounded up, for TTL
    assert "version" not in item
    run = dynamodb.get_item(TableName=table, Key={"pk": {"S": "run"}, "sk": {"S": "7"}})["Item"]
    assert run["version"] == {"N": "12.25"}
    assert "expires_at" not in run
    dynamodb.close()
    store.close()


def test_expired_items_not_yet_swept_are_invisible(endpoint: str, table: str) -> None:
    """DynamoDB deletes TTL'd items days late: reads and conditions must ignore them."""
    clock = FakeClock()
    store = DynamoDBStore(table, endpoint_url=endpoint, clock=clock)
    for n in range(5):
        store.put(f"trace:a{n}", {"n": n}, ttl=10)  # sort first, expire first
    for n in range(3):
        store.put(f"trace:b{n}", {"n": n})
    store.put_if_newer("run:1", {"v": 1}, version=50, ttl=10)
    clock.now += 11
    dynamodb = aws_client("dynamodb", endpoint_url=endpoint)
    assert dynamodb.scan(TableName=table)["Count"] == 9  # still physically there
    dynamodb.close()
    assert store.get("trace:a0") is None
    # Limit counts items read before the filter: two live ones need more than one page.
    assert [r.key for r in store.query_prefix("trace:", limit=2)] == ["trace:b0", "trace:b1"]
    assert [r.key for r in store.query_prefix("trace:a")] == []
    assert len(store.query_prefix("trace:", limit=100)) == 3
    assert store.query_prefix("trace:", limit=0) == []
    assert store.put_if_newer("run:1", {"v": 2}, version=1) is True  # lapsed: older wins
    assert store.claim("trace:a1", ttl=5) is True
    store.close()


def test_claim_after_plain_put_is_refused(endpoint: str, table: str) -> None:
    store = DynamoDBStore(table, endpoint_url=endpoint)
    store.put("delivery:9", {"held": True})  # no TTL: held for good
    assert store.claim("delivery:9", ttl=60) is False
    assert store.get("delivery:9") == {"held": True}
    store.close()


def test_missing_table_is_unavailable(endpoint: str) -> None:
    store = DynamoDBStore("no-such-table", endpoint_url=endpoint, sleep=lambda _: None)
    with pytest.raises(StoreUnavailable, match="ResourceNotFoundException"):
        store.ping()
    with pytest.raises(StoreUnavailable, match="ResourceNotFoundException"):
        store.get("things:a")
    store.close()


def test_ping_is_cached_briefly(endpoint: str, table: str) -> None:
    store = DynamoDBStore(table, endpoint_url=endpoint)
    store.ping()
    delete_table(table, endpoint)
    store.ping()  # remembered: /healthz does not cost a DescribeTable per probe
    store.close()
    create_table(table, endpoint_url=endpoint)  # for the fixture's teardown


def test_importing_the_backend_does_not_import_boto3() -> None:
    code = (
        "import sys, orchestrator.store.dynamodb, orchestrator.aws.clients; "
        "sys.exit('boto3' in sys.modules or 'botocore' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_claim_and_put_leaves_no_claim_when_the_server_refuses_the_write(
    endpoint: str, table: str
) -> None:
    """DynamoDB refuses the job row (a sort key over its 1 KB limit): the transaction is
    all or nothing, so the delivery is not left claimed without its job."""
    store = DynamoDBStore(table, endpoint_url=endpoint, sleep=lambda _: None)
    refused = Versioned("job:" + "x" * 1100, {"status": "pending"}, version=11.0)
    with pytest.raises(StoreError):
        store.claim_and_put("delivery:1", 60, None, refused)
    assert store.get("delivery:1") is None
    assert store.claim_and_put("delivery:1", 60, None, _JOB) is True
    assert store.get("job:gh-1") == {"status": "pending"}
    store.close()
