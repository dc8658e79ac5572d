"""The store's tables, declared once: what a row (SQLite) and an item (DynamoDB) hold beside the record's JSON body.

The SQLite backend creates its tables from this declaration; the DynamoDB backend keys its items by it, and
Terraform (infra/modules/store) creates the DynamoDB tables, held to this declaration by tests/test_infra.py.

The two layouts differ only where DynamoDB's two key attributes are too few: a three-column SQLite key becomes a
partition key and one sort key joining the other two (``challenger#champion``), and an ordered listing becomes a
secondary index. Both layouts are declared here, side by side, so neither backend invents one. They are the
layout of stored data: changing a name or a key here means migrating SQLite files and replacing DynamoDB tables.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass


@dataclass(frozen=True)
class Index:
    """A secondary index: rows (items) by ``hash_key``, ordered by ``range_key``."""

    name: str
    hash_key: str
    range_key: str


@dataclass(frozen=True)
class Table:
    """A SQLite row is the ``key`` columns, the other ``columns`` (NOT NULL), then the JSON ``body``. A DynamoDB item
    is its key attributes (``hash_key``, ``range_key`` and its index's keys; the strategy's revision too), then the
    ``body``. Columns and attributes hold text, except those named in ``integers``."""

    name: str
    _: KW_ONLY
    key: tuple[str, ...]  # SQLite: the primary key
    columns: tuple[str, ...] = ()  # SQLite: what a listing orders on, or a conditional write compares
    row_index: Index | None = None  # SQLite
    hash_key: str  # DynamoDB: the partition key
    range_key: str | None = None  # DynamoDB: the sort key
    item_index: Index | None = None  # DynamoDB: a global secondary index, every attribute projected
    integers: tuple[str, ...] = ()

    def sql_type(self, column: str) -> str:
        return "INTEGER" if column in self.integers else "TEXT"

    def attribute_type(self, attribute: str) -> str:
        return "N" if attribute in self.integers else "S"


TABLES: dict[str, Table] = {table.name: table for table in (
    Table("raw_complaints", key=("complaint_id",), hash_key="complaint_id"),
    # The ops queues: ``queue`` is where the complaint stands now (corrections applied), ``revision`` its corrections.
    Table("complaints_allocation", key=("complaint_id",), columns=("queue", "allocated_at", "revision"),
          row_index=Index("allocation_by_queue", "queue", "allocated_at"),
          hash_key="complaint_id", item_index=Index("by_queue", "queue", "allocated_at"), integers=("revision",)),
    Table("allocation_history", key=("complaint_id", "allocated_at"),
          hash_key="complaint_id", range_key="allocated_at"),
    Table("model_info", key=("task", "version"), hash_key="task", range_key="version"),
    Table("model_strategy", key=("task",), columns=("revision",), hash_key="task", integers=("revision",)),
    Table("feedback", key=("complaint_id", "idempotency_key"), columns=("at", "analyst"),  # an analyst's, by time: quotas
          row_index=Index("feedback_by_analyst", "analyst", "at"),
          hash_key="complaint_id", range_key="idempotency_key", item_index=Index("by_analyst", "analyst", "at")),
    Table("rejected_rows", key=("batch_id", "row_number"), hash_key="batch_id", range_key="row_number",
          integers=("row_number",)),
    Table("triage_batches", key=("batch_id",), hash_key="batch_id"),
    Table("audit_log", key=("event_id",), columns=("at", "log"), row_index=Index("audit_by_log", "log", "at"),
          hash_key="event_id", item_index=Index("by_time", "log", "at_event")),  # two partitions: serving, audit
    Table("gate_decisions", key=("task", "challenger", "champion"), columns=("decided_at",),
          hash_key="task", range_key="challenger_champion"),
    Table("releases", key=("environment", "applied_at", "release_id"),
          hash_key="environment", range_key="applied_release"),
    Table("users", key=("name",), hash_key="username"),
    Table("explanations", key=("complaint_id", "task", "version"), hash_key="complaint_id", range_key="task_version"),
)}
