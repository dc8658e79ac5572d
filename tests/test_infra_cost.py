"""`make cost`: the cost model runs on the real serving path and its arithmetic holds."""

import math

import pytest

from tools import cost as estimate


@pytest.fixture(scope="module")
def measured(trained_home, sample_csv):
    return estimate.measure(trained_home, sample_csv, bench=None)


def test_the_serving_path_is_measured_with_the_real_pipeline(measured):
    assert 0 < measured.latency_p50_ms <= measured.latency_p95_ms < 1000
    assert measured.reads_per_complaint >= 1 and measured.writes_per_complaint >= 2  # complaint + allocation
    assert measured.write_units_per_complaint >= 3 * measured.writes_per_complaint / 2
    assert measured.raw_bytes_per_complaint > 200 and "measured now" in measured.source
    assert set(measured.models) == {"team", "issue", "vulnerable"}


def test_the_comparison_covers_both_volumes_and_arrivals_and_meets_the_requirement(measured):
    report = estimate.report(measured, estimate.Prices(), estimate.Assumptions())
    assert set(report["systems"]) == {"3,000/day files", "3,000/day api", "15,000/day files", "15,000/day api"}
    for name, system in report["systems"].items():
        per_day = int(name.split("/")[0].replace(",", ""))
        assert math.isclose(system["per_1000"], system["month"] / (per_day * estimate.DAYS_PER_MONTH) * 1000)
        assert all(value >= 0 for value in system["lines"].values()) and system["month"] > 0
    assert math.isclose(report["team"][3000]["per_1000"], 1000 * 2 / 60 * 35)  # 2 minutes at $35/h
    assert report["cheaper_by"] >= 0.5 and report["faster_by"] >= 0.5 and report["requirement_met"]


def test_a_team_faster_than_the_system_fails_the_requirement(measured):
    report = estimate.report(measured, estimate.Prices(), estimate.Assumptions(team_minutes_low=0.1))
    assert not report["requirement_met"] and report["faster_by"] < 0.5
