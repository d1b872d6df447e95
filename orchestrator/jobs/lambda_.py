"""Lambda jobs: the function invokes itself asynchronously, one invocation per job.

Why a self-invoke rather than a background thread: a Lambda container is
frozen the moment the handler returns, so work left running after the HTTP
answer may never finish. An `InvocationType="Event"` invoke is accepted by
Lambda in milliseconds, queued durably, and runs the job in a container of its
own, with its own timeout, while the HTTP answer goes out at once.

Lambda retries a failed async invocation (twice by default) and may, rarely,
deliver one twice; `JobRunner`'s claim on the job id and attempt makes every
repeat a no-op, so retrying here is safe too.

The invoke is one signed HTTP request (`POST /2015-03-31/functions/{name}/invocations`,
`X-Amz-Invocation-Type: Event`) over our own thin client (`orchestrator.aws.api`), not
boto3: a cold container answering a deferred command would otherwise spend about 350 ms
importing boto3 and building its Lambda client before the answer. The function may be
named, or given as a (partial) ARN with a version or alias qualifier
(`arn:aws:lambda:eu-west-1:123456789012:function:orchestrator:live`): Lambda accepts all
of them in the path, percent-encoded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from orchestrator.jobs.base import Claim, Job, JobNotStarted, Status, record, record_write
from orchestrator.store.base import JSONObject

if TYPE_CHECKING:
    from orchestrator.aws.api import Client
    from orchestrator.jobs.runner import JobRunner
    from orchestrator.runtime import Runtime

log = logging.getLogger(__name__)

FUNCTION_NAME_VARIABLE = "AWS_LAMBDA_FUNCTION_NAME"  # set by the Lambda runtime
ATTEMPTS = 2  # a duplicate event is harmless (the runner's claim), a lost job is not
_RETRY_PAUSE = 0.05  # at most, jittered: Discord wants the answer within 3 s
# Lambda's "try again" answers, besides any 5xx.
_THROTTLED = frozenset({"TooManyRequestsException", "ThrottlingException", "EC2ThrottledException"})


_JITTER = random.SystemRandom()


def _transient(status: int, code: str) -> bool:
    """Whether an error answer is worth one more try: throttling, or Lambda's own failure."""
    return status >= 500 or code in _THROTTLED


def invoke_path(function_name: str) -> str:
    """The Invoke API's path for a name, ARN or qualified ARN (its colons encoded)."""
    return f"/2015-03-31/functions/{quote(function_name, safe='-_.~')}/invocations"


class JobDispatchError(RuntimeError):
    """The job could not be handed to Lambda. Its record is marked failed.

    The message is safe to show a user (job name and AWS error code only).
    """

    def __init__(self, job: Job, reason: str) -> None:
        self.job = job
        self.reason = reason
        super().__init__(f"could not start job {job.name!r} ({job.id}): {reason}")


class LambdaDispatcher:
    def __init__(
        self,
        services: Runtime,
        *,
        function_name: str | None = None,
        client: Client | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
    ) -> None:
        """`function_name` defaults to this very function (`AWS_LAMBDA_FUNCTION_NAME`);
        `client`, an `aws.api.Client` for Lambda, stays the caller's."""
        name = function_name or os.environ.get(FUNCTION_NAME_VARIABLE)
        if not name:
            raise RuntimeError(
                f"the lambda jobs backend needs a function to invoke: set "
                f"{FUNCTION_NAME_VARIABLE} (the Lambda runtime does) or pass function_name"
            )
        self.services = services
        self.function_name = name
        self._client = client
        self._owns_client = client is None
        self._endpoint_url = endpoint_url
        self._region = region
        self._lock = threading.Lock()

    def _lambda(self) -> Client:
        """Built on first dispatch: a request that dispatches nothing never builds it."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    from orchestrator.aws.api import Client

                    # Short timeouts: Discord wants an answer within 3 s.
                    self._client = Client(
                        "lambda",
                        endpoint_url=self._endpoint_url,
                        region=self._region,
                        connect_timeout=1.0,
                        read_timeout=2.0,
                    )
        return self._client

    def drop_client(self) -> None:
        """Close and forget the Lambda client this dispatcher built (its connections); the
        next dispatch builds another. A client handed in stays: it is the caller's.

        For a container restored from a SnapStart snapshot, whose connections and
        credentials belong to the container that took it."""
        if not self._owns_client:
            return
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def dispatch(self, name: str, payload: JSONObject, *, job_id: str | None = None) -> Job:
        job = Job(name=name, payload=payload) if job_id is None else Job(name, payload, job_id)
        return self.submit(job)

    def submit(self, job: Job) -> Job:
        record(self.services.store, job, "pending")
        return self._start(job)

    def dispatch_once(
        self, claim: Claim, name: str, payload: JSONObject, *, job_id: str
    ) -> Job | None:
        """Claim and record pending in one store transaction, then invoke (see `Dispatcher`)."""
        job = Job(name, payload, job_id)
        pending = record_write(job, "pending")
        if not self.services.store.claim_and_put(claim.key, claim.ttl, claim.value, pending):
            return None
        try:
            return self._start(job)
        except Exception as exc:
            raise JobNotStarted(f"could not start job {job.id}: {exc}") from exc

    def _start(self, job: Job) -> Job:
        """Invoke for a job whose pending record is written; a failure marks it failed (until
        the same attempt starts after all)."""
        try:
            self._invoke(job)
        except JobDispatchError as exc:
            log.error(
                "job dispatch failed",
                extra={"job": job.name, "job_id": job.id, "error": exc.reason},
            )
            # Failed, but not for good: a redelivery that starts this attempt after all
            # records its outcome over this (a plain `failed` would outrank it).
            failed = record_write(
                job, "failed", not_started=True, error=f"dispatch failed: {exc.reason}"
            )
            self.services.store.put_versioned(failed)
            raise
        return job

    def _invoke(self, job: Job) -> None:
        """One async invoke, tried again once if Lambda was unreachable, throttled or failed
        (5xx). The reason kept is AWS's error name or the transport failure's kind: safe to
        show (never the message, which may quote the request)."""
        from orchestrator.aws.api import AWSError, NotConfigured, Unreachable

        body = json.dumps(job.to_event(), separators=(",", ":")).encode()
        path = invoke_path(self.function_name)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                response = self._lambda().send(
                    "POST",
                    path,
                    operation="Invoke",
                    headers={"X-Amz-Invocation-Type": "Event"},
                    body=body,
                )
            except (AWSError, Unreachable) as exc:
                transient = not isinstance(exc, AWSError) or _transient(exc.status, exc.code)
                if transient and attempt < ATTEMPTS:
                    time.sleep(_JITTER.uniform(0, _RETRY_PAUSE))
                    continue
                raise JobDispatchError(job, f"lambda invoke: {exc.reason}") from exc
            except NotConfigured as exc:
                raise JobDispatchError(job, f"lambda invoke: {exc}") from exc
            if response.status != 202:
                raise JobDispatchError(
                    job, f"lambda invoke answered {response.status}, expected 202"
                )
            return

    def close(self, timeout: float = 10.0) -> None:
        """Nothing runs here: invoked jobs belong to their own invocations."""


def run_job_event(event: dict[str, Any], runner: JobRunner) -> dict[str, str]:
    """Run the job an async self-invoke carries; the Lambda handler's job branch.

    Synchronous because the Lambda handler is: each event gets a fresh event
    loop, closed before returning, so nothing is left on it when the container
    freezes. Raises ValueError for anything that is not one of our job events
    (the handler should check `Job.from_event` first). A failing job is
    recorded as failed and returned normally, so Lambda does not retry it: a
    retry of the same attempt would only meet the runner's claim. Errors
    outside the job (the store unreachable) do raise, and then Lambda's retry
    is what we want.
    """
    job = Job.from_event(event)
    if job is None:
        raise ValueError("not an orchestrator job event")
    # A private loop, never installed as the thread's current loop: `asyncio.run` would
    # leave "no current loop" behind, and Mangum's next HTTP invocation in this warm
    # container calls `asyncio.get_event_loop()`.
    with asyncio.Runner(loop_factory=asyncio.new_event_loop) as run:
        status: Status = run.run(runner.run(job))
    return {"job": job.id, "status": status}
