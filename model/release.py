"""Applying a release manifest to an environment: what its store serves against what git says, and the
writes that make them agree.

``apply`` is bound to the gate: before it writes anything, every task whose line changes (versions, mode,
canary share, threshold; a task's first version too) needs the committed gate decision that names exactly that
change, says promote, is sealed, and was made under the rules in force (model/decision.py); one missing,
edited, turned away or stale refuses the whole manifest, and so does a version an environment ``promoted_from``
another never saw served there (model/promotion.py), and so does a version it names that the registry lacks
or holds modified (each is fetched, hash-checked, before anything is written). Then it records each version the
store has no ``model_info`` of (from its model card in the registry) and the decisions, writes a task's
strategy only where it differs (a conditional write and an audit event carrying the manifest's commit, actor,
run URL and the decision's sha256), and records a release when anything changed or this manifest was never
applied. Applying the same manifest twice changes nothing.

What serves has one truth: an embedded deployment's store (``model_strategy``), a deployed environment's
release manifest. In a deployed environment everything else is staged from the manifest and changed only
through it: the store's strategies (written here), the image's ``models.json`` and Terraform's
``model_versions`` tags (model/serving_image.py). The registry holds immutable versions only, so an apply
reads it and writes nothing there: environments that share a registry cannot move each other's serving state.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from complaints.deployment import Deployment
from model import decision
from model.gate import Change, policy_of, rules_of
from model.manifest import ManifestError, ReleaseManifest, TaskRelease, describe
from complaints.model_card import read_model_card
from complaints.records import GateDecision, ModelInfo, ModelStrategy, ReleaseRecord, utc_now
from complaints.store.sqlite import SQLiteStore
from complaints.strategy import strategies, write
from model.promotion import unpromoted


class UngatedChange(ManifestError):
    """A line the manifest changes has no committed gate decision that admits it; nothing was written."""


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


def serving(deployment: Deployment, manifest: ReleaseManifest) -> dict[str, ModelStrategy]:
    """What the environment serves, as the retrain, the promotion and the gate compare a manifest against. A
    committed manifest that serves nothing is a first release: the environment may not exist yet (an empty
    account's tables come with its first apply) and nothing it could hold bears on a first version, so its store
    is not read. ``release apply`` always reads it: the apply that creates the tables runs before it."""
    return strategies(deployment, required=False) if manifest.tasks else {}


@contextmanager
def as_read(deployment: Deployment, manifest: ReleaseManifest) -> Iterator[Deployment]:
    """The environment as the gate reads it: itself, or for a first release an empty store of its own beside the
    environment's registry (see ``serving``), so nothing reads tables that may not exist yet."""
    if manifest.tasks:
        yield deployment
        return
    with tempfile.TemporaryDirectory(prefix="first-release-") as scratch:
        store = SQLiteStore(Path(scratch) / "empty.sqlite3")
        try:
            yield replace(deployment, store=store)
        finally:
            store.close()


def diff(deployment: Deployment, manifest: ReleaseManifest, current: dict[str, ModelStrategy] | None = None
         ) -> list[TaskChange]:
    """Every task the manifest or the store knows, with what each says (``current``: what serves, default the
    store's strategies)."""
    current = strategies(deployment, required=False) if current is None else current
    tasks = [t.name for t in deployment.tasks if t.name in manifest.tasks or t.name in current]
    unknown = set(manifest.tasks) - {t.name for t in deployment.tasks}
    if unknown:
        raise ValueError(f"{manifest.path}: tasks {sorted(unknown)} are not configured tasks")
    return [TaskChange(task, TaskRelease.of(current[task]) if task in current else None, manifest.tasks.get(task))
            for task in tasks]


def gated(changes: list[TaskChange], current: dict[str, ModelStrategy]) -> list[Change]:
    """The serving changes among ``changes``, as the gate decides them (``current``: what serves)."""
    return [Change(c.task, c.serving, c.wanted, current[c.task].previous_champion if c.task in current else None)
            for c in changes if c.changed]


def admitted(deployment: Deployment, manifest: ReleaseManifest, changes: list[Change]
             ) -> dict[str, tuple[GateDecision, str]]:
    """Each change's committed decision, as the store records it, and its sha256; raises ``UngatedChange``
    naming every change without one."""
    policy, found, refused = policy_of(manifest.gate), {}, []
    for change in changes:
        document = decision.read(decision.decision_path(manifest.path.parent, manifest.environment, change.task))
        problems = decision.problems(document, manifest.environment, change.task,
                                     asdict(change.before) if change.before else None, asdict(change.after),
                                     rules_of(deployment, deployment.task(change.task), policy, manifest.rollout))
        if not problems:
            try:
                found[change.task] = (GateDecision(**{key: document[key] for key in GateDecision.__dataclass_fields__}),
                                      document["sha256"])
            except KeyError as missing:
                problems = [f"it has no {missing}"]
        if problems:
            refused.append(f"task {change.task!r} ({describe(change.before)} -> {describe(change.after)}): "
                           + "; ".join(problems))
    if refused:
        raise UngatedChange(f"{manifest.path}: a change the gate did not admit, so nothing was applied: "
                            + " | ".join(refused))
    return found


def apply(deployment: Deployment, manifest: ReleaseManifest, git_commit: str, actor: str, run_url: str = ""
          ) -> ApplyResult:
    current = strategies(deployment, required=False)
    changes = diff(deployment, manifest, current)
    ungated = gated(changes, current)
    decisions = admitted(deployment, manifest, ungated)
    refused = unpromoted(manifest, ungated)
    if refused:
        raise UngatedChange(f"{manifest.path}: a version {manifest.promoted_from} never served, so nothing was "
                            f"applied: " + " | ".join(f"task {task!r}: {why}" for task, why in refused.items()))
    for info in _unrecorded(deployment, manifest):
        deployment.store.put_model_info(info)
    for record, _ in decisions.values():
        deployment.store.put_gate_decision(record)
    context = {"environment": manifest.environment, "release_id": manifest.sha256, "git_commit": git_commit,
               "manifest": manifest.path.name, "run_url": run_url}
    for change in changes:
        if change.changed:
            write(deployment, change.wanted.applied_to(current.get(change.task), change.task), actor, "release",
                  {**context, "gate_decision_sha256": decisions[change.task][1]})
    latest = deployment.store.list_releases(manifest.environment, limit=1)
    if not any(c.changed for c in changes) and latest and latest[0].release_id == manifest.sha256:
        return ApplyResult(changes, None)
    record = ReleaseRecord(manifest.environment, manifest.sha256, git_commit, manifest.path.name,
                           {task: asdict(release) for task, release in manifest.tasks.items()}, utc_now(), actor,
                           run_url)
    deployment.store.put_release(record)
    return ApplyResult(changes, record)


def _unrecorded(deployment: Deployment, manifest: ReleaseManifest) -> list[ModelInfo]:
    """The ``model_info`` of each version the manifest names that the store has none of. Every version is fetched
    (RegistryError where it is missing or modified) before ``apply`` writes anything, so one refuses them all."""
    unrecorded = []
    for task, release in manifest.tasks.items():
        for version in filter(None, (release.champion, release.challenger)):
            folder = deployment.registry.fetch(task, version)
            if deployment.store.get_model_info(task, version) is None:
                unrecorded.append(_model_info(folder, manifest.registry, task, version))
    return unrecorded


def record_version(deployment: Deployment, registry: str, task: str, version: str) -> None:
    """The version's ``model_info``, from its model card, once."""
    if deployment.store.get_model_info(task, version) is None:
        deployment.store.put_model_info(_model_info(deployment.registry.fetch(task, version), registry, task, version))


def _model_info(folder: Path, registry: str, task: str, version: str) -> ModelInfo:
    card = read_model_card(folder)
    training = card.get("training", {})
    return ModelInfo(task=task, version=version, kind=card.get("kind", ""), registered_at=utc_now(),
                     metrics={**card["metrics"], "ci95": card.get("ci95")},
                     training_data_sha256=training.get("data_sha256", ""),
                     taxonomy_version=training.get("taxonomy_version", ""), uri=f"{registry}/{task}@{version}")
