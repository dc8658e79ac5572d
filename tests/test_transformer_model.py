"""The transformer kind: fine-tuned with torch, served by ONNX Runtime without it, and the two agree."""

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from complaints.deployment import Deployment
from complaints.intake import read_batch
from complaints.pipeline import TriagePipeline
from complaints.predictors import load_predictor
from complaints.predictors.transformer_onnx import hierarchical_issue_proba
from complaints.config import CONFIG_DIR, Settings
from conftest import PROVENANCE, sample, write_csv

torch = pytest.importorskip("torch")
from model import transformer  # noqa: E402  (needs torch)
from model.train import TrainingArguments, train  # noqa: E402

TINY = transformer.TransformerConfig(max_steps=4, max_length=64, batch_size=8)


@pytest.fixture(scope="session")
def transformer_home(sample_csv, tmp_path_factory):
    """Tiny transformer champions for every task, from one multi-task fine-tuning run."""
    home = tmp_path_factory.mktemp("transformer-home")
    deployment = Deployment.embedded(Settings.from_env(home=home))
    results = train(deployment, TrainingArguments(data=sample_csv, kind="transformer-onnx", max_rows=240,
                                                  provenance=PROVENANCE, transformer=TINY))
    assert [r.champion for r in results] == [True, True, True]
    return home


@pytest.fixture(scope="module")
def fitted(cfpb_rows):
    rows = sample(cfpb_rows, 160, salt="onnx")
    texts = [r["Consumer complaint narrative"] for r in rows]
    labels = [r["Product"] for r in rows]
    confident = transformer.TransformerConfig(max_steps=30, max_length=64, batch_size=8, learning_rate=3e-4)
    return transformer.fit(texts[:120], {"team": labels[:120]}, {"team": False},
                           (texts[120:], {"team": labels[120:]}), confident), texts[120:]


def champions(home):
    deployment = Deployment.embedded(Settings.from_env(home=home))
    return [deployment.registry.fetch(t.name, deployment.store.get_strategy(t.name).champion) for t in deployment.tasks]


def test_int8_onnx_predictions_agree_with_the_torch_model(fitted, tmp_path):
    model, texts = fitted
    reference = transformer.torch_proba(model, texts)["team"]
    transformer.export(model, "team", tmp_path / "int8")
    served = load_predictor(tmp_path / "int8").predict_proba(texts)
    assert np.abs(served - reference).max() < 0.1
    top2 = np.sort(reference, axis=1)[:, -2:]
    decided = top2[:, 1] - top2[:, 0] > 0.05  # where torch is not on a near tie, int8 must decide the same
    assert decided.sum() >= len(texts) // 4
    assert (served.argmax(1) == reference.argmax(1))[decided].all()


def test_fp32_onnx_export_is_exact_across_lengths_and_batches(fitted, tmp_path):
    model, texts = fitted
    exact = transformer.FittedTransformer(model.model, model.tokenizer, model.labels,
                                          transformer.TransformerConfig(max_length=64, quantize=False), None, None, 0.0)
    transformer.export(exact, "team", tmp_path / "fp32")
    predictor = load_predictor(tmp_path / "fp32")
    texts = texts + ["short", "a rather longer complaint about a late fee on my credit card statement"]
    np.testing.assert_allclose(predictor.predict_proba(texts), transformer.torch_proba(exact, texts)["team"], atol=1e-4)
    one_by_one = np.vstack([predictor.predict_proba([t]) for t in texts[:5]])
    np.testing.assert_allclose(one_by_one, predictor.predict_proba(texts)[:5], atol=1e-4)


def test_the_serving_path_runs_without_torch(transformer_home):
    # The serving image has no torch. Here it is installed, and spaCy's thinc imports whatever of it is there
    # (complaints/redaction/names.py), so the process is given none: importing torch, transformers, sklearn or
    # datasets fails in it, and triage (the transformer model, redaction with spaCy's recogniser) still runs.
    # Our own serving modules never import them (the import-linter contract, tests/test_architecture.py).
    code = (
        "import sys\n"
        "for heavy in ('torch', 'transformers', 'sklearn', 'datasets'):\n"
        "    sys.modules[heavy] = None\n"
        "from console.main import main\n"
        "sys.exit(main(['triage', '--text', 'Then Maria Garcia of the collector calls me at work about a debt I never had.',"
        " '--json']))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={"COMPLAINTS_HOME": str(transformer_home), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin"})
    assert result.returncode == 0, result.stderr[-2000:]
    triage = json.loads(result.stdout.splitlines()[-1])
    assert triage["rows"] == 1 == triage["allocated"] + triage["manual_triage"]
    assert triage["redactions"] == {"NAME": 1}  # the name finder ran


def test_tasks_of_one_run_share_one_encoder_session(transformer_home):
    predictors = [load_predictor(path) for path in champions(transformer_home)]
    assert len({id(p.encoder) for p in predictors}) == 1
    assert len({(path / "encoder.onnx").read_bytes() for path in champions(transformer_home)}) == 1
    assert len({path.name for path in champions(transformer_home)}) == 3  # yet each task has its own version
    texts = ["My mortgage payment was applied late.", "They reported a debt that is not mine."]
    first = predictors[0].predict_proba(texts)
    assert predictors[0].encoder._last[0] == tuple(texts)
    np.testing.assert_allclose(predictors[0].predict_proba(texts), first)


def test_flag_threshold_and_card_are_recorded(transformer_home):
    vulnerable = load_predictor(champions(transformer_home)[2])
    point = json.loads((champions(transformer_home)[2] / "operating_point.json").read_text())
    assert vulnerable.binary and vulnerable.threshold == point["thresholds"]["vulnerable"] and vulnerable.temperature > 0
    card = (champions(transformer_home)[2] / "README.md").read_text()
    assert "model-index" in card and "training_seconds" in card and "transformer-onnx" in card


def test_the_issue_hierarchy_weights_issues_by_the_likely_teams():
    issue = np.array([[0.5, 0.3, 0.2]])
    team = np.array([[0.9, 0.1]])
    issue_given_team = np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])
    joint = hierarchical_issue_proba(issue, team, issue_given_team)
    assert joint.sum() == pytest.approx(1.0)
    assert joint.argmax() == 1  # the flat favourite is unlikely under the likely team


def test_train_command_with_the_transformer_kind(sample_csv, tmp_path, monkeypatch, capsys):
    from console.main import main

    monkeypatch.setenv("COMPLAINTS_HOME", str(tmp_path / "home"))
    code = main(["train", "--data", str(sample_csv), "--kind", "transformer-onnx", "--task", "team",
                 "--max-rows", "120", "--max-steps", "2", "--max-length", "32", "--json"])
    models = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["models"]
    assert code == 0 and [m["task"] for m in models] == ["team"] and models[0]["champion"]
    assert json.loads((tmp_path / "home" / "registry" / "team" / models[0]["version"] / "model.json").read_text())[
        "kind"] == "transformer-onnx"


def test_each_task_is_trained_as_the_kind_its_config_declares(sample_csv, cfpb_rows, tmp_path):
    """A fourth multi-class task declared `model: transformer-onnx` trains, registers and serves beside the
    three `tfidf-linear` tasks, from one `train` call with no kind given; the hierarchy stays where it is declared."""
    config = yaml.safe_load((CONFIG_DIR / "tasks.yaml").read_text())
    config["tasks"]["sub_product"] = {"label": "column:Sub-product", "model": "transformer-onnx", "role": "annotate",
                                      "threshold": 0.0}
    tasks_file = tmp_path / "tasks.yaml"
    tasks_file.write_text(yaml.safe_dump(config, sort_keys=False))
    deployment = Deployment.embedded(Settings.from_env(home=tmp_path / "home", tasks_file=tasks_file))
    results = train(deployment, TrainingArguments(data=sample_csv, max_rows=400, provenance=PROVENANCE,
                                                  transformer=TINY))
    assert [r.task for r in results] == ["team", "issue", "vulnerable", "sub_product"] and all(r.champion for r in results)
    kinds = {r.task: deployment.store.get_model_info(r.task, r.version).kind for r in results}
    assert kinds == {"team": "tfidf-linear", "issue": "tfidf-linear", "vulnerable": "tfidf-linear",
                     "sub_product": "transformer-onnx"}
    meta = json.loads((deployment.registry.fetch("sub_product", results[3].version) / "model.json").read_text())
    assert meta["kind"] == "transformer-onnx" and "hierarchy" not in meta  # not declared `within` anything

    rows = sample(cfpb_rows, 20, salt="four-kinds")
    report = TriagePipeline(deployment).triage(read_batch(write_csv(tmp_path / "batch.csv", rows), deployment.taxonomy))
    assert report.rows == 20 == report.allocated + report.manual_triage + report.rejected
    allocation = deployment.store.get_allocation(rows[0]["Complaint ID"])
    assert allocation.model_versions == {r.task: r.version for r in results}
    assert allocation.predictions["sub_product"].label and not allocation.predictions["sub_product"].error
