"""What a release would change: deployed SHA vs candidate, and where a rollback would go.

Pure: the facts (what runs, the branch head, the compare, past verifications)
come in, a plan comes out, so every case (nothing to ship, unknown deployed
version, no rollback target) is a table row. `promote_refusal` and `rollback_refusal` are
why a button is drawn disabled; a press asks them again with the facts as they are then,
since a disabled button is only a drawing (a client can still send its custom id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.discord.messages import (
    ButtonStyle,
    Color,
    Message,
    action_row,
    button,
    custom_id,
    embed,
)
from orchestrator.github.events import short_sha, text
from orchestrator.notifications.render import first_line

MAX_COMMITS = 10


@dataclass(frozen=True)
class Plan:
    app: str
    deployed: str | None
    candidate: str
    commits: tuple[tuple[str, str, str], ...]  # (sha, first line, author)
    total_commits: int
    rollback_to: str | None
    ahead_by: int | None = None  # commits the candidate has that production lacks, if known

    @property
    def up_to_date(self) -> bool:
        return self.deployed is not None and self.deployed == self.candidate


def promote_refusal(deployed: str | None, sha: str, ahead_by: int | None) -> str | None:
    """Why promoting `sha` would do nothing (None: it would ship something): production runs
    it already, or it has no commit production lacks (`ahead_by`, GitHub's compare)."""
    if deployed is not None and deployed == sha:
        return f"production already runs `{short_sha(sha)}`: nothing to promote"
    if ahead_by == 0:
        return (
            f"`{short_sha(sha)}` has no commit production (`{short_sha(deployed)}`) lacks: "
            "nothing to promote"
        )
    return None


def rollback_refusal(deployed: str | None, sha: str) -> str | None:
    """Why rolling back to `sha` would do nothing (None: it would change what runs)."""
    if deployed is not None and deployed == sha:
        return f"production already runs `{short_sha(sha)}`: nothing to roll back"
    return None


def rollback_target(deployed: str | None, verifications: Sequence[dict[str, Any]]) -> str | None:
    """The newest SHA that passed verification and is not what runs now."""
    for report in verifications:
        sha = report.get("head_sha")
        if (
            isinstance(sha, str)
            and str(report.get("verdict")).lower() == "pass"
            and sha != deployed
        ):
            return sha
    return None


def plan(
    app: str,
    deployed: str | None,
    candidate: str,
    compare: dict[str, Any] | None,
    verifications: Sequence[dict[str, Any]],
) -> Plan:
    commits: list[tuple[str, str, str]] = []
    raw = compare.get("commits") if compare else None
    for commit in raw if isinstance(raw, list) else []:
        commits.append(
            (
                text(commit, "sha") or "?",
                first_line(text(commit, "commit", "message"), 90),
                text(commit, "author", "login") or text(commit, "commit", "author", "name") or "?",
            )
        )
    total = compare.get("ahead_by") if compare else None
    return Plan(
        app,
        deployed,
        candidate,
        tuple(reversed(commits))[:MAX_COMMITS],
        total if isinstance(total, int) else len(commits),
        rollback_target(deployed, verifications),
        total if isinstance(total, int) else None,
    )


def render(plan: Plan, *, can_promote: bool, can_roll_back: bool) -> Message:
    if plan.deployed is None:
        head = f"Deployed version unknown; candidate `{short_sha(plan.candidate)}`."
    elif plan.up_to_date:
        head = f"Production runs `{short_sha(plan.deployed)}`, the branch head: nothing to promote."
    else:
        head = (
            f"`{short_sha(plan.deployed)}` → `{short_sha(plan.candidate)}`: "
            f"{plan.total_commits} commit{'s' if plan.total_commits != 1 else ''}"
        )
    lines = [f"`{short_sha(sha)}` {title} — {author}" for sha, title, author in plan.commits]
    if plan.total_commits > len(plan.commits):
        lines.append(f"… and {plan.total_commits - len(plan.commits)} more")
    buttons = [
        button(
            "Promote",
            custom_id("release.promote", plan.app, plan.candidate),
            style=ButtonStyle.SUCCESS,
            disabled=not can_promote
            or promote_refusal(plan.deployed, plan.candidate, plan.ahead_by) is not None,
        ),
        button(
            "Roll back" + (f" to {short_sha(plan.rollback_to)}" if plan.rollback_to else ""),
            custom_id("release.rollback", plan.app, plan.rollback_to or "none"),
            style=ButtonStyle.DANGER,
            disabled=plan.rollback_to is None or not can_roll_back,
        ),
    ]
    return Message(
        embeds=[embed(f"🏷️ Release {plan.app}", "\n".join([head, *lines]), color=Color.PURPLE)],
        components=[action_row(*buttons)],
    )
