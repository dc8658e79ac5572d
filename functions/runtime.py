"""What every handler shares: the container's pipeline and clients, S3 access, invocation logs.

In the style of Powertools for AWS Lambda: one structured log line per invocation (function, request id,
cold start, duration) and nothing else; models, the taxonomy and clients live as long as the container.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable
from pathlib import PurePosixPath
from types import SimpleNamespace
from typing import Any, TypedDict, TypeVar

import boto3
from botocore.retries.standard import OrRetryChecker, RetryContext, ThrottledRetryableChecker, TransientRetryableChecker

from complaints import logs
from complaints.deployment import Deployment
from complaints.logs import log
from complaints.pipeline import BatchReport, TriagePipeline
from complaints.config import FunctionSettings, Settings
from complaints.taxonomy import Taxonomy

logger = logging.getLogger("complaints.functions")
Event = TypeVar("Event")
Result = TypeVar("Result")


class ChunkRef(TypedDict):
    """A chunk of a batch: an S3 object holding an IntakeBatch (complaints/intake/chunks.py)."""

    bucket: str
    key: str
    complaints: int


class ChunkReport(TypedDict):
    """What became of a chunk's rows, kept in S3 next to the chunk (``report_key``), never in the state: the
    reconcile function folds them into the batch's record."""

    report: dict[str, Any]  # the chunk's BatchReport.as_json()
    fallback: str  # the error that sent the chunk to manual triage, "" when the models triaged it


class TransientFault(RuntimeError):
    """A fault that heals by waiting (throttling, a dropped connection, a slow peer): the state machine
    retries this error name with backoff for minutes, and sends any other error to manual triage at once."""


_TRANSIENT = OrRetryChecker([ThrottledRetryableChecker(), TransientRetryableChecker()])


class _Container:
    """State that survives between invocations of one Lambda container."""

    def __init__(self) -> None:
        self.cold = True
        self.pipeline: TriagePipeline | None = None
        self.taxonomy: Taxonomy | None = None
        self.s3: Any = None


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


def read_json(bucket: str, key: str) -> Any:
    return json.loads(read_text(bucket, key))


def write_json(bucket: str, key: str, value: Any) -> None:
    s3().put_object(Bucket=bucket, Key=key, Body=json.dumps(value).encode("utf-8"), ContentType="application/json")


def report_key(chunk_key: str) -> str:
    """Where a chunk's report lives: ``<chunk folder>/reports/<chunk file>``."""
    chunk = PurePosixPath(chunk_key)
    return str(chunk.parent / "reports" / chunk.name)


def record(chunk: ChunkRef, report: BatchReport, fallback: str = "") -> ChunkReport:
    """Keep the chunk's report in S3 for the batch's reconciliation, which records the batch, and return it;
    the state machine keeps none of it, so a batch of any size fits its payload limit."""
    kept = ChunkReport(report=report.as_json(), fallback=fallback)
    write_json(chunk["bucket"], report_key(chunk["key"]), kept)
    return kept


def is_transient(error: BaseException) -> bool:
    """A fault worth waiting out, as botocore's own retry policy judges one (a throttled, timed-out or 5xx
    AWS call; a connection that failed), and Python's connection and timeout errors (the registry or any
    other peer unreachable)."""
    if isinstance(error, (ConnectionError, TimeoutError)):
        return True
    response = getattr(error, "response", None)  # a botocore ClientError carries the parsed error response
    if isinstance(response, dict):
        status = SimpleNamespace(status_code=response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
        return _TRANSIENT.is_retryable(RetryContext(1, parsed_response=response, http_response=status))
    return _TRANSIENT.is_retryable(RetryContext(1, caught_exception=error))


def handler(function: Callable[[Event, Any], Result]) -> Callable[[Event, Any], Result]:
    """Log each invocation as one JSON line; an exception is logged by type and re-raised, so the state
    machine sees its type as the error name (what its Retry and Catch match on). A transient fault is
    re-raised as ``TransientFault``, naming the original type, so one error name covers all of them."""

    @functools.wraps(function)
    def invoke(event: Event, context: Any) -> Result:
        if _container.cold and (level := FunctionSettings.from_env().log_level) is not None:
            logs.configure(level)
        fields = {"function": getattr(context, "function_name", function.__module__),
                  "request_id": getattr(context, "aws_request_id", ""), "cold_start": _container.cold}
        _container.cold = False
        started = time.perf_counter()
        try:
            result = function(event, context)
        except Exception as error:
            transient = is_transient(error)
            log(logger, logging.ERROR, "invocation failed", **fields, error=type(error).__name__,
                transient=transient, duration_ms=round((time.perf_counter() - started) * 1000))
            if transient:
                raise TransientFault(f"{type(error).__name__}: {error}") from error
            raise
        log(logger, logging.INFO, "invocation finished", **fields,
            duration_ms=round((time.perf_counter() - started) * 1000))
        return result

    return invoke
