"""Section 3: cold start of the Lambda artifact, against a bare FastAPI + Mangum artifact.

Each run is a fresh `python3.12 -I -S -B coldstart_child.py` process (the Lambda runtime's
import path: the task root first, no site-packages, no bytecode writes) that imports the
handler and serves one signed-PING HTTP API v2 event. Measured: wall time from spawn to
exit (parent side), the child's import and first-invoke times, and its peak RSS.
Variants alternate run by run. One extra `-X importtime` run per variant says which
imports dominate (top 10 by cumulative time).

    python -m bench.coldstart [--reps N] [--quick] [--out FILE]
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import artifacts, common
from bench.payloads import APPLICATION_ID, WEBHOOK_SECRET, Keypair, signed_pings
from bench.stats import median, ratio, spread

REPS = 6
CHILD = common.BENCH_DIR / "coldstart_child.py"
# Timed variants (the bare artifact's sources-only copy is built for its size only).
VARIANTS = ("ours", "ours_src", "bare")
IMPORTTIME_VARIANTS = ("ours", "bare")


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
    }


def _argv(python: str, art: artifacts.Artifact, event_file: Path, importtime: bool) -> list[str]:
    flags = ["-I", "-S", "-B", *(["-X", "importtime"] if importtime else [])]
    return [python, *flags, str(CHILD), str(art.folder), art.handler, str(event_file)]


def one_start(
    python: str, art: artifacts.Artifact, event_file: Path, env: dict[str, str]
) -> dict[str, Any]:
    started = time.perf_counter()
    result = subprocess.run(
        _argv(python, art, event_file, False),
        cwd=art.folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    wall_ms = (time.perf_counter() - started) * 1000
    if result.returncode != 0:
        raise RuntimeError(f"cold start of {art.name} failed:\n{result.stderr[-2000:]}")
    child: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    if child["status"] != 200 or '"type":1' not in str(child.get("body", "")).replace(" ", ""):
        raise RuntimeError(f"{art.name} did not answer PONG: {child}")
    child["wall_ms"] = wall_ms
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


def importtime_top(
    python: str, art: artifacts.Artifact, event_file: Path, env: dict[str, str], top: int = 10
) -> dict[str, Any]:
    result = subprocess.run(
        _argv(python, art, event_file, True),
        cwd=art.folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    rows = parse_importtime(result.stderr)
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


def run(reps: int = REPS, quick: bool = False) -> dict[str, Any]:
    reps = 2 if quick else reps
    build_info = artifacts.prepare()
    target = common.lambda_python()
    found = artifacts.artifacts()
    keys = Keypair.generate()
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as scratch:
        work = Path(scratch)
        [ping] = signed_pings(keys, 1)
        from orchestrator.aws.events import http_api_event

        event_file = work / "ping-event.json"
        event = http_api_event("POST", "/discord", headers=ping.headers, body=ping.body)
        event_file.write_text(json.dumps(event), encoding="utf-8")
        runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
        envs = {}
        for variant in VARIANTS:
            data_dir = work / f"data-{variant}"
            data_dir.mkdir()
            envs[variant] = child_env(found[variant].folder, keys, data_dir)
            one_start(target.executable, found[variant], event_file, envs[variant])  # page cache
        for rep in range(reps):
            order = VARIANTS[rep % len(VARIANTS) :] + VARIANTS[: rep % len(VARIANTS)]
            for variant in order:
                runs[variant].append(
                    one_start(target.executable, found[variant], event_file, envs[variant])
                )
        imports = {
            v: importtime_top(target.executable, found[v], event_file, envs[v])
            for v in IMPORTTIME_VARIANTS
        }
    result: dict[str, Any] = {
        "python": target.describe(),
        "fell_back": target.fell_back,
        "reps": reps,
        "build": build_info,
        "variants": {},
    }
    for variant, items in runs.items():
        result["variants"][variant] = {
            **found[variant].as_dict(),
            "wall_ms": spread([r["wall_ms"] for r in items]),
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
    }
    result["median_wall_ms"] = {v: median(r["wall_ms"] for r in runs[v]) for v in VARIANTS}
    return result


def main(argv: Sequence[str] | None = None) -> int:
    return common.section_main("coldstart", __doc__, run, REPS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
