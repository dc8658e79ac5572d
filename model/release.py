"""Applying a release manifest to an environment: what its store serves against what git says, and the
writes that make them agree.

``apply`` is idempotent: it records each version the manifest names (its ``model_info`` from the model
card in the registry, hash-checked on fetch, and the gate decision committed beside the manifest), writes
a task's strategy only where it differs (a conditional write and an audit event carrying the manifest's
commit, actor and run URL), and records a release when anything changed or this manifest was never
applied. Applying the same manifest twice changes nothing.

What serves has one truth: an embedded deployment's store (``model_strategy``), a deployed environment's
release manifest. In a deployed environment everything else is staged from the manifest and changed only
through it: the store's strategies (written here), the image's ``models.json`` and Terraform's
``model_versions`` tags (model/serving_image.py). The registry holds immutable versions only, so an apply
reads it and writes nothing there: environments that share a registry cannot move each other's serving state.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from complaints.deployment import Deployment
from model.manifest import ReleaseManifest, TaskRelease
from complaints.model_card import read_model_card
from complaints.records import GateDecision, ModelInfo, ReleaseRecord, utc_now
from complaints.strategy import strategies, write

GATE_DIR = "gate"  # beside the manifests: gate/<task>/<challenger>.json, the decision that admitted a version


@dataclass(frozen=True)
class TaskChange:
    task: str
    serving: TaskRelease | None  # what the environment's store serves
    wanted: TaskRelease | None  # what the manifest says (None: the manifest does not name the task)

    @property
    def changed(self) -> bool:
        return self.wanted is not None and self.serving != self.wanted

    def line(self) -> str:
        if not self.changed:
            return f"  {self.task:<12} in sync: {describe(self.serving)}"
        return f"~ {self.task:<12} serves {describe(self.serving)}\n  {'':<12} manifest {describe(self.wanted)}"


@dataclass(frozen=True)
class ApplyResult:
    changes: list[TaskChange]
    release: ReleaseRecord | None  # None: nothing changed and this manifest was applied before


def diff(deployment: Deployment, manifest: ReleaseManifest) -> list[TaskChange]:
    """Every task the manifest or the store knows, with what each says."""
    serving = strategies(deployment, required=False)
    tasks = [t.name for t in deployment.tasks if t.name in manifest.tasks or t.name in serving]
    unknown = set(manifest.tasks) - {t.name for t in deployment.tasks}
    if unknown:
        raise ValueError(f"{manifest.path}: tasks {sorted(unknown)} are not configured tasks")
    return [TaskChange(task, TaskRelease.of(serving[task]) if task in serving else None, manifest.tasks.get(task))
            for task in tasks]


def apply(deployment: Deployment, manifest: ReleaseManifest, git_commit: str, actor: str, run_url: str = ""
          ) -> ApplyResult:
    changes = diff(deployment, manifest)
    for task, release in manifest.tasks.items():
        for version in filter(None, (release.champion, release.challenger)):
            record_version(deployment, manifest, task, version)
    context = {"environment": manifest.environment, "release_id": manifest.sha256, "git_commit": git_commit,
               "manifest": manifest.path.name, "run_url": run_url}
    current = strategies(deployment, required=False)
    for change in changes:
        if change.changed:
            write(deployment, change.wanted.applied_to(current.get(change.task), change.task), actor, "release", context)
    latest = deployment.store.list_releases(manifest.environment, limit=1)
    if not any(c.changed for c in changes) and latest and latest[0].release_id == manifest.sha256:
        return ApplyResult(changes, None)
    record = ReleaseRecord(manifest.environment, manifest.sha256, git_commit, manifest.path.name,
                           {task: asdict(release) for task, release in manifest.tasks.items()}, utc_now(), actor,
                           run_url)
    deployment.store.put_release(record)
    return ApplyResult(changes, record)


def record_version(deployment: Deployment, manifest: ReleaseManifest, task: str, version: str) -> None:
    """The version's ``model_info`` (from its model card) and the gate decision that admitted it, once."""
    if deployment.store.get_model_info(task, version) is None:
        card = read_model_card(deployment.registry.fetch(task, version))
        training = card.get("training", {})
        deployment.store.put_model_info(ModelInfo(
            task=task, version=version, kind=card.get("kind", ""), registered_at=utc_now(),
            metrics={**card["metrics"], "ci95": card.get("ci95")}, training_data_sha256=training.get("data_sha256", ""),
            taxonomy_version=training.get("taxonomy_version", ""), uri=f"{manifest.registry}/{task}@{version}"))
    decision = gate_decision_path(manifest.path.parent, task, version)
    if decision.is_file():
        deployment.store.put_gate_decision(GateDecision(**json.loads(decision.read_text(encoding="utf-8"))))


def gate_decision_path(deploy_dir: Path, task: str, challenger: str) -> Path:
    return Path(deploy_dir) / GATE_DIR / task / f"{challenger}.json"


def describe(release: TaskRelease | None) -> str:
    """One line: champion, challenger and how it is served, threshold."""
    if release is None:
        return "nothing"
    text = f"champion {release.champion}"
    if release.challenger:
        text += f", {release.mode} challenger {release.challenger}"
        text += f" at {release.canary_percent}%" if release.mode == "canary" else ""
    return text + (f", threshold {release.threshold}" if release.threshold is not None else "")
