"""Intake: validate one batch file from the inbox and write its chunks for the state machine's Map.

A file refused whole (e.g. a missing required column) raises ``IntakeError``, its message naming the S3
object rather than the scratch copy (it carries no field value); the state machine parks the batch in the
dead-letter queue. Chunk keys are named after the execution, so a retry overwrites them.

The list of chunks goes to S3 too (``chunks.json``, which the Map reads with its ItemReader): what Intake
returns is a few counts and keys whatever the batch's size, far under the state machine's 256 KiB payload.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, TypedDict

from complaints.config import IntakeSettings, Settings
from complaints.intake import IntakeError, read_batch
from complaints.intake.chunks import dumps, split
from complaints.pipeline import batch_identity
from complaints.records import utc_now
from functions import runtime
from functions.runtime import ChunkRef


class BatchObject(TypedDict):
    bucket: str
    key: str
    execution: str  # the state machine execution's name: names the chunk folder


class ChunkedBatch(TypedDict):
    batch_id: str  # one file, one batch: the id its every chunk is triaged under
    source: str
    source_sha256: str
    started_at: str  # when intake began reading it: the batch record's start
    rows: int
    rejected: int
    chunks: int  # how many chunks the manifest lists
    bucket: str
    manifest: str  # key of the JSON list of every ChunkRef


@runtime.handler
def handler(event: BatchObject, context: Any) -> ChunkedBatch:
    bucket, key = event["bucket"], event["key"]
    started = utc_now()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(key).name  # the name keeps the suffix that says the format
        runtime.s3().download_file(bucket, key, str(path))
        try:
            batch = read_batch(path, runtime.taxonomy())
        except IntakeError as error:
            raise IntakeError(str(error).replace(str(path), f"s3://{bucket}/{key}")) from None  # one error name
    batch.source = f"s3://{bucket}/{key}"
    settings = IntakeSettings.from_env()
    prefix = f"{settings.chunk_prefix}{event['execution']}/"
    chunks = []
    for number, chunk in enumerate(split(batch, Settings.from_env().chunk_size), start=1):
        chunk_key = f"{prefix}chunk-{number:05d}.json"
        runtime.s3().put_object(Bucket=bucket, Key=chunk_key, Body=dumps(chunk).encode("utf-8"),
                                ContentType="application/json")
        chunks.append(ChunkRef(bucket=bucket, key=chunk_key, complaints=len(chunk.complaints)))
    runtime.write_json(bucket, f"{prefix}chunks.json", chunks)
    return ChunkedBatch(batch_id=batch_identity(batch), source=batch.source, source_sha256=batch.source_sha256,
                       started_at=started, rows=batch.rows, rejected=len(batch.rejections), chunks=len(chunks),
                       bucket=bucket, manifest=f"{prefix}chunks.json")
