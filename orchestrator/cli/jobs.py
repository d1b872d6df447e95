"""Show and replay background jobs: what failed, and run it again.

    orchestrator jobs list [--status failed]
    orchestrator jobs retry JOB_ID ... | --failed

Jobs registered with a retry policy (notifications, probe posts, digests) also
try again on their own (`orchestrator.jobs.retry`); `list` says when. A retry by
hand is the job's next attempt (the runner runs each attempt once). With
the in-process backend it runs in this command, against the same store and
APIs the service uses; with the Lambda backend it is invoked on the function.
Payloads are never printed: they can hold interaction tokens.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from orchestrator.cli.arguments import seconds, whole
from orchestrator.store import keys
from orchestrator.text import ago, duration

STATUSES = ("pending", "running", "done", "failed", "all")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list", "retry"])
    parser.add_argument("ids", nargs="*", help="job ids to retry")
    parser.add_argument("--status", choices=STATUSES, default="all", help="list only these")
    parser.add_argument("--failed", action="store_true", help="retry every failed job")
    parser.add_argument(
        "--limit", type=whole(1, 5000), default=30, help="list at most this many (default 30)"
    )
    parser.add_argument(
        "--wait",
        type=seconds(0),
        default=60.0,
        help="seconds to wait for in-process retries to finish (default 60)",
    )


def usage_problem(args: argparse.Namespace) -> str | None:
    """Flags that contradict each other or the action (None when they make sense)."""
    if args.action == "list":
        if args.ids or args.failed:
            return "`jobs list` takes no job ids and no --failed (did you mean `jobs retry`?)"
        return None
    if args.ids and args.failed:
        return "give job ids or --failed, not both"
    if not args.ids and not args.failed:
        return "`jobs retry` needs job ids (see `orchestrator jobs list`) or --failed"
    return None


def jobs(store: Any, status: str = "all", limit: int = 30) -> list[tuple[str, dict[str, Any]]]:
    records = store.query_prefix(keys.JOB_PREFIX, limit=5000)
    found = [(keys.parse_job(r.key), r.value) for r in records]
    if status != "all":
        found = [(k, v) for k, v in found if v.get("status") == status]
    found.sort(key=lambda item: float(item[1].get("updated_at", 0)), reverse=True)
    return found[:limit]


def _line(job_id: str, value: dict[str, Any], now: float) -> str:
    error = f"  {value['error'][:100]}" if value.get("error") else ""
    retry_at = value.get("retry_at")
    retry = ""
    if value.get("status") == "failed" and isinstance(retry_at, int | float):
        retry = f"  (retries on its own in {duration(max(0.0, retry_at - now))})"
    return (
        f"{job_id:<24} {value.get('name', '?'):<22} {value.get('status', '?'):<8} "
        f"#{value.get('attempt', 1)}  {ago(now - float(value.get('updated_at', now)))}"
        f"{retry}{error}"
    )


def run(args: argparse.Namespace) -> int:
    from orchestrator.config import load_settings
    from orchestrator.jobs.base import Job
    from orchestrator.jobs.retry import claim_submission
    from orchestrator.services import Services

    problem = usage_problem(args)
    if problem is not None:
        print(f"orchestrator: {problem}", file=sys.stderr)
        return 2
    services = Services(load_settings())
    now = time.time()
    missing = 0
    try:
        if args.action == "list":
            for job_id, value in jobs(services.store, args.status, args.limit):
                print(_line(job_id, value, now))
            return 0
        targets = [k for k, _ in jobs(services.store, "failed", 1000)] if args.failed else args.ids
        if not targets:
            print("nothing to retry")
            return 0
        retried = []
        for job_id in targets:
            stored = services.store.get(keys.job(job_id))
            if stored is None:
                print(
                    f"orchestrator: no job {job_id!r} (see `orchestrator jobs list`)",
                    file=sys.stderr,
                )
                missing += 1
                continue
            value = stored
            if args.failed and value.get("status") != "failed":
                continue  # retried (by the sweep, or another shell) since it was listed
            job = Job(
                str(value.get("name")),
                dict(value.get("payload") or {}),
                job_id,
                int(value.get("attempt", 1)) + 1,
            )
            if not claim_submission(services.store, job):
                print(f"{job_id} attempt {job.attempt} is already being retried", file=sys.stderr)
                continue
            services.jobs.submit(job)
            retried.append(job_id)
        drain = getattr(services.jobs, "drain", None)
        if drain is not None:
            drain(args.wait)
        failed = 0
        for job_id in retried:
            after = services.store.get(keys.job(job_id)) or {}
            failed += after.get("status") == "failed"
            print(_line(job_id, after, time.time()))
        return 1 if failed or missing else 0
    finally:
        services.close(timeout=args.wait)
