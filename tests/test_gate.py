"""The champion/challenger gate on real complaints: a challenger trained on a tenth of the data is rejected,
one identical to the champion is "no difference" and not promoted, and the decision is stored with both
versions; from the command line it exits 0 only when every challenger may be promoted.

A deployed environment's serving changes: a first version reaches each task's minimum (tasks.yaml) in the
system it joins, a threshold is judged by the system it makes, a flag that flags nothing serves nothing, the
rollout says which steps a line may take, a manifest may only tighten the gate, the report's headline says
what each task says, and a retrain registers only the versions the gate promotes."""

import json
from dataclasses import replace

import pytest

from complaints.deployment import Deployment
from model.gate import (NO_DIFFERENCE, PROMOTE, REJECT, Change, GatePolicy, TaskVerdict, compare, decide,
                        markdown_report, mcnemar_exact, policy_of, step_problem)
from model.manifest import TaskRelease
from model.registration import register_model
from complaints.config import Settings
from complaints.predictors import load_predictor
from complaints.strategy import champions
from conftest import PROVENANCE, git_commit_all, last_json, write_manifest
from model.baseline import BaselineConfig
from model.train import TrainingArguments, train


def challenger(deployment, sample_csv, **given):
    [result] = train(deployment, TrainingArguments(data=sample_csv, tasks=["team"], champion="never",
                                                   provenance=PROVENANCE, baseline=BaselineConfig(max_iter=100),
                                                   **given))
    return result.version


def weak_challenger(deployment, sample_csv, tmp_path) -> str:
    """Trained on a tenth of the champion's data, in a home of its own (here the training gate would stop a
    set that drifts this far from the champion's), then registered beside the champion."""
    elsewhere = Deployment.embedded(Settings.from_env(home=tmp_path / "elsewhere"))
    version = challenger(elsewhere, sample_csv, max_rows=80)
    info = elsewhere.store.get_model_info("team", version)
    register_model(deployment, "team", elsewhere.registry.fetch("team", version), info.kind, info.metrics,
                   info.training_data_sha256, "test", make_champion=False)
    return version


def test_a_challenger_trained_on_a_tenth_of_the_data_is_rejected(deployment, sample_csv, tmp_path):
    weak = weak_challenger(deployment, sample_csv, tmp_path)
    verdict = compare(deployment, deployment.task("team"), weak, sample_csv, GatePolicy())
    assert verdict.decision == REJECT and verdict.champion == champions(deployment)["team"]
    metrics = verdict.metrics
    assert metrics["difference"]["ci95"][0] < -0.01 and metrics["challenger"]["value"] < metrics["champion"]["value"]
    assert "may be worse by more than the margin 0.01" in verdict.reasons[0]
    assert metrics["n"] == metrics["gate_set"]["complaints"] > 100
    mcnemar = metrics["mcnemar"]
    assert mcnemar["champion_only_right"] > mcnemar["challenger_only_right"] and mcnemar["p_value"] < 0.05


def test_a_challenger_identical_to_the_champion_is_no_difference(deployment, sample_csv):
    # the champion's recipe on the champion's data, its operating point tuned with the same tasks: the same version
    results = train(deployment, TrainingArguments(data=sample_csv, champion="never", provenance=PROVENANCE,
                                                  baseline=BaselineConfig(max_iter=100)))
    same = next(result.version for result in results if result.task == "team")
    assert same == champions(deployment)["team"]
    verdict = compare(deployment, deployment.task("team"), same, sample_csv, GatePolicy())
    assert verdict.decision == NO_DIFFERENCE and verdict.metrics["difference"]["value"] == 0
    assert "decides every gate complaint as the champion does" in verdict.reasons[0]


def test_a_collapsing_class_rejects_even_within_the_margin(deployment, sample_csv, tmp_path):
    weak = weak_challenger(deployment, sample_csv, tmp_path)
    lenient = GatePolicy(margin=1.0, collapse_ratio=0.9)  # any margin, but a well-served class may not lose 10%
    verdict = compare(deployment, deployment.task("team"), weak, sample_csv, lenient)
    assert verdict.decision == REJECT and verdict.metrics["collapsed_classes"]
    assert all(reason.startswith("class ") for reason in verdict.reasons)
    promoted = compare(deployment, deployment.task("team"), weak, sample_csv, GatePolicy(margin=1.0, collapse_ratio=0))
    assert promoted.decision == PROMOTE


def test_exact_mcnemar_matches_the_binomial_tail():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(1, 9) == pytest.approx(2 * 11 / 1024)
    with pytest.raises(ValueError, match="unknown gate settings"):
        policy_of({"margn": 0.02})


def test_the_gate_command_reports_stores_the_decision_and_exits_1_when_not_promoted(cli, deployment, sample_csv,
                                                                                   tmp_path):
    weak = weak_challenger(deployment, sample_csv, tmp_path)
    code, out, _ = cli("gate", "--task", "team", "--challenger", weak, "--data", str(sample_csv),
                       "--report", str(tmp_path / "gate"), "--json")
    payload = last_json(out)
    assert code == 1 and payload["decisions"]["team"]["decision"] == REJECT
    report = (tmp_path / "gate" / "report.md").read_text()
    assert "## team: reject" in report and "paired bootstrap" in report and "Exact McNemar" in report
    assert json.loads((tmp_path / "gate" / "gate.json").read_text())["decisions"]["team"]["challenger"] == weak
    [stored] = deployment.store.list_gate_decisions("team", weak)
    assert (stored.decision, stored.champion) == (REJECT, champions(deployment)["team"])


# --- a deployed environment's serving changes (model.gate.decide) ------------------------------------------------

def lines_of(deployment) -> dict:
    return {task: TaskRelease(version) for task, version in champions(deployment).items()}


def first_release(deployment, **overrides) -> list[Change]:
    """Every trained champion as a task's first version in an environment that serves nothing yet."""
    return [Change(task, None, overrides.get(task, line)) for task, line in lines_of(deployment).items()]


def test_a_first_release_below_the_packaged_minimums_is_turned_away(deployment, sample_csv):
    """Models trained on 800 complaints do not reach issue's or vulnerable's minimum (tasks.yaml); the pipeline
    serves every task or none, so team's version, which reaches its own, is turned away with them."""
    verdicts = {v.task: v for v in decide(deployment, first_release(deployment), {}, sample_csv, GatePolicy(),
                                          ("champion",))}
    assert {task: v.decision for task, v in verdicts.items()} == {"team": REJECT, "issue": REJECT, "vulnerable": REJECT}
    assert "under its minimum 0.66" in verdicts["issue"].reasons[0]
    assert "vulnerable recall" in verdicts["vulnerable"].reasons[0] and "under its minimum 0.52" in verdicts["vulnerable"].reasons[0]
    assert "would have no version: the pipeline serves every task or none" in verdicts["team"].reasons[0]
    system = verdicts["issue"].metrics["system"]
    assert system["tasks"]["issue"]["accuracy"] < 0.66 and system["n"] > 100


def test_a_first_release_that_reaches_every_minimum_is_promoted(tiny_model_minimums, deployment, sample_csv):
    verdicts = decide(deployment, first_release(deployment), {}, sample_csv, GatePolicy(), ("champion",))
    assert [v.decision for v in verdicts] == [PROMOTE] * 3
    assert all(v.champion == "" and v.challenger == v.change.after.champion for v in verdicts)
    assert all("reaches every task's minimum" in v.reasons[-1] for v in verdicts)


def test_a_flag_that_flags_nothing_is_turned_away(tiny_model_minimums, deployment, sample_csv):
    """The model card's "recall 0.0": a flag whose threshold flags no complaint serves nothing, whatever the
    system it joins; the others cannot serve without it."""
    line = lines_of(deployment)["vulnerable"]
    verdicts = {v.task: v for v in decide(deployment, first_release(
        deployment, vulnerable=replace(line, threshold=1.0)), {}, sample_csv, GatePolicy(), ("champion",))}
    assert verdicts["vulnerable"].decision == REJECT and "would flag no complaint" in verdicts["vulnerable"].reasons[0]
    assert verdicts["team"].decision == REJECT


@pytest.mark.parametrize("task, threshold, why", [
    ("vulnerable", 0.0, "over its capacity"),  # everyone to the specialists
    ("issue", 0.0, "issue accuracy"),  # every issue the model's, however unsure
])
def test_a_threshold_change_is_gated_by_the_system_it_makes(tiny_model_minimums, deployment, sample_csv, task,
                                                            threshold, why):
    serving = lines_of(deployment)
    change = Change(task, serving[task], replace(serving[task], threshold=threshold))
    [verdict] = decide(deployment, [change], serving, sample_csv, GatePolicy(), ("champion",))
    assert verdict.decision == REJECT and why in verdict.reasons[0], verdict.reasons


def test_a_new_version_stands_the_comparison_with_the_champion(tiny_model_minimums, deployment, sample_csv, tmp_path):
    weak = weak_challenger(deployment, sample_csv, tmp_path)
    serving = lines_of(deployment)
    [verdict] = decide(deployment, [Change("team", serving["team"], TaskRelease(weak))], serving, sample_csv,
                       GatePolicy(), ("champion",))
    assert verdict.decision == REJECT and "may be worse by more than the margin" in verdict.reasons[0]
    assert (verdict.champion, verdict.challenger) == (serving["team"].champion, weak)


def test_changes_decided_together_are_measured_with_what_still_serves(tiny_model_minimums, deployment, sample_csv,
                                                                     tmp_path):
    """A change turned away leaves its task's line as it serves: the others are measured with that line (here the
    issue's tuned threshold written into its line: the system it makes is the one that serves)."""
    weak = weak_challenger(deployment, sample_csv, tmp_path)
    serving = lines_of(deployment)
    tuned = load_predictor(deployment.registry.fetch("issue", serving["issue"].champion)).threshold
    team, issue = decide(deployment, [Change("team", serving["team"], TaskRelease(weak)),
                                      Change("issue", serving["issue"], replace(serving["issue"], threshold=tuned))],
                         serving, sample_csv, GatePolicy(), ("champion",))
    assert (team.decision, issue.decision) == (REJECT, PROMOTE), issue.reasons
    assert issue.metrics["system"]["thresholds"]["issue"] == tuned and "system" not in team.metrics


@pytest.mark.parametrize("rollout, before, after, problem", [
    (("champion",), None, TaskRelease("b", "c", "shadow"), "first version serves alone"),
    (("shadow", "canary:10", "champion"), TaskRelease("a"), TaskRelease("b"), "enters at 'shadow'"),
    (("shadow", "canary:10", "champion"), TaskRelease("a"), TaskRelease("a", "b", "canary", 10), "enters at 'shadow'"),
    (("shadow", "canary:10", "champion"), TaskRelease("a", "b", "shadow"), TaskRelease("a", "b", "canary", 50),
     "not the next step"),
    (("shadow", "canary:10", "champion"), TaskRelease("a", "b", "shadow"), TaskRelease("b"), "only from the last step"),
    (("shadow", "canary:10", "champion"), TaskRelease("a", "b", "shadow"), TaskRelease("a", "b", "canary", 10), None),
    (("shadow", "canary:10", "champion"), TaskRelease("a", "b", "canary", 10), TaskRelease("b"), None),
    (("shadow", "canary:10", "champion"), TaskRelease("a", "b", "canary", 10), TaskRelease("a", "b", "shadow"), None),
    (("shadow", "canary:10", "champion"), TaskRelease("a"), TaskRelease("a", "b", "shadow"), None),
    (("shadow", "canary:10", "champion"), TaskRelease("b"), TaskRelease("a"), None),  # a rollback (previous: a)
    (("champion",), TaskRelease("a"), TaskRelease("c"), None),
    (("champion",), TaskRelease("a"), TaskRelease("a", threshold=0.4), None),
])
def test_the_rollout_says_which_steps_a_line_may_take(rollout, before, after, problem):
    found = step_problem(rollout, before, after, previous_champion="a")
    assert (found is None) if problem is None else (problem in found), found


def test_a_manifest_may_tighten_the_gate_never_loosen_it():
    assert policy_of({"margin": 0.005, "collapse_ratio": 0.6, "bootstrap_samples": 4000}).margin == 0.005
    for loose, why in (({"margin": 0.9}, "never loosen it: margin 0.9"), ({"collapse_ratio": 0.1}, "collapse_ratio"),
                       ({"collapse_min_correct": 50}, "collapse_min_correct"), ({"seed": 7}, "are the code's")):
        with pytest.raises(ValueError, match=why):
            policy_of(loose)


def test_the_reports_headline_says_what_each_task_says():
    def verdict(task, decision):
        return TaskVerdict(task, "", "v", decision, ["why"], {})

    policy = GatePolicy()
    assert "**Decision: promote team, issue.**" in markdown_report(
        [verdict("team", PROMOTE), verdict("issue", PROMOTE)], policy, "t")
    mixed = markdown_report([verdict("team", PROMOTE), verdict("issue", REJECT), verdict("vulnerable", NO_DIFFERENCE)],
                            policy, "t")
    assert "**Decision: promote team; do not promote issue (reject), vulnerable (no_difference).**" in mixed
    assert "**Decision: do not promote team (reject).**" in markdown_report([verdict("team", REJECT)], policy, "t")


def test_a_retrain_where_no_challenger_passes_exits_0_registers_nothing_and_says_why(cli_at, deployment, sample_csv,
                                                                                    tmp_path, monkeypatch):
    """A first retrain whose versions miss the packaged minimums: a quiet week, not a failure (exit 0, so the
    scheduled run is green and its pull-request job closes last week's stale pull request). No manifest change, no
    decision, nothing in the environment's registry, and a report that says "do not promote" as every task does."""
    deploy, registry = tmp_path / "deploy", tmp_path / "registry"
    manifest = write_manifest(deploy, "dev", f"sqlite:///{tmp_path / 'dev.sqlite3'}", f"file://{registry}", {})
    before = manifest.read_text()
    git_commit_all(deploy, "dev: no models yet")
    monkeypatch.setenv("COMPLAINTS_DEPLOY_DIR", str(deploy))
    out = tmp_path / "promotion"
    code, printed, _ = cli_at(tmp_path / "home")("--env", "dev", "retrain", "--data", str(sample_csv), "--out", str(out))
    gate = json.loads((out / "gate.json").read_text())
    assert code == 0 and gate["promoted"] == [] and manifest.read_text() == before, printed
    assert "untouched, nothing to propose" in printed and (out / "manifest.diff").read_text() == ""
    assert not (deploy / "gate").exists() and not any(registry.rglob("model.json"))
    report = (out / "report.md").read_text()
    assert "**Decision: do not promote team (reject), issue (reject), vulnerable (reject).**" in report
    assert report.count(": reject\n") == 3
