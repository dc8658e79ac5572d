"""What a suite run found, in the terms the gates and the CLI need: each expectation by name with its
result, and the rows that failed it. Built from a GX validation result; no GX types leak past here."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

CRITICAL = "critical"  # a failure fails the suite; "warning" and "info" failures are reported only
ROWS_SHOWN = 100  # failing rows listed per expectation in JSON (the count and Data Docs have them all)


@dataclass(frozen=True)
class ExpectationOutcome:
    name: str  # expectation type and its columns, e.g. "expect_column_values_to_not_be_null(Complaint ID)"
    success: bool
    severity: str
    description: str
    unexpected_count: int | None  # None for expectations on the batch as a whole (no failing rows)
    unexpected_index: tuple[Hashable, ...]  # the failing rows' index labels (intake: row numbers)
    observed_value: Any = None

    @classmethod
    def from_result(cls, result) -> "ExpectationOutcome":
        config = result.expectation_config
        details = result.result or {}
        return cls(
            name=expectation_name(config.type, config.kwargs),
            success=bool(result.success),
            severity=getattr(config.severity, "value", config.severity),
            description=config.description or "",
            unexpected_count=details.get("unexpected_count"),
            unexpected_index=tuple(details.get("unexpected_index_list") or ()),
            observed_value=_plain(details.get("observed_value")),
        )

    def as_json(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"success": self.success, "severity": self.severity}
        if self.unexpected_count is not None:
            payload["unexpected_count"] = self.unexpected_count
            payload["unexpected_rows"] = [_plain(i) for i in self.unexpected_index[:ROWS_SHOWN]]
        if self.observed_value is not None:
            payload["observed_value"] = self.observed_value
        if self.description:
            payload["description"] = self.description
        return payload

    def line(self, row_label: Callable[[Hashable], Any] = lambda index: index) -> str:
        """One line: the verdict, the name, what was found; a failure adds its description (the why)."""
        mark = "ok  " if self.success else ("FAIL" if self.severity == CRITICAL else "warn")
        found = ""
        if self.unexpected_count:
            shown = ", ".join(str(_plain(row_label(i))) for i in self.unexpected_index[:10])
            more = ", ..." if len(self.unexpected_index) > 10 else ""
            found = f"  {self.unexpected_count:,} row(s): {shown}{more}"
        elif isinstance(self.observed_value, (int, float)):
            found = f"  observed {self.observed_value:.4g}"
        why = f"\n         {self.description}" if self.description and not self.success else ""
        return f"  {mark} {self.name}{found}{why}"


@dataclass(frozen=True)
class SuiteOutcome:
    suite: str
    rows: int
    expectations: tuple[ExpectationOutcome, ...]

    @classmethod
    def from_result(cls, suite: str, rows: int, result) -> "SuiteOutcome":
        return cls(suite, rows, tuple(ExpectationOutcome.from_result(r) for r in result.results))

    @property
    def success(self) -> bool:
        return all(e.success or e.severity != CRITICAL for e in self.expectations)

    def expectation(self, name: str) -> ExpectationOutcome:
        return next(e for e in self.expectations if e.name == name)

    def failed_by_row(self) -> dict[Hashable, list[str]]:
        """Each row (index label) that failed a failing critical expectation, with their names."""
        failed: dict[Hashable, list[str]] = defaultdict(list)
        for expectation in self.expectations:
            if expectation.severity == CRITICAL and not expectation.success:
                for index in expectation.unexpected_index:
                    failed[index].append(expectation.name)
        return dict(failed)

    def as_json(self) -> dict[str, Any]:
        failing = len(self.failed_by_row())
        return {"success": self.success, "rows": self.rows, "failing_rows": failing, "passing_rows": self.rows - failing,
                "expectations": {e.name: e.as_json() for e in self.expectations}}

    def lines(self, row_label: Callable[[Hashable], Any] = lambda index: index) -> list[str]:
        """A verdict line, then one line per expectation; rows are shown as ``row_label`` names them."""
        failing = len(self.failed_by_row())
        failed = sum(not e.success and e.severity == CRITICAL for e in self.expectations)
        verdict = "passed" if self.success else f"FAILED ({failed} of {len(self.expectations)} expectations)"
        return [f"suite {self.suite!r} {verdict}: {self.rows:,} rows, {failing:,} failing, {self.rows - failing:,} passing",
                *(e.line(row_label) for e in self.expectations)]


def expectation_name(kind: str, kwargs: dict) -> str:
    columns = [kwargs[key] for key in ("column", "column_A", "column_B") if kwargs.get(key)]
    return f"{kind}({', '.join(columns)})" if columns else kind


def _plain(value: Any) -> Any:
    """A JSON-friendly value (numpy scalars and dates become plain numbers and strings)."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
