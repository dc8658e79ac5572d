"""Who the caller is: the ops app reads its user's role and queues here."""

from fastapi import APIRouter

from complaints import access
from complaints.queues import slug
from ops_api.dependencies import Served, User
from ops_api.errors import ERRORS
from ops_api.schemas import Me

router = APIRouter(tags=["users"], responses=ERRORS)


@router.get("/me", response_model=Me, summary="The authenticated user")
def me(user: User, deployment: Served) -> Me:
    return Me(name=user.name, role=user.role, team=user.team, team_queue_id=slug(user.team) if user.team else None,
              queues=access.readable_queues(user, deployment.tasks, deployment.taxonomy))
