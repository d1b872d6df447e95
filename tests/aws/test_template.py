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
from cfnlint.context.parameters import ParameterSet
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
    ("GET", "/docs/assets/{name}"),
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


def cfn_lint(text: str, parameters: dict[str, str] | None = None) -> list[str]:
    config = ManualArgs(regions=REGIONS)
    if parameters:
        config = ManualArgs(regions=REGIONS, parameters=[ParameterSet(parameters=parameters)])
    matches = lint(text, config=config)
    return [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in matches]


SNAPSTART_APPLY_ON = "ApplyOn: !If [SnapStartOn, PublishedVersions, None]"


def rendered(snapstart: str, text: str | None = None) -> str:
    """The template as SAM receives it with `SnapStart=<snapstart>`: the LanguageExtensions
    transform has resolved the condition to a literal, and the parameter's default is the
    value deployed."""
    text = TEMPLATE.read_text(encoding="utf-8") if text is None else text
    apply_on = {"on": "PublishedVersions", "off": "None"}[snapstart]
    assert text.count(SNAPSTART_APPLY_ON) == 1
    text = text.replace(SNAPSTART_APPLY_ON, f"ApplyOn: {apply_on}")
    condition = '  SnapStartOn: !Equals [!Ref SnapStart, "on"]\n'  # resolved, so unused
    assert text.count(condition) == 1
    text = text.replace(condition, "")
    default = '  SnapStart:\n    Type: String\n    Default: "off"\n'
    assert text.count(default) == 1
    return text.replace(default, default.replace('"off"', f'"{snapstart}"'))


# --- lint ---------------------------------------------------------------------------------


def test_cfn_lint_is_clean() -> None:
    assert cfn_lint(TEMPLATE.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("snapstart", ["on", "off"])
def test_cfn_lint_is_clean_with_snapstart_on_and_off(snapstart: str) -> None:
    """Both ways the switch can be deployed: as a parameter value, and as the template SAM
    gets once CloudFormation has resolved it (a literal `ApplyOn`)."""
    text = TEMPLATE.read_text(encoding="utf-8")
    assert cfn_lint(text, {"SnapStart": snapstart}) == []
    assert cfn_lint(rendered(snapstart)) == []


def test_cfn_lint_would_catch_snapstart_without_published_versions() -> None:
    """The lint above is live for SnapStart: without the alias (so without published
    versions) the switched-on template is flagged, the switched-off one is not."""
    text = TEMPLATE.read_text(encoding="utf-8")
    for line in ("      AutoPublishAlias: live\n", "      AutoPublishAliasAllProperties: true\n"):
        assert text.count(line) == 1, line
        text = text.replace(line, "")
    text = text.replace("      VersionDeletionPolicy: Delete\n", "")
    assert any(p.startswith("W2530") for p in cfn_lint(rendered("on", text)))
    assert not any(p.startswith("W2530") for p in cfn_lint(rendered("off", text)))


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


def test_every_route_the_app_serves_is_routed_by_the_http_api() -> None:
    """An endpoint the app answers but the HTTP API does not route is a 404 on AWS only
    (as `/docs` would be without its asset route): the template must list each one."""
    import importlib
    import pkgutil

    from fastapi.routing import APIRoute

    import orchestrator.routers
    from orchestrator.main import app

    served = {("GET", app.openapi_url)}
    for info in pkgutil.iter_modules(orchestrator.routers.__path__):
        module = importlib.import_module(f"orchestrator.routers.{info.name}")
        router = getattr(module, "router", None)
        for route in getattr(router, "routes", []):
            if isinstance(route, APIRoute) and not route.path.endswith("/"):  # not an alias
                served |= {(method, route.path) for method in route.methods - {"HEAD"}}
    assert served == ROUTES


# --- published versions, the alias, SnapStart ------------------------------------------------


def test_every_caller_invokes_the_alias_of_a_published_version(
    template: dict[str, Any], properties: dict[str, Any], env: dict[str, Any]
) -> None:
    """SnapStart only snapshots published versions, so everything goes through the alias SAM
    publishes: the HTTP API and the schedules (SAM points event sources at the alias when
    `AutoPublishAlias` is set), and the jobs, which invoke `ORCHESTRATOR_JOBS_FUNCTION`."""
    assert template["Transform"] == ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"], (
        "without LanguageExtensions first, a parameter-only change would not publish"
    )
    alias = properties["AutoPublishAlias"]
    assert alias == "live"
    assert properties["AutoPublishAliasAllProperties"] is True
    assert properties["VersionDeletionPolicy"] == "Delete", "each old snapshot is billed"
    name = properties["FunctionName"]["Fn::Sub"]
    assert env["ORCHESTRATOR_JOBS_FUNCTION"] == {"Fn::Sub": f"{name}:{alias}"}
    assert template["Outputs"]["FunctionAlias"]["Value"] == {"Ref": f"{FUNCTION}.Alias"}
    # The failed-jobs queue and the retries follow the alias: SAM attaches EventInvokeConfig
    # to it, so nothing may invoke $LATEST or a version number directly.
    assert "EventInvokeConfig" in properties


def test_snapstart_is_a_parameter_off_by_default(
    template: dict[str, Any], properties: dict[str, Any]
) -> None:
    parameter = template["Parameters"]["SnapStart"]
    assert parameter["Default"] == "off"
    assert set(parameter["AllowedValues"]) == {"on", "off"}
    assert template["Conditions"]["SnapStartOn"] == {"Fn::Equals": [{"Ref": "SnapStart"}, "on"]}
    assert properties["SnapStart"] == {
        "ApplyOn": {"Fn::If": ["SnapStartOn", "PublishedVersions", "None"]}
    }
    runtime = properties["Runtime"]
    assert runtime.startswith("python3.") and int(runtime.split(".")[1]) >= 12, (
        "SnapStart for Python needs python3.12 or later"
    )
    # The hooks ship with the function: the runtime calls what the app registers there.
    runtime_lock = (ROOT / "requirements" / "runtime.txt").read_text(encoding="utf-8")
    assert re.search(r"^snapshot-restore-py==", runtime_lock, re.M)


# --- schedules -----------------------------------------------------------------------------

# Schedule name (what `orchestrator.schedules.timing` knows it by) -> the expression's shape.
SCHEDULES = {
    "probes.run": "rate(${ProbeIntervalMinutes} minutes)",
    "digest.send-daily": "cron(0 ${DigestHourUtc} * * ? *)",
    "digest.send-weekly": "cron(0 ${DigestHourUtc} ? * MON *)",
    "jobs.retry": "rate(2 minutes)",  # the retry sweep: no parameter, no slot of its own
    "deploys.watch": "rate(5 minutes)",  # lock reminders and waiting deploys: no parameter
    "deploys.reconcile": "rate(5 minutes)",  # lost webhooks: runs past the threshold, deliveries
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
    alias = properties["AutoPublishAlias"]
    assert target["Fn::Sub"] == (
        f"arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{name}:{alias}"
    ), "jobs may invoke this function's alias only"


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
    """Parameters a deploy leaves out keep their previous values or these defaults: prod's,
    except the secrets' prefix, which has no default: each stack names its own."""
    overrides = samconfig["prod"]["deploy"]["parameters"]["parameter_overrides"]
    for pair in overrides.split():
        key, value = pair.split("=", 1)
        if key in NO_DEFAULT:
            continue
        assert str(template["Parameters"][key]["Default"]) == value, key


# Parameters every stack must name itself: a default would hand one stack another's value.
NO_DEFAULT = {"ParameterPrefix"}


def test_the_secrets_prefix_has_no_default(template: dict[str, Any]) -> None:
    """A default of /orchestrator/prod made a dev stack deployed without the override read
    production's secrets; without one, CloudFormation refuses such a deploy."""
    for name in NO_DEFAULT:
        assert "Default" not in template["Parameters"][name], name


def resolve(value: Any, parameters: dict[str, str]) -> str:
    """A `!Sub` string with the parameters filled in (pseudo parameters stay as they are)."""
    text: str = value["Fn::Sub"] if isinstance(value, dict) else value
    return re.sub(r"\$\{(\w+)\}", lambda m: parameters.get(m.group(1), m.group(0)), text)


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_each_stack_reads_its_own_secrets(
    samconfig: dict[str, Any],
    template: dict[str, Any],
    env: dict[str, Any],
    properties: dict[str, Any],
    environment: str,
) -> None:
    """Deployed with its samconfig overrides (what docs/deploy.md runs), a stack's function
    is told, and allowed, to read only the parameters under its own prefix."""
    deploy = samconfig[environment]["deploy"]["parameters"]
    overrides = dict(pair.split("=", 1) for pair in deploy["parameter_overrides"].split())
    assert set(overrides) >= NO_DEFAULT, f"{environment} must name {NO_DEFAULT}"
    own = f"/orchestrator/{environment}/"
    for name in SECRETS:
        assert resolve(param_name(env, name), overrides).startswith(own), name
    arns = [
        resolve(resource, overrides)
        for statement in statements(properties)
        if "ssm:GetParameters" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    ]
    assert arns and all(f":parameter{own}" in arn for arn in arns), arns


def test_schedules_are_named_after_their_stack(properties: dict[str, Any]) -> None:
    """SAM names a schedule after its logical id unless told otherwise, so a second stack of
    this template in the account (dev beside prod) would fail on the first one's names."""
    names = []
    for props in schedule_events(properties).values():
        name = props["Name"]["Fn::Sub"]
        assert name.startswith("${AWS::StackName}-"), name
        assert len(name.replace("${AWS::StackName}", "orchestrator-prod")) <= 64
        names.append(name)
    assert len(set(names)) == len(names) == len(SCHEDULES)


def test_every_variable_the_template_sets_is_read_by_the_code(env: dict[str, Any]) -> None:
    """A variable nothing reads (GitSha's ORCHESTRATOR_GIT_SHA was one) looks like
    configuration and does nothing: every one must be a setting the code documents."""
    from orchestrator.config import settings_table

    known = {variable for variable, _default, _description in settings_table()}
    assert sorted(set(env) - known) == []


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
