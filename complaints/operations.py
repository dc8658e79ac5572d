"""The operation the models serve (``config/operations.yaml``): the business's acceptance criteria, the
specialist queue's capacity, what each path of a complaint costs, how an unsure answer is deferred, and how
many corrections one analyst may make a day.

Serving reads the deferral (``complaints.routing``); training tunes the operating point against the rest
(``model/operating_point.py``) and evaluation measures the system against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from statistics import NormalDist

import yaml

DEFERRALS = ("complaint", "task")  # an unsure answer sends the whole complaint to people, or only that task


@dataclass(frozen=True)
class Operations:
    specialist_capacity: float  # the largest share of all complaints the specialist queue can take
    manual_minutes: float  # the triage team's handling time per complaint
    loaded_wage_per_hour: float
    automated_cost: float  # AWS cost of triaging one complaint
    criteria: dict[str, float] = field(default_factory=lambda: {"band": 0.03, "parity": 0.0})  # name -> tolerance
    criterion: str = "band"  # the criterion the operating point is tuned to
    confidence: float = 0.95  # one-sided level of the bounds the tuned point meets
    # a data file of the training data (its origin) with at least this many complaints is held to the criterion
    # on its own complaints as well as the mix is, by bounds at origin_confidence (model/operating_point.py)
    origin_min_complaints: int = 1000
    origin_confidence: float = 0.5
    deferral: str = "complaint"
    naming_share: float = 1.0  # the cost of naming an issue the models left, as a share of a whole triage
    corrections_per_analyst_per_day: int = 600  # a quota: what one user may rewrite of the training data in a day

    def __post_init__(self) -> None:
        if not 0 < self.specialist_capacity <= 1:
            raise ValueError("specialist_capacity is a share of volume, between 0 and 1")
        if self.criterion not in self.criteria:
            raise ValueError(f"criterion {self.criterion!r} is not one of the criteria {sorted(self.criteria)}")
        if not (0.5 <= self.confidence < 1 and 0.5 <= self.origin_confidence < 1):
            raise ValueError("confidence and origins' confidence are levels of one-sided bounds, at least 0.5 and "
                             "under 1")
        if self.origin_min_complaints < 1:
            raise ValueError("origin_min_complaints is a positive count")
        if self.deferral not in DEFERRALS:
            raise ValueError(f"deferral must be one of {DEFERRALS}, not {self.deferral!r}")
        if not 0 <= self.naming_share <= 1:
            raise ValueError("naming_share is a share of a whole triage, between 0 and 1")
        if self.corrections_per_analyst_per_day < 1:
            raise ValueError("corrections_per_analyst_per_day is a positive count")

    @property
    def manual_cost(self) -> float:
        return self.manual_minutes / 60 * self.loaded_wage_per_hour

    @property
    def z(self) -> float:
        """Standard errors between an estimate and its one-sided bound at ``confidence``."""
        return NormalDist().inv_cdf(self.confidence)

    @property
    def for_origins(self) -> "Operations":
        """The operation as an origin's complaints are held to it: bounds at ``origin_confidence``."""
        return replace(self, confidence=self.origin_confidence)

    def floor(self, rate: float, criterion: str | None = None) -> float:
        """The least a system rate may be under ``criterion`` (default: the tuned one), given the team's rate."""
        return round(rate - self.criteria[criterion or self.criterion], 4)

    @classmethod
    def load(cls, path: Path) -> "Operations":
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        try:
            acceptance, manual, deferral = doc["acceptance"], doc["manual_triage"], doc["deferral"]
            return cls(float(doc["specialist_capacity"]), float(manual["minutes_per_complaint"]),
                       float(manual["loaded_wage_per_hour"]), float(doc["automated_cost_per_complaint"]),
                       {name: float(tolerance) for name, tolerance in acceptance["criteria"].items()},
                       str(acceptance["criterion"]), float(acceptance["confidence"]),
                       int(acceptance["origins"]["min_complaints"]), float(acceptance["origins"]["confidence"]),
                       str(deferral["mode"]),
                       float(deferral["naming_share"]), int(doc["corrections_per_analyst_per_day"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{path}: {error}") from error
