"""Explanations on request: why a task's model labelled a complaint as it did, from the version that decided.

The version is the one the complaint's allocation records, never today's champion: it is fetched from the
registry (which checks its content hash), loaded, and explained on the stored, redacted narrative it was
given. The explanation is kept with that version, the explainer and its settings and who asked, once per
(complaint, task, version): asking again returns the kept one. The attributions themselves are computed by
the caller's ``compute`` (the ``explain`` package, with SHAP), so the core does not depend on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from complaints.audit import NotAllocatedError
from complaints.deployment import Deployment
from complaints.predictors import Predictor, load_predictor
from complaints.records import Explanation, utc_now

Compute = Callable[[Predictor, str], dict[str, Any]]


class NotExplainable(ValueError):
    """The task's model gave no answer for this complaint (it failed), so there is nothing to explain."""


def explained_version(deployment: Deployment, complaint_id: str, task: str) -> str:
    """The version whose label on the complaint is explained: the one its allocation records."""
    allocation = deployment.store.get_allocation(complaint_id)
    if allocation is None:
        raise NotAllocatedError("the complaint has no allocation in the store")
    if task not in allocation.predictions:
        raise KeyError(f"the complaint has no prediction of this task; its tasks: {sorted(allocation.predictions)}")
    if allocation.predictions[task].error:
        raise NotExplainable(f"the {task} model failed on the complaint; it has no label to explain")
    return allocation.model_versions[task]


def stored_explanation(deployment: Deployment, complaint_id: str, task: str) -> Explanation | None:
    """The kept explanation of the allocation's label, if one was requested."""
    return deployment.store.get_explanation(complaint_id, task, explained_version(deployment, complaint_id, task))


def explanation(deployment: Deployment, complaint_id: str, task: str, requested_by: str,
                compute: Compute) -> tuple[Explanation, bool]:
    """(the explanation, whether it was computed now): the kept one where it exists, else computed and kept."""
    version = explained_version(deployment, complaint_id, task)
    kept = deployment.store.get_explanation(complaint_id, task, version)
    if kept is not None:
        return kept, False
    complaint = deployment.store.get_complaint(complaint_id)
    if complaint is None:
        raise NotAllocatedError("the complaint is not in the store")
    predictor = load_predictor(deployment.registry.fetch(task, version))
    payload = compute(predictor, complaint.narrative)
    made = Explanation(complaint_id, task, version, payload["kind"], payload["explainer"], payload["settings"],
                       payload, requested_by, utc_now())
    if deployment.store.put_explanation(made):
        return made, True
    return deployment.store.get_explanation(complaint_id, task, version), False  # a concurrent request kept one first
