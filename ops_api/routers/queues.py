"""The queues: which the user may read, how many complaints each holds, and a page of one."""

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from complaints import access
from complaints.deployment import Deployment
from complaints.queues import page_of_queue, queue_counts, slug
from ops_api.dependencies import Served, User
from ops_api.errors import ERRORS
from ops_api.schemas import ComplaintItem, QueuePage, QueueRef
from ops_api.views import predictions

router = APIRouter(tags=["queues"], responses=ERRORS)


@router.get("/queues", response_model=list[QueueRef],
            summary="The queues the user may read, with how many complaints each holds now")
def list_queues(user: User, deployment: Served) -> list[QueueRef]:
    counts = queue_counts(deployment, access.readable_queues(user, deployment.tasks, deployment.taxonomy))
    return [QueueRef(id=slug(name), name=name, count=count) for name, count in counts.items()]


@router.get("/queues/{queue_id}/complaints", response_model=QueuePage, summary="A page of a queue's complaints")
def queue_page(user: User, deployment: Served,
               queue_id: Annotated[str, Path(pattern=r"^[a-z0-9-]{1,80}$", examples=["credit-card"])],
               sort: Literal["newest", "oldest", "least_confident"] = "newest",
               offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
               limit: Annotated[int, Query(ge=1, le=200)] = 50) -> QueuePage:
    name = _queue_named(deployment, queue_id)
    access.check_read(user, name, deployment.tasks, deployment.taxonomy)
    total, rows = page_of_queue(deployment, name, sort, offset, limit)
    return QueuePage(queue=QueueRef(id=queue_id, name=name, count=total), sort=sort, offset=offset, limit=limit,
                     items=[ComplaintItem(complaint_id=p.allocation.complaint_id, allocated_at=p.allocation.allocated_at,
                                          queue=p.queue, status=p.allocation.status, corrected=p.corrected,
                                          predictions=predictions(p.allocation.predictions)) for p in rows])


def _queue_named(deployment: Deployment, queue_id: str) -> str:
    for name in access.queues(deployment.tasks, deployment.taxonomy):
        if slug(name) == queue_id:
            return name
    raise KeyError("no such queue")
