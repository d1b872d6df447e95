"""The Lambda jobs backend against moto in server mode, over HTTP.

moto cannot run the function here (that needs Docker), but with
`{"lambda": {"use_docker": false}}` it accepts invocations, and its request
recorder shows exactly what reached the server: the invocation type header
and the payload. That recorded payload is then fed to `run_job_event`, as
the Lambda runtime would feed it to the handler, twice, as Lambda's retry would.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from orchestrator.config import Settings
from orchestrator.jobs.base import Claim, Job, JobContext, JobNotStarted, JobRegistry
from orchestrator.jobs.lambda_ import JobDispatchError, LambdaDispatcher, run_job_event
from orchestrator.jobs.runner import JobRunner
from orchestrator.services import Services
from orchestrator.store.dynamodb import DynamoDBStore, create_table
from tests.support.moto_server import (
    ACCOUNT_ID,
    MotoServer,
    RecordedRequest,
    delete_table,
    moto_server,  # noqa: F401
)
from tests.support.scripted_aws import Reply, ScriptedAWS, botocore_authorization, rest_error


@pytest.fixture
def moto(request: pytest.FixtureRequest) -> MotoServer:
    server: MotoServer = request.getfixturevalue("moto_server")
    return server


@pytest.fixture
def function_name(moto: MotoServer) -> str:
    """A function moto knows, invocable without Docker."""
    import boto3

    config = moto.configure({"lambda": {"use_docker": False}})
    assert config["lambda"] == {"use_docker": False}
    session = boto3.session.Session()
    iam = session.client("iam", endpoint_url=moto.url)
    role = f"orchestrator-{uuid.uuid4().hex[:8]}"
    iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("handler.py", "def handler(event, context):\n    return event\n")
    name = f"orchestrator-{uuid.uuid4().hex[:8]}"
    lambda_client = session.client("lambda", endpoint_url=moto.url)
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=f"arn:aws:iam::{ACCOUNT_ID}:role/{role}",
        Handler="handler.handler",
        Code={"ZipFile": archive.getvalue()},
    )
    iam.close()
    lambda_client.close()
    return name


@pytest.fixture
def lambda_services(settings: Settings, moto: MotoServer) -> Iterator[Services]:
    """Services as on Lambda: the DynamoDB store (moto), the Lambda dispatcher."""
    table = f"jobs-{uuid.uuid4().hex[:12]}"
    create_table(table, endpoint_url=moto.url)
    services = Services(settings, store=DynamoDBStore(table, endpoint_url=moto.url))
    yield services
    services.close(timeout=5)
    delete_table(table, moto.url)


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials for tests that talk to a scripted endpoint rather than to moto."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))


@pytest.fixture
def jobs() -> JobRegistry:
    return JobRegistry()


def job_record(services: Services, job_id: str) -> dict[str, Any]:
    value = services.store.get(f"job:{job_id}")
    assert value is not None
    return value


def invocations(recorded: list[RecordedRequest], function: str) -> list[RecordedRequest]:
    path = f"/2015-03-31/functions/{function}/invocations"
    return [r for r in recorded if r.method == "POST" and urlsplit(r.url).path == path]


def test_dispatch_is_one_async_invoke_and_the_event_runs_once(
    moto: MotoServer, function_name: str, lambda_services: Services, jobs: JobRegistry
) -> None:
    runs: list[dict[str, Any]] = []

    @jobs.job("notify")
    async def notify(ctx: JobContext) -> None:
        runs.append(ctx.job.payload)

    dispatcher = LambdaDispatcher(
        lambda_services, function_name=function_name, endpoint_url=moto.url
    )
    moto.start_recording()
    job = dispatcher.dispatch("notify", {"channel": "123", "text": "héllo"}, job_id="job-1")
    recorded = moto.stop_recording()

    assert job_record(lambda_services, "job-1")["status"] == "pending"
    [invoke] = invocations(recorded, function_name)
    assert invoke.header("X-Amz-Invocation-Type") == "Event"
    event = json.loads(invoke.body)
    assert event == job.to_event()
    assert event["orchestrator_job"]["payload"] == {"channel": "123", "text": "héllo"}

    # Lambda delivers the event; then delivers it again (its async retry / at-least-once).
    runner = JobRunner(lambda_services, jobs)
    assert run_job_event(event, runner) == {
        "job": "job-1",
        "status": "done",
    }
    assert run_job_event(event, runner) == {
        "job": "job-1",
        "status": "duplicate",
    }
    assert runs == [{"channel": "123", "text": "héllo"}]
    assert job_record(lambda_services, "job-1")["status"] == "done"
    dispatcher.close()


def test_a_deferred_command_through_the_handler_invokes_itself_and_follows_up_once(
    moto: MotoServer,
    function_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The whole Lambda path, wired from settings as on AWS: the handler answers a deferred
    `/ping` with type 5 and one async self-invoke (`InvocationType=Event`); the invoke's
    event, fed back to the handler twice (Lambda's at-least-once), sends one follow-up."""
    import orchestrator.main
    from orchestrator.aws.events import http_api_event, response_body
    from orchestrator.config import load_settings
    from orchestrator.devkeys import load_or_create_dev_identity
    from orchestrator.devtools.discord_standin import DiscordStandIn
    from tests.support.discord_spec import DiscordSpec
    from tests.support.signing import discord_headers, dumps

    table = f"jobs-{uuid.uuid4().hex[:12]}"
    create_table(table, endpoint_url=moto.url)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", function_name)  # what the runtime sets
    state = orchestrator.main.app.state
    original = state.services
    with DiscordStandIn() as discord:
        settings = load_settings(
            ORCHESTRATOR_ENV="test",
            ORCHESTRATOR_DATA_DIR=tmp_path,
            ORCHESTRATOR_STORE="dynamodb",
            ORCHESTRATOR_DYNAMODB_TABLE=table,
            ORCHESTRATOR_JOBS="lambda",
            DISCORD_API_BASE=discord.api_base,
        )
        services = Services(settings)  # store and dispatcher chosen by the settings
        state.services = services
        try:
            interaction = {
                "type": 2,
                "id": "1300000000000000077",
                "application_id": settings.discord_application_id or "1",
                "token": "lambda-token",
                "version": 1,
                "channel_id": "2",
                "user": {"id": "3", "username": "u"},
                "data": {"id": "4", "name": "ping", "type": 1},
            }
            body = dumps(interaction)
            identity = load_or_create_dev_identity(tmp_path)
            event = http_api_event(
                "POST", "/discord", headers=discord_headers(identity, body), body=body
            )
            moto.start_recording()
            response = orchestrator.main.handler(event, None)
            recorded = moto.stop_recording()

            assert response["statusCode"] == 200
            answer = json.loads(response_body(response))
            assert answer["type"] == 5
            DiscordSpec.get().assert_valid_interaction_response(answer)
            assert discord.requests == [], "nothing ran in the request: the job was invoked"
            [invoke] = invocations(recorded, function_name)
            assert invoke.header("X-Amz-Invocation-Type") == "Event"
            job_event = json.loads(invoke.body)
            job_id = job_event["orchestrator_job"]["id"]
            assert job_record(services, job_id)["status"] == "pending"

            first = orchestrator.main.handler(job_event, None)
            second = orchestrator.main.handler(json.loads(invoke.body), None)
            assert first == {"job": job_id, "status": "done"}
            assert second == {"job": job_id, "status": "duplicate"}
            [edit] = discord.requests
            assert edit.method == "PATCH"
            assert edit.path.endswith("/lambda-token/messages/@original")
            DiscordSpec.get().assert_valid_request("PATCH", edit.path, edit.body)
            assert job_record(services, job_id)["status"] == "done"
        finally:
            state.services = original
            services.close(timeout=5)
            delete_table(table, moto.url)


def test_a_failed_invoke_raises_and_marks_the_job_failed(
    moto: MotoServer, lambda_services: Services
) -> None:
    dispatcher = LambdaDispatcher(
        lambda_services, function_name="no-such-function", endpoint_url=moto.url
    )
    # moto's Docker-less backend accepts invokes of any name; its regular backend looks the
    # function up first (and fails before it would need Docker), as AWS does.
    moto.configure({"lambda": {"use_docker": True}})
    try:
        with pytest.raises(JobDispatchError, match="ResourceNotFoundException") as raised:
            dispatcher.dispatch("notify", {"x": 1}, job_id="job-2")
    finally:
        moto.configure({"lambda": {"use_docker": False}})
    assert raised.value.job.id == "job-2"
    recorded = job_record(lambda_services, "job-2")
    assert recorded["status"] == "failed"
    assert "ResourceNotFoundException" in recorded["error"]


def test_an_unreachable_lambda_api_is_a_dispatch_error(services: Services) -> None:
    from tests.support.servers import free_port

    dispatcher = LambdaDispatcher(
        services,
        function_name="orchestrator",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        region="eu-west-1",
    )
    with pytest.raises(JobDispatchError, match="lambda invoke: ConnectError"):
        dispatcher.dispatch("notify", {}, job_id="job-3")
    assert job_record(services, "job-3")["status"] == "failed"


# -- error answers, from a scripted Lambda API on 127.0.0.1 -----------------------------------


ALIAS_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:orchestrator-prod:live"


def scripted_dispatcher(services: Services, aws: ScriptedAWS) -> LambdaDispatcher:
    return LambdaDispatcher(
        services, function_name=ALIAS_ARN, endpoint_url=aws.url, region="eu-west-1"
    )


@pytest.mark.usefixtures("aws_credentials")
def test_an_alias_arn_is_invoked_in_the_path_signed(services: Services) -> None:
    with ScriptedAWS(Reply(202)) as aws:
        job = scripted_dispatcher(services, aws).dispatch("notify", {"n": 1}, job_id="job-5")
    [sent] = aws.requests
    assert sent.path == (
        "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction"
        "%3Aorchestrator-prod%3Alive/invocations"
    )
    assert sent.header("X-Amz-Invocation-Type") == "Event"
    assert json.loads(sent.body) == job.to_event()
    signature = botocore_authorization(sent, aws.url, "eu-west-1", "lambda", "testing")
    assert signature == sent.header("Authorization")


@pytest.mark.usefixtures("aws_credentials")
def test_access_denied_is_a_dispatch_error_not_retried(services: Services) -> None:
    with (
        ScriptedAWS(rest_error("AccessDeniedException", 403)) as aws,
        pytest.raises(JobDispatchError) as raised,
    ):
        scripted_dispatcher(services, aws).dispatch("notify", {}, job_id="job-6")
    assert raised.value.reason == "lambda invoke: AccessDeniedException"
    assert "scripted" not in str(raised.value), "AWS's message is not shown"
    assert len(aws.requests) == 1
    assert job_record(services, "job-6")["status"] == "failed"


@pytest.mark.usefixtures("aws_credentials")
@pytest.mark.parametrize(
    "first", [Reply(500), rest_error("TooManyRequestsException", 429), Reply(503)]
)
def test_a_failed_or_throttled_invoke_is_tried_once_more(services: Services, first: Reply) -> None:
    with ScriptedAWS(first, Reply(202)) as aws:
        scripted_dispatcher(services, aws).dispatch("notify", {}, job_id="job-7")
    assert len(aws.requests) == 2
    assert aws.requests[0].body == aws.requests[1].body
    assert job_record(services, "job-7")["status"] == "pending"


@pytest.mark.usefixtures("aws_credentials")
def test_twice_throttled_is_a_dispatch_error(services: Services) -> None:
    throttled = rest_error("TooManyRequestsException", 429)
    with (
        ScriptedAWS(throttled, throttled, Reply(202)) as aws,
        pytest.raises(JobDispatchError, match="lambda invoke: TooManyRequestsException"),
    ):
        scripted_dispatcher(services, aws).dispatch("notify", {}, job_id="job-8")
    assert len(aws.requests) == 2


@pytest.mark.usefixtures("aws_credentials")
def test_an_unexpected_success_status_is_a_dispatch_error(services: Services) -> None:
    """A 200 is a synchronous invoke's answer: the job may have run in the request."""
    with (
        ScriptedAWS(Reply(200, {})) as aws,
        pytest.raises(JobDispatchError, match="answered 200, expected 202"),
    ):
        scripted_dispatcher(services, aws).dispatch("notify", {}, job_id="job-9")


def test_the_function_defaults_to_the_running_one(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "orchestrator-prod")
    assert LambdaDispatcher(services).function_name == "orchestrator-prod"
    assert LambdaDispatcher(services, function_name="other").function_name == "other"
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME")
    with pytest.raises(RuntimeError, match="AWS_LAMBDA_FUNCTION_NAME"):
        LambdaDispatcher(services)


def test_a_failing_job_is_reported_not_raised(services: Services, jobs: JobRegistry) -> None:
    @jobs.job("boom")
    async def boom(ctx: JobContext) -> None:
        raise RuntimeError("kaput")

    event = Job("boom", {}, id="job-4").to_event()
    result = run_job_event(event, JobRunner(services, jobs))
    assert result == {"job": "job-4", "status": "failed"}
    assert "kaput" in job_record(services, "job-4")["error"]


@pytest.mark.parametrize("event", [{}, {"orchestrator_job": {"name": "x"}}, {"version": "2.0"}])
def test_other_events_are_refused(services: Services, event: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not an orchestrator job event"):
        run_job_event(event, services.runner())


def test_importing_the_backend_does_not_import_boto3() -> None:
    code = (
        "import sys, orchestrator.jobs.lambda_; "
        "sys.exit(any(m in sys.modules for m in ('boto3', 'botocore', 'httpx')))"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_dispatch_once_claims_records_and_invokes_once(
    moto: MotoServer, function_name: str, lambda_services: Services
) -> None:
    dispatcher = LambdaDispatcher(
        lambda_services, function_name=function_name, endpoint_url=moto.url
    )
    claim = Claim("delivery:d-1", 60, {"event": "push"})
    moto.start_recording()
    job = dispatcher.dispatch_once(claim, "notify", {"x": 1}, job_id="gh-d-1")
    again = dispatcher.dispatch_once(claim, "notify", {"x": 1}, job_id="gh-d-1")
    recorded = moto.stop_recording()
    assert job is not None and again is None
    assert len(invocations(recorded, function_name)) == 1
    assert job_record(lambda_services, "gh-d-1")["status"] == "pending"
    assert lambda_services.store.get("delivery:d-1") == {"event": "push"}


@pytest.mark.parametrize("store", ["sqlite", "dynamodb"])
def test_a_redelivery_after_a_failed_invoke_ends_done(
    store: str,
    moto: MotoServer,
    function_name: str,
    jobs: JobRegistry,
    request: pytest.FixtureRequest,
) -> None:
    """The invoke fails: the job is recorded failed and the claim released (as the router
    does), GitHub redelivers, the same job id is claimed and invoked again, and its run
    records `done` over the failure. A plain `failed` (the version of `done`) would stay,
    and `jobs retry --failed` would replay a handled delivery."""
    from tests.support.servers import free_port

    services: Services = request.getfixturevalue(
        "services" if store == "sqlite" else "lambda_services"
    )

    @jobs.job("notify")
    async def notify(ctx: JobContext) -> None:
        pass

    claim = Claim("delivery:d-4", 60, {"event": "push"})
    down = LambdaDispatcher(
        services,
        function_name=function_name,
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        region="us-east-1",
    )
    with pytest.raises(JobNotStarted):
        down.dispatch_once(claim, "notify", {"x": 1}, job_id="gh-d-4")
    assert job_record(services, "gh-d-4")["status"] == "failed"
    services.store.delete(claim.key)  # the router's un-claim: GitHub may redeliver

    up = LambdaDispatcher(services, function_name=function_name, endpoint_url=moto.url)
    moto.start_recording()
    job = up.dispatch_once(claim, "notify", {"x": 1}, job_id="gh-d-4")
    recorded = moto.stop_recording()
    assert job is not None
    [invoke] = invocations(recorded, function_name)
    runner = JobRunner(services, jobs)
    assert run_job_event(json.loads(invoke.body), runner) == {"job": "gh-d-4", "status": "done"}
    assert job_record(services, "gh-d-4")["status"] == "done"
    assert "error" not in job_record(services, "gh-d-4")


def test_dispatch_once_whose_invoke_fails_is_not_started(services: Services) -> None:
    from tests.support.servers import free_port

    dispatcher = LambdaDispatcher(
        services,
        function_name="orchestrator",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        region="eu-west-1",
    )
    with pytest.raises(JobNotStarted):
        dispatcher.dispatch_once(Claim("delivery:d-3", 60), "notify", {}, job_id="gh-d-3")
    assert job_record(services, "gh-d-3")["status"] == "failed"
