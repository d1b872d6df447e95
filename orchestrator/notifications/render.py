"""GitHub events rendered as Discord messages. Pure: event (+ fetched facts) in, Message out.

`render(event, failed_jobs)` returns None for actions nobody wants a ping
about (a workflow `requested`, a PR `labeled`), so noise is decided here, in
one table-tested place. Texts from GitHub (commit messages, titles) are
user-controlled: they go into embeds, which never ping, and messages never
allow mass mentions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.discord.messages import Color, Message, action_row, embed, link_button
from orchestrator.github.events import Event, WorkflowJob, WorkflowRun, dig, number, short_sha, text
from orchestrator.text import duration

MAX_COMMITS = 5


@dataclass(frozen=True)
class FailedJob:
    name: str
    url: str | None
    steps: tuple[str, ...]


def first_line(value: str | None, limit: int = 100) -> str:
    line = (value or "").strip().splitlines()[0] if (value or "").strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


_CONCLUSION = {
    "success": ("✅", "succeeded", Color.GREEN),
    "failure": ("❌", "failed", Color.RED),
    "timed_out": ("⏱️", "timed out", Color.RED),
    "cancelled": ("🚫", "was cancelled", Color.GREY),
    "action_required": ("✋", "needs approval", Color.YELLOW),
    "startup_failure": ("💥", "failed to start", Color.RED),
    "skipped": ("⏭️", "was skipped", Color.GREY),
    "neutral": ("➖", "finished (neutral)", Color.GREY),
    "stale": ("🕸️", "went stale", Color.GREY),
}


def conclusion_parts(conclusion: str | None) -> tuple[str, str, Color]:
    return _CONCLUSION.get(conclusion or "", ("❔", f"finished ({conclusion})", Color.GREY))


def _link(url: str | None, label: str) -> list[dict[str, Any]]:
    return [action_row(link_button(label, url))] if url else []


def _footer(event: Event) -> str:
    return event.repo or "GitHub"


def _workflow_run(event: Event, failed_jobs: Sequence[FailedJob]) -> Message | None:
    if event.action != "completed":
        return None
    run = WorkflowRun(event.payload.get("workflow_run"))
    icon, verb, color = conclusion_parts(run.conclusion)
    title = f"{icon} {run.name or 'Workflow'} {verb}"
    commit = f"`{short_sha(run.head_sha)}` {first_line(run.commit_message)}".strip()
    fields: list[tuple[str, str] | tuple[str, str, bool]] = [
        ("Branch", run.head_branch or "?", True),
        ("Duration", duration(run.duration), True),
        ("By", run.actor or "?", True),
        ("Commit", commit),
    ]
    if run.attempt > 1:
        fields.append(("Attempt", str(run.attempt), True))
    if failed_jobs:
        lines = []
        for job in failed_jobs[:10]:
            steps = f": {', '.join(job.steps[:3])}" if job.steps else ""
            name = f"[{job.name}]({job.url})" if job.url else job.name
            lines.append(f"• {name}{steps}")
        if len(failed_jobs) > 10:
            lines.append(f"… and {len(failed_jobs) - 10} more")
        fields.append(("Failed jobs", "\n".join(lines)))
    return Message(
        embeds=[
            embed(
                title,
                run.title if run.title != run.name else None,
                color=color,
                url=run.html_url,
                fields=fields,
                footer=_footer(event),
            )
        ],
        components=_link(run.html_url, "Open run"),
    )


def _workflow_job(event: Event, _: Sequence[FailedJob]) -> Message | None:
    job = WorkflowJob(event.payload.get("workflow_job"))
    if event.action != "completed" or job.conclusion not in ("failure", "timed_out"):
        return None
    icon, verb, color = conclusion_parts(job.conclusion)
    steps = job.failed_steps
    fields: list[tuple[str, str] | tuple[str, str, bool]] = [
        ("Workflow", job.workflow_name or "?", True),
        ("Commit", f"`{short_sha(job.head_sha)}`", True),
    ]
    if steps:
        fields.append(("Failing steps", "\n".join(f"• {s}" for s in steps[:5])))
    return Message(
        embeds=[
            embed(
                f"{icon} Job {job.name or '?'} {verb}",
                None,
                color=color,
                url=job.html_url,
                fields=fields,
                footer=_footer(event),
            )
        ],
        components=_link(job.html_url, "Open job"),
    )


def _push(event: Event, _: Sequence[FailedJob]) -> Message | None:
    commits = dig(event.payload, "commits")
    commits = [c for c in commits if isinstance(c, dict)] if isinstance(commits, list) else []
    if not commits or event.payload.get("deleted") is True:
        return None
    branch = event.branch or "?"
    pusher = text(event.payload, "pusher", "name") or event.sender or "someone"
    lines = []
    for commit in commits[:MAX_COMMITS]:
        sha = short_sha(text(commit, "id"))
        url = text(commit, "url")
        sha_text = f"[`{sha}`]({url})" if url else f"`{sha}`"
        author = text(commit, "author", "username") or text(commit, "author", "name") or "?"
        lines.append(f"{sha_text} {first_line(text(commit, 'message'), 80)} — {author}")
    if len(commits) > MAX_COMMITS:
        lines.append(f"… and {len(commits) - MAX_COMMITS} more")
    count = len(commits)
    title = f"📥 {count} commit{'s' if count != 1 else ''} to {branch} by {pusher}"
    compare = text(event.payload, "compare")
    return Message(
        embeds=[
            embed(title, "\n".join(lines), color=Color.BLUE, url=compare, footer=_footer(event))
        ],
    )


_PR_ACTIONS = {
    "opened": ("🆕", "opened", Color.GREEN),
    "reopened": ("🔁", "reopened", Color.GREEN),
    "ready_for_review": ("👀", "ready for review", Color.BLUE),
}


def _pull_request(event: Event, _: Sequence[FailedJob]) -> Message | None:
    pr = dig(event.payload, "pull_request")
    number_ = number(pr, "number") or number(event.payload, "number")
    if event.action == "closed":
        merged = dig(pr, "merged") is True
        icon, verb, color = (
            ("🟣", "merged", Color.PURPLE) if merged else ("⛔", "closed", Color.GREY)
        )
    elif event.action in _PR_ACTIONS:
        icon, verb, color = _PR_ACTIONS[event.action]
    else:
        return None
    title = f"{icon} PR #{number_} {verb}: {first_line(text(pr, 'title'), 200)}"
    author = text(pr, "user", "login") or "?"
    base, head = text(pr, "base", "ref") or "?", text(pr, "head", "ref") or "?"
    url = text(pr, "html_url")
    return Message(
        embeds=[
            embed(
                title,
                None,
                color=color,
                url=url,
                fields=[("Author", author, True), ("Into", f"{head} → {base}", True)],
                footer=_footer(event),
            )
        ],
        components=_link(url, "Open PR"),
    )


_DEPLOY_STATES = {
    "success": ("✅", Color.GREEN),
    "failure": ("❌", Color.RED),
    "error": ("💥", Color.RED),
    "in_progress": ("⏳", Color.YELLOW),
    "queued": ("🕒", Color.YELLOW),
    "pending": ("🕒", Color.YELLOW),
    "inactive": ("💤", Color.GREY),
}


def _deployment(event: Event, _: Sequence[FailedJob]) -> Message | None:
    if event.action != "created":
        return None
    deployment = dig(event.payload, "deployment")
    environment = text(deployment, "environment") or "?"
    ref = text(deployment, "ref") or "?"
    sha = short_sha(text(deployment, "sha"))
    creator = text(deployment, "creator", "login") or event.sender or "?"
    return Message(
        embeds=[
            embed(
                f"📦 Deploying {ref} (`{sha}`) to {environment}",
                None,
                color=Color.YELLOW,
                fields=[("By", creator, True)],
                footer=_footer(event),
            )
        ]
    )


def _deployment_status(event: Event, _: Sequence[FailedJob]) -> Message | None:
    status = dig(event.payload, "deployment_status")
    state = text(status, "state") or "unknown"
    if state in ("queued", "pending"):
        return None
    icon, color = _DEPLOY_STATES.get(state, ("❔", Color.GREY))
    environment = (
        text(status, "environment") or text(event.payload, "deployment", "environment") or "?"
    )
    sha = short_sha(text(event.payload, "deployment", "sha"))
    description = text(status, "description")
    url = text(status, "environment_url") or text(status, "log_url") or text(status, "target_url")
    return Message(
        embeds=[
            embed(
                f"{icon} {environment}: {state.replace('_', ' ')} (`{sha}`)",
                first_line(description, 300) or None,
                color=color,
                url=url,
                footer=_footer(event),
            )
        ],
        components=_link(url, "Open"),
    )


def _release(event: Event, _: Sequence[FailedJob]) -> Message | None:
    if event.action not in ("published", "released", "prereleased"):
        return None
    release = dig(event.payload, "release")
    tag = text(release, "tag_name") or "?"
    name = text(release, "name")
    body = (text(release, "body") or "").strip()
    url = text(release, "html_url")
    kind = "Pre-release" if dig(release, "prerelease") is True else "Release"
    title = f"🏷️ {kind} {tag}" + (f": {first_line(name, 150)}" if name and name != tag else "")
    return Message(
        embeds=[
            embed(title, body[:1000] or None, color=Color.PURPLE, url=url, footer=_footer(event))
        ],
        components=_link(url, "Release notes"),
    )


def _issues(event: Event, _: Sequence[FailedJob]) -> Message | None:
    if event.action not in ("opened", "closed", "reopened"):
        return None
    issue = dig(event.payload, "issue")
    icon = {"opened": "🐛", "closed": "✔️", "reopened": "🔁"}[event.action]
    title = (
        f"{icon} Issue #{number(issue, 'number')} {event.action}: "
        f"{first_line(text(issue, 'title'), 200)}"
    )
    url = text(issue, "html_url")
    return Message(
        embeds=[
            embed(
                title,
                None,
                color=Color.GREY,
                url=url,
                fields=[("By", event.sender or "?", True)],
                footer=_footer(event),
            )
        ]
    )


def _check_suite(event: Event, _: Sequence[FailedJob]) -> Message | None:
    suite = dig(event.payload, "check_suite")
    conclusion = text(suite, "conclusion")
    if event.action != "completed" or conclusion not in ("failure", "timed_out", "startup_failure"):
        return None
    icon, verb, color = conclusion_parts(conclusion)
    app = text(suite, "app", "name") or "Checks"
    branch = text(suite, "head_branch") or "?"
    sha = short_sha(text(suite, "head_sha"))
    return Message(
        embeds=[
            embed(
                f"{icon} {app} {verb} on {branch} (`{sha}`)",
                None,
                color=color,
                footer=_footer(event),
            )
        ]
    )


RENDERERS: dict[str, Callable[[Event, Sequence[FailedJob]], Message | None]] = {
    "workflow_run": _workflow_run,
    "workflow_job": _workflow_job,
    "push": _push,
    "pull_request": _pull_request,
    "deployment": _deployment,
    "deployment_status": _deployment_status,
    "release": _release,
    "issues": _issues,
    "check_suite": _check_suite,
}

NOTIFIABLE_EVENTS = tuple(RENDERERS)


def render(event: Event, failed_jobs: Sequence[FailedJob] = ()) -> Message | None:
    renderer = RENDERERS.get(event.name)
    return renderer(event, failed_jobs) if renderer else None


def needs_failed_jobs(event: Event) -> bool:
    """A failed run's message names its failed jobs, which only the API can tell."""
    run = WorkflowRun(event.payload.get("workflow_run"))
    return (
        event.name == "workflow_run"
        and event.action == "completed"
        and run.conclusion in ("failure", "timed_out")
    )
