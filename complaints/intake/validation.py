"""A record's verdict: the first rule of the table it breaks rejects it (with that check's code and reason),
else it is a redacted :class:`Complaint`. Any failure while judging one record is that record's rejection
(``malformed_record``), never the batch's."""

from __future__ import annotations

from collections import Counter
from datetime import date

from complaints.customer_record import CUSTOMER_RECORD, established_tags, record_fields
from complaints.intake.files import RawRecord
from complaints.intake.rules import RULES, Record, valid_complaint_id
from complaints.intake.safe import kept
from complaints.redaction import Redactor, redact
from complaints.redaction.lexicon import is_listed_company
from complaints.schema import COMPANY, COMPLAINT_ID, DATE_RECEIVED, NARRATIVE, STRUCTURED_COLUMNS, Complaint, Rejection
from complaints.taxonomy import Taxonomy

Verdict = Rejection | tuple[Complaint, Counter[str]]  # a rejection, or the complaint and its redaction counts


def verdict(raw: RawRecord, taxonomy: Taxonomy, today: date, seen_ids: dict[str, int],
            redactor: Redactor = redact) -> Verdict:
    """One poison record is that record's rejection, whatever it raises; the batch carries on. ``redactor`` redacts
    an accepted complaint's fields (``redact``, or a cache of it: complaints/redaction/cache.py)."""
    try:
        return _judged(raw, taxonomy, today, seen_ids, redactor)
    except Exception as error:  # noqa: BLE001 - any failure on one row is that row's, by design
        record, chars = kept(raw.text)
        return Rejection(raw.row_number, "malformed_record",
                         f"the record could not be validated ({type(error).__name__})", "", record, chars)


def _judged(raw: RawRecord, taxonomy: Taxonomy, today: date, seen_ids: dict[str, int], redactor: Redactor
            ) -> Verdict:
    record = Record(raw.fields, taxonomy, today, seen_ids, raw.parse_code, raw.parse_error)
    for rule in RULES:
        breach = rule.breach(record)
        if breach is not None:
            text, chars = kept(raw.text, raw.chars)
            safe_id = record.complaint_id if valid_complaint_id(record.complaint_id) else ""
            return Rejection(raw.row_number, *breach, safe_id, text, chars)
    return _accepted(raw, record, redactor)


def _accepted(raw: RawRecord, record: Record, redactor: Redactor) -> tuple[Complaint, Counter[str]]:
    """The complaint with every text field redacted by its kind (a JSON key is the sender's text too; a listed
    firm kept as it is), and the customer record's fields replaced by the tags they establish."""
    counts: Counter[str] = Counter()
    company = record.fields.get(COMPANY, "")
    narrative, found = redactor(record.narrative, company)
    counts.update(found)
    attributes = {}
    skipped = {COMPLAINT_ID, NARRATIVE, DATE_RECEIVED} | record_fields(record.fields)
    for column, value in record.fields.items():
        if column in skipped or not value.strip():
            continue
        if column == COMPANY and is_listed_company(value):  # a firm of the CFPB company list: kept as it is
            attributes[column] = value.strip()
            continue
        attributes[redactor(column)[0]], found = redactor(value.strip(), company, column not in STRUCTURED_COLUMNS)
        counts.update(found)
    if tags := established_tags(record.fields):
        attributes[CUSTOMER_RECORD] = tags
    return Complaint(record.complaint_id, record.received, narrative, attributes, raw.row_number), counts
