"""Repository names are checked before they become part of an API path."""

from __future__ import annotations

import pytest

from orchestrator.github.paths import check_repo


def test_repo_validation_accepts_real_names() -> None:
    for name in ("acme/api", "a-b/c.d_e", "Octo-Cat/.github", "jdoe_acme/x"):
        assert check_repo(name) == name


@pytest.mark.parametrize(
    "bad", ["acme", "acme/api/x", "/api", "acme/", "../api", "acme/..", "acme/.", "", "-a/b"]
)
def test_anything_else_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="owner/name"):
        check_repo(bad)
