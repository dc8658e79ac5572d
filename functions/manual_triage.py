"""The Catch path: a chunk whose triage failed past its retries goes to manual triage, with the reason.

The state machine passes the chunk and the error it caught; the pipeline's manual triage path does the
rest (every task recorded as failed for that reason), so complaints already allocated keep their
allocation and none is lost. Its report replaces any the failed triage left, naming the error.
"""

from __future__ import annotations

import json
from typing import Any, TypedDict

from complaints.intake.chunks import loads
from functions import runtime
from functions.runtime import ChunkRef, ChunkReport

_MAX_MESSAGE_CHARS = 300


class CaughtError(TypedDict):
    Error: str  # the failed task's error name (a Lambda's exception type, or States.Timeout, ...)
    Cause: str  # for a Lambda error: its JSON payload {"errorMessage", "errorType", ...}


class FailedChunk(TypedDict):
    chunk: ChunkRef
    error: CaughtError


def reason(error: CaughtError) -> str:
    try:
        message = str(json.loads(error["Cause"]).get("errorMessage", ""))
    except (ValueError, AttributeError):
        message = error.get("Cause", "")
    return f"triage task failed after its retries: {error['Error']}: {message[:_MAX_MESSAGE_CHARS]}".rstrip(": ")


@runtime.handler
def handler(event: FailedChunk, context: Any) -> ChunkReport:
    chunk = loads(runtime.read_text(event["chunk"]["bucket"], event["chunk"]["key"]))
    report = runtime.pipeline().triage_chunk(chunk, manual_triage_reason=reason(event["error"]))
    return runtime.record(event["chunk"], report, fallback=event["error"]["Error"])
