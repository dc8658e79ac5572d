"""Why a model version decided what it did: word-level SHAP values of one narrative, and their rendering.

The caller loads the version that made the decision (``registry.fetch`` checks its content hash) and adds the
complaint, task and version to the payload it stores. Each kind has its explainer: exact linear SHAP for
``tfidf-linear`` (explain/linear.py), shap's PartitionExplainer for ``transformer-onnx`` (explain/partition.py).
"""

from __future__ import annotations

import re
from importlib.metadata import version

from complaints.predictors import Predictor
from complaints.schema import POSITIVE
from explain.render import render_html, render_png

__all__ = ["explain", "render_html", "render_png", "top_word"]
_EDGES = re.compile(r"^\W+|\W+$")


def top_word(token: str) -> str:
    """The word a token counts as in the top lists: case-folded, without the punctuation around it ("Card," is
    "card"); a token that is all punctuation stays itself."""
    return _EDGES.sub("", token.lower()) or token


def explain(predictor: Predictor, text: str, *, max_evals: int | None = None, top: int = 10) -> dict:
    """Word-level SHAP values of ``predictor``'s decision on ``text``, as a JSON-serialisable payload.

    Flag tasks explain "yes" whatever was decided (a positive value pushes towards the flag); multi-class ones
    explain the predicted label. ``max_evals`` bounds the model rows of sampling explainers (the transformer
    kind; the linear kind is exact and ignores it). ``top_for``/``top_against``: the ``top`` words (values summed
    over their occurrences, see ``top_word``) that push most towards and against the explained class.
    """
    if not text.strip():
        raise ValueError("there is no narrative to explain")
    kind = predictor.meta["kind"]
    [(label, score)] = predictor.predict([text])
    explained_class = POSITIVE if predictor.binary else label
    explained = predictor.labels.index(explained_class)
    if kind == "tfidf-linear":
        from explain.linear import attribute
        attribution = attribute(predictor, text, explained)
    elif kind == "transformer-onnx":
        from explain.partition import attribute
        attribution = attribute(predictor, text, explained, max_evals)
    else:
        raise ValueError(f"no explainer for model kind {kind!r}")

    totals: dict[str, float] = {}
    for token in attribution.tokens:
        word = top_word(token["text"])
        totals[word] = totals.get(word, 0.0) + token["attribution"]
    ranked = sorted(totals.items(), key=lambda item: item[1])  # most against first
    return {"kind": kind, "explainer": attribution.explainer, "settings": attribution.settings,
            "label": label, "score": score, "explained_class": explained_class,
            "base_value": attribution.base_value, "tokens": attribution.tokens,
            "top_for": [[w, v] for w, v in ranked[::-1][:top] if v > 0],
            "top_against": [[w, v] for w, v in ranked[:top] if v < 0],
            "shap_version": version("shap")}
