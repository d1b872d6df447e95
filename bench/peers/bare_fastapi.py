"""A bare FastAPI app behind Mangum: the same route doing the same PyNaCl verification.

The baseline for the Lambda comparisons (warm invoke and cold start): `POST /discord`
checks the Ed25519 signature over timestamp + body, parses the JSON and answers PONG.
Shipped as `bare_app.py` at the root of the bare artifact, handler `bare_app.handler`.
"""

from __future__ import annotations

import json
import os

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from mangum import Mangum
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

_KEY = VerifyKey(bytes.fromhex(os.environ.get("DISCORD_PUBLIC_KEY", "00" * 32)))

app = FastAPI()


@app.post("/discord")
async def discord(request: Request) -> JSONResponse:
    signature = request.headers.get("x-signature-ed25519")
    timestamp = request.headers.get("x-signature-timestamp")
    body = await request.body()
    if not signature or not timestamp:
        return JSONResponse({"error": "missing signature"}, status_code=401)
    try:
        _KEY.verify(timestamp.encode() + body, bytes.fromhex(signature))
    except (BadSignatureError, ValueError):
        return JSONResponse({"error": "invalid request signature"}, status_code=401)
    if json.loads(body).get("type") == 1:
        return JSONResponse({"type": 1})
    return JSONResponse({"error": "unsupported"}, status_code=400)


handler = Mangum(app, lifespan="off")
