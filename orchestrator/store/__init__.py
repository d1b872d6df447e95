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
    Versioned,
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
    "Versioned",
    "open_store",
]


def open_store(settings: Settings) -> Store:
    """The configured backend. Imports lazily: the SQLite path never loads boto3.

    DynamoDB's region comes from `AWS_REGION` (set by Lambda) and its endpoint from
    boto3's own `AWS_ENDPOINT_URL_DYNAMODB` (DynamoDB Local, moto), so no setting here.
    """
    from orchestrator.config import StoreBackend

    if settings.store is StoreBackend.SQLITE:
        from orchestrator.store.sqlite import SQLiteStore

        return SQLiteStore(settings.sqlite_file)
    from orchestrator.store.dynamodb import DynamoDBStore

    return DynamoDBStore(settings.dynamodb_table)
