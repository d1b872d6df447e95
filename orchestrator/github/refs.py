"""What a commit SHA and a git ref may look like, before either reaches a workflow.

A ref or SHA typed in Discord (or carried in a button's custom id, which anyone can
craft) becomes a `workflow_dispatch` ref or input. A workflow that interpolates
`${{ inputs.sha }}` into a shell step would run whatever it holds, so only values git
itself would accept get through: hex SHAs, and names that pass `git check-ref-format`,
narrowed to the characters branch and tag names use in practice (letters, digits and
`. _ - / + @`), so no shell metacharacter (`; $ ( ) & | < > ' "` and backticks) can reach
a workflow that interpolates `github.ref_name` either.
"""

from __future__ import annotations

import re

_SHA = re.compile(r"[0-9a-fA-F]{7,40}")
# `git check-ref-format`: no control characters, space, ~ ^ : ? * [ \ anywhere.
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
# Narrower than git: what branch and tag names use in practice, and no shell metacharacter.
_PLAIN = re.compile(r"[A-Za-z0-9._/+@-]+")
MAX_REF_LENGTH = 200


class InvalidRef(ValueError):
    """Not a SHA or a ref git would accept; the message says which rule it breaks."""


def is_sha(text: str) -> bool:
    """7 to 40 hex digits: a full or abbreviated commit SHA."""
    return bool(_SHA.fullmatch(text))


def check_sha(text: str) -> str:
    if not is_sha(text):
        raise InvalidRef(f"{text[:50]!r} is not a commit SHA (7-40 hex digits)")
    return text.lower()


def check_ref(text: str) -> str:
    """A branch, tag or SHA as `git check-ref-format --allow-onelevel` would accept it."""
    ref = text.strip()
    problem = _ref_problem(ref)
    if problem:
        raise InvalidRef(f"{ref[:50]!r} is not a valid git ref: {problem}")
    return ref


def _ref_problem(ref: str) -> str | None:
    if not ref:
        return "it is empty"
    if len(ref) > MAX_REF_LENGTH:
        return f"it is longer than {MAX_REF_LENGTH} characters"
    if not ref.isascii():
        return "only ASCII characters"
    if _FORBIDDEN.search(ref):
        return "no spaces, control characters or any of ~ ^ : ? * [ \\"
    if not _PLAIN.fullmatch(ref):
        return "letters, digits and . _ - / + @ only"
    if ref == "@" or "@{" in ref:
        return "no '@{' and not '@' alone"
    if ".." in ref or "//" in ref or ref.startswith("/") or ref.endswith(("/", ".")):
        return "no '..' or '//', and no leading or trailing '/' or trailing '.'"
    for part in ref.split("/"):
        if part.startswith(".") or part.endswith(".lock"):
            return "no part may start with '.' or end with '.lock'"
    if ref.startswith("-"):
        return "it may not start with '-'"
    return None
