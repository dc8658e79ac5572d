"""Registering a trained model: immutable version in the registry, its record in ``model_info``, an
audit event, and the champion slot when the task has none yet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from complaints.deployment import Deployment
from complaints.records import AuditEvent, ModelInfo, ModelStrategy, as_dict, utc_now
from complaints.strategy import champions, promote

class RegistrationIncomplete(RuntimeError):
    """Registering a set of versions failed part-way: ``registered`` names what was registered (and promoted
    where the policy said so) before ``failed`` failed; nothing after it was."""

    def __init__(self, registered: list[str], failed: str, cause: Exception):
        self.registered, self.failed = registered, failed
        super().__init__(f"registering {failed} failed ({type(cause).__name__}: {cause}); "
                         f"already registered: {', '.join(registered) or 'none'}")


# When a newly trained version becomes champion: if the task has none | if it beats the champion's held-out
# target metric | always | never.
CHAMPION_POLICIES = ("if-none", "if-better", "always", "never")


def register_model(deployment: Deployment, task: str, artifact_dir: Path, kind: str, metrics: dict[str, Any],
                   training_data_sha256: str, actor: str, make_champion: bool) -> tuple[ModelInfo, ModelStrategy | None]:
    """Returns the version's record, and the task's strategy when this call made it champion."""
    version = deployment.registry.register(task, artifact_dir)
    info = ModelInfo(task=task, version=version, kind=kind, registered_at=utc_now(), metrics=metrics,
                     training_data_sha256=training_data_sha256, taxonomy_version=deployment.taxonomy.version,
                     uri=f"{task}@{version}")
    if deployment.store.put_model_info(info):  # one event per version, named after it
        deployment.store.append_audit(AuditEvent(f"register-{task}-{version}", utc_now(), actor, "register", task,
                                                 as_dict(info)))
    else:
        info = deployment.store.get_model_info(task, version)  # same content registered before: keep its record
    if make_champion and champions(deployment, [task], required=False).get(task) != version:
        return info, promote(deployment, task, version, actor)
    return info, None
