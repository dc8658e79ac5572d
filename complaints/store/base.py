"""The store interface, shaped for a key-value backend (DynamoDB): key lookups, conditional writes,
one secondary index (allocations by queue), no joins. Every backend passes ``tests/store_contract.py``.

What is common to every backend is written here once: how a record becomes the JSON body a backend stores
beside its key columns (:func:`encode`) and back (:func:`decode`), and the strategy's revision check
(:meth:`TriageStore.put_strategy`). A backend stores and finds bodies by key.

Every write is safe to replay (a retried Lambda, a re-run batch): written twice, a record is stored once and
no error is raised. Write-once tables keep the first record under a key and say whether this write stored it;
the others keep the last. A strategy write is conditional on the revision read, so replaying one that
succeeded raises :class:`StaleWriteError`, as any write from a stale read does.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, TypeVar

from complaints.records import (
    Allocation, AuditEvent, Feedback, GateDecision, ModelInfo, ModelStrategy, RejectedRow, ReleaseRecord,
    StoredComplaint, TriageBatch, as_dict, utc_now,
)

Record = TypeVar("Record")


class StaleWriteError(RuntimeError):
    """A conditional write lost a race: the record changed since it was read."""


def encode(record: Any) -> str:
    """The record as the JSON body every backend stores: exact floats, keys sorted, so equal records are equal text."""
    return json.dumps(as_dict(record), ensure_ascii=False, sort_keys=True)


def decode(kind: type[Record], body: str | None) -> Record | None:
    """The record a stored body holds, or None where nothing is stored."""
    if body is None:
        return None
    row = json.loads(body)
    return Allocation.from_dict(row) if kind is Allocation else kind(**row)


def decode_all(kind: type[Record], bodies: Iterable[str]) -> list[Record]:
    return [decode(kind, body) for body in bodies]


class TriageStore(ABC):
    # raw_complaints: written once per complaint id
    @abstractmethod
    def put_complaint(self, complaint: StoredComplaint) -> bool:
        """Store the complaint unless its id exists; True when written, False when the id was stored."""

    @abstractmethod
    def get_complaint(self, complaint_id: str) -> StoredComplaint | None: ...

    # complaints_allocation: written once per complaint id, listed by queue
    @abstractmethod
    def put_allocation(self, allocation: Allocation) -> bool:
        """Store the allocation unless the complaint already has one; True when written."""

    @abstractmethod
    def get_allocation(self, complaint_id: str) -> Allocation | None: ...

    @abstractmethod
    def list_queue(self, queue: str, limit: int = 100) -> list[Allocation]:
        """The newest allocations in a queue."""

    # model_info: immutable per (task, version)
    @abstractmethod
    def put_model_info(self, info: ModelInfo) -> bool:
        """Record a registered version unless already recorded; True when written."""

    @abstractmethod
    def get_model_info(self, task: str, version: str) -> ModelInfo | None: ...

    # model_strategy: one per task, guarded by its revision
    @abstractmethod
    def get_strategy(self, task: str) -> ModelStrategy | None: ...

    def put_strategy(self, strategy: ModelStrategy) -> ModelStrategy:
        """Write ``strategy`` if the stored revision still equals ``strategy.revision`` (or none is
        stored and it is 0); returns it with the revision bumped, else raises StaleWriteError."""
        written = replace(strategy, revision=strategy.revision + 1, updated_at=utc_now())
        if not self._write_strategy(written, strategy.revision):
            raise StaleWriteError(f"model_strategy for task {strategy.task!r} changed since revision {strategy.revision}")
        return written

    @abstractmethod
    def _write_strategy(self, written: ModelStrategy, read_revision: int) -> bool:
        """Store ``written`` only if the stored revision is ``read_revision`` (0: only if none is stored);
        True when written. The one conditional write each backend supplies for :meth:`put_strategy`."""

    # feedback: append-only, one correction per (complaint_id, at, task)
    @abstractmethod
    def add_feedback(self, feedback: Feedback) -> bool:
        """Append the correction unless one with its (complaint_id, at, task) exists; True when written,
        False when that key was stored (a replay), which keeps the first."""

    @abstractmethod
    def list_feedback(self, complaint_id: str | None = None) -> list[Feedback]: ...

    # rejected_rows: per batch and row number; a later write under a key replaces the row
    @abstractmethod
    def put_rejection(self, rejection: RejectedRow) -> None: ...

    @abstractmethod
    def list_rejections(self, batch_id: str) -> list[RejectedRow]: ...

    # triage_batches: one per batch id, for auditors; a later write under an id replaces the batch
    @abstractmethod
    def put_batch(self, batch: TriageBatch) -> None: ...

    @abstractmethod
    def get_batch(self, batch_id: str) -> TriageBatch | None: ...

    # audit_log: append-only history for auditors, written once per event id
    @abstractmethod
    def append_audit(self, event: AuditEvent) -> bool:
        """Append the event unless its event_id exists; True when written, False when the id was stored
        (a replay), which keeps the first."""

    @abstractmethod
    def list_audit(self, limit: int = 100) -> list[AuditEvent]:
        """The newest events first."""

    # gate_decisions: the gate's verdict, written once per (task, challenger, champion)
    @abstractmethod
    def put_gate_decision(self, decision: GateDecision) -> bool:
        """Record the verdict unless one on its (task, challenger, champion) exists; True when written, False
        when that key was stored (a replay), which keeps the first."""

    @abstractmethod
    def list_gate_decisions(self, task: str, challenger: str | None = None) -> list[GateDecision]:
        """The task's verdicts (only those on ``challenger`` where given), newest first."""

    # releases: one per application of a release manifest to an environment, written once
    @abstractmethod
    def put_release(self, record: ReleaseRecord) -> bool:
        """Record the application unless its (environment, applied_at, release_id) exists; True when written,
        False when that key was stored (a replay), which keeps the first."""

    @abstractmethod
    def list_releases(self, environment: str, limit: int = 100) -> list[ReleaseRecord]:
        """The environment's newest applications first."""
