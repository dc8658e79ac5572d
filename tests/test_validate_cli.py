"""`complaints validate` and intake as a user runs them: real files, exit status, the JSON
contract, Data Docs on disk with no personal data in them."""

from pathlib import Path

import pytest

from console.main import main
from conftest import DATA, last_json, sample, write_csv

INTAKE_EXPECTATIONS = {
    "expect_column_values_to_be_null(record_error)",
    "expect_column_values_to_not_be_null(Complaint ID)",
    "expect_column_values_to_not_repeat(Complaint ID)",
    "expect_column_values_to_not_be_null(narrative_chars)",
    "expect_column_values_to_be_between(narrative_chars)",
    "expect_column_values_to_not_be_null(date_received_day)",
    "expect_column_values_to_be_between(date_received_day)",
    "expect_column_values_to_be_in_set(Product)",
    "expect_column_values_to_be_in_set(Issue)",
    "expect_column_values_to_match_regex(Tags)",
    "expect_column_values_to_be_null(customer_record_error)",
}


@pytest.fixture
def cli(cli_at, tmp_path):
    return cli_at(tmp_path / "home")


def test_the_shared_cfpb_file_passes_the_intake_suite_and_data_docs_are_written(cli, tmp_path):
    code, out, _ = cli("validate", "--data", str(DATA), "--suite", "intake", "--json")
    result = last_json(out)
    assert code == 0 and result["success"] and result["suite"] == "intake"
    assert result["rows"] == 11_154 == result["passing_rows"] and result["failing_rows"] == 0
    assert set(result["expectations"]) == INTAKE_EXPECTATIONS
    assert all(e["success"] and e["unexpected_count"] == 0 for e in result["expectations"].values())
    docs = Path(result["data_docs"])
    assert docs == tmp_path / "home" / "data_docs" / "index.html" and docs.is_file()


def test_a_broken_file_fails_naming_the_broken_expectations_and_rows(cli, cfpb_rows, tmp_path):
    rows = [dict(r) for r in sample(cfpb_rows, 20, salt="validate")]
    rows[3]["Consumer complaint narrative"] = ""
    rows[7]["Date received"] = "2999-01-01"
    rows[11]["Product"] = "Timeshares, write to jane@example.com"
    path = write_csv(tmp_path / "broken.csv", rows)
    docs = tmp_path / "docs"
    code, out, _ = cli("validate", "--data", str(path), "--suite", "intake", "--docs", str(docs))
    assert code == 1
    assert "suite 'intake' FAILED (3 of 11 expectations): 20 rows, 3 failing, 17 passing" in out
    assert "FAIL expect_column_values_to_not_be_null(narrative_chars)  1 row(s): 4" in out
    assert "FAIL expect_column_values_to_be_between(date_received_day)  1 row(s): 8" in out
    assert "FAIL expect_column_values_to_be_in_set(Product)  1 row(s): 12" in out
    code, out, _ = cli("validate", "--data", str(path), "--suite", "intake", "--docs", str(docs), "--json")
    result = last_json(out)
    assert code == 1 and not result["success"] and (result["failing_rows"], result["passing_rows"]) == (3, 17)
    failing = {name: e["unexpected_rows"] for name, e in result["expectations"].items() if not e["success"]}
    assert failing == {"expect_column_values_to_not_be_null(narrative_chars)": [4],
                       "expect_column_values_to_be_between(date_received_day)": [8],
                       "expect_column_values_to_be_in_set(Product)": [12]}
    pages = [p.read_text(encoding="utf-8") for p in docs.rglob("*.html")]
    assert (docs / "index.html").is_file() and any("Timeshares, write to [EMAIL]" in p for p in pages)
    narrative = rows[0]["Consumer complaint narrative"][:60]
    assert not any("jane@example.com" in p or narrative in p for p in pages)


def test_the_training_suite_from_the_command_line(cli, sample_csv):
    code, out, _ = cli("validate", "--data", str(sample_csv), "--suite", "training", "--json")
    result = last_json(out)
    assert code == 0 and result["success"] and result["suite"] == "training"
    assert {"expect_column_pair_values_a_to_determine_b(complaint_id, split)",
            "expect_column_pair_values_a_to_determine_b(narrative_fingerprint, split)",
            "expect_column_values_to_not_repeat(narrative_fingerprint)",
            "expect_column_values_to_be_between(issue_class_size)"} <= set(result["expectations"])
    assert result["small_classes"]["issue"] and Path(result["data_docs"]).is_file()


def test_triage_rejects_by_the_rules_the_intake_suite_reports_and_counts_them(home, cfpb_rows, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COMPLAINTS_HOME", str(home))
    rows = [dict(r) for r in sample(cfpb_rows, 12, salt="quarantine")]
    rows[2]["Issue"] = "Spaceship trouble"
    rows[5]["Date received"] = "yesterday"
    assert main(["triage", "--data", str(write_csv(tmp_path / "batch.csv", rows)), "--json"]) == 0
    result = last_json(capsys.readouterr().out)
    assert result["rows"] == 12 == result["allocated"] + result["manual_triage"] + result["rejected"]
    assert result["rejected_reasons"] == {"unknown_issue": 1, "bad_date": 1}


def test_validate_help_names_the_suites_and_data_docs(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["validate", "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and "--suite {intake,training}" in out and "Data Docs" in out and "--docs DIR" in out
