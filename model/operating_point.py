"""The models as part of the operation: what the whole system (models plus people on what the models leave
to them) achieves, and the thresholds that make it meet the business's criterion on complaints it has not seen.

A complaint is either allocated by the models (to a team queue, or to the specialist queue when a flag is
raised) or sent to manual triage, where the triage team handles it as today: at its own rates, the tasks'
``target`` in tasks.yaml. What the models are unsure of on a flagged complaint is named by the specialists
(``complaints.routing``), and under ``deferral: task`` an allocated complaint's unsure issue by its product
team: at the team's rate, for ``naming_share`` of a triage's cost. So, per task:

- system accuracy = (the models' correct answers on what they decide + the team's rate x what people
  decide) / complaints: the mean of one contribution per complaint (1 or 0 where the models decide, the rate
  where people do), so its standard error is that mean's and its bound is one-sided at ``confidence``;
- a flag task's system recall = the same mean over the positives (1 if flagged, the rate if in manual
  triage, 0 if allocated elsewhere), and the specialist queue's share = model flags + the team's expected
  flags in manual triage (its recall x the positive rate), bounded from above;
- people's share of the work = manual triage + ``naming_share`` x complaints left to name: the time cut is one
  minus it, the cost cut adds the automated cost of every complaint.

``tune`` picks every threshold on out-of-fold answers (``model/cross_fitting.py``): each task's lower bound
at least its floor under the configured criterion, the specialist queue's upper bound within capacity, on all
the answers and on each large enough data file's own (``origins`` in operations.yaml), then the least work for
people. Routing (``complaints.routing``) is what the thresholds drive; evaluation measures
the routed complaints with ``system_metrics``, the same arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from complaints.operations import Operations
from complaints.schema import POSITIVE
from complaints.tasks import TaskSpec

OPERATING_POINT = "operating_point.json"  # written with every version trained: its point, system block and curve
GRID = 50  # thresholds tried per classifier task: 0.00, 0.02, ... 0.98 (and 1.0: everything to people)
FLAG_CANDIDATES = 100  # flag thresholds tried: quantiles of the flag's scores
CURVE_STEP = 0.05  # automation levels of the trade-off curve written to the model card
NAMING_SHARES = (0.25, 0.5, 1.0)  # the cost of naming an issue, as a share of a triage, evaluate's sensitivity


@dataclass(frozen=True)
class TaskAnswers:
    """One task's calibrated answers on a set of complaints, aligned by row."""

    task: TaskSpec
    scores: np.ndarray  # classifier: the top class's probability; flag: P(yes)
    hits: np.ndarray  # classifier: predicted label is the true one; flag: the truth is yes
    known: np.ndarray  # the truth is known (a flag: and the row's tag is real, not an all-tagged source's)

    def of(self, rows: np.ndarray) -> "TaskAnswers":
        """The answers on ``rows`` only (a boolean mask)."""
        return TaskAnswers(self.task, self.scores[rows], self.hits[rows], self.known[rows])

    @property
    def rate(self) -> float | None:
        """The triage team's own rate on this task (its target), or None when the task states none."""
        return next(iter(self.task.target.values())) if self.task.target else None


def task_answers(task: TaskSpec, proba: np.ndarray, classes: list[str], labels: list[str | None]) -> TaskAnswers:
    """A task's calibrated probabilities as the operating point reads them: its score and whether it is right."""
    if task.binary:
        return TaskAnswers(task, proba[:, classes.index(POSITIVE)], np.array([y == POSITIVE for y in labels]),
                           np.array([y is not None for y in labels]))
    top = proba.argmax(axis=1)
    return TaskAnswers(task, proba.max(axis=1), np.array([classes[i] == y for i, y in zip(top, labels)]),
                       np.array([y is not None for y in labels]))


def deferrable(task: TaskSpec, operations: Operations) -> bool:
    """Whether an unsure answer of ``task`` is left to the product team instead of sending the complaint to
    manual triage (``deferral: task``: the annotating tasks; the queue and the flags always decide it)."""
    return operations.deferral == "task" and task.role == "annotate"


def mean_bounds(total: float, squares: float, count: float, z: float) -> tuple[float, float, float]:
    """(mean, lower, upper) of per-complaint contributions from their sum and sum of squares: the normal
    interval of a mean, one-sided at ``z`` standard errors each way."""
    mean = total / max(count, 1)
    error = z * standard_error(total, squares, count)
    return mean, mean - error, mean + error


def standard_error(total: float, squares: float, count: float) -> float:
    """The standard error of the mean of per-complaint contributions, from their sum and sum of squares."""
    count = max(count, 1)
    return np.sqrt(np.maximum(squares / count - (total / count) ** 2, 0) / count)


def system_metrics(answers: list[TaskAnswers], allocated: np.ndarray, flagged: dict[str, np.ndarray],
                   operations: Operations, decided: dict[str, np.ndarray] | None = None) -> dict:
    """The system block: automation, each task's system accuracy (flags: recall, and the specialist queue's
    share) with its bound and whether it is within every criterion, and the time and cost cut.

    ``allocated``: the models placed the complaint (a team or the specialist queue); ``flagged``: per flag
    task, the complaints it sent to the specialist queue; ``decided``: per classifier task, the complaints
    whose answer the models gave (default: the allocated ones; an allocated complaint that is not is left for
    people to name)."""
    decided = decided or {}
    n = len(allocated)
    manual = ~allocated
    z = operations.z
    tasks = {}
    to_name = np.zeros(n, dtype=bool)
    for by_model in decided.values():
        to_name |= allocated & ~by_model
    for a in answers:
        if a.rate is None:
            continue
        if a.task.binary:
            positives = a.hits & a.known
            found, missed_manual = (flagged[a.task.name] & positives).sum(), (manual & positives).sum()
            contributions = (found + a.rate * missed_manual, found + a.rate ** 2 * missed_manual, positives.sum())
            recall, lower, _ = mean_bounds(*contributions, z)
            expected_manual = a.rate * positives.sum() / max(a.known.sum(), 1)
            share, _, upper = mean_bounds(flagged[a.task.name].sum() + expected_manual * manual.sum(),
                                          flagged[a.task.name].sum() + expected_manual ** 2 * manual.sum(), n, z)
            tasks[a.task.name] = {"recall": _round(recall), "lower_bound": _round(lower),
                                  "standard_error": _round(standard_error(*contributions)), "target": a.rate,
                                  "specialist_share": _round(share), "specialist_share_upper": _round(upper),
                                  "capacity": operations.specialist_capacity,
                                  **_verdicts(recall, a.rate, operations, share <= operations.specialist_capacity)}
        else:
            by_model = decided.get(a.task.name, allocated) & a.known
            correct, by_people = (a.hits & by_model).sum(), a.known.sum() - by_model.sum()
            contributions = (correct + a.rate * by_people, correct + a.rate ** 2 * by_people, a.known.sum())
            accuracy, lower, _ = mean_bounds(*contributions, z)
            tasks[a.task.name] = {"accuracy": _round(accuracy), "lower_bound": _round(lower),
                                  "standard_error": _round(standard_error(*contributions)), "target": a.rate,
                                  "allocated_accuracy": _round(correct / max(by_model.sum(), 1)),
                                  **_verdicts(accuracy, a.rate, operations)}
    automation = float(allocated.mean()) if n else 0.0
    named = float(to_name.mean()) if n else 0.0
    return {
        "n": n, "deferral": operations.deferral, "automation_rate": _round(automation),
        "manual_triage_share": _round(1 - automation), "left_to_name_share": _round(named),
        "criteria": {name: all(t["criteria"][name] for t in tasks.values()) for name in operations.criteria},
        "tasks": tasks,
        **_cut(1 - automation, named, operations),
        "naming_sensitivity": {str(share): _cut(1 - automation, named, operations, share)["cost_cut"]
                               for share in NAMING_SHARES} if named else None,
    }


def gap_sd(promised: dict, realised: dict) -> dict[str, float]:
    """The standard deviation of each figure's gap (realised less promised) that chance alone gives, both sets
    being samples of the same complaints: the standard errors of the two sets combined (automation's binomial).
    A gap within two of them is the sets' luck; beyond, the final versions differ from the fold models the
    promise was measured on, or the set from the training split's complaints."""
    def errors(system: dict) -> dict[str, float]:
        p = system["automation_rate"]
        return {"automation_rate": float(np.sqrt(p * (1 - p) / max(system["n"], 1))),
                **{name: values["standard_error"] for name, values in system["tasks"].items()}}

    before, after = errors(promised), errors(realised)
    return {name: _round(np.hypot(before[name], after[name])) for name in before if name in after}


def _verdicts(value: float, rate: float, operations: Operations, within_capacity: bool = True) -> dict:
    """Per criterion, whether the system rate is at its floor or above (and the specialist queue fits): what a
    set of complaints realised. Tuning asks more of the answers it is tuned on: their lower bound (``tune``)."""
    return {"floor": operations.floor(rate),
            "criteria": {name: bool(within_capacity and value >= operations.floor(rate, name) - 1e-9)
                         for name in operations.criteria}}


def _cut(manual: float, named: float, operations: Operations, naming_share: float | None = None) -> dict:
    """People's share of the work (manual triage, and issues to name at their share of a triage) and the
    time and cost cut against all-manual triage."""
    work = manual + (operations.naming_share if naming_share is None else naming_share) * named
    cost = operations.automated_cost + work * operations.manual_cost
    return {"time_cut": _round(1 - work), "cost_cut": _round(1 - cost / operations.manual_cost),
            "cost_per_complaint": {"automated_path": operations.automated_cost,
                                   "manual_path": round(operations.manual_cost, 4), "system": round(cost, 4)}}


@dataclass(frozen=True)
class OperatingPoint:
    thresholds: dict[str, float]  # classifier tasks: confidence under it -> people decide; flags: flag at or above
    system: dict  # system_metrics at the point, on the answers it was tuned on: what it promises
    curve: list[dict]  # per automation level: the widest worst-task margin over the floor reachable there
    # per origin held to the criterion on its own: system_metrics at the point on that origin's answers
    origins: dict[str, dict] = field(default_factory=dict)
    # the points the other acceptance criteria would serve, tuned on the same answers: what choosing them means
    alternatives: dict[str, "OperatingPoint"] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"thresholds": self.thresholds, "system": self.system, "curve": self.curve, "origins": self.origins,
                "criteria": {name: {"thresholds": other.thresholds, "system": other.system}
                             for name, other in self.alternatives.items()}}


def tune(answers: list[TaskAnswers], operations: Operations, origins: np.ndarray | None = None) -> OperatingPoint:
    """The thresholds that leave people the least work while every task's bound meets its floor and the
    specialist queue fits: on all the answers, and on each origin's (the data file a complaint came from) with
    at least ``origin_min_complaints`` of them, so that a point holds for every part of the data, not only its mix.

    Classifier tasks with a target are searched on a grid of confidence thresholds, each flag task over
    quantiles of its scores; tasks without a target keep their configured threshold. Sums of contributions
    per cell of the classifier grid make every combination one array operation; a flagged complaint counts a
    task's answer as the models' only where it clears that task's threshold. When no point meets the
    criterion, the point is today's operation: every complaint to manual triage (the system then has the
    team's own rates), which fits unless the capacity is below what the team itself sends to specialists.
    """
    tuned = [a for a in answers if not a.task.binary and a.rate is not None]
    flags = [a for a in answers if a.task.binary]
    untuned = [a for a in answers if not a.task.binary and a.rate is None]
    n = len(answers[0].scores)
    held = _held_origins(origins, operations)
    populations = [(np.ones(n, dtype=bool), operations.z)]  # (complaints, standard errors from estimate to bound)
    populations += [(origins == origin, operations.for_origins.z) for origin in held]
    passes_fixed, sure_untuned = np.ones(n, dtype=bool), np.ones(n, dtype=bool)
    for a in untuned:
        sure = a.scores >= a.task.threshold
        sure_untuned &= sure
        if not deferrable(a.task, operations):
            passes_fixed &= sure
    cells_of = np.column_stack([np.minimum((a.scores * GRID).astype(int), GRID) for a in tuned]
                               or [np.zeros(n, dtype=int)])  # per tuned task, bin i: score >= i/GRID
    allocating = tuple(i for i, a in enumerate(tuned) if not deferrable(a.task, operations))
    naming = tuple(i for i, a in enumerate(tuned) if deferrable(a.task, operations))
    best, cells = None, []
    for flag_thresholds in _flag_grid(flags):
        flagged = {a.task.name: a.scores >= t for a, t in zip(flags, flag_thresholds)}
        raised = np.zeros(n, dtype=bool)
        for mask in flagged.values():
            raised |= mask
        rest = ~raised & passes_fixed
        grid = _Grid(cells_of, tuned, flags, allocating, naming, operations, flagged, raised, rest)
        allocated = raised.sum() + grid.above(np.ones(n), allocating, rest)
        flagged_to_name = raised.sum() - grid.above(np.ones(n), tuple(range(len(tuned))), raised & sure_untuned)
        to_name = flagged_to_name + (allocated - raised.sum() - grid.above(np.ones(n), allocating + naming, rest)
                                     if naming else 0)
        worst, fits = np.full_like(allocated, np.inf), np.ones_like(allocated, dtype=bool)
        for population, z in populations:
            margin, fit = grid.within(population, z)
            worst, fits = np.minimum(worst, margin), fits & fit
        ok = fits & (worst >= -1e-9)
        cells.append((allocated / n, np.where(fits, worst, -np.inf), flag_thresholds))
        if ok.any():
            work = n - allocated + operations.naming_share * to_name
            score = np.where(ok, -work + 1e-3 * worst, -np.inf)  # least work, then the widest margin, then
            # the fewest flags (the grid runs from the highest flag threshold down, and only a better score wins):
            # a flag that costs no work must not fill the specialists' capacity by default
            index = np.unravel_index(int(np.argmax(score)), score.shape)
            if best is None or score[index] > best[0]:
                best = (score[index], index, flag_thresholds)
    if best is None:  # nothing meets the criterion: leave every complaint to people
        thresholds = {a.task.name: 1.01 for a in tuned + flags}
    else:
        _, index, flag_thresholds = best
        thresholds = {a.task.name: round(int(i) / GRID, 4) for a, i in zip(tuned, index)}
        thresholds |= {a.task.name: round(float(t), 4) for a, t in zip(flags, flag_thresholds)}
    system = measure(answers, thresholds, operations)
    by_origin = {origin: measure(answers, thresholds, operations.for_origins, origins == origin) for origin in held}
    if any(values.get("specialist_share", 0) > operations.specialist_capacity
           for block in (system, *by_origin.values()) for values in block["tasks"].values()):
        raise ValueError("the specialist queue is over its capacity even with every complaint in manual triage: "
                         "raise specialist_capacity in operations.yaml")
    return OperatingPoint(thresholds, system, _curve(cells), by_origin)


@dataclass(frozen=True)
class _Grid:
    """The classifier grid at one setting of the flags: ``raised`` complaints are flagged, the ``rest`` pass the
    untuned tasks' thresholds and are allocated where every allocating task clears its cell's threshold."""

    cells_of: np.ndarray  # per row, per tuned task: the grid bin of its score
    tuned: list[TaskAnswers]
    flags: list[TaskAnswers]
    allocating: tuple[int, ...]  # tuned tasks whose unsure answer sends the complaint to manual triage
    naming: tuple[int, ...]  # tuned tasks whose unsure answer is left to the product team to name
    operations: Operations
    flagged: dict[str, np.ndarray]
    raised: np.ndarray
    rest: np.ndarray

    def above(self, weights: np.ndarray, axes: tuple[int, ...], rows: np.ndarray) -> np.ndarray:
        return _sum_above(self.cells_of[rows], weights[rows], axes)

    def within(self, population: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
        """Per grid cell, on ``population``'s complaints: the worst task's margin of its bound (``z`` standard
        errors from its estimate) over its floor, and whether every flag meets its recall within the
        specialists' capacity by theirs."""
        operations, ones = self.operations, np.ones(len(population))
        raised, rest, size = self.raised & population, self.rest & population, population.sum()
        manual = size - raised.sum() - self.above(ones, self.allocating, rest)
        margins = []
        for i, a in enumerate(self.tuned):
            total = (a.known & population).sum()
            if not total:  # no answer of this task to hold here
                continue
            axes = self.allocating + ((i,) if i in self.naming else ())
            right, known = (a.hits & a.known).astype(float), a.known.astype(float)
            correct = self.above(right, (i,), raised) + self.above(right, axes, rest)
            by_people = total - self.above(known, (i,), raised) - self.above(known, axes, rest)
            _, lower, _ = mean_bounds(correct + a.rate * by_people, correct + a.rate ** 2 * by_people, total, z)
            margins.append(lower - operations.floor(a.rate))
        fits = np.ones_like(manual, dtype=bool)
        for a in self.flags:
            positives = a.hits & a.known & population
            if not positives.any():
                continue
            flagged = self.flagged[a.task.name] & population
            found = (flagged & positives).sum()
            missed_manual = positives.sum() - (positives & raised).sum() - self.above(positives.astype(float),
                                                                                      self.allocating, rest)
            _, lower, _ = mean_bounds(found + a.rate * missed_manual, found + a.rate ** 2 * missed_manual,
                                      positives.sum(), z)
            expected = a.rate * positives.sum() / max((a.known & population).sum(), 1)
            _, _, upper = mean_bounds(flagged.sum() + expected * manual, flagged.sum() + expected ** 2 * manual, size, z)
            fits &= (lower >= operations.floor(a.rate) - 1e-9) & (upper <= operations.specialist_capacity + 1e-9)
        return (np.min(margins, axis=0) if margins else np.zeros_like(manual)), fits


def _held_origins(origins: np.ndarray | None, operations: Operations) -> list[str]:
    """The origins the point is held to on their own: those with at least ``origin_min_complaints`` answers,
    when the answers come from more than one (a single origin is the mix itself)."""
    if origins is None:
        return []
    names, counts = np.unique(origins, return_counts=True)
    return [str(name) for name, count in zip(names, counts) if count >= operations.origin_min_complaints] \
        if len(names) > 1 else []


def sweep(answers: list[TaskAnswers], thresholds: dict[str, float], task: str, operations: Operations) -> list[dict]:
    """The system as ``task``'s threshold moves over the grid and the others stay at ``thresholds``: automation,
    and the task's system accuracy (a flag: its system recall and the specialist share)."""
    points = []
    for threshold in np.round(np.arange(0, GRID + 1) / GRID, 4):
        system = measure(answers, {**thresholds, task: float(threshold)}, operations)
        points.append({"threshold": float(threshold), **system["tasks"][task], "automation": system["automation_rate"]})
    return points


def measure(answers: list[TaskAnswers], thresholds: dict[str, float], operations: Operations,
            rows: np.ndarray | None = None) -> dict:
    """system_metrics at ``thresholds``, each row routed as complaints.routing routes it (only ``rows``, if given)."""
    if rows is not None:
        answers = [a.of(rows) for a in answers]
    n = len(answers[0].scores)
    flagged = {a.task.name: a.scores >= thresholds[a.task.name] for a in answers if a.task.binary}
    raised = np.zeros(n, dtype=bool)
    for mask in flagged.values():
        raised |= mask
    confident, sure = np.ones(n, dtype=bool), {}
    for a in answers:
        if a.task.binary:
            continue
        sure[a.task.name] = a.scores >= thresholds.get(a.task.name, a.task.threshold)
        if not deferrable(a.task, operations):
            confident &= sure[a.task.name]
    allocated = raised | confident
    return system_metrics(answers, allocated, flagged, operations,
                          {name: allocated & by_model for name, by_model in sure.items()})


def _sum_above(cells: np.ndarray, weights: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Per grid cell (one axis per tuned task): the sum of ``weights`` over rows whose scores clear that cell's
    thresholds on ``axes`` (the other tasks' thresholds do not apply), broadcast to the whole grid."""
    hist, _ = np.histogramdd(cells, bins=[GRID + 1] * cells.shape[1], range=[(0, GRID + 1)] * cells.shape[1],
                             weights=weights)
    for axis in range(cells.shape[1]):
        if axis in axes:
            hist = np.flip(np.cumsum(np.flip(hist, axis), axis), axis)
        else:
            hist = np.broadcast_to(hist.sum(axis=axis, keepdims=True), hist.shape)
    return hist


def _flag_grid(flags: list[TaskAnswers]) -> list[tuple[float, ...]]:
    """Every combination of candidate thresholds of the flag tasks, fewest flags first (one flag: 1.01, never
    flag, then its score quantiles from the highest down)."""
    grids = [sorted({*np.quantile(a.scores, np.linspace(0, 1, FLAG_CANDIDATES)).round(4).tolist(), 1.01}, reverse=True)
             for a in flags]
    combos: list[tuple[float, ...]] = [()]
    for grid in grids:
        combos = [(*combo, t) for combo in combos for t in grid]
    return combos


def _curve(cells: list[tuple[np.ndarray, np.ndarray, tuple]]) -> list[dict]:
    """Per automation level: the widest worst-task margin of the bound over its floor that any point reaching
    that automation has (flags within recall and capacity): the price of automating more."""
    curve = []
    for level in np.round(np.arange(0, 1 + 1e-9, CURVE_STEP), 2):
        best = max((float(worst[automation >= level].max()) for automation, worst, _ in cells
                    if (automation >= level).any()), default=-np.inf)
        if np.isfinite(best):
            curve.append({"automation": float(level), "worst_margin": _round(best)})
    return curve


def _round(value: float) -> float:
    return round(float(value), 4)
