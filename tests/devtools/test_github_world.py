"""The GitHub stand-in's demo world: how a run moves, step by step, and what GitHub would say."""

from __future__ import annotations

import pytest

from orchestrator.devtools.github_world import (
    BRANCH,
    DemoWorld,
    Emit,
    GitHubRefusal,
    Run,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
def world() -> DemoWorld:
    return DemoWorld(Clock(), site_url="http://127.0.0.1:1/sites/demo/")


def run_to_end(world: DemoWorld, run: Run) -> list[Emit]:
    emits: list[Emit] = []
    for _ in range(50):
        if run.finished:
            return emits
        emits += world.tick(run.id)
    raise AssertionError("the run never finished")


def names(world: DemoWorld, run: Run, emits: list[Emit]) -> list[str]:
    jobs = {job.id: job.name for job in run.jobs}
    return [f"{event}.{action}" + (f":{jobs[job]}" if job else "") for event, action, job in emits]


def test_a_deploy_walks_queued_in_progress_completed_and_changes_the_live_site(
    world: DemoWorld,
) -> None:
    before = world.live_sha
    head = world.branches[BRANCH]
    assert before != head, "the demo starts one release behind, so a deploy changes something"
    run = world.dispatch("deploy.yml", "main", {"correlation_id": "orc-0123abcd"})
    assert (run.status, run.event, run.head_sha) == ("queued", "workflow_dispatch", head)
    assert run.display_title == "Deploy orc-0123abcd"  # run-name echoes the correlation id
    seen: list[tuple[str, str | None, str]] = []
    emits: list[Emit] = []
    while not run.finished:
        step = world.tick(run.id)
        emits += step
        seen.append((run.status, run.conclusion, world.live_sha))
    assert names(world, run, emits) == [
        "workflow_run.requested",
        "workflow_job.queued:build",
        "workflow_job.queued:deploy",
        "workflow_run.in_progress",
        "workflow_job.in_progress:build",
        "workflow_job.completed:build",
        "workflow_job.in_progress:deploy",
        "workflow_job.completed:deploy",
        "workflow_run.completed",
    ]
    statuses = [status for status, _, _ in seen]
    assert statuses[0] == "queued" and statuses[-1] == "completed"
    assert "in_progress" in statuses
    # The site serves the new commit only once the run is done, and before GitHub says so.
    assert all(live == before for status, _, live in seen if status != "completed")
    assert (run.conclusion, world.live_sha) == ("success", head)
    assert [job.conclusion for job in run.jobs] == ["success", "success"]
    deployment = world.deployments[run.deployment_id or 0]
    assert deployment.sha == head
    assert [s.state for s in deployment.statuses] == ["success", "in_progress"]  # newest first
    assert world.tick(run.id) == []


def test_a_scripted_failure_fails_in_the_tests_with_real_log_lines(world: DemoWorld) -> None:
    before = world.live_sha
    run = world.dispatch("deploy.yml", "main", {"fail": "true"})
    emits = run_to_end(world, run)
    assert names(world, run, emits)[-3:] == [
        "workflow_job.completed:build",
        "workflow_job.completed:deploy",  # skipped: it needed the build
        "workflow_run.completed",
    ]
    build, deploy = run.jobs
    assert (run.conclusion, build.conclusion, deploy.conclusion) == (
        "failure",
        "failure",
        "skipped",
    )
    assert [s.name for s in build.steps if s.conclusion == "failure"] == ["Run tests"]
    log = "\n".join(build.log)
    assert "AssertionError" in log and "##[error]Process completed with exit code 1." in log
    assert world.live_sha == before, "a failed deploy changes nothing"
    assert world.deployments[run.deployment_id or 0].statuses[0].state == "failure"


def test_cancel_ends_a_run_at_its_next_step_and_a_finished_run_refuses(
    world: DemoWorld,
) -> None:
    run = world.dispatch("deploy.yml", "main", {})
    world.tick(run.id)
    world.tick(run.id)  # in progress
    world.cancel(run.id)
    emits = world.tick(run.id)
    assert (run.status, run.conclusion) == ("completed", "cancelled")
    assert emits[-1] == ("workflow_run", "completed", None)
    assert {job.conclusion for job in run.jobs} == {"cancelled"}
    with pytest.raises(GitHubRefusal) as refused:
        world.cancel(run.id)
    assert refused.value.status == 409


def test_rerun_failed_jobs_keeps_what_passed_and_remembers_the_first_attempt(
    world: DemoWorld,
) -> None:
    run = world.dispatch("deploy.yml", "main", {"fail": "true"})
    with pytest.raises(GitHubRefusal):
        world.rerun(run.id, failed_only=True)  # still running: GitHub says 403
    run_to_end(world, run)
    world.rerun(run.id, failed_only=True)
    assert (run.attempt, run.status, run.conclusion) == (2, "queued", None)
    first = world.run(run.id, attempt=1)
    assert (first.attempt, first.conclusion) == (1, "failure")
    emits = run_to_end(world, run)
    assert emits[0] == ("workflow_run", "requested", None)
    assert run.conclusion == "failure", "the scripted failure is in the code, not the weather"
    with pytest.raises(GitHubRefusal):
        world.run(run.id, attempt=3)


def test_a_full_rerun_of_a_success_runs_every_job_again(world: DemoWorld) -> None:
    run = world.dispatch("deploy.yml", "main", {})
    run_to_end(world, run)
    with pytest.raises(GitHubRefusal):
        world.rerun(run.id, failed_only=True)  # nothing failed
    world.rerun(run.id, failed_only=False)
    assert {job.status for job in run.jobs} == {"queued"}
    run_to_end(world, run)
    assert (run.attempt, run.conclusion) == (2, "success")


@pytest.mark.parametrize(
    ("workflow", "ref", "inputs", "status"),
    [
        ("deploy.yml", "main", {"surprise": "1"}, 422),  # GitHub refuses undeclared inputs
        ("ci.yml", "main", {}, 422),  # no workflow_dispatch trigger
        ("deploy.yml", "no-such-branch", {}, 422),
        ("nope.yml", "main", {}, 404),
        ("promote.yml", "main", {"sha": "f" * 40}, 422),  # a commit the repo does not have
    ],
)
def test_dispatch_refuses_what_github_refuses(
    world: DemoWorld, workflow: str, ref: str, inputs: dict[str, object], status: int
) -> None:
    with pytest.raises(GitHubRefusal) as refused:
        world.dispatch(workflow, ref, inputs)
    assert refused.value.status == status
    assert refused.value.message


def test_promote_and_rollback_deploy_the_sha_they_are_given(world: DemoWorld) -> None:
    first = world.live_sha
    head = world.branches[BRANCH]
    promote = world.dispatch("promote.yml", "main", {"sha": head})
    run_to_end(world, promote)
    assert world.live_sha == head
    rollback = world.dispatch("rollback.yml", "main", {"sha": first[:12]})
    run_to_end(world, rollback)
    assert world.live_sha == first
    diagnose = world.dispatch("diagnose.yml", "main", {"frontend_url": "http://x"})
    run_to_end(world, diagnose)
    assert world.live_sha == first, "only deploying workflows change the site"


def test_the_repository_compares_like_git(world: DemoWorld) -> None:
    assert world.compare("main", "greeting")[:3] == ("ahead", 1, 0)
    assert world.compare("greeting", "main")[:3] == ("behind", 0, 1)
    assert world.compare("greeting", "docs")[:3] == ("diverged", 1, 1)
    assert world.compare("main", "main")[:3] == ("identical", 0, 0)
    status, ahead, _, commits = world.compare(world.live_sha, "main")
    assert (status, ahead) == ("ahead", 2)
    assert [c.sha for c in commits][-1] == world.branches["main"]  # oldest first
    assert world.resolve(world.branches["main"][:7]) == world.branches["main"]
    assert world.merge_base("greeting", "docs") == world.branches["main"]


def test_the_demo_has_a_failing_pull_request_with_its_ci_run(world: DemoWorld) -> None:
    head = world.branches[world.pulls[1].head_ref]
    [ci] = [run for run in world.runs.values() if run.head_sha == head]
    assert (ci.workflow.file, ci.event, ci.conclusion, ci.pull_number) == (
        "ci.yml",
        "pull_request",
        "failure",
        1,
    )
    [job] = ci.jobs
    assert "AssertionError" in "\n".join(job.log)
    assert not [run for run in world.runs.values() if run.workflow.file == "deploy.yml"], (
        "no deploy before the first /deploy: /verify-latest has nothing to pass"
    )


def test_a_world_started_again_hands_out_new_run_and_deployment_ids() -> None:
    """The dev server restarts with its store kept: the runs and Deployments of the new
    stand-in must not reuse the last one's ids (the bot would take the new run's events
    for a finished run's stale ones, and skip the new Deployment's statuses)."""
    first = DemoWorld(Clock(), site_url="http://127.0.0.1:1/sites/demo/")
    later = Clock()
    later.now += 3600
    second = DemoWorld(later, site_url="http://127.0.0.1:1/sites/demo/")
    assert next(first._run_ids) != next(second._run_ids)
    assert next(first._deployment_ids) != next(second._deployment_ids)
