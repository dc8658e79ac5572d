"""Reading a file into records: which files a path stands for, opening them (gzip or not) under the size
caps, and the CSV, JSON-lines and saved-dataset readers.

A file that cannot be a batch at all (missing required column, unreadable header, over ``MAX_FILE_BYTES``
once decompressed, a broken gzip stream) is refused whole with :class:`IntakeError`. A record the reader
cannot parse is still a record, with ``fields`` None and the reader's code and reason (the rules reject it).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from complaints.intake.safe import MAX_KEPT_RECORD_CHARS, column_names, safe
from complaints.schema import REQUIRED_COLUMNS, canonical_column

T = TypeVar("T")

# A file is read as a stream and refused whole past this many bytes once decompressed: a gzip bomb stops here,
# and a Lambda holds the parsed batch in memory.
MAX_FILE_BYTES = 512 * 1024 * 1024
# A line (JSON lines) or physical CSV line longer than this is rejected as `record_too_long`, read in bounded
# pieces and never held whole; well above MAX_NARRATIVE_CHARS so an over-long narrative still says so.
MAX_RECORD_CHARS = 2 * 1024 * 1024
_JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}
_DATA_SUFFIXES = {".csv", *_JSON_SUFFIXES}
# A folder holding one of these is a dataset saved with save_to_disk, read as one dataset.
_SAVED_DATASET_FILES = ("dataset_info.json", "dataset_dict.json", "state.json")
_READ_CHUNK_CHARS = 64 * 1024

csv.field_size_limit(MAX_RECORD_CHARS)


class IntakeError(ValueError):
    """The file is refused as a whole; the message says why (e.g. which required column is missing) and never
    quotes the file's content."""


class IntakeTooLarge(IntakeError):
    """The file is over MAX_FILE_BYTES once decompressed (the HTTP intake answers 413)."""


@dataclass(frozen=True)
class RawRecord:
    row_number: int
    fields: dict[str, str] | None  # None when the record could not be parsed at all
    text: str = ""
    parse_error: str = ""
    parse_code: str = "malformed_record"
    chars: int | None = None  # the record's full length, when text holds only its head
    file: str = ""  # the name of the data file (of a folder's) that holds it


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


def read_records(path: str | Path) -> list[tuple[int, dict[str, str] | None]]:
    """Every record of ``path`` as parsed, numbered as read_batch numbers rows (fields None when unparseable)."""
    return [(raw.row_number, raw.fields) for raw in records(existing(path))]


def existing(path: str | Path) -> Path:
    """``path``, where it is a file or a folder: a device or a pipe (``/dev/zero``) never ends, so is no batch."""
    path = Path(path)
    if not path.exists():
        raise IntakeError(f"{path}: no such file or directory")
    if not (path.is_file() or path.is_dir()):
        raise IntakeError(f"{path}: not a file or a folder (a device or a pipe cannot be read as a batch)")
    return path


def _is_saved_dataset(path: Path) -> bool:
    return any((path / name).exists() for name in _SAVED_DATASET_FILES)


def _is_data_file(path: Path) -> bool:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return bool(suffixes) and suffixes[-1] in _DATA_SUFFIXES


def checked_sha256(path: Path) -> str:
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


def _too_long(row_number: int, error: _LineTooLong) -> RawRecord:
    return RawRecord(row_number, None, error.head, f"line {error.line_number} is over the limit of "
                                                   f"{MAX_RECORD_CHARS:,} characters", "record_too_long", error.chars)


def records(path: Path) -> Iterator[RawRecord]:
    """The records of a file, a saved dataset, or a folder's files one after another (rows numbered on
    across them, so a complaint id may stand once in the whole folder)."""
    if _is_saved_dataset(path):
        yield from (replace(raw, file=path.name) for raw in _dataset_records(path))
        return
    if path.is_dir():
        offset = 0
        for file in data_files(path):
            last = 0
            for raw in records(file):
                last = raw.row_number
                yield replace(raw, row_number=offset + last)
            offset += last
        return
    suffixes = [s.lower() for s in path.suffixes]
    is_json = bool(suffixes) and (suffixes[-1] in _JSON_SUFFIXES or (suffixes[-1] == ".gz" and len(suffixes) > 1 and suffixes[-2] in _JSON_SUFFIXES))
    try:
        with _open_text(path) as stream:
            lines = _Lines(stream)
            yield from (replace(raw, file=path.name) for raw in (_json_records(lines) if is_json
                                                                 else _csv_records(lines, path)))
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise _broken_gzip(path, error) from None


def _csv_records(lines: _Lines, path: Path) -> Iterator[RawRecord]:
    reader = csv.reader(lines)
    try:
        header = [canonical_column(name) for name in next(reader)]
    except StopIteration:
        raise IntakeError(f"{path}: no readable CSV header (empty file)") from None
    except (csv.Error, _LineTooLong):
        raise IntakeError(f"{path}: no readable CSV header (malformed or over {MAX_RECORD_CHARS:,} characters)") from None
    _check_columns(header, path)

    def record(row_number: int, values: list[str]) -> RawRecord:
        text = ",".join(values)
        if len(values) != len(header):
            return RawRecord(row_number, None, text, f"malformed CSV record ending at line {lines.line_number}: "
                                                     f"{len(values)} fields, the header has {len(header)}")
        return RawRecord(row_number, dict(zip(header, values)), text)

    yield from _numbered(reader, lines, lambda values: not values, record)  # a blank line is not a record


def _json_records(lines: _Lines) -> Iterator[RawRecord]:
    yield from _numbered(lines, lines, lambda line: not line.strip(),
                         lambda row_number, line: _json_record(row_number, lines.line_number, line))


def _numbered(items: Iterator[T], lines: _Lines, is_blank: Callable[[T], bool],
              record: Callable[[int, T], RawRecord]) -> Iterator[RawRecord]:
    """Each item a reader takes from ``lines`` as a numbered record, blank ones skipped. A line over the limit, or
    a CSV record the reader cannot parse, is a record too: rejected with its reason, and reading goes on."""
    row_number = 0
    while True:
        try:
            item = next(items)
        except StopIteration:
            return
        except _LineTooLong as error:
            row_number += 1
            yield _too_long(row_number, error)
            continue
        except csv.Error as error:  # its messages name the dialect's characters and limits, never a value
            row_number += 1
            yield RawRecord(row_number, None, parse_error=f"malformed CSV record ending at line {lines.line_number}: "
                                                          f"{safe(str(error))}")
            continue
        if not is_blank(item):
            row_number += 1
            yield record(row_number, item)


def _json_record(row_number: int, line_number: int, line: str) -> RawRecord:
    """One line's record; a line that does not parse to a flat object is a malformed record, whatever it raises."""
    try:
        value = json.loads(line, object_pairs_hook=_json_object, parse_constant=_not_a_number, parse_float=_finite)
    except json.JSONDecodeError as error:  # its message names what was expected, never a value
        return RawRecord(row_number, None, line, f"malformed JSON at line {line_number}: {safe(error.msg)}")
    except _RepeatedFields as error:
        return RawRecord(row_number, None, line, f"line {line_number}: field(s) {column_names(error.columns)} given "
                                                 f"more than once; which one holds the value is ambiguous")
    except (ValueError, RecursionError) as error:  # a number of thousands of digits, nesting past the stack
        return RawRecord(row_number, None, line, f"malformed JSON at line {line_number} ({type(error).__name__})")
    if not isinstance(value, dict):
        return RawRecord(row_number, None, line, f"line {line_number} is not a JSON object")
    nested = [key for key, v in value.items() if isinstance(v, (dict, list))]
    if nested:
        return RawRecord(row_number, None, line, f"line {line_number}: field(s) {column_names(nested)} hold an "
                                                 f"object or array, not a value")
    fields = _as_fields(value)
    missing = [column for column in REQUIRED_COLUMNS if column not in fields]
    if missing:
        return RawRecord(row_number, None, line, f"line {line_number} lacks required field(s) {missing}")
    return RawRecord(row_number, fields, line)


def _dataset_records(path: Path) -> Iterator[RawRecord]:
    """A saved dataset's rows (a DatasetDict's splits one after another, in name order); a class label is read as
    its name, as a CSV would carry it."""
    try:
        from datasets import ClassLabel, DatasetDict, concatenate_datasets, load_from_disk
    except ImportError:
        raise IntakeError("reading a Hugging Face dataset needs the 'datasets' package: "
                          "pip install 'complaints-triage[train]'") from None
    try:
        dataset = load_from_disk(str(path))
    except FileNotFoundError as error:
        raise IntakeError(f"{path}: not a dataset saved with save_to_disk ({error})") from None
    if isinstance(dataset, DatasetDict):
        dataset = concatenate_datasets([dataset[split] for split in sorted(dataset)])
    _check_columns([canonical_column(name) for name in dataset.column_names], path)
    labels = {column: feature for column, feature in dataset.features.items() if isinstance(feature, ClassLabel)}
    for row_number, row in enumerate(dataset, start=1):
        fields = _as_fields({column: _class_name(labels[column], value) if column in labels else value
                             for column, value in row.items()})
        yield RawRecord(row_number, fields, json.dumps(fields, ensure_ascii=False))


def _class_name(feature, value: int | None) -> str | None:
    """A class label's name; None for none (None, or -1: datasets' mark of an unlabelled row)."""
    return feature.int2str(value) if value is not None and value >= 0 else None


def _repeated(columns: list[str]) -> list[str]:
    """The columns named more than once ("Complaint ID" and "complaint_id" are one column)."""
    return sorted(column for column, n in Counter(columns).items() if n > 1)


class _RepeatedFields(ValueError):
    def __init__(self, columns: list[str]) -> None:
        super().__init__("repeated fields")
        self.columns = columns


def _json_object(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object that names each column once: ``{"a": 1, "a": 2}`` or "Complaint ID" beside "complaint_id" is
    refused, where ``json`` would keep the last."""
    if repeated := _repeated([canonical_column(key) for key, _ in pairs]):
        raise _RepeatedFields(repeated)
    return dict(pairs)


def _not_a_number(constant: str) -> float:
    raise ValueError(f"{constant} is no JSON number")


def _finite(number: str) -> float:
    """A JSON number as a float, refused when it overflows (``1e400`` would be stored as "inf")."""
    value = float(number)
    if not math.isfinite(value):
        raise ValueError("a number out of range")
    return value


def _as_fields(value: dict) -> dict[str, str]:
    return {canonical_column(str(k)): "" if v is None else str(v) for k, v in value.items()}


def _check_columns(columns: list[str], path: Path) -> None:
    """A file's columns (canonical names) hold the required ones, each once. Names the missing columns and counts
    the ones found, never lists them: a headerless file's "header" is its first record."""
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    if missing:
        raise IntakeError(f"{path}: missing required column(s) {', '.join(repr(c) for c in missing)}; "
                          f"expected the CFPB export columns, found {len(columns)} column(s) without them")
    if repeated := _repeated(columns):
        raise IntakeError(f"{path}: the header names column(s) {column_names(repeated)} more than once; which one "
                          f"holds the value is ambiguous")
