"""The human-readable evaluation report: written by `complaints evaluate --report`, agreeing with the JSON."""

import contextlib
import io
import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from console.main import main
from model.evaluation_report import coverage_curve, pooled_confusion, precision_recall_curve
from conftest import PROVENANCE, sample, write_csv

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def evaluated(trained_home, cfpb_rows, tmp_path_factory):
    """`evaluate --json --report` once for the module, on 450 real complaints: enough to include a source
    whose every row is tagged, so the flag task's exclusions are exercised."""
    tmp = tmp_path_factory.mktemp("report")
    home, folder = shutil.copytree(trained_home, tmp / "home"), tmp / "report"
    data = write_csv(tmp / "eval.csv", sample(cfpb_rows, 450, salt="report"))
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = main(["--home", str(home), "evaluate", "--data", str(data), "--provenance", str(PROVENANCE),
                     "--json", "--report", str(folder)])
    assert code == 0
    return json.loads(out.getvalue().strip().splitlines()[-1]), folder


def section(markdown: str, heading: str) -> str:
    return markdown.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]


def coverage_table(text: str) -> list[tuple[float, float, float]]:
    """(threshold, coverage, accuracy) rows of a task's coverage table in the Markdown."""
    rows = re.findall(r"^\| (\d\.\d\d)(?: \(served\))? \| ([\d.]+) \| ([\d.]+) \|$", text, flags=re.MULTILINE)
    return [tuple(map(float, row)) for row in rows]


def test_the_report_folder_holds_the_markdown_valid_pngs_and_the_json(evaluated):
    report, folder = evaluated
    assert report["excluded"]["all_tagged_source_rows_for_flags"] > 0
    assert json.loads((folder / "metrics.json").read_text()) == report
    pngs = ["team_confusion.png", "team_coverage.png", "issue_confusion.png", "issue_coverage.png",
            "vulnerable_precision_recall.png"]
    for name in pngs:
        content = (folder / name).read_bytes()
        assert content.startswith(PNG_SIGNATURE) and len(content) > 10_000, name
    markdown = (folder / "README.md").read_text()
    assert all(f"]({name})" in markdown for name in pngs)
    for task in ("team", "issue", "vulnerable"):
        assert f"## {task}" in markdown
    for key, target in report["targets"].items():
        verdict = "PASS" if target["pass"] else "**FAIL**"
        assert f"| {key} | {target['metric']} | {target['value']:.3f} |" in markdown and verdict in markdown
    assert all(version in markdown for version in report["model_versions"].values())


def test_the_reports_numbers_agree_with_the_json(evaluated):
    report, folder = evaluated
    markdown = (folder / "README.md").read_text()
    for task in ("team", "issue"):
        text, metrics = section(markdown, task), report["tasks"][task]
        assert f"Accuracy **{metrics['accuracy']:.3f}** (95% CI {metrics['ci95'][0]:.3f}–{metrics['ci95'][1]:.3f})" in text
        threshold, coverage, accuracy = coverage_table(text)[0]
        assert (threshold, coverage) == (0.0, 1.0)
        assert accuracy == pytest.approx(metrics["accuracy"], abs=6e-4)  # the table counts the same rows
    vulnerable = report["tasks"]["vulnerable"]
    precision = "–" if np.isnan(vulnerable["precision"]) else f"{vulnerable['precision']:.3f}"  # nothing flagged: none
    operating_point = f"recall {vulnerable['recall']:.3f}, precision {precision}"
    assert operating_point in section(markdown, "vulnerable")  # computed from the rows, biased source left out


def test_coverage_falls_as_the_threshold_rises_and_the_served_one_is_marked(evaluated):
    report, folder = evaluated
    markdown = (folder / "README.md").read_text()
    thresholds = report["system"]["thresholds"]  # tuned with the champions on out-of-fold answers
    for task in ("team", "issue"):
        text = section(markdown, task)
        coverages = [coverage for _, coverage, _ in coverage_table(text)]
        assert coverages == sorted(coverages, reverse=True) and coverages[-1] < coverages[0]
        assert f"| {thresholds[task]:.2f} (served) |" in text
        assert f"At the served threshold {thresholds[task]:.2f}" in text


def test_the_system_section_agrees_with_the_json_and_plots_accuracy_against_automation(evaluated):
    report, folder = evaluated
    system, markdown = report["system"], (folder / "README.md").read_text()
    text = section(markdown, "The system")
    assert f"automation **{system['automation_rate']:.3f}**" in text and f"time cut **{system['time_cut']:.1%}**" in text
    for name, values in system["tasks"].items():
        value = values.get("accuracy", values.get("recall"))
        verdicts = " | ".join("PASS" if values["criteria"][c] else "**FAIL**" for c in system["criteria"])
        row = next(line for line in text.splitlines() if line.startswith(f"| {name} | {value:.3f} |"))
        assert row.startswith(f"| {name} | {value:.3f} | {values['lower_bound']:.3f} | {values['target']:.2f} |")
        assert row.endswith(f"| {verdicts} |")
    assert (folder / "system.png").read_bytes().startswith(PNG_SIGNATURE)


def test_without_json_the_command_says_where_the_report_is(cli, cfpb_rows, tmp_path):
    data = write_csv(tmp_path / "eval.csv", sample(cfpb_rows, 60, salt="report-text"))
    code, out, _ = cli("evaluate", "--data", str(data), "--report", str(tmp_path / "out"))
    assert code == 0 and f"Report: {tmp_path / 'out' / 'README.md'}" in out


def test_coverage_and_accuracy_on_a_hand_made_set():
    y_true, y_pred = ["a", "a", "b", "b"], ["a", "b", "b", "a"]
    scores = [0.9, 0.8, 0.4, 0.3]
    curve = coverage_curve(y_true, y_pred, scores, [0.0, 0.4, 0.5, 0.85, 0.95])
    assert [p.coverage for p in curve] == [1.0, 0.75, 0.5, 0.25, 0.0]  # a score equal to t is allocated
    assert [p.accuracy for p in curve[:4]] == pytest.approx([0.5, 2 / 3, 0.5, 1.0])
    assert np.isnan(curve[4].accuracy)  # nothing allocated: no accuracy to speak of


def test_precision_recall_curve_on_a_hand_made_set():
    precision, recall = precision_recall_curve([True, False, True, False], [0.9, 0.7, 0.7, 0.1])
    assert precision.tolist() == pytest.approx([1.0, 2 / 3, 0.5])  # tied scores are one threshold
    assert recall.tolist() == [0.5, 1.0, 1.0]


def test_the_confusion_matrix_pools_rare_classes_and_normalises_rows():
    y_true = ["a"] * 4 + ["b"] * 2 + ["c", "d"]
    y_pred = ["a", "a", "a", "b", "b", "c", "a", "d"]
    labels, matrix = pooled_confusion(y_true, y_pred, top=2)
    assert labels == ["a", "b", "other"]
    assert matrix.tolist() == [[0.75, 0.25, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5]]


def test_the_serving_path_never_imports_matplotlib():
    code = ("import sys, console.main, complaints.pipeline, model.evaluation_report; "
            "sys.exit('matplotlib' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
