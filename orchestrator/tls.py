"""One TLS context for every outbound HTTP client (Discord, GitHub, probes, the verifier).

httpx builds a fresh context per client unless given one, and building one loads
the whole CA bundle: about 50 ms of CPU, measured, each time. Clients here are made
per job (a Discord client per follow-up, two for a verification), so on Lambda that
was the largest single cost of a short job. The context is built once per process,
the way httpx builds it (certifi, or `SSL_CERT_FILE`/`SSL_CERT_DIR` when set), and
is safe to share between threads. Built here with `ssl` and certifi, not by asking httpx:
the AWS client (`aws.wire`, on `http.client`) uses it too and must not import httpx.

One caveat: httpcore sets the ALPN protocols on the context it is given, per client
(HTTP/1.1 only, or with h2). Every client here is HTTP/1.1; a client that enables
http2 must get a context of its own, or it would change the others' offer.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

_context: ssl.SSLContext | None = None
_lock = threading.Lock()


def client_context() -> ssl.SSLContext:
    global _context
    if _context is None:
        with _lock:
            if _context is None:
                _context = _build()
    return _context


def _build() -> ssl.SSLContext:
    """httpx's `create_ssl_context()` with its defaults (verify, trust the environment)."""
    import ssl

    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    import certifi

    return ssl.create_default_context(cafile=certifi.where())
