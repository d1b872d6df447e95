"""Store backends under test, described so that any process can open the same store.

A `StoreSpec` is plain data: the cross-process tests send it to workers, which
open their own connection to the same database, exactly as two uvicorn workers
or two Lambda containers would.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orchestrator.store.base import Clock, Store, now


@dataclass(frozen=True)
class StoreSpec:
    backend: str
    location: str

    def open(self, clock: Clock = now) -> Store:
        if self.backend == "sqlite":
            from orchestrator.store.sqlite import SQLiteStore

            return SQLiteStore(Path(self.location), clock=clock)
        if self.backend == "dynamodb":
            from orchestrator.store.dynamodb import DynamoDBStore

            # "<endpoint URL>/<table>": table names cannot contain a slash. Credentials and
            # region come from the environment, which spawned workers inherit.
            endpoint, _, table = self.location.rpartition("/")
            return DynamoDBStore(table, endpoint_url=endpoint, clock=clock)
        raise ValueError(self.backend)
