"""Section 1: signed Discord PINGs over HTTP, and what a rejection costs.

Every target is served on 127.0.0.1 by one server process (uvicorn, one worker, for the
ASGI apps; waitress for the WSGI peer) and receives the very same pre-signed request
bytes from `bench.loadgen` running in its own process: a fixed number of requests over
a fixed number of keep-alive connections. Repetitions alternate between the targets,
so drift on the machine hits all of them alike, and each repetition starts every server
afresh: a Python process's speed depends on the process itself (its hash seed, where its
memory landed), by up to a tenth for the very same code here, so one process per target
for the whole run would make every repetition of it the same draw (pyperf spawns its
worker processes for the same reason).

    python -m bench.ping [--reps N] [--quick] [--out FILE]
"""

from __future__ import annotations

import asyncio
import http.client
import json
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import common
from bench.loadgen import http_request, write_requests
from bench.payloads import APPLICATION_ID, WEBHOOK_SECRET, Keypair, SignedPing, signed_pings
from bench.stats import median, ratio, spread

# Runs per target. One run on this 2-core VM can swing ±30% (another tenant, the load
# generator's own core): a run's pairs have spanned 0.57-1.06 of the floor around a median
# of 0.81, and nine runs' medians still parted from their pairs by 0.06 (the floor's median
# jumping with two fast runs). Fifteen give medians and pairs that a run or two cannot move,
# for ~70 s more of `make bench`.
REPS = 15
COUNT = 3000
WARMUP = 200
CONNECTIONS = 16
LOADGEN_TIMEOUT = 180.0


@dataclass
class Target:
    name: str
    label: str
    path: str
    argv: list[str] | None
    env: dict[str, str]
    server: str
    versions: dict[str, str] = field(default_factory=dict)
    note: str | None = None
    error: str | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)


def _ours_versions() -> dict[str, str]:
    import platform
    from importlib import metadata

    names = ("fastapi", "starlette", "uvicorn", "PyNaCl")
    return {**{n: metadata.version(n) for n in names}, "python": platform.python_version()}


def targets(keys: Keypair, data_dir: Path, peer_envs: dict[str, Any]) -> list[Target]:
    py = common.PYTHON
    ours_env = common.clean_env(
        # This checkout's app, not whichever one the venv's editable install points at.
        PYTHONPATH=str(common.ROOT),
        ORCHESTRATOR_ENV="test",
        ORCHESTRATOR_DATA_DIR=str(data_dir),
        DISCORD_PUBLIC_KEY=keys.public_hex,
        DISCORD_APPLICATION_ID=APPLICATION_ID,
        GITHUB_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )
    peer_env = common.clean_env(
        DISCORD_PUBLIC_KEY=keys.public_hex,
        DISCORD_APPLICATION_ID=APPLICATION_ID,
        LOGURU_LEVEL="INFO",  # dispike logs through loguru (DEBUG by default); INFO like ours
    )
    ours_versions = _ours_versions()
    floor_versions = {
        k: v for k, v in ours_versions.items() if k in ("uvicorn", "PyNaCl", "python")
    }
    found = [
        Target(
            "ours",
            "orchestrator (this app)",
            "/discord",
            None,
            ours_env,
            "uvicorn",
            ours_versions,
        ),
        Target(
            "floor",
            "floor: raw ASGI + PyNaCl",
            "/discord",
            None,
            dict(peer_env),
            "uvicorn",
            floor_versions,
        ),
    ]
    found[0].argv = [py, str(common.PEERS_DIR / "serve_asgi.py"), "orchestrator.main:app"]
    found[1].argv = [py, str(common.PEERS_DIR / "serve_asgi.py"), "floor:app"]
    # The framework's own ceiling: the thinnest FastAPI app doing the same check (the cold
    # start's baseline too), with no access log, no request id, no body budget.
    found.append(
        Target(
            "bare",
            "bare FastAPI + PyNaCl (same check, nothing else)",
            "/discord",
            [py, str(common.PEERS_DIR / "serve_asgi.py"), "bare_fastapi:app"],
            dict(peer_env),
            "uvicorn",
            {k: v for k, v in ours_versions.items()},
        )
    )
    for name, label, module, launcher, server in (
        ("dispike", "dispike (FastAPI)", "dispike_app:app", "serve_asgi.py", "uvicorn"),
        ("fdi", "flask-discord-interactions", "fdi_app:app", "serve_wsgi.py", "waitress"),
    ):
        env = peer_envs.get(name)
        target = Target(name, label, "/interactions", None, dict(peer_env), server)
        if env is None or not env.ok:
            target.error = getattr(env, "error", None) or "not installed"
        else:
            target.argv = [env.python, str(common.PEERS_DIR / launcher), module]
            target.versions = env.versions
            target.note = env.note
        found.append(target)
    return found


def _check_pong(port: int, path: str, ping: SignedPing) -> str | None:
    """None if the target answers this signed PING with 200 {"type": 1}; else why not."""
    conn = http.client.HTTPConnection(common.HOST, port, timeout=10)
    try:
        conn.request("POST", path, body=ping.body, headers=ping.headers)
        response = conn.getresponse()
        body = response.read()
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if response.status != 200 or not isinstance(answer, dict) or answer.get("type") != 1:
        return f"answered {response.status} {body[:120]!r} to a signed PING"
    return None


def _loadgen(port: int, requests: Path, count: int, warmup: int) -> dict[str, Any]:
    result = subprocess.run(
        [
            common.PYTHON,
            "-m",
            "bench.loadgen",
            "--port",
            str(port),
            "--requests",
            str(requests),
            "--count",
            str(count),
            "--warmup",
            str(warmup),
            "--connections",
            str(CONNECTIONS),
        ],
        cwd=common.ROOT,
        capture_output=True,
        text=True,
        timeout=LOADGEN_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"loadgen failed: {result.stderr[-500:]}")
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def http_round(
    chosen: list[Target],
    pings: Sequence[SignedPing],
    work: Path,
    *,
    reps: int,
    count: int,
    warmup: int,
) -> None:
    """Each repetition: start every runnable target afresh, run each once (the order rotating
    from one repetition to the next), stop them; fills .runs."""
    files: dict[str, Path] = {}
    for path in {t.path for t in chosen}:
        file = work / f"requests{path.replace('/', '-')}.bin"
        write_requests(file, [http_request(path, p.body, p.headers) for p in pings])
        files[path] = file
    servers: dict[str, common.Server] = {}

    def start(target: Target) -> None:
        port = common.free_port()
        argv = [*(target.argv or []), str(port)]
        try:
            server = common.start_server(f"ping-{target.name}", argv, target.env, port)
        except (RuntimeError, TimeoutError, OSError) as exc:
            problem: str | None = f"server did not start: {exc} (see build/bench/logs)"
        else:
            servers[target.name] = server
            problem = _check_pong(port, target.path, pings[0])
            if problem:
                servers.pop(target.name).stop()
        if problem:
            # A target that fails in a later repetition keeps no runs: its row says why,
            # rather than medians of fewer runs than the others'.
            target.error = problem
            target.runs.clear()

    try:
        for rep in range(reps):
            with ThreadPoolExecutor(max_workers=4) as pool:  # servers start side by side
                list(pool.map(start, [t for t in chosen if t.argv is not None and not t.error]))
            for target in _order([t for t in chosen if t.name in servers], rep):
                server = servers[target.name]
                target.runs.append(_loadgen(server.port, files[target.path], count, warmup))
            while servers:  # the next repetition runs on new processes
                servers.popitem()[1].stop()
    finally:
        for server in servers.values():
            server.stop()


def _order(running: list[Target], rep: int) -> list[Target]:
    """This repetition's order: ours and the floor back to back (`common.paired_order`)."""
    by_name = {target.name: target for target in running}
    return [by_name[name] for name in common.paired_order(list(by_name), ("ours", "floor"), rep)]


def summarize(target: Target) -> dict[str, Any]:
    out: dict[str, Any] = {
        "label": target.label,
        "server": target.server,
        "path": target.path,
        "versions": target.versions,
        "note": target.note,
        "error": target.error,
    }
    if target.runs:
        out["rps"] = spread([r["rps"] for r in target.runs])
        out["p50_ms"] = spread([r["latency_ms"]["p50"] for r in target.runs if "latency_ms" in r])
        out["p99_ms"] = spread([r["latency_ms"]["p99"] for r in target.runs if "latency_ms" in r])
        out["failed_requests"] = sum(r["count"] - r["ok"] for r in target.runs)
        out["statuses"] = [r["statuses"] for r in target.runs]
        out["errors"] = [r["errors"] for r in target.runs if r["errors"]]
    return out


# --- rejections, in-process ---------------------------------------------------------------


def rejection_costs(keys: Keypair, data_dir: Path, reps: int, calls: int) -> dict[str, Any]:
    """Microseconds per rejected request: our verify functions, our whole ASGI app, the floor.

    Imports `orchestrator.main` here (after setting its environment), so run this last.
    """
    import os
    import time

    os.environ.update(
        ORCHESTRATOR_ENV="test",
        ORCHESTRATOR_ENV_FILE="",
        ORCHESTRATOR_DATA_DIR=str(data_dir),
        DISCORD_PUBLIC_KEY=keys.public_hex,
        GITHUB_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )
    from bench.asgi import per_call_us
    from bench.peers.floor import make_app
    from orchestrator.discord.verify import SignatureError, check_headers, verify_request
    from orchestrator.main import app

    floor = make_app(keys.public_hex)
    [good] = signed_pings(keys, 1)
    stamp = good.headers["X-Signature-Timestamp"]
    # A well-formed signature by another key over the same bytes: the full Ed25519 check runs.
    [forged] = signed_pings(Keypair.generate(), 1, int(stamp))
    bad_sig = dict(good.headers, **{"X-Signature-Ed25519": forged.headers["X-Signature-Ed25519"]})
    unsigned = {"Content-Type": "application/json"}

    def verify_unsigned() -> None:
        check_headers(None, None, now=time.time(), max_age=300)

    def verify_bad() -> None:
        verify_request(
            public_key=keys.public_hex,
            signature=bad_sig["X-Signature-Ed25519"],
            timestamp=stamp,
            body=good.body,
            now=time.time(),
            max_age=300,
        )

    def fn_us(fn: Any, n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            try:
                fn()
            except SignatureError:
                pass
            else:
                raise RuntimeError("a rejection was accepted")
        return (time.perf_counter() - started) / n * 1e6

    cases: dict[str, list[float]] = {
        "verify_unsigned_us": [],
        "verify_bad_signature_us": [],
        "app_unsigned_us": [],
        "app_bad_signature_us": [],
        "app_signed_ping_us": [],
        "floor_unsigned_us": [],
        "floor_bad_signature_us": [],
        "floor_signed_ping_us": [],
    }

    async def one_rep(n: int) -> None:
        cases["verify_unsigned_us"].append(fn_us(verify_unsigned, n * 10))
        cases["verify_bad_signature_us"].append(fn_us(verify_bad, n))
        for prefix, target in (("app", app), ("floor", floor)):
            cases[f"{prefix}_unsigned_us"].append(
                await per_call_us(target, "/discord", unsigned, good.body, n, 401)
            )
            cases[f"{prefix}_bad_signature_us"].append(
                await per_call_us(target, "/discord", bad_sig, good.body, n, 401)
            )
            cases[f"{prefix}_signed_ping_us"].append(
                await per_call_us(target, "/discord", good.headers, good.body, n, 200)
            )

    async def all_reps() -> None:
        await one_rep(max(1, calls // 5))  # warm-up, not recorded
        for values in cases.values():
            values.clear()
        for _ in range(reps):
            await one_rep(calls)

    asyncio.run(all_reps())
    return {"calls_per_rep": calls, **{k: spread(v) for k, v in cases.items()}}


def run(
    reps: int = REPS, quick: bool = False, peer_envs: dict[str, Any] | None = None
) -> dict[str, Any]:
    count, warmup = (50, 10) if quick else (COUNT, WARMUP)
    if peer_envs is None:
        if quick:
            peer_envs = {}
        else:
            from bench.peers.venvs import ensure_all

            peer_envs = ensure_all(["dispike", "fdi"])
    keys = Keypair.generate()
    pings = signed_pings(keys, count)
    with tempfile.TemporaryDirectory(prefix="bench-ping-") as scratch:
        work = Path(scratch)
        (work / "data").mkdir()
        chosen = targets(keys, work / "data", peer_envs)
        if quick:
            chosen = [t for t in chosen if t.name in ("ours", "floor", "bare")]
        http_round(chosen, pings, work, reps=reps, count=count, warmup=warmup)
        summary = {t.name: summarize(t) for t in chosen}
        rejections = rejection_costs(keys, work / "data", reps, 200 if quick else 1000)
    floor_runs = [r["rps"] for t in chosen if t.name == "floor" for r in t.runs]
    for target in chosen:
        entry = summary[target.name]
        if target.runs and floor_runs:
            mine = [r["rps"] for r in target.runs]
            entry["ratio_to_floor"] = ratio(median(mine), median(floor_runs))
            paired = [m / f for m, f in zip(mine, floor_runs, strict=False) if f]
            entry["ratio_to_floor_per_rep"] = spread(paired) if paired else None
    bare_runs = [r["rps"] for t in chosen if t.name == "bare" for r in t.runs]
    ours = next((t for t in chosen if t.name == "ours"), None)
    if ours is not None and ours.runs and bare_runs:
        mine = [r["rps"] for r in ours.runs]
        summary["ours"]["ratio_to_bare"] = ratio(median(mine), median(bare_runs))
        paired = [m / b for m, b in zip(mine, bare_runs, strict=False) if b]
        summary["ours"]["ratio_to_bare_per_rep"] = spread(paired) if paired else None
    return {
        "requests_per_run": count,
        "warmup_per_run": warmup,
        "connections": CONNECTIONS,
        "reps": reps,
        "targets": summary,
        "rejection": rejections,
    }


def main(argv: Sequence[str] | None = None) -> int:
    return common.section_main("ping", __doc__, run, REPS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
