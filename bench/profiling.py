"""Section 7: where our signed-PING request path spends its time (cProfile, in-process).

The whole ASGI app (`orchestrator.main:app`) is called directly with signed PINGs, no
server, under cProfile. Reported: the top functions by own time and by cumulative time,
and own time grouped by area (the Ed25519 check, logging, Starlette/FastAPI, our code...)
so the next optimisation has a named target.

    python -m bench.profiling [--quick] [--out FILE]
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import tempfile
from collections.abc import Sequence
from typing import Any

from bench import common
from bench.payloads import APPLICATION_ID, WEBHOOK_SECRET, Keypair, signed_pings

CALLS = 3000
# Own time is grouped by the first rule whose fragment is in "file:function".
AREAS = (
    ("ed25519 verify (PyNaCl/libsodium)", ("nacl/", "crypto_sign")),
    ("logging (access log, JSON lines)", ("logging/", "orchestrator/logs.py")),
    ("JSON encode/decode", ("json/", "_json")),
    ("pydantic", ("pydantic",)),
    ("OpenTelemetry (FastAPI's telemetry hooks)", ("opentelemetry/", "fastapi/telemetry/")),
    ("FastAPI routing/params", ("fastapi/",)),
    ("Starlette (requests, responses, middleware)", ("starlette/",)),
    ("asyncio / anyio", ("asyncio/", "anyio/")),
    ("orchestrator (our code)", ("orchestrator/",)),
    ("bench harness", ("bench/",)),
)


def _area(func: tuple[str, int, str]) -> str:
    filename, _line, function = func
    key = f"{filename}:{function}"
    for name, fragments in AREAS:
        if any(fragment in key for fragment in fragments):
            return name
    return "other"


def attribute(raw: dict[Any, Any]) -> dict[str, dict[str, Any]]:
    """Own time per area. A C or frozen-stdlib function's own time goes to its callers'
    areas in proportion to the time spent under each caller (so the regex a logger runs
    counts as logging), unless the function itself names its area (the libsodium call)."""
    areas: dict[str, dict[str, Any]] = {}

    def add(area: str, seconds: float, func: tuple[str, int, str]) -> None:
        entry = areas.setdefault(area, {"seconds": 0.0, "functions": {}})
        entry["seconds"] += seconds
        entry["functions"][func] = entry["functions"].get(func, 0.0) + seconds

    for func, (_cc, _nc, tt, _ct, callers) in raw.items():
        area = _area(func)
        shared = func[0] == "~" or func[0].startswith("<frozen")
        if shared and area == "other" and callers:
            edge_total = sum(edge[2] for edge in callers.values()) or 1.0
            for caller, edge in callers.items():
                add(_area(caller), tt * edge[2] / edge_total, func)
        else:
            add(area, tt, func)
    return areas


def _short(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    if filename == "~":
        return name
    short = filename.split("site-packages/")[-1].replace(str(common.ROOT) + "/", "")
    short = (
        short.split("/lib/python3.")[-1].split("/", 1)[-1] if "/lib/python3." in short else short
    )
    return f"{short}:{line}({name})"


def _row(func: tuple[str, int, str], stat: tuple[Any, ...], total: float) -> dict[str, Any]:
    _cc, nc, tt, ct, _ = stat
    return {
        "function": _short(func),
        "calls": nc,
        "own_ms": round(tt * 1000, 1),
        "cumulative_ms": round(ct * 1000, 1),
        "own_share": round(tt / total, 3) if total else None,
    }


def run(reps: int = 1, quick: bool = False) -> dict[str, Any]:
    calls = 200 if quick else CALLS
    keys = Keypair.generate()
    os.environ.update(
        ORCHESTRATOR_ENV="test",
        ORCHESTRATOR_ENV_FILE="",
        ORCHESTRATOR_DATA_DIR=tempfile.mkdtemp(prefix="bench-profile-"),
        DISCORD_PUBLIC_KEY=keys.public_hex,
        DISCORD_APPLICATION_ID=APPLICATION_ID,
        GITHUB_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )
    from bench.asgi import per_call_us
    from orchestrator.main import app

    pings = signed_pings(keys, 1)
    ping = pings[0]

    async def loop(n: int) -> float:
        return await per_call_us(app, "/discord", ping.headers, ping.body, n, 200)

    asyncio.run(loop(200))  # warm: imports, caches
    unprofiled_us = asyncio.run(loop(calls))
    profiler = cProfile.Profile()
    profiler.enable()
    profiled_us = asyncio.run(loop(calls))
    profiler.disable()
    stats = pstats.Stats(profiler)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(stat[2] for stat in raw.values())
    rows = [(func, stat) for func, stat in raw.items()]
    by_own = sorted(rows, key=lambda r: r[1][2], reverse=True)[:15]
    by_cumulative = sorted(rows, key=lambda r: r[1][3], reverse=True)[:15]
    areas = attribute(raw)
    ranked = sorted(areas.items(), key=lambda kv: kv[1]["seconds"], reverse=True)
    area_rows = []
    for area, entry in ranked:
        heaviest = sorted(entry["functions"].items(), key=lambda kv: kv[1], reverse=True)[:3]
        area_rows.append(
            {
                "area": area,
                "own_ms": round(entry["seconds"] * 1000, 1),
                "share": round(entry["seconds"] / total, 3),
                "heaviest": [_short(f) for f, _ in heaviest],
            }
        )
    slowest = next(r for r in area_rows if not r["area"].startswith("bench"))
    return {
        "calls": calls,
        "per_call_us_unprofiled": unprofiled_us,
        "per_call_us_profiled": profiled_us,
        "total_own_ms": round(total * 1000, 1),
        "areas": area_rows,
        "slowest_area": slowest,
        "top_own": [_row(f, s, total) for f, s in by_own],
        "top_cumulative": [_row(f, s, total) for f, s in by_cumulative],
    }


def main(argv: Sequence[str] | None = None) -> int:
    return common.section_main("profiling", __doc__, run, 1, argv)


if __name__ == "__main__":
    raise SystemExit(main())
