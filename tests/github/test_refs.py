"""Finding 9: SHAs and refs are checked before they reach a workflow."""

from __future__ import annotations

import pytest

from orchestrator.github.refs import InvalidRef, check_ref, check_sha, is_sha


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("abc1234", True),
        ("a" * 40, True),
        ("ABCDEF0", True),
        ("abc123", False),
        ("a" * 41, False),
        ("main", False),
        ("main; rm -rf /", False),
        ("abc1234\n", False),
        ("", False),
        ("１２３４５６７", False),  # full-width digits
    ],
)
def test_finding_09_shas_are_7_to_40_hex_digits(text: str, ok: bool) -> None:
    assert is_sha(text) is ok
    if ok:
        assert check_sha(text) == text.lower()
    else:
        with pytest.raises(InvalidRef):
            check_sha(text)


@pytest.mark.parametrize(
    "ref",
    ["main", "release/2026.12", "v1.2.3", "feature/x-y_z", "refs/heads/main", "a" * 40, "@x"],
)
def test_finding_09_refs_git_accepts_pass(ref: str) -> None:
    assert check_ref(f"  {ref} ") == ref


@pytest.mark.parametrize(
    "ref",
    [
        "",
        "main; rm -rf /",
        "main;rm",
        "$(curl evil)",
        "a$b",
        "a`b`",
        "a'b",
        'a"b',
        "a|b",
        "a&b",
        "a<b",
        "a b",
        "a..b",
        "a//b",
        "/main",
        "main/",
        "main.",
        ".hidden",
        "x/.hidden",
        "branch.lock",
        "a~1",
        "a^",
        "a:b",
        "a?",
        "a*",
        "a[b",
        "a\\b",
        "@",
        "a@{1}",
        "-rf",
        "ünïcode",
        "tab\there",
        "x" * 201,
    ],
)
def test_finding_09_refs_git_refuses_are_refused(ref: str) -> None:
    with pytest.raises(InvalidRef, match="not a valid git ref"):
        check_ref(ref)
