"""The model health report people read: one HTML page and its PNG charts, drawn from the JSON of
``complaints.monitoring.model_health`` (kept beside them as health.json), so the page and `complaints monitor
--json` never disagree. matplotlib is imported here only, and only when a report is written: the serving core
that computes the figures never loads it."""

from __future__ import annotations

import json
import re
from html import escape
from pathlib import Path

from complaints.drift import DRIFTED, MODERATE
from model.evaluation_report import agg_figure, short_label

VERDICT_COLOURS = {"healthy": "#2e7d32", "watch": "#ef6c00", "retrain": "#c62828"}


def plot_accuracy(path: Path, health: dict) -> None:
    """Each task's estimated live accuracy per week, with its 95% interval."""
    figure = agg_figure(8, 4.2)
    ax = figure.add_subplot()
    names = [week["week"] for week in health["weeks"]]
    for offset, task in enumerate(health["weeks"][0]["tasks"] if health["weeks"] else []):
        points = [(i, w["tasks"][task]) for i, w in enumerate(health["weeks"]) if w["tasks"][task]["ci95"]]
        x = [i + (offset - 1) * 0.06 for i, _ in points]
        y = [f["estimated_accuracy"] for _, f in points]
        errors = [[f["estimated_accuracy"] - f["ci95"][0] for _, f in points],
                  [f["ci95"][1] - f["estimated_accuracy"] for _, f in points]]
        ax.errorbar(x, y, yerr=errors, marker="o", capsize=3, label=task)
    ax.set_xticks(range(len(names)), names)
    ax.set(ylim=(0, 1.02), ylabel="estimated accuracy (upper bound)",
           title="Live accuracy from analysts' corrections, with 95% intervals")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    figure.savefig(path, dpi=110)


def plot_workload(path: Path, health: dict) -> None:
    """The manual triage share and the specialist queue's share per week, against its capacity."""
    figure = agg_figure(8, 3.6)
    ax = figure.add_subplot()
    weeks = health["weeks"]
    x = [i for i, week in enumerate(weeks) if week["complaints"]]  # a week without complaints has no share
    ax.plot(x, [weeks[i]["manual_triage_share"] for i in x], marker="o", label="manual triage share")
    ax.plot(x, [weeks[i]["specialist_share"] for i in x], marker="o", label="specialist queue share")
    if weeks:
        ax.axhline(weeks[0]["specialist_capacity"], color="crimson", linestyle="--",
                   label=f"specialist capacity {weeks[0]['specialist_capacity']:.2f}")
    ax.set_xticks(range(len(weeks)), [w["week"] for w in weeks])
    ax.set(ylim=(0, 1), ylabel="share of the week's complaints", title="Where complaints went")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    figure.savefig(path, dpi=110)


def plot_drift(path: Path, task: str, figures: dict) -> None:
    """The version's live score histogram and label shares beside its held-out reference."""
    distributions = figures["distributions"]
    figure = agg_figure(11, 4.2)
    scores, labels = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    edges = distributions["score"]["bins"]
    centres = [(a + b) / 2 for a, b in zip(edges, edges[1:])]
    width = (edges[1] - edges[0]) * 0.4
    scores.bar([c - width / 2 for c in centres], distributions["score"]["reference"], width, label="held-out reference")
    scores.bar([c + width / 2 for c in centres], distributions["score"]["live"], width, label="live")
    scores.set(xlim=(0, 1), xlabel="score", ylabel="share of answers",
               title=f"scores: PSI {_number(figures['score_psi'])}")
    scores.legend(fontsize=8)
    names = [short_label(name) for name in distributions["label"]["bins"]]
    rows = range(len(names))
    labels.barh([r - 0.2 for r in rows], distributions["label"]["reference"], 0.4, label="held-out reference")
    labels.barh([r + 0.2 for r in rows], distributions["label"]["live"], 0.4, label="live")
    labels.set_yticks(list(rows), names, fontsize=7)
    labels.invert_yaxis()
    labels.set(xlabel="share of answers", title=f"labels: PSI {_number(figures['label_psi'])}")
    figure.suptitle(f"{task}: {figures['status']} (moderate from {MODERATE}, drifted from {DRIFTED})")
    figure.savefig(path, dpi=110)


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _interval(figures: dict) -> str:
    if figures["estimated_accuracy"] is None:
        return "–"
    return f"{figures['estimated_accuracy']:.3f} ({figures['ci95'][0]:.3f}–{figures['ci95'][1]:.3f})"


def _table(head: list[str], rows: list[list[str]]) -> str:
    cells = "".join(f"<th>{escape(cell)}</th>" for cell in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _image(name: str, alt: str) -> str:
    return f'<img src="{escape(name)}" alt="{escape(alt)}">'


def _page(health: dict, drift_charts: dict[str, str]) -> str:
    tasks = list(health["weeks"][0]["tasks"]) if health["weeks"] else []
    weeks = _table(["week", "complaints", "manual triage", "specialist queue"] + [f"{t} accuracy" for t in tasks] +
                   [f"{t} corrected / allocated" for t in tasks],
                   [[w["week"], w["complaints"], f"{w['manual_triage_share']:.3f}", f"{w['specialist_share']:.3f}"] +
                    [_interval(w["tasks"][t]) for t in tasks] +
                    [f"{w['tasks'][t]['corrections']} / {w['tasks'][t]['allocated']}" for t in tasks]
                    for w in health["weeks"]])
    drift = _table(["task", "version", "score PSI", "label PSI", "noise alone (score, label)", "status", "answers",
                    "reference"],
                   [[task, health["versions"].get(task, ""), _number(f["score_psi"]), _number(f["label_psi"]),
                     ", ".join(_number(v) for v in f["critical_psi"].values()) if f["critical_psi"] else "–",
                     f["status"], f["complaints"], f["reference"]] for task, f in health["drift"].items()])
    emerging = _table(["issue", "corrections", "served share", "training share", "in taxonomy"],
                      [[a["issue"], a["corrections"], f"{a['served_share']:.1%}",
                        "–" if a["training_share"] is None else f"{a['training_share']:.1%}",
                        "yes" if a["in_taxonomy"] else "no"] for a in health["emerging_issues"]]
                      ) if health["emerging_issues"] else "<p>None.</p>"
    verdict = health["verdict"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Model health: {escape(verdict)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #222; }}
.verdict {{ color: white; background: {VERDICT_COLOURS[verdict]}; padding: 0.1rem 0.6rem; border-radius: 0.3rem; }}
table {{ border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: left; }}
img {{ max-width: 100%; display: block; margin: 1rem 0; }}
</style></head><body>
<h1>Model health: <span class="verdict">{escape(verdict)}</span></h1>
<p>The complaints allocated in the last {health['since_days']} days, as of {escape(health['generated_at'])}.</p>
<h2>Why</h2>
<ul>{''.join(f'<li>{escape(reason)}</li>' for reason in health['reasons'])}</ul>
<h2>Live accuracy</h2>
<p>Of the complaints the models allocated, those no analyst corrected count as right: an upper bound on live
accuracy, unless a random audit sample is read in full. A fall from week to week is the signal.</p>
{_image('accuracy.png', 'estimated live accuracy per task and week')}
{weeks}
<h2>Where complaints went</h2>
{_image('workload.png', 'manual triage and specialist queue shares per week')}
<h2>Drift</h2>
<p>Population stability index of each serving version's live answers against its own answers on the held-out
split: under {MODERATE} stable, {MODERATE} to {DRIFTED} moderate, {DRIFTED} and over drifted, each only where it
also exceeds what sampling noise alone reaches.</p>
{drift}
{''.join(_image(name, f'{task}: score and label distributions, live against reference')
         for task, name in drift_charts.items())}
<h2>Emerging issues</h2>
{emerging}
</body></html>
"""


def write_report(health: dict, folder: Path) -> Path:
    """Write ``folder``/index.html, its PNG charts and health.json; return index.html."""
    folder.mkdir(parents=True, exist_ok=True)
    plot_accuracy(folder / "accuracy.png", health)
    plot_workload(folder / "workload.png", health)
    drift_charts = {}
    for task, figures in health["drift"].items():
        if figures["distributions"]:
            drift_charts[task] = f"drift-{re.sub(r'[^a-z0-9]+', '-', task.lower())}.png"
            plot_drift(folder / drift_charts[task], task, figures)
    (folder / "health.json").write_text(json.dumps(health, indent=2) + "\n", encoding="utf-8")
    page = folder / "index.html"
    page.write_text(_page(health, drift_charts), encoding="utf-8")
    return page


def markdown_summary(health: dict) -> str:
    """The health of what serves, as a section of a pull request's body (the retrain's and the promotion's): the
    verdict and its reasons, and each task's drift and latest live accuracy, so a reviewer weighs the challengers
    against how the champions are doing now."""
    lines = ["## Model health of what serves now (`complaints monitor`)", "",
             f"**Verdict: {health['verdict']}** over the last {health['since_days']} days "
             f"(versions {', '.join(f'{t} {v}' for t, v in health['versions'].items())}).", "",
             *(f"- {reason}" for reason in health["reasons"]), ""]
    latest = next((week for week in reversed(health["weeks"]) if week["complaints"]), None)
    rows = [[task, drift["status"], _number(drift["score_psi"]), _number(drift["label_psi"]),
             _interval(latest["tasks"][task]) if latest and task in latest["tasks"] else "–"]
            for task, drift in health["drift"].items()]
    lines += ["| task | drift | score PSI | label PSI | live accuracy, latest week (95%) |",
              "| --- | --- | --- | --- | --- |", *("| " + " | ".join(row) + " |" for row in rows), ""]
    if health["emerging_issues"]:
        lines += ["Emerging issues: " + "; ".join(f"{e['issue']} ({e['corrections']} corrections)"
                                                  for e in health["emerging_issues"]), ""]
    return "\n".join(lines)
