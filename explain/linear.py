"""Exact SHAP for the ``tfidf-linear`` kind, in closed form.

For a linear score f(x) = w·x + b over independent features, feature j's Shapley value is w_j (x_j − E[x_j]):
what ``shap.LinearExplainer`` computes with an ``Independent`` masker (tests/test_explanations.py holds the two
equal), without importing shap (3 s) on this path. The background is the empty text, x = 0: an artifact ships
no training rows (narratives are personal data), and "no words at all" is a reference a reader can picture. So
the base value is the intercept and a feature's value is w_j x_j, where x is the vector the model scores (each
block of TF-IDF features L2-normalised and weighted; the normalisation couples the features, and SHAP takes the
vector as given).

The explained output is a logit: binary models, the log-odds of "yes"; multi-class ones, the predicted class's
logit before the softmax. Both are divided by the version's temperature where it has one, so the values are on
the scale of the calibrated probabilities.

Words are the text's whitespace-separated words. A character n-gram belongs to the word it was cut from; a
word n-gram's value is shared equally among the words of its occurrences (a bigram's half to each word). So the
word values still add up to the explained output.
"""

from __future__ import annotations

import re

import numpy as np

from complaints.predictors.tfidf_linear import TfidfLinearPredictor
from explain.attribution import Attribution, word_tokens

EXPLAINER = "LinearExplainer (closed form)"
_WORD = re.compile(r"\S+")  # str.split()'s words, with their offsets: the words the char_wb features come from


def ngram_values(predictor: TfidfLinearPredictor, text: str, explained: int) -> dict[int, float]:
    """SHAP value per feature index present in ``text``: w_j x_j / T for the logit of label ``explained``."""
    indices, values = predictor.features(text)
    row = 0 if predictor.coef.shape[0] == 1 else explained  # binary: one weight vector, for "yes"
    return dict(zip(indices.tolist(), (predictor.coef[row, indices] * values / _temperature(predictor)).tolist()))


def base_value(predictor: TfidfLinearPredictor, explained: int) -> float:
    """The explained logit of the empty text: the intercept, over the temperature."""
    row = 0 if predictor.coef.shape[0] == 1 else explained
    return float(predictor.intercept[row]) / _temperature(predictor)


def _temperature(predictor: TfidfLinearPredictor) -> float:
    return float(predictor.meta.get("temperature") or 1.0)


def _occurrences(block, words: list[re.Match], lowered: str) -> list[tuple[int, list[int]]]:
    """(feature index, the words it was counted from) for each occurrence of each of the block's features."""
    found = []
    if block.analyzer == "char_wb":  # n-grams of " word ", one word at a time, as the block counts them
        for position, word in enumerate(words):
            found += [(block.offset + index, [position]) for term in block.terms(word.group())
                      if (index := block.vocabulary.get(term)) is not None]
        return found
    if block.analyzer != "word":
        raise ValueError(f"no word mapping for the {block.analyzer!r} analyzer")
    starts = [word.start() for word in words]
    tokens = list(block.token_pattern.finditer(lowered))
    owner = [int(np.searchsorted(starts, token.start(), side="right")) - 1 for token in tokens]
    low, high = block.ngram_range
    for n in range(low, high + 1):
        for start in range(len(tokens) - n + 1):
            index = block.vocabulary.get(" ".join(t.group() for t in tokens[start:start + n]))
            if index is not None:
                found.append((block.offset + index, owner[start:start + n]))
    return found


def attribute(predictor: TfidfLinearPredictor, text: str, explained: int) -> Attribution:
    """Word values of ``predictor``'s logit for label index ``explained`` on ``text``."""
    lowered = text.lower()  # the predictor counts the features of the lower-cased text
    source = text if len(lowered) == len(text) else lowered  # show the original case where offsets agree
    words = list(_WORD.finditer(lowered))
    values = ngram_values(predictor, text, explained)
    occurrences = [found for block in predictor.blocks for found in _occurrences(block, words, lowered)]
    counts: dict[int, int] = {}
    for index, _ in occurrences:
        counts[index] = counts.get(index, 0) + 1
    word_values = np.zeros(len(words))
    for index, owners in occurrences:
        for position in owners:
            word_values[position] += values[index] / (counts[index] * len(owners))

    settings = {"background": "the empty text (a zero feature vector)", "temperature": _temperature(predictor),
                "output": "log-odds of yes" if predictor.binary else "logit of the explained class",
                "features": [{"analyzer": b.analyzer, "ngram_range": list(b.ngram_range)} for b in predictor.blocks],
                "words": "whitespace-separated; a word n-gram's value shared equally among its words",
                "features_present": len(values)}
    return Attribution(EXPLAINER, settings, base_value(predictor, explained),
                       word_tokens(source, [w.span() for w in words], word_values))
