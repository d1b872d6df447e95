"""Section 4: time to the deferred (type 5) answer, through the Lambda handler.

A test `Bot` with two deferred commands (a 2 s job and a 0.2 s job) is handed to
`orchestrator.main.app` inside `Services(settings, bot=bot)`, as
tests/test_deferred_lambda.py does; follow-ups go to the local Discord stand-in. Each
invoke of `orchestrator.main.handler` is timed to its answer; then the job is awaited
(its follow-up edit reaching the stand-in) before the next one. If the answer waited for
the job, the 2 s command would answer ~10x slower than the 0.2 s one.

    python -m bench.deferred [--reps N] [--quick] [--out FILE]
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import common
from bench.payloads import APPLICATION_ID, dumps
from bench.stats import median, spread

REPS = 4
JOBS = {"slow": 2.0, "quick": 0.2}


def run(reps: int = REPS, quick: bool = False) -> dict[str, Any]:
    reps = 2 if quick else reps
    data_dir = Path(tempfile.mkdtemp(prefix="bench-deferred-"))
    os.environ.update(
        ORCHESTRATOR_ENV="test", ORCHESTRATOR_ENV_FILE="", ORCHESTRATOR_DATA_DIR=str(data_dir)
    )
    os.environ.pop("DISCORD_PUBLIC_KEY", None)  # the dev identity in data_dir signs and verifies
    import orchestrator.main
    from orchestrator.aws.events import LambdaContext, http_api_event, response_body
    from orchestrator.config import load_settings
    from orchestrator.devkeys import load_or_create_dev_identity
    from orchestrator.devtools.discord_standin import DiscordStandIn
    from orchestrator.discord.context import Context
    from orchestrator.discord.messages import Message
    from orchestrator.discord.tree import Bot
    from orchestrator.discord.verify import sign_request
    from orchestrator.services import Services

    finished: dict[str, float] = {}
    bot = Bot()

    def job(name: str, seconds: float) -> None:
        @bot.command(name, f"Takes {seconds} s", defer=True)
        async def handler(ctx: Context) -> Message:
            await asyncio.sleep(seconds)
            finished[ctx.interaction.token] = time.monotonic()
            return Message(content="done")

    for name, seconds in JOBS.items():
        job(name, seconds)

    def edited(token: str) -> Callable[[list[Any]], bool]:
        return lambda requests: any(token in r.path for r in requests)

    identity = load_or_create_dev_identity(data_dir)
    samples: dict[str, list[float]] = {name: [] for name in JOBS}
    job_seconds: dict[str, list[float]] = {name: [] for name in JOBS}
    with DiscordStandIn() as standin:
        settings = load_settings(ORCHESTRATOR_DATA_DIR=data_dir, DISCORD_API_BASE=standin.api_base)
        services = Services(settings, bot=bot)
        state = orchestrator.main.app.state
        original = state.services
        state.services = services
        try:
            for rep in range(reps + 1):  # the first round warms up and is not recorded
                for name in JOBS if rep % 2 == 0 else reversed(JOBS):
                    token = f"bench-{name}-{rep}"
                    body = dumps(
                        {
                            "type": 2,
                            "id": str(1_300_000_000_000_000_000 + len(finished) * 10 + rep),
                            "application_id": APPLICATION_ID,
                            "token": token,
                            "version": 1,
                            "channel_id": "2",
                            "user": {"id": "3", "username": "bench"},
                            "data": {"id": "4", "name": name, "type": 1},
                        }
                    )
                    stamp = str(int(time.time()))
                    headers = {
                        "content-type": "application/json",
                        "x-signature-ed25519": sign_request(
                            identity.discord_private_key, stamp, body
                        ),
                        "x-signature-timestamp": stamp,
                    }
                    event = http_api_event("POST", "/discord", headers=headers, body=body)
                    started = time.monotonic()
                    response = orchestrator.main.handler(event, LambdaContext())
                    answered = time.monotonic() - started
                    answer = json.loads(response_body(response))
                    if response["statusCode"] != 200 or answer != {"type": 5}:
                        raise RuntimeError(f"/{name} answered {response['statusCode']} {answer}")
                    if token in finished:
                        raise RuntimeError(f"/{name}: the answer waited for the job")
                    standin.wait_for(edited(token), timeout=JOBS[name] + 15)
                    if rep > 0:
                        samples[name].append(answered * 1000)
                        job_seconds[name].append(finished[token] - started)
        finally:
            state.services = original
            services.close()
    slow, fast = median(samples["slow"]), median(samples["quick"])
    return {
        "reps": reps,
        "jobs_seconds": JOBS,
        "ack_ms": {name: spread(values) for name, values in samples.items()},
        "job_done_after_s": {name: spread(values) for name, values in job_seconds.items()},
        "ack_difference_ms": slow - fast,
        "ack_ratio_slow_vs_quick": slow / fast if fast else None,
    }


def main(argv: Sequence[str] | None = None) -> int:
    return common.section_main("deferred", __doc__, run, REPS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
