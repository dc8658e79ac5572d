"""The train/evaluation split, decided by the narrative so identical narratives never straddle it.

The CFPB holds identical narratives filed under several complaint ids (one consumer, several companies);
splitting by a hash of the normalised narrative keeps every copy on one side, and is stable across
machines and runs without storing any list.
"""

from __future__ import annotations

import hashlib

from complaints.schema import Complaint

HOLDOUT_PERCENT = 20
FOLDS = 10  # the training side's folds: each scored by a model fitted on the other nine (model/cross_fitting.py)

Labelled = list[tuple[Complaint, str]]
Splits = dict[str, tuple[Labelled, Labelled]]  # task -> (training, held-out) labelled examples


def fingerprint(narrative: str) -> str:
    """64-bit hex digest of the narrative, case and whitespace normalised."""
    normalised = " ".join(narrative.lower().split())
    return hashlib.sha256(normalised.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def is_holdout(narrative: str, percent: int = HOLDOUT_PERCENT, rotation: int = 0) -> bool:
    """True for the ~percent% of narratives kept apart for evaluation and the main job's batch. ``rotation`` holds
    out the next slice of the hash instead, disjoint from the others: 0 is the split every version is trained
    with; tools/promise_gap.py holds out each slice in turn, to measure a promise free of one split's luck."""
    if not 0 <= rotation < 100 // percent:
        raise ValueError(f"a {percent}% held-out split has rotations 0 to {100 // percent - 1}, not {rotation}")
    return (int(fingerprint(narrative), 16) % 100 - rotation * percent) % 100 < percent


def fold_of(narrative: str, folds: int = FOLDS) -> int:
    """The training-side fold of a narrative, 0..folds-1: drawn from other digits of its hash than the holdout's,
    so the folds are the same size whatever the holdout share."""
    return int(fingerprint(narrative), 16) // 100 % folds
