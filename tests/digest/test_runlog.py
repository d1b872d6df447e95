"""The deploy-run log the digest reads: completed deploy runs GitHub reports, logged once."""

from __future__ import annotations

from orchestrator.digest.load import build, runs
from orchestrator.product import events as product_router
from orchestrator.store import keys
from orchestrator.webhooks.digest import record_deploy_run
from tests.support.world import World, completed_run, deliver


def test_completed_deploy_runs_are_logged_once_and_others_ignored(world: World) -> None:
    services, store = world.services, world.services.store
    assert record_deploy_run in product_router().handlers("workflow_run", "completed")
    deliver(services, completed_run(7, "success"))
    deliver(services, completed_run(7, "success"), delivery="redelivered")
    deliver(services, completed_run(8, "success", workflow="ci.yml"))
    other_repo = completed_run(9, "success")
    other_repo["repository"] = {"full_name": "acme/other"}
    deliver(services, other_repo)
    logged = store.query_prefix("runlog:web:", limit=10)
    assert [r.key for r in logged] == [keys.run("web", 1795924950.0, 7, 1)]
    assert logged[0].value["duration"] == 150.0 and logged[0].value["conclusion"] == "success"


def test_a_deploy_workflow_named_by_name_matches_too(world: World) -> None:
    world.config.write_text(
        world.config.read_text().replace('workflow = "deploy.yml"', 'workflow = "Client Deploy"')
    )
    deliver(world.services, completed_run(11, "cancelled", workflow="anything.yml"))
    [sample] = runs(world.services.store, "web", 1795910400.0, 1795996800.0)
    assert (sample.run_id, sample.conclusion, sample.duration_s) == (11, "cancelled", 150.0)
    digest = build(world.services, "daily", end=1795996800.0, apps=["web"])
    assert digest.deploys.count == 1 and digest.deploys.success_rate is None
