"""The README's run command, for real: a uvicorn process on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from orchestrator.devkeys import DEV_IDENTITY_FILE
from tests.support.servers import serve


def test_serve_starts_on_the_embedded_defaults(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {"ORCHESTRATOR_DATA_DIR": str(data_dir), "ORCHESTRATOR_ENV": "dev"}
    with serve(env, cwd=tmp_path) as server:
        assert httpx.get(server.url + "/healthz").json() == {"status": "ok", "store": "ok"}
        docs = httpx.get(server.url + "/docs")
        assert docs.status_code == 200 and "swagger-ui" in docs.text
        version = httpx.get(server.url + "/version").json()
        assert "sha" in version
        assert httpx.post(server.url + "/discord", content=b"{}").status_code == 401
        banner = server.output()
    assert (data_dir / "orchestrator.sqlite3").exists()
    assert (data_dir / DEV_IDENTITY_FILE).exists()
    assert oct((data_dir / DEV_IDENTITY_FILE).stat().st_mode & 0o777) == "0o600"
    for expected in ["/docs", "/discord", "/github", "dev public key"]:
        assert expected in banner
    # The private half of the dev key is never printed.
    private = (data_dir / DEV_IDENTITY_FILE).read_text()
    import json

    assert json.loads(private)["discord_private_key"] not in banner


def test_help_lists_the_commands() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "orchestrator", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env=os.environ.copy(),
    )
    assert "serve" in run.stdout
