"""One card per commit: the state behind a channel message that CI events edit in place.

Six workflows of one push used to post six messages. A card folds every `workflow_run`,
`check_suite` and `deployment_status` event of one repository + head SHA (+ pull request)
into one record, a line per workflow, and the message shows the whole record. Everything
here is pure (record in, record out), so the rules are table-tested:

* `line_for(event)` is the line an event stands for, with a version (`github.reconcile`'s
  ordering for runs), so a late `in_progress` never overwrites `completed` and a repeated
  event (a retried job, a redelivery) changes nothing: `fold` returns None.
* `rev` counts the changes to what the card shows; `sent_rev` is the change last shown
  in Discord. `plan` compares them: nothing to do, create, or edit. That comparison is
  what makes a retried job edit at most once and never post a second card.
* `lease` names the one job currently talking to Discord about the card
  (`notifications.card_post`), which is how edits of a burst are coalesced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from orchestrator.github.events import Event, WorkflowRun, dig, number, text, timestamp
from orchestrator.github.reconcile import version as run_version

CARD_TTL = 4 * 24 * 3600  # a commit's CI is long over; a re-run days later gets a fresh card
FAILED = ("failure", "timed_out", "startup_failure", "error")
MAX_FAILED_JOBS = 5

Verdict = Literal["failure", "running", "success", "mixed"]
Action = Literal["create", "edit"]


@dataclass(frozen=True)
class DeployLink:
    """The live deploy message that follows a workflow run (`deploys.tracking` owns it).

    Handed in by the webhook adapter: notifications sit below deploys, so they are told
    which run is a tracked deploy rather than asking."""

    channel_id: str | None
    message_id: str | None
    url: str | None
    label: str


@dataclass(frozen=True)
class Identity:
    repo: str
    sha: str
    pull_request: int | None


def identity(event: Event) -> Identity | None:
    """Which card an event belongs to: its repository, head SHA and pull request."""
    repo = event.repo
    if repo is None:
        return None
    if event.name in ("workflow_run", "check_suite"):
        obj = dig(event.payload, event.name)
        sha = text(obj, "head_sha")
        prs = dig(obj, "pull_requests")
        pr = number(prs[0], "number") if isinstance(prs, list) and prs else None
    elif event.name == "deployment_status":
        sha, pr = text(event.payload, "deployment", "sha"), None
    else:
        return None
    return Identity(repo, sha, pr) if sha else None


def _status_rank(status: str | None) -> int:
    return {"queued": 1, "pending": 1, "in_progress": 2, "completed": 3}.get(status or "", 0)


def line_for(
    event: Event,
    failed_jobs: Sequence[tuple[str, str | None, Sequence[str]]] = (),
    deploy: DeployLink | None = None,
) -> tuple[str, dict[str, Any]] | None:
    """`(line id, line)` for an event a card shows, or None for events it ignores.

    `failed_jobs` are `(name, url, failing steps)` of a failed run's failed jobs, fetched
    by the caller.
    """
    if event.name == "workflow_run":
        run = WorkflowRun(event.payload.get("workflow_run"))
        if run.id is None or event.action not in ("requested", "in_progress", "completed"):
            return None
        status = "completed" if run.conclusion else (run.status or "queued")
        line: dict[str, Any] = {
            "name": run.name or "Workflow",
            "status": status,
            "conclusion": run.conclusion,
            "url": run.html_url,
            "duration": run.duration,
            "version": run_version(run.attempt, run.updated_at, status),
            "failed_jobs": [[n, u, list(s[:2])] for n, u, s in failed_jobs[:MAX_FAILED_JOBS]],
        }
        if deploy is not None:
            line["deploy"] = {"url": deploy.url, "channel_id": deploy.channel_id}
            line["name"] = deploy.label
        return f"run:{run.id}", line
    if event.name == "check_suite":
        suite = dig(event.payload, "check_suite")
        suite_id = number(suite, "id")
        # GitHub Actions' own suites are the workflow runs already on the card.
        if suite_id is None or text(suite, "app", "slug") == "github-actions":
            return None
        if event.action != "completed":
            return None
        return f"suite:{suite_id}", {
            "name": text(suite, "app", "name") or "Checks",
            "status": "completed",
            "conclusion": text(suite, "conclusion"),
            "url": None,
            "duration": None,
            "version": run_version(1, timestamp(suite, "updated_at"), "completed"),
            "failed_jobs": [],
        }
    if event.name == "deployment_status":
        status = dig(event.payload, "deployment_status")
        state = text(status, "state") or "pending"
        environment = (
            text(status, "environment") or text(event.payload, "deployment", "environment") or "?"
        )
        done = state in ("success", "failure", "error", "inactive")
        return f"deploy:{environment}", {
            "name": f"Deployment to {environment}",
            "status": "completed" if done else "in_progress",
            "conclusion": ("neutral" if state == "inactive" else state) if done else None,
            "url": text(status, "log_url") or text(status, "target_url"),
            "duration": None,
            # Status ids grow with each new status of a deployment; rank first, so a late
            # `in_progress` never reopens a finished deployment.
            "version": _status_rank("completed" if done else "in_progress") * 1e12
            + float(number(status, "id") or 0),
            "failed_jobs": [],
        }
    return None


def commit_facts(event: Event) -> dict[str, Any]:
    """What the card's header says about the commit (whatever this event knows of it)."""
    facts: dict[str, Any] = {}
    if event.name in ("workflow_run", "check_suite"):
        obj = dig(event.payload, event.name)
        facts["title"] = text(obj, "head_commit", "message")
        facts["author"] = text(obj, "head_commit", "author", "name") or text(obj, "actor", "login")
        facts["branch"] = text(obj, "head_branch")
    elif event.name == "deployment_status":
        ref = text(event.payload, "deployment", "ref")
        sha = text(event.payload, "deployment", "sha") or ""
        # A Deployment of an exact commit (ours always are: `ref` is the SHA) names no branch.
        if ref and not (len(ref) >= 7 and sha.lower().startswith(ref.lower())):
            facts["branch"] = ref
    repo_url = text(event.payload, "repository", "html_url")
    found = identity(event)
    if repo_url and found is not None:
        facts["commit_url"] = f"{repo_url}/commit/{found.sha}"
        if found.pull_request is not None:
            facts["pr_url"] = f"{repo_url}/pull/{found.pull_request}"
    return {k: v for k, v in facts.items() if v}


def new_card(found: Identity, channel_id: str) -> dict[str, Any]:
    return {
        "repo": found.repo,
        "sha": found.sha,
        "pr": found.pull_request,
        "channel_id": channel_id,
        "lines": {},
        "order": [],
        "rev": 0,
        "sent_rev": 0,
        "message_id": None,
        "lease": None,
    }


def fold(
    card: dict[str, Any], line_id: str, line: dict[str, Any], facts: dict[str, Any]
) -> dict[str, Any] | None:
    """The card with this line in it, or None when the card already knows as much (the
    same or a newer version of the line): a repeated event changes nothing."""
    lines: dict[str, Any] = dict(card.get("lines") or {})
    known = lines.get(line_id)
    if known is not None and float(known.get("version") or 0) >= float(line["version"]):
        return None
    lines[line_id] = line
    order = list(card.get("order") or [])
    if line_id not in order:
        order.append(line_id)
    new_facts = {k: v for k, v in facts.items() if not card.get(k)}  # the first to know wins
    # A newer version that shows the same (a Deployment's `queued`, then `in_progress`) is
    # kept, so an older one stays refused, but is no change to show: no edit for it.
    shown = known is None or _shown(known) != _shown(line) or bool(new_facts)
    rev = int(card.get("rev") or 0) + (1 if shown else 0)
    return {**card, **new_facts, "lines": lines, "order": order, "rev": rev}


def _shown(line: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in line.items() if key != "version"}


def verdict(card: dict[str, Any]) -> Verdict:
    """The commit's overall verdict: failure as soon as one line failed."""
    lines = list((card.get("lines") or {}).values())
    if any(line.get("conclusion") in FAILED for line in lines):
        return "failure"
    if not lines or any(line.get("status") != "completed" for line in lines):
        return "running"
    if all(line.get("conclusion") in ("success", "skipped", "neutral") for line in lines):
        return "success"
    return "mixed"


def plan(card: dict[str, Any] | None, *, quiet: bool = False) -> Action | None:
    """What Discord should be told about the card now: nothing, a new message, or an edit."""
    if card is None or int(card.get("sent_rev") or 0) >= int(card.get("rev") or 0):
        return None
    if card.get("message_id"):
        return "edit"
    if quiet and verdict(card) != "failure":
        return None  # quiet: the card appears only once the commit has failed
    return "create"
