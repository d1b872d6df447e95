"""`python -m bench [--clean] [--only a,b] [--quick]`: every section, one run, one report.

1. Setup, in parallel: the Lambda artifacts (ours compiled and `--no-compile`, the bare
   FastAPI one) and the peers' venvs.
2. The sections, one after the other, each in its own process (each sets its own
   environment and imports the app fresh): ping, lambda_warm, coldstart, deferred,
   deliveries, profiling. A section that fails is recorded; the others still run.
3. docs/benchmarks.json (raw numbers) and docs/benchmarks.md (tables, goals).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from bench import artifacts, common, report

SECTIONS = ("ping", "lambda_warm", "coldstart", "deferred", "deliveries", "profiling")
SECTION_TIMEOUT = 240.0


def _say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def setup() -> dict[str, Any]:
    from bench.peers.venvs import ensure_all

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=2) as pool:
        built = pool.submit(artifacts.prepare)
        installed = pool.submit(ensure_all)
        peers = installed.result()
        try:
            build_info: dict[str, Any] = built.result()
        except Exception as exc:  # recorded; coldstart will report it too
            build_info = {"error": f"{type(exc).__name__}: {exc}"}
    return {
        "seconds": round(time.monotonic() - started, 1),
        "artifacts": build_info,
        "peers": {name: env.as_dict() for name, env in peers.items()},
    }


def run_section(name: str, quick: bool) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    out = common.RESULTS / f"{name}.json"
    out.unlink(missing_ok=True)
    argv = [common.PYTHON, "-m", f"bench.{name}", "--out", str(out)]
    if quick:
        argv.append("--quick")
    started = time.monotonic()
    try:
        result = subprocess.run(
            argv,
            cwd=common.ROOT,
            capture_output=True,
            text=True,
            timeout=SECTION_TIMEOUT,
            check=False,
        )
        error = None if result.returncode == 0 else (result.stderr.strip() or "failed")[-800:]
    except subprocess.TimeoutExpired:
        error = f"timed out after {SECTION_TIMEOUT:.0f} s"
    info = {"seconds": round(time.monotonic() - started, 1), "error": error}
    if error is None and out.is_file():
        loaded: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return loaded, info
    return None, info


def notes(results: dict[str, Any]) -> list[str]:
    found = [
        "Our app runs with its defaults for `ORCHESTRATOR_ENV=test` (SQLite store, in-process "
        "jobs, JSON access log at INFO to a file); uvicorn's own access log is off for every "
        "ASGI target. dispike logs through loguru, set to INFO (its default is DEBUG).",
        "uvicorn runs with what the venv has: here neither uvloop nor httptools, so the "
        "asyncio loop and h11 for every ASGI target. dispike brings its own pinned uvicorn; "
        "flask-discord-interactions runs under waitress (one process, 4 threads).",
        "The load generator and the server share the machine's 2 cores.",
    ]
    for name, peer in results.get("setup", {}).get("peers", {}).items():
        if peer.get("note"):
            found.append(
                f"{name}: {peer['note']}. An older interpreter is itself slower, so this "
                "comparison flatters us somewhat."
            )
        if peer.get("error"):
            found.append(f"{name} could not be used: {peer['error']}")
    cold = results.get("sections", {}).get("coldstart", {})
    if cold.get("fell_back"):
        found.append("No Python 3.12 was found; cold starts used the running interpreter.")
    for name, info in results.get("runs", {}).items():
        if info.get("error"):
            found.append(f"Section `{name}` failed: {info['error']}")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--clean", action="store_true", help="delete build/bench first (fresh venvs, builds)"
    )
    parser.add_argument("--only", help=f"comma-separated sections (default all: {SECTIONS})")
    parser.add_argument("--quick", action="store_true", help="tiny counts: checks the harness")
    parser.add_argument(
        "--no-docs", action="store_true", help="write build/bench/results/all.json only"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    if args.clean and common.BUILD.exists():
        _say(f"removing {common.BUILD.relative_to(common.ROOT)}")
        shutil.rmtree(common.BUILD)
    common.ensure_dirs()
    chosen = SECTIONS if not args.only else tuple(s for s in args.only.split(",") if s)
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")

    _say("setup: building the Lambda artifacts and installing the peers (in parallel)")
    results: dict[str, Any] = {
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": report.COMMAND,
        "machine": common.machine_info(),
        "setup": setup(),
        "runs": {},
        "sections": {},
    }
    _say(f"setup done in {results['setup']['seconds']} s")
    for name in chosen:
        _say(f"section {name} ...")
        data, info = run_section(name, args.quick)
        results["runs"][name] = info
        if data is not None:
            results["sections"][name] = data
        status = "ok" if info["error"] is None else f"FAILED: {info['error'][-300:]}"
        _say(f"section {name}: {info['seconds']} s, {status}")
    try:
        results["sizes"] = artifacts.sizes()
    except OSError as exc:
        results["sizes"] = {}
        results["runs"]["sizes"] = {"error": str(exc)}
    results["notes"] = notes(results)
    results["goals"] = report.goals(results)
    results["total_seconds"] = round(time.monotonic() - started, 1)
    text = json.dumps(results, indent=1) + "\n"
    (common.RESULTS / "all.json").write_text(text, encoding="utf-8")
    if not args.no_docs and not args.quick:
        report.JSON_PATH.write_text(text, encoding="utf-8")
        report.write(results)
        _say(
            f"wrote {report.MD_PATH.relative_to(common.ROOT)} and "
            f"{report.JSON_PATH.relative_to(common.ROOT)}"
        )
    for goal in results["goals"]:
        verdict = {True: "met", False: "NOT met", None: "not measured"}[goal["met"]]
        _say(f"goal: {goal['goal']}: {goal['measured']} -> {verdict}")
    _say(f"total {results['total_seconds']} s")
    failed = [n for n, info in results["runs"].items() if info.get("error")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
