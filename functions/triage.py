"""Triage one chunk of a batch: the core pipeline, exactly as the embedded path runs it; its report goes
to S3, for the reconcile function that records the batch."""

from __future__ import annotations

from typing import Any

from complaints.intake.chunks import loads
from functions import runtime
from functions.runtime import ChunkRef, ChunkReport


@runtime.handler
def handler(event: ChunkRef, context: Any) -> ChunkReport:
    report = runtime.pipeline().triage_chunk(loads(runtime.read_text(event["bucket"], event["key"])))
    return runtime.record(event, report)
