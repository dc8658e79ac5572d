"""`make promise-gap`: the held-out split rotates through disjoint fifths of the narrative hash, and the tool
trains the recipe once per rotation and reports each promise beside its realisation, and their mean."""

from __future__ import annotations

import json
import statistics

import pytest

from complaints.config import Settings
from complaints.deployment import Deployment
from complaints.splits import FOLDS, is_holdout
from model.training_data import training_set
from tools import promise_gap


def test_each_narrative_is_held_out_by_exactly_one_rotation_and_rotation_0_is_the_split_versions_train_with():
    narratives = [f"complaint number {i} about my account" for i in range(2000)]
    for text in narratives:
        held = [is_holdout(text, rotation=r) for r in range(5)]
        assert sum(held) == 1 and held[0] == is_holdout(text)
    assert 300 < sum(is_holdout(text, rotation=3) for text in narratives) < 500  # about a fifth
    with pytest.raises(ValueError, match="rotations 0 to 4"):
        is_holdout(narratives[0], rotation=5)


def test_the_tool_trains_once_per_rotation_and_reports_each_promise_and_their_mean(sample_csv, tmp_path, capsys):
    home, output = tmp_path / "home", tmp_path / "promise-gap.json"
    assert promise_gap.main(["--data", str(sample_csv), "--rotations", "0,1", "--home", str(home),
                             "--output", str(output)]) == 0
    result = json.loads(output.read_text())
    runs = result["rotations"]
    assert set(runs) == {"0", "1"} and result["folds"] == FOLDS
    deployment = Deployment.embedded(Settings.from_env(home=home))
    trained_on = {rotation: {deployment.store.get_model_info(task, version).training_data_sha256
                             for task, version in run["versions"].items()} for rotation, run in runs.items()}
    assert set(runs["0"]["versions"]) == {"team", "issue", "vulnerable"}
    assert trained_on["0"].isdisjoint(trained_on["1"])  # each rotation learnt from other complaints
    task = deployment.task("team")
    held_out = {r: {c.complaint_id for c, _ in training_set(deployment, [task], sample_csv, holdout_rotation=r)
                    .splits["team"][1]} for r in (0, 1)}
    assert held_out[0] and held_out[1] and held_out[0].isdisjoint(held_out[1])
    for name, mean in result["mean"]["all"].items():
        pairs = [run["parts"]["all"][name] for run in runs.values()]
        assert mean["promised"] == pytest.approx(statistics.fmean(p["promised"] for p in pairs), abs=1e-4)
        assert mean["gap"] == pytest.approx(statistics.fmean(p["realised"] - p["promised"] for p in pairs), abs=1e-4)
        assert mean["gap_se"] is not None and mean["gap_se"] >= 0
    assert {"time_cut", "allocated", "team", "issue", "vulnerable", "specialist_queue"} <= set(result["mean"]["all"])
    printed = capsys.readouterr().out
    assert "| rotation | time cut | allocated |" in printed and printed.count("| **mean** |") == len(result["mean"])
