"""The champion/challenger gate: is the challenger at least as good as the champion, on the same complaints?

Both versions predict the same gate set: the frozen held-out split of the data (by narrative hash, so no
version trained on it) with analysts' corrections overriding the file's labels and adding the corrected
complaints, less any narrative either version was trained on. Shadow answers the challenger gave in
production are reported beside it (agreement with the champion); they carry no truth of their own.

The decision, per task:

- **no_difference** when the two versions decide every gate complaint alike: nothing to gain, not promoted;
- **reject** when the paired bootstrap's lower 95% bound of (challenger − champion) on the task's business
  metric falls below ``-margin`` (it may be worse by more than the margin), or when a class the champion got
  right at least ``collapse_min_correct`` times collapses (the challenger gets under ``collapse_ratio`` of
  those right);
- **promote** otherwise: not worse beyond the margin, on any metric or any well-served class.

Why the paired bootstrap: it resamples complaints, so both versions are scored on the same draw and the
interval is on the *difference*; it works for any metric (accuracy, and the flag's recall at the flag
rate the specialists can take), and the margin makes it a non-inferiority test. The exact McNemar test on
the discordant complaints is reported beside it for the accuracy-like metrics, as a check on "different at
all"; it is not what decides, since it tests equality, not non-inferiority.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from complaints.deployment import Deployment
from complaints.predictors import load_predictor
from complaints.records import GateDecision, utc_now
from complaints.schema import POSITIVE
from complaints.splits import Labelled, fingerprint
from complaints.strategy import champions
from complaints.tasks import TaskSpec
from model.training_data import training_set

PROMOTE, NO_DIFFERENCE, REJECT = "promote", "no_difference", "reject"


@dataclass(frozen=True)
class GatePolicy:
    """The gate's settings; a release manifest's ``gate:`` block overrides them for its environment."""

    margin: float = 0.01  # how much worse the business metric may be, at the lower 95% bound
    collapse_min_correct: int = 10  # classes the champion got right at least this often are watched...
    collapse_ratio: float = 0.5  # ...and collapse when the challenger gets fewer than this share of them right
    specialist_capacity: float = 0.30  # flag tasks: the share of complaints the specialists can take
    bootstrap_samples: int = 2000
    seed: int = 0


@dataclass(frozen=True)
class TaskVerdict:
    task: str
    champion: str
    challenger: str
    decision: str
    reasons: list[str]
    metrics: dict

    def as_decision(self, report_sha256: str, actor: str) -> GateDecision:
        return GateDecision(self.task, self.challenger, self.champion, self.decision, self.reasons, self.metrics,
                            utc_now(), report_sha256, actor)


def gate_set(deployment: Deployment, task: TaskSpec, data: Path, seen: frozenset[str]) -> Labelled:
    """The held-out examples of ``task`` (analysts' corrections applied) that neither version trained on."""
    _, held_out = training_set(deployment, [task], data).splits[task.name]
    return [(c, y) for c, y in held_out if fingerprint(c.narrative) not in seen]


def compare(deployment: Deployment, task: TaskSpec, challenger: str, data: Path, policy: GatePolicy,
            champion: str | None = None) -> TaskVerdict:
    """Score both versions of ``task`` on the same gate set and decide."""
    champion = champion or champions(deployment, [task.name])[task.name]
    models = {name: load_predictor(deployment.registry.fetch(task.name, version))
              for name, version in (("champion", champion), ("challenger", challenger))}
    seen = models["champion"].training_fingerprints | models["challenger"].training_fingerprints
    examples = gate_set(deployment, task, data, seen)
    if not examples:
        raise ValueError(f"no held-out complaint of task {task.name!r} is unseen by both versions: nothing to gate on")
    texts, truth = [c.narrative for c, _ in examples], np.array([y for _, y in examples], dtype=object)
    answers = {name: model.predict(texts) for name, model in models.items()}
    rng = np.random.default_rng(policy.seed)
    if task.binary:
        metrics = _flag_metrics(answers, truth == POSITIVE, policy, rng)
    else:
        metrics = _class_metrics(answers, truth, policy, rng)
    corrected = {f.complaint_id for f in deployment.store.list_feedback() if f.task == task.name}
    metrics["gate_set"] = {"complaints": len(examples), "data": str(data),
                           "corrected": sum(c.complaint_id in corrected for c, _ in examples)}
    metrics["shadow"] = _shadow_agreement(deployment, task.name, challenger, examples)
    decision, reasons = _decide(metrics, policy, identical=challenger == champion or metrics["identical"])
    return TaskVerdict(task.name, champion, challenger, decision, reasons, metrics)


def _class_metrics(answers: dict, truth: np.ndarray, policy: GatePolicy, rng: np.random.Generator) -> dict:
    labels = {name: np.array([label for label, _ in answer], dtype=object) for name, answer in answers.items()}
    hits = {name: predicted == truth for name, predicted in labels.items()}
    per_class = {}
    for label in sorted(set(truth)):
        rows = truth == label
        per_class[label] = {"n": int(rows.sum()), "champion": int(hits["champion"][rows].sum()),
                            "challenger": int(hits["challenger"][rows].sum())}
    collapsed = sorted(label for label, c in per_class.items()
                       if c["champion"] >= policy.collapse_min_correct
                       and c["challenger"] < policy.collapse_ratio * c["champion"])
    changed = sorted(per_class, key=lambda label: abs(per_class[label]["challenger"] - per_class[label]["champion"]),
                     reverse=True)
    return {"metric": "accuracy", **_paired(hits["champion"], hits["challenger"], policy, rng),
            "identical": bool((labels["champion"] == labels["challenger"]).all()),
            "per_class_changes": {label: per_class[label] for label in changed[:15]
                                  if per_class[label]["challenger"] != per_class[label]["champion"]},
            "collapsed_classes": {label: per_class[label] for label in collapsed}}


def _flag_metrics(answers: dict, positive: np.ndarray, policy: GatePolicy, rng: np.random.Generator) -> dict:
    """Recall at the flag rate the specialists can take: each version flags its top ``specialist_capacity``."""
    flagged, thresholds = {}, {}
    for name, answer in answers.items():
        scores = np.array([score for _, score in answer])
        thresholds[name] = float(np.quantile(scores, 1 - policy.specialist_capacity))
        flagged[name] = scores >= thresholds[name]
    hits = {name: flags[positive] for name, flags in flagged.items()}
    return {"metric": f"recall at a {policy.specialist_capacity:.0%} flag rate",
            **_paired(hits["champion"], hits["challenger"], policy, rng),
            "positives": int(positive.sum()), "thresholds": thresholds,
            "flag_rate": {name: round(float(f.mean()), 4) for name, f in flagged.items()},
            "identical": bool((flagged["champion"] == flagged["challenger"]).all()),
            "per_class_changes": {}, "collapsed_classes": {}}


def _paired(champion: np.ndarray, challenger: np.ndarray, policy: GatePolicy, rng: np.random.Generator) -> dict:
    """Both means with 95% CIs and the paired bootstrap CI of their difference; the exact McNemar test."""
    n = len(champion)
    draws = rng.integers(0, n, size=(policy.bootstrap_samples, n)) if n else np.zeros((0, 0), dtype=int)
    a, b = champion.astype(float), challenger.astype(float)

    def ci(values: np.ndarray) -> list[float]:
        return [round(float(np.percentile(values, 2.5)), 4), round(float(np.percentile(values, 97.5)), 4)] \
            if values.size else [float("nan"), float("nan")]

    worse, better = int((champion & ~challenger).sum()), int((challenger & ~champion).sum())
    return {"n": n,
            "champion": {"value": round(float(a.mean()), 4) if n else float("nan"), "ci95": ci(a[draws].mean(1))},
            "challenger": {"value": round(float(b.mean()), 4) if n else float("nan"), "ci95": ci(b[draws].mean(1))},
            "difference": {"value": round(float(b.mean() - a.mean()), 4) if n else float("nan"),
                           "ci95": ci(b[draws].mean(1) - a[draws].mean(1))},
            "mcnemar": {"champion_only_right": worse, "challenger_only_right": better,
                        "p_value": round(mcnemar_exact(worse, better), 6)}}


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: the discordant pairs against a fair coin."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def _shadow_agreement(deployment: Deployment, task: str, challenger: str, examples: Labelled) -> dict:
    """Of the gate complaints the challenger shadowed in production, how often it agreed with the champion."""
    answered = []
    for complaint, _ in examples:
        allocation = deployment.store.get_allocation(complaint.complaint_id)
        prediction = allocation.predictions.get(task) if allocation else None
        if prediction and (prediction.shadow or {}).get("model_version") == challenger and not prediction.shadow["error"]:
            answered.append(prediction.shadow["label"] == prediction.label)
    return {"complaints": len(answered), "agreement": round(sum(answered) / len(answered), 4) if answered else None}


def _decide(metrics: dict, policy: GatePolicy, identical: bool) -> tuple[str, list[str]]:
    low, high = metrics["difference"]["ci95"]
    measured = (f"{metrics['metric']} {metrics['challenger']['value']:.4f} vs {metrics['champion']['value']:.4f}; "
                f"paired 95% CI of the difference [{low:+.4f}, {high:+.4f}] on {metrics['n']:,} complaints")
    if identical:
        return NO_DIFFERENCE, [f"the challenger decides every gate complaint as the champion does ({measured})"]
    reasons = []
    if not low >= -policy.margin:
        reasons.append(f"may be worse by more than the margin {policy.margin}: {measured}")
    for label, counts in metrics["collapsed_classes"].items():
        reasons.append(f"class {label!r} collapses: the champion got {counts['champion']} of {counts['n']} right, "
                       f"the challenger {counts['challenger']}")
    if reasons:
        return REJECT, reasons
    return PROMOTE, [f"not worse beyond the margin {policy.margin}: {measured}; no class collapses"]


def markdown_report(verdicts: list[TaskVerdict], policy: GatePolicy, title: str) -> str:
    """The pull request's body: each task's decision and why, metrics side by side, the test, per-class changes."""
    overall = "promote" if verdicts and all(v.decision == PROMOTE for v in verdicts) else "do not promote"
    lines = [f"# {title}", "", f"**Decision: {overall}.** "
             f"Policy: margin {policy.margin}, class collapse under {policy.collapse_ratio:.0%} of a class the "
             f"champion got right ≥ {policy.collapse_min_correct} times, specialist capacity "
             f"{policy.specialist_capacity:.0%}, {policy.bootstrap_samples:,} paired bootstrap draws.", ""]
    for v in verdicts:
        m = v.metrics
        lines += [f"## {v.task}: {v.decision}", "", f"Champion `{v.champion}`, challenger `{v.challenger}`.", "",
                  *(f"- {reason}" for reason in v.reasons), "",
                  "| | value | 95% CI |", "| --- | --- | --- |",
                  *(f"| {name} {m['metric']} | {m[name]['value']:.4f} | {m[name]['ci95'][0]:.4f}–{m[name]['ci95'][1]:.4f} |"
                    for name in ("champion", "challenger")),
                  f"| difference (paired bootstrap) | {m['difference']['value']:+.4f} | "
                  f"{m['difference']['ci95'][0]:+.4f}–{m['difference']['ci95'][1]:+.4f} |", "",
                  f"Exact McNemar: champion alone right on {m['mcnemar']['champion_only_right']:,}, challenger alone "
                  f"on {m['mcnemar']['challenger_only_right']:,}, p = {m['mcnemar']['p_value']:.4g}. Gate set: "
                  f"{m['gate_set']['complaints']:,} held-out complaints ({m['gate_set']['corrected']:,} corrected by "
                  f"analysts). Shadow answers: {m['shadow']['complaints']:,}"
                  + (f", agreeing with the champion {m['shadow']['agreement']:.1%}." if m["shadow"]["complaints"] else "."), ""]
        if m["per_class_changes"]:
            lines += ["| class | n | champion right | challenger right |", "| --- | --- | --- | --- |",
                      *(f"| {label} | {c['n']} | {c['champion']} | {c['challenger']} |"
                        for label, c in m["per_class_changes"].items()), ""]
    return "\n".join(lines)


def report_sha256(markdown: str) -> str:
    return hashlib.sha256(markdown.encode("utf-8")).hexdigest()


def policy_of(settings: dict) -> GatePolicy:
    unknown = set(settings) - set(asdict(GatePolicy()))
    if unknown:
        raise ValueError(f"unknown gate settings {sorted(unknown)}; known: {sorted(asdict(GatePolicy()))}")
    return GatePolicy(**settings)
