"""DynamoDB store: the Lambda default, one table, same contract as the SQLite store.

Single-table layout: partition key `pk` is the key's collection (before the
first colon), sort key `sk` the rest, so a prefix query is one `Query` on one
partition. `value` holds the JSON text, `expires_at` (epoch seconds) is the
table's TTL attribute and `version` backs `put_if_newer`.

Why the details look the way they do:

* Atomicity comes from DynamoDB's conditional writes, never from this process:
  `claim` and `put_if_newer` are single conditional PutItems, which is what
  makes them correct across Lambda containers.
* `claim_and_put` is one `TransactWriteItems` (both conditional Puts, all or nothing),
  with a `ClientRequestToken`, so a retry after a lost answer is a no-op that succeeds.
  When only the versioned write's condition fails (a newer version is stored), the
  transaction is cancelled and the claim is made alone: exactly `claim` then a refused
  `put_if_newer`, with nothing left half-written in any case.
* TTL deletion is lazy (DynamoDB removes expired items up to days later), so
  every read filters on `expires_at` itself, and conditional writes treat a
  lapsed item as absent. `expires_at` is stored as whole seconds, rounded up,
  because that is what the TTL sweeper reads: records live up to a second
  longer than asked, never shorter.
* Item operations go over our own thin client (`orchestrator.aws.api`: SigV4 over
  http.client via `orchestrator.aws.wire`, DynamoDB's JSON protocol, the low-level
  client's parameters as the body), not
  boto3, whose import and client build cost a cold container about 350 ms. It does not
  retry; `_call` retries throttling and transport
  errors a bounded number of times within a time budget, then raises
  `StoreUnavailable`, which the routers answer with 503 so GitHub redelivers
  rather than the event being lost inside a slow Lambda.
* A conditional write whose response is lost is retried; the retry then fails
  its own condition against the item the first attempt wrote. Each conditional
  write therefore carries a random `writer` token and asks for the old item on
  failure: finding our own token means the first attempt won. Without this, a
  claim could be won by nobody and a job silently never run.
* `create_table` (development, tests, deploy scripts) still uses boto3, imported
  inside it: the Lambda runtime provides boto3, the artifact does not ship it, and
  neither the request path nor the SQLite path ever imports it.
"""

from __future__ import annotations

import json
import math
import random
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from orchestrator.store.base import (
    ClaimAndPut,
    Clock,
    JSONObject,
    Record,
    StoreError,
    StoreUnavailable,
    Versioned,
    encode_value,
    expiry,
    fail_fast,
    mark_failed,
    now,
    split_key,
    split_prefix,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        QueryInputTypeDef,
        TransactWriteItemTypeDef,
    )

    from orchestrator.aws.api import AWSError, Client

T = TypeVar("T")

TTL_ATTRIBUTE = "expires_at"

# Throttling and server-side trouble: worth another try after a pause.
_RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)
# The table or the credentials are wrong: retrying cannot help, but it is still an outage
# (503, redeliver later), not a bug in the caller.
_UNAVAILABLE_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "MissingAuthenticationTokenException",
        "IncompleteSignature",
    }
)
_CONDITION_FAILED = "ConditionalCheckFailedException"
TARGET = "DynamoDB_20120810"  # the JSON protocol's X-Amz-Target prefix
_CANCELLED = "TransactionCanceledException"
# A cancelled transaction lists a reason per item: "None" for an item that was fine,
# "ConditionalCheckFailed" for an answer; anything else (a conflict, throttling) is retried.
_ANSWERS = frozenset({"None", "ConditionalCheckFailed"})

# Attribute names go through placeholders: VALUE and friends are DynamoDB reserved words.
_NAMES = {
    "#pk": "pk",
    "#sk": "sk",
    "#val": "value",
    "#exp": TTL_ATTRIBUTE,
    "#ver": "version",
}
_CLAIM_CONDITION = "attribute_not_exists(#pk) OR #exp <= :now"
_NEWER_CONDITION = (
    "attribute_not_exists(#pk) OR attribute_not_exists(#ver) OR #ver < :ver OR #exp <= :now"
)
_LIVE_FILTER = "attribute_not_exists(#exp) OR #exp > :now"

_PING_CACHE_SECONDS = 5.0
_JITTER = random.SystemRandom()


def make_api(
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    connect_timeout: float = 1.0,
    read_timeout: float = 2.0,
) -> Client:
    """The item operations' client: short timeouts, no retries of its own (`_call` retries)."""
    from orchestrator.aws.api import Client

    return Client(
        "dynamodb",
        endpoint_url=endpoint_url,
        region=region,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )


def make_client(
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    connect_timeout: float = 1.0,
    read_timeout: float = 2.0,
) -> DynamoDBClient:
    """A boto3 DynamoDB client, for table administration (`create_table`) only."""
    from orchestrator.aws.clients import client

    return client(
        "dynamodb",
        endpoint_url=endpoint_url,
        region=region,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_attempts=1,
    )


def _number(value: float) -> str:
    """DynamoDB numbers travel as decimal strings; `repr` keeps a float exact."""
    if not math.isfinite(value):
        raise ValueError("numbers stored in DynamoDB must be finite")
    return format(Decimal(repr(float(value))), "f")


def _expires_at(ttl: float | None, at: float) -> str | None:
    deadline = expiry(ttl, at)
    return None if deadline is None else str(math.ceil(deadline))


def _error_code(exc: Exception) -> str:
    """A boto3 `ClientError`'s code (`create_table`)."""
    response: Mapping[str, Any] = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _cancellation_codes(exc: AWSError) -> list[str]:
    """The per-item reasons of a cancelled transaction, in the order of its items."""
    reasons = exc.body.get("CancellationReasons") or []
    return [str(reason.get("Code", "")) for reason in reasons if isinstance(reason, dict)]


class DynamoDBStore:
    def __init__(
        self,
        table: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        clock: Clock = now,
        client: Client | None = None,
        max_attempts: int = 4,
        backoff: float = 0.05,
        budget: float = 2.0,  # the request path must answer Discord within 3 s
        connect_timeout: float = 1.0,
        read_timeout: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`max_attempts` and `budget` (seconds) bound the retries of any one operation.
        `client` (an `aws.api.Client` for DynamoDB) stays the caller's: `close` leaves it."""
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.table = table
        self._clock = clock
        self._owns_client = client is None
        self._client: Client = client or make_api(
            endpoint_url=endpoint_url,
            region=region,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._budget = budget
        self._sleep = sleep
        self._ping_lock = threading.Lock()
        self._ping_ok_until = 0.0

    # -- retries ---------------------------------------------------------------------------

    def _call(self, operation: str, call: Callable[[], T]) -> T:
        """Run one request, retrying throttling and transport errors within the bounds.

        `ConditionalCheckFailedException` is passed through untouched: it is an
        answer, not a failure, and the caller decides what it means. After a failure the
        breaker makes the next calls fail fast for a moment (see `Breaker`).
        """
        fail_fast("dynamodb")
        try:
            return self._call_with_retries(operation, call)
        except StoreUnavailable:
            mark_failed()
            raise

    def _call_with_retries(self, operation: str, call: Callable[[], T]) -> T:
        from orchestrator.aws.api import AWSError, NotConfigured, Unreachable

        started = time.monotonic()
        delay = self._backoff
        attempt = 0
        while True:
            attempt += 1
            try:
                return call()
            except AWSError as exc:
                code = exc.code
                if code == _CONDITION_FAILED:
                    raise
                if code == _CANCELLED and set(_cancellation_codes(exc)) <= _ANSWERS:
                    raise  # a condition's answer, for the caller; a conflict is retried below
                if code in _UNAVAILABLE_CODES:
                    raise StoreUnavailable(
                        f"dynamodb {operation} on {self.table!r}: {code}"
                    ) from exc
                if code not in _RETRYABLE_CODES and code != _CANCELLED and exc.status < 500:
                    raise StoreError(
                        f"dynamodb {operation} on {self.table!r}: {exc.reason}"
                    ) from exc
                reason: str = exc.reason
                failure: Exception = exc
            except Unreachable as exc:
                reason, failure = exc.reason, exc
            except NotConfigured as exc:  # no credentials, no region, a bad endpoint URL
                raise StoreUnavailable(f"dynamodb {operation} on {self.table!r}: {exc}") from exc
            pause = _JITTER.uniform(delay / 2, delay)
            out_of_time = time.monotonic() - started + pause > self._budget
            if attempt >= self._max_attempts or out_of_time:
                raise StoreUnavailable(
                    f"dynamodb {operation} on {self.table!r}: {reason} "
                    f"(gave up after {attempt} attempts)"
                ) from failure
            self._sleep(pause)
            delay = min(delay * 2, 1.0)

    def _conditional_put(
        self,
        operation: str,
        item: dict[str, AttributeValueTypeDef],
        condition: str,
        values: dict[str, AttributeValueTypeDef],
    ) -> bool:
        """PutItem under `condition`; True if this call's write is the one stored."""
        from orchestrator.aws.api import AWSError

        token = secrets.token_hex(8)
        item = {**item, "writer": {"S": token}}
        names = {k: v for k, v in _NAMES.items() if k in condition}
        try:
            self._call(
                operation,
                lambda: self._op(
                    "PutItem",
                    TableName=self.table,
                    Item=item,
                    ConditionExpression=condition,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                ),
            )
        except AWSError as exc:
            if exc.code != _CONDITION_FAILED:
                raise  # pragma: no cover - _call maps every other code
            # An earlier attempt of this very call may have written before its answer was lost.
            old = exc.body.get("Item") or {}
            return bool(old.get("writer", {}).get("S") == token)
        return True

    # -- the Store interface -------------------------------------------------------------

    def claim(self, key: str, ttl: float, value: JSONObject | None = None) -> bool:
        at = self._clock()
        item = self._claim_item(key, ttl, value, at)
        return self._conditional_put("claim", item, _CLAIM_CONDITION, {":now": {"N": _number(at)}})

    def claim_and_put(
        self, key: str, ttl: float, value: JSONObject | None, write: Versioned
    ) -> bool:
        from orchestrator.aws.api import AWSError

        at = self._clock()
        claim_item = self._claim_item(key, ttl, value, at)
        put_item = self._versioned_item(write.key, write.value, write.version, write.ttl, at)
        token = secrets.token_hex(16)
        claim_item["writer"] = {"S": token}
        put_item["writer"] = {"S": token}
        now_value: AttributeValueTypeDef = {"N": _number(at)}
        names = {k: v for k, v in _NAMES.items() if k in _NEWER_CONDITION}
        items: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": claim_item,
                    "ConditionExpression": _CLAIM_CONDITION,
                    "ExpressionAttributeNames": {"#pk": "pk", "#exp": TTL_ATTRIBUTE},
                    "ExpressionAttributeValues": {":now": now_value},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            {
                "Put": {
                    "TableName": self.table,
                    "Item": put_item,
                    "ConditionExpression": _NEWER_CONDITION,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": {
                        ":ver": {"N": _number(write.version)},
                        ":now": now_value,
                    },
                }
            },
        ]
        try:
            self._call(
                "claim_and_put",
                lambda: self._op(
                    "TransactWriteItems", TransactItems=items, ClientRequestToken=token
                ),
            )
        except AWSError as exc:
            if exc.code != _CANCELLED:
                raise  # pragma: no cover - _call maps every other code
            claim_reason, put_reason, *_ = [*_cancellation_codes(exc), "", ""]
            if claim_reason == "ConditionalCheckFailed":
                # Taken, unless an earlier attempt of this very call won before its answer
                # was lost (the idempotency token normally answers that retry itself).
                reasons = exc.body.get("CancellationReasons") or [{}]
                old = reasons[0].get("Item") or {}
                return bool(old.get("writer", {}).get("S") == token)
            if put_reason == "ConditionalCheckFailed":
                # A newer version is stored: `put_if_newer` would refuse it; claim alone.
                return self._conditional_put(
                    "claim",
                    self._claim_item(key, ttl, value, at),
                    _CLAIM_CONDITION,
                    {":now": now_value},
                )
            raise StoreError(
                f"dynamodb claim_and_put: cancelled {_cancellation_codes(exc)}"
            ) from exc
        return True

    def claim_and_put_many(self, items: Sequence[ClaimAndPut]) -> list[bool | None]:
        """One `claim_and_put` after another: a transaction fails as a whole when any of its
        conditions does, and a taken claim is an answer here, not a failure. An item it
        refuses before sending (a value too large) is None and the others go on; a store
        failure stops the batch there, the rest not sent (None)."""
        won: list[bool | None] = []
        for item in items:
            try:
                won.append(self.claim_and_put(item.key, item.ttl, item.value, item.write))
            except StoreError:
                if not any(won):
                    raise  # nothing written (as far as `claim_and_put` knows)
                return won + [None] * (len(items) - len(won))
            except ValueError:  # raised before sending: nothing of this item was written
                if len(items) == 1:
                    raise
                won.append(None)
        return won

    def _claim_item(
        self, key: str, ttl: float, value: JSONObject | None, at: float
    ) -> dict[str, AttributeValueTypeDef]:
        collection, rest = split_key(key)
        item: dict[str, AttributeValueTypeDef] = {
            "pk": {"S": collection},
            "sk": {"S": rest},
            "value": {"S": encode_value(value or {"claimed_at": at})},
        }
        expires_at = _expires_at(ttl, at)
        if expires_at is not None:
            item[TTL_ATTRIBUTE] = {"N": expires_at}
        return item

    def _versioned_item(
        self, key: str, value: JSONObject, version: float, ttl: float | None, at: float
    ) -> dict[str, AttributeValueTypeDef]:
        collection, rest = split_key(key)
        item: dict[str, AttributeValueTypeDef] = {
            "pk": {"S": collection},
            "sk": {"S": rest},
            "value": {"S": encode_value(value)},
            "version": {"N": _number(version)},
        }
        expires_at = _expires_at(ttl, at)
        if expires_at is not None:
            item[TTL_ATTRIBUTE] = {"N": expires_at}
        return item

    def put(self, key: str, value: JSONObject, ttl: float | None = None) -> None:
        collection, rest = split_key(key)
        item: dict[str, AttributeValueTypeDef] = {
            "pk": {"S": collection},
            "sk": {"S": rest},
            "value": {"S": encode_value(value)},
        }
        expires_at = _expires_at(ttl, self._clock())
        if expires_at is not None:
            item[TTL_ATTRIBUTE] = {"N": expires_at}
        self._call("put", lambda: self._op("PutItem", TableName=self.table, Item=item))

    def put_versioned(self, write: Versioned) -> bool:
        """The whole item, `write.kept` included: the value is one JSON text attribute, and an
        UpdateItem is billed by the item's full size anyway, so carrying a field over would
        save nothing but a few bytes on the wire while costing a read."""
        return self.put_if_newer(write.key, write.value, write.version, write.ttl)

    def put_versioned_many(self, writes: Sequence[Versioned]) -> None:
        for write in writes:
            self.put_versioned(write)

    def put_if_newer(
        self, key: str, value: JSONObject, version: float, ttl: float | None = None
    ) -> bool:
        at = self._clock()
        item = self._versioned_item(key, value, version, ttl, at)
        values: dict[str, AttributeValueTypeDef] = {
            ":ver": {"N": _number(version)},
            ":now": {"N": _number(at)},
        }
        return self._conditional_put("put_if_newer", item, _NEWER_CONDITION, values)

    def get(self, key: str) -> JSONObject | None:
        collection, rest = split_key(key)
        response = self._call(
            "get",
            lambda: self._op(
                "GetItem",
                TableName=self.table,
                Key={"pk": {"S": collection}, "sk": {"S": rest}},
                ConsistentRead=True,
            ),
        )
        item = response.get("Item")
        if item is None or not self._live(item):
            return None
        value: JSONObject = json.loads(item["value"]["S"])
        return value

    def delete(self, key: str) -> None:
        collection, rest = split_key(key)
        self._call(
            "delete",
            lambda: self._op(
                "DeleteItem",
                TableName=self.table,
                Key={"pk": {"S": collection}, "sk": {"S": rest}},
            ),
        )

    def query_prefix(
        self, prefix: str, limit: int = 100, newest_first: bool = False
    ) -> list[Record]:
        collection, rest = split_prefix(prefix)
        if limit <= 0:
            return []
        at = self._clock()
        condition = "#pk = :pk" + (" AND begins_with(#sk, :rest)" if rest else "")
        values: dict[str, AttributeValueTypeDef] = {
            ":pk": {"S": collection},
            ":now": {"N": _number(at)},
        }
        if rest:
            values[":rest"] = {"S": rest}
        records: list[Record] = []
        start: dict[str, Any] | None = None
        # `Limit` counts items read before the expiry filter, so keep paging until enough
        # live records arrive or the partition runs out.
        while len(records) < limit:
            request: QueryInputTypeDef = {
                "TableName": self.table,
                "KeyConditionExpression": condition,
                "FilterExpression": _LIVE_FILTER,
                "ProjectionExpression": "#sk, #val",
                "ExpressionAttributeNames": {
                    k: v for k, v in _NAMES.items() if k in {"#pk", "#sk", "#val", "#exp"}
                },
                "ExpressionAttributeValues": values,
                "ScanIndexForward": not newest_first,
                "ConsistentRead": True,
                "Limit": limit - len(records),
            }
            if start is not None:
                request["ExclusiveStartKey"] = start
            page = self._call("query", partial(self._op, "Query", **request))
            for item in page.get("Items", []):
                records.append(
                    Record(f"{collection}:{item['sk']['S']}", json.loads(item["value"]["S"]))
                )
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        return records[:limit]

    def ping(self) -> None:
        """DescribeTable, remembered for a few seconds so `/healthz` stays cheap."""
        if time.monotonic() < self._ping_ok_until:
            return
        with self._ping_lock:
            if time.monotonic() < self._ping_ok_until:
                return
            response = self._call("ping", lambda: self._op("DescribeTable", TableName=self.table))
            status = response["Table"].get("TableStatus", "")
            if status not in {"ACTIVE", "UPDATING"}:
                raise StoreUnavailable(f"dynamodb table {self.table!r} is {status or 'unknown'}")
            self._ping_ok_until = time.monotonic() + _PING_CACHE_SECONDS

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    # -- helpers ---------------------------------------------------------------------------

    def _op(self, operation: str, **request: Any) -> dict[str, Any]:
        """One DynamoDB operation: its parameters are the low-level client's, as JSON."""
        return self._client.json(TARGET, operation, request)

    def _live(self, item: Mapping[str, Any]) -> bool:
        expires = item.get(TTL_ATTRIBUTE)
        return expires is None or Decimal(expires["N"]) > Decimal(_number(self._clock()))


def create_table(
    table: str,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    client: DynamoDBClient | None = None,
    wait_seconds: int = 60,
) -> bool:
    """Create the store's table if it is missing: on-demand, `pk`/`sk`, TTL on `expires_at`.

    Idempotent, so deploy scripts and tests can call it blindly. True if the
    table was created by this call.
    """
    from botocore.exceptions import BotoCoreError, ClientError, WaiterError

    own = client is None
    dynamodb = client or make_client(endpoint_url=endpoint_url, region=region, read_timeout=10)
    try:
        created = True
        try:
            dynamodb.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                KeySchema=[
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
            )
        except ClientError as exc:
            if _error_code(exc) != "ResourceInUseException":
                raise
            created = False
        dynamodb.get_waiter("table_exists").wait(
            TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": max(1, wait_seconds)}
        )
        ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        if ttl.get("TimeToLiveStatus") not in {"ENABLED", "ENABLING"}:
            dynamodb.update_time_to_live(
                TableName=table,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
            )
        return created
    except ClientError as exc:
        raise StoreError(f"could not create dynamodb table {table!r}: {_error_code(exc)}") from exc
    except (BotoCoreError, WaiterError) as exc:
        raise StoreUnavailable(
            f"could not create dynamodb table {table!r}: {type(exc).__name__}"
        ) from exc
    finally:
        if own:
            dynamodb.close()
