"""Whether a serving version's answers on live complaints still look like those it was validated on: the
population stability index (PSI) of its scores and of its labels against the reference its training recorded.

Training records each version's reference in ``REFERENCE`` beside its weights (``reference_of``, called by
model/train.py): the histogram of its scores and the count of each label it gave on the held-out split,
complaints like those it learned from. The file is one of the version's hashed files, so a reference altered in
the registry refuses the version as altered weights do; the model card is no part of the hash, and drift never
reads it. Live answers are binned the same way, and PSI = sum over bins of (live - ref) * ln(live / ref),
on each bin's share. The usual reading, from credit scoring where PSI comes from: under 0.1 stable, 0.1 to 0.25
moderate, 0.25 and over drifted. Scores use ten equal bins of [0, 1], as readable in a chart as in the sum;
labels under 2% of the reference are pooled in one bin, so that a near-empty bin's log ratio does not decide.

PSI also grows with sampling noise alone: for n live and m reference answers of one distribution it is about
chi-square(bins - 1) * (1/n + 1/m) (Yurdakul, 2018). A figure is read as moderate or drifted only where it also
exceeds what noise alone reaches 1 time in 1,000 (``critical_psi``), so a few dozen complaints are never called
drifted for being few, and the six figures of a run (two per task) raise a false alarm in some 170 runs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np

SCORE_EDGES = tuple(round(edge / 10, 1) for edge in range(11))
LABEL_MIN_SHARE = 0.02  # labels under this share of the reference share one bin
OTHER_LABELS = "(other labels)"
EMPTY_SHARE = 1e-4  # an empty bin's share: ln(0) has no value, and this is the usual stand-in
MODERATE, DRIFTED = 0.1, 0.25
NOISE_LEVEL = 0.999  # a PSI counts as drift only beyond what sampling noise alone reaches this rarely
NO_REFERENCE = "no reference"
REFERENCE = "drift_reference.json"  # written with every version trained: its content hash covers it
UNAVAILABLE = "unavailable"  # the version cannot be read from the registry, so neither can its reference


def reference_of(labels: Sequence[str], scores: Sequence[float], trained: dict[str, int]) -> dict:
    """A version's reference, as ``REFERENCE`` records it: its answers on the held-out split, and the labels it
    was trained on (``trained``: label -> examples)."""
    return {"split": "held-out", "complaints": len(labels), "score_edges": list(SCORE_EDGES),
            "score_counts": score_counts(scores), "label_counts": dict(sorted(Counter(labels).items())),
            "training_label_counts": dict(sorted(trained.items()))}


def score_counts(scores: Sequence[float]) -> list[int]:
    return np.histogram(np.clip(np.asarray(scores, dtype=float), 0.0, 1.0), bins=SCORE_EDGES)[0].tolist()


def psi(reference: Sequence[float], live: Sequence[float]) -> float:
    """The PSI of live counts against reference counts over the same bins."""
    expected, actual = _shares(reference), _shares(live)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _shares(counts: Sequence[float]) -> np.ndarray:
    counts = np.asarray(counts, dtype=float)
    return np.maximum(counts / counts.sum(), EMPTY_SHARE)


def critical_psi(bins: int, live: int, reference: int, level: float = NOISE_LEVEL) -> float:
    """The PSI that sampling noise alone exceeds with probability ``1 - level`` over ``bins`` bins."""
    return chi_square_quantile(level, bins - 1) * (1 / live + 1 / reference)


def chi_square_quantile(level: float, dof: int) -> float:
    """The chi-square quantile by Wilson and Hilferty's cube-root approximation, so the serving core needs no
    scipy: at the 99.9th percentile at most 3% over the exact one (one degree of freedom; under 1% from nine), a
    little more cautious, never less."""
    z = NormalDist().inv_cdf(level)
    return dof * (1 - 2 / (9 * dof) + z * (2 / (9 * dof)) ** 0.5) ** 3


def pooled_labels(reference: dict[str, int], live: dict[str, int]) -> tuple[list[str], list[int], list[int]]:
    """(bin names, reference counts, live counts): each label of at least ``LABEL_MIN_SHARE`` of the reference,
    most frequent first, then every other label in one bin where either side has any."""
    total = sum(reference.values())
    names = sorted((label for label, count in reference.items() if count >= LABEL_MIN_SHARE * total),
                   key=lambda label: (-reference[label], label))
    ref, now = [reference[label] for label in names], [live.get(label, 0) for label in names]
    rest_ref, rest_live = total - sum(ref), sum(live.values()) - sum(now)
    if rest_ref or rest_live:
        names, ref, now = [*names, OTHER_LABELS], [*ref, rest_ref], [*now, rest_live]
    return names, ref, now


def status(value: float | None, critical: float | None) -> str:
    if value is None or critical is None or value <= critical:
        return "stable"
    return "drifted" if value >= DRIFTED else "moderate" if value >= MODERATE else "stable"


def task_drift(version: str, reference: dict | None, labels: Sequence[str], scores: Sequence[float]) -> dict:
    """The drift of one version's live answers (``labels``, ``scores``) against its reference: both PSIs, the
    worse status of the two, and the binned shares a chart draws."""
    if not reference:
        return unmeasured(NO_REFERENCE, f"none: {version} was trained before versions recorded one among their "
                                        f"hashed files; a retrain records it", len(labels))
    names, ref_labels, live_labels = pooled_labels(reference["label_counts"], dict(Counter(labels)))
    ref_scores, live_scores = reference["score_counts"], score_counts(scores)
    figures = {"score": (ref_scores, live_scores), "label": (ref_labels, live_labels)}
    values = {name: round(psi(ref, now), 4) if labels else None for name, (ref, now) in figures.items()}
    critical = {name: round(critical_psi(len(ref), len(labels), reference["complaints"]), 4) if labels else None
                for name, (ref, _) in figures.items()}
    statuses = [status(values[name], critical[name]) for name in figures]
    worst = max(statuses, key=["stable", "moderate", "drifted"].index)
    return {"test": "PSI", "score_psi": values["score"], "label_psi": values["label"], "status": worst,
            "reference": f"held-out split of {version} ({reference['complaints']} complaints)",
            "complaints": len(labels), "critical_psi": critical,
            "distributions": {"score": {"bins": list(reference["score_edges"]), "reference": _share_list(ref_scores),
                                        "live": _share_list(live_scores)},
                              "label": {"bins": names, "reference": _share_list(ref_labels),
                                        "live": _share_list(live_labels)}}}


def unmeasured(why: str, reference: str, complaints: int) -> dict:
    """The drift of a version whose reference cannot be read: ``why`` (a status) and ``reference`` say so."""
    return {"test": "PSI", "score_psi": None, "label_psi": None, "status": why, "reference": reference,
            "complaints": complaints, "critical_psi": None, "distributions": None}


def _share_list(counts: Sequence[int]) -> list[float]:
    total = sum(counts)
    return [round(count / total, 4) if total else 0.0 for count in counts]
