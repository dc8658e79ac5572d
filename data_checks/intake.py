"""The ``intake`` suite: Great Expectations over a batch of complaints as intake parses it, reporting
on a file (``complaints validate --suite intake``) with Data Docs.

Generated from intake's rule table (``complaints/intake/rules.py``): one expectation per rule, its type,
column and arguments as the rule holds them, its description naming the intake reason codes it stands
beside, so the suite and intake's verdict cannot drift apart. The frame holds only the columns those
expectations read, read off each record as the rules read it: a narrative's length, never its text, and
labels redacted, so Data Docs carry no personal data.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import great_expectations as gx
import pandas as pd
from great_expectations.expectations.registry import get_expectation_impl

import data_checks.expectations  # noqa: F401 - registers the custom expectations the rules name
from complaints.intake.rules import RULES, Record
from complaints.taxonomy import Taxonomy
from data_checks.outcome import SuiteOutcome
from data_checks.run import run_suites

SUITE = "intake"
# The frame's columns: each rule's, once, in table order.
MEASURES = tuple({rule.expectation.column.name: rule.expectation.column for rule in RULES}.values())

Records = list[tuple[int, dict[str, str] | None]]


def intake_suite(taxonomy: Taxonomy, today: date) -> gx.ExpectationSuite:
    return gx.ExpectationSuite(SUITE, expectations=[
        get_expectation_impl(rule.expectation.type)(
            column=rule.expectation.column.name, description=f"{rule.description} (intake: {', '.join(rule.codes)})",
            **rule.expectation.arguments(taxonomy, today))
        for rule in RULES])


def intake_frame(records: Records, taxonomy: Taxonomy, today: date) -> pd.DataFrame:
    """One row per record, indexed by intake's row number."""
    rows = []
    for _, fields in records:
        record = Record(fields, taxonomy, today)
        rows.append([measure.read(record) for measure in MEASURES])
    return pd.DataFrame(rows, columns=[measure.name for measure in MEASURES], index=[number for number, _ in records])


def check_records(records: Records, taxonomy: Taxonomy, today: date, docs_dir: Path | None = None) -> SuiteOutcome:
    [outcome] = run_suites([(intake_suite(taxonomy, today), intake_frame(records, taxonomy, today))], docs_dir)
    return outcome
