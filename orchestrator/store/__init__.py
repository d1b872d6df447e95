"""Storage seam: `Store` is the interface, one module per backend, `open_store` picks one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.store.base import (
    InvalidKey,
    JSONObject,
    Record,
    Store,
    StoreError,
    StoreUnavailable,
)

if TYPE_CHECKING:
    from orchestrator.config import Settings

__all__ = [
    "InvalidKey",
    "JSONObject",
    "Record",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "open_store",
]


def open_store(settings: Settings) -> Store:
    """The configured backend. Imports lazily: the SQLite path never loads boto3."""
    from orchestrator.config import StoreBackend

    if settings.store is StoreBackend.SQLITE:
        from orchestrator.store.sqlite import SQLiteStore

        return SQLiteStore(settings.sqlite_file)
    raise NotImplementedError(
        f"store backend {settings.store.value!r} is not available yet; "
        "use ORCHESTRATOR_STORE=sqlite"
    )
