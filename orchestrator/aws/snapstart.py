"""Lambda SnapStart: make a container restored from a snapshot safe to serve.

With SnapStart on (the template's `SnapStart` parameter, see docs/deploy.md), Lambda runs
the initialisation (imports, secrets from SSM, settings, the app) once per published
version, snapshots the whole microVM, and starts every new container, possibly days
later and many at once, from that one snapshot. What the snapshot holds is then wrong in
three ways, and the hooks here put each right:

* Shared pseudo-randomness. `random`'s state is cloned into every container, so they
  would all draw the same numbers (botocore's retry jitter among them: clones would back
  off in lockstep). `after_restore` reseeds it from `os.urandom`. Our own tokens and
  ids come from `secrets`/`os.urandom`, which read the kernel on every call.
* Connections. A socket opened before the snapshot is dead after the restore (the peer
  never heard of this clone). Every client that pools connections is dropped, before
  the snapshot so none is in it, and again after the restore in case one was made since.
* Time-bound state. Credentials resolved before the snapshot belong to the container that
  initialised; a GitHub App installation token lasts an hour; the DynamoDB health check
  is remembered for a few seconds by the monotonic clock. The boto3 session is forgotten
  (`aws.clients.reset`, which keeps the parsed service models), so is botocore's credential
  provider behind our own AWS client (`aws.credentials.reset`; credentials from the
  environment are read on every request, never kept), and the app's `Services` drop their
  store (its DynamoDB client and connections), the dispatcher's Lambda client and the GitHub
  credential (`Services.reset_after_restore`, handed to `register` by `orchestrator.main`).

Kept on purpose, because it is what a snapshot is for: imported modules, settings and the
secrets read from SSM at initialisation (a rotated secret reaches the function with the
next published version, i.e. the next deploy), the shared TLS context (CA certificates
only: Python's client contexts cache no TLS sessions), the command tree and job registry.

`register` does nothing, and imports nothing, unless Lambda initialises this container
for a snapshot (`AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`), so a cold start without
SnapStart pays one environment lookup.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    Reset = Callable[[], None]
    Register = Callable[..., Any]

INITIALIZATION_TYPE = "AWS_LAMBDA_INITIALIZATION_TYPE"  # set by the Lambda runtime
SNAP_START = "snap-start"

log = logging.getLogger(__name__)

_lock = threading.Lock()
_resets: list[Reset] = []  # the app's own "drop your clients", run by both hooks
_hooked = False  # the hooks are registered with the runtime once per process


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether Lambda initialises this container to snapshot it (SnapStart on)."""
    env = os.environ if environ is None else environ
    return env.get(INITIALIZATION_TYPE) == SNAP_START


def before_snapshot() -> None:
    """Close what would not survive the snapshot: pooled connections, the boto3 session."""
    _drop_clients()


def after_restore() -> None:
    """Make this clone unique and let it reconnect: reseed `random`, drop every cached client
    and credential (each is rebuilt on first use)."""
    import random

    random.seed()  # from os.urandom: every clone draws its own numbers
    _drop_clients()


def _drop_clients() -> None:
    """Every reset runs even if one fails: a client that failed to close is still dropped,
    and the others must not stay behind because of it."""
    from orchestrator.aws import clients, credentials

    with _lock:
        resets = [clients.reset, credentials.reset, *_resets]
    for reset in resets:
        try:
            reset()
        except Exception:
            log.exception(
                "snapstart reset failed", extra={"reset": getattr(reset, "__qualname__", "?")}
            )


def register(
    *resets: Reset,
    environ: Mapping[str, str] | None = None,
    before: Register | None = None,
    after: Register | None = None,
) -> bool:
    """Under SnapStart, register `before_snapshot` and `after_restore` with the runtime
    (`snapshot_restore_py`) and add `resets`, callables that drop the app's own clients, to
    what both hooks run. Returns whether SnapStart is on.

    Without SnapStart it does nothing and imports nothing. The hooks are registered once per
    process however often this is called; `before` and `after` stand in for
    `snapshot_restore_py`'s registration functions in tests.
    """
    global _hooked
    if not enabled(environ):
        return False
    with _lock:
        _resets.extend(resets)
        if not _hooked:
            if before is None or after is None:
                from snapshot_restore_py import register_after_restore, register_before_snapshot

                before = before or register_before_snapshot
                after = after or register_after_restore
            before(before_snapshot)
            after(after_restore)
            _hooked = True
    return True


def clear() -> None:
    """Forget the resets and the registration (tests)."""
    global _hooked
    with _lock:
        _resets.clear()
        _hooked = False
