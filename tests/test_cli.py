"""The `complaints` command as a user runs it: real files, real store, JSON contracts."""

import argparse
import csv
import functools
import re
import sqlite3
import stat
from pathlib import Path

import pytest

from console.main import main
from complaints import deployment as deployment_module
from complaints.deployment import Deployment
from complaints.store.sqlite import SQLiteStore
from complaints.config import Settings
from model.training_data import corrected_complaints
from conftest import last_json, sample, write_csv


def test_triage_json_counts_every_row_including_unreadable_ones(cli, cfpb_rows, tmp_path):
    rows = [dict(r) for r in sample(cfpb_rows, 25, salt="cli")]
    rows[3]["Date received"] = "yesterday"
    path = write_csv(tmp_path / "batch.csv", rows)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("broken,line\n")
    code, out, _ = cli("triage", "--data", str(path), "--json")
    result = last_json(out)
    assert code == 0
    assert result["rows"] == 26 == result["allocated"] + result["manual_triage"] + result["rejected"]
    assert result["rejected"] == 2 and result["rejected_reasons"] == {"bad_date": 1, "malformed_record": 1}
    assert sum(result["by_queue"].values()) == 24
    assert set(result["model_versions"]) == {"team", "issue", "vulnerable"}


def test_show_returns_the_redacted_complaint_with_its_allocation_and_models(cli, cfpb_rows, tmp_path):
    row = dict(sample(cfpb_rows, 1, salt="show")[0])
    row["Consumer complaint narrative"] += " Call me at 555-201-3344."
    cli("triage", "--data", str(write_csv(tmp_path / "one.csv", [row])), "--json")
    code, out, _ = cli("show", row["Complaint ID"], "--json")
    shown = last_json(out)
    assert code == 0 and "555-201-3344" not in out and "[PHONE]" in shown["complaint"]["narrative"]
    assert shown["allocation"]["model_versions"]["team"] == shown["models"]["team"]["version"]
    code, out, _ = cli("show", row["Complaint ID"])
    assert code == 0 and "Queue:" in out
    code, _, err = cli("show", "no-such-id")
    assert code == 2 and "no complaint" in err


def test_triage_a_single_text(cli):
    code, out, _ = cli("triage", "--text", "The debt collector keeps calling me about a debt I do not owe.")
    assert code == 0 and "Queue:" in out and "team" in out


def test_evaluate_prints_the_json_contract_and_writes_predictions(cli, cfpb_rows, tmp_path):
    path = write_csv(tmp_path / "eval.csv", sample(cfpb_rows, 300, salt="eval"))
    predictions = tmp_path / "predictions.csv"
    code, out, _ = cli("evaluate", "--data", str(path), "--json", "--predictions", str(predictions))
    report = last_json(out)
    assert code == 0
    assert set(report["tasks"]) == {"team", "issue", "vulnerable"}
    for name in ("team", "issue"):
        metrics = report["tasks"][name]
        assert 0 <= metrics["ci95"][0] <= metrics["accuracy"] <= metrics["ci95"][1] <= 1 and metrics["classes"] > 1
    assert {"recall", "precision", "ci95"} <= set(report["tasks"]["vulnerable"])
    assert set(report["targets"]) == {"team", "issue", "vulnerable"}
    assert report["n"] + report["excluded"]["seen_in_training"] == 300
    with open(predictions, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == report["n"]
    assert list(rows[0]) == ["complaint_id", "team_true", "team_pred", "team_score", "issue_true", "issue_pred",
                             "issue_score", "vulnerable_true", "vulnerable_pred", "vulnerable_score", "status", "queue"]
    accuracy = sum(r["team_true"] == r["team_pred"] for r in rows) / len(rows)
    assert accuracy == pytest.approx(report["tasks"]["team"]["accuracy"], abs=1e-4)
    system = report["system"]  # the rows as routed, with the triage team on manual triage
    allocated = [r for r in rows if r["status"] == "allocated"]
    assert system["automation_rate"] == pytest.approx(len(allocated) / len(rows), abs=1e-4)
    assert {r["queue"] for r in rows if r["status"] == "manual_triage"} <= {"Manual triage"}
    assert all(r["queue"] == "Vulnerable customers" for r in allocated if r["vulnerable_pred"] == "yes")
    # the models' team where it clears its threshold; the triage team's rate on manual triage, and where the
    # specialists name a flagged complaint's unsure team
    sure = [r for r in allocated if float(r["team_score"]) >= system["thresholds"]["team"]]
    expected = (sum(r["team_true"] == r["team_pred"] for r in sure) + 0.80 * (len(rows) - len(sure))) / len(rows)
    assert system["tasks"]["team"]["accuracy"] == pytest.approx(expected, abs=1e-4)
    assert {"auc", "precision_at_recall_0.60", "flag_rate_at_recall_0.60"} <= set(report["tasks"]["vulnerable"])
    # every criterion's point, as the champions' training run tuned it, measured here; the served one is the system
    criteria = report["criteria"]
    assert set(criteria) == {"band", "parity", "tiny-models"} == set(system["criteria"])
    assert criteria["tiny-models"]["thresholds"] == system["thresholds"]
    assert criteria["tiny-models"]["automation_rate"] == system["automation_rate"]
    assert all(isinstance(point["meets"], bool) and 0 <= point["automation_rate"] <= 1 for point in criteria.values())
    code, out, _ = cli("evaluate", "--data", str(path))
    assert code == 0 and ("PASS" in out or "FAIL" in out) and "95% CI" in out and "System (models + the triage team" in out


def test_evaluate_on_a_folder_measures_the_system_on_each_data_file_too(cli, cfpb_rows, recent_rows, tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    write_csv(folder / "older.csv", sample(cfpb_rows, 150, salt="older-eval"))
    write_csv(folder / "recent.csv", sample(recent_rows, 150, salt="recent-eval"))
    code, out, _ = cli("evaluate", "--data", str(folder), "--json")
    report = last_json(out)
    assert code == 0 and set(report["origins"]) == {"older.csv", "recent.csv"}
    assert sum(system["n"] for system in report["origins"].values()) == report["n"]
    code, out, _ = cli("evaluate", "--data", str(folder / "older.csv"), "--json")
    alone = last_json(out)
    assert alone["origins"] == {}  # one file: its system is the report's
    assert report["origins"]["older.csv"] == {k: v for k, v in alone["system"].items() if k != "thresholds"}
    code, out, _ = cli("evaluate", "--data", str(folder), "--report", str(tmp_path / "report"))
    assert code == 0 and "older.csv: " in out and "recent.csv: " in out
    older = report["origins"]["older.csv"]
    readme = (tmp_path / "report" / "README.md").read_text(encoding="utf-8")
    assert f"| `older.csv` | {older['n']:,} | {older['time_cut']:.1%} |" in readme


def test_a_file_missing_a_required_column_is_refused_with_exit_2(cli, cfpb_rows, tmp_path):
    rows = [{k: v for k, v in r.items() if k != "Consumer complaint narrative"} for r in sample(cfpb_rows, 2)]
    code, _, err = cli("triage", "--data", str(write_csv(tmp_path / "x.csv", rows)), "--json")
    assert code == 2 and "'Consumer complaint narrative'" in err


def test_strategy_commands_and_reallocation_feed_the_audit_log(cli, cfpb_rows, tmp_path):
    code, out, _ = cli("strategy", "show")
    champion = last_json(out)["team"]["champion"]
    code, _, err = cli("strategy", "canary", "--task", "team", "--version", "0000000000000000")
    assert code == 2 and "not a registered version" in err
    code, _, err = cli("strategy", "rollback", "--task", "team")
    assert code == 2 and "no previous champion" in err
    code, out, _ = cli("strategy", "shadow", "--task", "team", "--version", champion)
    assert code == 0 and last_json(out)["team"]["mode"] == "shadow"

    row = sample(cfpb_rows, 1, salt="realloc")[0]
    cli("triage", "--data", str(write_csv(tmp_path / "r.csv", [row])), "--json")
    code, _, err = cli("reallocate", row["Complaint ID"], "--task", "team", "--label", "Space travel", "--analyst", "ana")
    assert code == 2 and "not a valid team label" in err
    code, out, _ = cli("reallocate", row["Complaint ID"], "--task", "team", "--label", "Mortgage", "--analyst", "ana")
    assert code == 0 and last_json(out)["label"] == "Mortgage"
    code, out, _ = cli("show", row["Complaint ID"], "--json")
    assert last_json(out)["feedback"][0]["analyst"] == "ana"


def test_retraining_learns_from_analysts_corrections(cli, cfpb_rows, sample_csv, home, tmp_path):
    row = sample(cfpb_rows, 1, salt="feedback")[0]
    cli("triage", "--data", str(write_csv(tmp_path / "fb.csv", [row])), "--json")
    cli("reallocate", row["Complaint ID"], "--task", "issue", "--label", "Fees or interest", "--analyst", "ana")
    deployment = Deployment.embedded(Settings.from_env(home=home))
    complaints, corrections, _ = corrected_complaints(deployment, sample_csv)
    assert corrections[(row["Complaint ID"], "issue")] == "Fees or interest"
    assert row["Complaint ID"] in {c.complaint_id for c in complaints}


def test_the_main_job_trains_once_then_reuses_models_and_complaints(cfpb_rows, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COMPLAINTS_HOME", str(tmp_path / "fresh-home"))
    data = write_csv(tmp_path / "data.csv", sample(cfpb_rows, 500, salt="main-job"))
    assert main(["run", "--data", str(data), "--limit", "40"]) == 0
    first = capsys.readouterr().out
    assert "training baseline models" in first and "By queue:" in first and "Model versions:" in first
    assert "Operating point (tiny-models, 95% lower bounds; deferral per complaint)" in first
    assert re.search(r"automation +\d\.\d{3} +\d\.\d{3}", first)  # promised, then realised on the held-out split
    assert main(["run", "--data", str(data), "--limit", "40"]) == 0
    second = capsys.readouterr().out
    assert "already registered: reusing them" in second and "were already triaged by an earlier run" in second


def test_evaluate_without_champions_refuses_before_reading_the_data(cli_at, sample_csv, tmp_path):
    """A home no model was trained in (a command typed away from make run's home) says so at once, having
    read and redacted nothing."""
    home = tmp_path / "no-models"
    code, out, err = cli_at(home)("evaluate", "--data", str(sample_csv))
    assert code == 2 and not out
    assert "task 'team' has no champion model" in err
    with sqlite3.connect(Settings.from_env(home=home).redaction_cache_path) as cache:
        assert cache.execute("SELECT COUNT(*) FROM redacted").fetchone() == (0,)


@pytest.mark.parametrize("argv, extra, module", [
    (["explain", "any-complaint"], "explain", "shap"),
    (["evaluate", "--data", "absent.csv", "--report", "{out}"], "report", "matplotlib"),
    (["monitor", "--report", "{out}"], "report", "matplotlib"),
    (["serve"], "api", "uvicorn"),
    (["validate", "--suite", "intake", "--data", "absent.csv"], "checks", "great_expectations"),
    (["dataset", "export", "--out", "{out}", "--data", "absent.csv"], "train", "datasets"),
    (["train", "--kind", "transformer-onnx", "--data", "absent.csv"], "train", "torch"),
    (["train", "--epochs", "1", "--data", "absent.csv"], "train", "torch"),
])
def test_a_command_whose_extra_is_missing_says_which_before_any_work(cli, monkeypatch, tmp_path, argv, extra, module):
    """`make run` installs the main job's packages only: a command that needs another extra names it and how to
    install it, with exit 2, before it reads data or writes a report (not a traceback after the work)."""
    import console.common

    monkeypatch.setattr(console.common, "find_spec", lambda name: None if name == module else object())
    out = tmp_path / "report"
    code, _, err = cli(*[arg.format(out=out) for arg in argv])
    assert code == 2 and f"needs the '{extra}' extra ({module} not installed): make setup installs it" in err
    assert not out.exists()


def test_help_is_available_for_every_command(capsys):
    from console.main import build_parser
    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert {"run", "train", "triage", "evaluate", "retriage", "validate"} <= set(subparsers.choices)
    for command in subparsers.choices:
        with pytest.raises(SystemExit) as exit_:
            main([command, "--help"])
        assert exit_.value.code == 0
        out = capsys.readouterr().out
        assert "usage: complaints " + command in out and "%%" not in out  # a description is printed as written


def test_train_failing_part_way_exits_1_and_says_what_it_registered(cli_at, sample_csv, tmp_path):
    """A registry that cannot take the third task's version (its folder is a file): the first two tasks stay
    registered and champion, and the error names them, with exit 1, not 2 ("refused, nothing changed")."""
    home = tmp_path / "part-way"
    (home / "registry").mkdir(parents=True)
    (home / "registry" / "vulnerable").write_text("not a folder")
    code, _, err = cli_at(home)("train", "--data", str(sample_csv), "--max-rows", "400", "--max-iter", "50", "--json")
    deployment = Deployment.embedded(Settings.from_env(home=home))
    team, issue = (deployment.store.get_strategy(t).champion for t in ("team", "issue"))
    assert code == 1 and "registering task 'vulnerable' failed" in err
    assert f"already registered: team@{team} (champion), issue@{issue} (champion)" in err
    assert deployment.store.get_strategy("vulnerable") is None


def test_a_training_set_that_fails_registers_nothing_and_is_refused_with_exit_2(cli, home, cfpb_rows, tmp_path):
    deployment = Deployment.embedded(Settings.from_env(home=home))
    before = {t.name: deployment.registry.versions(t.name) for t in deployment.tasks}
    rows = [dict(r, **{"Tags": ""}) for r in sample(cfpb_rows, 200, salt="no-positives")]  # no vulnerable example
    code, _, err = cli("train", "--data", str(write_csv(tmp_path / "untagged.csv", rows)))
    assert code == 2 and "nothing was trained" in err
    assert {t.name: deployment.registry.versions(t.name) for t in deployment.tasks} == before


def test_a_resent_correction_is_stored_once_and_a_conflicting_one_is_kept_and_refused(cli, home, cfpb_rows, tmp_path):
    row = sample(cfpb_rows, 1, salt="resent-correction")[0]
    complaint_id = row["Complaint ID"]
    cli("triage", "--data", str(write_csv(tmp_path / "c.csv", [row])), "--json")
    correct = ("reallocate", complaint_id, "--task", "team", "--analyst", "ana", "--label")
    first = last_json(cli(*correct, "Mortgage")[1])
    again = last_json(cli(*correct, "Mortgage")[1])  # no key: the correction it repeats still stands
    assert (first["already_stored"], again["already_stored"]) == (False, True)
    assert again["idempotency_key"] == first["idempotency_key"] and again["at"] == first["at"]
    assert not last_json(cli(*correct, "Student loan")[1])["already_stored"]
    assert not last_json(cli(*correct, "Mortgage")[1])["already_stored"]  # set back: a new correction

    keyed = (*correct, "Student loan", "--idempotency-key", "ops-app-42")
    assert last_json(cli(*keyed)[1])["already_stored"] is False
    assert last_json(cli(*keyed)[1])["already_stored"] is True
    code, _, err = cli(*correct, "Debt collection", "--idempotency-key", "ops-app-42")
    assert code == 1 and "already stored with a different request" in err and "kept as audit event" in err
    deployment = Deployment.embedded(Settings.from_env(home=home))
    assert [f.label for f in deployment.store.list_feedback(complaint_id)] == [
        "Mortgage", "Student loan", "Mortgage", "Student loan"]
    events = deployment.store.list_audit(1000)
    assert sum(e.action == "reallocate" and e.subject == complaint_id for e in events) == 4
    [kept] = [e for e in events if e.action == "conflicting_resend"]
    assert kept.details["resent"]["label"] == "Debt collection" and kept.details["stored"]["label"] == "Student loan"


def test_users_disable_refuses_the_users_token_and_the_listing_says_so(cli, deployment):
    from complaints import access

    code, out, _ = cli("users", "add", "leaver", "--role", "auditor")
    token = out.strip().splitlines()[-1]
    assert code == 0 and access.authenticate(deployment.store, f"Bearer {token}").name == "leaver"
    code, out, _ = cli("users", "disable", "leaver")
    assert code == 0 and "disabled" in out
    with pytest.raises(access.NotAuthenticated):
        access.authenticate(deployment.store, f"Bearer {token}")
    _, listing, _ = cli("users", "list")
    assert next(line for line in listing.splitlines() if "leaver" in line).split()[-2] == "disabled"
    code, _, err = cli("users", "disable", "nobody")
    assert code != 0 and "no such user" in err


def refused(err: str, command: str, message: str) -> bool:
    """The command's one-line refusal (warnings, JSON lines, may stand before it), and no traceback."""
    return "Traceback" not in err and err.strip().splitlines()[-1].startswith(f"complaints {command}: error: {message}")


def test_a_read_only_store_is_read_and_a_write_is_refused_with_exit_2(cli, home, cfpb_rows, tmp_path):
    row = sample(cfpb_rows, 1, salt="read-only")[0]
    cli("triage", "--data", str(write_csv(tmp_path / "one.csv", [row])))
    store = home / "triage.sqlite3"
    store.chmod(0o444)  # its owner made it read-only
    code, out, _ = cli("show", row["Complaint ID"], "--json")
    assert code == 0 and last_json(out)["allocation"]
    assert cli("queue", "Manual triage")[0] == 0
    more = write_csv(tmp_path / "more.csv", sample(cfpb_rows, 2, salt="read-only-more"))
    code, _, err = cli("triage", "--data", str(more))
    assert code == 2 and refused(err, "triage", "the store is read-only")
    assert stat.S_IMODE(store.stat().st_mode) == 0o400  # no write permission given back


def test_a_store_another_writer_holds_is_refused_with_exit_2(cli, home, monkeypatch):
    monkeypatch.setattr(deployment_module, "SQLiteStore", functools.partial(SQLiteStore, busy_timeout_ms=50))
    holder = sqlite3.connect(home / "triage.sqlite3", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    code, _, err = cli("users", "add", "ana", "--role", "auditor")
    holder.execute("ROLLBACK")
    assert code == 2 and refused(err, "users", "the store is busy with another writer")


def _taken_after(monkeypatch, home, allocations: int) -> sqlite3.Connection:
    """Another writer takes the store before the command's ``allocations + 1``th allocation, and holds it past the
    wait: the connection that holds it, to let go."""
    holder, seen = sqlite3.connect(home / "triage.sqlite3", isolation_level=None), []

    class Taken(SQLiteStore):
        def put_allocation(self, allocation):
            if len(seen) == allocations:
                holder.execute("BEGIN IMMEDIATE")
            seen.append(allocation.complaint_id)
            return super().put_allocation(allocation)

    monkeypatch.setattr(deployment_module, "SQLiteStore", functools.partial(Taken, busy_timeout_ms=50))
    return holder


def _stopped_batch(cli, home, cfpb_rows, tmp_path, monkeypatch) -> tuple[str, Path, list[str]]:
    """A batch of 30 rows (one rejected) in chunks of 10 that a busy store stops at its 13th allocation: what the
    command printed on stderr, the file, and the ids of its valid rows."""
    rows = [dict(r) for r in sample(cfpb_rows, 30, salt="busy-mid-batch")]
    rows[4]["Date received"] = "yesterday"  # rejected, in the first chunk
    path = write_csv(tmp_path / "batch.csv", rows)
    holder = _taken_after(monkeypatch, home, 12)
    monkeypatch.setenv("COMPLAINTS_CHUNK_SIZE", "10")
    code, _, err = cli("triage", "--data", str(path), "--json")
    holder.execute("ROLLBACK")
    monkeypatch.setattr(deployment_module, "SQLiteStore", SQLiteStore)
    assert code == 1 and "Traceback" not in err, err
    return err, path, [r["Complaint ID"] for number, r in enumerate(rows) if number != 4]


def test_a_batch_a_busy_store_stops_part_way_fails_naming_what_stands_and_the_same_command_finishes_it(
        cli, home, cfpb_rows, tmp_path, monkeypatch):
    err, path, ids = _stopped_batch(cli, home, cfpb_rows, tmp_path, monkeypatch)
    stopped = err.strip().splitlines()[-1]
    assert stopped.startswith("complaints triage: failed: the store is busy with another writer: batch batch-")
    assert "stopped part-way, 10 rows triaged" in stopped and "run the same command again to finish it" in stopped
    store = SQLiteStore(home / "triage.sqlite3")
    assert sum(store.get_allocation(i) is not None for i in ids) == 12  # the first chunk's 9, 3 of the second
    assert sum(store.get_complaint(i) is not None for i in ids) == 19  # the second's other 7 stored, unallocated
    code, out, _ = cli("triage", "--data", str(path), "--json")
    result = last_json(out)
    assert code == 0 and result["reused"] == 12 and result["rejected"] == 1
    assert result["rows"] == 30 == result["allocated"] + result["manual_triage"] + result["rejected"]
    assert all(store.get_allocation(i) and not store.list_allocation_history(i) for i in ids)  # each allocated once
    assert store.list_unallocated() == [] and len(store.list_rejections(result["batch_id"])) == 1
    assert store.get_batch(result["batch_id"]).counts["rows"] == 30


def test_a_retriage_a_busy_store_stops_part_way_fails_naming_what_stands_and_the_same_command_finishes_it(
        cli, home, cfpb_rows, tmp_path, monkeypatch):
    _, _, ids = _stopped_batch(cli, home, cfpb_rows, tmp_path, monkeypatch)  # 7 stored, not allocated
    holder = _taken_after(monkeypatch, home, 3)
    code, _, err = cli("retriage", "--json")
    holder.execute("ROLLBACK")
    stopped = err.strip().splitlines()[-1]
    assert code == 1 and "Traceback" not in err, err
    assert stopped.startswith("complaints retriage: failed: the store is busy with another writer: retriage-")
    written = re.search(r"stopped part-way, (\d+) allocated and (\d+) left in manual triage of \d+; what was "
                        r"written stands: run the same command again to finish it$", stopped)
    assert written and int(written[1]) + int(written[2]) == 3, stopped
    monkeypatch.setattr(deployment_module, "SQLiteStore", SQLiteStore)
    code, out, _ = cli("retriage", "--json")
    result = last_json(out)
    assert code == 0 and result["unfinished"] == 4
    store = SQLiteStore(home / "triage.sqlite3")
    stored = [i for i in ids if store.get_complaint(i)]  # not the third chunk: only the batch sent again reads it
    assert len(stored) == 19 and store.list_unallocated() == []
    assert all(store.get_allocation(i) and not store.list_allocation_history(i) for i in stored)  # each allocated once


def test_a_store_that_cannot_be_opened_is_refused_with_exit_2(cli, home):
    for part in home.glob("triage.sqlite3*"):
        part.unlink()
    (home / "triage.sqlite3").write_bytes(b"not a database")
    code, _, err = cli("queue", "Manual triage")
    assert code == 2 and refused(err, "queue", f"the store {home / 'triage.sqlite3'} cannot be opened")
