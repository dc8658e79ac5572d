"""Model roll-out strategies per task: champion only, canary, shadow, and rollback.

The strategy of each task lives in the store (``model_strategy``); every change is a conditional write
on the revision that was read and leaves an audit event. The store is what serves (a deployed environment's
writes come from its release manifest); the registry holds versions only.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from complaints.deployment import Deployment
from complaints.records import STRATEGY_MODES, AuditEvent, ModelStrategy, as_dict, utc_now


class NoChampionError(RuntimeError):
    """A task has no champion model; nothing can be served until one is trained or promoted."""


def strategies(deployment: Deployment, tasks: list[str] | None = None, required: bool = True
               ) -> dict[str, ModelStrategy]:
    """Each task's serving strategy (and so its champion): the one place that looks them up.

    With ``required``, a task without a champion raises NoChampionError; otherwise it is left out.
    """
    found = {}
    for name in tasks if tasks is not None else [t.name for t in deployment.tasks]:
        strategy = deployment.store.get_strategy(name)
        if strategy is not None:
            found[name] = strategy
        elif required:
            raise NoChampionError(f"task {name!r} has no champion model: run `complaints train` "
                                  f"(or `complaints strategy promote`) first")
    return found


def champions(deployment: Deployment, tasks: list[str] | None = None, required: bool = True) -> dict[str, str]:
    """Each task's champion version (see :func:`strategies`)."""
    return {name: s.champion for name, s in strategies(deployment, tasks, required).items()}


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


def write(deployment: Deployment, new: ModelStrategy, actor: str, action: str, context: dict | None = None
          ) -> ModelStrategy:
    """Write a task's strategy (conditional on the revision read) and its audit event."""
    if new.mode not in STRATEGY_MODES:
        raise ValueError(f"strategy mode must be one of {STRATEGY_MODES}, not {new.mode!r}")
    written = deployment.store.put_strategy(replace(new, updated_by=actor))
    # One event per strategy revision: a write retried after the strategy was stored records it once.
    deployment.store.append_audit(AuditEvent(f"strategy-{new.task}-r{written.revision}", utc_now(), actor, action, new.task,
                                             {**as_dict(written), **(context or {})}))
    return written


def promote(deployment: Deployment, task: str, version: str, actor: str) -> ModelStrategy:
    """Make ``version`` the champion; the old champion is kept for rollback."""
    current = strategies(deployment, [task], required=False).get(task)
    if current is None:
        return write(deployment, ModelStrategy(task=task, champion=version), actor, "promote")
    return write(deployment, replace(current, champion=version, previous_champion=current.champion, mode="champion_only",
                                 challenger=None, canary_percent=0), actor, "promote")


def start_canary(deployment: Deployment, task: str, version: str, percent: int, actor: str) -> ModelStrategy:
    if not 0 < percent < 100:
        raise ValueError("a canary takes between 1 and 99 percent of complaints")
    current = strategies(deployment, [task])[task]
    return write(deployment, replace(current, mode="canary", challenger=version, canary_percent=percent), actor, "canary")


def start_shadow(deployment: Deployment, task: str, version: str, actor: str) -> ModelStrategy:
    current = strategies(deployment, [task])[task]
    return write(deployment, replace(current, mode="shadow", challenger=version, canary_percent=0), actor, "shadow")


def rollback(deployment: Deployment, task: str, actor: str) -> ModelStrategy:
    """Serve the previous champion only; any canary or shadow stops."""
    current = strategies(deployment, [task])[task]
    if not current.previous_champion:
        raise ValueError(f"task {task!r} has no previous champion to roll back to")
    return write(deployment, replace(current, champion=current.previous_champion, previous_champion=current.champion,
                                 mode="champion_only", challenger=None, canary_percent=0), actor, "rollback")
