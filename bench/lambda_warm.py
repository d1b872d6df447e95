"""Section 2: a warm Lambda invoke, in-process.

The real `orchestrator.main.handler` and a bare FastAPI + Mangum app with the same route
(`bench/peers/bare_fastapi.py`) each get the same signed-PING HTTP API v2 event, many
times over, alternating repetitions. Timed per call: what the function costs once warm.

    python -m bench.lambda_warm [--reps N] [--quick] [--out FILE]
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench import common
from bench.payloads import APPLICATION_ID, WEBHOOK_SECRET, Keypair, signed_pings
from bench.stats import latency_summary, median, ratio, spread

REPS = 7
CALLS = 1000
WARMUP = 200

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def _time_calls(handler: Handler, event: dict[str, Any], context: Any, calls: int) -> list[float]:
    """Microseconds per call; each call gets its own copy of the event, made untimed."""
    events = [copy.deepcopy(event) for _ in range(calls)]
    samples = []
    for item in events:
        started = time.perf_counter()
        response = handler(item, context)
        samples.append((time.perf_counter() - started) * 1e6)
        if response.get("statusCode") != 200:
            raise RuntimeError(f"handler answered {response.get('statusCode')}")
    return samples


def run(reps: int = REPS, quick: bool = False) -> dict[str, Any]:
    calls, warmup = (100, 20) if quick else (CALLS, WARMUP)
    keys = Keypair.generate()
    data_dir = tempfile.mkdtemp(prefix="bench-lambda-")
    os.environ.update(
        ORCHESTRATOR_ENV="test",
        ORCHESTRATOR_ENV_FILE="",
        ORCHESTRATOR_DATA_DIR=data_dir,
        DISCORD_PUBLIC_KEY=keys.public_hex,
        DISCORD_APPLICATION_ID=APPLICATION_ID,
        GITHUB_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )
    import orchestrator.main
    from bench.peers import bare_fastapi
    from orchestrator.aws.events import LambdaContext, http_api_event, response_body

    [ping] = signed_pings(keys, 1)
    event = http_api_event("POST", "/discord", headers=ping.headers, body=ping.body)
    context = LambdaContext()
    handlers: dict[str, Handler] = {
        "ours": orchestrator.main.handler,
        "bare": bare_fastapi.handler,
    }
    for name, handler in handlers.items():
        answer = handler(copy.deepcopy(event), context)
        if answer["statusCode"] != 200 or json.loads(response_body(answer)) != {"type": 1}:
            raise RuntimeError(f"{name} did not answer PONG: {answer}")
        _time_calls(handler, event, context, warmup)

    per_rep: dict[str, list[dict[str, float]]] = {name: [] for name in handlers}
    for rep in range(reps):
        order = list(handlers) if rep % 2 == 0 else list(reversed(handlers))
        for name in order:
            per_rep[name].append(
                latency_summary(_time_calls(handlers[name], event, context, calls))
            )

    result: dict[str, Any] = {"calls_per_rep": calls, "warmup": warmup, "reps": reps}
    for name, summaries in per_rep.items():
        result[name] = {
            "p50_us": spread([s["p50"] for s in summaries]),
            "p99_us": spread([s["p99"] for s in summaries]),
            "mean_us": spread([s["mean"] for s in summaries]),
        }
    ours = [s["p50"] for s in per_rep["ours"]]
    bare = [s["p50"] for s in per_rep["bare"]]
    result["ratio_p50"] = ratio(median(ours), median(bare))
    result["ratio_p50_per_rep"] = spread([o / b for o, b in zip(ours, bare, strict=True)])
    result["ratio_p99"] = ratio(
        result["ours"]["p99_us"]["median"], result["bare"]["p99_us"]["median"]
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    return common.section_main("lambda_warm", __doc__, run, REPS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
