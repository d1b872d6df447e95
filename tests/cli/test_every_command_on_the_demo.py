"""Every slash command of the README's table, tried on the demo app in dev, as a newcomer
would: `orchestrator serve` with no account and no config, then `orchestrator simulate`.

Each case asserts on the demo's own data in the printed answer (run ids, the demo's SHA, the
failing check of PR #1 and its log line, the lock's reason...), not merely on exit 0. The
table is parsed from README.md, so a command added there without a case here fails
`test_every_command_in_the_readme_has_a_case`.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from orchestrator.devtools.simulate import DEV_CHANNEL_ID
from tests.support.servers import VENV_BIN, Served, serve

README = Path(__file__).resolve().parents[2] / "README.md"
# A second person, allowed to deploy (but not an admin): the one a lock or a freeze stops.
TEAMMATE = "100000000000000077"
DEV_ENV = {
    "ORCHESTRATOR_ENV": "dev",
    "ORCHESTRATOR_ENV_FILE": "",
    "ORCHESTRATOR_GITHUB_STANDIN_STEP": "0.3",
    "DISCORD_DEPLOY_USER_IDS": TEAMMATE,
}
NOT_GIVEN = ("ORCHESTRATOR_DATA_DIR", "ORCHESTRATOR_CONFIG")
# Phrases that mean the command did not get to do its job.
BROKEN = ("blew up", "not configured", "Traceback", "💥", "Connection refused", "Nope")

COVERED: set[str] = set()
Test = TypeVar("Test", bound=Callable[..., None])


def covers(*commands: str) -> Callable[[Test], Test]:
    """Marks a test as the case of these README commands (checked against the table)."""

    def mark(test: Test) -> Test:
        COVERED.update(commands)
        return test

    return mark


def readme_commands() -> set[str]:
    """The `/name` entries of the first column of the README's command table."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Command |"))
    names: set[str] = set()
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        first = line.split(" | ")[0]
        names.update(re.findall(r"`/([a-z][a-z0-9-]*)", first))
    return names


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("every-command") / "orchestrator"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "orchestrator"\nversion = "0"\n')
    return root


@pytest.fixture(scope="module")
def server(checkout: Path) -> Iterator[Served]:
    with serve(DEV_ENV, cwd=checkout, unset=NOT_GIVEN) as served:
        yield served


class Demo:
    """`orchestrator simulate` in the served checkout, bounded in time."""

    def __init__(self, checkout: Path, served: Served) -> None:
        self.checkout = checkout
        self.served = served

    def run(self, *args: str, exit_code: int = 0) -> str:
        env = {k: v for k, v in os.environ.items() if k not in NOT_GIVEN}
        done = subprocess.run(
            [str(VENV_BIN / "orchestrator"), "simulate", *args, "--wait", "30"]
            + (["--deploy-wait", "60"] if args[0].startswith("/deploy") else []),
            cwd=self.checkout,
            env={**env, **DEV_ENV},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        context = f"{args}\n{done.stdout}\n{done.stderr}\n{self.served.output()[-2000:]}"
        assert done.returncode == exit_code, context
        for phrase in BROKEN:
            assert phrase not in done.stdout + done.stderr, context
        return done.stdout


@pytest.fixture
def demo(checkout: Path, server: Served) -> Demo:
    return Demo(checkout, server)


def test_every_command_in_the_readme_has_a_case() -> None:
    listed = readme_commands()
    assert {"deploy", "status", "help"} <= listed, listed  # the table was found
    assert listed - COVERED == set(), "README commands without a case here"


@covers("release", "deploy", "status", "verify-run", "verify-latest", "history", "digest")
def test_the_deploy_loop(demo: Demo) -> None:
    before = demo.run("/release app:demo")
    assert "🏷️ Release demo" in before
    assert "Add a health endpoint" in before  # a commit the demo's live site lacks
    promote = re.search(r"release\.promote:demo:([0-9a-f]{40})", before)
    assert promote is not None and "Promote (disabled)" not in before, before
    head = promote.group(1)

    deployed = demo.run("/deploy app:demo env:staging")
    assert "✅ succeeded" in deployed and "✔ deployed and verified" in deployed
    assert f"Ref: main (`{head[:7]}`)" in deployed
    assert f"→ channel post in #{DEV_CHANNEL_ID}" in deployed

    status = demo.run("/status app:demo")
    found = re.search(r"Deploy · deploy\.yml: ✅ \[#(\d+)\]", status)
    assert found is not None, status
    run_id = found.group(1)
    assert f"live `{head[:7]}`" in status and "✅ pass" in status

    verified = demo.run(f"/verify-run run:{run_id}")
    assert f"demo {head[:7]}: deploy verified" in verified
    assert f"Freshness: {head[:7]} is the head of main" in verified
    assert f"serves {head[:7]}" in verified

    latest = demo.run("/verify-latest app:demo")
    assert f"runs/{run_id}" in latest and "deploy verified" in latest

    history = demo.run("/history app:demo")
    assert f"✅ pass · run {run_id} · `{head[:7]}`" in history
    assert "None" not in history and "???" not in history

    after = demo.run("/release app:demo")
    assert f"runs `{head[:7]}`, the branch head: nothing to promote" in after

    digest = demo.run("/digest")
    assert "demo: 🚀 1 deploy · 100% succeeded" in digest, digest


@covers("lock", "locks", "unlock")
def test_a_lock_stops_a_teammate_until_it_is_lifted(demo: Demo) -> None:
    locked = demo.run('/lock app:demo env:staging reason:"demo day"')
    assert "**demo/staging** locked" in locked and "demo day" in locked
    listed = demo.run("/locks app:demo")
    assert "**demo/staging** 🔒" in listed and "“demo day”" in listed

    refused = demo.run("/deploy app:demo env:staging", "--user", TEAMMATE, exit_code=1)
    assert "demo day" in refused and "✘ no deploy was started" in refused

    unlocked = demo.run("/unlock app:demo env:staging")
    assert "**demo/staging** unlocked" in unlocked
    assert "No environment is locked." in demo.run("/locks")


@covers("freeze")
def test_a_freeze_window_refuses_deploys_while_in_force(demo: Demo) -> None:
    assert "None: deploys may go any time." in demo.run("/freeze list")
    added = demo.run(
        "/freeze add name:now start:2020-01-01T00:00 end:2999-01-01T00:00 reason:'demo freeze'"
    )
    assert "Freeze window now added" in added and "**in force**" in added
    assert "“demo freeze”" in demo.run("/freeze list")

    refused = demo.run("/deploy app:demo env:staging", exit_code=1)
    assert "demo freeze" in refused and "✘ no deploy was started" in refused

    assert "**now** removed" in demo.run("/freeze remove name:now")
    assert "None: deploys may go any time." in demo.run("/freeze list")


@covers("diagnose")
def test_diagnose_dispatches_the_demo_workflow_and_checks_the_bot(demo: Demo) -> None:
    out = demo.run("/diagnose app:demo")
    assert "🩺 Diagnose demo" in out and "✅ succeeded" in out
    assert "Diagnose workflow: dispatched" in out
    assert "✅ GitHub token:" in out and "✅ Discord token: valid" in out
    # The demo's channel post: the commit's card, whose line for the tracked run links to
    # the message that follows it instead of repeating it.
    assert re.search(r"┃ ✅ \[Diagnose of demo\]\([^)]*\) succeeded.* followed live in", out), out


@covers("triage")
def test_triage_shows_the_failing_check_of_pr_1_and_its_log(demo: Demo) -> None:
    out = demo.run("/triage pr:1")
    assert "PR #1: Greet visitors by name" in out
    assert "❌ test: failing step: Run tests" in out
    assert "'Hello, undefined!' !== 'Hello, Ada!'" in out
    assert "error: Process completed with exit code 1." in out


@covers("uptime")
def test_uptime_reports_the_demo_site_probed(demo: Demo) -> None:
    out = demo.run("/uptime app:demo")
    assert "demo:" in out
    assert "✅ **frontend**: up since" in out and "✅ **api**: up since" in out


@covers("notify")
def test_notify_adds_lists_and_removes_a_subscription(demo: Demo) -> None:
    assert "local/demo → <#" in demo.run("/notify list")  # the demo's own, from its config
    added = demo.run("/notify add repo:local/demo channel:100000000000000021 events:workflow_run")
    found = re.search(r"Subscribed: `([0-9a-f]+)` local/demo → <#100000000000000021>", added)
    assert found is not None, added
    assert f"`{found.group(1)}` local/demo → <#100000000000000021>" in demo.run("/notify list")
    removed = demo.run(f"/notify remove id:{found.group(1)}")
    assert found.group(1) in removed
    assert "<#100000000000000021>" not in demo.run("/notify list")


@covers("config")
def test_config_shows_sets_and_resets_a_demo_setting(demo: Demo) -> None:
    shown = demo.run("/config show app:demo")
    assert "⚙️ demo · local/demo" in shown and "/sites/demo/" in shown
    assert "`workflow` deploy.yml" in shown
    changed = demo.run("/config set app:demo key:diagnose_workflow value:check.yml")
    assert "`demo.diagnose_workflow` is now `check.yml`" in changed
    assert "`diagnose_workflow` check.yml" in demo.run("/config show app:demo")
    demo.run("/config reset app:demo key:diagnose_workflow")
    assert "`diagnose_workflow` diagnose.yml" in demo.run("/config show app:demo")


@covers("relay-send", "relay-dm")
def test_relays_post_as_the_bot_after_the_confirm_button(demo: Demo) -> None:
    asked = demo.run(f"/relay-send channel:{DEV_CHANNEL_ID} message:'hello from the demo'")
    assert f"Send this to <#{DEV_CHANNEL_ID}>?" in asked
    button = re.search(r"relay\.confirm:[0-9a-f]+", asked)
    assert button is not None, asked
    sent = demo.run("--component", button.group(0))
    assert f"→ channel post in #{DEV_CHANNEL_ID}" in sent and "hello from the demo" in sent

    asked = demo.run(f"/relay-dm user:{TEAMMATE} message:'psst, the demo is up'")
    assert f"Send this to <@{TEAMMATE}> (DM)?" in asked
    button = re.search(r"relay\.confirm:[0-9a-f]+", asked)
    assert button is not None, asked
    sent = demo.run("--component", button.group(0))
    assert "psst, the demo is up" in sent and "✅ Sent" in sent


@covers("ping", "help", "audit", "trace")
def test_the_basics(demo: Demo) -> None:
    assert "🏓 Pong!" in demo.run("/ping")
    listed = demo.run("/help")
    assert "`/deploy` Deploy an app" in listed and "/help command:<name>" in listed
    options = demo.run("/help command:deploy")
    assert "`app` · text · required" in options and "`env`" in options

    demo.run("/notify list")  # an admin command: audited
    audit = demo.run("/audit count:3")
    assert "📜 Audit log" in audit and "`/notify list` accepted" in audit
    one = demo.run("/audit count:1")
    assert len(re.findall(r"<t:\d+:R>", one)) == 1 and "`/audit` accepted" in one

    trace = demo.run("/trace")
    found = re.search(r"`/audit` → answered · id `(\d+)`", trace)
    assert found is not None, trace
    steps = demo.run(f"/trace interaction:{found.group(1)}")
    assert found.group(1) in steps and "/audit" in steps, steps


def test_production_asks_for_an_approval_and_a_dry_run_dispatches_nothing(demo: Demo) -> None:
    """The demo's production needs one approval: a dry run shows the plan, the request shows
    Approve / Reject, the requester's own approval is refused, the teammate's deploys it."""
    planned = demo.run("/deploy app:demo env:production dry_run:true")
    assert "🧪 Dry run: deploy demo/production" in planned
    assert "It would ask for 1 approval first" in planned and "Nothing was dispatched" in planned
    assert "correlation_id=<correlation id, set at dispatch>" in planned

    asked = demo.run("/deploy app:demo env:production")
    assert (
        "🛂 Approval needed: deploy demo/production" in asked and "⏳ waiting for approval" in asked
    )
    button = re.search(r"deploy\.approve:[0-9a-f]{12}", asked)
    assert button is not None, asked

    own = demo.run("--component", button.group(0), exit_code=1)
    assert "someone else has to approve it" in own and "✘ no deploy was started" in own

    approved = demo.run("--component", button.group(0), "--user", TEAMMATE, "--deploy-wait", "60")
    assert "✅ succeeded" in approved and "✔ deployed and verified" in approved
    again = demo.run("--component", button.group(0), "--user", TEAMMATE, exit_code=1)
    assert "Already approved and dispatched" in again
