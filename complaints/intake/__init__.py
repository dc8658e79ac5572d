"""Read a batch of complaints in the CFPB export format and validate each row.

Every input record ends up either as a redacted :class:`Complaint` or as a :class:`Rejection` that
keeps the (redacted) record and the reason, so ``rows == len(complaints) + len(rejections)`` always.
A file that cannot be a batch at all (missing required column, unreadable header, over ``MAX_FILE_BYTES``
once decompressed, a broken gzip stream) is refused whole with :class:`IntakeError`, before anything is
stored. Any other failure is one row's: an exception while parsing or validating a record rejects that
record (``malformed_record``), never the file. Nothing that leaves intake (errors, reasons) carries a raw
field value: messages name columns, codes, positions and limits, and the only text kept is the redacted
record. These row rules are the one verdict on every path (CLI, Lambda, training); ``data_checks``' Great
Expectations ``intake`` suite mirrors them row for row to report on a file and write Data Docs, never to
decide differently.

Intake streams: :func:`read_chunks` yields the file's rows validated a chunk at a time, so the embedded
pipeline triages a file of any length in bounded memory; :func:`read_batch` joins them for callers that need
the whole batch at once.

Formats: CSV and JSON lines (optionally gzip-compressed; CFPB export column names or the CFPB API's
snake_case field names) and Hugging Face ``datasets`` saved with ``save_to_disk``.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from pathlib import Path

from complaints.redaction import redact
from complaints.schema import (
    COMPLAINT_ID, DATE_RECEIVED, ISSUE, NARRATIVE, PRODUCT, REQUIRED_COLUMNS, TAGS, Complaint, Rejection, canonical_column,
)
from complaints.splits import fingerprint
from complaints.taxonomy import Taxonomy

# The longest narrative in ten years of CFPB data we hold is about 24k characters.
MAX_NARRATIVE_CHARS = 32_000
# A rejected record is kept up to this size (with its full length recorded); DynamoDB items stop at 400 KB.
MAX_KEPT_RECORD_CHARS = 65_536
# A file is read as a stream and refused whole past this many bytes once decompressed: a gzip bomb stops here,
# and a Lambda holds the parsed batch in memory.
MAX_FILE_BYTES = 512 * 1024 * 1024
# A line (JSON lines) or physical CSV line longer than this is rejected as `record_too_long`, read in bounded
# pieces and never held whole; well above MAX_NARRATIVE_CHARS so an over-long narrative still says so.
MAX_RECORD_CHARS = 2 * 1024 * 1024
# A complaint id is a DynamoDB key (2 KB at most) and is logged and echoed: short, and only these characters.
MAX_COMPLAINT_ID_CHARS = 64
COMPLAINT_ID_PATTERN = re.compile(rf"[A-Za-z0-9._:-]{{1,{MAX_COMPLAINT_ID_CHARS}}}")
_JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}
_DATA_SUFFIXES = {".csv", *_JSON_SUFFIXES}
# A folder holding one of these is a dataset saved with save_to_disk, read as one dataset.
_SAVED_DATASET_FILES = ("dataset_info.json", "dataset_dict.json", "state.json")
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y")
_SURROGATES = re.compile("[\ud800-\udfff]")
_READ_CHUNK_CHARS = 64 * 1024
# Rows per chunk read_chunks yields: a few MB of complaints at the longest narratives.
CHUNK_ROWS = 1_000

csv.field_size_limit(MAX_RECORD_CHARS)


class IntakeError(ValueError):
    """The file is refused as a whole; the message says why (e.g. which required column is missing) and never
    quotes the file's content."""


class IntakeTooLarge(IntakeError):
    """The file is over MAX_FILE_BYTES once decompressed (the HTTP intake answers 413)."""


@dataclass
class IntakeBatch:
    source: str
    source_sha256: str
    complaints: list[Complaint] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    redactions: Counter[str] = field(default_factory=Counter)

    @property
    def rows(self) -> int:
        return len(self.complaints) + len(self.rejections)


@dataclass(frozen=True)
class _RawRecord:
    row_number: int
    fields: dict[str, str] | None  # None when the record could not be parsed at all
    text: str = ""
    parse_error: str = ""
    parse_code: str = "malformed_record"
    chars: int | None = None  # the record's full length, when text holds only its head


def read_chunks(path: str | Path, taxonomy: Taxonomy, size: int = CHUNK_ROWS, today: date | None = None
                ) -> Iterator[IntakeBatch]:
    """Validate ``path`` as a stream: batches of at most ``size`` rows (complaints and rejections, in file
    order), so a caller triages a file of any length holding one chunk, never the file.

    Every chunk carries the file's ``source`` and ``source_sha256``. A first pass hashes the file and reads it
    through as the second will (decompressed, capped): a file refused whole (IntakeError) is refused before the
    first chunk, so nothing of it is stored. At least one chunk comes, empty when the file has no rows. What
    grows with the file is only the map of complaint ids already seen (the duplicate-id rule): O(ids).
    """
    path = Path(path)
    if not path.exists():
        raise IntakeError(f"{path}: no such file or directory")
    if size < 1:
        raise ValueError(f"a chunk holds at least one row, not {size}")
    today = today or datetime.now(timezone.utc).date()
    source, sha256 = str(path), _checked_sha256(path)
    seen_ids: dict[str, int] = {}  # an id may stand once in a batch: a later copy is rejected, accepted first or not
    chunk, yielded = IntakeBatch(source, sha256), False
    for raw in _records(path):
        outcome = _validate_safely(raw, taxonomy, today, seen_ids)
        complaint_id = (raw.fields or {}).get(COMPLAINT_ID, "").strip()
        if valid_complaint_id(complaint_id):
            seen_ids.setdefault(complaint_id, raw.row_number)
        if isinstance(outcome, Rejection):
            chunk.rejections.append(outcome)
        else:
            complaint, counts = outcome
            chunk.complaints.append(complaint)
            chunk.redactions.update(counts)
        if chunk.rows == size:
            yield chunk
            chunk, yielded = IntakeBatch(source, sha256), True
    if chunk.rows or not yielded:
        yield chunk


def data_files(path: str | Path) -> list[Path]:
    """The files ``path`` stands for: itself; a dataset saved with save_to_disk (the folder, read as one); or a
    folder's CFPB exports (CSV and JSON lines, gzipped or not) in name order, its other files (the
    provenance.csv and README beside the shared sample) skipped. A folder without one is refused."""
    path = Path(path)
    if not path.is_dir() or _is_saved_dataset(path):
        return [path]
    files = sorted(p for p in path.iterdir() if p.is_file() and p.name != "provenance.csv" and _is_data_file(p))
    if not files:
        raise IntakeError(f"{path}: a folder with no CFPB export in it (CSV or JSON lines, optionally gzipped)")
    return files


def _is_saved_dataset(path: Path) -> bool:
    return any((path / name).exists() for name in _SAVED_DATASET_FILES)


def _is_data_file(path: Path) -> bool:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return bool(suffixes) and suffixes[-1] in _DATA_SUFFIXES


def read_batch(path: str | Path, taxonomy: Taxonomy, today: date | None = None) -> IntakeBatch:
    """The whole of ``path`` validated and held in memory (its chunks joined), for callers that need every
    row at once (the Lambda intake stages its own chunks); raises IntakeError only for a file refused whole."""
    chunks = list(read_chunks(path, taxonomy, today=today))
    return IntakeBatch(chunks[0].source, chunks[0].source_sha256,
                       [complaint for chunk in chunks for complaint in chunk.complaints],
                       [rejection for chunk in chunks for rejection in chunk.rejections],
                       sum((chunk.redactions for chunk in chunks), Counter()))


def _validate_safely(raw: _RawRecord, taxonomy: Taxonomy, today: date, seen_ids: dict[str, int]
                     ) -> Rejection | tuple[Complaint, Counter[str]]:
    """One poison record is that record's rejection, whatever it raises; the batch carries on."""
    try:
        return _validate(raw, taxonomy, today, seen_ids)
    except Exception as error:  # noqa: BLE001 - any failure on one row is that row's, by design
        record, chars = _kept(raw.text)
        return Rejection(raw.row_number, "malformed_record",
                         f"the record could not be validated ({type(error).__name__})", "", record, chars)


def read_records(path: str | Path) -> list[tuple[int, dict[str, str] | None]]:
    """Every record of ``path`` as parsed, numbered as read_batch numbers rows (fields None when unparseable)."""
    path = Path(path)
    if not path.exists():
        raise IntakeError(f"{path}: no such file or directory")
    return [(raw.row_number, raw.fields) for raw in _records(path)]


def parse_date(value: str) -> date | None:
    value = value.strip()
    if len(value) >= 10 and value[4] == "-":
        value = value[:10]  # ISO date or datetime: the day is what the CFPB records
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


def _checked_sha256(path: Path) -> str:
    """The file's sha256 (a folder's: its data files' bytes in name order, a saved dataset's: all its files'),
    after reading each through as intake reads it, so a file over the size cap or with a broken gzip stream
    is refused whole up front."""
    digest = hashlib.sha256()
    if _is_saved_dataset(path):
        files = sorted(p for p in path.rglob("*") if p.is_file())
    else:
        files = data_files(path)
    for file in files:
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        if not _is_saved_dataset(path):
            try:
                with _open_binary(file) as stream:
                    while stream.read(1 << 20):
                        pass
            except (EOFError, zlib.error, gzip.BadGzipFile) as error:
                raise _broken_gzip(file, error) from None
    return digest.hexdigest()


class _CappedReader(io.RawIOBase):
    """A binary stream that refuses to yield more than ``cap`` bytes: decompression stays bounded."""

    def __init__(self, inner: io.BufferedIOBase, cap: int, path: Path) -> None:
        self.inner, self.cap, self.path, self.read_bytes = inner, cap, path, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.inner.read(min(len(buffer), self.cap + 1 - self.read_bytes) or 1)
        self.read_bytes += len(data)
        if self.read_bytes > self.cap:
            raise IntakeTooLarge(f"{self.path}: the file is over the limit of {self.cap:,} bytes (decompressed)")
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self.inner.close()
        super().close()


def _open_binary(path: Path) -> io.BufferedReader:
    """The file's bytes, decompressed when it is gzip, refused past MAX_FILE_BYTES."""
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    binary = gzip.open(path, "rb") if gzipped else open(path, "rb")
    return io.BufferedReader(_CappedReader(binary, MAX_FILE_BYTES, path))


def _open_text(path: Path) -> io.TextIOWrapper:
    # surrogateescape keeps undecodable bytes visible to validation instead of failing the whole file.
    return io.TextIOWrapper(_open_binary(path), encoding="utf-8-sig", errors="surrogateescape", newline="")


def _broken_gzip(path: Path, error: Exception) -> IntakeError:
    return IntakeError(f"{path}: the gzip stream is broken or truncated ({type(error).__name__})")


class _LineTooLong(Exception):
    def __init__(self, line_number: int, head: str, chars: int) -> None:
        super().__init__(line_number)
        self.line_number, self.head, self.chars = line_number, head, chars


class _Lines:
    """The stream's lines, each at most MAX_RECORD_CHARS: a longer one is read through in bounded pieces
    and raised as _LineTooLong (its head kept), and the next call carries on after it."""

    def __init__(self, stream: io.TextIOWrapper) -> None:
        self.stream, self.line_number = stream, 0

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        line = self.stream.readline(MAX_RECORD_CHARS + 1)
        if not line:
            raise StopIteration
        self.line_number += 1
        if len(line) <= MAX_RECORD_CHARS or line.endswith(("\n", "\r")):
            return line
        head, chars = line[:MAX_KEPT_RECORD_CHARS], len(line)
        while line and not line.endswith(("\n", "\r")):
            line = self.stream.readline(_READ_CHUNK_CHARS)
            chars += len(line)
        raise _LineTooLong(self.line_number, head, chars)


def _too_long(row_number: int, error: _LineTooLong) -> _RawRecord:
    return _RawRecord(row_number, None, error.head, f"line {error.line_number} is over the limit of "
                                                    f"{MAX_RECORD_CHARS:,} characters", "record_too_long", error.chars)


def _records(path: Path) -> Iterator[_RawRecord]:
    """The records of a file, a saved dataset, or a folder's files one after another (rows numbered on
    across them, so a complaint id may stand once in the whole folder)."""
    if _is_saved_dataset(path):
        yield from _dataset_records(path)
        return
    if path.is_dir():
        offset = 0
        for file in data_files(path):
            last = 0
            for raw in _records(file):
                last = raw.row_number
                yield replace(raw, row_number=offset + last)
            offset += last
        return
    suffixes = [s.lower() for s in path.suffixes]
    is_json = bool(suffixes) and (suffixes[-1] in _JSON_SUFFIXES or (suffixes[-1] == ".gz" and len(suffixes) > 1 and suffixes[-2] in _JSON_SUFFIXES))
    try:
        with _open_text(path) as stream:
            lines = _Lines(stream)
            yield from (_json_records(lines) if is_json else _csv_records(lines, path))
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise _broken_gzip(path, error) from None


def _csv_records(lines: _Lines, path: Path) -> Iterator[_RawRecord]:
    reader = csv.reader(lines)
    try:
        header = [canonical_column(name) for name in next(reader)]
    except StopIteration:
        raise IntakeError(f"{path}: no readable CSV header (empty file)") from None
    except (csv.Error, _LineTooLong):
        raise IntakeError(f"{path}: no readable CSV header (malformed or over {MAX_RECORD_CHARS:,} characters)") from None
    _require_columns(header, path)
    row_number = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except _LineTooLong as error:
            row_number += 1
            yield _too_long(row_number, error)
            continue
        except csv.Error as error:  # its messages name the dialect's characters and limits, never a value
            row_number += 1
            yield _RawRecord(row_number, None, parse_error=f"malformed CSV record ending at line {lines.line_number}: "
                                                           f"{_safe(str(error))}")
            continue
        if not values:
            continue  # a blank line is not a record
        row_number += 1
        text = ",".join(values)
        if len(values) != len(header):
            yield _RawRecord(row_number, None, text, f"malformed CSV record ending at line {lines.line_number}: "
                                                     f"{len(values)} fields, the header has {len(header)}")
        else:
            yield _RawRecord(row_number, dict(zip(header, values)), text)


def _json_records(lines: _Lines) -> Iterator[_RawRecord]:
    row_number = 0
    while True:
        try:
            line = next(lines)
        except StopIteration:
            return
        except _LineTooLong as error:
            row_number += 1
            yield _too_long(row_number, error)
            continue
        if not line.strip():
            continue
        row_number += 1
        yield _json_record(row_number, lines.line_number, line)


def _json_record(row_number: int, line_number: int, line: str) -> _RawRecord:
    """One line's record; a line that does not parse to a flat object is a malformed record, whatever it raises."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError as error:  # its message names what was expected, never a value
        return _RawRecord(row_number, None, line, f"malformed JSON at line {line_number}: {_safe(error.msg)}")
    except (ValueError, RecursionError) as error:  # a number of thousands of digits, nesting past the stack
        return _RawRecord(row_number, None, line, f"malformed JSON at line {line_number} ({type(error).__name__})")
    if not isinstance(value, dict):
        return _RawRecord(row_number, None, line, f"line {line_number} is not a JSON object")
    nested = [key for key, v in value.items() if isinstance(v, (dict, list))]
    if nested:
        return _RawRecord(row_number, None, line, f"line {line_number}: field(s) {_names(nested)} hold an object "
                                                  f"or array, not a value")
    fields = _as_fields(value)
    missing = [column for column in REQUIRED_COLUMNS if column not in fields]
    if missing:
        return _RawRecord(row_number, None, line, f"line {line_number} lacks required field(s) {missing}")
    return _RawRecord(row_number, fields, line)


def _dataset_records(path: Path) -> Iterator[_RawRecord]:
    try:
        from datasets import DatasetDict, concatenate_datasets, load_from_disk
    except ImportError:
        raise IntakeError("reading a Hugging Face dataset needs the 'datasets' package: "
                          "pip install 'complaints-triage[train]'") from None
    try:
        dataset = load_from_disk(str(path))
    except FileNotFoundError as error:
        raise IntakeError(f"{path}: not a dataset saved with save_to_disk ({error})") from None
    if isinstance(dataset, DatasetDict):
        dataset = concatenate_datasets([dataset[split] for split in sorted(dataset)])
    _require_columns([canonical_column(name) for name in dataset.column_names], path)
    for row_number, row in enumerate(dataset, start=1):
        fields = _as_fields(row)
        yield _RawRecord(row_number, fields, json.dumps(fields, ensure_ascii=False))


def _as_fields(value: dict) -> dict[str, str]:
    return {canonical_column(str(k)): "" if v is None else str(v) for k, v in value.items()}


def _require_columns(columns: list[str], path: Path) -> None:
    """Names the missing columns and counts the ones found, never lists them: a headerless file's "header"
    is its first record."""
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    if missing:
        raise IntakeError(f"{path}: missing required column(s) {', '.join(repr(c) for c in missing)}; "
                          f"expected the CFPB export columns, found {len(columns)} column(s) without them")


def valid_complaint_id(complaint_id: str) -> bool:
    """The id rule: 1 to MAX_COMPLAINT_ID_CHARS of A-Z a-z 0-9 . _ : -, with no personal data in it. An id is
    a key, stored, logged and echoed as sent, never redacted, so redaction may find nothing in it but a bare
    number (what CFPB complaint ids are): an SSN, a phone number or a card number as an id is refused."""
    return COMPLAINT_ID_PATTERN.fullmatch(complaint_id) is not None and set(redact(complaint_id)[1]) <= {"ACCOUNT"}


def _safe(text: str, limit: int = 200) -> str:
    """A message fragment from a parser or a file's column name: redacted, bounded, escaped for one log line."""
    return ascii(redact(_SURROGATES.sub("\ufffd", text[:limit]))[0])[1:-1]


def _names(columns: list[str]) -> list[str]:
    return [_safe(column, 64) for column in columns[:20]]


def _has_undecodable(text: str) -> bool:
    """Undecodable bytes (surrogateescape) and lone surrogates from JSON escapes alike: neither is UTF-8."""
    return _SURROGATES.search(text) is not None


def _kept(text: str, chars: int | None = None) -> tuple[str, int]:
    text = _SURROGATES.sub("\ufffd", text)
    return redact(text[:MAX_KEPT_RECORD_CHARS])[0], len(text) if chars is None else chars


def _validate(raw: _RawRecord, taxonomy: Taxonomy, today: date, seen_ids: dict[str, int]
              ) -> Rejection | tuple[Complaint, Counter[str]]:
    """The record's verdict. A reason names columns, positions and limits, never a field's value: it is
    logged and stored beside the redacted record, and a raw value would carry personal data past redaction."""
    fields = raw.fields or {}
    complaint_id = fields.get(COMPLAINT_ID, "").strip()

    def reject(code: str, reason: str) -> Rejection:
        record, chars = _kept(raw.text, raw.chars)
        safe_id = complaint_id if valid_complaint_id(complaint_id) else ""
        return Rejection(raw.row_number, code, reason, safe_id, record, chars)

    if raw.fields is None:
        return reject(raw.parse_code, raw.parse_error)
    bad_columns = [column for column, value in fields.items() if _has_undecodable(value)]
    if bad_columns:
        return reject("non_utf8", f"bytes that are not UTF-8 in {_names(bad_columns)}")
    if not complaint_id:
        return reject("missing_complaint_id", "the complaint id is empty")
    if not COMPLAINT_ID_PATTERN.fullmatch(complaint_id):
        return reject("bad_complaint_id", f"the complaint id ({len(complaint_id):,} characters) is not 1 to "
                                          f"{MAX_COMPLAINT_ID_CHARS} of A-Z a-z 0-9 . _ : -")
    if not valid_complaint_id(complaint_id):
        return reject("bad_complaint_id", f"the complaint id has the shape of personal data "
                                          f"({', '.join(sorted(redact(complaint_id)[1]))}): an id is never redacted")
    if complaint_id in seen_ids:
        return reject("duplicate_complaint_id", f"the complaint id appears earlier in this batch "
                                                f"(row {seen_ids[complaint_id]})")
    narrative = fields.get(NARRATIVE, "").strip()
    if not narrative:
        return reject("empty_narrative", "the complaint narrative is empty")
    if len(narrative) > MAX_NARRATIVE_CHARS:
        return reject("narrative_too_long", f"the narrative has {len(narrative):,} characters; "
                                            f"the limit is {MAX_NARRATIVE_CHARS:,}")
    received = parse_date(fields.get(DATE_RECEIVED, ""))
    if received is None:
        return reject("bad_date", "the date received does not parse (expected YYYY-MM-DD or MM/DD/YYYY)")
    if received > today:
        return reject("future_date", f"date received {received.isoformat()} is in the future")
    product = fields.get(PRODUCT, "").strip()
    if product and taxonomy.team(product) is None:
        return reject("unknown_product", f"the product is not in taxonomy {taxonomy.version}")
    issue = fields.get(ISSUE, "").strip()
    if issue and issue not in taxonomy.issues:
        return reject("unknown_issue", f"the issue is not in taxonomy {taxonomy.version}")
    unknown_tags = taxonomy.unknown_tags(fields.get(TAGS, ""))
    if unknown_tags:
        return reject("unknown_tag", f"{len(unknown_tags)} tag(s) are not vulnerable-customer tags "
                                     f"{list(taxonomy.vulnerable_tags)}")

    counts: Counter[str] = Counter()
    narrative, found = redact(narrative)
    counts.update(found)
    attributes = {}
    for column, value in fields.items():
        if column in (COMPLAINT_ID, NARRATIVE, DATE_RECEIVED) or not value.strip():
            continue
        attributes[redact(column)[0]], found = redact(value.strip())  # a JSON key is the sender's text too
        counts.update(found)
    return Complaint(complaint_id, received, narrative, attributes, raw.row_number), counts


def validate_text(text: str, taxonomy: Taxonomy, today: date | None = None) -> IntakeBatch:
    """A one-complaint batch from a bare narrative (``complaints triage --text``), validated the same way.

    Its id is derived from the text, so triaging the same text twice finds the first allocation.
    """
    today = today or datetime.now(timezone.utc).date()
    fields = {COMPLAINT_ID: f"text-{fingerprint(text)}", NARRATIVE: text, DATE_RECEIVED: today.isoformat()}
    batch = IntakeBatch(source="--text", source_sha256=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())
    outcome = _validate_safely(_RawRecord(1, fields, text), taxonomy, today, {})
    if isinstance(outcome, Rejection):
        batch.rejections.append(outcome)
    else:
        batch.complaints.append(outcome[0])
        batch.redactions.update(outcome[1])
    return batch
