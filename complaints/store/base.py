"""The store interface, shaped for a key-value backend (DynamoDB): key lookups, conditional writes and
transactions, secondary indexes (complaints by the queue they stand in, corrections by analyst), no joins, and
no listing that reads a whole table but for a batch job's (every correction for training, the complaints with no
allocation for retriage). Every backend passes ``testing/store_contract.py``.

What is common to every backend is written here once: how a record becomes the JSON body a backend stores
beside its key columns (:func:`encode`) and back (:func:`decode`), and the strategy's revision check
(:meth:`TriageStore.put_strategy`). A backend stores and finds bodies by key.

Every write is safe to replay (a retried Lambda, a re-run batch): written twice, a record is stored once and
no error is raised. Write-once tables keep the first record under a key and say whether this write stored it;
a batch's record keeps every run of the batch (each later one appended, conditionally on the record read);
the others keep the last. A strategy write is conditional on the revision read, so replaying one that
succeeded raises :class:`StaleWriteError`, as any write from a stale read does.

Corrections and audit events are written by clients, who resend: each is stored once per idempotency key.
A resend of the same request under a stored key is a no-op that says so (False); another request under a
stored key is a conflict: it is kept whole in the audit log (one ``conflicting_resend`` event per distinct
resend) and :class:`IdempotencyConflict` is raised, so it is neither written over the first nor dropped.

An allocation is written once by triage; only a retriage replaces it, conditionally on the allocation it
read, and the one it replaces is kept in the complaint's allocation history. Its row also keeps where the
complaint stands now: a correction moves it, in the same transaction that appends the correction, conditionally
on the complaint's revision (how many corrections it has had), so two concurrent corrections cannot both build
on the same one.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, TypeVar

from complaints.records import (
    Allocation, ApiUser, AuditEvent, Explanation, Feedback, GateDecision, ModelInfo, ModelStrategy, Placement,
    RejectedRow, ReleaseRecord, StoredComplaint, TriageBatch, as_dict, request_of, utc_now,
)

Record = TypeVar("Record")
CONFLICTING_RESEND = "conflicting_resend"  # the audit action that keeps a resend its idempotency key refused


class StaleWriteError(RuntimeError):
    """A conditional write lost a race: the record changed since it was read."""


class StoreBusy(RuntimeError):
    """Another writer held the store for longer than a call waits: nothing was written; try again shortly."""


class StoreUnavailable(RuntimeError):
    """The store cannot be opened, or written, as it stands (read-only, not a database, out of reach): nothing
    was written. The message says why and names no record."""


class IdempotencyConflict(RuntimeError):
    """A write named a stored idempotency key with another request. The stored record stands; the resend is
    kept as the audit event ``kept_as``."""

    def __init__(self, message: str, kept_as: str):
        super().__init__(message)
        self.kept_as = kept_as


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
    # raw_complaints: written once per complaint id; written again only while it has no allocation
    @abstractmethod
    def put_complaint(self, complaint: StoredComplaint) -> bool:
        """Store the complaint unless its id exists; True when written, False when the id was stored."""

    @abstractmethod
    def replace_unallocated_complaint(self, complaint: StoredComplaint) -> bool:
        """Write the complaint over the one stored under its id while that one has no allocation (an unfinished
        write: its run stopped before allocating it), in one write. True when written; False when the stored
        one has an allocation (it stands) or none is stored."""

    @abstractmethod
    def get_complaint(self, complaint_id: str) -> StoredComplaint | None: ...

    @abstractmethod
    def list_unallocated(self) -> list[StoredComplaint]:
        """The complaints stored with no allocation (their run stopped before allocating them), by id. Reads
        every stored complaint's key: for retriage, never for a request."""

    # complaints_allocation: written once per complaint id, listed by the queue it stands in now; replaced only by a
    # retriage, moved only by a correction
    @abstractmethod
    def put_allocation(self, allocation: Allocation) -> bool:
        """Store the allocation, standing in its own queue at revision 0, unless the complaint already has one;
        True when written."""

    @abstractmethod
    def get_allocation(self, complaint_id: str) -> Allocation | None: ...

    @abstractmethod
    def get_placement(self, complaint_id: str) -> Placement | None:
        """The allocation with the queue it stands in now and its revision (read consistently: writes decide on it)."""

    @abstractmethod
    def list_queue(self, queue: str, limit: int | None = 100, since: str | None = None, offset: int = 0,
                   oldest_first: bool = False) -> list[Placement]:
        """The complaints standing in a queue now, newest allocated first (or oldest), from ``offset``: ``limit`` of
        them (all with None), only those allocated at or after ``since`` where given. Reads what it returns (and
        the ``offset`` it skips), never the rest of the table."""

    @abstractmethod
    def count_queue(self, queue: str) -> int:
        """How many complaints stand in a queue now."""

    def supersede_allocation(self, allocation: Allocation, read: Allocation) -> bool:
        """Replace ``read``, the complaint's allocation as read, with ``allocation`` and keep ``read`` in the
        complaint's allocation history, in one write, only while ``read`` is still the stored allocation
        (compared on its ``allocated_at``) and no analyst has corrected it. True when written; False when the
        stored allocation changed since it was read, was corrected, or this replacement already happened (a
        replay): nothing is written."""
        if allocation.complaint_id != read.complaint_id or allocation.allocated_at <= read.allocated_at:
            raise ValueError(f"an allocation of complaint {read.complaint_id!r} can only be superseded by a later "
                             f"allocation of the same complaint")
        return self._swap_allocation(allocation, read)

    @abstractmethod
    def _swap_allocation(self, allocation: Allocation, read: Allocation) -> bool:
        """The one atomic conditional write each backend supplies for :meth:`supersede_allocation`."""

    # allocation_history: every allocation a retriage replaced, per complaint, kept whole
    @abstractmethod
    def list_allocation_history(self, complaint_id: str) -> list[Allocation]:
        """The complaint's replaced allocations, oldest first (its current one is :meth:`get_allocation`)."""

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

    # feedback: append-only, one correction per (complaint_id, idempotency_key), each moving its complaint
    def add_correction(self, feedback: Feedback, queue: str) -> bool:
        """Append the correction under its idempotency key and stand its complaint in ``queue`` at the correction's
        revision, in one write, only while the complaint is still at the revision before it. True when written;
        False when the key holds the same request (a replay); IdempotencyConflict when it holds another;
        StaleWriteError when another correction came first. Nothing is written unless True."""
        if not feedback.idempotency_key:
            raise ValueError("a correction needs an idempotency key")
        if feedback.revision < 1:
            raise ValueError("a correction needs the revision it makes (1 for a complaint's first)")
        written = self._append_correction(feedback, queue)
        if written is None:
            return self._feedback_replayed(feedback)
        if not written:
            raise StaleWriteError("the complaint was corrected since it was read; read it again")
        return True

    def import_feedback(self, feedback: Feedback) -> bool:
        """Store a correction as another store holds it (the retrain's export of an environment's corrections), moving
        nothing; True when written, False when its key holds the same request, IdempotencyConflict when another."""
        if not feedback.idempotency_key:
            raise ValueError("a correction needs an idempotency key")
        return self._insert_feedback(feedback) or self._feedback_replayed(feedback)

    def _feedback_replayed(self, feedback: Feedback) -> bool:
        return self._replayed(self._get_feedback(feedback.complaint_id, feedback.idempotency_key), feedback,
                              f"feedback {feedback.complaint_id}/{feedback.idempotency_key}", feedback.analyst)

    @abstractmethod
    def _insert_feedback(self, feedback: Feedback) -> bool:
        """Store the correction unless its (complaint_id, idempotency_key) is stored; True when written."""

    @abstractmethod
    def _append_correction(self, feedback: Feedback, queue: str) -> bool | None:
        """The one atomic write each backend supplies for :meth:`add_correction`: store the correction and move the
        complaint's row (queue, revision) unless its key is stored (None, checked first: a replay wins over a
        revision its own write moved), or the row's revision is not ``feedback.revision - 1`` (False)."""

    @abstractmethod
    def _get_feedback(self, complaint_id: str, idempotency_key: str) -> Feedback | None: ...

    @abstractmethod
    def list_feedback(self, complaint_id: str | None = None) -> list[Feedback]:
        """A complaint's corrections, oldest first; with None every correction (the whole table: for training and
        the gate, never for a request)."""

    @abstractmethod
    def count_corrections(self, analyst: str, since: str) -> int:
        """How many corrections ``analyst`` made at or after ``since`` (reads those, never the rest)."""

    # rejected_rows: per batch and row number; a later write under a key replaces the row
    @abstractmethod
    def put_rejection(self, rejection: RejectedRow) -> None: ...

    @abstractmethod
    def list_rejections(self, batch_id: str) -> list[RejectedRow]: ...

    # triage_batches: one per batch id, for auditors, holding every run of the batch; none is written over
    def put_batch(self, batch: TriageBatch) -> bool:
        """Record a run of the batch: the first as the batch's record, each later one (another ``started_at``)
        appended to its ``reruns``, conditionally on the record read. True when written; False when this run is
        recorded already (a replay), which keeps the first write of it."""
        while True:
            stored = self.get_batch(batch.batch_id)
            if stored is None:
                written = batch
            elif batch.started_at in {stored.started_at, *(run["started_at"] for run in stored.reruns)}:
                return False
            else:
                written = replace(stored, reruns=[*stored.reruns, batch.run()])
            if self._write_batch(written, stored):
                return True

    @abstractmethod
    def _write_batch(self, written: TriageBatch, read: TriageBatch | None) -> bool:
        """Store ``written`` only while the stored record is ``read`` (None: only while none is stored); True when
        written. The one conditional write each backend supplies for :meth:`put_batch`."""

    @abstractmethod
    def get_batch(self, batch_id: str) -> TriageBatch | None: ...

    # audit_log: append-only history for auditors, written once per event id (its idempotency key)
    def append_audit(self, event: AuditEvent) -> bool:
        """Append the event; True when written, False when its id holds the same request (a replay);
        IdempotencyConflict when it holds another."""
        if self._insert_audit(event):
            return True
        return self._replayed(self._get_audit(event.event_id), event, f"audit event {event.event_id}", event.actor)

    @abstractmethod
    def _insert_audit(self, event: AuditEvent) -> bool:
        """Store the event unless its event_id is stored; True when written."""

    @abstractmethod
    def _get_audit(self, event_id: str) -> AuditEvent | None: ...

    @abstractmethod
    def list_audit(self, limit: int = 100, serving_only: bool = False) -> list[AuditEvent]:
        """The newest events first; with ``serving_only`` only the changes of what serves (``AuditEvent.log``),
        read apart from the rest."""

    def _replayed(self, stored: Feedback | AuditEvent | None, resent: Feedback | AuditEvent, what: str,
                  actor: str) -> bool:
        """False when ``resent`` repeats the request stored under its key; otherwise keep it and raise."""
        request = json.dumps([what, request_of(resent)], ensure_ascii=False, sort_keys=True)
        if stored is not None and json.loads(request)[1] == request_of(stored):  # compared as stored: tuples as lists
            return False
        kept = AuditEvent(f"conflict-{hashlib.sha256(request.encode()).hexdigest()[:32]}", utc_now(), actor,
                          CONFLICTING_RESEND, what, {"stored": as_dict(stored) if stored else None,
                                                     "resent": as_dict(resent)})
        self._insert_audit(kept)  # a replay of the same conflicting resend finds it kept
        raise IdempotencyConflict(f"{what} is already stored with a different request; the resend is kept as "
                                  f"audit event {kept.event_id}", kept.event_id)

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

    # users: the ops API's users, one per name; a later write under a name replaces it (a new token)
    @abstractmethod
    def put_user(self, user: ApiUser) -> None: ...

    @abstractmethod
    def get_user(self, name: str) -> ApiUser | None: ...

    @abstractmethod
    def list_users(self) -> list[ApiUser]:
        """Every user, by name."""

    # explanations: written once per (complaint_id, task, version)
    @abstractmethod
    def put_explanation(self, explanation: Explanation) -> bool:
        """Record the explanation unless one of its (complaint_id, task, version) exists; True when written, False
        when that key was stored (a replay, or a concurrent request), which keeps the first."""

    @abstractmethod
    def get_explanation(self, complaint_id: str, task: str, version: str) -> Explanation | None: ...

    @abstractmethod
    def list_explanations(self, complaint_id: str) -> list[Explanation]:
        """The complaint's explanations, by task and version."""
