"""Model roll-out strategies per task: champion only, canary, shadow, and rollback.

The strategy of each task lives in the store (``model_strategy``); every change is a conditional write
on the revision that was read, leaves an audit event, and moves the registry's ``champion`` and
``challenger`` aliases to match, so the registry always names what is served.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace

from complaints.deployment import Deployment
from complaints.records import AuditEvent, ModelStrategy, as_dict, utc_now


def serving_plan(strategy: ModelStrategy, complaint_id: str) -> tuple[str, str, str | None]:
    """(version that decides, which line it is, version that shadows or None) for one complaint.

    Canary buckets are a hash of task and complaint id, so a complaint always meets the same version.
    """
    if strategy.mode == "canary" and strategy.challenger:
        bucket = int(hashlib.sha256(f"{strategy.task}:{complaint_id}".encode()).hexdigest(), 16) % 100
        if bucket < strategy.canary_percent:
            return strategy.challenger, "challenger", None
    if strategy.mode == "shadow" and strategy.challenger:
        return strategy.champion, "champion", strategy.challenger
    return strategy.champion, "champion", None


def _write(deployment: Deployment, new: ModelStrategy, actor: str, action: str) -> ModelStrategy:
    written = deployment.store.put_strategy(replace(new, updated_by=actor))
    deployment.store.append_audit(AuditEvent(uuid.uuid4().hex, utc_now(), actor, action, new.task, as_dict(written)))
    deployment.registry.set_alias(new.task, "champion", written.champion)
    deployment.registry.set_alias(new.task, "challenger", written.challenger)
    return written


def promote(deployment: Deployment, task: str, version: str, actor: str) -> ModelStrategy:
    """Make ``version`` the champion; the old champion is kept for rollback."""
    current = deployment.store.get_strategy(task)
    if current is None:
        return _write(deployment, ModelStrategy(task=task, champion=version), actor, "promote")
    return _write(deployment, replace(current, champion=version, previous_champion=current.champion, mode="champion_only",
                                 challenger=None, canary_percent=0), actor, "promote")


def start_canary(deployment: Deployment, task: str, version: str, percent: int, actor: str) -> ModelStrategy:
    if not 0 < percent < 100:
        raise ValueError("a canary takes between 1 and 99 percent of complaints")
    current = _require(deployment, task)
    return _write(deployment, replace(current, mode="canary", challenger=version, canary_percent=percent), actor, "canary")


def start_shadow(deployment: Deployment, task: str, version: str, actor: str) -> ModelStrategy:
    current = _require(deployment, task)
    return _write(deployment, replace(current, mode="shadow", challenger=version, canary_percent=0), actor, "shadow")


def rollback(deployment: Deployment, task: str, actor: str) -> ModelStrategy:
    """Serve the previous champion only; any canary or shadow stops."""
    current = _require(deployment, task)
    if not current.previous_champion:
        raise ValueError(f"task {task!r} has no previous champion to roll back to")
    return _write(deployment, replace(current, champion=current.previous_champion, previous_champion=current.champion,
                                 mode="champion_only", challenger=None, canary_percent=0), actor, "rollback")


def _require(deployment: Deployment, task: str) -> ModelStrategy:
    current = deployment.store.get_strategy(task)
    if current is None:
        raise ValueError(f"task {task!r} has no champion yet: run `complaints train --task {task}` first")
    return current
