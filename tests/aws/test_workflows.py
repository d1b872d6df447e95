"""GitHub Actions workflows, checked offline.

Two layers: every workflow validates against GitHub's workflow JSON schema (the copy
vendored by check-jsonschema, from the lockfile), and structural checks pin what the
deploy pipeline relies on, which no schema can know: `id-token: write`, a deploy that
waits for the tests, a gate step that keeps `--expect-sha`. Otherwise such a mistake is
only discovered on push, in production.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
DEPLOY = ROOT / ".github" / "workflows" / "deploy.yml"


def load(path: Path) -> dict[str, Any]:
    document: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 reads the bare key `on` as the boolean True.
    if True in document:
        document["on"] = document.pop(True)
    return document


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = job["steps"]
    return found


def run_lines(document: dict[str, Any]) -> list[str]:
    """Every shell command of every step, one logical line each (continuations joined)."""
    lines = []
    for job in document["jobs"].values():
        for step in steps(job):
            script = step.get("run")
            if isinstance(script, str):
                joined = script.replace("\\\n", " ")
                lines.extend(line.strip() for line in joined.splitlines() if line.strip())
    return lines


def makefile_targets() -> set[str]:
    """Targets of the Makefile, with `$(VAR)` expanded from its simple assignments."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    variables = dict(re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)\s*[:?]?=\s*(.*?)\s*$", text, re.M))

    def expand(value: str, depth: int = 0) -> str:
        if depth > 10:
            return value
        replaced = re.sub(r"\$\((\w+)\)", lambda m: variables.get(m.group(1), ""), value)
        return replaced if replaced == value else expand(replaced, depth + 1)

    targets = set()
    for head in re.findall(r"^([^\s#:=][^:=\n]*?)\s*:(?!=)", text, re.M):
        targets.update(expand(head).split())
    return targets


@pytest.fixture(scope="module", params=[p.name for p in WORKFLOWS])
def workflow(request: pytest.FixtureRequest) -> dict[str, Any]:
    return load(ROOT / ".github" / "workflows" / request.param)


@pytest.fixture(scope="module")
def deploy() -> dict[str, Any]:
    return load(DEPLOY)


def test_there_are_workflows_to_check() -> None:
    assert DEPLOY in WORKFLOWS
    assert len(WORKFLOWS) >= 2


# --- every workflow ---------------------------------------------------------------------------


def test_the_workflow_is_well_formed(workflow: dict[str, Any]) -> None:
    assert isinstance(workflow.get("name"), str)
    assert workflow["on"], "a workflow needs a trigger"
    assert isinstance(workflow["jobs"], dict) and workflow["jobs"]
    permissions = workflow.get("permissions")
    assert isinstance(permissions, dict), "top-level permissions must be explicit"
    assert all(v in {"read", "none"} for v in permissions.values()), "write only per job"
    for name, job in workflow["jobs"].items():
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name)
        assert job.get("runs-on"), f"{name}: runs-on"
        assert isinstance(job.get("timeout-minutes"), int), f"{name}: bound the job's time"
        for need in [job["needs"]] if isinstance(job.get("needs"), str) else job.get("needs", []):
            assert need in workflow["jobs"], f"{name} needs unknown job {need}"
        for step in steps(job):
            assert ("uses" in step) != ("run" in step), f"{name}: {step} needs uses xor run"
            if "uses" in step:
                action, _, ref = step["uses"].partition("@")
                assert re.fullmatch(r"[\w.-]+/[\w./-]+", action), step["uses"]
                assert ref and ref not in {"main", "master", "HEAD"}, f"pin {step['uses']}"


def test_expressions_reach_scripts_only_through_env(workflow: dict[str, Any]) -> None:
    """`${{ }}` pasted into a script is shell injection waiting to happen."""
    for job in workflow["jobs"].values():
        for step in steps(job):
            assert "${{" not in step.get("run", ""), step["run"]


def test_no_long_lived_aws_keys(workflow: dict[str, Any]) -> None:
    text = yaml.safe_dump(workflow)
    for forbidden in ("aws-access-key-id", "aws-secret-access-key", "AWS_SECRET_ACCESS_KEY"):
        assert forbidden not in text


def test_make_targets_used_exist(workflow: dict[str, Any]) -> None:
    targets = makefile_targets()
    assert {"test", "build", "build-OrchestratorFunction"} <= targets
    for line in run_lines(workflow):
        words = shlex.split(line)
        if words and words[0] == "make":
            wanted = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
            assert wanted and set(wanted) <= targets, f"{line}: unknown make target"


def _sample(match: re.Match[str]) -> str:
    """A value of the kind a shell variable holds, by its name: the CLI checks its flags'
    values (`--url` is a URL, `--expect-sha` a commit), so `$API_URL` must look like one."""
    name = match.group(1).upper()
    if name.endswith("URL"):
        return "https://abc123.execute-api.eu-west-1.amazonaws.com"
    if name.endswith("SHA"):
        return "0123456789abcdef0123456789abcdef01234567"
    return "value"


def test_orchestrator_commands_used_exist_and_parse(workflow: dict[str, Any]) -> None:
    parser = build_parser()
    for line in run_lines(workflow):
        words = shlex.split(re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", _sample, line))
        if words and Path(words[0]).name == "orchestrator":
            assert words[1] in COMMANDS, (
                f"the workflow runs `orchestrator {words[1]}`, which orchestrator.cli.COMMANDS "
                "does not register"
            )
            parser.parse_args(words[1:])  # exits (SystemExit) on an unknown flag


# --- the deploy pipeline ----------------------------------------------------------------------


def test_deploy_triggers(deploy: dict[str, Any]) -> None:
    assert deploy["on"]["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in deploy["on"]
    assert "pull_request" not in deploy["on"], "never deploy unmerged code"
    assert deploy["concurrency"]["cancel-in-progress"] is False


def test_deploy_waits_for_the_tests(deploy: dict[str, Any]) -> None:
    jobs = deploy["jobs"]
    assert set(jobs) == {"test", "deploy"}
    assert jobs["deploy"]["needs"] in ("test", ["test"])
    assert any(line.startswith("make test") for line in _job_lines(jobs["test"]))
    versions = [
        s["with"]["python-version"] for s in steps(jobs["test"]) if _uses(s, "setup-python")
    ]
    assert "3.12" in versions, "the artifact gate needs python3.12 on PATH"


def test_only_the_deploy_job_may_mint_an_oidc_token(deploy: dict[str, Any]) -> None:
    assert "id-token" not in deploy["permissions"]
    assert "permissions" not in deploy["jobs"]["test"]
    assert deploy["jobs"]["deploy"]["permissions"] == {"id-token": "write", "contents": "read"}
    (credentials,) = [s for s in steps(deploy["jobs"]["deploy"]) if _uses(s, "configure-aws-")]
    role = credentials["with"]["role-to-assume"]
    assert re.fullmatch(r"\$\{\{ (vars|secrets)\.[A-Z_]+ \}\}", role), role
    assert credentials["with"]["aws-region"]


def test_deploy_steps_run_in_order(deploy: dict[str, Any]) -> None:
    job = deploy["jobs"]["deploy"]
    order = []
    for step in steps(job):
        text = step.get("uses", "") + " " + step.get("run", "")
        for marker in (
            "configure-aws-credentials",
            "sam build",
            "sam deploy",
            "describe-stacks",
            "verify-deploy",
            "sync-commands",
        ):
            if marker in text:
                order.append(marker)
    assert order == [
        "configure-aws-credentials",
        "sam build",
        "sam deploy",
        "describe-stacks",
        "verify-deploy",
        "sync-commands",
    ]
    python = [s["with"]["python-version"] for s in steps(job) if _uses(s, "setup-python")]
    assert python == ["3.12"], "the artifact is compiled by the runtime's Python"


def test_sam_deploy_repeats_prods_overrides(deploy: dict[str, Any]) -> None:
    (line,) = [x for x in _job_lines(deploy["jobs"]["deploy"]) if x.startswith("sam deploy")]
    words = shlex.split(line)
    assert words[words.index("--config-env") + 1] == "prod"
    assert "--no-fail-on-empty-changeset" in words
    start = words.index("--parameter-overrides") + 1
    overrides = dict(w.split("=", 1) for w in words[start:] if not w.startswith("--"))
    assert "GitSha" not in overrides, "the commit is baked into the artifact, not a parameter"
    # SnapStart is switched by a repository variable, passed on every deploy so that
    # unsetting it turns SnapStart off again (a parameter left out keeps its last value).
    assert overrides["SnapStart"] == "$SNAPSTART"
    assert deploy["jobs"]["deploy"]["env"]["SNAPSTART"] == "${{ vars.SNAPSTART || 'off' }}"
    with (ROOT / "samconfig.toml").open("rb") as handle:
        prod = tomllib.load(handle)["prod"]["deploy"]["parameters"]
    for pair in prod["parameter_overrides"].split():
        key, value = pair.split("=", 1)
        assert overrides.get(key) == value, f"--parameter-overrides drops samconfig's {key}"
    assert deploy["jobs"]["deploy"]["env"]["STACK_NAME"] == prod["stack_name"]
    (build,) = [x for x in _job_lines(deploy["jobs"]["deploy"]) if x.startswith("sam build")]
    assert "--config-env prod" in build


# Template parameter -> where the deploy workflow takes it from. Who may use the bot comes from
# repository (or environment) variables, documented in docs/deploy.md; the repository is the
# one being deployed.
ACCESS_FROM = {
    "DiscordGuildIds": "DISCORD_GUILD_IDS",
    "DiscordAdminRoleIds": "DISCORD_ADMIN_ROLE_IDS",
    "DiscordAdminUserIds": "DISCORD_ADMIN_USER_IDS",
    "DiscordDeployRoleIds": "DISCORD_DEPLOY_ROLE_IDS",
    "DiscordDeployUserIds": "DISCORD_DEPLOY_USER_IDS",
    "PublicUrl": "ORCHESTRATOR_PUBLIC_URL",
}


def test_sam_deploy_passes_who_may_use_the_bot(deploy: dict[str, Any]) -> None:
    """Production is deny-by-default: without these, nobody can /deploy after a deploy."""
    job = deploy["jobs"]["deploy"]
    (line,) = [x for x in _job_lines(job) if x.startswith("sam deploy")]
    words = shlex.split(line)
    start = words.index("--parameter-overrides") + 1
    overrides = dict(w.split("=", 1) for w in words[start:] if not w.startswith("--"))
    for parameter, variable in ACCESS_FROM.items():
        assert overrides[parameter] == f"${variable}", parameter
        assert job["env"][variable] == f"${{{{ vars.{variable} }}}}", variable
    assert overrides["OrchestratorRepo"] == "$GITHUB_REPOSITORY"


def test_the_gate_checks_this_commit_at_the_stacks_url(deploy: dict[str, Any]) -> None:
    job = deploy["jobs"]["deploy"]
    (gate,) = [s for s in steps(job) if "verify-deploy" in s.get("run", "")]
    words = shlex.split(gate["run"])
    assert words[words.index("--expect-sha") + 1] == "$GITHUB_SHA"
    assert words[words.index("--url") + 1] == "$API_URL"
    assert gate["env"]["API_URL"] == "${{ steps.stack.outputs.url }}"
    (stack,) = [s for s in steps(job) if s.get("id") == "stack"]
    assert "OutputKey=='ApiUrl'" in stack["run"] and "$GITHUB_OUTPUT" in stack["run"]


def test_commands_are_synced_with_the_bot_token_from_a_secret(deploy: dict[str, Any]) -> None:
    (sync,) = [s for s in steps(deploy["jobs"]["deploy"]) if "sync-commands" in s.get("run", "")]
    assert sync["env"]["DISCORD_BOT_TOKEN"] == "${{ secrets.DISCORD_BOT_TOKEN }}"
    assert sync["env"]["DISCORD_API_BASE"] == "https://discord.com/api/v10"


def _uses(step: dict[str, Any], fragment: str) -> bool:
    return fragment in step.get("uses", "")


def _job_lines(job: dict[str, Any]) -> list[str]:
    return run_lines({"jobs": {"job": job}})


def test_workflows_validate_against_githubs_schema(tmp_path: Path) -> None:
    """The official workflow JSON schema, vendored in check-jsonschema: offline, no network."""
    import subprocess
    import sys

    bin_dir = Path(sys.executable).parent
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    stepz: []\n")
    good = subprocess.run(
        [
            str(bin_dir / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, WORKFLOWS),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert good.returncode == 0, good.stdout + good.stderr
    bad = subprocess.run(
        [
            str(bin_dir / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            str(broken),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode != 0, "the schema check must catch a malformed workflow"
