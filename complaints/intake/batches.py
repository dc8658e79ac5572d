"""Batches: a file's records judged in file order, streamed a chunk at a time (:func:`read_chunks`) so the
embedded pipeline triages a file of any length in bounded memory, or joined (:func:`read_batch`).

Every record ends up either as a redacted :class:`Complaint` or as a :class:`Rejection` that keeps the
(redacted) record and the reason, so ``rows == len(complaints) + len(rejections)`` always.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from complaints.config import DEFAULT_CHUNK_SIZE
from complaints.intake.files import RawRecord, checked_sha256, data_files, existing, records
from complaints.intake.rules import valid_complaint_id
from complaints.intake.validation import Verdict, verdict
from complaints.redaction import Redactor, redact
from complaints.schema import COMPLAINT_ID, DATE_RECEIVED, NARRATIVE, Complaint, Rejection
from complaints.splits import fingerprint
from complaints.taxonomy import Taxonomy

@dataclass
class IntakeBatch:
    source: str
    source_sha256: str
    complaints: list[Complaint] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    redactions: Counter[str] = field(default_factory=Counter)
    files: Counter[str] = field(default_factory=Counter)  # records read per data file, in reading order

    @property
    def rows(self) -> int:
        return len(self.complaints) + len(self.rejections)

    def add(self, outcome: Verdict) -> None:
        if isinstance(outcome, Rejection):
            self.rejections.append(outcome)
        else:
            complaint, counts = outcome
            self.complaints.append(complaint)
            self.redactions.update(counts)


def read_chunks(path: str | Path, taxonomy: Taxonomy, size: int = DEFAULT_CHUNK_SIZE, today: date | None = None,
                redactor: Redactor = redact) -> Iterator[IntakeBatch]:
    """Validate ``path`` as a stream: batches of at most ``size`` rows (complaints and rejections, in file
    order), so a caller triages a file of any length holding one chunk, never the file.

    Every chunk carries the file's ``source`` and ``source_sha256``. A first pass hashes the file and reads it
    through as the second will (decompressed, capped): a file refused whole (IntakeError) is refused before the
    first chunk, so nothing of it is stored. At least one chunk comes, empty when the file has no rows. What
    grows with the file is only the map of complaint ids already seen (the duplicate-id rule): O(ids).
    """
    path = existing(path)
    if size < 1:
        raise ValueError(f"a chunk holds at least one row, not {size}")
    today = today or datetime.now(timezone.utc).date()
    source, sha256 = str(path), checked_sha256(path)
    seen_ids: dict[str, int] = {}  # an id may stand once in a batch: a later copy is rejected, accepted first or not
    chunk, yielded = IntakeBatch(source, sha256), False
    for raw in records(path):
        chunk.files[raw.file] += 1
        chunk.add(verdict(raw, taxonomy, today, seen_ids, redactor))
        complaint_id = (raw.fields or {}).get(COMPLAINT_ID, "").strip()
        if valid_complaint_id(complaint_id):
            seen_ids.setdefault(complaint_id, raw.row_number)
        if chunk.rows == size:
            yield chunk
            chunk, yielded = IntakeBatch(source, sha256), True
    if chunk.rows or not yielded:
        yield chunk


def read_batch(path: str | Path, taxonomy: Taxonomy, today: date | None = None, redactor: Redactor = redact
               ) -> IntakeBatch:
    """The whole of ``path`` validated and held in memory (its chunks joined), for callers that need every
    row at once (the Lambda intake cuts its own chunks); raises IntakeError only for a file refused whole."""
    chunks = list(read_chunks(path, taxonomy, today=today, redactor=redactor))
    files = Counter(dict.fromkeys((file.name for file in data_files(path)), 0))  # an empty file is read too
    for chunk in chunks:
        files.update(chunk.files)
    return IntakeBatch(chunks[0].source, chunks[0].source_sha256,
                       [complaint for chunk in chunks for complaint in chunk.complaints],
                       [rejection for chunk in chunks for rejection in chunk.rejections],
                       sum((chunk.redactions for chunk in chunks), Counter()), files)


def validate_text(text: str, taxonomy: Taxonomy, today: date | None = None) -> IntakeBatch:
    """A one-complaint batch from a bare narrative (``complaints triage --text``), validated the same way.

    Its id is derived from the text, so triaging the same text twice finds the first allocation.
    """
    today = today or datetime.now(timezone.utc).date()
    fields = {COMPLAINT_ID: f"text-{fingerprint(text)}", NARRATIVE: text, DATE_RECEIVED: today.isoformat()}
    batch = IntakeBatch(source="--text", source_sha256=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())
    batch.add(verdict(RawRecord(1, fields, text), taxonomy, today, {}))
    return batch
