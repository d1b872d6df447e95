"""Post one signed ~25 MB `push` delivery to a server on 127.0.0.1 and time the answer.

    python -m bench.bigpost --port P --secret S [--bytes N]

Builds and signs the payload first (untimed), then measures from the first byte sent to
the response status line and body. Prints JSON. Runs as its own fresh process.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
import uuid
from collections.abc import Sequence

from bench.payloads import big_push, github_headers


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--bytes", type=int, default=25_000_000)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    body = big_push(args.bytes)
    headers = github_headers("push", str(uuid.uuid4()), body, args.secret)
    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=args.timeout)
    started = time.perf_counter()
    conn.request("POST", "/github", body=body, headers=headers)
    response = conn.getresponse()
    answer = response.read()
    seconds = time.perf_counter() - started
    conn.close()
    json.dump(
        {
            "bytes": len(body),
            "status": response.status,
            "answer": answer[:200].decode("utf-8", "replace"),
            "seconds": seconds,
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
