"""What every handler shares: the container's pipeline and clients, S3 access, invocation logs.

In the style of Powertools for AWS Lambda: one structured log line per invocation (function, request id,
cold start, duration) and nothing else; models, the taxonomy and clients live as long as the container.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable
from typing import Any, TypedDict, TypeVar

import boto3

from complaints import logs
from complaints.deployment import Deployment
from complaints.logs import log
from complaints.pipeline import BatchReport, TriagePipeline
from complaints.settings import Settings
from complaints.taxonomy import Taxonomy

logger = logging.getLogger("complaints.functions")
Event = TypeVar("Event")
Result = TypeVar("Result")


class ChunkRef(TypedDict):
    """A staged chunk of a batch: an S3 object holding an IntakeBatch (complaints/staging.py)."""

    bucket: str
    key: str
    complaints: int


class ChunkReport(TypedDict):
    batch_id: str
    rows: int
    allocated: int
    manual_triage: int
    rejected: int
    reused: int


class _Container:
    """State that survives between invocations of one Lambda container."""

    def __init__(self) -> None:
        self.cold = True
        self.pipeline: TriagePipeline | None = None
        self.taxonomy: Taxonomy | None = None
        self.s3: Any = None


_container = _Container()


def reset() -> None:
    """Start over as a new container would (tests run many containers in one process)."""
    global _container
    _container = _Container()


def pipeline() -> TriagePipeline:
    """The AWS deployment's pipeline, built once per container so loaded models are reused."""
    if _container.pipeline is None:
        _container.pipeline = TriagePipeline(Deployment.aws())
    return _container.pipeline


def taxonomy() -> Taxonomy:
    """The packaged taxonomy, for functions that validate but never touch the store."""
    if _container.taxonomy is None:
        _container.taxonomy = Taxonomy.load(Settings.from_env().taxonomy_file)
    return _container.taxonomy


def s3() -> Any:
    if _container.s3 is None:
        _container.s3 = boto3.client("s3")
    return _container.s3


def read_text(bucket: str, key: str) -> str:
    return s3().get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")


def summary(report: BatchReport) -> ChunkReport:
    """The counts a state machine keeps per chunk (the full report is in triage_batches)."""
    return ChunkReport(batch_id=report.batch_id, rows=report.rows, allocated=report.allocated,
                       manual_triage=report.manual_triage, rejected=report.rejected, reused=report.reused)


def handler(function: Callable[[Event, Any], Result]) -> Callable[[Event, Any], Result]:
    """Log each invocation as one JSON line; an exception is logged by type and re-raised, so the state
    machine sees its type as the error name (what its Retry and Catch match on)."""

    @functools.wraps(function)
    def invoke(event: Event, context: Any) -> Result:
        if _container.cold and os.environ.get("COMPLAINTS_LOG_LEVEL"):
            logs.configure(getattr(logging, os.environ["COMPLAINTS_LOG_LEVEL"].upper()))
        fields = {"function": getattr(context, "function_name", function.__module__),
                  "request_id": getattr(context, "aws_request_id", ""), "cold_start": _container.cold}
        _container.cold = False
        started = time.perf_counter()
        try:
            result = function(event, context)
        except Exception as error:
            log(logger, logging.ERROR, "invocation failed", **fields, error=type(error).__name__,
                duration_ms=round((time.perf_counter() - started) * 1000))
            raise
        log(logger, logging.INFO, "invocation finished", **fields,
            duration_ms=round((time.perf_counter() - started) * 1000))
        return result

    return invoke
