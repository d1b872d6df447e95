"""The dev identity: a local stand-in for Discord's signing key and GitHub's webhook secret.

Generated once per data dir and kept there, so the server and the CLI
(`simulate`, `replay`) agree across restarts and processes. The private half
exists only on the developer's disk; production never reads this file
(`config.finalize` refuses to start without real secrets instead).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import NamedTuple

DEV_IDENTITY_FILE = "dev-identity.json"


class DevIdentity(NamedTuple):
    """The dev keys (a NamedTuple: cheap to define on a cold start, which imports this)."""

    discord_private_key: str  # hex Ed25519 seed
    discord_public_key: str  # hex Ed25519 public key, what the portal would show
    github_webhook_secret: str

    def __repr__(self) -> str:  # never print the private half by accident
        return f"DevIdentity(discord_public_key={self.discord_public_key!r})"


def _generate() -> DevIdentity:
    from nacl.signing import SigningKey

    key = SigningKey.generate()
    return DevIdentity(
        discord_private_key=key.encode().hex(),
        discord_public_key=key.verify_key.encode().hex(),
        github_webhook_secret=secrets.token_hex(32),
    )


def _read(path: Path) -> DevIdentity:
    data = json.loads(path.read_text(encoding="utf-8"))
    return DevIdentity(
        discord_private_key=data["discord_private_key"],
        discord_public_key=data["discord_public_key"],
        github_webhook_secret=data["github_webhook_secret"],
    )


def load_or_create_dev_identity(data_dir: Path) -> DevIdentity:
    """Read the dev identity, creating it atomically if this is the first run.

    Several processes may start at once (uvicorn --reload, tests with workers):
    the file is written under a temporary name and linked into place, so a
    reader sees either nothing or a complete file, and exactly one identity wins.
    """
    path = data_dir / DEV_IDENTITY_FILE
    if path.exists():
        return _read(path)
    if not data_dir.exists():
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # keys and live tokens
    identity = _generate()
    tmp = data_dir / f".{DEV_IDENTITY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(
                {
                    "discord_private_key": identity.discord_private_key,
                    "discord_public_key": identity.discord_public_key,
                    "github_webhook_secret": identity.github_webhook_secret,
                },
                handle,
            )
        with contextlib.suppress(FileExistsError):  # another process won the race
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return _read(path)
