"""Argument types for the subcommands: bad input is refused by argparse, in one line, exit 2.

Each function here is an argparse `type=`: it turns the typed string into the value the
command uses, or raises `argparse.ArgumentTypeError` with a message that says what a good
value looks like. Checking at parse time means a command never gets as far as a network
call, a file write or a traceback with a value it cannot use (`--private-key zz` used to
end in `ValueError: non-hexadecimal number` from deep inside the signing code).

Messages never echo a value that may be a secret (keys); other values are quoted so a
stray space or quote shows.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

_HEX = re.compile(r"^[0-9a-fA-F]+$")
_SHA = re.compile(r"^[0-9a-fA-F]{7,40}$")
_REPO = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_ORG = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_PYTHON = re.compile(r"^3\.\d{1,2}$")


class Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line: `orchestrator jobs: error: ... (see --help)`.

    argparse prints the whole usage before an error, which for a subcommand with many
    flags is five wrapped lines above the one that matters. Subparsers inherit the class.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _fail(message: str) -> NoReturn:
    raise argparse.ArgumentTypeError(message)


def hex_key(value: str) -> str:
    """An Ed25519 private key (seed) as Discord tooling writes it: 64 hex characters."""
    key = value.strip()
    if len(key) != 64 or not _HEX.match(key):
        # Never echo it: it is a private key, possibly a real one with a typo.
        shape = "hex" if key and _HEX.match(key) else "non-hex"
        _fail(f"wants 64 hex characters (an Ed25519 seed), got {len(key)} {shape} characters")
    return key.lower()


def duration(value: str) -> str:
    """A look-back like `30m`, `6h` or `2d`; kept as typed, for the output to repeat."""
    from orchestrator.github.deliveries import parse_since

    try:
        seconds = parse_since(value)
    except ValueError:
        _fail(f"wants a duration like 30m, 6h or 2d, got {value!r}")
    if seconds <= 0:
        _fail(f"wants a duration above zero, like 30m, 6h or 2d, got {value!r}")
    return value.strip()


def commit_sha(value: str) -> str:
    """A commit id: 7 to 40 hex characters (not a branch or tag name)."""
    sha = value.strip()
    if not _SHA.match(sha):
        _fail(f"wants a commit SHA (7-40 hex characters), got {value!r}")
    return sha


def http_url(value: str) -> str:
    """An absolute http(s) URL with a host, e.g. http://127.0.0.1:8000."""
    url = value.strip()
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a port that is not a number or too big
    except ValueError:
        _fail(f"wants an http(s) URL like http://127.0.0.1:8000, got {value!r}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        _fail(f"wants an http(s) URL like http://127.0.0.1:8000, got {value!r}")
    if port == 0:
        _fail(f"wants a URL with a real port, got {value!r}")
    return url


def existing_path(value: str) -> Path:
    """A file or folder that exists."""
    path = Path(value)
    if not value or not path.exists():
        _fail(f"no such file or folder: {value!r}")
    return path


def snowflake(value: str) -> str:
    """A Discord id: digits only (a snowflake), e.g. a guild id."""
    text = value.strip()
    if not (0 < len(text) <= 20 and text.isascii() and text.isdigit()):
        _fail(f"wants a Discord id (digits), got {value!r}")
    return text


def repository(value: str) -> str:
    """A GitHub repository as owner/name."""
    text = value.strip()
    if not _REPO.match(text):
        _fail(f"wants a repository as owner/name, got {value!r}")
    return text


def organisation(value: str) -> str:
    """A GitHub organisation login."""
    text = value.strip()
    if not _ORG.match(text):
        _fail(f"wants an organisation name, got {value!r}")
    return text


def python_minor(value: str) -> str:
    """A Python minor version like 3.12."""
    text = value.strip()
    if not _PYTHON.match(text):
        _fail(f"wants a minor version like 3.12, got {value!r}")
    return text


def whole(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An integer within [minimum, maximum]."""

    def parse(value: str) -> int:
        try:
            number = int(value.strip())
        except ValueError:
            _fail(f"wants a whole number, got {value!r}")
        if maximum is not None and not minimum <= number <= maximum:
            _fail(f"wants a number from {minimum} to {maximum}, got {number}")
        if number < minimum:
            _fail(f"wants a number of at least {minimum}, got {number}")
        return number

    parse.__name__ = "whole number"  # what argparse names in its own messages
    return parse


def seconds(minimum: float = 0.0, *, allow_minimum: bool = True) -> Callable[[str], float]:
    """A number of seconds: at least `minimum` (or above it), finite."""

    def parse(value: str) -> float:
        try:
            number = float(value.strip())
        except ValueError:
            _fail(f"wants a number of seconds, got {value!r}")
        if not math.isfinite(number):
            _fail(f"wants a finite number of seconds, got {value!r}")
        if number < minimum or (number == minimum and not allow_minimum):
            relation = "at least" if allow_minimum else "more than"
            _fail(f"wants {relation} {minimum:g} seconds, got {value!r}")
        return number

    parse.__name__ = "seconds"
    return parse
