"""Benchmarks: this app side by side with the floor and its PyPI peers, in one run.

    make bench                       # = .venv/bin/python -m bench --clean  (< 5 min, 2 cores)
    .venv/bin/python -m bench --only ping,coldstart
    .venv/bin/python -m bench.<section> [--reps N] [--quick] [--out FILE]

Sections (each a module, each runnable alone):

* `ping`        signed PINGs over HTTP (uvicorn, one worker, 127.0.0.1) against the floor
                (`peers/floor.py`), dispike and flask-discord-interactions; rejection costs
* `lambda_warm` `orchestrator.main.handler` vs bare FastAPI + Mangum, in-process
* `coldstart`   fresh `python3.12 -I -S -B` imports of the built artifacts (`artifacts.py`):
                a signed PING (ours vs bare), a deferred slash command whose job is
                self-invoked on Lambda (moto on 127.0.0.1), and `-X importtime` of our
                modules per front door (PING, deferred command, GitHub delivery)
* `deferred`    time to the type-5 answer for a 2 s and a 0.2 s job
* `deliveries`  signed `workflow_run` deliveries vs gidgethub; one 25 MB `push`
* `profiling`   cProfile of the signed-PING path, grouped by area

Shared pieces: `stats.py` (median/min/max, percentiles), `common.py` (paths, servers,
/proc), `payloads.py` (one keypair, signed requests), `loadgen.py` (the HTTP client),
`report.py` (docs/benchmarks.md from docs/benchmarks.json). Peers install from PyPI into
throwaway venvs under build/bench/venvs/, never into the project's .venv or lockfiles.
"""
