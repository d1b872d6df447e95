"""Section 5: signed GitHub deliveries through the app, against gidgethub; and a 25 MB ack.

Throughput: `bench/deliveries_client.py` posts signed `workflow_run` `completed`
deliveries (each with its own delivery id) one at a time through httpx.ASGITransport,
in-process, to our app (project venv) and to a minimal Starlette app using gidgethub's
`Event.from_http` + `Router` (gidgethub's venv, same Starlette and httpx versions). Each
repetition is a fresh process per side; the sides alternate.

Big payload: a fresh uvicorn server runs our app; a separate client process posts one
~25 MB signed `push` and times the 2xx; the server's peak RSS comes from
/proc/<pid>/status (VmHWM), next to its resident size just before the post (VmRSS).

    python -m bench.deliveries [--reps N] [--quick] [--out FILE]
"""

from __future__ import annotations

import http.client
import json
import subprocess
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import common
from bench.payloads import WEBHOOK_SECRET, dumps, github_headers, workflow_run_completed
from bench.stats import median, ratio, spread

REPS = 9  # as the PING's: a run here swings ±10%
COUNT = 600
WARMUP = 60
BIG_REPS = 3
BIG_BYTES = 25_000_000
CLIENT = common.BENCH_DIR / "deliveries_client.py"


def _client(
    python: str, app: str, payload: Path, env: dict[str, str], count: int, warmup: int, **kw: str
) -> dict[str, Any]:
    argv = [python, str(CLIENT), app, str(payload), "--secret", WEBHOOK_SECRET]
    argv += ["--count", str(count), "--warmup", str(warmup)]
    if "app_dir" in kw:
        argv += ["--app-dir", kw["app_dir"]]
    result = subprocess.run(
        argv, cwd=common.ROOT, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"deliveries client for {app} failed:\n{result.stderr[-1500:]}")
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def throughput(reps: int, count: int, warmup: int, work: Path) -> dict[str, Any]:
    from bench.peers.venvs import ensure_all

    gidgethub = ensure_all(["gidgethub"])["gidgethub"]
    payload = work / "workflow_run.json"
    payload.write_bytes(workflow_run_completed())
    sides = ["ours", "gidgethub"] if gidgethub.ok else ["ours"]
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    for rep in range(reps):
        for side in sides if rep % 2 == 0 else list(reversed(sides)):
            if side == "ours":
                data = work / f"data-{rep}"
                data.mkdir()
                env = common.clean_env(
                    ORCHESTRATOR_ENV="test",
                    ORCHESTRATOR_DATA_DIR=str(data),
                    GITHUB_WEBHOOK_SECRET=WEBHOOK_SECRET,
                    # The client runs as a script: import the app of this checkout, not
                    # whatever checkout the venv's editable install points at.
                    PYTHONPATH=str(common.ROOT),
                )
                runs[side].append(
                    _client(common.PYTHON, "orchestrator.main:app", payload, env, count, warmup)
                )
            else:
                env = common.clean_env(GITHUB_WEBHOOK_SECRET=WEBHOOK_SECRET)
                runs[side].append(
                    _client(
                        str(gidgethub.python),
                        "gidgethub_app:app",
                        payload,
                        env,
                        count,
                        warmup,
                        app_dir=str(common.PEERS_DIR),
                    )
                )
    out: dict[str, Any] = {
        "count_per_run": count,
        "warmup_per_run": warmup,
        "payload_bytes": payload.stat().st_size,
        "reps": reps,
        "gidgethub": gidgethub.as_dict(),
        "sides": {},
    }
    for side, items in runs.items():
        out["sides"][side] = {
            "per_second": spread([r["per_second"] for r in items]),
            "p50_ms": spread([r["latency_ms"]["p50"] for r in items]),
            "p99_ms": spread([r["latency_ms"]["p99"] for r in items]),
            "statuses": [r["statuses"] for r in items],
            "failed": sum(r["count"] - r["ok"] for r in items),
        }
        if all("jobs_left" in r for r in items):
            out["sides"][side]["jobs_left"] = spread([r["jobs_left"] for r in items])
            out["sides"][side]["close_ms"] = spread([r["close_seconds"] * 1000 for r in items])
    if "gidgethub" in runs:
        ours = [r["per_second"] for r in runs["ours"]]
        theirs = [r["per_second"] for r in runs["gidgethub"]]
        out["ratio_ours_vs_gidgethub"] = ratio(median(ours), median(theirs))
        out["ratio_per_rep"] = spread([o / t for o, t in zip(ours, theirs, strict=True)])
    return out


def _post_small(port: int) -> int:
    body = dumps({"zen": "Keep it logically awesome.", "hook_id": 1})
    headers = github_headers("ping", str(uuid.uuid4()), body, WEBHOOK_SECRET)
    conn = http.client.HTTPConnection(common.HOST, port, timeout=10)
    try:
        conn.request("POST", "/github", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def big_payload(reps: int, size: int, work: Path) -> dict[str, Any]:
    items = []
    for rep in range(reps):
        data = work / f"big-data-{rep}"
        data.mkdir()
        env = common.clean_env(
            ORCHESTRATOR_ENV="test",
            ORCHESTRATOR_DATA_DIR=str(data),
            GITHUB_WEBHOOK_SECRET=WEBHOOK_SECRET,
            PYTHONPATH=str(common.ROOT),  # this checkout's app, as for the throughput
        )
        port = common.free_port()
        argv = common.asgi_server_argv(common.PYTHON, "orchestrator.main:app", port)
        server = common.start_server("big-ours", argv, env, port)
        try:
            if _post_small(port) != 200:  # routes imported, store untouched: a warm server
                raise RuntimeError("the server did not answer a signed GitHub ping with 200")
            rss_before = common.proc_status_kb(server.pid, "VmRSS")
            hwm_before = common.proc_status_kb(server.pid, "VmHWM")
            client = [common.PYTHON, "-m", "bench.bigpost", "--port", str(port)]
            client += ["--secret", WEBHOOK_SECRET, "--bytes", str(size)]
            result = subprocess.run(
                client,
                cwd=common.ROOT,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            hwm_after = common.proc_status_kb(server.pid, "VmHWM")
        finally:
            server.stop()
        if result.returncode != 0:
            raise RuntimeError(f"bigpost failed:\n{result.stderr[-1500:]}")
        posted: dict[str, Any] = json.loads(result.stdout)
        if not 200 <= posted["status"] < 300:
            raise RuntimeError(f"the 25 MB delivery was answered {posted['status']}")
        posted.update(rss_before_kb=rss_before, hwm_before_kb=hwm_before, hwm_after_kb=hwm_after)
        items.append(posted)
    payload_mb = items[0]["bytes"] / 1_000_000
    peak_mb = [i["hwm_after_kb"] / 1024 for i in items if i["hwm_after_kb"]]
    growth_mb = [
        (i["hwm_after_kb"] - i["rss_before_kb"]) / 1024
        for i in items
        if i["hwm_after_kb"] and i["rss_before_kb"]
    ]
    out: dict[str, Any] = {
        "reps": reps,
        "payload_bytes": items[0]["bytes"],
        "answers": sorted({f"{i['status']} {i['answer']}" for i in items}),
        "seconds_to_2xx": spread([i["seconds"] for i in items]),
        "raw": items,
    }
    if peak_mb and growth_mb:
        out["server_peak_rss_mb"] = spread(peak_mb)
        out["server_rss_before_mb"] = spread([i["rss_before_kb"] / 1024 for i in items])
        out["peak_growth_mb"] = spread(growth_mb)
        out["peak_growth_vs_payload"] = median(growth_mb) * 1.048576 / payload_mb
        out["peak_rss_vs_payload"] = median(peak_mb) * 1.048576 / payload_mb
    return out


def run(reps: int = REPS, quick: bool = False) -> dict[str, Any]:
    count, warmup = (50, 5) if quick else (COUNT, WARMUP)
    with tempfile.TemporaryDirectory(prefix="bench-deliveries-") as scratch:
        work = Path(scratch)
        return {
            "throughput": throughput(reps, count, warmup, work),
            "big": big_payload(1 if quick else BIG_REPS, 1_000_000 if quick else BIG_BYTES, work),
        }


def main(argv: Sequence[str] | None = None) -> int:
    return common.section_main("deliveries", __doc__, run, REPS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
