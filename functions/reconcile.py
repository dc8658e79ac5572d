"""Reconcile: the batch's final counts, from the report every chunk left in S3, checked to add up, and the batch
recorded, as the embedded pipeline records it after its last chunk; its figures (complaints, allocated, manual
triage and specialist shares) written as CloudWatch metrics (complaints/metrics.py) for the alarms.

The Map keeps no per-chunk result in the state (a large batch would pass the 256 KiB payload limit), so the
reports are folded here. Every chunk must have a report and the rows read must equal allocated + manual
triage + rejected; otherwise ``BatchIncomplete`` fails the execution, which parks the batch in the
dead-letter queue (a chunk nobody could triage is already there) and sounds the failed-executions alarm.
"""

from __future__ import annotations

from collections import Counter
from pathlib import PurePosixPath
from typing import Any, TypedDict

from complaints.config import MetricsSettings
from complaints.metrics import EmbeddedMetrics
from complaints.pipeline import BatchReport, record_batch
from functions import runtime
from functions.intake import ChunkedBatch
from functions.runtime import ChunkRef, ChunkReport

_SHOWN_KEYS = 5  # missing chunks named in the error; the rest are counted
COUNTS = ("rows", "allocated", "manual_triage", "rejected", "reused")


class BatchIncomplete(RuntimeError):
    """A chunk has no report, or the counts do not add up to the rows read."""


class BatchSummary(TypedDict):
    rows: int
    allocated: int
    manual_triage: int
    rejected: int
    reused: int
    chunks: int
    fell_back: dict[str, int]  # chunks that went to manual triage, by the error that sent them


def reports(bucket: str, manifest: str) -> tuple[list[ChunkRef], dict[str, ChunkReport]]:
    """The batch's chunks and the reports found for them, by chunk key."""
    chunks: list[ChunkRef] = runtime.read_json(bucket, manifest)
    folder = f"{PurePosixPath(manifest).parent}/reports/"
    pages = runtime.s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=folder)
    present = {item["Key"] for page in pages for item in page.get("Contents", [])}
    return chunks, {c["key"]: runtime.read_json(c["bucket"], runtime.report_key(c["key"]))
                    for c in chunks if runtime.report_key(c["key"]) in present}


@runtime.handler
def handler(event: ChunkedBatch, context: Any) -> BatchSummary:
    chunks, found = reports(event["bucket"], event["manifest"])
    batch = BatchReport(event["batch_id"], event["source"])
    for report in found.values():
        batch.add(BatchReport.from_json(report["report"]))
    totals = {name: getattr(batch, name) for name in COUNTS}
    missing = [c["key"] for c in chunks if c["key"] not in found]
    ended = totals["allocated"] + totals["manual_triage"] + totals["rejected"]
    if missing or len(chunks) != event["chunks"] or totals["rows"] != event["rows"] or ended != event["rows"]:
        raise BatchIncomplete(
            f"{event['rows']} rows read, {ended} ended (allocated {totals['allocated']}, manual triage "
            f"{totals['manual_triage']}, rejected {totals['rejected']}); {len(missing)} of {len(chunks)} chunks "
            f"have no report: {', '.join(missing[:_SHOWN_KEYS])}{' ...' if len(missing) > _SHOWN_KEYS else ''}")
    fell_back = Counter(report["fallback"] for report in found.values() if report["fallback"])
    deployment = runtime.pipeline().deployment
    record_batch(deployment.store, batch, event["source_sha256"], event["started_at"])
    EmbeddedMetrics(MetricsSettings.from_env().environment).batch(batch.by_queue, deployment.tasks)
    return BatchSummary(**{name: totals[name] for name in COUNTS}, chunks=len(chunks), fell_back=dict(fell_back))
