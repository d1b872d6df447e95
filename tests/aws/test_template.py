"""template.yaml and samconfig.toml: lint-clean, and the invariants a deploy depends on.

Why beyond cfn-lint: a template can be valid and still wrong for us: a named stage that
prefixes every path, a secret pasted into the environment, IAM on `*`, a handler string
that no longer matches the package. Each of those is asserted here, offline.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint
from cfnlint.config import ManualArgs
from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
FUNCTION = "OrchestratorFunction"
ROUTES = {
    ("POST", "/discord"),
    ("POST", "/github"),
    ("GET", "/healthz"),
    ("GET", "/version"),
    ("GET", "/docs"),
    ("GET", "/openapi.json"),
}
# Every secret `Settings.missing_for_prod` demands, passed only by SSM parameter name:
# GitHub's is a token or, with the GitHubAppId parameter set, an App's private key.
SECRETS = (
    "DISCORD_PUBLIC_KEY",
    "DISCORD_APPLICATION_ID",
    "DISCORD_BOT_TOKEN",
    "GITHUB_TOKEN",
    "GITHUB_WEBHOOK_SECRET",
    "GITHUB_APP_PRIVATE_KEY",
)
NO_VALUE = {"Ref": "AWS::NoValue"}


def param_name(env: dict[str, Any], name: str) -> str:
    """The `${ParameterPrefix}/...` name a secret is read from, whichever branch sets it."""
    value = env[f"{name}_PARAM"]
    if "Fn::If" in value:
        condition, when_app, when_token = value["Fn::If"]
        assert condition == "UseGitHubApp"
        branch = when_app if name == "GITHUB_APP_PRIVATE_KEY" else when_token
        assert (when_token if branch is when_app else when_app) == NO_VALUE, name
        value = branch
    assert isinstance(value, dict) and set(value) == {"Fn::Sub"}, value
    sub: str = value["Fn::Sub"]
    return sub


REGIONS = ["us-east-1", "eu-west-1", "eu-central-1"]


def load(text: str) -> dict[str, Any]:
    template: dict[str, Any] = cfn_yaml.loads(text, "template.yaml")
    return template


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load(TEMPLATE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def function(template: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = template["Resources"][FUNCTION]
    return resource


@pytest.fixture(scope="module")
def properties(function: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = function["Properties"]
    return props


@pytest.fixture(scope="module")
def env(properties: dict[str, Any]) -> dict[str, Any]:
    variables: dict[str, Any] = properties["Environment"]["Variables"]
    return variables


def statements(properties: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for policy in properties["Policies"]:
        assert isinstance(policy, dict), "policies must be inline statements, not managed names"
        found.extend(policy["Statement"])
    return found


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def cfn_lint(text: str) -> list[str]:
    matches = lint(text, config=ManualArgs(regions=REGIONS))
    return [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in matches]


# --- lint ---------------------------------------------------------------------------------


def test_cfn_lint_is_clean() -> None:
    assert cfn_lint(TEMPLATE.read_text(encoding="utf-8")) == []


def test_cfn_lint_would_catch_a_broken_copy() -> None:
    """The lint above is live: dangling references and a bad enum value are flagged."""
    text = TEMPLATE.read_text(encoding="utf-8")
    edits = {
        "LogGroup: !Ref FunctionLogGroup": "LogGroup: !Ref NoSuchGroup",
        "Destination: !GetAtt FailedJobsQueue.Arn": "Destination: !GetAtt FailedJobsQueue.Nope",
        "BillingMode: PAY_PER_REQUEST": "BillingMode: PAY_PER_REQUESTX",
    }
    for old, new in edits.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    problems = "\n".join(cfn_lint(text))
    for marker in ("NoSuchGroup", "Nope", "PAY_PER_REQUESTX"):
        assert marker in problems


# --- the function ----------------------------------------------------------------------------


def test_the_function_is_built_and_imported_as_the_artifact_gate_checks(
    function: dict[str, Any], properties: dict[str, Any]
) -> None:
    assert properties["Handler"] == "orchestrator.main.handler"
    assert properties["Runtime"] == "python3.12"
    assert properties["CodeUri"] == "."
    assert function["Metadata"]["BuildMethod"] == "makefile"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(rf"^build-{FUNCTION}:", makefile, re.M), "sam build runs this target"
    assert "$(ARTIFACTS_DIR)" in makefile


def test_sizing_fits_discords_three_seconds(
    template: dict[str, Any], properties: dict[str, Any]
) -> None:
    assert properties["MemorySize"] >= 1024, "CPU scales with memory; cold starts need it"
    assert 30 <= properties["Timeout"] <= 900
    assert properties["Architectures"] == [{"Ref": "Architecture"}]
    architecture = template["Parameters"]["Architecture"]
    assert architecture["Default"] == "x86_64"
    assert set(architecture["AllowedValues"]) == {"x86_64", "arm64"}


def test_the_http_api_routes_exactly_our_endpoints_on_the_default_stage(
    template: dict[str, Any], properties: dict[str, Any], env: dict[str, Any]
) -> None:
    routes = set()
    for event in properties["Events"].values():
        assert event["Type"] in ("HttpApi", "ScheduleV2")
        if event["Type"] != "HttpApi":
            continue
        assert event["Properties"]["ApiId"] == {"Ref": "HttpApi"}
        routes.add((event["Properties"]["Method"], event["Properties"]["Path"]))
    assert routes == ROUTES
    api = template["Resources"]["HttpApi"]
    assert api["Type"] == "AWS::Serverless::HttpApi"
    assert api.get("Properties", {}).get("StageName", "$default") == "$default"
    assert env.get("ORCHESTRATOR_API_BASE_PATH", "/") == "/", "$default has no path prefix"


# --- schedules -----------------------------------------------------------------------------

# Schedule name (what `orchestrator.schedules.timing` knows it by) -> the expression's shape.
SCHEDULES = {
    "probes.run": "rate(${ProbeIntervalMinutes} minutes)",
    "digest.send-daily": "cron(0 ${DigestHourUtc} * * ? *)",
    "digest.send-weekly": "cron(0 ${DigestHourUtc} ? * MON *)",
    "jobs.retry": "rate(2 minutes)",  # the retry sweep: no parameter, no slot of its own
    "deploys.watch": "rate(5 minutes)",  # lock reminders and waiting deploys: no parameter
}


def schedule_events(properties: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: event["Properties"]
        for name, event in properties["Events"].items()
        if event["Type"] == "ScheduleV2"
    }


def test_eventbridge_schedules_invoke_the_function_with_their_slot(
    properties: dict[str, Any],
) -> None:
    import json

    from orchestrator.config import Settings
    from orchestrator.jobs.retry import SWEEP
    from orchestrator.schedules.timing import schedules

    found = {}
    for props in schedule_events(properties).values():
        payload = json.loads(props["Input"])
        assert set(payload) == {"orchestrator_schedule", "at"}
        assert payload["at"] == "<aws.scheduler.scheduled-time>", "Scheduler fills this in"
        found[payload["orchestrator_schedule"]] = props
    assert set(found) == set(SCHEDULES)
    assert set(found) == {s.name for s in schedules(Settings())} | {SWEEP}, "names the code knows"
    for name, props in found.items():
        expression = props["ScheduleExpression"]
        assert (expression if isinstance(expression, str) else expression["Fn::Sub"]) == SCHEDULES[
            name
        ]
        assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
        assert props.get("ScheduleExpressionTimezone", "UTC") == "UTC"
        retry = props["RetryPolicy"]
        assert 0 <= retry["MaximumRetryAttempts"] <= 185
        assert 60 <= retry["MaximumEventAgeInSeconds"] <= 86400


def test_schedule_events_use_only_properties_sam_knows(properties: dict[str, Any]) -> None:
    """cfn-lint does not look inside `Events`; SAM's own schema does, so check against it."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", "AWS::Serverless::Function")
    known = schema.schema["definitions"]["ScheduleV2EventProperties"]["properties"]
    events = schedule_events(properties)
    assert len(events) == len(SCHEDULES)
    for name, props in events.items():
        assert set(props) <= set(known), f"{name}: {sorted(set(props) - set(known))}"


def test_schedule_parameters_reach_the_function(
    template: dict[str, Any], env: dict[str, Any]
) -> None:
    parameters = template["Parameters"]
    assert parameters["DigestHourUtc"]["Default"] == 9
    assert (parameters["DigestHourUtc"]["MinValue"], parameters["DigestHourUtc"]["MaxValue"]) == (
        0,
        23,
    )
    assert parameters["ProbeIntervalMinutes"]["Default"] == 5
    assert env["ORCHESTRATOR_DIGEST_HOUR"] == {"Ref": "DigestHourUtc"}
    assert env["ORCHESTRATOR_DIGEST_CHANNEL_ID"] == {"Ref": "DigestChannelId"}
    assert env["ORCHESTRATOR_OPS_CHANNEL_ID"] == {"Ref": "OpsChannelId"}
    assert "ORCHESTRATOR_SCHEDULER" not in env, "prod schedules through EventBridge"
    for name in ("DigestChannelId", "OpsChannelId"):
        pattern = parameters[name]["AllowedPattern"]
        assert re.fullmatch(pattern, "") and re.fullmatch(pattern, "123456789012345678")
        assert not re.fullmatch(pattern, "#ops")


def test_prod_configuration_and_secrets_by_name_only(
    template: dict[str, Any], env: dict[str, Any]
) -> None:
    assert env["ORCHESTRATOR_ENV"] == "prod"
    assert env["ORCHESTRATOR_STORE"] == "dynamodb"
    assert env["ORCHESTRATOR_DYNAMODB_TABLE"] == {"Ref": "Table"}
    assert env["ORCHESTRATOR_JOBS"] == "lambda"
    assert env["ORCHESTRATOR_GIT_SHA"] == {"Ref": "GitSha"}
    for name in SECRETS:
        assert name not in env, f"{name} must never be a plaintext environment value"
        assert re.fullmatch(r"\$\{ParameterPrefix\}/[a-z-]+", param_name(env, name)), name
    names = [param_name(env, name) for name in SECRETS]
    assert len(set(names)) == len(names)
    # The App's ids are not secrets; they are set only together with the App's key.
    assert template["Conditions"]["UseGitHubApp"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "GitHubAppId"}, ""]}]
    }
    for variable, parameter in (
        ("GITHUB_APP_ID", "GitHubAppId"),
        ("GITHUB_APP_INSTALLATION_ID", "GitHubAppInstallationId"),
    ):
        assert env[variable] == {"Fn::If": ["UseGitHubApp", {"Ref": parameter}, NO_VALUE]}
        assert template["Parameters"][parameter]["AllowedPattern"] == "^[0-9]*$"
    # An App id without its installation id would deploy a function that cannot start.
    rule = template["Rules"]["GitHubAppNeedsItsInstallation"]
    assert rule["RuleCondition"] == template["Conditions"]["UseGitHubApp"]
    [assertion] = rule["Assertions"]
    assert assertion["Assert"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "GitHubAppInstallationId"}, ""]}]
    }
    prefix = template["Parameters"]["ParameterPrefix"]
    assert prefix["Default"].startswith("/")
    assert re.fullmatch(prefix["AllowedPattern"], "/orchestrator/prod")
    assert not re.fullmatch(prefix["AllowedPattern"], "orchestrator/prod")
    for key, value in env.items():
        if isinstance(value, str):  # literals only for the non-secret switches
            assert key.startswith("ORCHESTRATOR_"), f"{key} is a literal outside the settings"


def test_the_table_is_on_demand_with_pk_sk_and_ttl(template: dict[str, Any]) -> None:
    table = template["Resources"]["Table"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert table["DeletionPolicy"] == "Retain"
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert {(k["AttributeName"], k["KeyType"]) for k in props["KeySchema"]} == {
        ("pk", "HASH"),
        ("sk", "RANGE"),
    }
    assert {(a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]} == {
        ("pk", "S"),
        ("sk", "S"),
    }
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


# --- least privilege --------------------------------------------------------------------------


def test_iam_names_exact_resources_and_no_wildcard_actions(properties: dict[str, Any]) -> None:
    for statement in statements(properties):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            assert "*" not in action, f"wildcard action {action}"
        for resource in as_list(statement["Resource"]):
            assert resource != "*", f"{statement.get('Sid')} on every resource"


def test_iam_reaches_the_table_the_parameters_and_itself_only(
    properties: dict[str, Any], env: dict[str, Any]
) -> None:
    by_service: dict[str, list[dict[str, Any]]] = {}
    for statement in statements(properties):
        for action in as_list(statement["Action"]):
            by_service.setdefault(action.split(":")[0], []).append(statement)
    assert set(by_service) == {"dynamodb", "ssm", "kms", "lambda"}

    for statement in by_service["dynamodb"]:
        assert as_list(statement["Resource"]) == [{"Fn::GetAtt": ["Table", "Arn"]}]
    assert "dynamodb:DescribeTable" in statements_actions(by_service["dynamodb"])

    (ssm,) = {id(s): s for s in by_service["ssm"]}.values()
    assert as_list(ssm["Action"]) == ["ssm:GetParameters"]
    arns = sorted(r["Fn::Sub"] for r in as_list(ssm["Resource"]))
    expected = sorted(
        "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter"
        + param_name(env, name)
        for name in SECRETS
    )
    assert arns == expected

    (kms,) = {id(s): s for s in by_service["kms"]}.values()
    assert as_list(kms["Action"]) == ["kms:Decrypt"]
    via = kms["Condition"]["StringEquals"]["kms:ViaService"]
    assert via == {"Fn::Sub": "ssm.${AWS::Region}.${AWS::URLSuffix}"}

    (invoke,) = {id(s): s for s in by_service["lambda"]}.values()
    assert as_list(invoke["Action"]) == ["lambda:InvokeFunction"]
    (target,) = as_list(invoke["Resource"])
    name = properties["FunctionName"]["Fn::Sub"]
    assert target["Fn::Sub"].endswith(f":function:{name}"), "self-invoke must name itself only"


def statements_actions(found: list[dict[str, Any]]) -> set[str]:
    return {action for s in found for action in as_list(s["Action"])}


# --- failures, logs, outputs ------------------------------------------------------------------


def test_failed_async_jobs_land_in_a_queue(
    template: dict[str, Any], properties: dict[str, Any]
) -> None:
    config = properties["EventInvokeConfig"]
    assert 0 <= config["MaximumRetryAttempts"] <= 2
    failure = config["DestinationConfig"]["OnFailure"]
    assert failure["Type"] == "SQS"
    queue = failure["Destination"]["Fn::GetAtt"][0]
    assert template["Resources"][queue]["Type"] == "AWS::SQS::Queue"


def test_logs_have_a_retention(template: dict[str, Any], properties: dict[str, Any]) -> None:
    group = properties["LoggingConfig"]["LogGroup"]["Ref"]
    log_group = template["Resources"][group]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_outputs_give_the_urls_to_paste(template: dict[str, Any]) -> None:
    outputs = {
        name: out["Value"]["Fn::Sub"]
        for name, out in template["Outputs"].items()
        if isinstance(out["Value"], dict) and "Fn::Sub" in out["Value"]
    }
    base = "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
    assert outputs["ApiUrl"] == base
    assert outputs["DiscordInteractionsUrl"] == base + "/discord"
    assert outputs["GitHubWebhookUrl"] == base + "/github"


# --- samconfig.toml ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def samconfig() -> dict[str, Any]:
    with (ROOT / "samconfig.toml").open("rb") as handle:
        return tomllib.load(handle)


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_samconfig_environments_deploy_this_template(
    samconfig: dict[str, Any], template: dict[str, Any], environment: str
) -> None:
    deploy = samconfig[environment]["deploy"]["parameters"]
    assert deploy["stack_name"] == f"orchestrator-{environment}"
    assert "CAPABILITY_IAM" in deploy["capabilities"]
    assert deploy["resolve_s3"] is True
    assert samconfig[environment]["build"]["parameters"]["build_in_source"] is True
    overrides = dict(pair.split("=", 1) for pair in deploy["parameter_overrides"].split())
    assert set(overrides) <= set(template["Parameters"])
    assert overrides["ParameterPrefix"] == f"/orchestrator/{environment}"
    assert re.fullmatch(
        template["Parameters"]["ParameterPrefix"]["AllowedPattern"], overrides["ParameterPrefix"]
    )
    assert overrides["Architecture"] in template["Parameters"]["Architecture"]["AllowedValues"]


def test_prod_is_the_templates_default(samconfig: dict[str, Any], template: dict[str, Any]) -> None:
    """Parameters a deploy leaves out keep their previous values or these defaults: prod's."""
    overrides = samconfig["prod"]["deploy"]["parameters"]["parameter_overrides"]
    for pair in overrides.split():
        key, value = pair.split("=", 1)
        assert str(template["Parameters"][key]["Default"]) == value, key


ACCESS = {
    "DISCORD_GUILD_IDS": "DiscordGuildIds",
    "DISCORD_ADMIN_ROLE_IDS": "DiscordAdminRoleIds",
    "DISCORD_ADMIN_USER_IDS": "DiscordAdminUserIds",
    "DISCORD_DEPLOY_ROLE_IDS": "DiscordDeployRoleIds",
    "DISCORD_DEPLOY_USER_IDS": "DiscordDeployUserIds",
    "ORCHESTRATOR_REPO": "OrchestratorRepo",
    "ORCHESTRATOR_PUBLIC_URL": "PublicUrl",
}


def test_finding_02_the_guild_list_and_access_lists_reach_the_function(
    template: dict[str, Any], env: dict[str, Any]
) -> None:
    """Production is deny-by-default and refuses to start without a guild list: the
    template carries every access list to the function, and refuses a deploy without
    guilds before the function would refuse to start."""
    for variable, parameter in ACCESS.items():
        assert env[variable] == {"Ref": parameter}, variable
        assert template["Parameters"][parameter]["Default"] == ""
    guilds = template["Parameters"]["DiscordGuildIds"]["AllowedPattern"]
    for good in ("*", "123456789012345678", "1,2,3"):
        assert re.fullmatch(guilds, good), good
    for bad in ("*,1", "ops", "1 2", "1;2"):
        assert not re.fullmatch(guilds, bad), bad
    [assertion] = template["Rules"]["GuildListIsRequired"]["Assertions"]
    assert assertion["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "DiscordGuildIds"}, ""]}]}
    for parameter in ACCESS.values():
        if parameter.startswith("Discord"):
            assert not re.fullmatch(template["Parameters"][parameter]["AllowedPattern"], "@here")
