"""The complaint as it enters the system: CFPB export columns and the validated, redacted record."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date

# Column names of the CFPB Consumer Complaint Database export (CSV download).
COMPLAINT_ID = "Complaint ID"
NARRATIVE = "Consumer complaint narrative"
DATE_RECEIVED = "Date received"
PRODUCT = "Product"
SUB_PRODUCT = "Sub-product"
ISSUE = "Issue"
SUB_ISSUE = "Sub-issue"
TAGS = "Tags"
COMPANY = "Company"

REQUIRED_COLUMNS = (COMPLAINT_ID, NARRATIVE, DATE_RECEIVED)
# The two labels of a flag task (vulnerable customer: yes or no).
POSITIVE, NEGATIVE = "yes", "no"

# The CFPB search API (and datasets built from it) name the same fields in snake_case.
API_FIELD_NAMES = {
    "complaint_id": COMPLAINT_ID,
    "complaint_what_happened": NARRATIVE,
    "date_received": DATE_RECEIVED,
    "product": PRODUCT,
    "sub_product": SUB_PRODUCT,
    "issue": ISSUE,
    "sub_issue": SUB_ISSUE,
    "company": COMPANY,
    "state": "State",
    "zip_code": "ZIP code",
    "tags": TAGS,
    "submitted_via": "Submitted via",
    "company_public_response": "Company public response",
    "consumer_consent_provided": "Consumer consent provided?",
    "date_sent_to_company": "Date sent to company",
    "company_response": "Company response to consumer",
    "timely": "Timely response?",
    "consumer_disputed": "Consumer disputed?",
}


# The export's fields of a known kind (the firm, a state, dates, the CFPB's categories and canned responses):
# redaction searches them for what any field may carry, never for names (complaints/redaction).
STRUCTURED_COLUMNS = frozenset(API_FIELD_NAMES.values()) - {NARRATIVE}


def canonical_column(name: str) -> str:
    """Map an API field name onto its CFPB export column; export names pass through."""
    return API_FIELD_NAMES.get(name.strip(), name.strip())


@dataclass(frozen=True)
class Complaint:
    """A validated complaint whose every text field is already redacted."""

    complaint_id: str
    date_received: date
    narrative: str
    attributes: dict[str, str] = field(default_factory=dict)  # the other CFPB columns, by export name
    row_number: int = 0  # where intake read it (1-based); not content, so not part of content_hash

    def get(self, column: str) -> str:
        return self.attributes.get(column, "")

    @property
    def content_hash(self) -> str:
        """Identity of the content, so that re-sending the same complaint is recognised as such."""
        payload = json.dumps(
            [self.complaint_id, self.date_received.isoformat(), self.narrative, sorted(self.attributes.items())],
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class Rejection:
    """An input row that could not be triaged, kept with the reason so nothing is lost."""

    row_number: int  # 1-based position among the file's data records
    reason_code: str
    reason: str
    complaint_id: str = ""
    record: str = ""  # the redacted input record, truncated to MAX_KEPT_RECORD_CHARS
    record_chars: int = 0
