"""Complaints whose triage failed for good still reach people, through the same pipeline.

When a serverless triage call has failed past its retries, its chunk is triaged again with every model
marked as failed for that reason. The pipeline's own rule then applies: each complaint is stored and lands
in the manual triage queue with the reason, the chunk's rejections and batch record are kept, and an
allocation that was already written stands (allocations are written once). Nothing is lost, nothing is
triaged twice, and no second copy of the routing logic exists.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from complaints.deployment import Deployment
from complaints.intake import IntakeBatch
from complaints.pipeline import BatchReport, TriagePipeline
from complaints.registry import RegistryError


class _NoModels:
    """Stands in for the registry where the pipeline fetches models: every fetch fails for one reason.

    Not a ModelRegistry on purpose: it registers and lists nothing, so it does not follow that interface
    as it grows; the pipeline only ever fetches from it.
    """

    def __init__(self, reason: str):
        self.reason = reason

    def fetch(self, task: str, version: str) -> Path:
        raise RegistryError(self.reason)


def triage_manually(deployment: Deployment, batch: IntakeBatch, reason: str) -> BatchReport:
    """Send every complaint of ``batch`` not yet allocated to manual triage, with ``reason``."""
    return TriagePipeline(replace(deployment, registry=_NoModels(reason))).triage(batch)
