"""docs/model-report.md is built from the JSON results under reports/: present ones become tables with their
figures, absent ones say so, name the command that writes them and link to the figures of earlier runs."""

from __future__ import annotations

import json

from tools import model_report

EVALUATION = {
    "n": 3675, "excluded": {"seen_in_training": 0, "all_tagged_source_rows_for_flags": 501},
    "model_versions": {"team": "aaa111", "issue": "bbb222", "vulnerable": "ccc333"},
    "tasks": {"team": {"accuracy": 0.825, "ci95": [0.813, 0.838]}, "vulnerable": {"recall": 0.6, "ci95": [0.55, 0.65]}},
    "targets": {"team": {"metric": "accuracy", "target": 0.8, "tolerance": 0.03, "value": 0.825, "pass": True},
                "vulnerable": {"metric": "recall", "target": 0.6, "tolerance": 0.03, "value": 0.5, "pass": False}},
    "system": {"deferral": "complaint", "automation_rate": 0.377, "manual_triage_share": 0.623, "time_cut": 0.377,
               "cost_cut": 0.376, "criteria": {"band": False, "parity": False},
               "tasks": {"team": {"accuracy": 0.848, "lower_bound": 0.84, "allocated_accuracy": 0.926, "target": 0.8,
                                  "criteria": {"band": True, "parity": True}},
                         "vulnerable": {"recall": 0.587, "lower_bound": 0.561, "specialist_share": 0.152,
                                        "capacity": 0.3, "target": 0.6, "criteria": {"band": False, "parity": False}}},
               "cost_per_complaint": {"system": 0.728, "manual_path": 1.167, "automated_path": 0.00025}},
}
ABLATION = [{"variant": "words-dedup", "what": "the champion recipe", "team": 0.818, "issue": 0.517,
             "vulnerable": {"auc": 0.693, "precision_at_recall_0.60": 0.253, "flag_rate_at_recall_0.60": 0.377},
             "training_minutes": 3.2, "serving_ms_p50": 0.7}]
BENCH = {"complaints": 200, "models": {"team": "tfidf-linear@aaa111"}, "p50_ms": 10.7, "p95_ms": 11.9,
         "throughput_per_s": 107.0, "cold_start_s": 0.47, "transformer": None}


def write(folder, name: str, payload) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(json.dumps(payload), encoding="utf-8")


def test_present_results_become_tables_with_their_figures(tmp_path):
    reports = tmp_path / "reports"
    write(reports, "evaluation.json", EVALUATION)
    write(reports, "ablation.json", ABLATION)
    write(reports, "bench.json", BENCH)
    markdown = model_report.report(reports)
    assert "| team | accuracy | 0.825 | 0.813–0.838 | ≥ 0.80 (±0.03) | met |" in markdown
    assert "| vulnerable | recall | 0.500 | 0.550–0.650 | ≥ 0.60 (±0.03) | missed |" in markdown
    assert "automation **37.7%**" in markdown and "cost cut **37.6%**" in markdown
    assert "| vulnerable | recall 0.587; specialist queue 15.2% of volume (capacity 30.0%) | 0.561 | 0.60 | missed | missed |" \
        in markdown
    assert "| words-dedup | the champion recipe | 0.818 | 0.517 |" in markdown
    assert "| `team=tfidf-linear@aaa111` | 10.7 ms | 11.9 ms | 107.0 complaints/s | 0.47 s |" in markdown
    assert "From `reports/bench.json`, written " in markdown


def test_absent_results_say_so_name_their_command_and_link_the_recorded_figures(tmp_path):
    markdown = model_report.report(tmp_path / "reports")
    assert markdown.count("Not measured here") == len(model_report.SECTIONS)
    assert "`reports/bench-load.json` is absent. `make bench-load` writes it." in markdown
    assert "[recorded-results.md#ablation](recorded-results.md#ablation)" in markdown
    assert "[../infra/COST.md](../infra/COST.md)" in markdown


def test_the_command_writes_the_report_where_it_is_told(tmp_path, capsys):
    write(tmp_path / "reports", "bench.json", BENCH)
    output = tmp_path / "model-report.md"
    assert model_report.main(["--reports", str(tmp_path / "reports"), "--output", str(output)]) == 0
    text = output.read_text(encoding="utf-8")
    assert text.startswith("# Model report") and "10.7 ms" in text
    assert capsys.readouterr().out.strip() == str(output)
