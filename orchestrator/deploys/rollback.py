"""After a failed verification: what to roll back to, and whether to do it unasked.

The tracked message of a deploy whose verification FAILS offers Roll back to the last SHA
verified live in that environment; with `auto_rollback = true` on the environment the bot
dispatches that rollback itself (`deploys.launch.finished`), once per failed run (a store
claim, `keys.auto_rollback`). A rollback is never rolled back, by the button or by itself:
when the old SHA fails too, a person decides what comes next.

Pure decisions over a `Tracked` and the verification history; the dispatch is
`deploys.launch.roll_back`, through the gate like every other deploy.
"""

from __future__ import annotations

from orchestrator.apps import App
from orchestrator.deploys.environments import Environment
from orchestrator.deploys.tracking import ROLLS_BACK, Tracked
from orchestrator.store.base import Store


def last_verified(store: Store, app: App, environment: str | None) -> str | None:
    """The SHA the last passing verification saw live in `environment` of `app`."""
    from orchestrator.deploys.state import environment_states

    if environment is None:
        return None
    for state in environment_states(store, app):
        if state.target.environment.name == environment:
            return state.live_sha
    return None


def target_sha(tracked: Tracked, verdict: str, live: str | None) -> str | None:
    """What the Roll back button of a verified run goes back to, or None for no button:
    only after a FAIL of a run that succeeded, only for what may be rolled back, only to
    another commit."""
    if verdict != "FAIL" or tracked.kind not in ROLLS_BACK or not live:
        return None
    if tracked.conclusion != "success":
        return None  # the run failed: it did not ship, what was live may well still be
    shipped = (tracked.deploy_sha or tracked.head_sha or "").lower()
    if shipped and (live.lower().startswith(shipped) or shipped.startswith(live.lower())):
        return None  # it is what failed: nothing to go back to
    return live


def auto_due(tracked: Tracked, environment: Environment) -> bool:
    """Should the bot roll `tracked` back by itself? Its environment says so and the
    message would offer Roll back (which never holds for a rollback)."""
    return environment.auto_rollback and tracked.offers_rollback
