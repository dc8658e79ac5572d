"""Who may do what in the ops tools: users, their roles, and what each role may read and write.

Roles follow the ops team as it works: an *analyst* of a team works that team's queue and manual triage
and reassigns complaints there; a *specialist* works the specialist queues (vulnerable customers); a
*triage lead* works every queue; an *auditor* reads everything, the audit chain and explanations, and
writes nothing (requesting an explanation computes and keeps it, and changes no allocation). The rules
are decided here, once, and enforced by every edge (the ops API) against the authenticated user, never a
typed name.

Locally a user authenticates with an API token, ``<name>.<secret>``: 256 random bits from ``secrets``,
of which the store keeps only the sha256 (a high-entropy token needs no slow hash) and compares it in
constant time. On AWS, Cognito authenticates and the ops API verifies the access token itself
(ops_api/cognito.py); the token names the user and its ``sub``, which must be the one bound to the user here
(``users add --cognito-sub``), and the role comes from this store.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, replace

from complaints.records import MANUAL_TRIAGE, ApiUser, utc_now
from complaints.store import TriageStore
from complaints.tasks import TaskSpec
from complaints.taxonomy import Taxonomy

ANALYST, SPECIALIST, TRIAGE_LEAD, AUDITOR = "analyst", "specialist", "triage_lead", "auditor"
ROLES = (ANALYST, SPECIALIST, TRIAGE_LEAD, AUDITOR)
USER_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
COGNITO_SUB = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")  # a user pool's UUIDs


class NotAuthenticated(PermissionError):
    """No valid credentials: the token is missing, malformed, unknown or revoked."""


class AccessDenied(PermissionError):
    """The authenticated user's role does not allow this."""


@dataclass(frozen=True)
class Principal:
    """The authenticated user a request acts as."""

    name: str
    role: str
    team: str | None = None


def queues(tasks: list[TaskSpec], taxonomy: Taxonomy) -> list[str]:
    """Every queue the ops team works: the teams', the specialist queues, manual triage. Never the smoke test's
    (complaints.routing): no role lists, counts or reads it."""
    return [*taxonomy.teams, *specialist_queues(tasks), MANUAL_TRIAGE]


def specialist_queues(tasks: list[TaskSpec]) -> list[str]:
    return [task.queue for task in tasks if task.role == "flag" and task.queue]


def readable_queues(principal: Principal, tasks: list[TaskSpec], taxonomy: Taxonomy) -> list[str]:
    """The queues the principal may list, and whose complaints it may read."""
    if principal.role in (TRIAGE_LEAD, AUDITOR):
        return queues(tasks, taxonomy)
    if principal.role == SPECIALIST:
        return specialist_queues(tasks)
    return [principal.team, MANUAL_TRIAGE] if principal.role == ANALYST else []


def may_read(principal: Principal, queue: str, tasks: list[TaskSpec], taxonomy: Taxonomy) -> bool:
    """A complaint, its explanations and a queue's listing are readable from the queues the role works."""
    return queue in readable_queues(principal, tasks, taxonomy)


def check_read(principal: Principal, queue: str, tasks: list[TaskSpec], taxonomy: Taxonomy) -> None:
    if not may_read(principal, queue, tasks, taxonomy):
        raise AccessDenied(f"a {_role(principal)} may not read this queue")


def check_reassign(principal: Principal, queue: str, tasks: list[TaskSpec], taxonomy: Taxonomy) -> None:
    """Analysts, specialists and triage leads reassign the complaints of the queues they work; auditors never."""
    if principal.role == AUDITOR:
        raise AccessDenied("an auditor reads and never reassigns")
    check_read(principal, queue, tasks, taxonomy)


def check_oversight(principal: Principal) -> None:
    """The audit chain and the summary of every queue: triage leads and auditors."""
    if principal.role not in (TRIAGE_LEAD, AUDITOR):
        raise AccessDenied(f"only a triage lead or an auditor may read this, not a {_role(principal)}")


def _role(principal: Principal) -> str:
    return f"{principal.role} of {principal.team}" if principal.role == ANALYST else principal.role.replace("_", " ")


def add_user(store: TriageStore, taxonomy: Taxonomy, name: str, role: str, team: str | None, created_by: str,
             replace: bool = False, cognito_sub: str | None = None) -> str:
    """Record the user and return its new token, which is shown once and never stored. ``replace`` gives an
    existing user a new token (and role), which revokes the old one, and binds the Cognito user anew: to
    ``cognito_sub``, or to none."""
    if not USER_NAME.fullmatch(name):
        raise ValueError(f"a user name is 1-64 of a-z 0-9 _ -, starting with a letter or digit; got {name!r}")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {list(ROLES)}")
    if (role == ANALYST) != (team is not None):
        raise ValueError("an analyst needs --team, and only an analyst has one")
    if team is not None and team not in taxonomy.teams:
        raise ValueError(f"unknown team {team!r}; one of {list(taxonomy.teams)}")
    if cognito_sub is not None and not COGNITO_SUB.fullmatch(cognito_sub):
        raise ValueError("a Cognito sub is a lower-case UUID (the user's `sub` attribute in the user pool)")
    if store.get_user(name) is not None and not replace:
        raise ValueError(f"user {name!r} exists; pass --replace to give it a new token (the old one stops working)")
    secret = secrets.token_urlsafe(32)
    store.put_user(ApiUser(name, role, team, _sha256(secret), utc_now(), created_by, cognito_sub=cognito_sub))
    return f"{name}.{secret}"


def disable_user(store: TriageStore, name: str, disabled_by: str) -> ApiUser:
    """Refuse every later call of the user, whatever token or identity provider vouches for it (a local token,
    a Cognito access token still within its 10 minutes); ``users add --replace`` enables it again with a new
    token."""
    user = store.get_user(name)
    if user is None:
        raise ValueError("no such user")
    disabled = replace(user, disabled_at=utc_now(), disabled_by=disabled_by)
    store.put_user(disabled)
    return disabled


def authenticate(store: TriageStore, token: str) -> Principal:
    """The user a token belongs to; NotAuthenticated for any token that is not a current one. The scheme is
    case-insensitive (RFC 9110): ``Bearer``, ``bearer`` and ``BEARER`` alike."""
    scheme, _, credentials = token.strip().partition(" ")
    name, _, secret = (credentials if scheme.lower() == "bearer" else token).strip().partition(".")
    user = store.get_user(name) if USER_NAME.fullmatch(name) and secret else None
    if user is None or not hmac.compare_digest(user.token_sha256, _sha256(secret)) or user.disabled_at:
        raise NotAuthenticated("the API token is missing, malformed or not a current one")
    return Principal(user.name, user.role, user.team)


def principal_named(store: TriageStore, name: str, sub: str) -> Principal:
    """The user Cognito authenticated (AWS: the verified access token's ``username`` and ``sub``). The name
    alone is not enough: a Cognito user deleted and created again under the same name has a new ``sub``, and
    must not inherit the old one's role until an administrator binds it (``users add --replace --cognito-sub``)."""
    user = store.get_user(name)
    if user is None or user.disabled_at:
        raise NotAuthenticated("the authenticated user has no current role in this store (complaints users add)")
    if user.cognito_sub is None or user.cognito_sub != sub:  # not a secret: a plain comparison
        raise NotAuthenticated("the authenticated Cognito user is not the one bound to this user "
                               "(complaints users add --replace --cognito-sub)")
    return Principal(user.name, user.role, user.team)


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
