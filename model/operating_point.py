"""The models as part of the operation: what the whole system (models plus the triage team on what the
models leave to people) achieves, and the thresholds that make it meet the business case.

A complaint is either allocated by the models (to a team queue, or to the specialist queue when a flag is
raised) or sent to manual triage, where the triage team handles it as today: at its own rates, the tasks'
``target`` in tasks.yaml. So, per task:

- expected system accuracy = (models' correct answers on what they allocate + the team's rate x what goes
  to manual triage) / complaints;
- a flag task's system recall = (positives the models flag + the team's recall x positives in manual
  triage) / positives, and the specialist queue's share of volume = model flags + the team's expected
  flags in manual triage (its recall x the positive rate; its flags assumed right);
- the cost per complaint = the automated cost for every complaint + the manual cost for those in manual
  triage (``config/operations.yaml``).

``tune`` picks every threshold on a validation slice: each task's system accuracy at least the team's,
the flag's system recall at least the team's (both by the configured ``tuning_margin``), the specialist
queue within its capacity, and then the highest automation. Routing (``complaints.routing``) is what the thresholds drive; evaluation measures the
routed complaints with ``system_metrics``, the same arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from complaints.tasks import TaskSpec

OPERATING_POINT = "operating_point.json"  # written with every version trained: its point, system block and curve
GRID = 50  # thresholds tried per classifier task: 0.00, 0.02, ... 0.98 (and 1.0: everything to people)
FLAG_CANDIDATES = 100  # flag thresholds tried: quantiles of the flag's scores
CURVE_STEP = 0.05  # automation levels of the trade-off curve written to the model card


@dataclass(frozen=True)
class Operations:
    specialist_capacity: float
    manual_minutes: float
    loaded_wage_per_hour: float
    automated_cost: float
    tuning_margin: float = 0.0

    @property
    def manual_cost(self) -> float:
        return self.manual_minutes / 60 * self.loaded_wage_per_hour

    @classmethod
    def load(cls, path: Path) -> "Operations":
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        operations = cls(float(doc["specialist_capacity"]), float(doc["manual_triage"]["minutes_per_complaint"]),
                         float(doc["manual_triage"]["loaded_wage_per_hour"]), float(doc["automated_cost_per_complaint"]),
                         float(doc.get("tuning_margin", 0.0)))
        if not 0 < operations.specialist_capacity <= 1:
            raise ValueError(f"{path}: specialist_capacity is a share of volume, between 0 and 1")
        return operations


@dataclass(frozen=True)
class TaskAnswers:
    """One task's calibrated answers on a set of complaints, aligned by row."""

    task: TaskSpec
    scores: np.ndarray  # classifier: the top class's probability; flag: P(yes)
    hits: np.ndarray  # classifier: predicted label is the true one; flag: the truth is yes
    known: np.ndarray  # the truth is known (a flag: and the row's tag is real, not an all-tagged source's)

    @property
    def rate(self) -> float | None:
        """The triage team's own rate on this task (its target), or None when the task states none."""
        return next(iter(self.task.target.values())) if self.task.target else None


def system_metrics(answers: list[TaskAnswers], allocated: np.ndarray, flagged: dict[str, np.ndarray],
                   operations: Operations) -> dict:
    """The system block: automation, each task's expected system accuracy (flags: recall, and the specialist
    queue's share), and the cost of both paths. ``allocated``: the models placed the complaint (a team or
    the specialist queue); ``flagged``: per flag task, the complaints it sent to the specialist queue."""
    n = len(allocated)
    manual = ~allocated
    tasks = {}
    for a in answers:
        if a.rate is None:
            continue
        if a.task.binary:
            positives = a.hits & a.known
            found = (flagged[a.task.name] & positives).sum() + a.rate * (manual & positives).sum()
            base_rate = positives.sum() / max(a.known.sum(), 1)
            share = (flagged[a.task.name].sum() + a.rate * base_rate * manual.sum()) / max(n, 1)
            tasks[a.task.name] = {"recall": _round(found / max(positives.sum(), 1)), "target": a.rate,
                                  "specialist_share": _round(share), "capacity": operations.specialist_capacity,
                                  "pass": bool(found >= a.rate * positives.sum() - 1e-9
                                               and share <= operations.specialist_capacity)}
        else:
            correct = (a.hits & a.known & allocated).sum() + a.rate * (a.known & manual).sum()
            accuracy = correct / max(a.known.sum(), 1)
            tasks[a.task.name] = {"accuracy": _round(accuracy), "target": a.rate,
                                  "allocated_accuracy": _round((a.hits & a.known & allocated).sum()
                                                               / max((a.known & allocated).sum(), 1)),
                                  "pass": bool(accuracy >= a.rate - 1e-9)}
    automation = float(allocated.mean()) if n else 0.0
    blended = operations.automated_cost + (1 - automation) * operations.manual_cost
    return {
        "n": n, "automation_rate": _round(automation), "manual_triage_share": _round(1 - automation),
        "tasks": tasks,
        "cost_per_complaint": {"automated_path": operations.automated_cost, "manual_path": round(operations.manual_cost, 4),
                               "system": round(blended, 4), "all_manual": round(operations.manual_cost, 4),
                               "saving": _round(1 - blended / operations.manual_cost)},
    }


@dataclass(frozen=True)
class OperatingPoint:
    thresholds: dict[str, float]  # classifier tasks: confidence under it -> manual triage; flags: flag at or above
    system: dict  # system_metrics at the point, on the slice it was tuned on
    curve: list[dict]  # per automation level: the widest worst-task accuracy margin reachable there

    def as_json(self) -> dict:
        return {"thresholds": self.thresholds, "system": self.system, "curve": self.curve}


def tune(answers: list[TaskAnswers], operations: Operations) -> OperatingPoint:
    """The thresholds with the highest automation that meet every target and the specialist capacity.

    Classifier tasks with a target are searched on a grid of confidence thresholds, each flag task over
    quantiles of its scores; tasks without a target keep their configured threshold. Counts per cell of the
    classifier grid make every combination one array operation. When no point clears the margin, the
    point is today's operation: every complaint to manual triage (the system then has the team's own
    rates), which fits unless the capacity is below what the team itself sends to specialists.
    """
    tuned = [a for a in answers if not a.task.binary and a.rate is not None]
    flags = [a for a in answers if a.task.binary]
    fixed = [a for a in answers if not a.task.binary and a.rate is None]
    n = len(answers[0].scores)
    passes_fixed = np.ones(n, dtype=bool)
    for a in fixed:
        passes_fixed &= a.scores >= a.task.threshold
    cells_of = np.column_stack([np.minimum((a.scores * GRID).astype(int), GRID) for a in tuned]
                               or [np.zeros(n, dtype=int)])  # per tuned task, bin i: score >= i/GRID
    best, cells = None, []
    for flag_thresholds in _flag_grid(flags):
        flagged = {a.task.name: a.scores >= t for a, t in zip(flags, flag_thresholds)}
        raised = np.zeros(n, dtype=bool)
        for mask in flagged.values():
            raised |= mask
        rest = ~raised & passes_fixed

        def above(weights: np.ndarray, rest: np.ndarray = rest) -> np.ndarray:
            return _sum_above(cells_of[rest], weights[rest])

        automated = raised.sum() + above(np.ones(n))
        manual = n - automated
        margins = []
        for a in tuned:
            correct = (a.hits & a.known & raised).sum() + above((a.hits & a.known).astype(float))
            known_manual = a.known.sum() - (a.known & raised).sum() - above(a.known.astype(float))
            margins.append((correct + a.rate * known_manual) / max(a.known.sum(), 1) - a.rate)
        fits = np.ones_like(automated, dtype=bool)
        for a in flags:
            positives = a.hits & a.known
            found_auto = (flagged[a.task.name] & positives).sum()
            positives_manual = positives.sum() - (positives & raised).sum() - above(positives.astype(float))
            recall = (found_auto + a.rate * positives_manual) / max(positives.sum(), 1)
            share = (flagged[a.task.name].sum() + a.rate * positives.sum() / max(a.known.sum(), 1) * manual) / n
            fits &= (recall >= a.rate + operations.tuning_margin - 1e-9) & (share <= operations.specialist_capacity + 1e-9)
        worst = np.min(margins, axis=0) if margins else np.zeros_like(automated)
        ok = fits & (worst >= operations.tuning_margin - 1e-9)
        cells.append((automated / n, np.where(fits, worst, -np.inf), flag_thresholds))
        if ok.any():
            score = np.where(ok, automated + worst, -np.inf)  # most automation, then the widest margin
            index = np.unravel_index(int(np.argmax(score)), score.shape)
            if best is None or score[index] > best[0]:
                best = (score[index], index, flag_thresholds)
    if best is None:  # nothing beats the team by the margin: leave every complaint to people
        thresholds = {a.task.name: 1.01 for a in tuned + flags}
    else:
        _, index, flag_thresholds = best
        thresholds = {a.task.name: round(int(i) / GRID, 4) for a, i in zip(tuned, index)}
        thresholds |= {a.task.name: round(float(t), 4) for a, t in zip(flags, flag_thresholds)}
    system = _measure(answers, thresholds, operations)
    if any(values.get("specialist_share", 0) > operations.specialist_capacity for values in system["tasks"].values()):
        raise ValueError("the specialist queue is over its capacity even with every complaint in manual triage: "
                         "raise specialist_capacity in operations.yaml")
    return OperatingPoint(thresholds, system, _curve(cells))


def sweep(answers: list[TaskAnswers], thresholds: dict[str, float], task: str, operations: Operations) -> list[dict]:
    """The system as ``task``'s threshold moves over the grid and the others stay at ``thresholds``: automation,
    and the task's system accuracy (a flag: its system recall and the specialist share)."""
    points = []
    for threshold in np.round(np.arange(0, GRID + 1) / GRID, 4):
        system = _measure(answers, {**thresholds, task: float(threshold)}, operations)
        points.append({"threshold": float(threshold), **system["tasks"][task], "automation": system["automation_rate"]})
    return points


def _sum_above(cells: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per grid cell (one axis per tuned task): the sum of ``weights`` over rows whose every score clears
    that cell's thresholds."""
    hist, _ = np.histogramdd(cells, bins=[GRID + 1] * cells.shape[1], range=[(0, GRID + 1)] * cells.shape[1],
                             weights=weights)
    for axis in range(cells.shape[1]):
        hist = np.flip(np.cumsum(np.flip(hist, axis), axis), axis)
    return hist


def _flag_grid(flags: list[TaskAnswers]) -> list[tuple[float, ...]]:
    """Every combination of candidate thresholds of the flag tasks (one flag: its score quantiles, and 1.01:
    never flag)."""
    grids = [sorted({*np.quantile(a.scores, np.linspace(0, 1, FLAG_CANDIDATES)).round(4).tolist(), 1.01})
             for a in flags]
    combos: list[tuple[float, ...]] = [()]
    for grid in grids:
        combos = [(*combo, t) for combo in combos for t in grid]
    return combos


def _measure(answers: list[TaskAnswers], thresholds: dict[str, float], operations: Operations) -> dict:
    """system_metrics at ``thresholds``, routing each row as complaints.routing does."""
    n = len(answers[0].scores)
    flagged = {a.task.name: a.scores >= thresholds[a.task.name] for a in answers if a.task.binary}
    raised = np.zeros(n, dtype=bool)
    for mask in flagged.values():
        raised |= mask
    confident = np.ones(n, dtype=bool)
    for a in answers:
        if not a.task.binary:
            confident &= a.scores >= thresholds.get(a.task.name, a.task.threshold)
    return system_metrics(answers, raised | confident, flagged, operations)


def _curve(cells: list[tuple[np.ndarray, np.ndarray, tuple]]) -> list[dict]:
    """Per automation level: the widest worst-task accuracy margin over the team's rates any point reaching
    that automation has (flags within recall and capacity): the price of automating more."""
    curve = []
    for level in np.round(np.arange(0, 1 + 1e-9, CURVE_STEP), 2):
        best = max((float(worst[automation >= level].max()) for automation, worst, _ in cells
                    if (automation >= level).any()), default=-np.inf)
        if np.isfinite(best):
            curve.append({"automation": float(level), "worst_accuracy_margin": _round(best)})
    return curve


def _round(value: float) -> float:
    return round(float(value), 4)
