"""The floor: a raw ASGI app that only checks the Ed25519 signature and answers PONG.

No framework, no routing, no JSON parsing, no logging: what answering a signed PING
costs at the least on this server. `DISCORD_PUBLIC_KEY` (hex) names the key.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PONG = b'{"type":1}'
REFUSED = b'{"error":"invalid request signature"}'
_JSON = [(b"content-type", b"application/json")]


def make_app(public_key_hex: str) -> ASGIApp:
    key = VerifyKey(bytes.fromhex(public_key_hex))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        signature = timestamp = None
        for name, value in scope["headers"]:
            if name == b"x-signature-ed25519":
                signature = value
            elif name == b"x-signature-timestamp":
                timestamp = value
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        status, payload = 401, REFUSED
        if signature is not None and timestamp is not None:
            try:
                key.verify(timestamp + body, bytes.fromhex(signature.decode("latin-1")))
                status, payload = 200, PONG
            except (BadSignatureError, ValueError):
                pass
        headers = [*_JSON, (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    return app


app = make_app(os.environ.get("DISCORD_PUBLIC_KEY", "00" * 32))
