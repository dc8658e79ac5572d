"""The HTTP API (POST /batches): a body of complaints becomes one batch object in the inbox.

The body is validated as a whole the way intake will validate it, so a caller hears at once about a file
that would be refused (400) and otherwise gets the batch's location and row counts (202). Triage then runs
through the same S3 -> EventBridge -> state machine path as any batch.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from complaints.intake import IntakeError, read_batch
from functions import runtime


class HttpApiEvent(TypedDict):
    """The part of an API Gateway HTTP API (payload format 2.0) event this function reads."""

    body: NotRequired[str]
    isBase64Encoded: NotRequired[bool]
    headers: NotRequired[dict[str, str]]


class HttpApiResponse(TypedDict):
    statusCode: int
    headers: dict[str, str]
    body: str


def _response(status: int, payload: dict) -> HttpApiResponse:
    return HttpApiResponse(statusCode=status, headers={"content-type": "application/json"}, body=json.dumps(payload))


@runtime.handler
def handler(event: HttpApiEvent, context: Any) -> HttpApiResponse:
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")
    suffix = ".csv" if "csv" in (event.get("headers") or {}).get("content-type", "") else ".jsonl"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"batch{suffix}"
        path.write_bytes(raw)
        try:
            batch = read_batch(path, runtime.taxonomy())
        except IntakeError as error:
            return _response(400, {"error": str(error).replace(str(path), "request body")})
    if batch.rows == 0:
        return _response(400, {"error": "the request body holds no complaints"})
    bucket = os.environ["COMPLAINTS_BATCH_BUCKET"]
    key = (f"{os.environ['COMPLAINTS_INBOX_PREFIX']}api/{datetime.now(timezone.utc):%Y/%m/%d}/"
           f"{context.aws_request_id}{suffix}")
    runtime.s3().put_object(Bucket=bucket, Key=key, Body=raw)
    return _response(202, {"batch": f"s3://{bucket}/{key}", "rows": batch.rows,
                           "complaints": len(batch.complaints), "rejected": len(batch.rejections)})
