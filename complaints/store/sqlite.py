"""The embedded default store: one SQLite file, persistent across runs.

Each table keeps its key columns and the whole record as JSON, the same shape a DynamoDB item has,
so both backends read and write identical records.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

from complaints.records import (
    Allocation, AuditEvent, Feedback, ModelInfo, ModelStrategy, RejectedRow, StoredComplaint, TriageBatch, as_dict,
    utc_now,
)
from complaints.store.base import StaleWriteError, TriageStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS raw_complaints (complaint_id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS complaints_allocation (
    complaint_id TEXT PRIMARY KEY, queue TEXT NOT NULL, allocated_at TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS allocation_by_queue ON complaints_allocation (queue, allocated_at);
CREATE TABLE IF NOT EXISTS model_info (task TEXT, version TEXT, body TEXT NOT NULL, PRIMARY KEY (task, version));
CREATE TABLE IF NOT EXISTS model_strategy (task TEXT PRIMARY KEY, revision INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (complaint_id TEXT, at TEXT, task TEXT, body TEXT NOT NULL,
    PRIMARY KEY (complaint_id, at, task));
CREATE TABLE IF NOT EXISTS rejected_rows (batch_id TEXT, row_number INTEGER, body TEXT NOT NULL,
    PRIMARY KEY (batch_id, row_number));
CREATE TABLE IF NOT EXISTS triage_batches (batch_id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_log (event_id TEXT PRIMARY KEY, at TEXT NOT NULL, body TEXT NOT NULL);
"""


def _dump(record: Any) -> str:
    return json.dumps(as_dict(record), ensure_ascii=False, sort_keys=True)


class SQLiteStore(TriageStore):
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def _insert_new(self, sql: str, params: tuple) -> bool:
        return self._db.execute(sql, params).rowcount == 1

    def _one(self, sql: str, params: tuple) -> dict | None:
        row = self._db.execute(sql, params).fetchone()
        return json.loads(row[0]) if row else None

    def _all(self, sql: str, params: tuple = ()) -> list[dict]:
        return [json.loads(row[0]) for row in self._db.execute(sql, params)]

    def put_complaint(self, complaint: StoredComplaint) -> bool:
        return self._insert_new("INSERT OR IGNORE INTO raw_complaints VALUES (?, ?)",
                                (complaint.complaint_id, _dump(complaint)))

    def get_complaint(self, complaint_id: str) -> StoredComplaint | None:
        row = self._one("SELECT body FROM raw_complaints WHERE complaint_id = ?", (complaint_id,))
        return StoredComplaint(**row) if row else None

    def put_allocation(self, allocation: Allocation) -> bool:
        return self._insert_new("INSERT OR IGNORE INTO complaints_allocation VALUES (?, ?, ?, ?)",
                                (allocation.complaint_id, allocation.queue, allocation.allocated_at, _dump(allocation)))

    def get_allocation(self, complaint_id: str) -> Allocation | None:
        row = self._one("SELECT body FROM complaints_allocation WHERE complaint_id = ?", (complaint_id,))
        return Allocation.from_dict(row) if row else None

    def list_queue(self, queue: str, limit: int = 100) -> list[Allocation]:
        rows = self._all("SELECT body FROM complaints_allocation WHERE queue = ? "
                         "ORDER BY allocated_at DESC, complaint_id LIMIT ?", (queue, limit))
        return [Allocation.from_dict(row) for row in rows]

    def put_model_info(self, info: ModelInfo) -> bool:
        return self._insert_new("INSERT OR IGNORE INTO model_info VALUES (?, ?, ?)", (info.task, info.version, _dump(info)))

    def get_model_info(self, task: str, version: str) -> ModelInfo | None:
        row = self._one("SELECT body FROM model_info WHERE task = ? AND version = ?", (task, version))
        return ModelInfo(**row) if row else None

    def get_strategy(self, task: str) -> ModelStrategy | None:
        row = self._one("SELECT body FROM model_strategy WHERE task = ?", (task,))
        return ModelStrategy(**row) if row else None

    def put_strategy(self, strategy: ModelStrategy) -> ModelStrategy:
        written = replace(strategy, revision=strategy.revision + 1, updated_at=utc_now())
        if strategy.revision == 0:
            ok = self._insert_new("INSERT OR IGNORE INTO model_strategy VALUES (?, ?, ?)",
                                  (written.task, written.revision, _dump(written)))
        else:
            ok = self._db.execute("UPDATE model_strategy SET revision = ?, body = ? WHERE task = ? AND revision = ?",
                                  (written.revision, _dump(written), written.task, strategy.revision)).rowcount == 1
        if not ok:
            raise StaleWriteError(f"model_strategy for task {strategy.task!r} changed since revision {strategy.revision}")
        return written

    def add_feedback(self, feedback: Feedback) -> None:
        self._db.execute("INSERT INTO feedback VALUES (?, ?, ?, ?)",
                         (feedback.complaint_id, feedback.at, feedback.task, _dump(feedback)))

    def list_feedback(self, complaint_id: str | None = None) -> list[Feedback]:
        if complaint_id is None:
            rows = self._all("SELECT body FROM feedback ORDER BY at")
        else:
            rows = self._all("SELECT body FROM feedback WHERE complaint_id = ? ORDER BY at", (complaint_id,))
        return [Feedback(**row) for row in rows]

    def put_rejection(self, rejection: RejectedRow) -> None:
        self._db.execute("INSERT OR REPLACE INTO rejected_rows VALUES (?, ?, ?)",
                         (rejection.batch_id, rejection.row_number, _dump(rejection)))

    def list_rejections(self, batch_id: str) -> list[RejectedRow]:
        rows = self._all("SELECT body FROM rejected_rows WHERE batch_id = ? ORDER BY row_number", (batch_id,))
        return [RejectedRow(**row) for row in rows]

    def put_batch(self, batch: TriageBatch) -> None:
        self._db.execute("INSERT OR REPLACE INTO triage_batches VALUES (?, ?)", (batch.batch_id, _dump(batch)))

    def get_batch(self, batch_id: str) -> TriageBatch | None:
        row = self._one("SELECT body FROM triage_batches WHERE batch_id = ?", (batch_id,))
        return TriageBatch(**row) if row else None

    def append_audit(self, event: AuditEvent) -> None:
        self._db.execute("INSERT INTO audit_log VALUES (?, ?, ?)", (event.event_id, event.at, _dump(event)))

    def list_audit(self, limit: int = 100) -> list[AuditEvent]:
        return [AuditEvent(**row) for row in self._all("SELECT body FROM audit_log ORDER BY at DESC, event_id DESC LIMIT ?", (limit,))]
