"""Scheduled jobs: uptime probes and the digest, run at fixed slots.

A *slot* is one scheduled occurrence ("the daily digest of 2026-11-29"). Every slot
becomes a job with a deterministic id (`sched-digest.send-daily-2026-11-29`), so the
job runner's once-per-id claim makes two workers, a restart, or a duplicate
EventBridge delivery run it once. `timing` decides (pure), `local` is the in-process
scheduler, `aws` turns an EventBridge Scheduler event into the slot's job;
`orchestrator.tasks` holds the registered jobs themselves.
"""
