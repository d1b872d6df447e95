"""`/uptime` through the real dispatcher: answered at once, from the stored probe states."""

from __future__ import annotations

import time
from typing import Any

from orchestrator.probes.run import commit, record_incident
from orchestrator.probes.state import SELF_APP, ProbeResult, Target
from orchestrator.services import Services
from tests.support.commands import Run

CONFIG = (
    '[[apps]]\nname = "web"\nrepo = "acme/web"\nworkflow = "deploy.yml"\n'
    'frontend_url = "https://web.example.com/"\napi_health_url = "https://api.example.com/h"\n'
    '[[apps]]\nname = "docs"\nrepo = "acme/docs"\nworkflow = "deploy.yml"\n'
)


def observe(services: Services, app: str, target: str, *results: ProbeResult) -> None:
    where = Target(app, target, f"https://{target}.example.com/")
    for result in results:
        change = commit(services.store, where, result)
        if change is not None:
            record_incident(services.store, where, change)


def fields(answer: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in answer["data"]["embeds"][0]["fields"]}


def test_uptime_shows_each_target_and_recent_incidents(services: Services, run: Run) -> None:
    services.settings.config_file.write_text(CONFIG)
    now = time.time()
    observe(
        services,
        "web",
        "frontend",
        ProbeResult(ok=True, at=now - 3600, status=200, ms=80),
        ProbeResult(ok=False, at=now - 1800, status=503, ms=20),
        ProbeResult(ok=True, at=now - 900, status=200, ms=95),
    )
    observe(
        services,
        "web",
        "api",
        ProbeResult(ok=True, at=now - 3600, status=200, ms=10),
        ProbeResult(ok=False, at=now - 600, error="connection failed"),
    )
    observe(services, SELF_APP, "self", ProbeResult(ok=True, at=now - 60, status=200, ms=4))

    answer = run("/uptime")
    assert answer["type"] == 4, "a store read: answered at once, not deferred"
    shown = fields(answer)
    web = shown["web"]
    assert f"✅ **frontend**: up since <t:{int(now - 900)}:R> · 95 ms" in web
    assert f"❌ **api**: down since <t:{int(now - 600)}:R> (connection failed)" in web
    assert "Recent incidents:" in web
    assert "· api · ongoing, 10 min so far · connection failed" in web
    assert "· frontend · lasted 15 min · HTTP 503" in web
    assert shown["docs"] == "not probed yet"
    assert "✅ **self**: up since" in shown["orchestrator (this service)"]
    assert answer["data"]["embeds"][0]["color"] == 0xCF222E, "something is down: red"


def test_uptime_for_one_app(services: Services, run: Run) -> None:
    services.settings.config_file.write_text(CONFIG)
    observe(services, "docs", "frontend", ProbeResult(ok=True, at=time.time(), status=200, ms=7))
    shown = fields(run("/uptime app:docs"))
    assert list(shown) == ["docs"] and "✅ **frontend**: up since" in shown["docs"]


def test_uptime_for_an_unknown_app_says_so(services: Services, run: Run) -> None:
    services.settings.config_file.write_text(CONFIG)
    answer = run("/uptime app:nope")
    assert answer["data"]["flags"] == 64 and "no app 'nope'" in answer["data"]["content"]
