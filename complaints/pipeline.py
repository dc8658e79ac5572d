"""The triage pipeline: validated batch in, one allocation per complaint out, each tied to its models.

For each complaint: skip it if it was already triaged (idempotent on complaint id), store it, pick each
task's model version from its strategy, predict, route, and store the allocation with every task's
version, strategy line, score and timestamp. A complaint stored with no allocation is an unfinished write
(its run stopped between the two), not a triaged one: a resend triages it, its content standing in place of
the stored copy. A model that fails sends its complaints to manual triage; it never drops them. A caller
that knows the models cannot run (a serverless triage call that failed past its retries) sends a whole batch
to manual triage with its reason, through the same routing and records.

Once the fault is fixed, ``retriage`` runs the models again on complaints a failure sent to manual triage
(never on those sent there for low confidence, nor on those an analyst corrected) and supersedes their
allocation, conditionally on the one it read; the first allocation stays in the complaint's history. It
finishes the unfinished writes too: complaints a stopped run stored and never allocated, which no resend came for.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tqdm import tqdm

from complaints.config import Settings
from complaints.deployment import Deployment
from complaints.intake import MAX_KEPT_RECORD_CHARS, IntakeBatch
from complaints.logs import log
from complaints.predictors import Predictor, load_predictor
from complaints.records import (
    ALLOCATED, MANUAL_TRIAGE, Allocation, Feedback, ModelStrategy, RejectedRow, StoredComplaint, TaskPrediction,
    TriageBatch, utc_now,
)
from complaints.customer_record import by_customer_record
from complaints.routing import route, smoke_tests_aside
from complaints.schema import Complaint, Rejection
from complaints.store import StoreBusy, TriageStore
from complaints.strategy import serving_plan, strategies
from complaints.tasks import TaskSpec
from complaints.thresholds import served_threshold

logger = logging.getLogger(__name__)


class BatchStopped(RuntimeError):
    """A batch or a retriage a busy store stopped part-way: what it wrote stands (complaints allocated, some maybe
    stored and not yet), and the same command again finishes it, reusing what was triaged."""


@dataclass
class BatchReport:
    batch_id: str
    source: str
    rows: int = 0
    allocated: int = 0
    manual_triage: int = 0
    rejected: int = 0
    reused: int = 0  # complaints already triaged by an earlier run, counted by their stored allocation
    by_queue: Counter[str] = field(default_factory=Counter)
    rejected_reasons: Counter[str] = field(default_factory=Counter)
    model_versions: dict[str, dict[str, Any]] = field(default_factory=dict)
    redactions: Counter[str] = field(default_factory=Counter)

    def count(self, allocation: Allocation) -> None:
        if allocation.status == ALLOCATED:
            self.allocated += 1
        else:
            self.manual_triage += 1
        self.by_queue[allocation.queue] += 1

    def add(self, chunk: "BatchReport") -> None:
        """Fold one chunk's report into its batch's. The batch names what served its first chunk; each
        allocation names the versions that decided it."""
        for name in ("rows", "allocated", "manual_triage", "rejected", "reused"):
            setattr(self, name, getattr(self, name) + getattr(chunk, name))
        for name in ("by_queue", "rejected_reasons", "redactions"):
            getattr(self, name).update(getattr(chunk, name))
        for task, served in chunk.model_versions.items():
            self.model_versions.setdefault(task, served)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "BatchReport":
        return cls(doc["batch_id"], doc["source"], rows=doc["rows"], allocated=doc["allocated"],
                   manual_triage=doc["manual_triage"], rejected=doc["rejected"], reused=doc["reused"],
                   by_queue=Counter(doc["by_queue"]), rejected_reasons=Counter(doc["rejected_reasons"]),
                   model_versions=doc["model_versions"], redactions=Counter(doc["redactions"]))

    def as_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows, "allocated": self.allocated, "manual_triage": self.manual_triage,
            "rejected": self.rejected, "by_queue": dict(self.by_queue.most_common()),
            "model_versions": self.model_versions, "reused": self.reused,
            "rejected_reasons": dict(self.rejected_reasons), "redactions": dict(self.redactions),
            "batch_id": self.batch_id, "source": self.source,
        }


@dataclass
class RetriageReport(BatchReport):
    """A retriage run: ``rows`` complaints examined (``unfinished`` of them stored with no allocation), each
    retriaged (allocated or, the models now answering, still in manual triage; an unfinished one as triage
    routes it) or skipped for the reason counted in ``skipped``."""

    dry_run: bool = False
    unfinished: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def as_json(self) -> dict[str, Any]:
        return {
            "examined": self.rows, "unfinished": self.unfinished, "retriaged": self.allocated + self.manual_triage,
            "allocated": self.allocated,
            "manual_triage": self.manual_triage, "skipped": sum(self.skipped.values()),
            "skipped_reasons": dict(self.skipped.most_common()), "by_queue": dict(self.by_queue.most_common()),
            "model_versions": self.model_versions, "batch_id": self.batch_id, "source": self.source,
            "dry_run": self.dry_run,
        }


def serving_versions(serving: dict[str, ModelStrategy]) -> dict[str, dict[str, Any]]:
    """What each task serves, as a run's report and batch record state it."""
    return {name: {k: v for k, v in (("mode", s.mode), ("champion", s.champion), ("challenger", s.challenger)) if v}
            for name, s in serving.items()}


def batch_identity(batch: IntakeBatch) -> str:
    """The batch's id: one submitted file's, from the hash of its bytes (``source_sha256``, which each of its
    chunks carries), on the embedded path and on AWS alike. It is known before the first row is read, and a
    retried or resent batch finds its own batch and rejection records instead of writing them again. Whoever
    triages a selection of a file hashes the selection into its ``source_sha256``."""
    return f"batch-{hashlib.sha256(batch.source_sha256.encode()).hexdigest()[:24]}"


def record_batch(store: TriageStore, report: BatchReport, source_sha256: str, started_at: str) -> None:
    """Record a triaged batch for auditors, once its every row has ended allocated, in manual triage or
    rejected: the counts must add up. A later run of the batch is kept beside the first, never over it."""
    assert report.allocated + report.manual_triage + report.rejected == report.rows, report.as_json()
    counts = {k: v for k, v in report.as_json().items() if k not in ("model_versions", "batch_id", "source")}
    store.put_batch(TriageBatch(report.batch_id, report.source, source_sha256, started_at, utc_now(), counts,
                                report.model_versions))
    log(logger, logging.INFO, "batch finished", **counts, batch_id=report.batch_id)


def _conflicting_resend(complaint: Complaint) -> Rejection:
    """A resend of a triaged id with other content, kept whole (redacted) under its own row: every one of them
    stays, and the stored complaint stands."""
    record = json.dumps({"date_received": complaint.date_received.isoformat(), "narrative": complaint.narrative,
                         "attributes": complaint.attributes}, ensure_ascii=False)
    return Rejection(complaint.row_number, "conflicting_resend", f"complaint id {complaint.complaint_id} is already "
                     f"triaged with different content; the stored complaint stands", complaint.complaint_id,
                     record[:MAX_KEPT_RECORD_CHARS], len(record))


def _as_read(stored: StoredComplaint) -> Complaint:
    """The stored (redacted) complaint as the models read it."""
    return Complaint(stored.complaint_id, date.fromisoformat(stored.date_received), stored.narrative,
                     stored.attributes)


def _why_not_retriaged(allocation: Allocation | None, corrections: list[Feedback]) -> str | None:
    """Why a complaint listed in manual triage is left as it is, or None when a failure put it there."""
    if allocation is None or allocation.queue != MANUAL_TRIAGE:
        return "no_longer_in_manual_triage"
    if corrections:
        return "corrected_by_analyst"  # a person decided; the models do not overrule them
    if not any(p.error for p in allocation.predictions.values()):
        return "low_confidence"  # manual triage by design, not by fault
    return None


class TriagePipeline:
    def __init__(self, deployment: Deployment):
        self.deployment = deployment
        self._predictors: dict[tuple[str, str], Predictor] = {}

    def triage(self, batch: IntakeBatch | Iterable[IntakeBatch], progress: bool = False,
               manual_triage_reason: str | None = None) -> BatchReport:
        """Triage a whole batch and record it: one IntakeBatch, or the chunks of one batch as intake streams them
        (``read_chunks``), each triaged and stored as it comes, so memory holds one chunk. With
        ``manual_triage_reason`` no model runs: each task is recorded as failed for that reason, so every new
        complaint lands in manual triage."""
        started = utc_now()
        chunks = iter([batch] if isinstance(batch, IntakeBatch) else batch)
        first = next(chunks)
        report = BatchReport(batch_identity(first), first.source)
        log(logger, logging.INFO, "batch started", batch_id=report.batch_id, source_sha256=first.source_sha256)
        with tqdm(desc="triage", unit="row", disable=not progress) as bar:
            for chunk in itertools.chain([first], chunks):
                try:
                    report.add(self.triage_chunk(chunk, manual_triage_reason))
                except StoreBusy as error:
                    raise BatchStopped(
                        f"the store is busy with another writer: batch {report.batch_id} stopped part-way, {report.rows} "
                        f"rows triaged and the next chunk in part; what was written stands: run the same command "
                        f"again to finish it (what was triaged is reused, nothing is triaged twice)") from error
                bar.update(chunk.rows)
        record_batch(self.deployment.store, report, first.source_sha256, started)
        return report

    def triage_chunk(self, chunk: IntakeBatch, manual_triage_reason: str | None = None) -> BatchReport:
        """Triage one chunk of a batch under the batch's id, and report it. The batch itself is recorded once,
        by whoever saw every chunk (:func:`record_batch`): :meth:`triage` here, the reconcile function on AWS,
        where each chunk is triaged in its own call."""
        store = self.deployment.store
        serving = strategies(self.deployment)
        report = BatchReport(batch_identity(chunk), chunk.source, rows=chunk.rows,
                             model_versions=serving_versions(serving), redactions=Counter(chunk.redactions))
        rejections = list(chunk.rejections)
        rejections += self._triage_complaints(chunk.complaints, serving, report, manual_triage_reason)
        for rejection in rejections:
            store.put_rejection(RejectedRow(batch_id=report.batch_id, **vars(rejection)))
            report.rejected_reasons[rejection.reason_code] += 1
        report.rejected += len(rejections)
        return report

    def _triage_complaints(self, complaints: list[Complaint], serving: dict[str, ModelStrategy],
                           report: BatchReport, manual_triage_reason: str | None) -> list[Rejection]:
        store = self.deployment.store
        rejections, todo = [], []
        for complaint in complaints:
            stored = store.get_complaint(complaint.complaint_id)
            existing = store.get_allocation(complaint.complaint_id) if stored is not None else None
            if existing is not None:
                if stored.content_hash != complaint.content_hash:
                    rejections.append(_conflicting_resend(complaint))
                else:
                    report.reused += 1
                    report.count(existing)
                continue
            record = StoredComplaint(complaint.complaint_id, complaint.date_received.isoformat(), complaint.narrative,
                                     complaint.attributes, complaint.content_hash, report.batch_id, utc_now())
            if stored is None:
                store.put_complaint(record)
            elif stored.content_hash != complaint.content_hash and not store.replace_unallocated_complaint(record):
                rejections.append(_conflicting_resend(complaint))  # allocated since it was read: that stands
                continue
            todo.append(complaint)
        predictions = self._predict(todo, serving, manual_triage_reason)
        for complaint in todo:
            allocation = self._allocation(complaint.complaint_id, predictions[complaint.complaint_id], serving,
                                          report)
            if not store.put_allocation(allocation):  # another worker allocated it first: theirs stands
                allocation = store.get_allocation(complaint.complaint_id)
                report.reused += 1
            report.count(allocation)
        return rejections

    def _allocation(self, complaint_id: str, predictions: dict[str, TaskPrediction],
                    serving: dict[str, ModelStrategy], report: BatchReport) -> Allocation:
        """Routed, and set aside where the batch is a smoke test's: the rule is the core's, the same on every path."""
        queue, status, reasons = smoke_tests_aside(report.source, complaint_id, route(
            self.deployment.tasks, predictions, self.deployment.operations.deferral))
        return Allocation(complaint_id=complaint_id, queue=queue, status=status, reasons=reasons,
                          predictions=predictions, model_versions={t: p.model_version for t, p in predictions.items()},
                          taxonomy_version=self.deployment.taxonomy.version, batch_id=report.batch_id,
                          allocated_at=utc_now())

    def retriage(self, batch_id: str | None = None, since: str | None = None, dry_run: bool = False
                 ) -> RetriageReport:
        """Run the models again on every complaint in manual triage because a task failed (of ``batch_id``,
        allocated at or after ``since``, where given), and supersede its allocation where every task now
        answers; and allocate every complaint stored with no allocation (stored by ``batch_id``, at or after
        ``since``). Safe to run again: a complaint it moved is no longer in manual triage for a failure, one it
        allocated is finished, and each write is conditional on the allocation read. ``dry_run`` runs the models
        and writes nothing."""
        store = self.deployment.store
        serving = strategies(self.deployment)
        started = utc_now()
        listed = [p.allocation for p in store.list_queue(MANUAL_TRIAGE, limit=None, since=since)
                  if batch_id is None or p.allocation.batch_id == batch_id]
        unfinished = [c for c in store.list_unallocated()
                      if (batch_id is None or c.batch_id == batch_id) and c.ingested_at >= (since or "")]
        digest = hashlib.sha256()
        for complaint_id, at in sorted([(a.complaint_id, a.allocated_at) for a in listed]
                                       + [(c.complaint_id, c.ingested_at) for c in unfinished]):
            digest.update(f"{complaint_id}@{at}\n".encode("utf-8", "surrogatepass"))
        scope = "".join(f", {k} {v}" for k, v in (("batch", batch_id), ("since", since)) if v)
        report = RetriageReport(f"retriage-{digest.hexdigest()[:24]}",
                                f"retriage of manual triage after failures and of unfinished writes{scope}",
                                rows=len(listed) + len(unfinished), model_versions=serving_versions(serving),
                                dry_run=dry_run, unfinished=len(unfinished))
        log(logger, logging.INFO, "retriage started", batch_id=report.batch_id, listed=len(listed),
            unfinished=len(unfinished), dry_run=dry_run)
        size = Settings.from_env().chunk_size
        try:
            for start in range(0, len(listed), size):
                self._retriage_chunk(listed[start:start + size], serving, report)
            for start in range(0, len(unfinished), size):
                self._finish_chunk(unfinished[start:start + size], serving, report)
        except StoreBusy as error:
            raise BatchStopped(
                f"the store is busy with another writer: {report.batch_id} stopped part-way, {report.allocated} "
                f"allocated and {report.manual_triage} left in manual triage of {report.rows}; what was written "
                f"stands: run the same command again to finish it") from error
        counts = {k: v for k, v in report.as_json().items() if k not in ("model_versions", "batch_id", "source")}
        if not dry_run:
            store.put_batch(TriageBatch(report.batch_id, report.source, digest.hexdigest(), started, utc_now(), counts,
                                        report.model_versions))
        log(logger, logging.INFO, "retriage finished", **counts, batch_id=report.batch_id)
        assert report.allocated + report.manual_triage + sum(report.skipped.values()) == report.rows, report.as_json()
        return report

    def _retriage_chunk(self, listed: list[Allocation], serving: dict[str, ModelStrategy],
                        report: RetriageReport) -> None:
        store = self.deployment.store
        todo: list[tuple[Allocation, Complaint]] = []
        for candidate in listed:
            read = store.get_allocation(candidate.complaint_id)  # consistent: the queue index may lag
            skip = _why_not_retriaged(read, store.list_feedback(candidate.complaint_id))
            stored = store.get_complaint(candidate.complaint_id) if skip is None else None
            if skip is None and stored is None:
                skip = "complaint_not_stored"
            if skip is not None:
                report.skipped[skip] += 1
                continue
            todo.append((read, _as_read(stored)))
        predictions = self._predict([complaint for _, complaint in todo], serving, None)
        for read, complaint in todo:
            allocation = self._allocation(complaint.complaint_id, predictions[complaint.complaint_id], serving,
                                          report)
            if any(p.error for p in allocation.predictions.values()):
                report.skipped["still_failing"] += 1  # the allocation it has stands, with its first failure
            elif not report.dry_run and not store.supersede_allocation(allocation, read):
                report.skipped["changed_since_read"] += 1  # another writer replaced it first: theirs stands
            else:
                report.count(allocation)

    def _finish_chunk(self, unfinished: list[StoredComplaint], serving: dict[str, ModelStrategy],
                      report: RetriageReport) -> None:
        """Allocate complaints a stopped run stored, as triage would have; one allocated since they were listed
        keeps that allocation."""
        complaints = [_as_read(stored) for stored in unfinished]
        predictions = self._predict(complaints, serving, None)
        for complaint in complaints:
            allocation = self._allocation(complaint.complaint_id, predictions[complaint.complaint_id], serving,
                                          report)
            if not report.dry_run and not self.deployment.store.put_allocation(allocation):
                report.skipped["changed_since_read"] += 1
            else:
                report.count(allocation)

    def _predict(self, complaints: list[Complaint], serving: dict[str, ModelStrategy],
                 manual_triage_reason: str | None) -> dict[str, dict[str, TaskPrediction]]:
        """Every task's prediction for every complaint, each from the version its strategy picks."""
        results: dict[str, dict[str, TaskPrediction]] = {c.complaint_id: {} for c in complaints}
        for task in self.deployment.tasks:
            plans = {c.complaint_id: serving_plan(serving[task.name], c.complaint_id) for c in complaints}
            by_version: dict[str, list[Complaint]] = defaultdict(list)
            for complaint in complaints:
                by_version[plans[complaint.complaint_id][0]].append(complaint)
            shadows = {} if manual_triage_reason else self._shadow_answers(task, complaints, plans)
            for version, group in by_version.items():
                answers, error, threshold = self._run(task, version, group, serving[task.name].threshold,
                                                      manual_triage_reason)
                for complaint, (label, score) in zip(group, answers):
                    _, served_by, _ = plans[complaint.complaint_id]
                    results[complaint.complaint_id][task.name] = by_customer_record(task, complaint, TaskPrediction(
                        task.name, label, score, version, served_by, shadows.get(complaint.complaint_id), error,
                        threshold))
        return results

    def _shadow_answers(self, task: TaskSpec, complaints: list[Complaint], plans: dict) -> dict[str, dict]:
        by_version: dict[str, list[Complaint]] = defaultdict(list)
        for complaint in complaints:
            if shadow := plans[complaint.complaint_id][2]:
                by_version[shadow].append(complaint)
        answers = {}
        for version, group in by_version.items():
            labels, error, _ = self._run(task, version, group)
            for complaint, (label, score) in zip(group, labels):
                answers[complaint.complaint_id] = {"model_version": version, "label": label, "score": score, "error": error}
        return answers

    def _run(self, task: TaskSpec, version: str, complaints: list[Complaint], released: float | None = None,
             manual_triage_reason: str | None = None) -> tuple[list[tuple[str, float]], str, float | None]:
        """Predictions of one version and the threshold they are decided with (``served_threshold``: the
        release's, the version's or the task's); or empty answers, the error when the model cannot run (or the
        reason it was not run) and the threshold that applies without a version."""
        error = manual_triage_reason
        if error is None:
            folder = None
            try:
                key = (task.name, version)
                if key not in self._predictors:
                    folder = self.deployment.registry.fetch(task.name, version)
                    self._predictors[key] = load_predictor(folder)
                predictor = self._predictors[key]
                threshold = served_threshold(released, predictor.threshold, task.threshold, binary=predictor.binary)
                return predictor.predict([c.narrative for c in complaints], threshold), "", threshold
            except Exception as failure:  # noqa: BLE001 - any model failure routes to people, never loses a complaint
                log(logger, logging.ERROR, "model failed", task=task.name, model_version=version, error=repr(failure))
                error = f"{type(failure).__name__}: {failure}"
                if folder is not None:  # analysts read the reason: the version, not where the server keeps it
                    error = error.replace(str(folder), f"{task.name}@{version}")
        return [("", 0.0)] * len(complaints), error, served_threshold(released, configured=task.threshold)
