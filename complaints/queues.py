"""The ops team's queues as they stand: allocations with analysts' corrections applied.

A correction does not rewrite the allocation (the models' decision is kept as made, for audit); it moves
the complaint. Where a complaint stands now (the latest correction of each task wins): a person who set the
team sends it to that team, unless a flag is raised (the specialist queue) or a flag's model failed and
nobody set it (manual triage); otherwise the allocation's predictions, with any corrected flag put in, are
routed as triage routes them. A correction stores the result as the complaint's queue, in the same write
(complaints.feedback), so listings, counts and access read it from the queue index: a reassigned complaint leaves
its old queue at once, and a listing costs what it returns, not what the store holds.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from complaints.access import queues
from complaints.deployment import Deployment
from complaints.records import MANUAL_TRIAGE, NEEDS_TRIAGE, Allocation, Feedback, Placement
from complaints.routing import route
from complaints.schema import POSITIVE

SORTS = ("newest", "oldest", "least_confident")  # least confident: the queue task's score, lowest first


@dataclass(frozen=True)
class Placed:
    """An allocation, the queue its complaint stands in now, its revision and its corrections."""

    allocation: Allocation
    queue: str
    revision: int
    corrections: tuple[Feedback, ...]


def slug(queue: str) -> str:
    """A queue's id in URLs: "Credit card" -> "credit-card"."""
    return re.sub(r"[^a-z0-9]+", "-", queue.lower()).strip("-")


def current_queue(deployment: Deployment, allocation: Allocation, corrections: list[Feedback]) -> str:
    """Where a complaint with these corrections (oldest first) stands: a correction stores its answer as the
    complaint's queue, which the queue index lists it by."""
    if not corrections:
        return allocation.queue
    latest = {correction.task: correction.label for correction in corrections}  # oldest first: the latest wins
    predictions = {task: replace(p, label=latest[task], error="") if task in latest else p
                   for task, p in allocation.predictions.items()}
    tasks = [task for task in deployment.tasks if task.name in predictions]
    team = next(task for task in tasks if task.role == "queue")
    if team.name not in latest:
        return route(tasks, predictions, deployment.operations.deferral)[0]
    # A person chose the team: the models' confidence no longer matters; a raised flag still sends the complaint
    # to its specialist queue, and a flag whose model failed (and nobody set) still to manual triage.
    flags = [task for task in tasks if task.role == "flag"]
    if any(predictions[task.name].error for task in flags):
        return MANUAL_TRIAGE
    raised = [task.queue for task in flags if predictions[task.name].label == POSITIVE]
    return raised[0] if raised else latest[team.name]


def placed(deployment: Deployment, complaint_id: str) -> Placed | None:
    placement = deployment.store.get_placement(complaint_id)
    if placement is None:
        return None
    return Placed(placement.allocation, placement.queue, placement.revision,
                  tuple(deployment.store.list_feedback(complaint_id)))


def queue_counts(deployment: Deployment, names: list[str]) -> dict[str, int]:
    """How many complaints stand in each queue now (the queue index counts them)."""
    return {name: deployment.store.count_queue(name) for name in names}


def page_of_queue(deployment: Deployment, queue: str, sort: str, offset: int, limit: int) -> tuple[int, list[Placement]]:
    """(how many the queue holds, the page of them in ``sort`` order). Newest and oldest read the page from the
    queue index; least confident reads the queue (it orders on a score no index holds), never other queues."""
    if sort not in SORTS:
        raise ValueError(f"unknown sort; one of {list(SORTS)}")
    total = deployment.store.count_queue(queue)
    if sort != "least_confident":
        return total, deployment.store.list_queue(queue, limit, offset=offset, oldest_first=sort == "oldest")
    team = next(task.name for task in deployment.tasks if task.role == "queue")
    rows = sorted(deployment.store.list_queue(queue, None),
                  key=lambda p: (p.allocation.predictions[team].score, p.allocation.complaint_id))
    return total, rows[offset:offset + limit]


def last_day(deployment: Deployment, hours: int = 24, now: datetime | None = None) -> dict:
    """Volumes per queue, the manual triage share and the corrections of the complaints allocated in the last
    ``hours``: reads those complaints (and the corrections of the corrected ones), nothing older."""
    until = now or datetime.now(timezone.utc)
    since = (until - timedelta(hours=hours)).isoformat(timespec="milliseconds")
    placements = [p for name in queues(deployment.tasks, deployment.taxonomy)
                  for p in deployment.store.list_queue(name, None, since)]
    manual = sum(p.allocation.status == NEEDS_TRIAGE for p in placements)
    corrections = [c for p in placements if p.corrected for c in deployment.store.list_feedback(p.allocation.complaint_id)]
    return {
        "since": since, "until": until.isoformat(timespec="milliseconds"), "allocated": len(placements),
        "by_queue": dict(Counter(p.allocation.queue for p in placements)),
        "manual_triage": manual, "manual_triage_share": round(manual / len(placements), 4) if placements else 0.0,
        "corrections": len(corrections), "corrections_by_task": dict(Counter(c.task for c in corrections)),
        "moved": sum(p.queue != p.allocation.queue for p in placements),
    }
