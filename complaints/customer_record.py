"""What the bank knows of the customer beside the complaint: two optional intake fields that make a customer
vulnerable by rule, so the vulnerable flag does not rest on the narrative alone.

- ``customer_age``: whole years from the customer record (a bank knows a date of birth); 62 or over is an
  older American, the age the CFPB's Office for Older Americans serves;
- ``servicemember``: yes or no, a servicemember, veteran or their family on the customer record.

Intake keeps neither value: it stores the vulnerable-customer tags they establish as one attribute,
``Customer record`` (an age is personal data; the tag is all triage needs). Where the record establishes a tag,
the vulnerable flag is raised whatever the text model says, and the allocation says it was the record. The CFPB
exports carry no such field, so the rule cannot be evaluated on the shared data: it is tested on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from complaints.records import TaskPrediction
from complaints.schema import POSITIVE, Complaint
from complaints.tasks import TaskSpec

CUSTOMER_AGE = "customer_age"
SERVICEMEMBER = "servicemember"
CUSTOMER_RECORD = "Customer record"  # the attribute intake stores: the tags the record establishes; and the
# ``served_by`` of a flag the record raised (the model's version and score are kept beside it)
OLDER_AMERICAN_AGE = 62
OLDER_AMERICAN, SERVICEMEMBER_TAG = "Older American", "Servicemember"  # as the taxonomy's vulnerable_tags
MAX_AGE = 130
_YES, _NO = {"yes", "y", "true", "1"}, {"no", "n", "false", "0"}


def _years(fields: Mapping[str, str]) -> int | None:
    """The customer age as whole years, None unless written in the digits 0-9 ("²" is a digit to ``isdigit``)."""
    value = fields.get(CUSTOMER_AGE, "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


def age_error(fields: Mapping[str, str]) -> str | None:
    """Why the customer age cannot be read (never its value), None when it is blank or whole years."""
    if not fields.get(CUSTOMER_AGE, "").strip():
        return None
    years = _years(fields)
    if years is None or years > MAX_AGE:
        return f"{CUSTOMER_AGE} is not a whole number of years from 0 to {MAX_AGE}"
    return None


def servicemember_error(fields: Mapping[str, str]) -> str | None:
    value = fields.get(SERVICEMEMBER, "").strip().lower()
    return f"{SERVICEMEMBER} is not yes or no" if value and value not in _YES | _NO else None


def established_tags(fields: Mapping[str, str]) -> str:
    """The vulnerable-customer tags a valid record establishes, as the CFPB's Tags column lists them."""
    tags = []
    years = _years(fields)
    if years is not None and years >= OLDER_AMERICAN_AGE:
        tags.append(OLDER_AMERICAN)
    if fields.get(SERVICEMEMBER, "").strip().lower() in _YES:
        tags.append(SERVICEMEMBER_TAG)
    return ", ".join(tags)


def record_fields(fields: Mapping[str, str]) -> set[str]:
    """The intake columns the record replaces: neither is stored, nor a sent ``Customer record``."""
    return {column for column in fields if column.strip() in (CUSTOMER_AGE, SERVICEMEMBER, CUSTOMER_RECORD)}


def by_customer_record(task: TaskSpec, complaint: Complaint, prediction: TaskPrediction) -> TaskPrediction:
    """The vulnerable flag raised where the customer record establishes a vulnerable-customer tag, even when the
    text model said no or failed; any other prediction as the model made it."""
    if task.label != "taxonomy.vulnerable" or not complaint.get(CUSTOMER_RECORD):
        return prediction
    return replace(prediction, label=POSITIVE, served_by=CUSTOMER_RECORD, error="")
