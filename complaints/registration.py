"""Registering a trained model: immutable version in the registry, its record in ``model_info``, an
audit event, and the champion slot when the task has none yet."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from complaints.deployment import Deployment
from complaints.records import AuditEvent, ModelInfo, ModelStrategy, as_dict, utc_now
from complaints.strategy import promote


def register_model(deployment: Deployment, task: str, artifact_dir: Path, kind: str, metrics: dict[str, Any],
                   training_data_sha256: str, actor: str, make_champion: bool) -> tuple[ModelInfo, ModelStrategy | None]:
    """Returns the version's record, and the task's strategy when this call made it champion."""
    version = deployment.registry.register(task, artifact_dir)
    info = ModelInfo(task=task, version=version, kind=kind, registered_at=utc_now(), metrics=metrics,
                     training_data_sha256=training_data_sha256, taxonomy_version=deployment.taxonomy.version,
                     uri=f"{task}@{version}")
    if deployment.store.put_model_info(info):
        deployment.store.append_audit(AuditEvent(uuid.uuid4().hex, utc_now(), actor, "register", task, as_dict(info)))
    else:
        info = deployment.store.get_model_info(task, version)  # same content registered before: keep its record
    current = deployment.store.get_strategy(task)
    if make_champion and (current is None or current.champion != version):
        return info, promote(deployment, task, version, actor)
    return info, None
