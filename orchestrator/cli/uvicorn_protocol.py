"""The HTTP protocol `orchestrator serve` runs: uvicorn's h11 one plus a request-head deadline.

uvicorn closes an idle connection only *after* it has answered a request on it
(`--timeout-keep-alive`), and cancels even that timer on the first byte that comes in.
A connection that never sends a request, or sends its head one byte at a time, is kept
forever: thousands of them cost file descriptors, and under `--limit-concurrency` they
would use up the limit and turn every real request away with 503. So a connection gets
`head_timeout` seconds, from connecting or from its previous answer, to deliver a
complete request head, or it is closed. Once a head has arrived, the request belongs to
the app (whose signed edge has its own body deadline).

Only the local server needs this: on Lambda, API Gateway holds the connections.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState


class HeadDeadlineProtocol(H11Protocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        head_timeout: float,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.head_timeout = head_timeout
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._request_in_progress():
            self._cancel_head_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may already start a pipelined request
        if not self.transport.is_closing() and not self._request_in_progress():
            self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _request_in_progress(self) -> bool:
        """A complete head has arrived and its answer is not finished yet."""
        return self.cycle is not None and not self.cycle.response_complete

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()
