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
from complaints.redaction import redact
from complaints.schema import COMPLAINT_ID, DATE_RECEIVED, NARRATIVE, Complaint, Rejection
from complaints.taxonomy import Taxonomy

Verdict = Rejection | tuple[Complaint, Counter[str]]  # a rejection, or the complaint and its redaction counts


def verdict(raw: RawRecord, taxonomy: Taxonomy, today: date, seen_ids: dict[str, int]) -> Verdict:
    """One poison record is that record's rejection, whatever it raises; the batch carries on."""
    try:
        return _judged(raw, taxonomy, today, seen_ids)
    except Exception as error:  # noqa: BLE001 - any failure on one row is that row's, by design
        record, chars = kept(raw.text)
        return Rejection(raw.row_number, "malformed_record",
                         f"the record could not be validated ({type(error).__name__})", "", record, chars)


def _judged(raw: RawRecord, taxonomy: Taxonomy, today: date, seen_ids: dict[str, int]) -> Verdict:
    record = Record(raw.fields, taxonomy, today, seen_ids, raw.parse_code, raw.parse_error)
    for rule in RULES:
        breach = rule.breach(record)
        if breach is not None:
            text, chars = kept(raw.text, raw.chars)
            safe_id = record.complaint_id if valid_complaint_id(record.complaint_id) else ""
            return Rejection(raw.row_number, *breach, safe_id, text, chars)
    return _accepted(raw, record)


def _accepted(raw: RawRecord, record: Record) -> tuple[Complaint, Counter[str]]:
    """The complaint with every text field redacted (a JSON key is the sender's text too), and the customer
    record's fields replaced by the tags they establish."""
    counts: Counter[str] = Counter()
    narrative, found = redact(record.narrative)
    counts.update(found)
    attributes = {}
    skipped = {COMPLAINT_ID, NARRATIVE, DATE_RECEIVED} | record_fields(record.fields)
    for column, value in record.fields.items():
        if column in skipped or not value.strip():
            continue
        attributes[redact(column)[0]], found = redact(value.strip())
        counts.update(found)
    if tags := established_tags(record.fields):
        attributes[CUSTOMER_RECORD] = tags
    return Complaint(record.complaint_id, record.received, narrative, attributes, raw.row_number), counts
