"""A validated batch cut into chunks small enough for one serverless call, and their JSON form.

The AWS deployment validates a batch once, writes its chunks as objects and triages each chunk in its own
call. A chunk is an :class:`IntakeBatch` carrying its batch's source and hash (so its batch's id: one file, one
batch, on both paths), and each call runs the very pipeline the embedded path runs. The first chunk carries
the batch's rejections and redaction counts, so they are recorded once.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date

from complaints.intake import IntakeBatch
from complaints.schema import Complaint, Rejection


def split(batch: IntakeBatch, size: int) -> list[IntakeBatch]:
    """Chunks of at most ``size`` complaints (at least one chunk, so rejections are never dropped), each
    under the batch's own source and hash."""
    if size < 1:
        raise ValueError(f"a chunk holds at least one complaint, not {size}")
    pieces = [batch.complaints[start:start + size] for start in range(0, len(batch.complaints), size)] or [[]]
    chunks = []
    for index, piece in enumerate(pieces):
        chunks.append(IntakeBatch(
            source=batch.source,
            source_sha256=batch.source_sha256,
            complaints=piece,
            rejections=list(batch.rejections) if index == 0 else [],
            redactions=Counter(batch.redactions) if index == 0 else Counter(),
        ))
    return chunks


def dumps(chunk: IntakeBatch) -> str:
    return json.dumps({
        "source": chunk.source,
        "source_sha256": chunk.source_sha256,
        "complaints": [{"complaint_id": c.complaint_id, "date_received": c.date_received.isoformat(),
                        "narrative": c.narrative, "attributes": c.attributes, "row_number": c.row_number}
                       for c in chunk.complaints],
        "rejections": [vars(r) for r in chunk.rejections],
        "redactions": dict(chunk.redactions),
    }, ensure_ascii=False)


def loads(text: str) -> IntakeBatch:
    doc = json.loads(text)
    return IntakeBatch(
        source=doc["source"],
        source_sha256=doc["source_sha256"],
        complaints=[Complaint(c["complaint_id"], date.fromisoformat(c["date_received"]), c["narrative"],
                              c["attributes"], c["row_number"]) for c in doc["complaints"]],
        rejections=[Rejection(**r) for r in doc["rejections"]],
        redactions=Counter(doc["redactions"]),
    )
