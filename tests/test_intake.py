"""Intake on real complaints and on every kind of bad input: nothing is lost, every rejection says why."""

import gzip
import json
from datetime import date, timedelta

import pytest

import complaints.intake as intake
from complaints.intake import files
from complaints.intake import MAX_NARRATIVE_CHARS, IntakeError, IntakeTooLarge, read_batch, read_chunks, validate_text
from complaints.config import CONFIG_DIR
from complaints.taxonomy import Taxonomy
from conftest import sample, write_csv


@pytest.fixture(scope="module")
def taxonomy():
    return Taxonomy.load(CONFIG_DIR / "taxonomy.yaml")


def test_real_complaints_are_all_accepted_and_redacted(taxonomy, sample_csv):
    batch = read_batch(sample_csv, taxonomy)
    assert batch.rows == 800 and not batch.rejections
    first = batch.complaints[0]
    assert first.get("Product") and first.narrative and first.date_received.year >= 2015


def test_the_whole_shared_file_reads_without_rejections(taxonomy, cfpb_rows):
    from conftest import DATA

    batch = read_batch(DATA, taxonomy)
    assert batch.rows == len(cfpb_rows) == 11_154
    assert not batch.rejections


@pytest.fixture
def broken_rows(cfpb_rows):
    rows = [dict(r) for r in sample(cfpb_rows, 12, salt="broken")]
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    rows[1]["Consumer complaint narrative"] = "   \n\t "
    rows[2]["Consumer complaint narrative"] = "x" * 1_000_000
    rows[3]["Product"] = "Timeshare"
    rows[4]["Complaint ID"] = rows[0]["Complaint ID"]
    rows[5]["Date received"] = "31/02/2020"
    rows[6]["Date received"] = tomorrow
    rows[7]["Tags"] = "Student"
    rows[8]["Complaint ID"] = ""
    rows[9]["Consumer complaint narrative"] += " Reach me at jane@example.com or 555-867-5309."
    return rows


EXPECTED_CODES = {2: "empty_narrative", 3: "narrative_too_long", 4: "unknown_product", 5: "duplicate_complaint_id",
                  6: "bad_date", 7: "future_date", 8: "unknown_tag", 9: "missing_complaint_id"}


def test_every_bad_row_is_rejected_with_its_reason_and_the_rest_carry_on(taxonomy, broken_rows, tmp_path):
    path = write_csv(tmp_path / "broken.csv", broken_rows)
    batch = read_batch(path, taxonomy)
    assert batch.rows == len(broken_rows)
    assert {r.row_number: r.reason_code for r in batch.rejections} == EXPECTED_CODES
    assert len(batch.complaints) == len(broken_rows) - len(EXPECTED_CODES)
    too_long = next(r for r in batch.rejections if r.reason_code == "narrative_too_long")
    assert f"{MAX_NARRATIVE_CHARS:,}" in too_long.reason
    assert too_long.record_chars > 1_000_000 > len(too_long.record)
    redacted = next(c for c in batch.complaints if c.complaint_id == broken_rows[9]["Complaint ID"])
    assert "jane@example.com" not in redacted.narrative and "[EMAIL]" in redacted.narrative
    assert "[PHONE]" in redacted.narrative
    assert batch.redactions["EMAIL"] == 1


def test_malformed_csv_lines_and_non_utf8_bytes_are_rejected_not_fatal(taxonomy, cfpb_rows, tmp_path):
    good = write_csv(tmp_path / "good.csv", sample(cfpb_rows, 3)).read_bytes()
    lines = good.split(b"\r\n")
    bad_bytes = lines[2].replace(b"the", b"th\xff\xfe", 1) if b"the" in lines[2] else lines[2] + b"\xff"
    content = b"\r\n".join([lines[0], lines[1], b"1,2,3", bad_bytes, lines[3]]) + b"\r\n"
    path = tmp_path / "mixed.csv"
    path.write_bytes(content)
    batch = read_batch(path, taxonomy)
    assert batch.rows == 4
    assert [r.reason_code for r in batch.rejections] == ["malformed_record", "non_utf8"]
    assert "3 fields" in batch.rejections[0].reason
    assert "\ufffd" in batch.rejections[1].record  # kept, with the bad bytes made visible
    assert len(batch.complaints) == 2


def test_a_missing_required_column_refuses_the_file_naming_it(taxonomy, cfpb_rows, tmp_path):
    rows = [{k: v for k, v in r.items() if k != "Date received"} for r in sample(cfpb_rows, 3)]
    path = write_csv(tmp_path / "no-date.csv", rows)
    with pytest.raises(IntakeError, match="'Date received'"):
        read_batch(path, taxonomy)


def test_json_lines_with_api_field_names_gzipped(taxonomy, cfpb_rows, tmp_path):
    api_names = {"Complaint ID": "complaint_id", "Consumer complaint narrative": "complaint_what_happened",
                 "Date received": "date_received", "Product": "product", "Issue": "issue", "Tags": "tags"}
    rows = [{api_names.get(k, k): v for k, v in r.items()} for r in sample(cfpb_rows, 5)]
    path = tmp_path / "batch.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
        handle.write("{not json\n")
        handle.write(json.dumps({"complaint_id": "42"}) + "\n")
    batch = read_batch(path, taxonomy)
    assert batch.rows == 7 and len(batch.complaints) == 5
    assert [r.reason_code for r in batch.rejections] == ["malformed_record", "malformed_record"]
    assert batch.complaints[0].get("Product") == rows[0]["product"]


def test_hugging_face_dataset_saved_to_disk(taxonomy, cfpb_rows, tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = sample(cfpb_rows, 6)
    dataset = datasets.Dataset.from_list(rows)
    dataset.save_to_disk(str(tmp_path / "ds"))
    batch = read_batch(tmp_path / "ds", taxonomy)
    assert batch.rows == 6 and not batch.rejections
    assert {c.complaint_id for c in batch.complaints} == {r["Complaint ID"] for r in rows}


def test_a_folder_of_exports_reads_as_one_batch(taxonomy, cfpb_rows, recent_rows, tmp_path):
    first, second = sample(cfpb_rows, 5, salt="folder"), sample(recent_rows, 4, salt="folder")
    write_csv(tmp_path / "a.csv", first)
    write_csv(tmp_path / "b.csv", second + [dict(first[0])])  # the last row resends an id of a.csv
    (tmp_path / "provenance.csv").write_text("complaint_id,source\n1,x\n")
    (tmp_path / "README.md").write_text("not data")
    assert [p.name for p in intake.data_files(tmp_path)] == ["a.csv", "b.csv"]
    batch = read_batch(tmp_path, taxonomy)
    assert [c.complaint_id for c in batch.complaints] == [r["Complaint ID"] for r in first + second]
    [resent] = batch.rejections
    assert resent.row_number == 10 and resent.reason_code == "duplicate_complaint_id"
    assert batch.files == {"a.csv": 5, "b.csv": 5}  # records read per file, the rejected one counted
    assert batch.source_sha256 == read_batch(tmp_path, taxonomy).source_sha256
    (tmp_path / "b.csv").write_text((tmp_path / "b.csv").read_text() + "\n")
    assert read_batch(tmp_path, taxonomy).source_sha256 != batch.source_sha256  # a file changed: a new batch
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(IntakeError, match="no CFPB export"):
        read_batch(empty, taxonomy)


def test_a_missing_file_and_an_empty_file_are_refused(taxonomy, tmp_path):
    with pytest.raises(IntakeError, match="no such file"):
        read_batch(tmp_path / "nope.csv", taxonomy)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(IntakeError, match="no readable CSV header"):
        read_batch(tmp_path / "empty.csv", taxonomy)


def test_a_single_text_is_validated_like_a_row(taxonomy):
    batch = validate_text("My card 4111 1111 1111 1111 was charged twice.", taxonomy)
    assert batch.complaints[0].narrative == "My card [CARD] was charged twice."
    assert batch.complaints[0].complaint_id == validate_text("My card 4111 1111 1111 1111 was charged twice.",
                                                             taxonomy).complaints[0].complaint_id
    assert validate_text("  ", taxonomy).rejections[0].reason_code == "empty_narrative"


def test_a_file_streams_in_chunks_with_the_same_verdicts_as_read_whole(taxonomy, broken_rows, tmp_path):
    path = write_csv(tmp_path / "broken.csv", broken_rows)
    chunks = list(read_chunks(path, taxonomy, size=4))
    whole = read_batch(path, taxonomy)
    assert [chunk.rows for chunk in chunks] == [4, 4, 4]
    assert {chunk.source_sha256 for chunk in chunks} == {whole.source_sha256}
    assert [c for chunk in chunks for c in chunk.complaints] == whole.complaints
    assert [r for chunk in chunks for r in chunk.rejections] == whole.rejections
    # row 5 repeats row 1's id across the chunk boundary: the duplicate-id rule spans the whole stream
    assert {r.row_number: r.reason_code for r in chunks[1].rejections}[5] == "duplicate_complaint_id"


def test_a_file_refused_whole_is_refused_before_its_first_chunk(taxonomy, cfpb_rows, tmp_path, monkeypatch):
    rows = sample(cfpb_rows, 40)
    data = write_csv(tmp_path / "batch.csv", rows).read_bytes()
    truncated = tmp_path / "truncated.csv.gz"
    truncated.write_bytes(gzip.compress(data)[: len(gzip.compress(data)) * 3 // 4])
    with pytest.raises(IntakeError, match="gzip stream is broken"):
        next(read_chunks(truncated, taxonomy, size=1))
    monkeypatch.setattr(files, "MAX_FILE_BYTES", len(data) - 1)
    with pytest.raises(IntakeTooLarge):
        next(read_chunks(write_csv(tmp_path / "big.csv", rows), taxonomy, size=1))


def test_a_file_with_a_header_only_is_one_empty_chunk(taxonomy, tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("Complaint ID,Consumer complaint narrative,Date received\n")
    [chunk] = read_chunks(path, taxonomy)
    assert chunk.rows == 0 and chunk.source == str(path)


def test_fields_are_redacted_by_their_kind(taxonomy, cfpb_rows, tmp_path):
    """A firm of the CFPB company list is kept as it is (even one whose name looks like an address), a known
    field is searched for what any field may carry but not for names, free text for everything."""
    row = dict(cfpb_rows[0])
    row.update({"Company": "2233 Paradise Road LLC", "Sub-issue": "SSN 123-45-6789",
                "Consumer complaint narrative": "The firm refused my refund. Maria Garcia hung up on me.",
                "Agent notes": "Call Maria Garcia back"})
    path = write_csv(tmp_path / "kinds.csv", [row])
    complaint, = read_batch(path, taxonomy).complaints
    assert complaint.get("Company") == "2233 Paradise Road LLC"
    assert complaint.get("Sub-issue") == "SSN [SSN]"
    assert complaint.narrative == "The firm refused my refund. [NAME] hung up on me."
    assert complaint.get("Agent notes") == "Call [NAME] back"
