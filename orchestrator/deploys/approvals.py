"""Approvals for deploys: a request, who may decide it, and how it looks.

An environment with `approvals = N` turns `/deploy` into a request message: what would ship
(the ref and the SHA it resolves to, the commits since the environment's live SHA, the exact
workflow inputs), who asked, when it expires, and Approve / Reject buttons. N distinct
deployers other than the requester approve it, and the N-th approval dispatches it through
`deploys.launch` (so a lock, a freeze or a busy environment is judged again then).

What makes it safe under concurrent presses lives in the store, not in the message:
* each person's approval is a `claim` on `approval_vote(request, user)`: ten presses by one
  person count once, and only one of them is told "approved";
* a request ends once: the `claim` on `approval_end(request)` is taken by whoever dispatches,
  rejects or expires it, so two approvers pressing at once dispatch one deploy. A dispatch
  the gate refuses (or GitHub fails) gives the claim back, and a later press tries again.

Pure where it decides (`decide`) and draws (`render_request`, `render_ended`, `render_plan`);
the store records and the two bits of I/O (`what_ships`, `expire_due`) sit beside them.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from orchestrator.deploys.environments import Target
from orchestrator.deploys.freezes import local_time
from orchestrator.deploys.gate import DeployPlan, describe_in_flight
from orchestrator.discord.messages import (
    ButtonStyle,
    Color,
    Message,
    action_row,
    button,
    custom_id,
    embed,
)
from orchestrator.github.events import short_sha
from orchestrator.store import keys
from orchestrator.store.base import JSONObject, Store

if TYPE_CHECKING:
    from orchestrator.clients import Clients
    from orchestrator.discord.rest import DiscordREST

log = logging.getLogger(__name__)

# The button routes (spelled out where they are drawn too, for the registry's scan); their
# custom ids carry only the request id.
APPROVE = "deploy.approve"
REJECT = "deploy.reject"
KEPT_AFTER_EXPIRY = 24 * 3600.0  # a late press still finds the request, and is told it expired
MAX_COMMITS = 10
_REQUEST_ID = re.compile(r"^[0-9a-f]{12}$")

Action = Literal["approve", "reject"]
Outcome = Literal["dispatched", "rejected", "cancelled", "expired", "stale"]
OUTCOMES: tuple[Outcome, ...] = ("dispatched", "rejected", "cancelled", "expired", "stale")


def new_request_id() -> str:
    return secrets.token_hex(6)


def is_request_id(text: str) -> bool:
    """A crafted button may carry anything: only ids we could have made reach the store."""
    return bool(_REQUEST_ID.match(text))


@dataclass(frozen=True)
class Commit:
    sha: str
    title: str  # the first line of the message


@dataclass(frozen=True)
class Shipment:
    """What a deploy of `ref` would ship now, as far as GitHub and our history tell."""

    ref: str
    sha: str | None  # what the ref resolves to (None: GitHub could not say)
    live_sha: str | None  # what the environment runs (the last passing verification)
    commits: tuple[Commit, ...] = ()  # live..sha, oldest first (at most MAX_COMMITS)
    ahead_by: int | None = None
    problem: str | None = None  # why the ref could not be resolved

    def commits_text(self) -> str:
        if self.sha is None:
            return "? (the ref did not resolve)"
        if self.live_sha is None:
            return "? (nothing verified live yet to compare with)"
        if self.live_sha == self.sha:
            return "none: that SHA is already live"
        if self.ahead_by is None:
            return "? (GitHub could not compare them)"
        lines = [f"• `{short_sha(c.sha)}` {_clean(c.title)[:80]}" for c in self.commits]
        more = self.ahead_by - len(self.commits)
        if more > 0:
            lines.append(f"… and {more} more")
        return "\n".join(lines) or "none"


@dataclass(frozen=True)
class ApprovalRequest:
    """A deploy waiting for approvals: everything needed to dispatch it later, by anyone."""

    app: str
    environment: str
    label: str  # "web/production"
    workflow: str
    ref: str
    sha: str | None
    live_sha: str | None
    inputs: Mapping[str, str]  # exactly what the dispatch sends, but the correlation id
    correlation_input: str | None  # the input the correlation id goes in, if any
    requester: str
    needed: int
    expires_at: float
    commits: tuple[Commit, ...] = ()
    ahead_by: int | None = None
    override: str | None = None  # an admin requester's reason to deploy during a freeze
    override_window: str | None = None  # the freeze it was given for (it passes that one only)
    id: str = field(default_factory=new_request_id)
    created_at: float = field(default_factory=time.time)
    channel_id: str | None = None  # the request message, once posted
    message_id: str | None = None

    @property
    def shipment(self) -> Shipment:
        return Shipment(self.ref, self.sha, self.live_sha, self.commits, self.ahead_by)

    def to_record(self) -> JSONObject:
        record = asdict(self)
        record["inputs"] = dict(self.inputs)
        record["commits"] = [[c.sha, c.title] for c in self.commits]
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ApprovalRequest:
        known = {k: v for k, v in record.items() if k in cls.__dataclass_fields__}
        known["inputs"] = {str(k): str(v) for k, v in dict(known.get("inputs") or {}).items()}
        known["commits"] = tuple(
            Commit(str(c[0]), str(c[1])) for c in known.get("commits") or () if len(c) == 2
        )
        return cls(**known)


@dataclass(frozen=True)
class Ending:
    outcome: Outcome
    by: str | None
    at: float


# -- the decision -----------------------------------------------------------------------------


class Verdict(StrEnum):
    APPROVE = "approve"  # count this approval
    REJECT = "reject"  # end it: rejected by a deployer
    CANCEL = "cancel"  # end it: withdrawn by the requester
    SELF = "self"  # the requester approving their own request
    ALREADY = "already"  # this person approved it before
    NOT_DEPLOYER = "not_deployer"
    EXPIRED = "expired"
    ENDED = "ended"  # dispatched, rejected or expired already


def decide(
    request: ApprovalRequest,
    action: Action,
    user: str | None,
    *,
    is_deployer: bool,
    approved_by: Collection[str],
    ended: Ending | None,
    now: float,
) -> Verdict:
    """What a press of Approve or Reject does. An ended request stays ended; an expired one
    takes no decision; only deployers decide; nobody approves their own request, or twice."""
    if ended is not None:
        return Verdict.ENDED
    if now >= request.expires_at:
        return Verdict.EXPIRED
    if not is_deployer or user is None:
        return Verdict.NOT_DEPLOYER
    if action == "reject":
        return Verdict.CANCEL if user == request.requester else Verdict.REJECT
    if user == request.requester:
        return Verdict.SELF
    if user in approved_by:
        return Verdict.ALREADY
    return Verdict.APPROVE


def approvers(request: ApprovalRequest, approved_by: Iterable[str]) -> list[str]:
    """Distinct approvers in order, never the requester (whose vote is never stored)."""
    seen: list[str] = []
    for user in approved_by:
        if user != request.requester and user not in seen:
            seen.append(user)
    return seen


def has_quorum(request: ApprovalRequest, approved_by: Iterable[str]) -> bool:
    return len(approvers(request, approved_by)) >= request.needed


REFUSALS: dict[Verdict, str] = {
    Verdict.SELF: "🙅 You asked for this deploy: someone else has to approve it.",
    Verdict.ALREADY: "👍 You already approved this one: it needs another deployer now.",
    Verdict.NOT_DEPLOYER: "⛔ Only deployers of this app may approve or reject deploys.",
    Verdict.EXPIRED: "⌛ This request expired: nothing was deployed. `/deploy` again to ask anew.",
}
UNKNOWN = "🤷 I know no such deploy request (it may have expired long ago): `/deploy` again."


def ended_text(ending: Ending) -> str:
    who = f" by <@{ending.by}>" if ending.by else ""
    return {
        "dispatched": f"🚀 Already approved and dispatched{who}.",
        "rejected": f"❌ Already rejected{who}: nothing was deployed.",
        "cancelled": f"🚫 Already withdrawn{who}: nothing was deployed.",
        "expired": "⌛ This request expired: nothing was deployed. `/deploy` again to ask anew.",
        "stale": "🔀 The ref moved after the request: nothing was deployed. `/deploy` again.",
    }[ending.outcome]


# -- the store --------------------------------------------------------------------------------


def _ttl(request: ApprovalRequest, now: float) -> float:
    return max(60.0, request.expires_at - now) + KEPT_AFTER_EXPIRY


def save(store: Store, request: ApprovalRequest, now: float | None = None) -> None:
    at = time.time() if now is None else now
    store.put(keys.approval(request.id), request.to_record(), ttl=_ttl(request, at))


def load(store: Store, request_id: str) -> ApprovalRequest | None:
    if not is_request_id(request_id):
        return None
    found = store.get(keys.approval(request_id))
    if found is None:
        return None
    try:
        return ApprovalRequest.from_record(found)
    except (TypeError, ValueError):
        log.warning("unreadable approval request", extra={"request": request_id})
        return None


def vote(store: Store, request: ApprovalRequest, user: str, now: float | None = None) -> bool:
    """Record `user`'s approval; True for their first (of however many concurrent presses)."""
    at = time.time() if now is None else now
    return store.claim(
        keys.approval_vote(request.id, user), ttl=_ttl(request, at), value={"user": user, "at": at}
    )


def votes(store: Store, request: ApprovalRequest) -> list[str]:
    """Who approved, first first."""
    found = store.query_prefix(keys.approval_vote_prefix(request.id), limit=100)
    ordered = sorted(found, key=lambda r: float(r.value.get("at") or 0.0))
    return [str(r.value["user"]) for r in ordered if isinstance(r.value.get("user"), str)]


def end(
    store: Store,
    request: ApprovalRequest,
    outcome: Outcome,
    by: str | None,
    now: float | None = None,
) -> bool:
    """End the request once: True for the one caller that did."""
    at = time.time() if now is None else now
    return store.claim(
        keys.approval_end(request.id),
        ttl=_ttl(request, at),
        value={"outcome": outcome, "by": by, "at": at},
    )


def mark(store: Store, request: ApprovalRequest, outcome: Outcome, by: str | None) -> None:
    """Change how an ending this process holds reads (dispatched -> stale)."""
    at = time.time()
    store.put(
        keys.approval_end(request.id),
        {"outcome": outcome, "by": by, "at": at},
        ttl=_ttl(request, at),
    )


def reopen(store: Store, request: ApprovalRequest) -> None:
    """Give the ending back: the dispatch did not happen (refused by the gate, or failed)."""
    store.delete(keys.approval_end(request.id))


def ending(store: Store, request: ApprovalRequest) -> Ending | None:
    found = store.get(keys.approval_end(request.id))
    if found is None:
        return None
    stored = found.get("outcome")
    # An ending we cannot read is still an ending.
    outcome: Outcome = next((o for o in OUTCOMES if o == stored), "dispatched")
    by = found.get("by")
    return Ending(outcome, by if isinstance(by, str) else None, float(found.get("at") or 0.0))


SHARDS = "0123456789abcdef"  # the first character of every request id (`new_request_id`)
PER_SHARD = 200  # requests read per slice: 3,200 in all, far beyond a day's worth


def pending(store: Store, per_shard: int = PER_SHARD) -> list[ApprovalRequest]:
    """Every request still stored (ended or not, kept a day after expiry), for the deploy
    watch: read a slice of ids at a time, so ended requests piling up in key order cannot
    hide the ones still due. A full slice is logged (some requests were not read)."""
    out = []
    for first in SHARDS:
        found = store.query_prefix(keys.approval_shard_prefix(first), limit=per_shard)
        if len(found) >= per_shard:
            log.warning("approval requests not all read", extra={"slice": first})
        for entry in found:
            try:
                out.append(ApprovalRequest.from_record(entry.value))
            except (TypeError, ValueError):
                continue
    return out


# -- rendering --------------------------------------------------------------------------------


def _clean(text: str) -> str:
    """One line, no code fences or mentions sneaking out of a commit title or an input."""
    return text.splitlines()[0].replace("`", "ˋ").replace("@", "@\u200b") if text else ""


def inputs_text(inputs: Mapping[str, str], correlation_input: str | None) -> str:
    """The exact workflow inputs, as a code block (the correlation id is made at dispatch)."""
    lines = [f"{_clean(k)}={_clean(v)}" for k, v in sorted(inputs.items())]
    if correlation_input:
        lines.append(f"{_clean(correlation_input)}=<correlation id, set at dispatch>")
    return "```\n" + ("\n".join(lines) or "(none)")[:900] + "\n```"


def ref_text(shipment: Shipment) -> str:
    ref = _clean(shipment.ref)
    if shipment.sha is None:
        return f"{ref} → ⚠️ {shipment.problem or 'unresolved'}"
    return f"{ref} → `{shipment.sha}`"


def live_text(shipment: Shipment) -> str:
    return f"`{short_sha(shipment.live_sha)}`" if shipment.live_sha else "? (never verified)"


def _approvals_text(request: ApprovalRequest, approved_by: Iterable[str]) -> str:
    who = approvers(request, approved_by)
    named = ", ".join(f"<@{u}>" for u in who) or "none yet"
    return f"{len(who)}/{request.needed}: {named}"


def _fields(
    request: ApprovalRequest, approved_by: Iterable[str]
) -> list[tuple[str, str] | tuple[str, str, bool]]:
    shipment = request.shipment
    return [
        ("Ref → SHA", ref_text(shipment)),
        ("Live", live_text(shipment), True),
        ("Workflow", _clean(request.workflow), True),
        ("Approvals", _approvals_text(request, approved_by), True),
        ("Commits since live", shipment.commits_text()[:1024]),
        ("Inputs", inputs_text(request.inputs, request.correlation_input)),
    ]


def render_request(
    request: ApprovalRequest, approved_by: Iterable[str], note: str | None = None
) -> Message:
    """The request message, with its Approve and Reject buttons."""
    lines = [
        f"<@{request.requester}> asks to deploy **{_clean(request.ref)}** to "
        f"**{request.label}**. It needs {request.needed} approval"
        f"{'s' if request.needed > 1 else ''} from other deployers; the request expires "
        f"<t:{int(request.expires_at)}:R>.",
    ]
    if request.override:
        lines.append(f"🧊 An admin's freeze override goes with it: “{_clean(request.override)}”")
    if note:
        lines.append(note)
    return Message(
        embeds=[
            embed(
                f"🛂 Approval needed: deploy {request.label}",
                "\n".join(lines),
                color=Color.PURPLE,
                fields=_fields(request, approved_by),
                footer=f"request {request.id}",
            )
        ],
        components=[
            action_row(
                button(
                    "Approve", custom_id("deploy.approve", request.id), style=ButtonStyle.SUCCESS
                ),
                button("Reject", custom_id("deploy.reject", request.id), style=ButtonStyle.DANGER),
            )
        ],
        allowed_mentions={"parse": []},
    )


def render_ended(request: ApprovalRequest, ending: Ending, approved_by: Iterable[str]) -> Message:
    """The request message once it is over (rejected, withdrawn, expired, ref moved): no
    buttons. A dispatched request's message becomes the tracked run instead."""
    who = f"<@{ending.by}>" if ending.by else "?"
    line, color = {
        "rejected": (f"❌ Rejected by {who}: nothing was deployed.", Color.RED),
        "cancelled": (f"🚫 Withdrawn by {who}: nothing was deployed.", Color.GREY),
        "expired": (
            "⌛ Expired: it was not approved in time, so nothing was deployed. "
            "`/deploy` again to ask anew.",
            Color.GREY,
        ),
        "stale": (
            f"🔀 Not dispatched: `{_clean(request.ref)}` no longer resolves to the SHA that was "
            "requested. `/deploy` again to ask about what it is now.",
            Color.YELLOW,
        ),
        "dispatched": (f"🚀 Approved and dispatched by {who}.", Color.GREEN),
    }[ending.outcome]
    return Message(
        embeds=[
            embed(
                f"🛂 Deploy {request.label}",
                f"<@{request.requester}> asked to deploy **{_clean(request.ref)}**.\n{line}",
                color=color,
                fields=_fields(request, approved_by),
                footer=f"request {request.id}",
            )
        ],
        allowed_mentions={"parse": []},
    )


def gate_lines(plan: DeployPlan, now: float) -> list[str]:
    """The lock, freeze and queue verdicts of a plan, one line each."""
    lines = []
    lock = plan.lock.lock
    if lock is None:
        lines.append("🔓 lock: none")
    elif plan.lock.passes:
        lines.append(f"🔒 lock: yours (“{_clean(lock.reason)}”), so it lets you through")
    else:
        lines.append(f"🔒 lock: <@{lock.owner}> “{_clean(lock.reason)}”: **refused**")
    freeze = plan.freeze.freeze
    if freeze is None:
        lines.append("☀️ freeze: none in force")
    else:
        until = local_time(freeze.ends_at, freeze.window.timezone)
        verdict = (
            f"overridden (“{_clean(plan.freeze.override)}”)"
            if plan.freeze.override is not None
            else "**refused**"
        )
        lines.append(f"🧊 freeze: **{freeze.window.name}** until {until}: {verdict}")
    queue = plan.queue
    if not queue.busy:
        lines.append("🚦 queue: free, it would start at once")
    else:
        busy = (
            describe_in_flight(queue.in_flight, now)
            if queue.in_flight is not None
            else "nothing in flight"
        )
        waiting = f", {queue.waiting} waiting" if queue.waiting else ""
        verdict = "it would wait its turn" if queue.passes else "**refused** (no queue here)"
        lines.append(f"🚦 queue: busy ({busy}{waiting}): {verdict}")
    return lines


def plan_verdict(plan: DeployPlan, needed: int) -> str:
    """What `/deploy` would do with this plan: refused by a lock or a freeze first (as the
    request is), then ask for approvals, then the queue's say."""
    if not plan.lock.passes:
        return "locked"
    if not plan.freeze.passes:
        return "frozen"
    if needed:
        return "approval"
    if not plan.queue.passes:
        return "busy"
    return "queued" if plan.will_wait else "dispatch"


def render_plan(
    plan: DeployPlan,
    shipment: Shipment,
    *,
    correlation_input: str | None,
    needed: int,
    now: float,
) -> Message:
    """`/deploy … dry_run:true`: what would happen, and nothing happening."""
    verdict = plan_verdict(plan, needed)
    if shipment.sha is None and verdict not in ("locked", "frozen"):
        # A ref GitHub does not know: a request would be refused, a dispatch would fail.
        outcome = f"⛔ It would go nowhere: `{_clean(shipment.ref)}`: {shipment.problem}."
    elif verdict == "approval":
        outcome = (
            f"🛂 It would ask for {needed} approval{'s' if needed > 1 else ''} first "
            "(a request with Approve / Reject buttons); the gate judges again when approved."
        )
    elif verdict == "queued":
        outcome = "🕒 It would wait in the queue, then dispatch."
    elif verdict == "dispatch":
        outcome = "🚀 It would dispatch now."
    else:
        outcome = f"⛔ It would be refused: {plan.refusal}"
    approvals = (
        f"🛂 approvals: {needed} from other deployers" if needed else "🛂 approvals: none needed"
    )
    fields: list[tuple[str, str] | tuple[str, str, bool]] = [
        ("Ref → SHA", ref_text(shipment)),
        ("Live", live_text(shipment), True),
        ("Workflow", _clean(plan.workflow), True),
        ("Commits since live", shipment.commits_text()[:1024]),
        ("Verdicts", "\n".join([*gate_lines(plan, now), approvals])),
        ("Inputs", inputs_text(plan.inputs, correlation_input)),
    ]
    return Message(
        embeds=[
            embed(
                f"🧪 Dry run: deploy {plan.target.label}",
                f"{outcome}\nNothing was dispatched, queued or requested.",
                color=Color.BLUE,
                fields=fields,
            )
        ],
        allowed_mentions={"parse": []},
    )


# -- I/O --------------------------------------------------------------------------------------


async def what_ships(services: Clients, target: Target, ref: str) -> Shipment:
    """Resolve `ref` on GitHub and list the commits since the environment's live SHA (the
    last passing verification there, else what its version endpoint reports)."""
    from orchestrator.deploys.state import environment_states
    from orchestrator.github.errors import GitHubHTTPError
    from orchestrator.verification.http_checks import deployed_version

    app = target.app
    states = environment_states(services.store, app)
    live = next(
        (s.live_sha for s in states if s.target.environment.name == target.environment.name),
        None,
    ) or await deployed_version(app, services)
    async with services.github() as github:
        try:
            sha = await github.get_branch_head(app.repo, ref)
        except GitHubHTTPError as exc:
            if exc.status not in (404, 422):
                raise
            return Shipment(ref, None, live, problem=f"no such ref in {app.repo}")
        if live is None or live == sha:
            return Shipment(ref, sha, live)
        try:
            compare = await github.compare(app.repo, live, sha)
        except GitHubHTTPError as exc:
            if exc.status not in (404, 422):
                raise
            return Shipment(ref, sha, live)
    ahead = compare.get("ahead_by")
    commits = []
    for raw in compare.get("commits") or []:
        if isinstance(raw, dict) and isinstance(raw.get("sha"), str):
            message = str((raw.get("commit") or {}).get("message") or "")
            commits.append(Commit(raw["sha"], message.splitlines()[0] if message else ""))
    return Shipment(
        ref,
        sha,
        live,
        commits=tuple(commits[:MAX_COMMITS]),
        ahead_by=ahead if isinstance(ahead, int) else None,
    )


async def expire_due(services: Clients, discord: DiscordREST, now: float | None = None) -> int:
    """The deploy watch: end requests whose time is up, say so on their message, audit it.
    Once each, whoever else (a late press, another watch) looks at the same moment."""
    from orchestrator import audit

    at = time.time() if now is None else now
    store = services.store
    expired = 0
    for request in pending(store):
        if at < request.expires_at or ending(store, request) is not None:
            continue
        if not end(store, request, "expired", None, at):
            continue
        expired += 1
        audit.record(
            store,
            actor=None,
            action="deploy.approval",
            result="expired",
            request=request.id,
            app=request.app,
            environment=request.environment,
            requester=request.requester,
        )
        if request.channel_id and request.message_id:
            ended = ending(store, request) or Ending("expired", None, at)
            message = render_ended(request, ended, votes(store, request))
            try:
                await discord.edit_message(
                    request.channel_id, request.message_id, message.to_data(edit=True)
                )
            except Exception as exc:  # the message is gone: the audit has it
                log.warning("could not mark a request expired", extra={"error": repr(exc)})
    return expired
