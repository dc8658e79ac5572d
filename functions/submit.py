"""The HTTP API (POST /batches): a body of complaints becomes one batch object in the inbox.

The body is validated as a whole the way intake will validate it, so a caller hears at once about a file
that would be refused (400; 413 over intake's size limit) and otherwise gets the batch's location and row
counts (202). Anything the caller can fix (a body that is not base64 or not UTF-8 text, a file intake refuses,
no complaints) is a 4xx with its reason, never a 500; reasons quote no part of the body. Triage then runs
through the same S3 -> EventBridge -> state machine path as any batch.
"""

from __future__ import annotations

import base64
import binascii
import json
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from complaints.config import SubmitSettings
from complaints.intake import IntakeError, IntakeTooLarge, read_batch
from functions import runtime

# The body is validated (and so redacted) within the function's 29 s: at about 80 complaints/s on one core
# (docs/security-and-privacy.md), 1 MiB (some 700 complaints) fits; a larger batch goes to the batch bucket's inbox.
MAX_BODY_BYTES = 1024 * 1024


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


class _BadBody(ValueError):
    """The body cannot be read as bytes at all; the message is the caller's to read."""


def _body_bytes(event: HttpApiEvent) -> bytes:
    body = event.get("body") or ""
    if not isinstance(body, str):
        raise _BadBody("the request body is not text")
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise _BadBody("the request body is marked base64 but does not decode as base64") from None
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError:
        raise _BadBody("the request body is not UTF-8 text") from None


def _content_type(event: HttpApiEvent) -> str:
    headers = event.get("headers") or {}
    return next((str(v) for k, v in headers.items() if str(k).lower() == "content-type"), "").lower()


@runtime.handler
def handler(event: HttpApiEvent, context: Any) -> HttpApiResponse:
    try:
        raw = _body_bytes(event)
    except _BadBody as error:
        return _response(400, {"error": str(error)})
    if len(raw) > MAX_BODY_BYTES:
        return _response(413, {"error": f"the request body is over {MAX_BODY_BYTES:,} bytes; put larger batches in "
                                        "the batch bucket's inbox"})
    suffix = ".csv" if "csv" in _content_type(event) else ".jsonl"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"batch{suffix}"
        path.write_bytes(raw)
        try:
            batch = read_batch(path, runtime.taxonomy())
        except IntakeError as error:
            status = 413 if isinstance(error, IntakeTooLarge) else 400
            return _response(status, {"error": str(error).replace(str(path), "request body")})
    if batch.rows == 0:
        return _response(400, {"error": "the request body holds no complaints"})
    settings = SubmitSettings.from_env()
    bucket = settings.batch_bucket
    key = (f"{settings.inbox_prefix}api/{datetime.now(timezone.utc):%Y/%m/%d}/"
           f"{context.aws_request_id}{suffix}")
    runtime.s3().put_object(Bucket=bucket, Key=key, Body=raw)
    return _response(202, {"batch": f"s3://{bucket}/{key}", "rows": batch.rows,
                           "complaints": len(batch.complaints), "rejected": len(batch.rejections)})
