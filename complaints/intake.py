"""Read a batch of complaints in the CFPB export format and validate each row.

Every input record ends up either as a redacted :class:`Complaint` or as a :class:`Rejection` that
keeps the (redacted) record and the reason, so ``rows == len(complaints) + len(rejections)`` always.
A file that cannot be a batch at all (missing required column, unreadable header) is refused whole
with :class:`IntakeError`, before anything is stored. These row rules are the one verdict on every path
(CLI, Lambda, training); ``data_checks``' Great Expectations ``intake`` suite mirrors them row for row to
report on a file and write Data Docs, never to decide differently.

Formats: CSV and JSON lines (optionally gzip-compressed; CFPB export column names or the CFPB API's
snake_case field names) and Hugging Face ``datasets`` saved with ``save_to_disk``.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
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
_JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y")

csv.field_size_limit(16 * 1024 * 1024)


class IntakeError(ValueError):
    """The file is refused as a whole; the message says why (e.g. which required column is missing)."""


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


def read_batch(path: str | Path, taxonomy: Taxonomy, today: date | None = None) -> IntakeBatch:
    """Read and validate every record of ``path``; raises IntakeError only for a file refused whole."""
    path = Path(path)
    if not path.exists():
        raise IntakeError(f"{path}: no such file or directory")
    today = today or datetime.now(timezone.utc).date()
    batch = IntakeBatch(source=str(path), source_sha256=_sha256(path))
    seen_ids: set[str] = set()  # an id may stand once in a batch: a later copy is rejected, accepted first or not
    for raw in _records(path):
        outcome = _validate(raw, taxonomy, today, seen_ids)
        if raw.fields is not None:
            seen_ids.add(raw.fields.get(COMPLAINT_ID, "").strip())
        if isinstance(outcome, Rejection):
            batch.rejections.append(outcome)
        else:
            complaint, counts = outcome
            batch.complaints.append(complaint)
            batch.redactions.update(counts)
    return batch


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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _open_text(path: Path) -> io.TextIOWrapper:
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    binary = gzip.open(path, "rb") if gzipped else open(path, "rb")
    # surrogateescape keeps undecodable bytes visible to validation instead of failing the whole file.
    return io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape", newline="")


def _records(path: Path) -> Iterator[_RawRecord]:
    if path.is_dir():
        yield from _dataset_records(path)
        return
    suffixes = [s.lower() for s in path.suffixes]
    is_json = bool(suffixes) and (suffixes[-1] in _JSON_SUFFIXES or (suffixes[-1] == ".gz" and len(suffixes) > 1 and suffixes[-2] in _JSON_SUFFIXES))
    with _open_text(path) as stream:
        yield from (_json_records(stream) if is_json else _csv_records(stream, path))


def _csv_records(stream: io.TextIOWrapper, path: Path) -> Iterator[_RawRecord]:
    reader = csv.reader(stream)
    try:
        header = [canonical_column(name) for name in next(reader)]
    except (StopIteration, csv.Error) as error:
        raise IntakeError(f"{path}: no readable CSV header ({error or 'empty file'})") from None
    _require_columns(header, path)
    row_number = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            row_number += 1
            yield _RawRecord(row_number, None, parse_error=f"malformed CSV record ending at line {reader.line_num}: {error}")
            continue
        if not values:
            continue  # a blank line is not a record
        row_number += 1
        text = ",".join(values)
        if len(values) != len(header):
            yield _RawRecord(row_number, None, text, f"malformed CSV record ending at line {reader.line_num}: "
                                                     f"{len(values)} fields, the header has {len(header)}")
        else:
            yield _RawRecord(row_number, dict(zip(header, values)), text)


def _json_records(stream: io.TextIOWrapper) -> Iterator[_RawRecord]:
    row_number = 0
    for line_number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        row_number += 1
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            yield _RawRecord(row_number, None, line, f"malformed JSON at line {line_number}: {error.msg}")
            continue
        if not isinstance(value, dict):
            yield _RawRecord(row_number, None, line, f"line {line_number} is not a JSON object")
            continue
        fields = _as_fields(value)
        missing = [column for column in REQUIRED_COLUMNS if column not in fields]
        if missing:
            yield _RawRecord(row_number, None, line, f"line {line_number} lacks required field(s) {missing}")
        else:
            yield _RawRecord(row_number, fields, line)


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
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    if missing:
        raise IntakeError(f"{path}: missing required column(s) {', '.join(repr(c) for c in missing)}; "
                          f"expected the CFPB export columns, found {columns}")


def _has_undecodable(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _kept(text: str) -> tuple[str, int]:
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return redact(text[:MAX_KEPT_RECORD_CHARS])[0], len(text)


def _validate(raw: _RawRecord, taxonomy: Taxonomy, today: date, seen_ids: set[str]
              ) -> Rejection | tuple[Complaint, Counter[str]]:
    fields = raw.fields or {}
    complaint_id = fields.get(COMPLAINT_ID, "").strip()

    def reject(code: str, reason: str) -> Rejection:
        record, chars = _kept(raw.text)
        safe_id = complaint_id if not _has_undecodable(complaint_id) else ""
        return Rejection(raw.row_number, code, reason, safe_id, record, chars)

    if raw.fields is None:
        return reject("malformed_record", raw.parse_error)
    bad_columns = [column for column, value in fields.items() if _has_undecodable(value)]
    if bad_columns:
        return reject("non_utf8", f"bytes that are not UTF-8 in {bad_columns}")
    if not complaint_id:
        return reject("missing_complaint_id", "the complaint id is empty")
    if complaint_id in seen_ids:
        return reject("duplicate_complaint_id", f"complaint id {complaint_id} appears earlier in this batch")
    narrative = fields.get(NARRATIVE, "").strip()
    if not narrative:
        return reject("empty_narrative", "the complaint narrative is empty")
    if len(narrative) > MAX_NARRATIVE_CHARS:
        return reject("narrative_too_long", f"the narrative has {len(narrative):,} characters; "
                                            f"the limit is {MAX_NARRATIVE_CHARS:,}")
    received = parse_date(fields.get(DATE_RECEIVED, ""))
    if received is None:
        return reject("bad_date", f"date received {fields.get(DATE_RECEIVED, '')!r} does not parse "
                                  f"(expected YYYY-MM-DD or MM/DD/YYYY)")
    if received > today:
        return reject("future_date", f"date received {received.isoformat()} is in the future")
    product = fields.get(PRODUCT, "").strip()
    if product and taxonomy.team(product) is None:
        return reject("unknown_product", f"product {product!r} is not in taxonomy {taxonomy.version}")
    issue = fields.get(ISSUE, "").strip()
    if issue and issue not in taxonomy.issues:
        return reject("unknown_issue", f"issue {issue!r} is not in taxonomy {taxonomy.version}")
    unknown_tags = taxonomy.unknown_tags(fields.get(TAGS, ""))
    if unknown_tags:
        return reject("unknown_tag", f"tags {unknown_tags} are not vulnerable-customer tags {list(taxonomy.vulnerable_tags)}")

    counts: Counter[str] = Counter()
    narrative, found = redact(narrative)
    counts.update(found)
    attributes = {}
    for column, value in fields.items():
        if column in (COMPLAINT_ID, NARRATIVE, DATE_RECEIVED) or not value.strip():
            continue
        attributes[column], found = redact(value.strip())
        counts.update(found)
    return Complaint(complaint_id, received, narrative, attributes), counts


def validate_text(text: str, taxonomy: Taxonomy, today: date | None = None) -> IntakeBatch:
    """A one-complaint batch from a bare narrative (``complaints triage --text``), validated the same way.

    Its id is derived from the text, so triaging the same text twice finds the first allocation.
    """
    today = today or datetime.now(timezone.utc).date()
    fields = {COMPLAINT_ID: f"text-{fingerprint(text)}", NARRATIVE: text, DATE_RECEIVED: today.isoformat()}
    batch = IntakeBatch(source="--text", source_sha256=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())
    outcome = _validate(_RawRecord(1, fields, text), taxonomy, today, set())
    if isinstance(outcome, Rejection):
        batch.rejections.append(outcome)
    else:
        batch.complaints.append(outcome[0])
        batch.redactions.update(outcome[1])
    return batch
