"""`make bench` works on whatever the champions are: right after `make run` (baseline champions only) it
measures them and says there is no transformer path to compare, instead of stopping."""

import json

from tools import bench


def test_bench_measures_the_baseline_champions_right_after_the_main_job(home, sample_csv, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("COMPLAINTS_HOME", str(home))
    output = tmp_path / "bench.json"
    assert bench.main(["--data", str(sample_csv), "--complaints", "20", "--output", str(output)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    result = json.loads(output.read_text())
    assert result["complaints"] == 20 and result["transformer"] is None and summary["transformer"] is None
    assert set(result["models"]) == {"team", "issue", "vulnerable"}
    assert all(model.startswith("tfidf-linear@") for model in result["models"].values())
    assert 0 < summary["champions"]["p50_ms"] <= summary["champions"]["p95_ms"]
    assert summary["champions"]["cold_start_s"] > 0 and summary["champions"]["throughput_per_s"] > 0
