"""The evaluation report people read: a Markdown page, PNG charts and metrics.json in one folder.

`complaints evaluate --report DIR` writes it from the same report dict and prediction rows as the
``--json`` contract, so the page and the JSON never disagree: headline metrics and targets are copied
from the report; tables and charts are computed from the rows each metric counted. matplotlib is
imported here only, and only when a report is written: the serving path never loads it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from model.evaluation import bootstrap_ci, task_metrics
from complaints.operations import Operations
from model.operating_point import TaskAnswers, sweep
from complaints.schema import POSITIVE
from complaints.tasks import TaskSpec

TABLE_CLASSES = 25  # per-class table: the rest is one summary line (issue has ~84 classes)
MATRIX_CLASSES = 15  # confusion matrix: the rest is pooled as "other"
LABEL_CHARS = 36  # longer class names are cut in the charts so the axes stay readable
CURVE_THRESHOLDS = np.round(np.arange(0.0, 1.0, 0.01), 2)
TABLE_THRESHOLDS = np.round(np.arange(0.0, 1.0, 0.1), 1)
OTHER = "other"
ROLE_TEXT = {
    "queue": "the predicted team is the queue the complaint lands in",
    "annotate": "the predicted issue is recorded on the allocation for the team",
    "flag": "a \"yes\" sends the complaint to the {queue} queue",
}


@dataclass(frozen=True)
class LabelledPredictions:
    """One task's predictions on the complaints its metrics count (labelled, and not excluded)."""

    y_true: list[str]
    y_pred: list[str]
    scores: np.ndarray


@dataclass(frozen=True)
class ClassScores:
    label: str
    precision: float  # nan when the model never predicts the class
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class CoveragePoint:
    threshold: float
    coverage: float  # share of complaints whose score >= threshold: allocated without a person
    accuracy: float  # accuracy on that share; nan when it is empty


def labelled_predictions(task: TaskSpec, rows: Sequence[dict], flag_excluded_ids: Collection[str]
                         ) -> LabelledPredictions:
    """The rows ``evaluate_champions`` counted for ``task``: a true label, and for flags not a biased source."""
    kept = [r for r in rows if r[f"{task.name}_true"]
            and not (task.binary and r["complaint_id"] in flag_excluded_ids)]
    return LabelledPredictions([r[f"{task.name}_true"] for r in kept], [r[f"{task.name}_pred"] for r in kept],
                               np.array([float(r[f"{task.name}_score"]) for r in kept]))


def class_scores(y_true: Sequence[str], y_pred: Sequence[str]) -> list[ClassScores]:
    """Precision, recall, F1 and support of every true class, most frequent first (F1 as in macro-F1)."""
    support, predicted = Counter(y_true), Counter(y_pred)
    hits = Counter(t for t, p in zip(y_true, y_pred) if t == p)
    scores = [ClassScores(label, hits[label] / predicted[label] if predicted[label] else float("nan"),
                          hits[label] / count, 2 * hits[label] / (count + predicted[label]), count)
              for label, count in support.items()]
    return sorted(scores, key=lambda s: (-s.support, s.label))


def coverage_curve(y_true: Sequence[str], y_pred: Sequence[str], scores: Sequence[float],
                   thresholds: Sequence[float]) -> list[CoveragePoint]:
    """For each threshold: how much the model allocates on its own (score >= t), and how accurately."""
    hits = np.asarray(y_true) == np.asarray(y_pred)
    scores = np.asarray(scores, dtype=float)
    points = []
    for threshold in thresholds:
        kept = scores >= threshold
        accuracy = float(hits[kept].mean()) if kept.any() else float("nan")
        points.append(CoveragePoint(float(threshold), float(kept.mean()), accuracy))
    return points


def precision_recall_curve(is_positive: Sequence[bool], scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """(precision, recall) of flagging every score >= t, for each distinct score t from the highest down."""
    is_positive = np.asarray(is_positive, dtype=bool)
    scores = np.asarray(scores, dtype=float)
    order = np.argsort(-scores, kind="stable")
    ranked, labels = scores[order], is_positive[order]
    cut = np.r_[np.flatnonzero(np.diff(ranked)), ranked.size - 1]  # last row of each distinct score
    true_pos, flagged = np.cumsum(labels)[cut], cut + 1
    return true_pos / flagged, true_pos / max(int(is_positive.sum()), 1)


def pooled_confusion(y_true: Sequence[str], y_pred: Sequence[str], top: int) -> tuple[list[str], np.ndarray]:
    """Row-normalised confusion matrix of the ``top`` most frequent true classes, the rest pooled as "other"."""
    ranked = [label for label, _ in Counter(y_true).most_common()]
    shown = ranked if len(ranked) <= top + 1 else ranked[:top]
    labels = shown + ([OTHER] if (set(y_true) | set(y_pred)) - set(shown) else [])
    index = {label: i for i, label in enumerate(shown)}
    matrix = np.zeros((len(labels), len(labels)))
    for t, p in zip(y_true, y_pred):
        matrix[index.get(t, len(shown)), index.get(p, len(shown))] += 1
    totals = matrix.sum(axis=1, keepdims=True)
    return labels, np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)


# Charts -------------------------------------------------------------------------------------------

def agg_figure(width: float, height: float):
    """A figure drawn by the Agg backend without pyplot: no global state, no display needed (the evaluation and the
    model health reports draw with it)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ModuleNotFoundError as missing:
        raise ModuleNotFoundError("the report needs matplotlib: pip install -e '.[report]'") from missing
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def short_label(label: str) -> str:
    """A label cut to LABEL_CHARS, so a chart's axes stay readable."""
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def plot_confusion(path: Path, task: TaskSpec, labels: list[str], matrix: np.ndarray) -> None:
    side = 3.5 + 0.45 * len(labels)
    figure = agg_figure(side + 1.5, side)
    ax = figure.add_subplot()
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    ticks = range(len(labels))
    ax.set_xticks(ticks, [short_label(label) for label in labels], rotation=60, ha="right", fontsize=8)
    ax.set_yticks(ticks, [short_label(label) for label in labels], fontsize=8)
    for (row, col), share in np.ndenumerate(matrix):
        if share >= 0.005:
            ax.text(col, row, f"{share:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if share > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{task.name}: confusion matrix (share of each true class)")
    figure.colorbar(image, ax=ax, shrink=0.8)
    figure.savefig(path, dpi=110)


def plot_coverage(path: Path, task: TaskSpec, curve: list[CoveragePoint], at_threshold: CoveragePoint) -> None:
    figure = agg_figure(7.5, 4.5)
    ax = figure.add_subplot()
    thresholds = [p.threshold for p in curve]
    ax.plot(thresholds, [p.coverage for p in curve], label="coverage (allocated without a person)")
    ax.plot(thresholds, [p.accuracy for p in curve], label="accuracy on the allocated share")
    ax.axvline(task.threshold, color="grey", linestyle="--")
    ax.plot([task.threshold] * 2, [at_threshold.coverage, at_threshold.accuracy], "o", color="black")
    ax.annotate(f"served threshold {task.threshold:.2f}\ncoverage {at_threshold.coverage:.3f}, "
                f"accuracy {at_threshold.accuracy:.3f}", (task.threshold, 0.05), xytext=(6, 0),
                textcoords="offset points", fontsize=8)
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="confidence threshold (under it: manual triage)", ylabel="share",
           title=f"{task.name}: coverage vs accuracy of the manual triage threshold")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", bbox_to_anchor=(0, 0.12), fontsize=8)
    figure.savefig(path, dpi=110)


def plot_precision_recall(path: Path, task: TaskSpec, curve: tuple[np.ndarray, np.ndarray], operating: dict,
                          base_rate: float) -> None:
    precision, recall = curve
    figure = agg_figure(6.5, 4.5)
    ax = figure.add_subplot()
    ax.plot(recall, precision, drawstyle="steps-post", label="every threshold on P(yes)")
    ax.plot(operating["recall"], operating["precision"], "o", color="crimson", markersize=8,
            label=f"the model's decisions: recall {operating['recall']:.3f}, precision {operating['precision']:.3f}")
    ax.axhline(base_rate, color="grey", linestyle=":", label=f"base rate {base_rate:.3f} (flag everyone)")
    if task.target and "recall" in task.target:
        ax.axvline(task.target["recall"], color="green", linestyle="--", label=f"target recall {task.target['recall']:.2f}")
    ax.set(xlim=(0, 1.01), ylim=(0, 1.02), xlabel="recall", ylabel="precision",
           title=f"{task.name}: precision–recall")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    figure.savefig(path, dpi=110)


def plot_system(path: Path, curves: dict[str, list[dict]], system: dict) -> None:
    """Per task with a target: the system's accuracy (a flag: recall) against automation as the task's own
    threshold moves, the triage team's rate, and the served point."""
    figure = agg_figure(4.2 * len(curves), 4.2)
    for index, (name, curve) in enumerate(curves.items(), start=1):
        ax = figure.add_subplot(1, len(curves), index)
        metric = "recall" if "recall" in curve[0] else "accuracy"
        ax.plot([p["automation"] for p in curve], [p[metric] for p in curve], marker=".", label=f"moving {name}'s threshold")
        ax.axhline(curve[0]["target"], color="green", linestyle="--", label=f"triage team {curve[0]['target']:.2f}")
        ax.plot(system["automation_rate"], system["tasks"][name][metric], "o", color="crimson", markersize=8,
                label=f"served: automation {system['automation_rate']:.2f}, {metric} {system['tasks'][name][metric]:.3f}")
        ax.set(xlim=(0, 1.01), xlabel="automation (allocated without a person)", ylabel=f"system {metric}",
               title=f"{name}")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left", fontsize=7)
    figure.savefig(path, dpi=110)


# Markdown -----------------------------------------------------------------------------------------

def _num(value: float) -> str:
    return "–" if np.isnan(value) else f"{value:.3f}"


def _ci(interval: Sequence[float]) -> str:
    return f"{_num(interval[0])}–{_num(interval[1])}"


def _mean(values: Sequence[float]) -> float:
    """Mean of the defined values: a class the model never predicts has no precision to average."""
    defined = [v for v in values if not np.isnan(v)]
    return float(np.mean(defined)) if defined else float("nan")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _overview(report: dict, source: str | None) -> list[str]:
    excluded = ", ".join(f"{reason.replace('_', ' ')}: {count:,}" for reason, count in report["excluded"].items())
    lines = ["# Evaluation report", "",
             f"{report['n']:,} complaints evaluated" + (f" from `{source}`" if source else "") + ". "
             f"Left out: {excluded}.", "",
             "| task | model version |", "| --- | --- |"]
    return lines + [f"| {task} | `{version}` |" for task, version in report["model_versions"].items()] + [""]


def _targets_table(report: dict) -> list[str]:
    lines = ["## Business targets", "",
             "| task | metric | value | 95% CI | target | tolerance | result |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for key, target in report["targets"].items():
        verdict = "PASS" if target["pass"] else "**FAIL**"
        lines.append(f"| {key} | {target['metric']} | {_num(target['value'])} | {_ci(report['tasks'][key]['ci95'])} "
                     f"| {target['target']:.2f} | ±{target['tolerance']:.2f} | {verdict} |")
    return lines + ["", "A task passes when its value is at least the target minus the tolerance.", ""]


def _system_section(report: dict, rows: Sequence[dict], tasks: list[TaskSpec], folder: Path,
                    flag_excluded_ids: Collection[str], operations: Operations) -> list[str]:
    system = report["system"]
    cost = system["cost_per_complaint"]
    criteria = list(operations.criteria)
    lines = ["## The system: models and the triage team", "",
             "Each complaint routed as the pipeline routes it. Manual triage is handled by the triage team as today, "
             "at its own rates (the targets): expected system accuracy = the models on what they decide + the team's "
             f"rate on what people decide. A criterion passes when the {operations.confidence:.0%} lower bound of the "
             "system value is at least the team's rate less its tolerance ("
             + ", ".join(f"{name} {tolerance:.2f}" for name, tolerance in operations.criteria.items()) + ").", "",
             f"Deferral per {system['deferral']}: automation **{_num(system['automation_rate'])}**, manual triage "
             f"{_num(system['manual_triage_share'])}, left for people to name {_num(system['left_to_name_share'])}; "
             f"time cut **{system['time_cut']:.1%}**, cost per complaint ${cost['system']:.4f} against "
             f"${cost['manual_path']:.4f} all manual (cost cut {system['cost_cut']:.1%}).", "",
             "| task | system value | lower bound | team | models on what they decide | specialist share | threshold | "
             + " | ".join(criteria) + " |",
             "| --- | --- | --- | --- | --- | --- | --- | " + " | ".join("---" for _ in criteria) + " |"]
    for name, values in system["tasks"].items():
        value = values.get("accuracy", values.get("recall"))
        lines.append(f"| {name} | {_num(value)} | {_num(values['lower_bound'])} | {values['target']:.2f} "
                     f"| {_num(values.get('allocated_accuracy', np.nan))} | {_num(values.get('specialist_share', np.nan))} "
                     f"| {system['thresholds'][name]} | "
                     + " | ".join('PASS' if values['criteria'][c] else '**FAIL**' for c in criteria) + " |")
    if report.get("origins"):
        lines += ["", "The same on each data file's complaints:", "",
                  "| data file | complaints | time cut | " + " | ".join(system["tasks"]) + " | "
                  + " | ".join(criteria) + " |", "| --- " * (3 + len(system["tasks"]) + len(criteria)) + "|"]
        lines += [f"| `{origin}` | {part['n']:,} | {part['time_cut']:.1%} | "
                  + " | ".join(_num(values.get("accuracy", values.get("recall"))) for values in part["tasks"].values())
                  + " | " + " | ".join("PASS" if part["criteria"][c] else "**FAIL**" for c in criteria) + " |"
                  for origin, part in report["origins"].items()]
    lines += ["", "The point tuned for each acceptance criterion, on these complaints:", "",
              "| criterion | automation | time cut | cost cut | meets it here |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {name} | {_num(point['automation_rate'])} | {point['time_cut']:.1%} | {point['cost_cut']:.1%} "
              f"| {'yes' if point['meets'] else '**no**'} |" for name, point in report["criteria"].items()]
    if system["naming_sensitivity"]:
        lines += ["", "Cost cut if naming an issue costs a share of a triage: "
                  + ", ".join(f"{share}: {cut:.1%}" for share, cut in system["naming_sensitivity"].items()) + "."]
    answers = []
    for task in tasks:
        known = [bool(r[f"{task.name}_true"]) and not (task.binary and r["complaint_id"] in flag_excluded_ids) for r in rows]
        hits = [r[f"{task.name}_true"] == (POSITIVE if task.binary else r[f"{task.name}_pred"]) for r in rows]
        answers.append(TaskAnswers(task, np.array([float(r[f"{task.name}_score"]) for r in rows]), np.array(hits),
                                   np.array(known, dtype=bool)))
    curves = {name: sweep(answers, system["thresholds"], name, operations) for name in system["tasks"]}
    if rows and curves:
        plot_system(folder / "system.png", curves, system)
        lines += ["", "![system accuracy against automation](system.png)"]
    return lines + [""]


def _heading(task: TaskSpec) -> list[str]:
    return [f"## {task.name}", "", f"Role `{task.role}`: {ROLE_TEXT[task.role].format(queue=task.queue)}.", ""]


def _class_table(scores: list[ClassScores]) -> list[str]:
    lines = ["| class | precision | recall | F1 | support |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {_cell(s.label)} | {_num(s.precision)} | {_num(s.recall)} | {_num(s.f1)} | {s.support:,} |"
              for s in scores[:TABLE_CLASSES]]
    rest = scores[TABLE_CLASSES:]
    if rest:
        lines.append(f"| other {len(rest)} classes (mean) | {_num(_mean([s.precision for s in rest]))} "
                     f"| {_num(_mean([s.recall for s in rest]))} | {_num(_mean([s.f1 for s in rest]))} "
                     f"| {sum(s.support for s in rest):,} |")
    return lines + [""]


def _coverage_table(task: TaskSpec, data: LabelledPredictions) -> list[str]:
    thresholds = sorted({*TABLE_THRESHOLDS.tolist(), task.threshold})
    lines = ["| threshold | coverage | accuracy |", "| --- | --- | --- |"]
    for point in coverage_curve(data.y_true, data.y_pred, data.scores, thresholds):
        mark = " (served)" if point.threshold == task.threshold else ""
        lines.append(f"| {point.threshold:.2f}{mark} | {_num(point.coverage)} | {_num(point.accuracy)} |")
    return lines + [""]


def _classifier_section(task: TaskSpec, metrics: dict, data: LabelledPredictions, folder: Path) -> list[str]:
    lines = _heading(task) + [
        f"Accuracy **{_num(metrics['accuracy'])}** (95% CI {_ci(metrics['ci95'])}), macro-F1 "
        f"{_num(metrics['macro_f1'])}, on {metrics['n']:,} labelled complaints; the model knows "
        f"{metrics['classes']} classes.", ""]
    if not data.y_true:
        return lines + ["No labelled complaints: nothing to chart.", ""]
    at_threshold, = coverage_curve(data.y_true, data.y_pred, data.scores, [task.threshold])
    curve = coverage_curve(data.y_true, data.y_pred, data.scores, CURVE_THRESHOLDS)
    plot_coverage(folder / f"{task.name}_coverage.png", task, curve, at_threshold)
    labels, matrix = pooled_confusion(data.y_true, data.y_pred, MATRIX_CLASSES)
    plot_confusion(folder / f"{task.name}_confusion.png", task, labels, matrix)
    return lines + [
        "### Coverage vs accuracy of the manual triage threshold", "",
        f"At the served threshold {task.threshold:.2f}, {task.name} allocates "
        f"**{_num(at_threshold.coverage)}** of complaints without a person, with accuracy "
        f"**{_num(at_threshold.accuracy)}** on them; the rest go to manual triage. (Coverage is this task's "
        "alone: a complaint also goes to manual triage when another task is unsure.)", "",
        f"![{task.name} coverage vs accuracy]({task.name}_coverage.png)", "",
        *_coverage_table(task, data),
        "### Confusion matrix", "",
        f"Rows are true classes, normalised to 1; the {MATRIX_CLASSES} most frequent classes are shown and the "
        "rest pooled as \"other\" when there are more.", "",
        f"![{task.name} confusion matrix]({task.name}_confusion.png)", "",
        "### Per class", "", *_class_table(class_scores(data.y_true, data.y_pred))]


def _flag_section(task: TaskSpec, metrics: dict, data: LabelledPredictions, folder: Path) -> list[str]:
    operating = task_metrics(task, data.y_true, data.y_pred, classes=2)
    precision_ci = bootstrap_ci([t == POSITIVE for t, p in zip(data.y_true, data.y_pred) if p == POSITIVE])
    lines = _heading(task) + [
        f"Recall **{_num(metrics['recall'])}** (95% CI {_ci(metrics['ci95'])}), precision "
        f"**{_num(metrics['precision'])}** (95% CI {_ci(precision_ci)}), on {metrics['n']:,} complaints "
        f"({metrics['positives']:,} vulnerable, {metrics['flagged']:,} flagged). Complaints from sources whose "
        "every row is tagged are not counted (see \"Left out\" above), as in metrics.json.", ""]
    positives = [t == POSITIVE for t in data.y_true]
    if not any(positives):
        return lines + ["No vulnerable complaints among them: no precision–recall curve.", ""]
    plot_precision_recall(folder / f"{task.name}_precision_recall.png", task,
                          precision_recall_curve(positives, data.scores), operating, float(np.mean(positives)))
    return lines + [
        "### Precision–recall", "",
        f"The curve moves the threshold on P(yes); the dot is the operating point, the model's own decisions "
        f"at its tuned threshold: recall {_num(operating['recall'])}, precision {_num(operating['precision'])}.", "",
        f"![{task.name} precision–recall]({task.name}_precision_recall.png)", ""]


def write_report(report: dict, rows: list[dict], tasks: list[TaskSpec], folder: Path, operations: Operations,
                 flag_excluded_ids: Collection[str] = frozenset(), source: str | None = None) -> Path:
    """Write ``folder``/README.md, its PNG charts and metrics.json (the report dict, for diffing); return README.md.

    ``flag_excluded_ids`` are the ids ``evaluate_champions`` left out of flag metrics (biased sources),
    so the charts count the same complaints as the report.
    """
    folder.mkdir(parents=True, exist_ok=True)
    lines = _overview(report, source) + _targets_table(report) + _system_section(report, rows, tasks, folder,
                                                                                 flag_excluded_ids, operations)
    for task in tasks:
        data = labelled_predictions(task, rows, flag_excluded_ids)
        if task.binary:
            lines += _flag_section(task, report["tasks"][task.name], data, folder)
        else:  # the threshold the champion is served with (tuned with it, or the release's), not the config's
            served = replace(task, threshold=report["system"]["thresholds"][task.name])
            lines += _classifier_section(served, report["tasks"][task.name], data, folder)
    (folder / "metrics.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    readme = folder / "README.md"
    readme.write_text("\n".join(lines), encoding="utf-8")
    return readme
