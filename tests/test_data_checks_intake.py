"""The `intake` suite and its gate on real complaints and deliberately broken files: Great Expectations and
complaints/intake.py agree row for row, and the pipeline quarantines what fails while the rest carries on."""

import csv
import io
import re
from collections import Counter
from datetime import date, timedelta

import pytest

from complaints.intake import FAILED_EXPECTATIONS, read_batch, read_records
from complaints.pipeline import TriagePipeline
from complaints.settings import CONFIG_DIR
from complaints.taxonomy import Taxonomy
from conftest import sample, write_csv
from data_checks.intake import check_records, intake_gate, tags_pattern

# The expectation each intake reason code stands beside.
EXPECTATION_OF = {
    "malformed_record": "expect_column_values_to_be_null(record_error)",
    "non_utf8": "expect_column_values_to_be_null(record_error)",
    "missing_complaint_id": "expect_column_values_to_not_be_null(Complaint ID)",
    "duplicate_complaint_id": "expect_column_values_to_not_repeat(Complaint ID)",
    "empty_narrative": "expect_column_values_to_not_be_null(narrative_chars)",
    "narrative_too_long": "expect_column_values_to_be_between(narrative_chars)",
    "bad_date": "expect_column_values_to_not_be_null(date_received_day)",
    "future_date": "expect_column_values_to_be_between(date_received_day)",
    "unknown_product": "expect_column_values_to_be_in_set(Product)",
    "unknown_tag": "expect_column_values_to_match_regex(Tags)",
}


@pytest.fixture(scope="module")
def taxonomy():
    return Taxonomy.load(CONFIG_DIR / "taxonomy.yaml")


@pytest.fixture
def broken_csv(cfpb_rows, tmp_path):
    """Real complaints with one broken row per intake rule, an unparseable line and bytes that are not UTF-8."""
    rows = [dict(r) for r in sample(cfpb_rows, 14, salt="gx-broken")]
    rows[1]["Consumer complaint narrative"] = "  \t "
    rows[2]["Consumer complaint narrative"] = "x" * 40_000
    rows[3]["Product"] = "Timeshare"
    rows[4]["Complaint ID"] = rows[0]["Complaint ID"]
    rows[5]["Date received"] = "31/02/2020"
    rows[6]["Date received"] = (date.today() + timedelta(days=2)).isoformat()
    rows[7]["Tags"] = "Older American, Student"
    rows[8]["Complaint ID"] = "  "
    rows[9]["Tags"] = " Servicemember ,Older American"  # valid: intake trims each tag
    path = write_csv(tmp_path / "broken.csv", rows)
    undecodable = io.StringIO()
    csv.DictWriter(undecodable, fieldnames=list(rows[0])).writerow(
        dict(rows[10], **{"Complaint ID": "9900001", "Consumer complaint narrative": "NARRATIVE"}))
    with open(path, "ab") as handle:
        handle.write(b"1,2,3\r\n")
        handle.write(undecodable.getvalue().encode().replace(b"NARRATIVE", b"bytes \xff\xfe that are not UTF-8"))
    return path


def test_great_expectations_and_intake_agree_row_for_row(taxonomy, broken_csv):
    batch = read_batch(broken_csv, taxonomy)
    outcome = check_records(read_records(broken_csv), taxonomy, date.today())
    failed = outcome.failed_by_row()
    assert not outcome.success
    assert set(failed) == {r.row_number for r in batch.rejections} == {2, 3, 4, 5, 6, 7, 8, 9, 15, 16}
    for rejection in batch.rejections:
        assert EXPECTATION_OF[rejection.reason_code] in failed[rejection.row_number], rejection
    assert outcome.rows == batch.rows == 16


def test_the_gate_quarantines_failing_rows_naming_the_expectations_and_keeps_the_rest(taxonomy, cfpb_rows, tmp_path):
    rows = [dict(r) for r in sample(cfpb_rows, 10, salt="gx-gate")]
    rows[2]["Issue"] = "Spaceship trouble"  # intake alone accepts an unknown issue; the suite does not
    rows[5]["Consumer complaint narrative"] = ""
    path = write_csv(tmp_path / "batch.csv", rows)
    batch = read_batch(path, taxonomy, gate=intake_gate(taxonomy))
    assert batch.rows == 10 and len(batch.complaints) == 8
    quarantined = {r.row_number: r for r in batch.rejections}
    assert quarantined[3].reason_code == FAILED_EXPECTATIONS
    assert quarantined[3].reason == "failed expectations: expect_column_values_to_be_in_set(Issue)"
    assert quarantined[3].complaint_id == rows[2]["Complaint ID"] and "Spaceship trouble" in quarantined[3].record
    assert quarantined[6].reason_code == "empty_narrative"
    assert quarantined[6].reason.endswith("failed expectations: expect_column_values_to_not_be_null(narrative_chars)")
    assert rows[2]["Complaint ID"] not in {c.complaint_id for c in batch.complaints}


def test_the_pipeline_stores_quarantined_rows_and_triages_the_rest(deployment, taxonomy, broken_csv):
    batch = read_batch(broken_csv, taxonomy, gate=intake_gate(taxonomy))
    report = TriagePipeline(deployment).triage(batch)
    assert report.rows == 16 == report.allocated + report.manual_triage + report.rejected
    assert report.rejected == 10 and report.allocated + report.manual_triage == 6
    stored = deployment.store.list_rejections(report.batch_id)
    assert [r.row_number for r in stored] == [2, 3, 4, 5, 6, 7, 8, 9, 15, 16]
    assert all("failed expectations: " in r.reason for r in stored)
    assert report.rejected_reasons == Counter({code: 1 for code in (
        "empty_narrative", "narrative_too_long", "unknown_product", "duplicate_complaint_id", "bad_date",
        "future_date", "unknown_tag", "missing_complaint_id", "malformed_record", "non_utf8")})


def test_the_tags_expectation_reads_tags_as_the_taxonomy_does(taxonomy):
    pattern = re.compile(tags_pattern(taxonomy))
    for value in ["Older American", "Servicemember", "Older American, Servicemember", " Servicemember ,",
                  "Older American,,Servicemember", "Student", "Older American, Student", "older american",
                  "Older American Servicemember", "Servicemember;Older American"]:
        assert bool(pattern.search(value)) == (not taxonomy.unknown_tags(value)), value
