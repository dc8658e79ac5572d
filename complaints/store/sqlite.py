"""The embedded default store: one SQLite file, persistent across runs.

Each table keeps its key columns and the whole record as JSON, the same shape a DynamoDB item has,
so both backends read and write identical records. The tables are created from their declaration
(complaints/store/tables.py); a row's values are its declared columns in order, then the body.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from complaints.records import (
    SERVING_ACTIONS, Allocation, ApiUser, AuditEvent, Explanation, Feedback, GateDecision, ModelInfo, ModelStrategy,
    Placement, RejectedRow, ReleaseRecord, StoredComplaint, TriageBatch,
)
from complaints.store.base import StoreBusy, StoreUnavailable, TriageStore, decode, decode_all, encode
from complaints.store.tables import TABLES, Table


def _create_statements(table: Table) -> str:
    """The table's CREATE TABLE (and CREATE INDEX) statements, from its declaration."""
    columns = [f"{column} {table.sql_type(column)}" for column in table.key]
    columns += [f"{column} {table.sql_type(column)} NOT NULL" for column in (*table.columns, "body")]
    columns.append(f"PRIMARY KEY ({', '.join(table.key)})")
    statements = [f"CREATE TABLE IF NOT EXISTS {table.name} ({', '.join(columns)});"]
    if index := table.row_index:
        statements.append(f"CREATE INDEX IF NOT EXISTS {index.name} ON {table.name} "
                          f"({index.hash_key}, {index.range_key});")
    return "\n".join(statements)


_SCHEMA = "\n".join(_create_statements(table) for table in TABLES.values())


def _rebuilt(table: str, select: str) -> str:
    """A file written before ``table`` had its declared columns: the table made again as declared, its rows
    carried over by ``select`` (from ``old``), in one transaction."""
    return f"""
BEGIN IMMEDIATE;
ALTER TABLE {table} RENAME TO old;
{"".join(f"DROP INDEX IF EXISTS {index.name};" for index in [TABLES[table].row_index] if index)}
{_create_statements(TABLES[table])}
INSERT INTO {table} {select};
DROP TABLE old;
COMMIT;
"""


# Each: (table, a column it lacks in an older file, how its rows carry over). Corrections first had no idempotency
# key (each keeps its old key, "<at>#<task>"), then no analyst column. Allocations had no revision: each gets its
# corrections' count, and stays listed in the queue the models chose until its next correction moves it (where a
# corrected complaint stands is a domain rule, complaints.queues, which the store does not hold).
_MIGRATIONS = (
    ("feedback", "idempotency_key", "SELECT complaint_id, at || '#' || task, at, json_extract(body, '$.analyst'), "
                                    "json_set(body, '$.idempotency_key', at || '#' || task) FROM old"),
    ("feedback", "analyst", "SELECT complaint_id, idempotency_key, at, json_extract(body, '$.analyst'), body FROM old"),
    ("audit_log", "log", "SELECT event_id, at, CASE WHEN json_extract(body, '$.action') IN "
                         f"{SERVING_ACTIONS} THEN 'serving' ELSE 'audit' END, body FROM old"),
    ("complaints_allocation", "revision", "SELECT complaint_id, queue, allocated_at, (SELECT COUNT(*) FROM feedback "
                                          "WHERE feedback.complaint_id = old.complaint_id), body FROM old"),
)


def _placement(row: tuple[str, int, str]) -> Placement:
    queue, revision, body = row
    return Placement(decode(Allocation, body), queue, revision)


def owner_only(path: Path) -> None:
    """Take group and other permissions off a file or folder this user owns, never giving any: one its owner made
    read-only stays so, and one another user owns is theirs to restrict."""
    status = path.stat()
    if status.st_uid == os.getuid() and status.st_mode & 0o077:
        path.chmod(status.st_mode & 0o700)


def _fault(error: sqlite3.OperationalError) -> RuntimeError | None:
    """The store's own error for a fault callers can answer as such, or None."""
    if "locked" in str(error) or "busy" in str(error):  # another writer held the file past the busy timeout
        return StoreBusy("the store is busy with another writer; try again shortly")
    if error.sqlite_errorname == "SQLITE_READONLY":
        return StoreUnavailable("the store is read-only: it opens for reading, not writing; nothing was written")
    if error.sqlite_errorname.startswith("SQLITE_READONLY"):
        return StoreUnavailable(f"the store cannot be opened: SQLite cannot write its WAL index beside it, even to "
                                f"read it ({error.sqlite_errorname}: its folder is read-only); nothing was written")
    return None


class _Connection(sqlite3.Connection):
    """A connection whose faults callers can answer are the store's own errors: :class:`StoreBusy` (the ops API:
    503 with Retry-After) and :class:`StoreUnavailable` (a read-only store written to)."""

    def execute(self, *args: Any) -> sqlite3.Cursor:
        try:
            return super().execute(*args)
        except sqlite3.OperationalError as error:
            if fault := _fault(error):
                raise fault from error
            raise


class SQLiteStore(TriageStore):
    """One connection per thread: a request waiting for the write lock holds up no other thread's reads (WAL lets
    readers go on beside a writer). A file nobody may write (its owner made it read-only), or this user may not,
    is opened read-only: it is read, and a write is refused (:class:`StoreUnavailable`)."""

    def __init__(self, path: str | Path, busy_timeout_ms: int = 10_000):
        self.path = Path(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._local, self._connections, self._lock = threading.local(), [], threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                self.path.touch(mode=0o600)  # owner-only before SQLite writes into it
            owner_only(self.path)
            self._read_only = not (self.path.stat().st_mode & 0o222 and os.access(self.path, os.W_OK))
            self._db.execute("PRAGMA journal_mode=WAL")
            for table, column, select in _MIGRATIONS:
                columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}  # none: a new file
                if columns and column not in columns:
                    self._db.executescript(_rebuilt(table, select))
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.DatabaseError) as error:  # nothing was written: its folder, file or format
            reason = getattr(error, "strerror", None) or error
            raise StoreUnavailable(f"the store {self.path} cannot be opened: {reason}") from error

    @property
    def _db(self) -> sqlite3.Connection:
        """This thread's connection, opened on its first call."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            target = f"{self.path.resolve().as_uri()}?mode=ro" if self._read_only else str(self.path)
            connection = sqlite3.connect(target, isolation_level=None, check_same_thread=False, factory=_Connection,
                                         uri=self._read_only)
            connection.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def close(self) -> None:
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()

    # -- row plumbing: every row is its key columns plus the record's JSON body, last
    def _insert(self, table: str, record: Any, *keys: Any, replace: bool = False) -> bool:
        """Insert a row unless its key is stored (or over it, with ``replace``); True when written."""
        values = (*keys, encode(record))
        sql = f"INSERT OR {'REPLACE' if replace else 'IGNORE'} INTO {table} VALUES ({', '.join('?' * len(values))})"
        return self._db.execute(sql, values).rowcount == 1

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (BEGIN IMMEDIATE); rolled back on any error."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _one(self, sql: str, *params: Any) -> str | None:
        row = self._db.execute(sql, params).fetchone()
        return row[0] if row else None

    def _all(self, sql: str, *params: Any) -> list[str]:
        return [row[0] for row in self._db.execute(sql, params)]

    # -- the store interface
    def put_complaint(self, complaint: StoredComplaint) -> bool:
        return self._insert("raw_complaints", complaint, complaint.complaint_id)

    def get_complaint(self, complaint_id: str) -> StoredComplaint | None:
        return decode(StoredComplaint, self._one("SELECT body FROM raw_complaints WHERE complaint_id = ?", complaint_id))

    def list_unallocated(self) -> list[StoredComplaint]:
        return decode_all(StoredComplaint, self._all(
            "SELECT body FROM raw_complaints WHERE complaint_id NOT IN "
            "(SELECT complaint_id FROM complaints_allocation) ORDER BY complaint_id"))

    def replace_unallocated_complaint(self, complaint: StoredComplaint) -> bool:
        return self._db.execute(
            "UPDATE raw_complaints SET body = ?2 WHERE complaint_id = ?1 AND NOT EXISTS "
            "(SELECT 1 FROM complaints_allocation WHERE complaint_id = ?1)",
            (complaint.complaint_id, encode(complaint))).rowcount == 1

    def put_allocation(self, allocation: Allocation) -> bool:
        return self._insert("complaints_allocation", allocation, allocation.complaint_id, allocation.queue,
                            allocation.allocated_at, 0)

    def get_allocation(self, complaint_id: str) -> Allocation | None:
        return decode(Allocation, self._one("SELECT body FROM complaints_allocation WHERE complaint_id = ?", complaint_id))

    def get_placement(self, complaint_id: str) -> Placement | None:
        row = self._db.execute("SELECT queue, revision, body FROM complaints_allocation WHERE complaint_id = ?",
                               (complaint_id,)).fetchone()
        return _placement(row) if row else None

    def list_queue(self, queue: str, limit: int | None = 100, since: str | None = None, offset: int = 0,
                   oldest_first: bool = False) -> list[Placement]:
        order = "ASC" if oldest_first else "DESC"
        rows = self._db.execute(
            f"SELECT queue, revision, body FROM complaints_allocation WHERE queue = ? AND allocated_at >= ? "
            f"ORDER BY allocated_at {order}, complaint_id {order} LIMIT ? OFFSET ?",
            (queue, since or "", -1 if limit is None else limit, offset))
        return [_placement(row) for row in rows]

    def count_queue(self, queue: str) -> int:
        return self._db.execute("SELECT COUNT(*) FROM complaints_allocation WHERE queue = ?", (queue,)).fetchone()[0]

    def _swap_allocation(self, allocation: Allocation, read: Allocation) -> bool:
        with self._transaction() as db:
            swapped = db.execute(
                "UPDATE complaints_allocation SET queue = ?, allocated_at = ?, body = ? "
                "WHERE complaint_id = ? AND allocated_at = ? AND revision = 0",
                (allocation.queue, allocation.allocated_at, encode(allocation), read.complaint_id,
                 read.allocated_at)).rowcount == 1
            if swapped:
                self._insert("allocation_history", read, read.complaint_id, read.allocated_at)
        return swapped

    def list_allocation_history(self, complaint_id: str) -> list[Allocation]:
        return decode_all(Allocation, self._all("SELECT body FROM allocation_history WHERE complaint_id = ? "
                                                "ORDER BY allocated_at", complaint_id))

    def put_model_info(self, info: ModelInfo) -> bool:
        return self._insert("model_info", info, info.task, info.version)

    def get_model_info(self, task: str, version: str) -> ModelInfo | None:
        return decode(ModelInfo, self._one("SELECT body FROM model_info WHERE task = ? AND version = ?", task, version))

    def get_strategy(self, task: str) -> ModelStrategy | None:
        return decode(ModelStrategy, self._one("SELECT body FROM model_strategy WHERE task = ?", task))

    def _write_strategy(self, written: ModelStrategy, read_revision: int) -> bool:
        if read_revision == 0:
            return self._insert("model_strategy", written, written.task, written.revision)
        return self._db.execute("UPDATE model_strategy SET revision = ?, body = ? WHERE task = ? AND revision = ?",
                                (written.revision, encode(written), written.task, read_revision)).rowcount == 1

    def _insert_feedback(self, feedback: Feedback) -> bool:
        return self._insert("feedback", feedback, feedback.complaint_id, feedback.idempotency_key, feedback.at,
                            feedback.analyst)

    def _append_correction(self, feedback: Feedback, queue: str) -> bool | None:
        with self._transaction() as db:  # the write lock is held from the first read: check, then write
            if self._get_feedback(feedback.complaint_id, feedback.idempotency_key) is not None:
                return None
            if db.execute("UPDATE complaints_allocation SET queue = ?, revision = ? WHERE complaint_id = ? "
                          "AND revision = ?", (queue, feedback.revision, feedback.complaint_id,
                                               feedback.revision - 1)).rowcount == 0:
                return False
            return self._insert_feedback(feedback)

    def _get_feedback(self, complaint_id: str, idempotency_key: str) -> Feedback | None:
        return decode(Feedback, self._one("SELECT body FROM feedback WHERE complaint_id = ? AND idempotency_key = ?",
                                          complaint_id, idempotency_key))

    def list_feedback(self, complaint_id: str | None = None) -> list[Feedback]:
        return decode_all(Feedback, self._all("SELECT body FROM feedback WHERE ?1 IS NULL OR complaint_id = ?1 "
                                              "ORDER BY at, complaint_id, idempotency_key", complaint_id))

    def count_corrections(self, analyst: str, since: str) -> int:
        return self._db.execute("SELECT COUNT(*) FROM feedback WHERE analyst = ? AND at >= ?",
                                (analyst, since)).fetchone()[0]

    def put_rejection(self, rejection: RejectedRow) -> None:
        self._insert("rejected_rows", rejection, rejection.batch_id, rejection.row_number, replace=True)

    def list_rejections(self, batch_id: str) -> list[RejectedRow]:
        return decode_all(RejectedRow, self._all("SELECT body FROM rejected_rows WHERE batch_id = ? ORDER BY row_number",
                                                 batch_id))

    def _write_batch(self, written: TriageBatch, read: TriageBatch | None) -> bool:
        with self._transaction():  # compared as decoded: a record stored before it had reruns holds no such key
            if self.get_batch(written.batch_id) != read:
                return False
            return self._insert("triage_batches", written, written.batch_id, replace=read is not None)

    def get_batch(self, batch_id: str) -> TriageBatch | None:
        return decode(TriageBatch, self._one("SELECT body FROM triage_batches WHERE batch_id = ?", batch_id))

    def _insert_audit(self, event: AuditEvent) -> bool:
        return self._insert("audit_log", event, event.event_id, event.at, event.log)

    def _get_audit(self, event_id: str) -> AuditEvent | None:
        return decode(AuditEvent, self._one("SELECT body FROM audit_log WHERE event_id = ?", event_id))

    def list_audit(self, limit: int = 100, serving_only: bool = False) -> list[AuditEvent]:
        return decode_all(AuditEvent, self._all("SELECT body FROM audit_log WHERE ?1 = 0 OR log = 'serving' "
                                                "ORDER BY at DESC, event_id DESC LIMIT ?2", serving_only, limit))

    def put_gate_decision(self, decision: GateDecision) -> bool:
        return self._insert("gate_decisions", decision, decision.task, decision.challenger, decision.champion,
                            decision.decided_at)

    def list_gate_decisions(self, task: str, challenger: str | None = None) -> list[GateDecision]:
        return decode_all(GateDecision, self._all(
            "SELECT body FROM gate_decisions WHERE task = ?1 AND (?2 IS NULL OR challenger = ?2) "
            "ORDER BY decided_at DESC, challenger DESC, champion DESC", task, challenger))

    def put_release(self, record: ReleaseRecord) -> bool:
        return self._insert("releases", record, record.environment, record.applied_at, record.release_id)

    def list_releases(self, environment: str, limit: int = 100) -> list[ReleaseRecord]:
        return decode_all(ReleaseRecord, self._all("SELECT body FROM releases WHERE environment = ? "
                                                   "ORDER BY applied_at DESC, release_id DESC LIMIT ?", environment, limit))

    def put_user(self, user: ApiUser) -> None:
        self._insert("users", user, user.name, replace=True)

    def get_user(self, name: str) -> ApiUser | None:
        return decode(ApiUser, self._one("SELECT body FROM users WHERE name = ?", name))

    def list_users(self) -> list[ApiUser]:
        return decode_all(ApiUser, self._all("SELECT body FROM users ORDER BY name"))

    def put_explanation(self, explanation: Explanation) -> bool:
        return self._insert("explanations", explanation, explanation.complaint_id, explanation.task, explanation.version)

    def get_explanation(self, complaint_id: str, task: str, version: str) -> Explanation | None:
        return decode(Explanation, self._one("SELECT body FROM explanations WHERE complaint_id = ? AND task = ? "
                                             "AND version = ?", complaint_id, task, version))

    def list_explanations(self, complaint_id: str) -> list[Explanation]:
        return decode_all(Explanation, self._all("SELECT body FROM explanations WHERE complaint_id = ? "
                                                 "ORDER BY task, version", complaint_id))
