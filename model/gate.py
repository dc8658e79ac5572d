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

A deployed environment's serving change (``decide``: any change of a task's line, its versions, mode, canary
share or threshold, a task's first version included) is promoted only when every one of these holds:

1. the rollout allows it: a first version serves alone; a new version enters at the rollout's first step; a
   challenger moves one step on at a time (or back); the champion that served before may come back alone;
2. a version it gives more complaints to (a new champion or challenger, a challenger a step further on)
   stands the comparison above with the champion that serves now;
3. each version the line serves decides something at the threshold it serves with: a classifier is sure of
   some complaints, a flag raises some flags (a version that leaves everything to people serves nothing);
4. the system the environment would serve with it reaches every task's ``minimum`` (tasks.yaml) on the gate
   set, models where they are sure and the triage team at its rate on what they leave, and the specialist
   queue stays within its capacity (operations.yaml). Changes decided together are measured together.

The decision records the rules it was made under (``rules_of``: this policy, the rollout, the task's minimum
and target, the operation, the sha256 of this file); ``release apply`` applies a change only with the
committed decision that names it under the rules in force (model/decision.py).

Why the paired bootstrap: it resamples complaints, so both versions are scored on the same draw and the
interval is on the *difference*; it works for any metric (accuracy, and the flag's recall at the flag
rate the specialists can take), and the margin makes it a non-inferiority test. The exact McNemar test on
the discordant complaints is reported beside it for the accuracy-like metrics, as a check on "different at
all"; it is not what decides, since it tests equality, not non-inferiority.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from complaints.deployment import Deployment
from complaints.predictors import Predictor, load_predictor
from complaints.records import GateDecision, utc_now
from complaints.schema import POSITIVE
from complaints.splits import Labelled, fingerprint
from complaints.strategy import champions
from complaints.tasks import TaskSpec
from complaints.thresholds import served_threshold
from model.cross_fitting import complaints_of
from model.manifest import TaskRelease, describe, step_of
from model.operating_point import TaskAnswers, measure, task_answers
from model.training_data import training_set

PROMOTE, NO_DIFFERENCE, REJECT = "promote", "no_difference", "reject"


@dataclass(frozen=True)
class GatePolicy:
    """The gate's settings: the loosest gate any environment has. A release manifest's ``gate:`` block may
    tighten them for its environment (``policy_of``)."""

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
    change: "Change | None" = None  # a deployed environment's serving change; None: the embedded gate's pair

    def as_decision(self, report_sha256: str, actor: str) -> GateDecision:
        return GateDecision(self.task, self.challenger, self.champion, self.decision, self.reasons, self.metrics,
                            utc_now(), report_sha256, actor)

    def committed(self, environment: str, rules: dict, report_sha256: str, actor: str) -> dict:
        """A change's decision as committed beside the manifest (model/decision.py seals it)."""
        before, after = self.change.before, self.change.after
        return {"environment": environment, "task": self.task, "decision": self.decision,
                "from": asdict(before) if before else None, "to": asdict(after), "champion": self.champion,
                "challenger": self.challenger, "reasons": self.reasons, "metrics": self.metrics, "rules": rules,
                "report_sha256": report_sha256, "decided_at": utc_now(), "actor": actor}


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


@dataclass(frozen=True)
class Change:
    """One task's serving change in a deployed environment: the line it serves (None: nothing yet) and the
    line proposed."""

    task: str
    before: TaskRelease | None
    after: TaskRelease
    previous_champion: str | None = None  # the champion before ``before``'s: where a rollback returns


def rollback_of(current: TaskRelease, previous_champion: str | None, after: TaskRelease) -> bool:
    """Whether ``after`` gives the task back to the champion that served before ``current``'s, alone."""
    return after.challenger is None and after.champion == previous_champion != current.champion


def step_problem(rollout: tuple[str, ...], before: TaskRelease | None, after: TaskRelease,
                 previous_champion: str | None = None) -> str | None:
    """Why the rollout does not allow ``after`` where ``before`` serves, or None when it does: a first version
    serves alone; a new version enters at the first step (as champion only where that step is champion); a
    challenger moves one step on at a time, or back; the previous champion may come back alone (a rollback)."""
    steps, position = _steps(rollout)
    if before is None:
        return None if after.challenger is None else "a task's first version serves alone, as champion"
    if rollback_of(before, previous_champion, after) or after == replace(before, threshold=after.threshold):
        return None
    if after.champion != before.champion:
        if after.challenger is None and after.champion == before.challenger:
            here = position.get(_step(before))
            if here is not None and steps[here + 1][0] == "champion":
                return None
            return f"a challenger becomes champion only from the last step before it of the rollout {list(rollout)}"
        if steps[0][0] == "champion" and after.challenger is None:
            return None
        return f"a new version enters at {rollout[0]!r}, the first step of the rollout {list(rollout)}"
    if after.challenger is None:
        return None
    if after.challenger != before.challenger:
        return None if _step(after) == steps[0] else \
            f"a new challenger enters at {rollout[0]!r}, the first step of the rollout {list(rollout)}"
    here, there = position.get(_step(before), -1), position.get(_step(after))
    if there is None or there > here + 1:
        return f"{describe(after)} is not the next step (or an earlier one) of the rollout {list(rollout)}"
    return None


def _steps(rollout: tuple[str, ...]) -> tuple[list[tuple[str, int]], dict[tuple[str, int], int]]:
    """The rollout's steps in order, and each step's place in it."""
    steps = [step_of(step) for step in rollout]
    return steps, {step: index for index, step in enumerate(steps)}


def _step(release: TaskRelease) -> tuple[str, int]:
    return (release.mode, release.canary_percent) if release.challenger else ("champion", 0)


def decide(deployment: Deployment, changes: list[Change], serving: dict[str, TaskRelease], data: Path,
           policy: GatePolicy, rollout: tuple[str, ...]) -> list[TaskVerdict]:
    """The decision on each change (the module's rules 1-4), ``serving`` being what the environment serves now.
    The changes are measured together: the system is the one they would make, and when it misses a minimum the
    changes of the tasks that miss it are turned away first, then the others."""
    verdicts = {change.task: _decide_alone(deployment, change, data, policy, rollout) for change in changes}
    in_play = {(task, version) for task, line in [*serving.items(), *((c.task, c.after) for c in changes)]
               for version in (line.champion, line.challenger) if version}
    system = ServedSystem(deployment, data, in_play)
    for change in changes:
        if verdicts[change.task].decision == PROMOTE and (idle := system.idle(change.task, change.after)):
            verdicts[change.task] = replace(verdicts[change.task], decision=REJECT, reasons=idle)
    admitted = [c for c in changes if verdicts[c.task].decision == PROMOTE]
    while admitted:
        lines = {**serving, **{c.task: c.after for c in admitted}}
        served = system.measure(lines)
        short = system.short_of_minimum(served, lines)
        for change in admitted:
            verdict = verdicts[change.task]
            verdicts[change.task] = replace(verdict, metrics={**verdict.metrics, "system": served})
        if not short:
            for change in admitted:
                verdict = verdicts[change.task]
                verdicts[change.task] = replace(verdict, reasons=[*verdict.reasons, "the system it serves in reaches "
                                                                  "every task's minimum: " + system.line(served)])
            break
        blamed = [c for c in admitted if c.task in short] or admitted
        together = "with it" if len(admitted) == 1 else f"with {', '.join(c.task for c in admitted)} changed together"
        for change in blamed:
            verdicts[change.task] = replace(verdicts[change.task], decision=REJECT, reasons=[
                f"{together}, the system misses a minimum: {'; '.join(short.values())}"])
        admitted = [c for c in admitted if c not in blamed]
    return [verdicts[change.task] for change in changes]


def _decide_alone(deployment: Deployment, change: Change, data: Path, policy: GatePolicy,
                  rollout: tuple[str, ...]) -> TaskVerdict:
    """Rules 1 and 2: what the change is allowed to be, and the comparison it stands."""
    before, after = change.before, change.after
    gaining = _gaining(change, rollout)
    verdict = TaskVerdict(change.task, before.champion if before else "", gaining or after.champion, PROMOTE, [],
                          {}, change)
    if after == before:
        return replace(verdict, decision=NO_DIFFERENCE, reasons=["the line does not change: the version proposed "
                                                                 "is the one serving"])
    problem = step_problem(rollout, before, after, change.previous_champion)
    if problem:
        return replace(verdict, decision=REJECT, reasons=[problem])
    if gaining is None:
        return replace(verdict, reasons=[
            "a first version: the system decides" if before is None else
            "no version gets more complaints than it has: the system decides"])
    compared = compare(deployment, deployment.task(change.task), gaining, data, policy, champion=before.champion)
    return replace(verdict, decision=compared.decision, reasons=compared.reasons, metrics=compared.metrics)


def _gaining(change: Change, rollout: tuple[str, ...]) -> str | None:
    """The version the change gives more complaints to: a new champion or challenger, or a challenger a step
    further on. None for a first version, a rollback, a challenger withdrawn or stepped back, a threshold."""
    before, after = change.before, change.after
    if before is None or rollback_of(before, change.previous_champion, after):
        return None
    if after.champion != before.champion:
        return after.champion
    if after.challenger is None:
        return None
    if after.challenger != before.challenger:
        return after.challenger
    _, position = _steps(rollout)
    return after.challenger if position.get(_step(after), -1) > position.get(_step(before), -1) else None


class ServedSystem:
    """What an environment would serve, scored on one gate set: the held-out complaints (analysts' corrections
    applied) that no version in play trained on, each task's champion at the threshold its line serves it
    with, routed as ``complaints.routing`` routes them, the triage team at its rate on what is left to people
    (model/operating_point.py). Each version predicts the set once."""

    def __init__(self, deployment: Deployment, data: Path, versions: set[tuple[str, str]]):
        self.deployment = deployment
        self.models: dict[tuple[str, str], Predictor] = {
            key: load_predictor(deployment.registry.fetch(*key)) for key in sorted(versions)}
        seen = frozenset().union(*(model.training_fingerprints for model in self.models.values()))
        splits = training_set(deployment, deployment.tasks, data).splits
        held_out = {task: [(c, y) for c, y in split[1] if fingerprint(c.narrative) not in seen]
                    for task, split in splits.items()}
        _, complaints, self.labels = complaints_of(deployment.tasks, held_out)
        self.texts = [c.narrative for c in complaints]
        self._proba: dict[tuple[str, str], np.ndarray] = {}

    def proba(self, task: str, version: str) -> np.ndarray:
        if (task, version) not in self._proba:
            self._proba[task, version] = self.models[task, version].predict_proba(self.texts)
        return self._proba[task, version]

    def threshold(self, task: TaskSpec, version: str, line: TaskRelease) -> float:
        model = self.models[task.name, version]
        return served_threshold(line.threshold, model.threshold, task.threshold, binary=model.binary)

    def idle(self, task_name: str, line: TaskRelease) -> list[str]:
        """Rule 3: the versions of ``line`` that decide nothing at the threshold it serves them with."""
        task = self.deployment.task(task_name)
        idle = []
        for version in filter(None, (line.champion, line.challenger)):
            proba, threshold = self.proba(task_name, version), self.threshold(task, version, line)
            scores = proba[:, self.models[task_name, version].labels.index(POSITIVE)] if task.binary else proba.max(1)
            if self.texts and not (scores >= threshold).any():
                idle.append(f"{version} decides nothing at threshold {threshold}: it would "
                            f"{'flag no complaint' if task.binary else 'leave every complaint to people'} of the "
                            f"{len(self.texts):,} on the gate set")
        return idle

    def measure(self, lines: dict[str, TaskRelease]) -> dict:
        """The system block (model.operating_point.measure) of each task's line; a task with no line leaves its
        complaints to people and flags none."""
        if not self.texts:
            raise ValueError("no held-out complaint is unseen by every version in play: nothing to gate on")
        answers, thresholds = [], {}
        for task in self.deployment.tasks:
            line = lines.get(task.name)
            if line is None:
                answers.append(TaskAnswers(task, np.zeros(len(self.texts)), np.array(
                    [y == POSITIVE for y in self.labels[task.name]]) if task.binary else np.zeros(len(self.texts), bool),
                    np.array([y is not None for y in self.labels[task.name]])))
                thresholds[task.name] = 1.01
                continue
            model = self.models[task.name, line.champion]
            answers.append(task_answers(task, self.proba(task.name, line.champion), model.labels,
                                        self.labels[task.name]))
            thresholds[task.name] = self.threshold(task, line.champion, line)
        served = measure(answers, thresholds, self.deployment.operations)
        return {"n": served["n"], "automation_rate": served["automation_rate"], "thresholds": thresholds,
                "tasks": {name: {key: value for key, value in figures.items() if key != "criteria"}
                          for name, figures in served["tasks"].items()}}

    def short_of_minimum(self, served: dict, lines: dict[str, TaskRelease]) -> dict[str, str]:
        """Rule 4: per task the system misses, why. The pipeline serves every task or none, so a task without
        a version misses too."""
        short = {task.name: f"{task.name} would have no version: the pipeline serves every task or none"
                 for task in self.deployment.tasks if task.name not in lines}
        for task in (task for task in self.deployment.tasks if task.name in lines):
            figures = served["tasks"].get(task.name, {})
            for metric, least in (task.minimum or {}).items():
                if figures.get(metric, 0.0) < least:
                    short[task.name] = f"{task.name} {metric} {figures.get(metric, 0.0):.4f} under its minimum {least}"
            share = figures.get("specialist_share")
            if share is not None and share > self.deployment.operations.specialist_capacity:
                short[task.name] = (f"the specialist queue takes {share:.1%} of complaints, over its capacity "
                                    f"{self.deployment.operations.specialist_capacity:.0%}")
        return short

    def line(self, served: dict) -> str:
        parts = []
        for task in self.deployment.tasks:
            figures = served["tasks"].get(task.name, {})
            for metric, least in (task.minimum or {}).items():
                parts.append(f"{task.name} {metric} {figures.get(metric, 0.0):.4f} (minimum {least})")
        return f"{', '.join(parts)}; automation {served['automation_rate']:.1%} of {served['n']:,} complaints"


def gate_code_sha256() -> str:
    """The sha256 of this file: the code a decision was made by."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def rules_of(deployment: Deployment, task: TaskSpec, policy: GatePolicy, rollout: tuple[str, ...]) -> dict:
    """What a decision on ``task`` is made under, as the decision records it (JSON's types) and ``release
    apply`` compares it with the rules in force."""
    operations = deployment.operations
    return json.loads(json.dumps({
        "policy": asdict(policy), "rollout": list(rollout), "minimum": task.minimum, "target": task.target,
        "operations": {"deferral": operations.deferral, "specialist_capacity": operations.specialist_capacity},
        "gate_code_sha256": gate_code_sha256()}))


def headline(verdicts: list[TaskVerdict]) -> str:
    """The report's one-line decision, task by task, so it never says more or less than the tasks do."""
    promoted = [v.task for v in verdicts if v.decision == PROMOTE]
    held = [f"{v.task} ({v.decision})" for v in verdicts if v.decision != PROMOTE]
    if not verdicts:
        return "**Decision: nothing to gate.**"
    if not held:
        return f"**Decision: promote {', '.join(promoted)}.**"
    return "**Decision: " + (f"promote {', '.join(promoted)}; " if promoted else "") + \
        f"do not promote {', '.join(held)}.**"


def markdown_report(verdicts: list[TaskVerdict], policy: GatePolicy, title: str) -> str:
    """The pull request's body: each task's decision and why, metrics side by side, the test, per-class
    changes, and for an environment's change the lines and the system it would serve."""
    lines = [f"# {title}", "", f"{headline(verdicts)} "
             f"Policy: margin {policy.margin}, class collapse under {policy.collapse_ratio:.0%} of a class the "
             f"champion got right ≥ {policy.collapse_min_correct} times, specialist capacity "
             f"{policy.specialist_capacity:.0%}, {policy.bootstrap_samples:,} paired bootstrap draws.", ""]
    for v in verdicts:
        m = v.metrics
        lines += [f"## {v.task}: {v.decision}", ""]
        if v.change is not None:
            lines += [f"Serves {describe(v.change.before)}; proposed: {describe(v.change.after)}.", ""]
        lines += [*(f"- {reason}" for reason in v.reasons), ""]
        if "difference" in m:
            lines += [f"Champion `{v.champion}`, challenger `{v.challenger}`:", "",
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
        if "system" in m:
            system = m["system"]
            lines += [f"The system it would serve in, on {system['n']:,} held-out complaints (automation "
                      f"{system['automation_rate']:.1%}):", "", "| task | threshold | system rate | specialist share |",
                      "| --- | --- | --- | --- |",
                      *(f"| {task} | {system['thresholds'][task]} | {figures.get('accuracy', figures.get('recall'))} | "
                        f"{figures.get('specialist_share', '')} |" for task, figures in system["tasks"].items()), ""]
    return "\n".join(lines)


def report_sha256(markdown: str) -> str:
    return hashlib.sha256(markdown.encode("utf-8")).hexdigest()


# What a manifest's gate: block may set, and whether a value is looser than the code's: the code's GatePolicy is
# the loosest gate there is. The specialist capacity and the seed are the code's alone.
LOOSER = {"margin": lambda value, code: value > code, "collapse_min_correct": lambda value, code: value > code,
          "collapse_ratio": lambda value, code: value < code, "bootstrap_samples": lambda value, code: value < code}


def policy_of(settings: dict) -> GatePolicy:
    """The gate's policy with a manifest's ``gate:`` settings, which may tighten the code's, never loosen it:
    a pull request that could loosen its environment's gate would decide its own gate. Loosening is a reviewed
    change of this file, which the gate job runs from the base branch."""
    code = asdict(GatePolicy())
    unknown = set(settings) - set(code)
    if unknown:
        raise ValueError(f"unknown gate settings {sorted(unknown)}; known: {sorted(code)}")
    fixed = sorted(set(settings) - set(LOOSER))
    if fixed:
        raise ValueError(f"gate settings {fixed} are the code's (model/gate.py), not a manifest's")
    looser = [f"{key} {value} (the code's {code[key]})" for key, value in settings.items()
              if LOOSER[key](value, code[key])]
    if looser:
        raise ValueError(f"a manifest's gate settings may tighten the gate, never loosen it: {', '.join(looser)}")
    return GatePolicy(**settings)
