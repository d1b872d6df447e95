"""Post signed GitHub deliveries to an ASGI app in-process (httpx.ASGITransport).

    python deliveries_client.py MODULE:ATTR PAYLOAD.json --secret S [--count N]
                                [--warmup W] [--event E] [--app-dir DIR]

Standalone (stdlib + httpx) so the same code drives our app from the project venv and
gidgethub's app from its own venv: the transport and the client are identical on both
sides. Every delivery has its own X-GitHub-Delivery id (no dedup short-circuit); the
signatures are computed before the clock starts. Deliveries go one at a time. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import importlib
import json
import math
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any


def _percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest rank, as bench/stats.py (which this standalone script cannot import)."""
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


async def post_all(app: Any, body: bytes, secret: str, event: str, count: int) -> dict[str, Any]:
    import httpx

    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    base = {
        "content-type": "application/json",
        "user-agent": "GitHub-Hookshot/bench",
        "x-github-event": event,
        "x-github-hook-id": "1",
        "x-hub-signature-256": signature,
    }
    requests = [{**base, "x-github-delivery": str(uuid.uuid4())} for _ in range(count)]
    statuses: Counter[int] = Counter()
    latencies = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench.invalid") as client:
        started = time.perf_counter()
        for headers in requests:
            one = time.perf_counter()
            response = await client.post("/github", content=body, headers=headers)
            latencies.append((time.perf_counter() - one) * 1000)
            statuses[response.status_code] += 1
        seconds = time.perf_counter() - started
    ok = sum(n for code, n in statuses.items() if 200 <= code < 300)
    latencies.sort()
    return {
        "count": count,
        "ok": ok,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "seconds": seconds,
        "per_second": ok / seconds if seconds else 0.0,
        "latency_ms": {
            "p50": _percentile(latencies, 50),
            "p99": _percentile(latencies, 99),
            "max": latencies[-1],
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("app")
    parser.add_argument("payload", type=Path)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--event", default="workflow_run")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--app-dir")
    args = parser.parse_args()
    if args.app_dir:
        sys.path.insert(0, args.app_dir)
    module_name, _, attr = args.app.partition(":")
    app = getattr(importlib.import_module(module_name), attr)
    body = args.payload.read_bytes()

    async def both() -> dict[str, Any]:
        if args.warmup:
            await post_all(app, body, args.secret, args.event, args.warmup)
        return await post_all(app, body, args.secret, args.event, args.count)

    result = asyncio.run(both())
    # Our app queues a job per delivery; let them finish (untimed) before exiting, and say
    # how many were left when the clock stopped, and how long they took: the jobs ran on
    # the same cores meanwhile, and a backlog here would be work the rate leaves out.
    services = getattr(getattr(app, "state", None), "services", None)
    if services is not None and hasattr(services, "close"):
        inflight = getattr(getattr(services, "jobs", None), "inflight", None)
        if callable(inflight):
            result["jobs_left"] = inflight()
        began = time.perf_counter()
        services.close(30)
        result["close_seconds"] = time.perf_counter() - began
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
