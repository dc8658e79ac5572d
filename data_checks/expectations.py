"""Two expectations Great Expectations lacks, written as GX custom expectations so they run, report and
render in Data Docs like the built-in ones.

- ``ExpectColumnValuesToNotRepeat``: a value may occur once; later copies fail, the first passes. This is
  how intake treats a complaint id sent twice in a batch (the first copy is triaged), where GX's
  ``ExpectColumnValuesToBeUnique`` would fail every copy.
- ``ExpectColumnPairValuesAToDetermineB``: each value of ``column_A`` occurs with one value of
  ``column_B`` only (a functional dependency). With ``column_B="split"`` it finds leakage: a complaint id
  or a narrative on both sides of the train/evaluation split.

Importing this module registers both (GX finds expectations and metrics by name).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation, ColumnPairMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider, ColumnPairMapMetricProvider, column_condition_partial, column_pair_condition_partial,
)


class ColumnValuesFirstOccurrence(ColumnMapMetricProvider):
    condition_metric_name = "column_values.first_occurrence"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return ~column.duplicated(keep="first")


class ExpectColumnValuesToNotRepeat(ColumnMapExpectation):
    """Expect no value of the column to repeat a value of an earlier row; the first occurrence passes."""

    map_metric: ClassVar[str] = "column_values.first_occurrence"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)


class ColumnPairValuesADetermineB(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.a_determines_b"
    condition_domain_keys = ("batch_id", "table", "column_A", "column_B", "row_condition", "condition_parser",
                             "ignore_row_if")
    condition_value_keys = ()

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A, column_B, **kwargs):
        return column_B.groupby(column_A).transform("nunique") <= 1


class ExpectColumnPairValuesAToDetermineB(ColumnPairMapExpectation):
    """Expect each value of column_A to occur with a single value of column_B; every row of a value that
    occurs with several fails."""

    ignore_row_if: Literal["both_values_are_missing", "either_value_is_missing", "neither"] = "either_value_is_missing"
    map_metric: ClassVar[str] = "column_pair_values.a_determines_b"
    success_keys: ClassVar[tuple[str, ...]] = ("column_A", "column_B", "ignore_row_if", "mostly")
