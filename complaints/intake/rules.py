"""THE table of intake's row rules: intake rejects a record by the first rule it breaks, in table order, and
``data_checks``' Great Expectations ``intake`` suite is generated from the same table, one expectation per
rule, so the verdict and the report cannot drift apart.

A rule holds its checks (each with its reason code: the Python verdict intake applies), the columns it
reads, a description, and its expectation as plain data: the expectation's type, the frame column it reads
(a :class:`Measure`, read off the same :class:`Record`) and its arguments for a taxonomy and a day. Where GX
has no expectation for a rule (the reader's verdict, UTF-8, the id rule) the frame holds intake's own
verdict and the suite expects it null. No GX here: the core never imports it.

A reason names columns, positions and limits, never a field's value: it is logged and stored beside the
redacted record, and a raw value would carry personal data past redaction. So do the frame's values, which
Data Docs show: a narrative's length, never its text; labels redacted.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any

from complaints.customer_record import CUSTOMER_AGE, SERVICEMEMBER, age_error, servicemember_error
from complaints.intake.safe import column_names, has_undecodable
from complaints.redaction import redact
from complaints.schema import COMPLAINT_ID, DATE_RECEIVED, ISSUE, NARRATIVE, PRODUCT, TAGS
from complaints.taxonomy import Taxonomy

# The longest narrative in ten years of CFPB data we hold is about 24k characters.
MAX_NARRATIVE_CHARS = 32_000
# A complaint id is a DynamoDB key (2 KB at most) and is logged and echoed: short, and only these characters.
MAX_COMPLAINT_ID_CHARS = 64
COMPLAINT_ID_PATTERN = re.compile(rf"[A-Za-z0-9._:-]{{1,{MAX_COMPLAINT_ID_CHARS}}}")
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y")
WHOLE_RECORD = ("*",)  # what a rule reads when it reads every column


def parse_date(value: str) -> date | None:
    value = value.strip()
    if len(value) > 10 and value[4] == "-":  # an ISO datetime: the day is what the CFPB records
        try:
            return datetime.fromisoformat(value).date()
        except ValueError:
            return None
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


def valid_complaint_id(complaint_id: str) -> bool:
    """The id rule: 1 to MAX_COMPLAINT_ID_CHARS of A-Z a-z 0-9 . _ : -, with no personal data in it. An id is
    a key, stored, logged and echoed as sent, never redacted, so redaction may find nothing in it but a bare
    number (what CFPB complaint ids are): an SSN, a phone number or a card number as an id is refused."""
    return COMPLAINT_ID_PATTERN.fullmatch(complaint_id) is not None and set(redact(complaint_id)[1]) <= {"ACCOUNT"}


def tags_pattern(taxonomy: Taxonomy) -> str:
    """A comma-separated list of the taxonomy's tags, blanks allowed, as ``Taxonomy.tags`` splits it."""
    tag = "|".join(re.escape(tag) for tag in taxonomy.vulnerable_tags)
    part = rf"\s*(?:(?:{tag})\s*)?"
    return rf"^{part}(?:,{part})*$"


@dataclass(frozen=True)
class Record:
    """One record as the rules read it: the reader's fields (None when it could not parse them, with its code
    and reason) in the batch's context (the taxonomy, today, the complaint ids already seen and their rows)."""

    fields: dict[str, str] | None
    taxonomy: Taxonomy
    today: date
    seen_ids: Mapping[str, int] = field(default_factory=dict)
    parse_code: str = ""
    parse_error: str = ""

    def value(self, column: str) -> str:
        return (self.fields or {}).get(column, "").strip()

    @cached_property
    def complaint_id(self) -> str:
        return self.value(COMPLAINT_ID)

    @cached_property
    def narrative(self) -> str:
        return self.value(NARRATIVE)

    @cached_property
    def received(self) -> date | None:
        return parse_date(self.value(DATE_RECEIVED))


@dataclass(frozen=True)
class Check:
    """One of intake's checks: ``reason`` says why a record breaks it (None when it keeps it)."""

    code: str
    reason: Callable[[Record], str | None]


@dataclass(frozen=True)
class Measure:
    """A column of the suite's frame: a value read off a record (None for a blank), shown in Data Docs."""

    name: str
    read: Callable[[Record], Any]


@dataclass(frozen=True)
class Expectation:
    """A GX expectation as plain data: its type (as GX names it), the column it reads, and its arguments."""

    type: str
    column: Measure
    arguments: Callable[[Taxonomy, date], dict[str, Any]] = lambda taxonomy, today: {}


@dataclass(frozen=True)
class Rule:
    reads: tuple[str, ...]  # the CFPB columns it reads (WHOLE_RECORD: every one)
    description: str  # what a record keeps to; the expectation's description, with the codes
    checks: tuple[Check, ...]
    expectation: Expectation

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(check.code for check in self.checks))

    def breach(self, record: Record) -> tuple[str, str] | None:
        """The code and reason of the first check ``record`` breaks, None when it keeps them all."""
        for check in self.checks:
            reason = check.reason(record)
            if reason is not None:
                return check.code, reason
        return None


def _shown(value: str) -> str | None:
    """Trimmed as intake trims it, undecodable bytes made visible, None when blank."""
    return value.strip().encode("utf-8", "replace").decode("utf-8") or None


def _label(record: Record, column: str) -> str | None:
    shown = _shown(record.value(column))
    return redact(shown)[0] if shown else None


def _too_long(record: Record) -> str | None:
    return record.parse_error if record.parse_code == "record_too_long" else None


def _unparsed(record: Record) -> str | None:
    return record.parse_error if record.fields is None else None


def _not_utf8(record: Record) -> str | None:
    bad_columns = [column for column, value in (record.fields or {}).items() if has_undecodable(value)]
    return f"bytes that are not UTF-8 in {column_names(bad_columns)}" if bad_columns else None


def _breaks_id_rule(record: Record) -> str | None:
    """A blank id is missing_complaint_id's."""
    complaint_id = record.complaint_id
    if not complaint_id or valid_complaint_id(complaint_id):
        return None
    if not COMPLAINT_ID_PATTERN.fullmatch(complaint_id):
        return (f"the complaint id ({len(complaint_id):,} characters) is not 1 to {MAX_COMPLAINT_ID_CHARS} of "
                f"A-Z a-z 0-9 . _ : -")
    return (f"the complaint id has the shape of personal data ({', '.join(sorted(redact(complaint_id)[1]))}): "
            f"an id is never redacted")


def _missing_id(record: Record) -> str | None:
    return None if record.complaint_id else "the complaint id is empty"


def _repeated_id(record: Record) -> str | None:
    first = record.seen_ids.get(record.complaint_id)
    return None if first is None else f"the complaint id appears earlier in this batch (row {first})"


def _readable(text: str) -> bool:
    """Whether ``text`` has a character other than spaces, control and format characters: one of only zero-width
    spaces or a byte-order mark is empty once redaction has read it as written."""
    return any(unicodedata.category(char)[0] not in "CZ" for char in text)


def _empty_narrative(record: Record) -> str | None:
    return None if _readable(record.narrative) else "the complaint narrative is empty"


def _long_narrative(record: Record) -> str | None:
    chars = len(record.narrative)
    return f"the narrative has {chars:,} characters; the limit is {MAX_NARRATIVE_CHARS:,}" if chars > MAX_NARRATIVE_CHARS else None


def _bad_date(record: Record) -> str | None:
    return "the date received does not parse (expected YYYY-MM-DD or MM/DD/YYYY)" if record.received is None else None


def _future_date(record: Record) -> str | None:
    received = record.received
    return f"date received {received.isoformat()} is in the future" if received and received > record.today else None


def _unknown_product(record: Record) -> str | None:
    product = record.value(PRODUCT)
    unknown = product and record.taxonomy.team(product) is None
    return f"the product is not in taxonomy {record.taxonomy.version}" if unknown else None


def _unknown_issue(record: Record) -> str | None:
    issue = record.value(ISSUE)
    unknown = issue and issue not in record.taxonomy.issues
    return f"the issue is not in taxonomy {record.taxonomy.version}" if unknown else None


def _unknown_tags(record: Record) -> str | None:
    unknown = record.taxonomy.unknown_tags((record.fields or {}).get(TAGS, ""))
    tags = list(record.taxonomy.vulnerable_tags)
    return f"{len(unknown)} tag(s) are not vulnerable-customer tags {tags}" if unknown else None


_CUSTOMER_CHECKS = (Check("bad_customer_age", lambda record: age_error(record.fields or {})),
                    Check("bad_servicemember", lambda record: servicemember_error(record.fields or {})))


def _customer_record_error(record: Record) -> str | None:
    """The code of the customer-record check it breaks: an age is personal data, so the frame holds the verdict."""
    return next((check.code for check in _CUSTOMER_CHECKS if check.reason(record) is not None), None)


_RECORD_CHECKS = (Check("record_too_long", _too_long), Check("malformed_record", _unparsed),
                  Check("non_utf8", _not_utf8), Check("bad_complaint_id", _breaks_id_rule))


def _record_error(record: Record) -> str | None:
    """The code of the record check it breaks: GX has no expectation for these."""
    return next((check.code for check in _RECORD_CHECKS if check.reason(record) is not None), None)


RECORD_ERROR = Measure("record_error", _record_error)
SHOWN_COMPLAINT_ID = Measure(COMPLAINT_ID, lambda record: _shown(record.complaint_id))
NARRATIVE_CHARS = Measure("narrative_chars", lambda record: len(record.narrative) if _readable(record.narrative) else None)
DATE_RECEIVED_DAY = Measure("date_received_day", lambda record: record.received)

RULES = (
    Rule(WHOLE_RECORD, "every record has the header's fields, fits a line, is UTF-8 and has a complaint id of 1 to "
                       f"{MAX_COMPLAINT_ID_CHARS} of A-Z a-z 0-9 . _ : - without the shape of personal data",
         _RECORD_CHECKS, Expectation("expect_column_values_to_be_null", RECORD_ERROR)),
    Rule((COMPLAINT_ID,), "required: a complaint id", (Check("missing_complaint_id", _missing_id),),
         Expectation("expect_column_values_to_not_be_null", SHOWN_COMPLAINT_ID)),
    Rule((COMPLAINT_ID,), "complaint ids are unique in the batch; the first copy passes",
         (Check("duplicate_complaint_id", _repeated_id),),
         Expectation("expect_column_values_to_not_repeat", SHOWN_COMPLAINT_ID)),
    Rule((NARRATIVE,), "required: a non-empty narrative", (Check("empty_narrative", _empty_narrative),),
         Expectation("expect_column_values_to_not_be_null", NARRATIVE_CHARS)),
    Rule((NARRATIVE,), f"a narrative of at most {MAX_NARRATIVE_CHARS:,} characters",
         (Check("narrative_too_long", _long_narrative),),
         Expectation("expect_column_values_to_be_between", NARRATIVE_CHARS,
                     lambda taxonomy, today: {"min_value": 1, "max_value": MAX_NARRATIVE_CHARS})),
    Rule((DATE_RECEIVED,), "required: a date received that parses (YYYY-MM-DD or MM/DD/YYYY)",
         (Check("bad_date", _bad_date),), Expectation("expect_column_values_to_not_be_null", DATE_RECEIVED_DAY)),
    Rule((DATE_RECEIVED,), "date received is not in the future (UTC)", (Check("future_date", _future_date),),
         Expectation("expect_column_values_to_be_between", DATE_RECEIVED_DAY,
                     lambda taxonomy, today: {"max_value": today})),
    Rule((PRODUCT,), "a product of the taxonomy, when present", (Check("unknown_product", _unknown_product),),
         Expectation("expect_column_values_to_be_in_set", Measure(PRODUCT, lambda record: _label(record, PRODUCT)),
                     lambda taxonomy, today: {"value_set": sorted(taxonomy.products)})),
    Rule((ISSUE,), "an issue of the taxonomy, when present", (Check("unknown_issue", _unknown_issue),),
         Expectation("expect_column_values_to_be_in_set", Measure(ISSUE, lambda record: _label(record, ISSUE)),
                     lambda taxonomy, today: {"value_set": sorted(taxonomy.issues)})),
    Rule((TAGS,), "a comma-separated list of the taxonomy's vulnerable-customer tags",
         (Check("unknown_tag", _unknown_tags),),
         Expectation("expect_column_values_to_match_regex", Measure(TAGS, lambda record: _label(record, TAGS)),
                     lambda taxonomy, today: {"regex": tags_pattern(taxonomy)})),
    Rule((CUSTOMER_AGE, SERVICEMEMBER), f"from the customer record, when present: {CUSTOMER_AGE} in whole years "
                                        f"and {SERVICEMEMBER} yes or no (the frame holds the verdict, never the value)",
         _CUSTOMER_CHECKS, Expectation("expect_column_values_to_be_null",
                                       Measure("customer_record_error", _customer_record_error))),
)
