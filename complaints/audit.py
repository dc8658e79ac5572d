"""The audit chain of one complaint: why it went where it went, and on whose authority.

allocation → each task's version and the strategy line that served it → the version's model card
(training data sha256 and, trained on a dataset version on the Hub, its repo, revision and commit; taxonomy version,
training config, git commit, held-out metrics) → the gate
decision that admitted it → the strategy change that put it in service: a release (the manifest's git
commit and the workflow run that applied it) or, in the embedded default, a local promotion → analysts'
corrections since; and the earlier allocations a retriage superseded, with why each went where it went.

The model card is no part of a version's hash (``content_version``), so it could be edited after the fact: its
kind, training data sha256, taxonomy version and metrics are checked against ``model_info``, what registration or
the release recorded, and a card that says otherwise names those fields (``mismatch``) and leaves the chain
incomplete.
"""

from __future__ import annotations

from dataclasses import asdict

from complaints.deployment import Deployment
from complaints.model_card import read_model_card
from complaints.records import Allocation, AuditEvent, ModelInfo
from complaints.registry import RegistryError

SERVING_SCAN = 10_000  # changes of what serves read back to find the one behind an allocation (a few a week)


class NotAllocatedError(KeyError):
    """The complaint is not in the store, or has no allocation yet."""


def audit_chain(deployment: Deployment, complaint_id: str) -> dict:
    allocation = deployment.store.get_allocation(complaint_id)
    if allocation is None:
        raise NotAllocatedError("the complaint has no allocation in the store")
    events = deployment.store.list_audit(SERVING_SCAN, serving_only=True)
    batch = deployment.store.get_batch(allocation.batch_id)
    releases: dict[str, list] = {}  # by environment: read once, though every task's chain may name one
    tasks = {task: _task_chain(deployment, allocation, task, events, releases) for task in allocation.predictions}
    return {
        "complaint_id": complaint_id,
        "allocation": {"queue": allocation.queue, "status": allocation.status, "reasons": allocation.reasons,
                       "allocated_at": allocation.allocated_at, "taxonomy_version": allocation.taxonomy_version,
                       "batch": {"batch_id": allocation.batch_id, "source": batch.source if batch else None,
                                 "source_sha256": batch.source_sha256 if batch else None}},
        "tasks": tasks,
        "corrections": [asdict(f) for f in deployment.store.list_feedback(complaint_id)],
        "superseded": [{"queue": a.queue, "status": a.status, "reasons": a.reasons, "allocated_at": a.allocated_at,
                        "batch_id": a.batch_id, "model_versions": a.model_versions}
                       for a in deployment.store.list_allocation_history(complaint_id)],
        "complete": all(chain["complete"] for chain in tasks.values()),
    }


def _task_chain(deployment: Deployment, allocation: Allocation, task: str, events: list[AuditEvent],
                releases: dict[str, list]) -> dict:
    prediction = allocation.predictions[task]
    version = prediction.model_version
    info = deployment.store.get_model_info(task, version)
    try:
        card = read_model_card(deployment.registry.fetch(task, version))
    except (RegistryError, OSError) as error:
        card = {"error": f"{type(error).__name__}: {error}"}
    mismatch = _unlike(card, info) if info and "error" not in card else []
    change = _serving_change(events, task, version, allocation.allocated_at)
    gates = [g for g in deployment.store.list_gate_decisions(task, version) if g.decided_at <= allocation.allocated_at]
    release = None
    if change and change.action == "release":
        environment = change.details["environment"]
        if environment not in releases:
            releases[environment] = deployment.store.list_releases(environment, SERVING_SCAN)
        release = next((asdict(r) for r in releases[environment]
                        if r.release_id == change.details["release_id"] and r.applied_at >= change.at), None)
    return {
        "prediction": {"label": prediction.label, "score": prediction.score, "served_by": prediction.served_by,
                       "shadow": prediction.shadow, "error": prediction.error},
        "version": version,
        "model_info": asdict(info) if info else None,
        "model_card": {**{key: card.get(key) for key in ("kind", "training", "metrics", "ci95", "error") if key in card},
                       **({"mismatch": mismatch} if mismatch else {})},
        "gate_decision": asdict(gates[0]) if gates else None,
        "put_in_service_by": _describe_change(change, release),
        "complete": info is not None and "error" not in card and not mismatch and change is not None,
    }


def _unlike(card: dict, info: ModelInfo) -> list[str]:
    """The card's fields that say otherwise than the version's ``model_info`` (a field the card leaves out claims
    nothing)."""
    training = card.get("training") or {}
    claims = {"kind": (card.get("kind"), info.kind),
              "training.data_sha256": (training.get("data_sha256"), info.training_data_sha256),
              "training.taxonomy_version": (training.get("taxonomy_version"), info.taxonomy_version),
              "ci95": (card.get("ci95"), info.metrics.get("ci95")),
              **{f"metrics.{name}": (value, info.metrics.get(name)) for name, value in card.get("metrics", {}).items()}}
    return [field for field, (said, recorded) in claims.items() if said is not None and said != recorded]


def _serving_change(events: list[AuditEvent], task: str, version: str, before: str) -> AuditEvent | None:
    """The strategy change of ``task`` in force at ``before``, if ``version`` served under it."""
    event = next((e for e in events if e.subject == task and e.at <= before), None)  # events: newest first
    return event if event and version in (event.details.get("champion"), event.details.get("challenger")) else None


def _describe_change(change: AuditEvent | None, release: dict | None) -> dict | None:
    if change is None:
        return None
    described = {"action": change.action, "at": change.at, "actor": change.actor, "event_id": change.event_id,
                 "mode": change.details.get("mode"), "champion": change.details.get("champion"),
                 "challenger": change.details.get("challenger")}
    if change.action == "release":
        described.update({key: change.details.get(key) for key in ("environment", "release_id", "git_commit",
                                                                    "manifest", "run_url", "gate_decision_sha256")})
        described["release"] = release
    else:
        described["note"] = "promoted locally (embedded default, no release manifest and no gate)"
    return described
