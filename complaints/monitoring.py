"""Model health: how the serving models do on live complaints, judged from what the store already holds, so the
ops API and the command line answer it alike (numpy only: the ops API's Lambda imports this).

Over the complaints allocated in the last ``since_days``, by ISO week of their allocation, per task:

- **live accuracy from corrections**, the delayed labels analysts give: of the complaints whose task answer the
  models acted on (allocated, not left for the team to name, not a customer-record flag), how many an analyst
  corrected to another label, and the accuracy that leaves with a Wilson 95% interval. It is biased: analysts
  correct what they look at, and a complaint nobody looked at counts as right, so the figure is an **upper
  bound** on live accuracy, equal to it only where a random audit sample is read in full. With analysts' habits
  steady, its trend is what it measures: a week significantly under the earlier ones (their intervals apart)
  is accuracy falling;
- the manual triage share, and the specialist queue's share (where complaints stand now, analysts' flags
  included) against its capacity (``operations.yaml``): over it when the latest week's 95% interval is;
- **drift** of each task's champion's scores and labels against its own held-out reference
  (``complaints.drift``; the answers of a canary's challenger, and of versions that served before, left out);
  a champion the registry cannot give (missing, modified) is ``unavailable`` for its task alone;
- **emerging issues**: issues analysts' corrections name that the serving issue model rarely gives (under
  ``EMERGING_SERVED_SHARE`` of its answers) and had too little of to learn (the corrections alone, at least
  ``EMERGING_MIN_CORRECTIONS``, are a larger share of the window's complaints, by their 95% interval, than the
  issue's share of its training examples), or that the taxonomy lacks;

and a verdict: ``retrain`` (drift, accuracy falling where the answers moved, an emerging issue), ``watch`` (a
moderate shift, accuracy or manual triage moving on their own, the specialist queue over capacity, a version
with no reference or unavailable), else ``healthy``.

What it reads: each ops queue's complaints allocated since the window opened, from the queue index
(``list_queue`` with ``since``: those and never older ones; a ``now`` in the past reads the later ones too
and leaves them out), the corrections of the complaints among them that were corrected (``list_feedback`` per
complaint, which its revision names), each task's strategy, and each serving version's drift reference from
the registry. No table is read whole.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from statistics import NormalDist

from complaints.access import queues, specialist_queues
from complaints.customer_record import CUSTOMER_RECORD
from complaints.deployment import Deployment
from complaints.drift import DRIFTED, MODERATE, NO_REFERENCE, REFERENCE, UNAVAILABLE, task_drift, unmeasured
from complaints.records import ALLOCATED, NEEDS_TRIAGE, Allocation
from complaints.registry import RegistryError
from complaints.routing import left_to_name
from complaints.strategy import strategies
from complaints.tasks import TaskSpec

Z95 = NormalDist().inv_cdf(0.975)
# An emerging issue: the serving model gives it to under 1 complaint in 100 (under the uniform share of the
# taxonomy's 87 issues: a model that has learnt an issue seldom names it less), analysts named it in at least 10
# corrections (a handful is what a rare issue's misses give by chance), and those corrections alone, a lower
# bound of its live share, exceed its share of the examples the version learnt from by their 95% interval: it is
# new to the version, not an issue it learnt and under-names.
EMERGING_SERVED_SHARE = 0.01
EMERGING_MIN_CORRECTIONS = 10
CORRECTIONS_ARE_A_SAMPLE = (
    "live accuracy counts every allocated complaint no analyst corrected as right: analysts correct what they "
    "look at, so it is an upper bound on live accuracy unless a random audit sample is read in full; its fall "
    "from week to week is the signal")


@dataclass(frozen=True)
class _Live:
    """A complaint allocated in the window: its allocation, where it stands now, its tasks' corrected labels."""

    allocation: Allocation
    queue: str
    corrected: dict[str, str]  # task -> the label its latest correction gave

    def wrong(self, task: str) -> bool:
        """An analyst corrected this task's answer to another label."""
        served = self.allocation.predictions[task].label
        return self.corrected.get(task, served) != served


def model_health(deployment: Deployment, since_days: int = 28, now: datetime | None = None) -> dict:
    """The serving models' health over the last ``since_days`` as of ``now`` (default: now), as JSON."""
    if since_days < 1:
        raise ValueError("since_days is a number of days, at least 1")
    until = now or datetime.now(timezone.utc)
    until = (until if until.tzinfo else until.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    start = until - timedelta(days=since_days)
    live = _window(deployment, start, until)
    versions = {task: strategy.champion for task, strategy in strategies(deployment, required=False).items()}
    measured = {task: _drift(deployment, live, task, version) for task, version in versions.items()}
    drift = {task: figures for task, (figures, _) in measured.items()}
    references = {task: reference for task, (_, reference) in measured.items()}
    weeks = _by_week(live, start, until)
    emerging = _emerging(deployment, live, versions, references)
    verdict, reasons = _verdict(deployment, live, weeks, drift, emerging, since_days)
    return {"generated_at": until.isoformat(timespec="seconds"), "since_days": since_days, "verdict": verdict,
            "reasons": reasons, "weeks": [_week(deployment, name, members) for name, members in weeks],
            "drift": drift, "emerging_issues": emerging, "versions": versions}


def wilson(successes: int, trials: int, z: float = Z95) -> list[float]:
    """The Wilson score interval of a proportion: unlike p ± z·se it stays inside [0, 1] and keeps its coverage
    near 0 and 1, where live accuracy and correction rates sit."""
    p, n = successes / trials, trials
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def _window(deployment: Deployment, start: datetime, until: datetime) -> list[_Live]:
    store, since = deployment.store, start.isoformat(timespec="milliseconds")
    live = []
    for queue in queues(deployment.tasks, deployment.taxonomy):
        for placement in store.list_queue(queue, None, since):
            if datetime.fromisoformat(placement.allocation.allocated_at) > until:
                continue
            corrections = store.list_feedback(placement.allocation.complaint_id) if placement.corrected else []
            live.append(_Live(placement.allocation, placement.queue, {c.task: c.label for c in corrections}))
    return live


def _iso_week(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def _by_week(live: list[_Live], start: datetime, until: datetime) -> list[tuple[str, list[_Live]]]:
    """Every ISO week the window touches, oldest first, with the complaints allocated in it."""
    names = sorted({_iso_week(start + timedelta(days=day)) for day in range((until - start).days + 1)} |
                   {_iso_week(until)})
    members: dict[str, list[_Live]] = {name: [] for name in names}
    for complaint in live:
        members[_iso_week(datetime.fromisoformat(complaint.allocation.allocated_at))].append(complaint)
    return list(members.items())


def _decided(complaint: _Live, task: TaskSpec) -> bool:
    """The models acted on this task's answer: the complaint was allocated, the answer neither failed nor was
    left for the team to name, and a flag was the model's, not the customer record's."""
    prediction = complaint.allocation.predictions.get(task.name)
    return (complaint.allocation.status == ALLOCATED and prediction is not None and not prediction.error
            and prediction.served_by != CUSTOMER_RECORD and task.name not in left_to_name(complaint.allocation.reasons))


def _right(members: list[_Live], task: TaskSpec) -> tuple[int, int]:
    """(not corrected, allocated) for one task among ``members``."""
    decided = [m for m in members if _decided(m, task)]
    return len(decided) - sum(m.wrong(task.name) for m in decided), len(decided)


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _week(deployment: Deployment, name: str, members: list[_Live]) -> dict:
    specialist = specialist_queues(deployment.tasks)
    tasks = {}
    for task in deployment.tasks:
        right, allocated = _right(members, task)
        tasks[task.name] = {
            "allocated": allocated, "corrections": allocated - right, "correction_rate": _share(allocated - right, allocated),
            "estimated_accuracy": _share(right, allocated) if allocated else None,
            "ci95": wilson(right, allocated) if allocated else None}
    return {"week": name, "complaints": len(members),
            "manual_triage_share": _share(sum(m.allocation.status == NEEDS_TRIAGE for m in members), len(members)),
            "specialist_share": _share(sum(m.queue in specialist for m in members), len(members)),
            "specialist_capacity": deployment.operations.specialist_capacity, "tasks": tasks}


def _reference(deployment: Deployment, task: str, version: str) -> dict | None:
    """The held-out reference the version's training recorded among its hashed files, as the registry's fetch has
    checked them (None before versions did: a model card's, which no hash covers, is not read)."""
    try:
        return json.loads((deployment.registry.fetch(task, version) / REFERENCE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def _drift(deployment: Deployment, live: list[_Live], task: str, version: str) -> tuple[dict, dict | None]:
    """The drift of the version's answers in the window, and its reference (None without one)."""
    labels, scores = _answers(live, task, version)
    try:
        reference = _reference(deployment, task, version)
    except RegistryError as error:  # one version the registry cannot give leaves its task unmeasured, not the rest
        return unmeasured(UNAVAILABLE, f"none: the registry cannot give it ({error})", len(labels)), None
    return task_drift(version, reference, labels, scores), reference


def _answers(live: list[_Live], task: str, version: str) -> tuple[list[str], list[float]]:
    """The labels and scores ``version`` gave in the window (failed answers and customer-record flags left out)."""
    answers = [p for m in live if (p := m.allocation.predictions.get(task)) and p.model_version == version
               and not p.error and p.served_by != CUSTOMER_RECORD]
    return [p.label for p in answers], [p.score for p in answers]


def _emerging(deployment: Deployment, live: list[_Live], versions: dict[str, str],
              references: dict[str, dict | None]) -> list[dict]:
    """The issues analysts name that the serving issue model rarely gives and had too little of to learn, or that
    the taxonomy lacks, most named first. The model's share of an issue is over the window's complaints it
    answered, else over its held-out reference; its training share is its reference's."""
    task = next((t for t in deployment.tasks if t.label == "taxonomy.issue"), None)
    if task is None:
        return []
    named = Counter(m.corrected[task.name] for m in live if task.name in m.allocation.predictions and m.wrong(task.name))
    version, reference = versions.get(task.name), references.get(task.name) or {}
    given = Counter(_answers(live, task.name, version)[0]) if version else Counter()
    given = given or Counter(reference.get("label_counts", {}))
    trained = Counter(reference.get("training_label_counts", {}))
    known = set(task.classes(deployment.taxonomy) or ())
    alerts = []
    for issue, count in named.most_common():
        served = given[issue] / sum(given.values()) if given else None
        learnt = trained[issue] / sum(trained.values()) if trained else None
        new = (served is not None and learnt is not None and served < EMERGING_SERVED_SHARE
               and count >= EMERGING_MIN_CORRECTIONS and wilson(count, len(live))[0] > learnt)
        if issue not in known or new:
            alerts.append({"issue": issue, "corrections": count, "served_share": round(served or 0.0, 4),
                           "in_taxonomy": issue in known,
                           "training_share": round(learnt, 4) if learnt is not None else None})
    return alerts


@dataclass(frozen=True)
class _Trend:
    """A proportion's latest week against the weeks before it in the window, pooled."""

    week: str
    latest: tuple[int, int]  # (successes, trials)
    earlier: tuple[int, int]

    def fell(self) -> bool:
        return wilson(*self.latest)[1] < wilson(*self.earlier)[0]

    def rose(self) -> bool:
        return wilson(*self.latest)[0] > wilson(*self.earlier)[1]

    def __str__(self) -> str:
        def figure(k: int, n: int) -> str:
            low, high = wilson(k, n)
            return f"{k / n:.3f} [{low:.3f}-{high:.3f}]"
        return f"{figure(*self.latest)} in {self.week} from {figure(*self.earlier)} before (95% intervals)"


def _trend(counts: list[tuple[str, tuple[int, int]]]) -> _Trend | None:
    """The trend of a proportion counted per week as (successes, trials), over the weeks with any trials; None
    without two."""
    counted = [(name, (k, n)) for name, (k, n) in counts if n]
    if len(counted) < 2:
        return None
    earlier = (sum(k for _, (k, _) in counted[:-1]), sum(n for _, (_, n) in counted[:-1]))
    return _Trend(counted[-1][0], counted[-1][1], earlier)


def _verdict(deployment: Deployment, live: list[_Live], weeks: list[tuple[str, list[_Live]]], drift: dict,
             emerging: list[dict], since_days: int) -> tuple[str, list[str]]:
    retrain, watch = [], []
    for task, figures in drift.items():
        moved = [f"{what} PSI {figures[f'{what}_psi']:.3f} (noise alone {figures['critical_psi'][what]:.3f})"
                 for what in ("score", "label") if figures[f"{what}_psi"] is not None
                 and figures[f"{what}_psi"] > figures["critical_psi"][what] and figures[f"{what}_psi"] >= MODERATE]
        if figures["status"] == "drifted":
            retrain.append(f"{task}: answers drifted from the held-out reference ({', '.join(moved)}; "
                           f"drifted from {DRIFTED})")
        elif figures["status"] == "moderate":
            watch.append(f"{task}: answers moved from the held-out reference ({', '.join(moved)}; "
                         f"moderate from {MODERATE})")
        elif figures["status"] in (NO_REFERENCE, UNAVAILABLE):
            watch.append(f"{task}: drift not measured: {figures['reference']}")
    for task in deployment.tasks:
        trend = _trend([(name, _right(members, task)) for name, members in weeks])
        if trend and trend.fell():
            moved = drift.get(task.name, {}).get("status") in ("moderate", "drifted")
            (retrain if moved else watch).append(f"{task.name}: estimated accuracy fell to {trend}"
                                                 + (", and its answers moved" if moved else ""))
    manual = _trend([(name, (sum(m.allocation.status == NEEDS_TRIAGE for m in members), len(members)))
                     for name, members in weeks])
    if manual and manual.rose():
        watch.append(f"the manual triage share rose to {manual}")
    latest = next(((name, members) for name, members in reversed(weeks) if members), None)
    specialist, capacity = specialist_queues(deployment.tasks), deployment.operations.specialist_capacity
    if latest and (share := wilson(sum(m.queue in specialist for m in latest[1]), len(latest[1])))[0] > capacity:
        watch.append(f"the specialist queue took {share[0]:.3f}-{share[1]:.3f} of {latest[0]}'s complaints (95% "
                     f"interval), over its capacity {capacity:.2f}")
    for alert in emerging:
        learnt = "" if alert["training_share"] is None else f", {alert['training_share']:.1%} of its training examples"
        retrain.append(f"emerging issue {alert['issue']!r}: analysts named it in {alert['corrections']} corrections; "
                       f"the serving model gives it to {alert['served_share']:.1%} of complaints{learnt}"
                       + ("" if alert["in_taxonomy"] else f"; not in taxonomy {deployment.taxonomy.version}: add it "
                                                          f"to taxonomy.yaml, then retrain"))
    verdict = "retrain" if retrain else "watch" if watch else "healthy"
    healthy = [] if retrain or watch else [
        f"no drift, falling accuracy or emerging issue over {len(live)} complaints allocated in {since_days} days"
        if live else f"no complaints allocated in the last {since_days} days: nothing to judge"]
    return verdict, retrain + watch + healthy + [CORRECTIONS_ARE_A_SAMPLE]
