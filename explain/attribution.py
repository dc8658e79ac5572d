"""What each kind's explainer hands back: word values in text order, and the reference they are measured from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Attribution:
    """``base_value`` plus the word values is the explained output (SHAP's efficiency); ``tokens`` are in text
    order, each with the characters up to the next word (``gap``) so that a renderer can rebuild the text."""

    explainer: str
    settings: dict
    base_value: float
    tokens: list[dict]


def word_tokens(text: str, spans: Sequence[tuple[int, int]], values: Sequence[float]) -> list[dict]:
    """One token per word span of ``text``, with its value and the text between it and the next word."""
    ends = [start for start, _ in spans[1:]] + [len(text)]
    return [{"text": text[start:end], "attribution": float(value), "gap": text[end:following]}
            for (start, end), value, following in zip(spans, values, ends)]
