"""Intake under hostile input: generated records and files never crash it (only IntakeError refuses a file
whole), every row is accounted for, and no personal data leaves it in an error, a reason or a log line."""

import base64
import csv
import gzip
import io
import json
import logging
import tempfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import complaints.intake as intake
from complaints.intake import files
from complaints.intake import IntakeError, IntakeTooLarge, read_batch, read_records
from complaints.pipeline import TriagePipeline
from complaints.schema import COMPLAINT_ID, DATE_RECEIVED, NARRATIVE, PRODUCT, REQUIRED_COLUMNS, TAGS
from complaints.config import CONFIG_DIR
from complaints.taxonomy import Taxonomy
from data_checks.intake import check_records
from testing.lambda_container import fresh_container

COLUMNS = [COMPLAINT_ID, NARRATIVE, DATE_RECEIVED, PRODUCT, "Issue", TAGS, "State"]
PII = ["jane.doe@example.com", "555-867-5309", "123-45-6789"]
HOSTILE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def taxonomy():
    return Taxonomy.load(CONFIG_DIR / "taxonomy.yaml")


# --- generated hostile values, records and files -------------------------------------------------------------

_no_newlines = st.characters(blacklist_characters="\r\n\ufeff", blacklist_categories=("Cs",))
hostile_text = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(max_codepoint=0x1f), max_size=10),  # control characters, NUL included
    st.binary(max_size=20).map(lambda b: b.decode("utf-8", "surrogateescape")),  # bytes that are not UTF-8
    st.sampled_from(PII + ["9" * 5000, "1e999", "NaN", "[[[[", '{"a": 1}', "x" * 70, "x" * 40_000, ""]),
)
complaint_ids = st.one_of(st.sampled_from(["1", "2", "3", "a-1", " 1 ", "x" * 65, "x" * 5000, "", "1 2"]), hostile_text)
dates = st.one_of(st.sampled_from(["2020-01-31", "01/31/2020", "31/02/2020", "2999-01-01", "",
                                   (date.today() + timedelta(days=3)).isoformat()]), hostile_text)
narratives = st.one_of(st.sampled_from(["My card was charged twice.", "  ", "x" * 32_001]), hostile_text)
products = st.one_of(st.sampled_from(["Mortgage", "Credit card", "Timeshare", ""]), hostile_text)
records = st.fixed_dictionaries(
    {COMPLAINT_ID: complaint_ids, NARRATIVE: narratives, DATE_RECEIVED: dates},
    optional={PRODUCT: products, TAGS: st.one_of(st.sampled_from(["Servicemember", "Student"]), hostile_text),
              "State": hostile_text},
)
json_values = st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | hostile_text,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                        max_size=3), max_leaves=5)
poison_lines = st.one_of(
    st.integers(1, 200_000).map(lambda n: "[" * n),
    st.integers(1, 200_000).map(lambda n: '{"a": ' * n),
    st.integers(4_000, 6_000).map(lambda n: '{"Complaint ID": ' + "7" * n + "}"),
    st.text(_no_newlines, max_size=50),
    st.sampled_from(["{}", "[]", "null", "42", '"text"', '{"complaint_id": "1"}']),
)


def _json_line(record: dict) -> str:
    return json.dumps(record)


json_lines = st.lists(st.one_of(
    records.map(_json_line),
    st.tuples(records, st.dictionaries(st.sampled_from(COLUMNS), json_values, max_size=3)).map(
        lambda pair: _json_line({**pair[0], **pair[1]})),  # wrong types: numbers, objects, arrays, nulls
    poison_lines,
), max_size=12)


@st.composite
def csv_files(draw) -> bytes:
    """A CSV file's bytes: its header a shuffle of (some of) the columns, rows of hostile values, poison lines."""
    header = draw(st.one_of(st.permutations(COLUMNS), st.lists(st.sampled_from(COLUMNS + ["Extra"]), max_size=5),
                            st.lists(hostile_text, max_size=4)))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for _ in range(draw(st.integers(0, 10))):
        if draw(st.integers(0, 5)) == 0:
            out.write(draw(st.sampled_from(['"unterminated,1,2\r\n', "1,2\r\n", "\r\n", "a,\"b\"c,d\r\n",
                                            "\x00,\x00,\x00\r\n"])))
            continue
        record = draw(records)
        writer.writerow([record.get(column, draw(hostile_text)) for column in header])
    return out.getvalue().encode("utf-8", "surrogateescape")


def _read(path: Path, taxonomy) -> intake.IntakeBatch | None:
    """read_batch, with the invariants every outcome keeps; None when the file is refused whole."""
    try:
        batch = read_batch(path, taxonomy)
    except IntakeError:
        return None
    assert batch.rows == len(batch.complaints) + len(batch.rejections)
    numbers = sorted([r.row_number for r in batch.rejections])
    assert len(set(numbers)) == len(numbers) and all(1 <= n <= batch.rows for n in numbers)
    assert len(read_records(path)) == batch.rows
    for rejection in batch.rejections:
        assert rejection.complaint_id == "" or intake.COMPLAINT_ID_PATTERN.fullmatch(rejection.complaint_id)
        assert len(rejection.record) <= intake.MAX_KEPT_RECORD_CHARS and rejection.reason_code
    for complaint in batch.complaints:
        assert intake.COMPLAINT_ID_PATTERN.fullmatch(complaint.complaint_id)
    assert len({c.complaint_id for c in batch.complaints}) == len(batch.complaints)
    return batch


@HOSTILE
@given(content=csv_files())
def test_hostile_csv_files_never_crash_intake_and_every_row_is_counted(taxonomy, content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hostile.csv"
        path.write_bytes(content)
        _read(path, taxonomy)


@HOSTILE
@given(lines=json_lines, gzipped=st.booleans())
def test_hostile_json_lines_never_crash_intake_and_every_line_is_a_row(taxonomy, lines, gzipped):
    content = "\n".join(lines).encode("utf-8", "surrogatepass")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("hostile.jsonl.gz" if gzipped else "hostile.jsonl")
        path.write_bytes(gzip.compress(content) if gzipped else content)
        batch = _read(path, taxonomy)
    assert batch is not None  # a JSON-lines file has no header to refuse: every line is a row
    assert batch.rows == sum(1 for line in lines if line.strip())


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow, HealthCheck.data_too_large])
@given(lines=json_lines)
def test_the_pipeline_accounts_for_every_row_of_a_hostile_batch(deployment, taxonomy, lines):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hostile.jsonl"
        path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass"))
        batch = read_batch(path, taxonomy)
    report = TriagePipeline(deployment).triage(batch)
    assert report.rows == batch.rows == report.allocated + report.manual_triage + report.rejected


# --- poison, one row at a time -------------------------------------------------------------------------------

GOOD = {COMPLAINT_ID: "1", NARRATIVE: "My card was charged twice.", DATE_RECEIVED: "2020-01-31"}


def _jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    return path


def test_poison_lines_are_each_one_rejection_and_the_rest_carry_on(taxonomy, tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_RECORD_CHARS", 100_000)
    path = _jsonl(tmp_path / "poison.jsonl", [
        json.dumps(GOOD), "[" * 100_000, '{"Complaint ID": ' + "1" * 5_000 + "}",
        json.dumps(dict(GOOD, **{COMPLAINT_ID: "x" * 65})), json.dumps(dict(GOOD, **{COMPLAINT_ID: "a b"})),
        json.dumps(dict(GOOD, **{COMPLAINT_ID: "2", PRODUCT: {"nested": [1]}})),
        json.dumps(dict(GOOD, **{COMPLAINT_ID: "3", NARRATIVE: "lone \ud800 surrogate"})),
        json.dumps(dict(GOOD, **{COMPLAINT_ID: "4", NARRATIVE: "y" * 200_000})),
        json.dumps(dict(GOOD, **{COMPLAINT_ID: "x" * 64})),
    ])
    batch = read_batch(path, taxonomy)
    assert [(r.row_number, r.reason_code) for r in batch.rejections] == [
        (2, "malformed_record"), (3, "malformed_record"), (4, "bad_complaint_id"), (5, "bad_complaint_id"),
        (6, "malformed_record"), (7, "non_utf8"), (8, "record_too_long")]
    assert [c.complaint_id for c in batch.complaints] == ["1", "x" * 64]
    assert "64" in batch.rejections[2].reason and batch.rejections[2].complaint_id == ""
    too_long = batch.rejections[-1]
    assert "100,000" in too_long.reason and too_long.record_chars > 200_000 > intake.MAX_KEPT_RECORD_CHARS


def test_an_over_long_csv_line_is_one_rejection_and_the_next_rows_read(taxonomy, tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_RECORD_CHARS", 1_000)
    path = tmp_path / "long.csv"
    path.write_text(f"{COMPLAINT_ID},{NARRATIVE},{DATE_RECEIVED}\r\n1,fine,2020-01-31\r\n"
                    f"2,\"{'z' * 5_000}\",2020-01-31\r\n3,fine,2020-01-31\r\n")
    batch = read_batch(path, taxonomy)
    assert [(r.row_number, r.reason_code) for r in batch.rejections] == [(2, "record_too_long")]
    assert [c.complaint_id for c in batch.complaints] == ["1", "3"]


def test_a_gzip_bomb_is_refused_whole_naming_the_cap_without_inflating_it(taxonomy, tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 1_000_000)
    path = tmp_path / "bomb.jsonl.gz"
    with gzip.open(path, "wb") as handle:
        for _ in range(64):
            handle.write(b" " * (1 << 20))  # 64 MiB of nothing, a few dozen KB compressed
    with pytest.raises(IntakeTooLarge, match="1,000,000 bytes"):
        read_batch(path, taxonomy)
    truncated = tmp_path / "truncated.jsonl.gz"
    truncated.write_bytes(gzip.compress(("\n".join([json.dumps(GOOD)] * 5000)).encode())[:300])
    with pytest.raises(IntakeError, match="gzip stream is broken or truncated"):
        read_batch(truncated, taxonomy)


def test_great_expectations_agrees_with_intake_on_the_new_rules(taxonomy, tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_RECORD_CHARS", 10_000)
    path = _jsonl(tmp_path / "rules.jsonl", [
        json.dumps(GOOD), json.dumps(dict(GOOD, **{COMPLAINT_ID: "x" * 65})), json.dumps(dict(GOOD, **{COMPLAINT_ID: "a b"})),
        json.dumps(dict(GOOD, **{COMPLAINT_ID: "a b"})), "[" * 100_000, json.dumps(dict(GOOD, **{COMPLAINT_ID: "5", PRODUCT: []})),
        json.dumps(dict(GOOD, **{COMPLAINT_ID: "6", NARRATIVE: "\ud800"})), json.dumps(dict(GOOD, **{COMPLAINT_ID: "7"})),
        json.dumps(dict(GOOD, **{COMPLAINT_ID: "a:b.c_d-9"})),
    ])
    batch = read_batch(path, taxonomy)
    failed = check_records(read_records(path), taxonomy, date.today()).failed_by_row()
    assert set(failed) == {r.row_number for r in batch.rejections} == {2, 3, 4, 5, 6, 7}
    assert all("expect_column_values_to_be_null(record_error)" in failed[n] for n in (2, 3, 4, 5, 6, 7))


def test_a_column_named_twice_is_ambiguous_and_refused(taxonomy, tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text(f"{COMPLAINT_ID},{NARRATIVE},{DATE_RECEIVED},complaint_id\r\n1,fine,2020-01-31,2\r\n")
    with pytest.raises(IntakeError, match=f"column\\(s\\) \\['{COMPLAINT_ID}'\\] more than once"):
        read_batch(path, taxonomy)
    from datasets import Dataset  # the train extra: a saved dataset's columns are checked alike
    Dataset.from_list([{**GOOD, "complaint_id": "2"}]).save_to_disk(str(tmp_path / "twice-dataset"))
    with pytest.raises(IntakeError, match=f"column\\(s\\) \\['{COMPLAINT_ID}'\\] more than once"):
        read_batch(tmp_path / "twice-dataset", taxonomy)
    lines = _jsonl(tmp_path / "twice.jsonl", [
        json.dumps(GOOD), json.dumps(dict(GOOD, complaint_id="2")),  # two names of one column
        '{"Complaint ID": "3", "Complaint ID": "4", "Consumer complaint narrative": "x", "Date received": "2020-01-31"}',
        json.dumps(dict(GOOD, **{COMPLAINT_ID: "5", "Issue": float("nan")})),  # NaN and Infinity are no JSON
        json.dumps(GOOD).replace('"1"', "1e400"),  # a number that overflows would be stored as "inf"
    ])
    batch = read_batch(lines, taxonomy)
    assert [(r.row_number, r.reason_code) for r in batch.rejections] == [(n, "malformed_record") for n in (2, 3, 4, 5)]
    assert "more than once" in batch.rejections[0].reason and "more than once" in batch.rejections[1].reason
    assert [c.complaint_id for c in batch.complaints] == ["1"]


def test_what_only_looks_filled_or_dated_is_refused_with_its_reason(taxonomy, tmp_path):
    path = _jsonl(tmp_path / "looks.jsonl", [json.dumps(row) for row in [
        GOOD,
        dict(GOOD, **{COMPLAINT_ID: "2", NARRATIVE: "\u200b\u200b"}),  # zero-width spaces: '' once read as written
        dict(GOOD, **{COMPLAINT_ID: "3", NARRATIVE: "\ufeff"}),
        dict(GOOD, **{COMPLAINT_ID: "4", NARRATIVE: "\x00\x07\x1b "}),
        dict(GOOD, **{COMPLAINT_ID: "5", DATE_RECEIVED: "2020-01-31garbage"}),
        dict(GOOD, **{COMPLAINT_ID: "6", DATE_RECEIVED: "2020-01-31T99:99"}),
        dict(GOOD, **{COMPLAINT_ID: "7", DATE_RECEIVED: "2020-01-31T12:30:00Z"}),  # an ISO datetime is its day
    ]])
    batch = read_batch(path, taxonomy)
    assert [(r.row_number, r.reason_code) for r in batch.rejections] == [
        (2, "empty_narrative"), (3, "empty_narrative"), (4, "empty_narrative"), (5, "bad_date"), (6, "bad_date")]
    assert [(c.complaint_id, c.date_received) for c in batch.complaints] == [("1", date(2020, 1, 31)), ("7", date(2020, 1, 31))]
    failed = check_records(read_records(path), taxonomy, date.today()).failed_by_row()
    assert set(failed) == {2, 3, 4, 5, 6}  # Great Expectations agrees


def test_a_device_or_a_pipe_is_no_batch(taxonomy):
    with pytest.raises(IntakeError, match="not a file or a folder"):
        read_batch("/dev/zero", taxonomy)  # it never ends: read, it would spin until killed


# --- personal data never leaves intake -----------------------------------------------------------------------

def _pii_files(folder: Path) -> list[Path]:
    """PII in every column of CSV and JSON-lines files: well formed, headerless, malformed, wrong columns."""
    value = " ".join(PII)
    files = {}
    row = {column: value for column in COLUMNS}
    out = io.StringIO()
    csv.writer(out).writerows([COLUMNS, list(row.values()), [value] * 3, [value] * 20])
    files["every-column.csv"] = out.getvalue() + f'"{value}\r\n'  # wrong field counts, then an unterminated quote
    files["headerless.csv"] = "\r\n".join(",".join(PII) for _ in range(3)) + "\r\n"
    files["pii-header.csv"] = ",".join(PII + [value]) + "\r\n" + ",".join(PII + [value]) + "\r\n"
    files["wrong-columns.csv"] = f"{COMPLAINT_ID},Other\r\n{value},{value}\r\n"
    files["ids.csv"] = "".join(f"{COMPLAINT_ID},{NARRATIVE},{DATE_RECEIVED},{PRODUCT},{TAGS}\r\n" if i == 0 else
                               f"{pii},{pii},{pii},{pii},{pii}\r\n" for i, pii in enumerate([""] + PII + PII))
    files["empty.csv"] = ""
    json_rows = [row, {**row, COMPLAINT_ID: "1"}, {**row, COMPLAINT_ID: "1"}, {**row, COMPLAINT_ID: "2", PRODUCT: [value]},
                 {"complaint_id": value}, {value: value, **{c: value for c in REQUIRED_COLUMNS}},
                 {**{c: value for c in REQUIRED_COLUMNS}, value: "\ud800"}]
    files["every-column.jsonl"] = "\n".join([json.dumps(r) for r in json_rows] + [value, "{" + value, f'["{value}"]'])
    paths = []
    for name, text in files.items():
        path = folder / name
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        paths.append(path)
    gzipped = folder / "every-column.jsonl.gz"
    gzipped.write_bytes(gzip.compress(files["every-column.jsonl"].encode("utf-8", "surrogatepass")))
    return paths + [gzipped]


def _assert_no_pii(text: str, where: str) -> None:
    for pii in PII + ["jane.doe", "867-5309", "45-6789"]:
        assert pii not in text, f"{pii!r} leaked into {where}: {text!r}"


def test_no_personal_data_in_any_error_reason_or_log_line(taxonomy, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    outcomes = 0
    for path in _pii_files(tmp_path):
        try:
            batch = read_batch(path, taxonomy)
        except IntakeError as error:
            _assert_no_pii(str(error), f"the IntakeError for {path.name}")
            outcomes += 1
            continue
        for rejection in batch.rejections:
            _assert_no_pii(rejection.reason, f"a {rejection.reason_code} reason of {path.name}")
            _assert_no_pii(rejection.record, f"a kept record of {path.name}")
        for complaint in batch.complaints:  # an id is the key as sent (a phone number can be one): not checked
            _assert_no_pii(json.dumps([complaint.narrative, complaint.attributes]), path.name)
        outcomes += len(batch.rejections)
    assert outcomes >= 15
    for record in caplog.records:
        _assert_no_pii(record.getMessage() + json.dumps(getattr(record, "fields", {}), default=str), "a log line")


# --- the HTTP intake answers 4xx to what the caller can fix --------------------------------------------------

@pytest.fixture
def submit(caplog):
    from functions import submit

    caplog.set_level(logging.DEBUG)

    class Context:
        aws_request_id, function_name = "req-1", "submit"

    def post(body: str, base64_encoded: bool = False, content_type: str = "text/csv") -> tuple[int, str]:
        answer = submit.handler({"body": body, "isBase64Encoded": base64_encoded,
                                 "headers": {"Content-Type": content_type}}, Context())
        return answer["statusCode"], json.loads(answer["body"])["error"]
    with fresh_container():
        yield post


def test_the_http_intake_answers_4xx_with_a_reason_never_500(submit, caplog, monkeypatch):
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 100_000)
    headerless = "\r\n".join(",".join(PII) for _ in range(3))
    status, error = submit(headerless)
    assert status == 400 and "missing required column" in error and "/tmp" not in error
    _assert_no_pii(error, "the HTTP answer")
    assert submit("not base64!!", base64_encoded=True) == (400, "the request body is marked base64 but does "
                                                                "not decode as base64")
    assert submit("lone \ud800 surrogate")[0] == 400
    bomb = base64.b64encode(gzip.compress(b" " * 5_000_000)).decode()
    status, error = submit(bomb, base64_encoded=True, content_type="application/x-ndjson")
    assert status == 413 and "100,000 bytes" in error
    from functions.submit import MAX_BODY_BYTES
    status, error = submit("x" * (MAX_BODY_BYTES + 1))
    assert status == 413 and "inbox" in error
    assert submit("", content_type="application/x-ndjson") == (400, "the request body holds no complaints")
    for record in caplog.records:
        _assert_no_pii(record.getMessage() + json.dumps(getattr(record, "fields", {}), default=str), "a log line")
