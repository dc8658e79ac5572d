"""The champion/challenger gate on real complaints: a challenger trained on a tenth of the data is rejected,
one identical to the champion is "no difference" and not promoted, and the decision is stored with both
versions; from the command line it exits 0 only when every challenger may be promoted."""

import json

import pytest

from complaints.deployment import Deployment
from model.gate import NO_DIFFERENCE, PROMOTE, REJECT, GatePolicy, compare, mcnemar_exact, policy_of
from model.registration import register_model
from complaints.config import Settings
from complaints.strategy import champions
from conftest import PROVENANCE, last_json
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
