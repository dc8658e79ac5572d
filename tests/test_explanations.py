"""Explanations: exact SHAP for the linear kind (equal to shap's LinearExplainer, adding up to the model's own
probabilities), Partition SHAP for the transformer kind without torch, and their HTML and PNG renderings."""

import json
import shutil
from html import escape
import subprocess
import sys

import numpy as np
import pytest
import shap

from complaints.deployment import Deployment
from complaints.predictors import load_predictor
from complaints.config import Settings
from conftest import sample
from explain import explain, render_html, render_png, top_word
from explain.linear import attribute, base_value, ngram_values
from test_transformer_model import transformer_home  # noqa: F401  (a fixture: tiny transformer champions)

PAYLOAD_KEYS = {"kind", "explainer", "settings", "label", "score", "explained_class", "base_value", "tokens",
                "top_for", "top_against", "shap_version"}


def champion_predictors(home):
    deployment = Deployment.embedded(Settings.from_env(home=home))
    return {task.name: load_predictor(deployment.registry.fetch(task.name, deployment.store.get_strategy(task.name)
                                                                .champion)) for task in deployment.tasks}


@pytest.fixture(scope="module")
def linear(trained_home):
    return champion_predictors(trained_home)


@pytest.fixture(scope="module")
def narratives(cfpb_rows):
    return [r["Consumer complaint narrative"] for r in sample(cfpb_rows, 6, salt="explain")]


def _softmax(logits):
    exp = np.exp(logits - logits.max())
    return exp / exp.sum()


def test_linear_values_rebuild_the_models_own_probabilities(linear, narratives):
    """Efficiency, checked against the served output: base value + word values is the explained logit."""
    for name, predictor in linear.items():
        for text in narratives:
            proba = predictor.predict_proba([text])[0]
            logits = np.array([attribute(predictor, text, k).base_value
                               + sum(t["attribution"] for t in attribute(predictor, text, k).tokens)
                               for k in range(len(predictor.labels))])
            if predictor.binary:  # the log-odds of "yes", whichever class is asked for
                assert 1 / (1 + np.exp(-logits[1])) == pytest.approx(proba[1], abs=1e-9), name
            else:
                np.testing.assert_allclose(_softmax(logits), proba, atol=1e-9, err_msg=name)


def test_the_closed_form_equals_shaps_linear_explainer(linear, narratives):
    predictor = linear["team"]
    for text in narratives[:3]:
        explained = predictor.labels.index(predictor.predict([text])[0][0])
        indices, values = predictor.features(text)
        x = np.zeros((1, predictor.coef.shape[1]))
        x[0, indices] = values
        temperature = float(predictor.meta.get("temperature") or 1.0)  # the calibrated logit: logit / T
        explainer = shap.LinearExplainer((predictor.coef[explained] / temperature,
                                          predictor.intercept[explained] / temperature),
                                         shap.maskers.Independent(np.zeros((1, predictor.coef.shape[1]))))
        reference = explainer(x)
        closed = ngram_values(predictor, text, explained)
        expected = np.zeros(predictor.coef.shape[1])
        expected[list(closed)] = list(closed.values())
        np.testing.assert_allclose(reference.values[0], expected, atol=1e-12)
        assert float(np.ravel(reference.base_values)[0]) == pytest.approx(base_value(predictor, explained))
        assert len(closed) == len(indices) > 0


def test_a_temperature_scales_the_values_with_the_calibrated_probabilities(trained_home, linear, narratives,
                                                                             tmp_path):
    deployment = Deployment.embedded(Settings.from_env(home=trained_home))
    artifact = shutil.copytree(deployment.registry.fetch("vulnerable", deployment.store.get_strategy("vulnerable")
                                                          .champion), tmp_path / "calibrated")
    meta = json.loads((artifact / "model.json").read_text())
    (artifact / "model.json").write_text(json.dumps({**meta, "temperature": 2.0}))
    calibrated, plain = load_predictor(artifact), linear["vulnerable"]
    text = narratives[0]
    hot, cold = explain(calibrated, text), explain(plain, text)
    ratio = cold["settings"]["temperature"] / 2.0  # the champion may carry its own fitted temperature
    assert hot["settings"]["temperature"] == 2.0 and hot["base_value"] == pytest.approx(cold["base_value"] * ratio)
    np.testing.assert_allclose([t["attribution"] for t in hot["tokens"]],
                               [t["attribution"] * ratio for t in cold["tokens"]])
    log_odds = hot["base_value"] + sum(t["attribution"] for t in hot["tokens"])
    assert 1 / (1 + np.exp(-log_odds)) == pytest.approx(calibrated.predict_proba([text])[0, 1], abs=1e-9)


def test_the_linear_payload(linear, narratives):
    text = narratives[1]
    for predictor in linear.values():
        payload = explain(predictor, text, top=5)
        assert PAYLOAD_KEYS <= set(payload) and json.loads(json.dumps(payload)) == payload
        assert (payload["label"], payload["score"]) == predictor.predict([text])[0]
        assert payload["explained_class"] == ("yes" if predictor.binary else payload["label"])
        assert payload["kind"] == "tfidf-linear" and payload["shap_version"] == shap.__version__
        assert [t["text"] for t in payload["tokens"]] == text.split()  # every word, in text order
        assert 0 < len(payload["top_for"]) <= 5 and len(payload["top_against"]) <= 5
        values = [v for _, v in payload["top_for"]]
        assert values == sorted(values, reverse=True) and all(v > 0 for v in values)
        assert all(v < 0 for _, v in payload["top_against"])
        totals = {}
        for token in payload["tokens"]:
            totals[top_word(token["text"])] = totals.get(top_word(token["text"]), 0.0) + token["attribution"]
        assert payload["top_for"][0] == [max(totals, key=totals.get), max(totals.values())]


def test_an_empty_narrative_is_refused(linear):
    with pytest.raises(ValueError, match="no narrative"):
        explain(linear["team"], "  \n")


def test_the_transformer_payload_adds_up_and_skips_what_the_model_never_reads(transformer_home, narratives):
    predictors = champion_predictors(transformer_home)
    team = predictors["team"]
    long = max(narratives, key=len)
    payload = explain(team, long, max_evals=120)
    assert PAYLOAD_KEYS <= set(payload) and payload["kind"] == "transformer-onnx"
    assert payload["explainer"] == "PartitionExplainer" and payload["settings"]["max_evals"] == 120
    assert 0 < payload["settings"]["model_rows"] <= 120
    values = np.array([t["attribution"] for t in payload["tokens"]])
    assert np.isfinite(values).all() and np.isfinite(payload["base_value"])
    seen = payload["settings"]["words_seen"]
    assert 0 < seen < len(values) and not values[seen:].any()  # max_length 64: the tail is never read
    assert "".join(t["text"] + t["gap"] for t in payload["tokens"]) == long[long.index(payload["tokens"][0]["text"]):]
    # Partition's values are efficient: they add up to the explained probability from the all-masked base value
    assert payload["base_value"] + values.sum() == pytest.approx(payload["score"], abs=1e-4)

    flag = explain(predictors["vulnerable"], narratives[0], max_evals=60)
    assert flag["explained_class"] == "yes"
    probability = predictors["vulnerable"].predict_proba([narratives[0]])[0, 1]
    assert flag["base_value"] + sum(t["attribution"] for t in flag["tokens"]) == pytest.approx(probability, abs=1e-4)


def test_transformer_explanations_run_without_torch(transformer_home):
    # shap itself imports scikit-learn (so explanations stay out of the serving image), but neither it nor our
    # code may need torch or transformers: the process cannot import them. (A finder refuses them: a None in
    # sys.modules would read as "imported" to scipy's array-API checks.)
    code = (
        "import json, sys\n"
        "class Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] in ('torch', 'transformers', 'datasets'):\n"
        "            raise ModuleNotFoundError(f'no {name} here')\n"
        "sys.meta_path.insert(0, Refuse())\n"
        "from complaints.deployment import Deployment\n"
        "from complaints.predictors import load_predictor\n"
        "from complaints.config import Settings\n"
        "from explain import explain\n"
        "deployment = Deployment.embedded(Settings.from_env(home=sys.argv[1]))\n"
        "path = deployment.registry.fetch('team', deployment.store.get_strategy('team').champion)\n"
        "text = 'My credit card was charged twice for one purchase.'\n"
        "payload = explain(load_predictor(path), text, max_evals=40)\n"
        "assert not {'torch', 'transformers'} & set(sys.modules)\n"
        "print(json.dumps(payload))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(transformer_home)], capture_output=True, text=True,
                            timeout=300, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin"})
    assert result.returncode == 0, result.stderr[-2000:]
    payload = json.loads(result.stdout.splitlines()[-1])
    assert payload["explainer"] == "PartitionExplainer"
    assert [t["text"] for t in payload["tokens"]][:3] == ["My", "credit", "card"]


def test_the_html_shows_the_label_and_top_words_and_escapes_the_narrative(linear):
    hostile = ("I was charged a late fee <script>alert('x')</script> on my credit card & the bank "
               "refused to refund the fee <img src=x onerror=alert(1)>")
    payload = {**explain(linear["team"], hostile, top=3), "complaint_id": "<b>123</b>"}
    html = render_html(payload)
    assert html.startswith("<!doctype html>") and "<script" not in html and "<img" not in html and "<b>123" not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;123&lt;/b&gt;" in html  # shown as text, with the caller's keys
    assert f"Predicted: {payload['label']}" in html
    for word, value in payload["top_for"] + payload["top_against"]:
        assert f"<td>{escape(word)}</td><td class=\"num\">{value:+.4f}</td>" in html
    assert "http" not in html  # self-contained: no external resources


def test_the_png_charts_the_top_words(linear, narratives, tmp_path):
    import matplotlib.image

    payload = explain(linear["team"], narratives[2] + " It cost me $50 and $20 more.", top=4)
    render_png(payload, tmp_path / "charts" / "why.png")
    image = matplotlib.image.imread(tmp_path / "charts" / "why.png")
    bars = len(payload["top_for"]) + len(payload["top_against"])
    assert image.ndim == 3 and image.shape[1] > 500 and image.shape[0] > 100 + 20 * bars
    red = (np.abs(image[..., 0] - 220 / 255) < 0.02) & (np.abs(image[..., 2] - 38 / 255) < 0.02)
    blue = (np.abs(image[..., 0] - 37 / 255) < 0.02) & (np.abs(image[..., 2] - 235 / 255) < 0.02)
    assert red.sum() > 100 and (blue.sum() > 100) == bool(payload["top_against"])
