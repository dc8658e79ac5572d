"""SHAP for the ``transformer-onnx`` kind: shap's PartitionExplainer over the served ONNX model, torch-free.

shap's Text masker hides words and the model scores the masked texts through the predictor's own
``predict_proba`` (ONNX Runtime and ``tokenizers``, as served). The masker splits the text with the model
tokenizer's pre-tokenizer (words and punctuation), so values are per word and a hidden word becomes one mask
token. Only the text the model reads is explained: it truncates at its ``max_length`` tokens, and the words
after that cannot change its output (they are listed with value 0). The explained output is the probability of
the explained class; the base value is that probability with every word masked.

Partition's cost is its model rows: ``max_evals`` of them for texts longer than about 50 words, fewer for short
texts (docs/explanations.md, and docs/recorded-results.md for the time it takes).
"""

from __future__ import annotations

import numpy as np
import shap
from tokenizers import Tokenizer

from complaints.predictors.transformer_onnx import TransformerOnnxPredictor
from explain.attribution import Attribution, word_tokens

DEFAULT_MAX_EVALS = 300


class _Words:
    """The model tokenizer's words in the shape shap's Text masker asks of a tokenizer: ids and offsets."""

    def __init__(self, tokenizer: Tokenizer):
        self.pre_tokenizer = tokenizer.pre_tokenizer

    def __call__(self, text: str, return_offsets_mapping: bool = True) -> dict:
        words = self.pre_tokenizer.pre_tokenize_str(text)
        return {"input_ids": [word for word, _ in words], "offset_mapping": [span for _, span in words]}


def attribute(predictor: TransformerOnnxPredictor, text: str, explained: int, max_evals: int | None) -> Attribution:
    """Word values of ``predictor``'s probability for label index ``explained`` on ``text``."""
    tokenizer = predictor.encoder.tokenizer
    seen = text[:max(end for _, end in tokenizer.encode(text).offsets)]  # where the model's truncation cuts
    mask_token = "[MASK]" if tokenizer.token_to_id("[MASK]") is not None else "..."
    masker = shap.maskers.Text(_Words(tokenizer), mask_token=mask_token, collapse_mask_token=False)
    explainer = shap.PartitionExplainer(lambda texts: predictor.predict_proba(list(texts))[:, explained], masker)
    max_evals = max_evals or DEFAULT_MAX_EVALS
    values = explainer([seen], max_evals=max_evals, silent=True)
    words = _Words(tokenizer)(text)["offset_mapping"]
    word_values = np.zeros(len(words))
    word_values[:len(values.values[0])] = values.values[0]
    settings = {"masker": "shap.maskers.Text over the tokenizer's pre-tokenized words", "mask_token": mask_token,
                "max_evals": max_evals, "model_rows": int(explainer.last_eval_count),
                "output": "probability of the explained class", "max_length_tokens": int(predictor.meta["max_length"]),
                "words_seen": len(values.values[0]), "words": len(words)}
    return Attribution("PartitionExplainer", settings, float(np.ravel(values.base_values)[0]),
                       word_tokens(text, words, word_values))
