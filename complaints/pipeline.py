"""The triage pipeline: validated batch in, one allocation per complaint out, each tied to its models.

For each complaint: skip it if it was already triaged (idempotent on complaint id), store it, pick each
task's model version from its strategy, predict, route, and store the allocation with every task's
version, strategy line, score and timestamp. A model that fails sends its complaints to manual triage;
it never drops them. A caller that knows the models cannot run (a serverless triage call that failed past
its retries) sends a whole batch to manual triage with its reason, through the same routing and records.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from tqdm import tqdm

from complaints.deployment import Deployment
from complaints.intake import MAX_KEPT_RECORD_CHARS, IntakeBatch
from complaints.logs import log
from complaints.predictors import Predictor, load_predictor
from complaints.records import (
    ALLOCATED, Allocation, ModelStrategy, RejectedRow, StoredComplaint, TaskPrediction, TriageBatch, utc_now,
)
from complaints.routing import route
from complaints.schema import NEGATIVE, POSITIVE, Complaint, Rejection
from complaints.strategy import serving_plan, strategies
from complaints.tasks import TaskSpec

logger = logging.getLogger(__name__)

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

    def as_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows, "allocated": self.allocated, "manual_triage": self.manual_triage,
            "rejected": self.rejected, "by_queue": dict(self.by_queue.most_common()),
            "model_versions": self.model_versions, "reused": self.reused,
            "rejected_reasons": dict(self.rejected_reasons), "redactions": dict(self.redactions),
            "batch_id": self.batch_id, "source": self.source,
        }


def batch_identity(batch: IntakeBatch) -> str:
    """The batch's id, from its content's hash (``source_sha256``: a file's bytes, a staged chunk's own hash),
    so it is known before the first row is read, and a retried or resent batch finds its own batch and
    rejection records instead of writing them again. Whoever triages a selection of a file hashes the
    selection into its ``source_sha256``."""
    return f"batch-{hashlib.sha256(batch.source_sha256.encode()).hexdigest()[:24]}"


def _conflicting_resend(complaint: Complaint, stored: StoredComplaint) -> Rejection:
    """A resend of a stored id with other content, kept whole (redacted) under its own row: every one of them
    stays, and the stored complaint stands."""
    record = json.dumps({"date_received": complaint.date_received.isoformat(), "narrative": complaint.narrative,
                         "attributes": complaint.attributes}, ensure_ascii=False)
    return Rejection(complaint.row_number, "conflicting_resend", f"complaint id {complaint.complaint_id} is already "
                     f"stored (batch {stored.batch_id}) with different content", complaint.complaint_id,
                     record[:MAX_KEPT_RECORD_CHARS], len(record))


def served_tasks(tasks: list[TaskSpec], serving: dict[str, ModelStrategy]) -> list[TaskSpec]:
    """The tasks with the confidence thresholds their strategies serve with, where a release sets one."""
    return [replace(t, threshold=serving[t.name].threshold) if serving[t.name].threshold is not None and not t.binary
            else t for t in tasks]


class TriagePipeline:
    def __init__(self, deployment: Deployment, chunk_size: int = 256):
        self.deployment = deployment
        self.chunk_size = chunk_size
        self._predictors: dict[tuple[str, str], Predictor] = {}

    def triage(self, batch: IntakeBatch | Iterable[IntakeBatch], progress: bool = False,
               manual_triage_reason: str | None = None) -> BatchReport:
        """Triage every complaint of ``batch`` not yet allocated: one IntakeBatch, or the chunks of one batch as
        intake streams them (``read_chunks``; the first names the batch), each triaged and stored as it comes,
        so memory holds one chunk. With ``manual_triage_reason`` no model runs: each task is recorded as failed
        for that reason, so every new complaint lands in manual triage."""
        store = self.deployment.store
        serving = strategies(self.deployment)
        started = utc_now()
        chunks = iter([batch] if isinstance(batch, IntakeBatch) else batch)
        first = next(chunks)
        batch_id = batch_identity(first)
        report = BatchReport(batch_id, first.source)
        report.model_versions = {
            name: {k: v for k, v in (("mode", s.mode), ("champion", s.champion), ("challenger", s.challenger)) if v}
            for name, s in serving.items()
        }
        log(logger, logging.INFO, "batch started", batch_id=batch_id, source_sha256=first.source_sha256)
        with tqdm(desc="triage", unit="row", disable=not progress) as bar:
            for chunk in itertools.chain([first], chunks):
                report.rows += chunk.rows
                report.redactions.update(chunk.redactions)
                rejections = list(chunk.rejections)
                for start in range(0, len(chunk.complaints), self.chunk_size):
                    part = chunk.complaints[start:start + self.chunk_size]
                    rejections += self._triage_chunk(part, serving, batch_id, report, manual_triage_reason)
                for rejection in rejections:
                    store.put_rejection(RejectedRow(batch_id=batch_id, **vars(rejection)))
                    report.rejected_reasons[rejection.reason_code] += 1
                report.rejected += len(rejections)
                bar.update(chunk.rows)
        counts = {k: v for k, v in report.as_json().items() if k not in ("model_versions", "batch_id", "source")}
        store.put_batch(TriageBatch(batch_id, first.source, first.source_sha256, started, utc_now(), counts,
                                    report.model_versions))
        log(logger, logging.INFO, "batch finished", **counts, batch_id=batch_id)
        assert report.allocated + report.manual_triage + report.rejected == report.rows, report.as_json()
        return report

    def _triage_chunk(self, chunk: list[Complaint], serving: dict[str, ModelStrategy], batch_id: str,
                      report: BatchReport, manual_triage_reason: str | None) -> list[Rejection]:
        store = self.deployment.store
        rejections, todo = [], []
        for complaint in chunk:
            stored = store.get_complaint(complaint.complaint_id)
            if stored is not None and stored.content_hash != complaint.content_hash:
                rejections.append(_conflicting_resend(complaint, stored))
                continue
            existing = store.get_allocation(complaint.complaint_id) if stored is not None else None
            if existing is not None:
                report.reused += 1
                report.count(existing)
                continue
            if stored is None:
                store.put_complaint(StoredComplaint(
                    complaint.complaint_id, complaint.date_received.isoformat(), complaint.narrative,
                    complaint.attributes, complaint.content_hash, batch_id, utc_now()))
            todo.append(complaint)
        predictions = self._predict(todo, serving, manual_triage_reason)
        for complaint in todo:
            queue, status, reasons = route(served_tasks(self.deployment.tasks, serving), predictions[complaint.complaint_id])
            allocation = Allocation(
                complaint_id=complaint.complaint_id, queue=queue, status=status, reasons=reasons,
                predictions=predictions[complaint.complaint_id],
                model_versions={t: p.model_version for t, p in predictions[complaint.complaint_id].items()},
                taxonomy_version=self.deployment.taxonomy.version, batch_id=batch_id, allocated_at=utc_now(),
            )
            if not store.put_allocation(allocation):  # another worker allocated it first: theirs stands
                allocation = store.get_allocation(complaint.complaint_id)
                report.reused += 1
            report.count(allocation)
        return rejections

    def _predict(self, complaints: list[Complaint], serving: dict[str, ModelStrategy],
                 manual_triage_reason: str | None) -> dict[str, dict[str, TaskPrediction]]:
        """Every task's prediction for every complaint, each from the version its strategy picks."""
        results: dict[str, dict[str, TaskPrediction]] = {c.complaint_id: {} for c in complaints}
        for task in self.deployment.tasks:
            plans = {c.complaint_id: serving_plan(serving[task.name], c.complaint_id) for c in complaints}
            by_version: dict[str, list[Complaint]] = defaultdict(list)
            for complaint in complaints:
                by_version[plans[complaint.complaint_id][0]].append(complaint)
            shadows = {} if manual_triage_reason else self._shadow_answers(task.name, complaints, plans)
            for version, group in by_version.items():
                if manual_triage_reason:
                    answers, error = [("", 0.0)] * len(group), manual_triage_reason
                else:
                    answers, error = self._run(task.name, version, group)
                threshold = serving[task.name].threshold
                if task.binary and threshold is not None and not error:  # the release's decision threshold
                    answers = [(POSITIVE if score >= threshold else NEGATIVE, score) for _, score in answers]
                for complaint, (label, score) in zip(group, answers):
                    _, served_by, _ = plans[complaint.complaint_id]
                    results[complaint.complaint_id][task.name] = TaskPrediction(
                        task.name, label, score, version, served_by, shadows.get(complaint.complaint_id), error)
        return results

    def _shadow_answers(self, task: str, complaints: list[Complaint], plans: dict) -> dict[str, dict]:
        by_version: dict[str, list[Complaint]] = defaultdict(list)
        for complaint in complaints:
            if shadow := plans[complaint.complaint_id][2]:
                by_version[shadow].append(complaint)
        answers = {}
        for version, group in by_version.items():
            labels, error = self._run(task, version, group)
            for complaint, (label, score) in zip(group, labels):
                answers[complaint.complaint_id] = {"model_version": version, "label": label, "score": score, "error": error}
        return answers

    def _run(self, task: str, version: str, complaints: list[Complaint]) -> tuple[list[tuple[str, float]], str]:
        """Predictions of one version, or empty answers and the error when the model cannot run."""
        try:
            key = (task, version)
            if key not in self._predictors:
                self._predictors[key] = load_predictor(self.deployment.registry.fetch(task, version))
            return self._predictors[key].predict([c.narrative for c in complaints]), ""
        except Exception as error:  # noqa: BLE001 - any model failure routes to people, never loses a complaint
            log(logger, logging.ERROR, "model failed", task=task, model_version=version, error=repr(error))
            return [("", 0.0)] * len(complaints), f"{type(error).__name__}: {error}"
