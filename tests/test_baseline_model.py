"""The numpy serving code reproduces the scikit-learn model it was exported from."""

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


def test_binary_model_decides_at_its_tuned_threshold(texts_and_labels, tmp_path):
    texts, rows = texts_and_labels
    labels = [POSITIVE if r["Tags"] else NEGATIVE for r in rows]
    tuned = baseline.fit(texts, labels, True, tmp_path, baseline.BaselineConfig(max_iter=200, target_recall=0.7))
    predictor = load_predictor(tmp_path)
    assert predictor.binary and predictor.decision_threshold == tuned["decision_threshold"]
    assert tuned["cv_recall"] >= 0.7
    proba = predictor.predict_proba(texts[:20])[:, 1]
    decided = [label for label, _ in predictor.predict(texts[:20])]
    assert decided == [POSITIVE if p >= tuned["decision_threshold"] else NEGATIVE for p in proba]


def test_unknown_model_kinds_are_refused(tmp_path):
    (tmp_path / "model.json").write_text('{"kind": "mystery", "labels": []}')
    with pytest.raises(ValueError, match="unknown model kind 'mystery'"):
        load_predictor(tmp_path)
