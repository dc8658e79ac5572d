"""Calibration of a fitted version on out-of-fold answers: one temperature per version (Guo et al., 2017).

Temperature scaling keeps every decision's ranking (the argmax and the order of P(yes) do not move) and
makes probabilities mean what they say, so thresholds tuned on calibrated scores keep their meaning from
one version to the next. One parameter cannot over-fit, and it keeps the ranking the operating point's
thresholds are chosen on, where isotonic regression would move it.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from complaints.predictors.base import calibrated

TEMPERATURE_RANGE = (0.05, 20.0)


def fit_temperature(proba: np.ndarray, labels: list[str], classes: list[str]) -> float:
    """The temperature minimising the negative log-likelihood of ``labels`` under ``proba`` (rows whose label
    is not among ``classes``, a class left out of training, cannot be scored and are skipped)."""
    index = {label: i for i, label in enumerate(classes)}
    rows = [r for r, label in enumerate(labels) if label in index]
    if not rows:
        return 1.0
    truth = np.array([index[labels[r]] for r in rows])
    proba = proba[rows]

    def nll(log_t: float) -> float:
        scaled = calibrated(proba, float(np.exp(log_t)))
        return -float(np.mean(np.log(np.clip(scaled[np.arange(len(rows)), truth], 1e-12, 1.0))))

    result = minimize_scalar(nll, bounds=tuple(np.log(TEMPERATURE_RANGE)), method="bounded")
    return round(float(np.exp(result.x)), 4)


def expected_calibration_error(proba: np.ndarray, labels: list[str], classes: list[str], bins: int = 10) -> float:
    """The top-class confidence against its accuracy, averaged over equal-width confidence bins (weighted)."""
    index = {label: i for i, label in enumerate(classes)}
    confidence = proba.max(axis=1)
    hits = np.array([index.get(label, -1) == p for label, p in zip(labels, proba.argmax(axis=1))])
    edges = np.minimum((confidence * bins).astype(int), bins - 1)
    error = sum(abs(hits[edges == b].mean() - confidence[edges == b].mean()) * (edges == b).sum()
                for b in range(bins) if (edges == b).any())
    return round(float(error / max(len(labels), 1)), 4)
