"""The demo repository the local GitHub stand-in serves, and how its workflow runs move.

State only: no HTTP, no threads, no clock of its own (`now` is handed in), so the run
state machine is tested step by step. `DemoWorld.tick` is the one step: it moves a run
forward the way GitHub Actions does (queued -> in progress, one job after another ->
completed) and says which webhooks GitHub would send for that step. The stand-in
(`github_standin`) calls it on a timer and sends them.

The repository `local/demo` has a short `main` history and two pull requests, one
whose CI fails with real-looking test output (so `/triage pr:1` has log lines to
show). Its workflows mirror what a team would have: `deploy.yml` (which changes what
the demo's live site serves, when it succeeds), `promote.yml` and `rollback.yml`
(with a `sha` input), `diagnose.yml`, `triage.yml`, and `ci.yml`, which runs on
pushes and pull requests only. A dispatch with the input `fail=true` fails in its
tests, as scripted. A deploy dispatched with `stale=true` succeeds but leaves the live site
serving what it served before (a traffic switch that did not happen, a stuck cache): the
run is green, the verification is not, which is what Roll back and `auto_rollback` are for.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field

OWNER = "local"
NAME = "demo"
REPO = f"{OWNER}/{NAME}"
REPO_ID = 700_000_001
BRANCH = "main"
ENVIRONMENT = "production"
BOT_LOGIN = "github-actions[bot]"
# What the person dispatching is called when the token says nothing about them.
DEFAULT_ACTOR = "dev"
FAIL_INPUT = "fail"
STALE_INPUT = "stale"  # a deploy that succeeds and changes nothing live
CORRELATION_INPUT = "correlation_id"
_TRUE = frozenset({"true", "1", "yes", "on"})

# A run's webhook events, in the order GitHub sends them: (event, action, job id or None).
Emit = tuple[str, str, int | None]


class GitHubRefusal(Exception):
    """What GitHub answers instead of doing it: a status and GitHub's own message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Commit:
    sha: str
    message: str
    author: str  # the author's name
    login: str  # and their GitHub login
    at: float
    parents: tuple[str, ...]

    @property
    def title(self) -> str:
        return self.message.splitlines()[0] if self.message else ""


@dataclass(frozen=True)
class JobPlan:
    name: str
    steps: tuple[str, ...]
    # The step that fails when the run is scripted to fail (None: this job never fails).
    fails_at: str | None = None


@dataclass(frozen=True)
class Workflow:
    id: int
    name: str
    file: str
    jobs: tuple[JobPlan, ...]
    inputs: tuple[str, ...] = ()
    dispatchable: bool = True
    deploys: bool = False  # a success changes what the live site serves

    @property
    def path(self) -> str:
        return f".github/workflows/{self.file}"


@dataclass
class Step:
    name: str
    number: int
    status: str = "queued"
    conclusion: str | None = None
    started_at: float | None = None
    completed_at: float | None = None


@dataclass
class Job:
    id: int
    run_id: int
    attempt: int
    name: str
    created_at: float
    steps: list[Step]
    fails_at: str | None = None
    status: str = "queued"
    conclusion: str | None = None
    started_at: float | None = None
    completed_at: float | None = None
    log: list[str] = field(default_factory=list)


@dataclass
class Run:
    id: int
    number: int
    workflow: Workflow
    head_sha: str
    head_branch: str
    event: str
    display_title: str
    actor: str
    created_at: float
    inputs: dict[str, str] = field(default_factory=dict)
    attempt: int = 1
    status: str = "queued"
    conclusion: str | None = None
    updated_at: float = 0.0
    run_started_at: float = 0.0
    jobs: list[Job] = field(default_factory=list)
    fails: bool = False
    stale: bool = False  # succeeds without changing what the live site serves
    cancel_requested: bool = False
    announced: bool = False  # `requested` sent for this attempt
    pull_number: int | None = None
    deploy_sha: str | None = None  # what the live site serves after a success
    deployment_id: int | None = None
    past: dict[int, Run] = field(default_factory=dict)  # earlier attempts, as they ended

    @property
    def finished(self) -> bool:
        return self.status == "completed"


@dataclass(frozen=True)
class Pull:
    number: int
    title: str
    body: str
    head_ref: str
    base_ref: str
    author: str
    created_at: float


@dataclass
class DeploymentStatus:
    id: int
    state: str
    description: str
    environment_url: str
    log_url: str
    created_at: float


@dataclass
class Deployment:
    id: int
    sha: str
    ref: str
    task: str
    environment: str
    description: str
    creator: str
    created_at: float
    statuses: list[DeploymentStatus] = field(default_factory=list)
    payload: dict[str, object] = field(default_factory=dict)
    transient_environment: bool = False
    production_environment: bool = True


@dataclass
class Delivery:
    """One webhook delivery, as `GET /repos/{repo}/hooks/{id}/deliveries` lists it."""

    id: int
    guid: str
    event: str
    action: str | None
    delivered_at: float
    redelivery: bool
    duration: float
    status: str
    status_code: int
    request_headers: dict[str, str]
    payload: dict[str, object]
    response_headers: dict[str, str]
    response_body: str


def _sha(*parts: str) -> str:
    return hashlib.sha1("\n".join(parts).encode(), usedforsecurity=False).hexdigest()


_TESTS = JobPlan(
    "test",
    ("Set up job", "Check out", "Install dependencies", "Run tests", "Complete job"),
    fails_at="Run tests",
)
WORKFLOWS: tuple[Workflow, ...] = (
    Workflow(161_000_001, "CI", "ci.yml", (_TESTS,), dispatchable=False),
    Workflow(
        161_000_002,
        "Deploy",
        "deploy.yml",
        (
            JobPlan(
                "build",
                ("Set up job", "Check out", "Build the site", "Run tests", "Complete job"),
                fails_at="Run tests",
            ),
            JobPlan("deploy", ("Set up job", "Upload the site", "Switch traffic", "Complete job")),
        ),
        inputs=(CORRELATION_INPUT, FAIL_INPUT, STALE_INPUT),
        deploys=True,
    ),
    Workflow(
        161_000_003,
        "Promote",
        "promote.yml",
        (
            JobPlan(
                "promote",
                ("Set up job", "Check the candidate", "Switch traffic", "Complete job"),
                fails_at="Check the candidate",
            ),
        ),
        inputs=("sha", CORRELATION_INPUT, FAIL_INPUT),
        deploys=True,
    ),
    Workflow(
        161_000_004,
        "Roll back",
        "rollback.yml",
        (JobPlan("rollback", ("Set up job", "Switch traffic", "Complete job")),),
        inputs=("sha", CORRELATION_INPUT),
        deploys=True,
    ),
    Workflow(
        161_000_005,
        "Diagnose",
        "diagnose.yml",
        (JobPlan("diagnose", ("Set up job", "Probe the site", "Complete job")),),
        inputs=(CORRELATION_INPUT, "frontend_url", "api_base"),
    ),
    Workflow(
        161_000_006,
        "Triage",
        "triage.yml",
        (JobPlan("triage", ("Set up job", "Collect the failure", "Complete job")),),
        inputs=(CORRELATION_INPUT, "pr", "run_id"),
    ),
)

_FAILING_TEST_OUTPUT = (
    "> demo@1.0.0 test",
    "> node --test",
    "",
    "✔ serves the page (4.1ms)",
    "✔ reports its version (1.2ms)",
    "✖ greets the visitor by name (2.7ms)",
    "  AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:",
    "",
    "  'Hello, undefined!' !== 'Hello, Ada!'",
    "",
    "      at TestContext.<anonymous> (test/greeting.test.js:7:10)",
    "ℹ tests 3",
    "ℹ pass 2",
    "ℹ fail 1",
    "##[error]Process completed with exit code 1.",
)


def iso(at: float) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def _log_time(at: float) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime(at))


class DemoWorld:
    """`local/demo`: its commits, pulls, workflow runs, deployments, deliveries and live site.

    Not thread-safe: the stand-in holds one lock around every call.
    """

    def __init__(self, now: Callable[[], float], *, site_url: str = "") -> None:
        self.now = now
        self.site_url = site_url
        self.workflows = {wf.file: wf for wf in WORKFLOWS}
        self.commits: dict[str, Commit] = {}
        self.branches: dict[str, str] = {}
        self.pulls: dict[int, Pull] = {}
        self.runs: dict[int, Run] = {}
        self.deployments: dict[int, Deployment] = {}
        self.deliveries: list[Delivery] = []
        # Ids GitHub would never reuse: a world started again (the dev server restarted, its
        # store kept) must not hand out the run and Deployment ids of the last one, or the
        # bot would take the new run's events for a finished run's stale ones.
        epoch = max(int(now()), 1)
        self._run_ids = itertools.count(epoch * 100 + 1)
        self._job_ids = itertools.count(epoch * 1000 + 1)
        self._numbers = itertools.count(1)
        self._deployment_ids = itertools.count(epoch * 100 + 1)
        self._status_ids = itertools.count(epoch * 1000 + 1)
        self._delivery_ids = itertools.count(epoch * 1000 + 1)
        # The demo's deploy workflow makes a Deployment of its own (as a job with
        # `environment:` does) until a client creates Deployments through the API: then the
        # client (the bot) owns them, as a workflow without `environment:` would leave it.
        self.workflow_deployments = True
        self._seed()

    # -- the repository ----------------------------------------------------------------------

    def _commit(
        self, parent: str | None, message: str, author: str, login: str, days: float
    ) -> str:
        sha = _sha(parent or "", message, author)
        at = self.now() - days * 86400
        self.commits[sha] = Commit(sha, message, author, login, at, (parent,) if parent else ())
        return sha

    def _seed(self) -> None:
        first = self._commit(None, "Initial commit: the demo site", "Ada Lovelace", "ada", 3)
        second = self._commit(
            first, "Show the deployed version on the page", "Grace Hopper", "grace", 2
        )
        head = self._commit(second, "Add a health endpoint", "Linus Torvalds", "linus", 1)
        greeting = self._commit(head, "Greet visitors by name", "Ada Lovelace", "ada", 0.5)
        docs = self._commit(head, "Document how to deploy", "Grace Hopper", "grace", 0.4)
        self.branches = {BRANCH: head, "greeting": greeting, "docs": docs}
        created = self.now() - 0.3 * 86400
        self.pulls = {
            1: Pull(
                1,
                "Greet visitors by name",
                "Says hello to whoever visits.",
                "greeting",
                BRANCH,
                "ada",
                created,
            ),
            2: Pull(2, "Document how to deploy", "", "docs", BRANCH, "grace", created),
        }
        # What the live site served before anyone deployed through the orchestrator.
        self.live_sha = first
        deployment = self._new_deployment(first, BRANCH, "ada", created - 86400)
        self._add_status(deployment, "success", "deployed before the stand-in started")
        ci = self.workflows["ci.yml"]
        self._finished_run(ci, head, BRANCH, "push", fails=False)
        self._finished_run(ci, greeting, "greeting", "pull_request", fails=True, pull=1)
        self._finished_run(ci, docs, "docs", "pull_request", fails=False, pull=2)

    def _finished_run(
        self, workflow: Workflow, sha: str, branch: str, event: str, *, fails: bool, pull: int = 0
    ) -> None:
        commit = self.commits[sha]
        run = self._new_run(workflow, sha, branch, event, commit.title, commit.login, {}, fails)
        run.pull_number = pull or None
        while not run.finished:
            self.tick(run.id)

    def resolve(self, ref: str) -> str:
        """A branch, `refs/heads/…`, or a (long enough) SHA prefix of a known commit."""
        name = ref.removeprefix("refs/heads/")
        if name in self.branches:
            return self.branches[name]
        lowered = ref.lower()
        if len(lowered) >= 7:
            found = [sha for sha in self.commits if sha.startswith(lowered)]
            if len(found) == 1:
                return found[0]
        raise GitHubRefusal(422, f"No commit found for SHA: {ref}")

    def ancestors(self, sha: str) -> list[str]:
        """`sha` and every commit before it, newest first."""
        out: list[str] = []
        todo = [sha]
        while todo:
            current = todo.pop(0)
            if current in out:
                continue
            out.append(current)
            todo.extend(self.commits[current].parents)
        return out

    def compare(self, base: str, head: str) -> tuple[str, int, int, list[Commit]]:
        """(status, ahead_by, behind_by, commits in head not in base, oldest first)."""
        base_sha, head_sha = self.resolve(base), self.resolve(head)
        base_line, head_line = self.ancestors(base_sha), self.ancestors(head_sha)
        ahead = [sha for sha in head_line if sha not in base_line]
        behind = [sha for sha in base_line if sha not in head_line]
        if not ahead and not behind:
            status = "identical"
        elif ahead and behind:
            status = "diverged"
        else:
            status = "ahead" if ahead else "behind"
        return status, len(ahead), len(behind), [self.commits[sha] for sha in reversed(ahead)]

    def merge_base(self, base: str, head: str) -> str:
        head_line = self.ancestors(self.resolve(head))
        return next(sha for sha in self.ancestors(self.resolve(base)) if sha in head_line)

    # -- workflow runs -----------------------------------------------------------------------

    def workflow(self, name_or_id: str) -> Workflow:
        for wf in self.workflows.values():
            if name_or_id in (wf.file, str(wf.id), wf.path):
                return wf
        raise GitHubRefusal(404, "Not Found")

    def _new_jobs(self, run: Run) -> list[Job]:
        at = self.now()
        return [
            Job(
                id=next(self._job_ids),
                run_id=run.id,
                attempt=run.attempt,
                name=plan.name,
                created_at=at,
                steps=[Step(name, number) for number, name in enumerate(plan.steps, 1)],
                fails_at=plan.fails_at if run.fails else None,
            )
            for plan in run.workflow.jobs
        ]

    def _new_run(
        self,
        workflow: Workflow,
        sha: str,
        branch: str,
        event: str,
        title: str,
        actor: str,
        inputs: dict[str, str],
        fails: bool,
    ) -> Run:
        at = self.now()
        run = Run(
            id=next(self._run_ids),
            number=next(self._numbers),
            workflow=workflow,
            head_sha=sha,
            head_branch=branch,
            event=event,
            display_title=title,
            actor=actor,
            created_at=at,
            updated_at=at,
            run_started_at=at,
            inputs=dict(inputs),
            fails=fails,
        )
        run.jobs = self._new_jobs(run)
        if workflow.deploys:
            wanted = inputs.get("sha") or sha
            run.deploy_sha = self.resolve(wanted) if wanted else sha
        self.runs[run.id] = run
        return run

    def dispatch(
        self, workflow_id: str, ref: str, inputs: dict[str, object], actor: str = DEFAULT_ACTOR
    ) -> Run:
        """`POST …/dispatches`: a new queued run, or GitHubRefusal as GitHub would answer."""
        workflow = self.workflow(workflow_id)
        if not workflow.dispatchable:
            raise GitHubRefusal(422, "Workflow does not have 'workflow_dispatch' trigger")
        unexpected = sorted(set(inputs) - set(workflow.inputs))
        if unexpected:
            raise GitHubRefusal(422, f"Unexpected inputs provided: {json.dumps(unexpected)}")
        values = {key: str(value) for key, value in inputs.items()}
        sha = self.resolve(ref)
        if "sha" in values:
            self.resolve(values["sha"])  # a deploy of an unknown commit fails at once
        branch = ref.removeprefix("refs/heads/")
        if branch not in self.branches:
            branch = next((b for b, head in self.branches.items() if head == sha), BRANCH)
        correlation = values.get(CORRELATION_INPUT)
        # `run-name: Deploy ${{ inputs.correlation_id }}`, as the docs ask a workflow to say.
        title = f"{workflow.name} {correlation}" if correlation else workflow.name
        fails = values.get(FAIL_INPUT, "").lower() in _TRUE
        run = self._new_run(workflow, sha, branch, "workflow_dispatch", title, actor, values, fails)
        run.stale = values.get(STALE_INPUT, "").lower() in _TRUE
        return run

    def run(self, run_id: int, attempt: int | None = None) -> Run:
        found = self.runs.get(run_id)
        if found is None:
            raise GitHubRefusal(404, "Not Found")
        if attempt is None or attempt == found.attempt:
            return found
        earlier = found.past.get(attempt)
        if earlier is None:
            raise GitHubRefusal(404, "Not Found")
        return earlier

    def job(self, job_id: int) -> tuple[Job, Run]:
        for run in self.runs.values():
            for candidate in (run, *run.past.values()):
                for job in candidate.jobs:
                    if job.id == job_id:
                        return job, candidate
        raise GitHubRefusal(404, "Not Found")

    def cancel(self, run_id: int) -> Run:
        run = self.run(run_id)
        if run.finished:
            raise GitHubRefusal(409, "Cannot cancel a workflow run that is completed.")
        run.cancel_requested = True
        return run

    def rerun(self, run_id: int, *, failed_only: bool) -> Run:
        """A new attempt of a finished run: all its jobs, or (failed_only) the failed ones
        and the jobs after them; the rest keep their success."""
        run = self.run(run_id)
        if not run.finished:
            raise GitHubRefusal(403, "This workflow is already running")
        if failed_only and run.conclusion not in ("failure", "timed_out", "cancelled"):
            raise GitHubRefusal(403, "This workflow run has no failed jobs to re-run")
        run.past[run.attempt] = copy.deepcopy(run)
        run.past[run.attempt].past = {}
        kept = [job for job in run.jobs if job.conclusion == "success"] if failed_only else []
        run.attempt += 1
        at = self.now()
        run.status, run.conclusion = "queued", None
        run.cancel_requested = run.announced = False
        run.created_at = run.updated_at = run.run_started_at = at
        fresh = [job for job in self._new_jobs(run) if job.name not in {k.name for k in kept}]
        run.jobs = [*(copy.deepcopy(job) for job in kept), *fresh]
        run.jobs.sort(key=lambda job: [p.name for p in run.workflow.jobs].index(job.name))
        return run

    def tick(self, run_id: int) -> list[Emit]:
        """Move a run one step along; the webhooks GitHub would send for it, in order."""
        run = self.runs[run_id]
        at = self.now()
        if run.finished:
            return []
        if not run.announced:
            run.announced = True
            return [("workflow_run", "requested", None)] + [
                ("workflow_job", "queued", job.id) for job in run.jobs if job.status == "queued"
            ]
        run.updated_at = at
        if run.cancel_requested:
            return self._cancel_now(run, at)
        if run.status == "queued":
            run.status = "in_progress"
            run.run_started_at = at
            emits: list[Emit] = [("workflow_run", "in_progress", None)]
            self._start_deployment(run)
            return emits + self._start_next_job(run, at)
        current = next((job for job in run.jobs if job.status == "in_progress"), None)
        if current is None:
            return self._start_next_job(run, at) or self._complete(run, "success", at)
        failed = self._finish_job(current, at)
        emits = [("workflow_job", "completed", current.id)]
        if failed:
            for job in run.jobs:
                if job.status == "queued":
                    self._skip_job(job, at)
                    emits.append(("workflow_job", "completed", job.id))
            return emits + self._complete(run, "failure", at)
        started = self._start_next_job(run, at)
        return emits + (started or self._complete(run, "success", at))

    def _start_next_job(self, run: Run, at: float) -> list[Emit]:
        job = next((job for job in run.jobs if job.status == "queued"), None)
        if job is None:
            return []
        job.status, job.started_at = "in_progress", at
        job.steps[0].status, job.steps[0].started_at = "in_progress", at
        job.log.extend(
            [
                f"{_log_time(at)} Current runner version: '2.321.0'",
                f"{_log_time(at)} ##[group]Operating System",
                f"{_log_time(at)} Ubuntu 24.04.1 LTS",
                f"{_log_time(at)} ##[endgroup]",
            ]
        )
        return [("workflow_job", "in_progress", job.id)]

    def _finish_job(self, job: Job, at: float) -> bool:
        """Complete every step of `job`; True if it failed (at its scripted step)."""
        failed = False
        for step in job.steps:
            step.started_at = step.started_at or at
            step.completed_at = at
            step.status = "completed"
            if failed and step.name != "Complete job":
                step.conclusion = "skipped"
                continue
            step.conclusion = "success"
            if step.name in ("Set up job", "Complete job"):
                continue  # their lines are the runner's own, written on start and below
            job.log.append(f"{_log_time(at)} ##[group]{step.name}")
            if step.name == job.fails_at:
                step.conclusion = "failure"
                failed = True
                job.log.extend(f"{_log_time(at)} {line}" for line in _FAILING_TEST_OUTPUT)
            else:
                job.log.append(f"{_log_time(at)} {step.name}: done")
            job.log.append(f"{_log_time(at)} ##[endgroup]")
        job.log.append(f"{_log_time(at)} Cleaning up orphan processes")
        job.status, job.completed_at = "completed", at
        job.conclusion = "failure" if failed else "success"
        return failed

    def _skip_job(self, job: Job, at: float) -> None:
        job.status, job.conclusion = "completed", "skipped"
        job.started_at = job.completed_at = at
        for step in job.steps:
            step.status, step.conclusion = "completed", "skipped"

    def _cancel_now(self, run: Run, at: float) -> list[Emit]:
        emits: list[Emit] = []
        for job in run.jobs:
            if job.status == "completed":
                continue
            job.status, job.conclusion, job.completed_at = "completed", "cancelled", at
            job.started_at = job.started_at or at
            for step in job.steps:
                if step.status != "completed":
                    step.status, step.conclusion, step.completed_at = "completed", "cancelled", at
            job.log.append(f"{_log_time(at)} ##[error]The operation was canceled.")
            emits.append(("workflow_job", "completed", job.id))
        return emits + self._complete(run, "cancelled", at)

    def _complete(self, run: Run, conclusion: str, at: float) -> list[Emit]:
        run.status, run.conclusion, run.updated_at = "completed", conclusion, at
        if run.deploy_sha is not None and conclusion == "success" and not run.stale:
            self.live_sha = run.deploy_sha  # before GitHub says so: the verifier checks next
        deployment = self.deployments.get(run.deployment_id or 0)
        if deployment is not None:
            state = {"success": "success", "cancelled": "inactive"}.get(conclusion, "failure")
            self._add_status(deployment, state, f"{run.workflow.name} {conclusion}")
        return [("workflow_run", "completed", None)]

    # -- deployments -------------------------------------------------------------------------

    def _new_deployment(self, sha: str, ref: str, creator: str, at: float) -> Deployment:
        deployment = Deployment(
            id=next(self._deployment_ids),
            sha=sha,
            ref=ref,
            task="deploy",
            environment=ENVIRONMENT,
            description=f"Deploy {sha[:7]}",
            creator=creator,
            created_at=at,
        )
        self.deployments[deployment.id] = deployment
        return deployment

    def _start_deployment(self, run: Run) -> None:
        if run.deploy_sha is None or not self.workflow_deployments:
            return
        deployment = self._new_deployment(run.deploy_sha, run.head_branch, run.actor, self.now())
        run.deployment_id = deployment.id
        self._add_status(deployment, "in_progress", f"{run.workflow.name} started")

    def _add_status(
        self,
        deployment: Deployment,
        state: str,
        description: str,
        *,
        environment_url: str | None = None,
        log_url: str = "",
    ) -> DeploymentStatus:
        status = DeploymentStatus(
            id=next(self._status_ids),
            state=state,
            description=description[:140],
            environment_url=self.site_url if environment_url is None else environment_url,
            log_url=log_url,
            created_at=self.now(),
        )
        deployment.statuses.insert(0, status)  # newest first, as GitHub lists them
        return status

    def create_deployment(
        self,
        ref: str,
        *,
        environment: str,
        task: str,
        description: str,
        creator: str,
        payload: dict[str, object],
        required_contexts: list[str] | None,
        transient_environment: bool,
        production_environment: bool,
    ) -> Deployment:
        """`POST …/deployments`: a Deployment of `ref`'s commit, or GitHubRefusal as GitHub
        would answer (422 for an unknown ref, 409 when a required context has not passed)."""
        sha = self.resolve(ref)
        passed = {
            job.name
            for run in self.runs.values()
            if run.head_sha == sha
            for job in run.jobs
            if job.conclusion == "success"
        }
        missing = sorted(set(required_contexts or ()) - passed)
        if missing:
            raise GitHubRefusal(
                409, f"Conflict: Commit status checks failed for {ref}: {', '.join(missing)}"
            )
        self.workflow_deployments = False
        deployment = Deployment(
            id=next(self._deployment_ids),
            sha=sha,
            ref=ref,
            task=task,
            environment=environment,
            description=description,
            creator=creator,
            created_at=self.now(),
            payload=payload,
            transient_environment=transient_environment,
            production_environment=production_environment,
        )
        self.deployments[deployment.id] = deployment
        return deployment

    def add_status(
        self,
        deployment_id: int,
        state: str,
        description: str = "",
        environment_url: str | None = None,
        log_url: str = "",
    ) -> DeploymentStatus:
        deployment = self.deployments.get(deployment_id)
        if deployment is None:
            raise GitHubRefusal(404, "Not Found")
        return self._add_status(
            deployment, state, description, environment_url=environment_url, log_url=log_url
        )

    # -- deliveries --------------------------------------------------------------------------

    def new_delivery_id(self) -> int:
        return next(self._delivery_ids)

    def delivery(self, delivery_id: int) -> Delivery:
        for item in self.deliveries:
            if item.id == delivery_id:
                return item
        raise GitHubRefusal(404, "Not Found")
