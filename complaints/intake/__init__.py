"""Intake: a batch of complaints in the CFPB export format read and judged row by row; every row ends up a
redacted :class:`Complaint` or a :class:`Rejection` with its reason, and a file that cannot be a batch is
refused whole (:class:`IntakeError`). See README.md.

Formats: CSV and JSON lines (optionally gzip-compressed; CFPB export column names or the CFPB API's
snake_case field names) and Hugging Face ``datasets`` saved with ``save_to_disk``.
"""

from complaints.intake.batches import IntakeBatch, read_batch, read_chunks, validate_text
from complaints.intake.files import IntakeError, IntakeTooLarge, data_files, read_records
from complaints.intake.rules import (
    COMPLAINT_ID_PATTERN, MAX_COMPLAINT_ID_CHARS, MAX_NARRATIVE_CHARS, parse_date, valid_complaint_id,
)
from complaints.intake.safe import MAX_KEPT_RECORD_CHARS

# The file limits (MAX_FILE_BYTES, MAX_RECORD_CHARS) are read where they apply, complaints.intake.files.
__all__ = [
    "COMPLAINT_ID_PATTERN", "MAX_COMPLAINT_ID_CHARS", "MAX_KEPT_RECORD_CHARS", "MAX_NARRATIVE_CHARS", "IntakeBatch",
    "IntakeError", "IntakeTooLarge", "data_files", "parse_date", "read_batch", "read_chunks", "read_records",
    "valid_complaint_id", "validate_text",
]
