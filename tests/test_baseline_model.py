"""The numpy serving code reproduces the scikit-learn model it was exported from."""

import json

import numpy as np
import pytest

from complaints.predictors import load_predictor
from complaints.schema import NEGATIVE, POSITIVE
from conftest import sample
from model import baseline


@pytest.fixture(scope="module")
def texts_and_labels(cfpb_rows):
    rows = sample(cfpb_rows, 400, salt="model")
    return [r["Consumer complaint narrative"] for r in rows], rows


def test_multiclass_probabilities_match_scikit_learn(texts_and_labels, cfpb_rows, tmp_path):
    texts, rows = texts_and_labels
    labels = [r["Product"] for r in rows]
    config = baseline.BaselineConfig(max_iter=200)
    baseline.fit(texts, labels, False, tmp_path, config)
    reference = baseline.make_pipeline(config, binary=False).fit(texts, labels)
    predictor = load_predictor(tmp_path)
    assert predictor.labels == list(reference.classes_)
    held_out = [r["Consumer complaint narrative"] for r in sample(cfpb_rows, 50, salt="unseen")]
    np.testing.assert_allclose(predictor.predict_proba(held_out), reference.predict_proba(held_out), atol=1e-4)
    assert predictor.predict(["no word of this text is in the vocabulary zzzqqq"])[0][0] in predictor.labels


def test_binary_model_decides_at_the_threshold_tuned_with_it(texts_and_labels, tmp_path):
    texts, rows = texts_and_labels
    labels = [POSITIVE if r["Tags"] else NEGATIVE for r in rows]
    baseline.fit(texts, labels, True, tmp_path, baseline.BaselineConfig(max_iter=200))
    meta = json.loads((tmp_path / "model.json").read_text())
    (tmp_path / "model.json").write_text(json.dumps({**meta, "decision_threshold": 0.37}))
    predictor = load_predictor(tmp_path)
    assert predictor.binary and predictor.threshold == 0.37
    proba = predictor.predict_proba(texts[:20])[:, 1]
    assert [label for label, _ in predictor.predict(texts[:20])] == [POSITIVE if p >= 0.37 else NEGATIVE for p in proba]
    assert [label for label, _ in predictor.predict(texts[:20], threshold=0.9)] == [
        POSITIVE if p >= 0.9 else NEGATIVE for p in proba]


def test_the_temperature_rescales_probabilities_and_keeps_every_decision(texts_and_labels, tmp_path):
    texts, rows = texts_and_labels
    baseline.fit(texts, [r["Product"] for r in rows], False, tmp_path, baseline.BaselineConfig(max_iter=200))
    raw = load_predictor(tmp_path).predict_proba(texts[:30])
    meta = json.loads((tmp_path / "model.json").read_text())
    (tmp_path / "model.json").write_text(json.dumps({**meta, "temperature": 2.0}))
    scaled = load_predictor(tmp_path).predict_proba(texts[:30])
    expected = np.sqrt(raw) / np.sqrt(raw).sum(axis=1, keepdims=True)  # softmax(logits / 2)
    np.testing.assert_allclose(scaled, expected, atol=1e-9)
    assert (scaled.argmax(axis=1) == raw.argmax(axis=1)).all() and (scaled.max(axis=1) < raw.max(axis=1)).all()


def test_a_version_exported_before_feature_blocks_still_serves(texts_and_labels, tmp_path):
    texts, rows = texts_and_labels
    labels = [r["Product"] for r in rows]
    baseline.fit(texts, labels, False, tmp_path, baseline.BaselineConfig(max_iter=200, char_ngrams=None))
    current = load_predictor(tmp_path).predict_proba(texts[:30])
    meta = json.loads((tmp_path / "model.json").read_text())
    [word] = meta.pop("features")
    (tmp_path / "vocabulary-word.json").rename(tmp_path / "vocabulary.json")
    arrays = dict(np.load(tmp_path / "weights.npz"))
    np.savez_compressed(tmp_path / "weights.npz", idf=arrays.pop("idf_word"), **arrays)
    (tmp_path / "model.json").write_text(json.dumps({**meta, "token_pattern": word["token_pattern"],
                                                     "ngram_range": word["ngram_range"], "sublinear_tf": True}))
    np.testing.assert_allclose(load_predictor(tmp_path).predict_proba(texts[:30]), current, atol=1e-12)


def test_unknown_model_kinds_are_refused(tmp_path):
    (tmp_path / "model.json").write_text('{"kind": "mystery", "labels": []}')
    with pytest.raises(ValueError, match="unknown model kind 'mystery'"):
        load_predictor(tmp_path)


def test_a_tasks_options_go_over_the_run_settings():
    """tasks.yaml's ``options`` change one task's recipe and keep the run's other settings (the CLI's --max-iter)."""
    recipe = baseline.with_options(baseline.BaselineConfig(max_iter=100),
                                   {"char_ngrams": [2, 5], "classifier": "linear-svm", "c": 1.0})
    assert (recipe.char_ngrams, recipe.classifier, recipe.c, recipe.max_iter) == ((2, 5), "linear-svm", 1.0, 100)
    assert baseline.with_options(baseline.BaselineConfig(), None) == baseline.BaselineConfig()
    with pytest.raises(ValueError, match=r"unknown tfidf-linear options \['ngrams'\]"):
        baseline.with_options(baseline.BaselineConfig(), {"ngrams": 3})


def test_each_task_is_trained_with_its_recipe(trained_home):
    """The packaged issue task learns character n-grams with a linear SVM; the other tasks the run's words and
    logistic regression."""
    meta = {task: json.loads(next((trained_home / "registry" / task).glob("*/model.json")).read_text())
            for task in ("team", "issue", "vulnerable")}
    assert [block["name"] for block in meta["issue"]["features"]] == ["word", "char"]
    assert meta["issue"]["config"]["classifier"] == "linear-svm"
    for task in ("team", "vulnerable"):
        assert [block["name"] for block in meta[task]["features"]] == ["word"]
        assert meta[task]["config"]["classifier"] == "logistic"


@pytest.mark.parametrize("issue, message", [
    ({"options": {"char_ngram": [2, 5]}}, r"unknown tfidf-linear options \['char_ngram'\]"),
    ({"model": "transformer-onnx", "options": {"c": 1.0}}, r"tasks \['issue'\]: options are tfidf-linear settings"),
])
def test_training_refuses_options_it_would_not_read_before_reading_any_data(issue, message, tmp_path, monkeypatch):
    import yaml

    from complaints.config import CONFIG_DIR, Settings
    from complaints.deployment import Deployment
    from model.train import TrainingArguments, train

    doc = yaml.safe_load((CONFIG_DIR / "tasks.yaml").read_text(encoding="utf-8"))
    doc["tasks"]["issue"] |= issue
    (tmp_path / "tasks.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    monkeypatch.setenv("COMPLAINTS_TASKS", str(tmp_path / "tasks.yaml"))
    with pytest.raises(ValueError, match=message):
        train(Deployment.embedded(Settings.from_env(home=tmp_path / "home")),
              TrainingArguments(data=tmp_path / "no-such-file.csv"))
