"""After a failed verification: what to roll back to, and whether to do it unasked.

The tracked message of a deploy whose verification FAILS offers Roll back to the last SHA
verified live in that environment; with `auto_rollback = true` on the environment the bot
dispatches that rollback itself (`deploys.launch.finished`), once per failed run (a store
claim, `keys.auto_rollback`). A rollback is never rolled back, by the button or by itself:
when the old SHA fails too, a person decides what comes next.

A rollback is refused as superseded (`superseded`) when what it would undo is no longer
what runs: another SHA was verified live there since (a newer deploy passed). It is
checked when the rollback is asked for and again when a queued one is started (it goes to
the front of the queue), so an old message's Roll back never undoes a newer deploy.

Decisions over a `Tracked` and the verification history; the dispatch is
`deploys.launch.roll_back`, through the gate like every other deploy.
"""

from __future__ import annotations

from orchestrator.apps import App
from orchestrator.deploys.environments import Environment
from orchestrator.deploys.tracking import ROLLS_BACK, Tracked
from orchestrator.github.events import short_sha
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


SUPERSEDED = "superseded:"  # how every `superseded` reason starts (a refusal for good)


def _same(a: str, b: str) -> bool:
    a, b = a.lower(), b.lower()
    return a.startswith(b) or b.startswith(a)


def superseded(store: Store, app: App, environment: str, to_sha: str) -> str | None:
    """Why a rollback of `environment` to `to_sha` must not go any more, or None. It was
    asked for after a FAIL, to the SHA then last verified live (`last_verified`); once
    another SHA was verified live there since (a newer deploy passed), rolling back would
    silently undo that deploy. (A newer deploy that failed verification too leaves `to_sha`
    the last good one: the rollback still goes there.)"""
    live = last_verified(store, app, environment)
    if live and not _same(live, to_sha):
        return (
            f"{SUPERSEDED} `{short_sha(live)}` was verified live there since, "
            "and rolling back would undo it"
        )
    return None
