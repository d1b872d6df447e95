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

DEV_IDENTITY_FILE = "dev-identity.json"


class DevIdentity:
    """The dev keys. A plain class with slots: cheap to define on a cold start (a frozen
    dataclass costs ~0.7 ms on 3.12), and, unlike a tuple, not something iteration, `json`
    or a log field could spell out with the private half in it."""

    __slots__ = ("discord_private_key", "discord_public_key", "github_webhook_secret")

    discord_private_key: str  # hex Ed25519 seed
    discord_public_key: str  # hex Ed25519 public key, what the portal would show
    github_webhook_secret: str

    def __init__(
        self, discord_private_key: str, discord_public_key: str, github_webhook_secret: str
    ) -> None:
        set_once = object.__setattr__
        set_once(self, "discord_private_key", discord_private_key)
        set_once(self, "discord_public_key", discord_public_key)
        set_once(self, "github_webhook_secret", github_webhook_secret)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"DevIdentity is read-only ({name})")

    def _values(self) -> tuple[str, str, str]:
        return (self.discord_private_key, self.discord_public_key, self.github_webhook_secret)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DevIdentity) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

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
