"""The ``intake`` suite: Great Expectations over a batch of complaints as intake parses it, reporting
on a file (``complaints validate --suite intake``) with Data Docs.

Every expectation is derived from what ``complaints/intake/`` and the taxonomy already define (required
columns, ``MAX_NARRATIVE_CHARS``, ``parse_date``, products, issues, vulnerable tags), so the two cannot
drift apart; each expectation's description names the intake reason code it stands beside. The frame
holds only what the expectations read, redacted: a narrative's length, never its text, so Data Docs
carry no personal data.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import great_expectations as gx
import pandas as pd

from complaints.intake import MAX_COMPLAINT_ID_CHARS, MAX_NARRATIVE_CHARS, parse_date, valid_complaint_id
from complaints.redaction import redact
from complaints.schema import COMPLAINT_ID, DATE_RECEIVED, ISSUE, NARRATIVE, PRODUCT, TAGS
from complaints.taxonomy import Taxonomy
from data_checks.expectations import ExpectColumnValuesToNotRepeat
from data_checks.outcome import SuiteOutcome
from data_checks.run import run_suites

SUITE = "intake"
# Columns derived from the record (snake_case, so they read apart from the CFPB export's own columns).
RECORD_ERROR = "record_error"  # why a record is not a row of the batch's fields, else empty
NARRATIVE_CHARS = "narrative_chars"  # the trimmed narrative's length; empty for a blank narrative
DATE_RECEIVED_DAY = "date_received_day"  # the day intake.parse_date reads; empty when it does not parse
FRAME_COLUMNS = (COMPLAINT_ID, NARRATIVE_CHARS, DATE_RECEIVED_DAY, PRODUCT, ISSUE, TAGS, RECORD_ERROR)

Records = list[tuple[int, dict[str, str] | None]]


def intake_suite(taxonomy: Taxonomy, today: date) -> gx.ExpectationSuite:
    expect = gx.expectations
    return gx.ExpectationSuite(SUITE, expectations=[
        expect.ExpectColumnValuesToBeNull(column=RECORD_ERROR, description=(
            "every record has the header's fields, fits a line, is UTF-8 and has a complaint id of 1 to "
            f"{MAX_COMPLAINT_ID_CHARS} of A-Z a-z 0-9 . _ : - without the shape of personal data (intake: "
            "malformed_record, record_too_long, non_utf8, bad_complaint_id)")),
        expect.ExpectColumnValuesToNotBeNull(column=COMPLAINT_ID, description=(
            "required: a complaint id (intake: missing_complaint_id)")),
        ExpectColumnValuesToNotRepeat(column=COMPLAINT_ID, description=(
            "complaint ids are unique in the batch; the first copy passes (intake: duplicate_complaint_id)")),
        expect.ExpectColumnValuesToNotBeNull(column=NARRATIVE_CHARS, description=(
            "required: a non-empty narrative (intake: empty_narrative)")),
        expect.ExpectColumnValuesToBeBetween(column=NARRATIVE_CHARS, min_value=1, max_value=MAX_NARRATIVE_CHARS,
                                             description="narrative length (intake: narrative_too_long)"),
        expect.ExpectColumnValuesToNotBeNull(column=DATE_RECEIVED_DAY, description=(
            "required: a date received that parses (intake: bad_date)")),
        expect.ExpectColumnValuesToBeBetween(column=DATE_RECEIVED_DAY, max_value=today, description=(
            "date received is not in the future (intake: future_date)")),
        expect.ExpectColumnValuesToBeInSet(column=PRODUCT, value_set=sorted(taxonomy.products), description=(
            f"products known to taxonomy {taxonomy.version}, when present (intake: unknown_product)")),
        expect.ExpectColumnValuesToBeInSet(column=ISSUE, value_set=sorted(taxonomy.issues), description=(
            f"issues known to taxonomy {taxonomy.version}, when present (intake: unknown_issue)")),
        expect.ExpectColumnValuesToMatchRegex(column=TAGS, regex=tags_pattern(taxonomy), description=(
            f"tags are vulnerable-customer tags {list(taxonomy.vulnerable_tags)} (intake: unknown_tag)")),
    ])


def tags_pattern(taxonomy: Taxonomy) -> str:
    """A comma-separated list of the taxonomy's tags, blanks allowed, as ``Taxonomy.tags`` splits it."""
    tag = "|".join(re.escape(tag) for tag in taxonomy.vulnerable_tags)
    part = rf"\s*(?:(?:{tag})\s*)?"
    return rf"^{part}(?:,{part})*$"


def intake_frame(records: Records) -> pd.DataFrame:
    """One row per record, indexed by intake's row number."""
    return pd.DataFrame([_row(fields) for _, fields in records], columns=FRAME_COLUMNS,
                        index=[number for number, _ in records])


def _row(fields: dict[str, str] | None) -> dict:
    if fields is None:
        return {RECORD_ERROR: "not a record with the header's fields"}
    undecodable = [column for column, value in fields.items() if not _is_utf8(value)]
    narrative = _text(fields.get(NARRATIVE, ""))
    complaint_id = _text(fields.get(COMPLAINT_ID, ""))
    return {
        COMPLAINT_ID: complaint_id,
        NARRATIVE_CHARS: len(narrative) if narrative else None,
        DATE_RECEIVED_DAY: parse_date(fields.get(DATE_RECEIVED, "")),
        **{column: _label(fields.get(column, "")) for column in (PRODUCT, ISSUE, TAGS)},
        RECORD_ERROR: _record_error(undecodable, complaint_id),
    }


def _record_error(undecodable: list[str], complaint_id: str | None) -> str | None:
    """Counts columns and names the rule, never quotes a value (Data Docs carry no personal data)."""
    if undecodable:
        return f"bytes that are not UTF-8 in {len(undecodable)} column(s)"
    if complaint_id and not valid_complaint_id(complaint_id):
        return "the complaint id breaks the id rule"
    return None


def _is_utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text(value: str) -> str | None:
    """Trimmed as intake trims it, undecodable bytes made visible, None when blank."""
    value = value.strip().encode("utf-8", "replace").decode("utf-8")
    return value or None


def _label(value: str) -> str | None:
    text = _text(value)
    return redact(text)[0] if text else None


def check_records(records: Records, taxonomy: Taxonomy, today: date, docs_dir: Path | None = None) -> SuiteOutcome:
    [outcome] = run_suites([(intake_suite(taxonomy, today), intake_frame(records))], docs_dir)
    return outcome

