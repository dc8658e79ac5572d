"""The one rule for the threshold a task's decision uses, wherever it is decided: the pipeline's answers and its
shadow answers, a version's own answers (``Predictor.predict``), the evaluation, the router.

The release's threshold comes first (its manifest says what serves), else the one tuned with the version at
training, else the task's configured one. A flag task configures none: a binary version tuned with none flags
from even odds. A leaf module, so the predictors and the router share it without a circle.
"""

from __future__ import annotations

EVEN_ODDS = 0.5  # a binary version trained without an operating point says "yes" when it is the likelier answer


def served_threshold(released: float | None, tuned: float | None = None, configured: float | None = None, *,
                     binary: bool = False) -> float | None:
    """The threshold a decision uses. ``released``: the release's, or one already chosen for this decision (as a
    prediction records it); ``tuned``: the version's (``Predictor.threshold``), ``binary`` whether a version that
    answers is binary; ``configured``: the task's (``TaskSpec.threshold``). None only where nothing sets one: a
    flag task whose model did not run."""
    if released is not None:
        return released
    if tuned is not None:
        return tuned
    if binary:
        return EVEN_ODDS
    return configured
