"""Section 3: cold start of the Lambda artifact, against a bare FastAPI + Mangum artifact.

Each run is a fresh `python3.12 -I -S -B coldstart_child.py` process (the Lambda runtime's
import path: the task root first, no site-packages, no bytecode writes) that imports the
handler and serves one HTTP API v2 event. Measured: wall time from spawn to the answer's
arrival (parent side; the interpreter's teardown after it is timed apart, as `exit_ms`: a
Lambda container answers and stays, and `gc.freeze` makes ours cheaper to tear down), the
child's import and first-invoke times, and its peak RSS. Kinds of start alternate run by run:

* `ours`, `ours_src`, `bare`: one signed PING, to our compiled and sources-only artifacts
  and to the bare one.
* `deferred`: our compiled artifact gets a signed `/ping` slash command (type 2), which
  defers: the job is recorded and handed to Lambda jobs' async self-invoke, here against
  moto on 127.0.0.1 (boto3 from `lambda-runtime`, as the runtime's own), then the type 5
  answer. Compared with the bare artifact's PING.

`-X importtime` runs (fastest of `IMPORTTIME_RUNS` per module) say which imports dominate:
per kind, and per front door of ours (PING, deferred command, GitHub delivery) the top 10
of our own modules by cumulative time.

    python -m bench.coldstart [--reps N] [--quick] [--out FILE]
"""

from __future__ import annotations

import io
import json
import select
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import artifacts, common
from bench.payloads import (
    APPLICATION_ID,
    WEBHOOK_SECRET,
    Keypair,
    dumps,
    github_headers,
    signed_pings,
    workflow_run_completed,
)
from bench.stats import median, ratio, spread

# Runs per variant: cold starts here come in a fast and a slow phase (~320 and ~420 ms),
# so one run swings a pair's ratio by ±30%; twenty kept the median ratio within a few %.
# Thirty: the goal's ratio sits within a few % of 1.0 (before its answer our start runs
# 0.99x the bare one's instructions, `valgrind`), so those few % decide its verdict.
REPS = 30
START_TIMEOUT = 120.0  # seconds a cold start may take, answer and exit, before it is killed
CHILD = common.BENCH_DIR / "coldstart_child.py"
MOTO_SERVER = common.ROOT / "tests" / "support" / "moto_server.py"
# Timed kinds of start (the bare artifact's sources-only copy is built for its size only).
VARIANTS = ("ours", "ours_src", "bare", "deferred")
IMPORTTIME_VARIANTS = ("ours", "bare")
FRONT_DOORS = ("ping", "deferred", "github")
IMPORTTIME_RUNS = 3
TOP = 10
GUILD_ID = "100000000000000003"
FUNCTION_NAME = "orchestrator-bench"
REGION = "eu-west-1"
CLOSED_PORT_URL = "http://127.0.0.1:9"  # where the APIs point: nothing may leave the machine


@dataclass(frozen=True)
class Start:
    """One kind of cold start: which artifact, the event it gets, its environment, and the
    answer that counts (status, and the interaction response type for Discord)."""

    name: str
    artifact: artifacts.Artifact
    event_file: Path
    env: dict[str, str]
    status: int = 200
    answer_type: int | None = 1
    runtime: Path | None = None

    def answered(self, child: dict[str, Any]) -> bool:
        if child.get("status") != self.status:
            return False
        if self.answer_type is None:
            return True
        body = str(child.get("body", "")).replace(" ", "")
        return f'"type":{self.answer_type}' in body


def child_env(task_root: Path, keys: Keypair, data_dir: Path) -> dict[str, str]:
    """Roughly what Lambda sets, plus the secrets production demands (SQLite, no AWS)."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(task_root),
        "ORCHESTRATOR_ENV": "prod",
        "ORCHESTRATOR_ENV_FILE": "",
        "ORCHESTRATOR_DATA_DIR": str(data_dir),
        "ORCHESTRATOR_STORE": "sqlite",
        "ORCHESTRATOR_JOBS": "inprocess",
        "DISCORD_PUBLIC_KEY": keys.public_hex,
        "DISCORD_APPLICATION_ID": APPLICATION_ID,
        "DISCORD_GUILD_IDS": "100000000000000003",
        "DISCORD_BOT_TOKEN": "bench-bot-token",
        "GITHUB_TOKEN": "bench-github-token",
        "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "DISCORD_API_BASE": CLOSED_PORT_URL,
        "GITHUB_API_BASE": CLOSED_PORT_URL,
    }


def lambda_jobs_env(base: dict[str, str], endpoint: str, home: Path) -> dict[str, str]:
    """`base` as on Lambda with Lambda jobs: the function's own name, throwaway credentials,
    every AWS call to `endpoint` (moto) and no shared config files."""
    return {
        **base,
        "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
        "ORCHESTRATOR_JOBS": "lambda",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # a dummy: moto accepts anything
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def slash_command(keys: Keypair, name: str = "ping") -> tuple[dict[str, str], bytes]:
    """A signed type 2 interaction for the product's `/<name>` in the allowed guild."""
    body = dumps(
        {
            "type": 2,
            "id": "1300000000000000001",
            "application_id": APPLICATION_ID,
            "token": "bench-cold-deferred",
            "version": 1,
            "guild_id": GUILD_ID,
            "channel_id": "100000000000000004",
            "member": {
                "user": {"id": "100000000000000005", "username": "bench"},
                "roles": [],
                "permissions": "0",
            },
            "data": {"id": "100000000000000006", "name": name, "type": 1},
        }
    )
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Signature-Ed25519": keys.sign(stamp, body),
        "X-Signature-Timestamp": stamp,
    }
    return headers, body


@contextmanager
def moto_lambda(work: Path) -> Iterator[str]:
    """tests/support/moto_server.py on 127.0.0.1 with our function created in it (moto
    records async invokes without running them); yields its URL; stopped by its pid."""
    import boto3
    import httpx

    port = common.free_port()
    argv = [common.PYTHON, str(MOTO_SERVER), "--host", common.HOST, "--port", str(port)]
    env = common.clean_env(MOTO_RECORDER_FILEPATH=str(work / "moto-recording.jsonl"))
    server = common.start_server("moto", argv, env, port, cwd=work)
    try:
        url = f"http://{common.HOST}:{port}"
        httpx.post(f"{url}/moto-api/config", json={"lambda": {"use_docker": False}}, timeout=10)
        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        iam = session.client("iam", endpoint_url=url)
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps(trust))
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("handler.py", "def handler(event, context):\n    return event\n")
        session.client("lambda", endpoint_url=url).create_function(
            FunctionName=FUNCTION_NAME,
            Runtime="python3.12",
            Role=role["Role"]["Arn"],
            Handler="handler.handler",
            Code={"ZipFile": archive.getvalue()},
        )
        yield url
    finally:
        server.stop()


def _argv(python: str, start: Start, importtime: bool) -> list[str]:
    flags = ["-I", "-S", "-B", *(["-X", "importtime"] if importtime else [])]
    art = start.artifact
    argv = [python, *flags, str(CHILD), str(art.folder), art.handler, str(start.event_file)]
    return argv + ([str(start.runtime)] if start.runtime is not None else [])


def one_start(python: str, start: Start) -> dict[str, Any]:
    """One cold start. `wall_ms`: spawn until the child's answer line arrives (what a Lambda
    cold start costs: the container answers, then stays); `exit_ms`: from then to the
    process's exit (teardown, reported apart)."""
    started = time.perf_counter()
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(
            _argv(python, start, False),
            cwd=start.artifact.folder,
            env=start.env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        ) as process,
    ):
        assert process.stdout is not None
        deadline = started + START_TIMEOUT
        # The child flushes its one JSON line, then exits; a child that hangs before or after
        # answering is killed at the deadline, never waited for forever.
        if not select.select([process.stdout], [], [], START_TIMEOUT)[0]:
            process.kill()
            raise RuntimeError(f"cold start {start.name} did not answer in {START_TIMEOUT:g} s")
        line = process.stdout.readline()
        answered = time.perf_counter()
        try:
            rest, _ = process.communicate(timeout=max(deadline - time.perf_counter(), 1.0))
        except subprocess.TimeoutExpired:
            process.kill()
            raise RuntimeError(f"cold start {start.name} did not exit after answering") from None
        code = process.returncode
        exited = time.perf_counter()
        errors.seek(0)
        stderr = errors.read().decode("utf-8", "replace")
    if code != 0 or not line.strip():
        raise RuntimeError(f"cold start {start.name} failed:\n{stderr[-2000:]}{rest[-500:]}")
    child: dict[str, Any] = json.loads(line)
    if not start.answered(child):
        raise RuntimeError(f"cold start {start.name} answered wrong: {child}\n{stderr}")
    child["wall_ms"] = (answered - started) * 1000
    child["exit_ms"] = (exited - answered) * 1000
    return child


def parse_importtime(stderr: str) -> list[dict[str, Any]]:
    """`import time: self [us] | cumulative | name` lines, as dicts (depth from indentation)."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        try:
            _, rest = line.split(":", 1)
            self_us, cumulative_us, name = rest.split("|", 2)
            depth = (len(name) - len(name.lstrip(" "))) // 2
            rows.append(
                {
                    "module": name.strip(),
                    "self_us": int(self_us),
                    "cumulative_us": int(cumulative_us),
                    "depth": depth,
                }
            )
        except ValueError:
            continue
    return rows


def fastest(runs: Sequence[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per module, each time the fastest seen across `runs` of the same start (the
    noise of a shared machine only ever adds), in the first run's order."""
    best: dict[str, dict[str, Any]] = {}
    for rows in runs:
        for row in rows:
            seen = best.get(row["module"])
            if seen is None:
                best[row["module"]] = dict(row)
            else:
                seen["self_us"] = min(seen["self_us"], row["self_us"])
                seen["cumulative_us"] = min(seen["cumulative_us"], row["cumulative_us"])
    return list(best.values())


def own_modules(
    rows: list[dict[str, Any]], top: int = TOP, package: str = "orchestrator"
) -> dict[str, Any]:
    """What `package`'s modules cost a start: all import time, ours by own (self) time, and
    our `top` modules by cumulative time (each with what it imports)."""
    ours = [r for r in rows if r["module"] == package or r["module"].startswith(package + ".")]
    ranked = sorted(ours, key=lambda r: r["cumulative_us"], reverse=True)
    return {
        "modules_imported": len(rows),
        "own_modules": len(ours),
        "total_self_us": sum(r["self_us"] for r in rows),
        "own_self_us": sum(r["self_us"] for r in ours),
        "top_own_cumulative": ranked[:top],
    }


def _importtime_rows(python: str, start: Start) -> list[dict[str, Any]]:
    result = subprocess.run(
        _argv(python, start, True),
        cwd=start.artifact.folder,
        env=start.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"importtime run of {start.name} failed:\n{result.stderr[-2000:]}")
    return parse_importtime(result.stderr)


def importtime_rows(python: str, start: Start, runs: int = IMPORTTIME_RUNS) -> list[dict[str, Any]]:
    return fastest([_importtime_rows(python, start) for _ in range(runs)])


def importtime_top(rows: list[dict[str, Any]], top: int = TOP) -> dict[str, Any]:
    by_cumulative = sorted(rows, key=lambda r: r["cumulative_us"], reverse=True)
    total = sum(r["self_us"] for r in rows)
    packages: dict[str, int] = {}
    for row in rows:
        package = row["module"].split(".")[0]
        packages[package] = packages.get(package, 0) + row["self_us"]
    top_packages = sorted(packages.items(), key=lambda kv: kv[1], reverse=True)[:top]
    return {
        "modules_imported": len(rows),
        "total_self_us": total,
        "top_cumulative": by_cumulative[:top],
        "top_packages_self": [{"package": p, "self_us": us} for p, us in top_packages],
    }


def _event_file(work: Path, name: str, path: str, headers: dict[str, str], body: bytes) -> Path:
    from orchestrator.aws.events import http_api_event

    event_file = work / f"{name}-event.json"
    event = http_api_event("POST", path, headers=headers, body=body)
    event_file.write_text(json.dumps(event), encoding="utf-8")
    return event_file


def _starts(work: Path, keys: Keypair, moto_url: str) -> dict[str, Start]:
    """Every kind of start, each with a data folder of its own."""
    found = artifacts.artifacts()
    [ping] = signed_pings(keys, 1)
    ping_file = _event_file(work, "ping", "/discord", ping.headers, ping.body)
    command_file = _event_file(work, "deferred", "/discord", *slash_command(keys))
    delivery = workflow_run_completed()
    delivery_headers = github_headers("workflow_run", "bench-cold-1", delivery, WEBHOOK_SECRET)
    delivery_file = _event_file(work, "github", "/github", delivery_headers, delivery)
    home = work / "aws-home"
    home.mkdir()

    def env(name: str, art: artifacts.Artifact, lambda_jobs: bool = False) -> dict[str, str]:
        data_dir = work / f"data-{name}"
        data_dir.mkdir()
        base = child_env(art.folder, keys, data_dir)
        return lambda_jobs_env(base, moto_url, home) if lambda_jobs else base

    ours, runtime = found["ours"], artifacts.RUNTIME
    starts = [
        Start("ours", ours, ping_file, env("ours", ours)),
        Start("ours_src", found["ours_src"], ping_file, env("ours_src", found["ours_src"])),
        Start("bare", found["bare"], ping_file, env("bare", found["bare"])),
        Start("deferred", ours, command_file, env("deferred", ours, True), 200, 5, runtime),
        # Front doors measured for their imports only.
        Start("github", ours, delivery_file, env("github", ours, True), 202, None, runtime),
    ]
    return {start.name: start for start in starts}


def front_door_imports(
    python: str, starts: dict[str, Start], runs: int = IMPORTTIME_RUNS
) -> dict[str, Any]:
    """Our own modules' import cost per front door (the PING start is `ours`)."""
    chosen = {"ping": starts["ours"], "deferred": starts["deferred"], "github": starts["github"]}
    return {
        door: own_modules(importtime_rows(python, start, runs)) for door, start in chosen.items()
    }


def deferred_ratios(
    deferred: Sequence[dict[str, Any]], bare: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """The deferred command's cold start against the bare artifact's PING: the ratio of the
    median walls, and the per-run pairs (runs of the two back to back)."""
    walls = [r["wall_ms"] for r in deferred]
    bare_walls = [r["wall_ms"] for r in bare]
    return {
        "wall_deferred_vs_bare_ping": ratio(median(walls), median(bare_walls)),
        "wall_deferred_vs_bare_ping_per_rep": spread(
            [d / b for d, b in zip(walls, bare_walls, strict=True)]
        ),
    }


def start_order(rep: int) -> list[str]:
    """Repetition `rep`'s order of the variants: ours and the bare artifact back to back (which
    first alternating), so each per-run pair of the goal's ratio is two starts side by side."""
    return common.paired_order(VARIANTS, ("ours", "bare"), rep)


def run(reps: int = REPS, quick: bool = False) -> dict[str, Any]:
    reps = 2 if quick else reps
    build_info = artifacts.prepare()
    target = common.lambda_python()
    keys = Keypair.generate()
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as scratch:
        work = Path(scratch)
        with moto_lambda(work) as moto_url:
            starts = _starts(work, keys, moto_url)
            runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
            for variant in (*VARIANTS, "github"):
                one_start(target.executable, starts[variant])  # page cache; checks the answer
            for rep in range(reps):
                for variant in start_order(rep):
                    runs[variant].append(one_start(target.executable, starts[variant]))
            traced = 1 if quick else IMPORTTIME_RUNS
            imports = {
                v: importtime_top(importtime_rows(target.executable, starts[v], traced))
                for v in IMPORTTIME_VARIANTS
            }
            doors = front_door_imports(target.executable, starts, traced)
    result: dict[str, Any] = {
        "python": target.describe(),
        "fell_back": target.fell_back,
        "reps": reps,
        "build": build_info,
        "variants": {},
        "front_doors": doors,
    }
    for variant, items in runs.items():
        result["variants"][variant] = {
            **starts[variant].artifact.as_dict(),
            "wall_ms": spread([r["wall_ms"] for r in items]),
            "exit_ms": spread([r["exit_ms"] for r in items]),
            "import_ms": spread([r["import_ms"] for r in items]),
            "invoke_ms": spread([r["invoke_ms"] for r in items]),
            "maxrss_mb": spread([r["maxrss_kb"] / 1024 for r in items]),
            "modules": items[0]["modules"],
            "importtime": imports.get(variant),
        }

    def med(variant: str, key: str) -> float:
        value: float = result["variants"][variant][key]["median"]
        return value

    result["ratios"] = {
        "wall_ours_vs_bare": ratio(med("ours", "wall_ms"), med("bare", "wall_ms")),
        "wall_compiled_vs_src_ours": ratio(med("ours", "wall_ms"), med("ours_src", "wall_ms")),
        "rss_ours_vs_bare": ratio(med("ours", "maxrss_mb"), med("bare", "maxrss_mb")),
        "wall_ours_vs_bare_per_rep": spread(
            [o["wall_ms"] / b["wall_ms"] for o, b in zip(runs["ours"], runs["bare"], strict=True)]
        ),
        **deferred_ratios(runs["deferred"], runs["bare"]),
    }
    result["median_wall_ms"] = {v: median(r["wall_ms"] for r in runs[v]) for v in VARIANTS}
    return result


def main(argv: Sequence[str] | None = None) -> int:
    return common.section_main("coldstart", __doc__, run, REPS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
