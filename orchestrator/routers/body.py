"""Reading a request body without trusting its size.

A declared `Content-Length` over the cap is refused before a byte is read;
a body that grows past the cap while streaming is refused the moment it does,
so an attacker cannot make us buffer more than the cap.
"""

from __future__ import annotations

from fastapi import Request

from orchestrator.routers.errors import Refusal


async def read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Refusal(400, "malformed", "invalid Content-Length")
        if int(declared) > limit:
            raise Refusal(413, "too_large", f"body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refusal(413, "too_large", f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
