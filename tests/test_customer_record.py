"""The customer record at intake: an age or a servicemember status flags a vulnerable customer by rule, and
neither value is stored. The CFPB exports have no such field, so this is the rule's only evaluation."""

import pytest

from complaints.config import CONFIG_DIR
from complaints.customer_record import CUSTOMER_RECORD, OLDER_AMERICAN, SERVICEMEMBER_TAG
from complaints.intake import read_batch
from complaints.pipeline import TriagePipeline
from complaints.records import ALLOCATED
from complaints.routing import TO_NAME
from complaints.taxonomy import Taxonomy
from conftest import sample, write_csv


@pytest.fixture(scope="module")
def taxonomy():
    return Taxonomy.load(CONFIG_DIR / "taxonomy.yaml")


def test_the_record_tags_are_the_taxonomys_vulnerable_tags(taxonomy):
    assert {OLDER_AMERICAN, SERVICEMEMBER_TAG} <= set(taxonomy.vulnerable_tags)


@pytest.fixture
def customer_rows(cfpb_rows):
    rows = [dict(r, Tags="") for r in sample(cfpb_rows, 9, salt="customer-record")]
    values = [("63", ""), ("62", "no"), ("61", ""), ("", "yes"), ("40", "Y"), ("", ""), ("sixty", ""), ("45", "maybe"),
              ("\u00b2", "")]  # "²": a digit to str.isdigit, and no int
    for row, (age, servicemember) in zip(rows, values):
        row["customer_age"], row["servicemember"] = age, servicemember
    return rows


def test_intake_stores_the_tags_the_record_establishes_never_its_values(taxonomy, customer_rows, tmp_path):
    batch = read_batch(write_csv(tmp_path / "record.csv", customer_rows), taxonomy)
    assert [(r.row_number, r.reason_code) for r in batch.rejections] == [(7, "bad_customer_age"), (8, "bad_servicemember"),
                                                                         (9, "bad_customer_age")]
    assert all("sixty" not in r.reason and "maybe" not in r.reason for r in batch.rejections)
    assert [c.get(CUSTOMER_RECORD) for c in batch.complaints] == [
        OLDER_AMERICAN, OLDER_AMERICAN, "", SERVICEMEMBER_TAG, SERVICEMEMBER_TAG, ""]
    assert not any({"customer_age", "servicemember"} & set(c.attributes) for c in batch.complaints)


def test_a_record_that_establishes_a_tag_flags_whatever_the_text_model_says(deployment, taxonomy, customer_rows,
                                                                             tmp_path):
    batch = read_batch(write_csv(tmp_path / "record.csv", customer_rows), taxonomy)
    report = TriagePipeline(deployment).triage(batch)
    assert report.rows == 9 == report.allocated + report.manual_triage + report.rejected
    flag = next(t for t in deployment.tasks if t.role == "flag")
    for complaint in batch.complaints:
        allocation = deployment.store.get_allocation(complaint.complaint_id)
        prediction = allocation.predictions[flag.name]
        if complaint.get(CUSTOMER_RECORD):
            assert (allocation.queue, allocation.status) == (flag.queue, ALLOCATED)
            assert prediction.served_by == CUSTOMER_RECORD and prediction.label == "yes"
            assert allocation.reasons[0] == f"{flag.name} flagged by the customer record"
            assert all(reason.startswith(TO_NAME) for reason in allocation.reasons[1:])  # unsure: specialists name
            assert prediction.model_version == allocation.model_versions[flag.name]  # the model still ran
        else:
            assert prediction.served_by != CUSTOMER_RECORD
