"""The store interface, shaped for a key-value backend (DynamoDB): key lookups, conditional writes,
one secondary index (allocations by queue), no joins. Every backend passes ``tests/store_contract.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from complaints.records import (
    Allocation, AuditEvent, Feedback, ModelInfo, ModelStrategy, RejectedRow, StoredComplaint, TriageBatch,
)


class StaleWriteError(RuntimeError):
    """A conditional write lost a race: the record changed since it was read."""


class TriageStore(ABC):
    # raw_complaints: written once per complaint id
    @abstractmethod
    def put_complaint(self, complaint: StoredComplaint) -> bool:
        """Store the complaint unless its id exists; True when written."""

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

    @abstractmethod
    def put_strategy(self, strategy: ModelStrategy) -> ModelStrategy:
        """Write ``strategy`` if the stored revision still equals ``strategy.revision`` (or none is
        stored and it is 0); returns it with the revision bumped, else raises StaleWriteError."""

    # feedback: append-only
    @abstractmethod
    def add_feedback(self, feedback: Feedback) -> None: ...

    @abstractmethod
    def list_feedback(self, complaint_id: str | None = None) -> list[Feedback]: ...

    # rejected_rows: per batch and row number
    @abstractmethod
    def put_rejection(self, rejection: RejectedRow) -> None: ...

    @abstractmethod
    def list_rejections(self, batch_id: str) -> list[RejectedRow]: ...

    # triage_batches and audit_log: append-only history for auditors
    @abstractmethod
    def put_batch(self, batch: TriageBatch) -> None: ...

    @abstractmethod
    def get_batch(self, batch_id: str) -> TriageBatch | None: ...

    @abstractmethod
    def append_audit(self, event: AuditEvent) -> None: ...

    @abstractmethod
    def list_audit(self, limit: int = 100) -> list[AuditEvent]:
        """The newest events first."""
