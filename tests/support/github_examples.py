"""GitHub's webhook examples (`@octokit/webhooks-examples`), for Python tests and replays.

    from tests.support.github_examples import load_examples, replay_examples, node_sign

    for event, payload in load_examples():          # 300+ (event name, payload) pairs
        ...
    summary = replay_examples(url + "/github", secret, delivery_prefix="run-1")
    assert summary["sent"] == len(load_examples())
    assert node_sign("It's a Secret to Everybody", "Hello, World!").startswith("sha256=")

`replay_examples` runs `tests/contract/replay-octokit.mjs` (signed by `@octokit/webhooks-methods`)
and returns its summary: {"sent", "examples", "by_status": {"200": n}, "failures": [...]}.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO_ROOT / "node_modules"
EXAMPLES_INDEX = NODE_MODULES / "@octokit" / "webhooks-examples" / "api.github.com" / "index.json"
REPLAY_SCRIPT = REPO_ROOT / "tests" / "contract" / "replay-octokit.mjs"


class ExamplesMissing(RuntimeError):
    """node_modules (or node) is missing: the message says how to get it."""


def _node() -> str:
    for package in ("webhooks-examples", "webhooks-methods"):
        if not (NODE_MODULES / "@octokit" / package / "package.json").is_file():
            raise ExamplesMissing(
                f"missing @octokit/{package} under {NODE_MODULES}: "
                "run `npm ci` in the repository root (or `make test`)"
            )
    node = shutil.which("node")
    if node is None:
        raise ExamplesMissing("`node` is not on PATH; Node 20+ is needed for the contract tests")
    return node


@cache
def _load() -> tuple[tuple[str, str], ...]:
    _node()
    events = json.loads(EXAMPLES_INDEX.read_text(encoding="utf-8"))
    return tuple(
        (event["name"], json.dumps(example))
        for event in events
        for example in event.get("examples") or []
    )


def load_examples() -> list[tuple[str, dict[str, Any]]]:
    """Every (X-GitHub-Event name, payload) pair, in the package's order; fresh dicts each call."""
    return [(event, json.loads(payload)) for event, payload in _load()]


def replay_examples(
    url: str,
    secret: str,
    *,
    delivery_prefix: str,
    concurrency: int = 8,
    timeout_ms: int = 10_000,
    overall_timeout: float = 180.0,
) -> dict[str, Any]:
    """POST every example to `url`, signed with `secret`; the Node script's JSON summary."""
    run = subprocess.run(
        [
            _node(),
            str(REPLAY_SCRIPT),
            "--url",
            url,
            "--secret",
            secret,
            "--delivery-prefix",
            delivery_prefix,
            "--concurrency",
            str(concurrency),
            "--timeout-ms",
            str(timeout_ms),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=overall_timeout,
        check=False,
    )
    if run.returncode != 0:
        raise RuntimeError(f"replay-octokit.mjs exited with {run.returncode}:\n{run.stderr}")
    summary: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return summary


def node_sign(secret: str, payload: str) -> str:
    """`sign(secret, payload)` of `@octokit/webhooks-methods`, i.e. `sha256=<hex>`."""
    run = subprocess.run(
        [_node(), str(REPLAY_SCRIPT), "--sign", "--secret", secret],
        cwd=REPO_ROOT,
        input=payload.encode(),
        capture_output=True,
        timeout=30,
        check=False,
    )
    if run.returncode != 0:
        raise RuntimeError(f"replay-octokit.mjs --sign failed:\n{run.stderr.decode()}")
    return run.stdout.decode().strip()
