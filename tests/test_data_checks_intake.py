"""The `intake` suite on real complaints and deliberately broken files: Great Expectations and
complaints/intake/ agree row for row, so the suite's report never tells a different story from the verdict
every path (CLI, Lambda, training) takes, and the pipeline stores what intake rejects while the rest carries on."""

import csv
import io
import re
from collections import Counter
from datetime import date, timedelta

import pytest

from complaints.intake import read_batch, read_records
from complaints.intake.rules import RULES, tags_pattern
from complaints.pipeline import TriagePipeline
from complaints.config import CONFIG_DIR
from complaints.taxonomy import Taxonomy
from conftest import sample, write_csv
from data_checks.intake import check_records, intake_suite

# The expectation each intake reason code stands beside.
EXPECTATION_OF = {
    "record_too_long": "expect_column_values_to_be_null(record_error)",
    "malformed_record": "expect_column_values_to_be_null(record_error)",
    "non_utf8": "expect_column_values_to_be_null(record_error)",
    "bad_complaint_id": "expect_column_values_to_be_null(record_error)",
    "missing_complaint_id": "expect_column_values_to_not_be_null(Complaint ID)",
    "duplicate_complaint_id": "expect_column_values_to_not_repeat(Complaint ID)",
    "empty_narrative": "expect_column_values_to_not_be_null(narrative_chars)",
    "narrative_too_long": "expect_column_values_to_be_between(narrative_chars)",
    "bad_date": "expect_column_values_to_not_be_null(date_received_day)",
    "future_date": "expect_column_values_to_be_between(date_received_day)",
    "unknown_product": "expect_column_values_to_be_in_set(Product)",
    "unknown_issue": "expect_column_values_to_be_in_set(Issue)",
    "unknown_tag": "expect_column_values_to_match_regex(Tags)",
    "bad_customer_age": "expect_column_values_to_be_null(customer_record_error)",
    "bad_servicemember": "expect_column_values_to_be_null(customer_record_error)",
}


@pytest.fixture(scope="module")
def taxonomy():
    return Taxonomy.load(CONFIG_DIR / "taxonomy.yaml")


@pytest.fixture
def broken_csv(cfpb_rows, tmp_path):
    """Real complaints with one broken row per intake rule, an unparseable line and bytes that are not UTF-8."""
    rows = [dict(r, customer_age="", servicemember="") for r in sample(cfpb_rows, 17, salt="gx-broken")]
    rows[1]["Consumer complaint narrative"] = "  \t "
    rows[2]["Consumer complaint narrative"] = "x" * 40_000
    rows[3]["Product"] = "Timeshare"
    rows[4]["Complaint ID"] = rows[0]["Complaint ID"]
    rows[5]["Date received"] = "31/02/2020"
    rows[6]["Date received"] = (date.today() + timedelta(days=2)).isoformat()
    rows[7]["Tags"] = "Older American, Student"
    rows[8]["Complaint ID"] = "  "
    rows[9]["Tags"] = " Servicemember ,Older American"  # valid: intake trims each tag
    rows[11]["Issue"] = "Spaceship trouble"
    rows[12]["Complaint ID"] = "512-38-4721"  # the id rule's characters, the shape of an SSN
    rows[13]["Complaint ID"] = rows[1]["Complaint ID"]  # a copy of a rejected row's id: one id, one row a batch
    rows[14]["customer_age"] = "67"  # valid: an older American by the customer record
    rows[15]["customer_age"] = "sixty-seven"
    rows[16]["servicemember"] = "perhaps"
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
    assert set(failed) == {r.row_number for r in batch.rejections} == {2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 16, 17, 18, 19}
    for rejection in batch.rejections:
        assert EXPECTATION_OF[rejection.reason_code] in failed[rejection.row_number], rejection
    assert {r.reason_code for r in batch.rejections} == set(EXPECTATION_OF) - {"record_too_long"}  # every rule
    assert outcome.rows == batch.rows == 19


def test_the_pipeline_stores_rejected_rows_and_triages_the_rest(deployment, taxonomy, broken_csv):
    batch = read_batch(broken_csv, taxonomy)
    report = TriagePipeline(deployment).triage(batch)
    assert report.rows == 19 == report.allocated + report.manual_triage + report.rejected
    assert report.rejected == 15 and report.allocated + report.manual_triage == 4
    stored = deployment.store.list_rejections(report.batch_id)
    assert [r.row_number for r in stored] == [2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 16, 17, 18, 19]
    assert report.rejected_reasons == Counter({**{code: 1 for code in (
        "empty_narrative", "narrative_too_long", "unknown_product", "bad_date", "future_date", "unknown_tag",
        "missing_complaint_id", "unknown_issue", "malformed_record", "non_utf8", "bad_complaint_id",
        "bad_customer_age", "bad_servicemember")},
        "duplicate_complaint_id": 2})


def test_the_tags_expectation_reads_tags_as_the_taxonomy_does(taxonomy):
    pattern = re.compile(tags_pattern(taxonomy))
    for value in ["Older American", "Servicemember", "Older American, Servicemember", " Servicemember ,",
                  "Older American,,Servicemember", "Student", "Older American, Student", "older american",
                  "Older American Servicemember", "Servicemember;Older American"]:
        assert bool(pattern.search(value)) == (not taxonomy.unknown_tags(value)), value


def test_the_suite_is_generated_from_the_rule_table_one_expectation_per_rule(taxonomy):
    suite = intake_suite(taxonomy, date(2024, 6, 1))
    assert len(suite.expectations) == len(RULES) == 11
    for rule, expectation in zip(RULES, suite.expectations):
        assert (expectation.expectation_type, expectation.column) == (rule.expectation.type, rule.expectation.column.name)
        assert all(code in expectation.description for code in rule.codes)
    codes = [code for rule in RULES for code in rule.codes]
    assert len(codes) == len(set(codes)) and set(codes) == set(EXPECTATION_OF)  # each code stands in one rule
    assert {code: f"{rule.expectation.type}({rule.expectation.column.name})" for rule in RULES
            for code in rule.codes} == EXPECTATION_OF
