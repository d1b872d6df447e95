"""Every outbound HTTP client shares one TLS context, built once per process."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
import threading
from typing import Any

import certifi
import httpx
import pytest

from orchestrator import tls


def test_one_context_for_every_thread() -> None:
    seen: list[ssl.SSLContext] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait(timeout=5)
        context = tls.client_context()
        with lock:
            seen.append(context)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(seen) == 8 and len({id(c) for c in seen}) == 1
    assert seen[0].verify_mode is ssl.CERT_REQUIRED and seen[0].check_hostname


def test_our_clients_are_built_with_the_shared_context(monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.discord.rest import DiscordREST
    from orchestrator.github.auth import TokenAuth
    from orchestrator.github.client import GitHubClient
    from orchestrator.probes.http import make_client
    from orchestrator.verification.http_checks import open_client

    verified: list[Any] = []
    original = httpx.AsyncClient.__init__

    def spy(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        verified.append(kwargs.get("verify"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", spy)

    async def build() -> None:
        clients = [
            DiscordREST(base_url="https://discord.com/api/v10", application_id="1")._client,
            GitHubClient(auth=TokenAuth("ghp_x"))._http,
            make_client(5.0, True),
            open_client(5.0, production=True),
        ]
        for client in clients:
            await client.aclose()

    asyncio.run(build())
    assert len(verified) == 4
    assert all(v is tls.client_context() for v in verified), verified


def test_the_context_trusts_ssl_cert_file_when_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """As httpx's own default: `SSL_CERT_FILE` replaces certifi's bundle (a corporate proxy's
    CA, say). Built without httpx: the AWS client on `http.client` uses it too."""

    bundle = tmp_path / "one.pem"
    with open(certifi.where(), encoding="ascii") as source:
        first = source.read().split("-----END CERTIFICATE-----")[0]
    bundle.write_text(first + "-----END CERTIFICATE-----\n", encoding="ascii")
    monkeypatch.setattr(tls, "_context", None)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    assert tls.client_context().cert_store_stats()["x509_ca"] == 1
    monkeypatch.setattr(tls, "_context", None)
    monkeypatch.delenv("SSL_CERT_FILE")
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    assert tls.client_context().cert_store_stats()["x509_ca"] > 100


def test_building_the_context_does_not_import_httpx() -> None:
    code = (
        "import sys; from orchestrator import tls; tls.client_context(); "
        "sys.exit('httpx' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
