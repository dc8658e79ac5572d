"""What may leave intake: message fragments and kept records, redacted and bounded. A reason, an error or a
log line names columns, codes, positions and limits, never a raw field value, which would carry personal
data past redaction."""

from __future__ import annotations

import re

from complaints.redaction import redact

# A rejected record is kept up to this size (with its full length recorded); DynamoDB items stop at 400 KB.
MAX_KEPT_RECORD_CHARS = 65_536
SURROGATES = re.compile("[\ud800-\udfff]")


def has_undecodable(text: str) -> bool:
    """Undecodable bytes (surrogateescape) and lone surrogates from JSON escapes alike: neither is UTF-8."""
    return SURROGATES.search(text) is not None


def safe(text: str, limit: int = 200) -> str:
    """A message fragment from a parser or a file's column name: redacted, bounded, escaped for one log line."""
    return ascii(redact(SURROGATES.sub("\ufffd", text[:limit]))[0])[1:-1]


def column_names(columns: list[str]) -> list[str]:
    return [safe(column, 64) for column in columns[:20]]


def kept(text: str, chars: int | None = None) -> tuple[str, int]:
    """The record as a rejection keeps it (redacted, its head only) and its full length."""
    text = SURROGATES.sub("\ufffd", text)
    return redact(text[:MAX_KEPT_RECORD_CHARS])[0], len(text) if chars is None else chars
