"""Repository names as GitHub allows them, checked before they become part of an API path.

Its own module because both the client's endpoints and the App credential's
installation lookup build `/repos/{owner}/{name}/...` paths, and the credential
must not depend on the client.
"""

from __future__ import annotations

import re

# Owners: letters, digits, hyphens (and `_` for Enterprise managed users); names add `.`.
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,38}/[A-Za-z0-9._-]{1,100}$")


def check_repo(repo: str) -> str:
    """`"owner/name"` or ValueError: a typo must not become a request to the wrong path."""
    if not isinstance(repo, str) or not _REPO.match(repo) or repo.endswith(("/.", "/..")):
        raise ValueError(f"repo must look like 'owner/name', got {str(repo)[:80]!r}")
    return repo
