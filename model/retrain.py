"""The retrain job of a deployed environment: its base data and analysts' corrections → the ``training``
data gate → challengers → the gate (model/gate.py: a first version against the tasks' minimums, a challenger
against the champion that serves) → the registry, for the challengers it promotes only → a manifest change,
its decisions and its report for a pull request. Nothing here writes the environment's store: corrections and
the versions that serve are exported into a scratch store and registry first, so the job runs with read-only
access to the store, a version the gate turns away never reaches the environment's registry (no manifest can
name it), and what it proposes reaches the environment only when the pull request is merged and applied.

Output, in the checkout and ``out`` (what the workflow turns into a pull request):

- ``deploy/<env>.yaml`` with each challenger that passed entering at the first step of the manifest's
  ``rollout`` policy, and ``deploy/gate/<env>/<task>.json``, the sealed decision ``release apply`` requires;
- ``out/report.md`` (the pull request's body, its headline task by task), ``out/gate.json``,
  ``out/manifest.diff``.

When no challenger passes, the manifest is untouched and the report says why.
"""

from __future__ import annotations

import difflib
import json
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from complaints.deployment import Deployment
from complaints.registry import ModelRegistry, RegistryError
from complaints.registry.local import LocalRegistry
from complaints.strategy import strategies
from model import decision
from model.gate import PROMOTE, Change, TaskVerdict, decide, markdown_report, policy_of, report_sha256, rules_of
from model.manifest import ReleaseManifest, TaskRelease, entering
from complaints.records import utc_now
from model.release import record_version
from complaints.store.sqlite import SQLiteStore
from model.baseline import BaselineConfig
from model.train import TrainingArguments, train


@dataclass
class RetrainArguments:
    data: Path
    out: Path = Path("build/promotion")
    actor: str = "retrain"
    max_rows: int | None = None  # a deterministic subset (tests)
    baseline: BaselineConfig = field(default_factory=BaselineConfig)


@dataclass(frozen=True)
class RetrainResult:
    verdicts: list[TaskVerdict]
    promoted: list[str]  # tasks whose challenger entered the manifest
    report: Path
    manifest_changed: bool


def export_corrections(source: Deployment, manifest: ReleaseManifest, scratch: Path) -> Deployment:
    """A scratch deployment holding what training and the gate read from the environment: analysts'
    corrections with their complaints, and the versions that serve there (records, strategies and artifacts,
    in a scratch registry that the challengers are registered in until the gate has decided)."""
    store, registry = SQLiteStore(scratch / "corrections.sqlite3"), LocalRegistry(scratch / "registry")
    for feedback in source.store.list_feedback():
        complaint = source.store.get_complaint(feedback.complaint_id)
        if complaint is not None:
            store.put_complaint(complaint)
        store.import_feedback(feedback)
    target = Deployment(store=store, registry=registry, tasks=source.tasks, taxonomy=source.taxonomy,
                        operations=source.operations)
    for task, strategy in strategies(source, required=False).items():
        for version in filter(None, (strategy.champion, strategy.challenger)):
            _copy(source.registry, registry, task, version)
            record_version(target, manifest.registry, task, version)
        store.put_strategy(TaskRelease.of(strategy).applied_to(None, task))
    return target


def _copy(source: ModelRegistry, target: ModelRegistry, task: str, version: str) -> None:
    """``version`` of ``task`` from one registry into another, under the same content hash."""
    if target.register(task, source.fetch(task, version)) != version:
        raise RegistryError(f"{task}@{version} changed on the way between registries")


def retrain(environment: Deployment, manifest: ReleaseManifest, args: RetrainArguments) -> RetrainResult:
    """Export, train, gate, and write the pull request's contents. The scratch store (complaints that analysts
    corrected) and registry live in a temporary folder and are gone when the job ends: nothing of them reaches
    ``out``, and of the registry only what the gate promoted reaches the environment's."""
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="retrain-") as scratch:
        deployment = export_corrections(environment, manifest, Path(scratch))
        try:
            return _retrain(environment, deployment, manifest, args)
        finally:
            deployment.store.close()


def _retrain(environment: Deployment, deployment: Deployment, manifest: ReleaseManifest, args: RetrainArguments
             ) -> RetrainResult:
    results = train(deployment, TrainingArguments(data=args.data, champion="never", actor=args.actor,
                                                  max_rows=args.max_rows, baseline=args.baseline))
    policy = policy_of(manifest.gate)
    serving = strategies(environment, required=False)
    lines = {task: TaskRelease.of(strategy) for task, strategy in serving.items()}
    changes = [Change(r.task, lines.get(r.task), entering(manifest.rollout, lines.get(r.task), r.version),
                      serving[r.task].previous_champion if r.task in serving else None) for r in results]
    verdicts = decide(deployment, changes, lines, args.data, policy, manifest.rollout)
    title = f"Retrain {manifest.environment}: {', '.join(f'{v.task} {v.decision}' for v in verdicts)}"
    report = markdown_report(verdicts, policy, title) + "\n"
    promoted = [v for v in verdicts if v.decision == PROMOTE]
    before = manifest.path.read_text(encoding="utf-8")
    text = before
    for verdict in promoted:
        _copy(deployment.registry, environment.registry, verdict.task, verdict.challenger)
        text = ReleaseManifest.load(manifest.path).with_task(verdict.task, verdict.change.after)
        manifest.path.write_text(text, encoding="utf-8")
        rules = rules_of(deployment, deployment.task(verdict.task), policy, manifest.rollout)
        decision.write(decision.decision_path(manifest.path.parent, manifest.environment, verdict.task),
                       verdict.committed(manifest.environment, rules, report_sha256(report), args.actor))
    (args.out / "report.md").write_text(report, encoding="utf-8")
    (args.out / "manifest.diff").write_text("".join(difflib.unified_diff(
        before.splitlines(keepends=True), text.splitlines(keepends=True),
        f"a/deploy/{manifest.path.name}", f"b/deploy/{manifest.path.name}")), encoding="utf-8")
    (args.out / "gate.json").write_text(json.dumps({
        "environment": manifest.environment, "decided_at": utc_now(), "promoted": [v.task for v in promoted],
        "verdicts": [asdict(v) for v in verdicts]}, indent=2, default=str) + "\n", encoding="utf-8")
    return RetrainResult(verdicts, [v.task for v in promoted], args.out / "report.md", text != before)
