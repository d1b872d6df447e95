"""docs/deploy.md, checked against the template it documents.

Why: the deploy guide is followed by someone with an empty AWS account and no other help.
A shell variable it never sets, a deploy role that lacks the permission for one resource the
template creates, or an access parameter it never mentions each stops that person cold,
and only on the day they try. These checks read the guide the way they would.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "deploy.md"
TEMPLATE = ROOT / "template.yaml"

# --- the text ---------------------------------------------------------------------------------

_FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.S | re.M)
_INLINE = re.compile(r"`([^`\n]+)`")
SHELLS = {"sh", "bash", "shell", "console", ""}


def code(text: str) -> list[tuple[str, str]]:
    """Every piece of code in document order: (language, text). Inline spans are "inline"."""
    pieces: list[tuple[int, str, str]] = []
    covered: list[tuple[int, int]] = []
    for match in _FENCE.finditer(text):
        pieces.append((match.start(), match.group(2), match.group(3)))
        covered.append(match.span())
    for match in _INLINE.finditer(text):
        if not any(start <= match.start() < end for start, end in covered):
            pieces.append((match.start(), "inline", match.group(1)))
    return [(language, body) for _, language, body in sorted(pieces)]


# Assignments (`NAME=value`, also as a command's environment), `read [flags] NAME`, `for NAME in`.
_DEFINES = re.compile(
    r"(?<![\w$/.-])([A-Za-z_]\w*)=|\bread\b(?:\s+-\w+(?:\s+\"[^\"]*\")?)*\s+([A-Za-z_]\w*)"
    r"|\bfor\s+([A-Za-z_]\w*)\s+in\b"
)
_USES = re.compile(r"\$\{?([A-Za-z_]\w*)")
# Not set by the reader, and not theirs to set: API Gateway's stage is literally `$default`;
# GitHub Actions sets these for the workflow (the guide names them when describing it).
NOT_SHELL_VARIABLES = {"default", "GITHUB_SHA", "GITHUB_REPOSITORY"}


def unset_variables(text: str) -> list[str]:
    """Variables used in shell code or inline code before anything in the guide sets them."""
    defined: set[str] = set()
    problems = []
    for language, body in code(text):
        if language not in SHELLS | {"inline"}:
            continue  # JSON, YAML, TOML: `$` means nothing there
        events = [(m.start(), "use", m.group(1)) for m in _USES.finditer(body)]
        for match in _DEFINES.finditer(body):
            name = next(group for group in match.groups() if group)
            events.append((match.start(), "define", name))
        for _, kind, name in sorted(events, key=lambda e: (e[0], e[1] == "use")):
            if kind == "define":
                defined.add(name)
            elif name not in defined and name not in NOT_SHELL_VARIABLES:
                problems.append(f"${name} in `{body.strip()[:80]}`")
    return problems


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def test_every_variable_the_guide_uses_is_set_first(doc: str) -> None:
    assert unset_variables(doc) == []


def test_the_variable_check_is_live() -> None:
    assert unset_variables("Run `curl $ApiUrl/version`.") == ["$ApiUrl in `curl $ApiUrl/version`"]
    assert unset_variables('```sh\nX=1\necho "$X"\n```\n') == []
    assert unset_variables('```sh\necho "$X"\nX=1\n```\n') == ['$X in `echo "$X"\nX=1`']
    assert unset_variables('```sh\nread -rsp "token: " T && echo "$T"\n```\n') == []
    assert unset_variables('```json\n{"a": "$X"}\n```\n') == []


# --- who may use the bot ------------------------------------------------------------------------

# Template parameter -> the environment variable it sets (both must be named in the guide).
ACCESS = {
    "DiscordGuildIds": "DISCORD_GUILD_IDS",
    "DiscordAdminRoleIds": "DISCORD_ADMIN_ROLE_IDS",
    "DiscordAdminUserIds": "DISCORD_ADMIN_USER_IDS",
    "DiscordDeployRoleIds": "DISCORD_DEPLOY_ROLE_IDS",
    "DiscordDeployUserIds": "DISCORD_DEPLOY_USER_IDS",
    "OrchestratorRepo": "ORCHESTRATOR_REPO",
    "PublicUrl": "ORCHESTRATOR_PUBLIC_URL",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = cfn_yaml.loads(TEMPLATE.read_text(encoding="utf-8"), "template.yaml")
    return loaded


def test_the_guide_lists_every_access_parameter(doc: str, template: dict[str, Any]) -> None:
    env = template["Resources"]["OrchestratorFunction"]["Properties"]["Environment"]["Variables"]
    for parameter, variable in ACCESS.items():
        assert env[variable] == {"Ref": parameter}
        [row] = [line for line in doc.splitlines() if line.startswith(f"| `{parameter}` |")]
        assert f"`{variable}`" in row, parameter


def sam_deploys(doc: str) -> list[list[str]]:
    found = []
    for language, body in code(doc):
        if language in SHELLS | {"inline"}:
            joined = body.replace("\\\n", " ")
            for line in joined.splitlines():
                if line.strip().startswith("sam deploy"):
                    found.append(shlex.split(line.split("#")[0]))
    return found


def test_documented_deploys_with_overrides_name_their_stacks_prefix(doc: str) -> None:
    """`--parameter-overrides` replaces samconfig's list: a documented command that passes it
    must repeat the stack's own secrets prefix, or a new dev stack has none."""
    checked = 0
    for words in sam_deploys(doc):
        if "--parameter-overrides" not in words:
            continue
        environment = words[words.index("--config-env") + 1]
        start = words.index("--parameter-overrides") + 1
        overrides = dict(w.split("=", 1) for w in words[start:] if "=" in w)
        assert overrides.get("ParameterPrefix") == f"/orchestrator/{environment}", words
        checked += 1
    assert checked, "the guide shows a deploy with overrides"


# --- the deploy role ----------------------------------------------------------------------------

# What SAM turns its types into (its translator is not installed; these follow SAM's docs):
# a function gets an execution role; an HTTP API gets its `$default` stage; an HttpApi event
# a permission for the API to invoke the function; a ScheduleV2 event a schedule and a role
# Scheduler assumes; EventInvokeConfig its own resource. A new type the template starts using
# fails below until it is added here and the guide's policy covers it.
SAM_RESOURCES = {
    "AWS::Serverless::Function": ("AWS::Lambda::Function", "AWS::IAM::Role"),
    "AWS::Serverless::HttpApi": ("AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Stage"),
}
SAM_EVENTS = {
    "HttpApi": ("AWS::Lambda::Permission",),
    "ScheduleV2": ("AWS::Scheduler::Schedule", "AWS::IAM::Role"),
}
SAM_FUNCTION_PROPERTIES = {"EventInvokeConfig": ("AWS::Lambda::EventInvokeConfig",)}
# Deploying any stack of this template: change sets (and SAM's transform), SAM's artifact
# bucket, the stack's outputs the workflow reads.
DEPLOY_ACTIONS = {
    "cloudformation:CreateChangeSet",
    "cloudformation:DescribeChangeSet",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:DescribeStacks",
    "cloudformation:DescribeStackEvents",
    "cloudformation:GetTemplateSummary",
    "s3:PutObject",
    "s3:GetObject",
    "s3:ListBucket",
}
# Actions a type's handlers list that the template's use of it never needs: no VPC or file
# system, no KMS key of our own, no Kinesis stream or log delivery; no table replicas,
# autoscaling or S3 import (DynamoDB's service-linked role, object metadata); no log delivery
# to S3 (`s3:REST.PUT.OBJECT`). Leaving them out keeps the role smaller.
NOT_NEEDED_PREFIXES = ("ec2:", "kms:", "elasticfilesystem:", "s3files:", "firehose:", "kinesis:")
NOT_NEEDED = {"iam:CreateServiceLinkedRole", "s3:GetObjectMetadata", "s3:REST.PUT.OBJECT"}


def created_types(template: dict[str, Any]) -> set[str]:
    """Every CloudFormation resource type a deploy of the template creates."""
    types: set[str] = set()
    for name, resource in template["Resources"].items():
        kind = resource["Type"]
        if not kind.startswith("AWS::Serverless::"):
            types.add(kind)
            continue
        assert kind in SAM_RESOURCES, f"{name}: teach this test what SAM makes of {kind}"
        types.update(SAM_RESOURCES[kind])
        props = resource.get("Properties", {})
        for event in props.get("Events", {}).values():
            assert event["Type"] in SAM_EVENTS, f"{name}: what does SAM make of {event['Type']}?"
            types.update(SAM_EVENTS[event["Type"]])
        for prop, made in SAM_FUNCTION_PROPERTIES.items():
            if prop in props:
                types.update(made)
    return types


def required_actions(resource_type: str) -> set[str]:
    """What CloudFormation calls to create, update and delete one: the type's own handlers
    (the registry schemas cfn-lint ships), minus what this template never uses."""
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
    handlers = schema["handlers"]
    actions = set()
    for step in ("create", "read", "update", "delete"):
        actions.update(handlers.get(step, {}).get("permissions", []))
    return {a for a in actions if not a.startswith(NOT_NEEDED_PREFIXES) and a not in NOT_NEEDED}


def policy_statements(doc: str) -> list[dict[str, Any]]:
    """The deploy role's permissions: the guide's JSON policy that creates change sets."""
    found = []
    for language, body in code(doc):
        if language == "json" and "cloudformation:CreateChangeSet" in body:
            found.append(json.loads(body))
    [policy] = found
    assert policy["Version"] == "2012-10-17"
    statements: list[dict[str, Any]] = policy["Statement"]
    return statements


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def granted(statements: list[dict[str, Any]], action: str) -> bool:
    return any(
        fnmatch.fnmatchcase(action.lower(), pattern.lower())
        for statement in statements
        if statement["Effect"] == "Allow"
        for pattern in as_list(statement["Action"])
    )


def missing_actions(statements: list[dict[str, Any]], types: set[str]) -> dict[str, list[str]]:
    missing = {}
    for resource_type in sorted(types):
        lacking = sorted(a for a in required_actions(resource_type) if not granted(statements, a))
        if lacking:
            missing[resource_type] = lacking
    lacking = sorted(a for a in DEPLOY_ACTIONS if not granted(statements, a))
    if lacking:
        missing["deploying"] = lacking
    return missing


def test_the_template_creates_what_the_policy_check_expects(template: dict[str, Any]) -> None:
    types = created_types(template)
    assert "AWS::Scheduler::Schedule" in types, "the four schedules"
    assert {"AWS::Lambda::Function", "AWS::DynamoDB::Table", "AWS::SQS::Queue"} <= types


def test_the_deploy_role_may_create_every_resource_type(doc: str, template: dict[str, Any]) -> None:
    statements = policy_statements(doc)
    assert missing_actions(statements, created_types(template)) == {}


def test_the_policy_check_is_live(doc: str, template: dict[str, Any]) -> None:
    """Without its Scheduler statement (the guide's old omission) the check names what lacks."""
    statements = [s for s in policy_statements(doc) if s.get("Sid") != "Schedules"]
    missing = missing_actions(statements, created_types(template))
    assert "scheduler:CreateSchedule" in missing["AWS::Scheduler::Schedule"]


def test_the_deploy_role_is_scoped(doc: str) -> None:
    """Wildcard actions only on this stack's own resources; IAM never wildcarded."""
    for statement in policy_statements(doc):
        assert statement["Effect"] == "Allow" and "NotAction" not in statement
        actions = as_list(statement["Action"])
        resources = as_list(statement["Resource"])
        assert "*" not in actions
        for action in actions:
            if action.startswith("iam:"):
                assert "*" not in action, action
            if "*" in action:
                assert all("orchestrator-prod" in r for r in resources), statement["Sid"]
        if resources == ["*"]:
            assert actions == ["logs:DescribeLogGroups"], statement["Sid"]
    [passing] = [s for s in policy_statements(doc) if "iam:PassRole" in as_list(s["Action"])]
    services = passing["Condition"]["StringEquals"]["iam:PassedToService"]
    assert set(services) == {"lambda.amazonaws.com", "scheduler.amazonaws.com"}
