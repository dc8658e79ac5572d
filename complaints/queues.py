"""The ops team's queues as they stand: allocations with analysts' corrections applied.

A correction does not rewrite the allocation (the models' decision is kept as made, for audit); it moves
the complaint. Where a complaint stands now (the latest correction of each task wins): a person who set the
team sends it to that team, unless a flag is raised (the specialist queue) or a flag's model failed and
nobody set it (manual triage); otherwise the allocation's predictions, with any corrected flag put in, are
routed as triage routes them. Queue listings, counts and access use this, so a reassigned complaint leaves
its old queue at once.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from complaints.access import queues
from complaints.deployment import Deployment
from complaints.records import MANUAL_TRIAGE, NEEDS_TRIAGE, Allocation, Feedback
from complaints.routing import route
from complaints.schema import POSITIVE

SORTS = ("newest", "oldest", "least_confident")  # least confident: the queue task's score, lowest first


@dataclass(frozen=True)
class Placed:
    """An allocation and the queue its complaint stands in now."""

    allocation: Allocation
    queue: str
    corrections: tuple[Feedback, ...]


def slug(queue: str) -> str:
    """A queue's id in URLs: "Credit card" -> "credit-card"."""
    return re.sub(r"[^a-z0-9]+", "-", queue.lower()).strip("-")


def current_queue(deployment: Deployment, allocation: Allocation, corrections: list[Feedback]) -> str:
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
    allocation = deployment.store.get_allocation(complaint_id)
    if allocation is None:
        return None
    corrections = deployment.store.list_feedback(complaint_id)
    return Placed(allocation, current_queue(deployment, allocation, corrections), tuple(corrections))


class QueueBoard:
    """Queues' complaints as they stand (``names``, default every queue; allocated at or after ``since`` where
    given): each queue's allocations, and every corrected complaint, read once."""

    def __init__(self, deployment: Deployment, names: list[str] | None = None, since: str | None = None):
        self.deployment = deployment
        self.names = names or queues(deployment.tasks, deployment.taxonomy)
        self.corrections: dict[str, list[Feedback]] = {}
        for correction in deployment.store.list_feedback():
            self.corrections.setdefault(correction.complaint_id, []).append(correction)
        self.placed: dict[str, list[Placed]] = {name: [] for name in self.names}
        read = set()
        for name in self.names:
            for allocation in deployment.store.list_queue(name, None, since):
                read.add(allocation.complaint_id)
                self._place(allocation)
        for complaint_id in self.corrections.keys() - read:  # corrected into these queues from another
            allocation = deployment.store.get_allocation(complaint_id)
            if allocation is not None and allocation.allocated_at >= (since or ""):
                self._place(allocation)

    def _place(self, allocation: Allocation) -> None:
        own = self.corrections.get(allocation.complaint_id, [])
        where = current_queue(self.deployment, allocation, own)
        if where in self.placed:
            self.placed[where].append(Placed(allocation, where, tuple(own)))

    def counts(self) -> dict[str, int]:
        return {name: len(self.placed.get(name, [])) for name in self.names}

    def page(self, queue: str, sort: str, offset: int, limit: int) -> tuple[int, list[Placed]]:
        """(how many the queue holds, the page of them in ``sort`` order)."""
        if sort not in SORTS:
            raise ValueError(f"unknown sort; one of {list(SORTS)}")
        rows = self.placed.get(queue, [])
        if sort == "least_confident":
            team = next(task.name for task in self.deployment.tasks if task.role == "queue")
            ordered = sorted(rows, key=lambda p: (p.allocation.predictions[team].score, p.allocation.complaint_id))
        else:
            ordered = sorted(rows, key=lambda p: (p.allocation.allocated_at, p.allocation.complaint_id),
                             reverse=sort == "newest")
        return len(rows), ordered[offset:offset + limit]


def last_day(deployment: Deployment, hours: int = 24, now: datetime | None = None) -> dict:
    """Volumes per queue, the manual triage share and the corrections of the last ``hours``."""
    until = now or datetime.now(timezone.utc)
    since = (until - timedelta(hours=hours)).isoformat(timespec="milliseconds")
    board = QueueBoard(deployment, since=since)
    allocations = [p for rows in board.placed.values() for p in rows]
    manual = sum(p.allocation.status == NEEDS_TRIAGE for p in allocations)
    recent = [c for own in board.corrections.values() for c in own if c.at >= since]
    return {
        "since": since, "until": until.isoformat(timespec="milliseconds"), "allocated": len(allocations),
        "by_queue": dict(Counter(p.allocation.queue for p in allocations)),
        "manual_triage": manual, "manual_triage_share": round(manual / len(allocations), 4) if allocations else 0.0,
        "corrections": len(recent), "corrections_by_task": dict(Counter(c.task for c in recent)),
        "moved": sum(p.queue != p.allocation.queue for p in allocations),
    }
