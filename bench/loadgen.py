"""A small HTTP/1.1 load generator: raw asyncio sockets, keep-alive, bounded, stdlib only.

    python -m bench.loadgen --port P --requests FILE [--count N] [--warmup W]
                            [--connections C] [--timeout S]

FILE holds the exact request bytes to send (each prefixed by its 4-byte big-endian
length); they are replayed in order, cycling, so every target gets identical bytes.
Opens C connections first, then sends W warm-up requests (not measured) and N measured
requests, at most one in flight per connection. Prints one JSON object: successes per
second and latency percentiles (ms). Every request has a timeout; the run ends after N.
It runs in its own process so the client and the server never share an interpreter.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import struct
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.stats import latency_summary

HOST = "127.0.0.1"


def write_requests(path: Path, requests: Sequence[bytes]) -> None:
    with path.open("wb") as handle:
        for blob in requests:
            handle.write(struct.pack(">I", len(blob)))
            handle.write(blob)


def read_requests(path: Path) -> list[bytes]:
    data = path.read_bytes()
    blobs, offset = [], 0
    while offset < len(data):
        (size,) = struct.unpack_from(">I", data, offset)
        offset += 4
        blobs.append(data[offset : offset + size])
        offset += size
    return blobs


def http_request(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {HOST}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; (status, keep the connection)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    version, status_text = lines[0].split(b" ", 2)[:2]
    status = int(status_text)
    keep = version == b"HTTP/1.1"
    length: int | None = None
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        if key == b"content-length":
            length = int(value.strip())
        elif key == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif key == b"connection":
            keep = b"close" not in value.lower()
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length is not None:
        await reader.readexactly(length)
    else:
        await reader.read()
        keep = False
    return status, keep


async def _phase(
    port: int, blobs: Sequence[bytes], count: int, connections: int, request_timeout: float
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    cursor = 0

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        try:
            return await asyncio.wait_for(asyncio.open_connection(HOST, port), request_timeout)
        except (TimeoutError, OSError) as exc:
            errors[type(exc).__name__] += 1
            return None

    opened = await asyncio.gather(*(connect() for _ in range(connections)))

    async def worker(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None) -> None:
        nonlocal cursor
        while cursor < count:
            index = cursor
            cursor += 1
            if conn is None:
                conn = await connect()
                if conn is None:
                    continue
            reader, writer = conn
            started = time.perf_counter()
            try:
                writer.write(blobs[index % len(blobs)])
                status, keep = await asyncio.wait_for(read_response(reader), request_timeout)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                errors[type(exc).__name__] += 1
                writer.close()
                conn = None
                continue
            latencies.append((time.perf_counter() - started) * 1000.0)
            statuses[status] += 1
            if not keep:
                writer.close()
                conn = None
        if conn is not None:
            conn[1].close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(conn) for conn in opened))
    seconds = time.perf_counter() - started
    ok = sum(n for status, n in statuses.items() if 200 <= status < 300)
    result: dict[str, Any] = {
        "count": count,
        "ok": ok,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": dict(errors),
        "seconds": seconds,
        "rps": ok / seconds if seconds > 0 else 0.0,
    }
    if latencies:
        result["latency_ms"] = latency_summary(latencies)
    return result


async def run(
    port: int,
    blobs: Sequence[bytes],
    *,
    count: int,
    warmup: int = 0,
    connections: int = 16,
    request_timeout: float = 10.0,
) -> dict[str, Any]:
    if warmup:
        await _phase(port, blobs, warmup, connections, request_timeout)
    result = await _phase(port, blobs, count, connections, request_timeout)
    result["connections"] = connections
    result["warmup"] = warmup
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--requests", type=Path, required=True)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args(argv)
    blobs = read_requests(args.requests)
    result = asyncio.run(
        run(
            args.port,
            blobs,
            count=args.count,
            warmup=args.warmup,
            connections=args.connections,
            request_timeout=args.timeout,
        )
    )
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
