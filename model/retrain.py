"""The retrain job of a deployed environment: its base data and analysts' corrections → the ``training``
data gate → challengers → the registry → the champion/challenger gate → a manifest change and its report
for a pull request. Nothing here writes the environment's store: corrections are exported from it into a
scratch store first, so the job runs with read-only access, and what it proposes reaches the environment
only when the pull request is merged and applied.

Output, in the checkout and ``out`` (what the workflow turns into a pull request):

- ``deploy/<env>.yaml`` with each challenger that passed entering at the first step of the manifest's
  ``rollout`` policy, and ``deploy/gate/<task>/<challenger>.json``, the decision ``release apply`` records;
- ``out/report.md`` (the pull request's body), ``out/gate.json``, ``out/manifest.diff``.

When no challenger passes, the manifest is untouched and the report says why.
"""

from __future__ import annotations

import difflib
import json
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from complaints.deployment import Deployment
from model.gate import PROMOTE, TaskVerdict, compare, markdown_report, policy_of, report_sha256
from model.manifest import ReleaseManifest, first_step
from complaints.records import utc_now
from model.release import gate_decision_path, record_version
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
    corrections with their complaints, and the champions the manifest names (records and strategies)."""
    store = SQLiteStore(scratch)
    for feedback in source.store.list_feedback():
        complaint = source.store.get_complaint(feedback.complaint_id)
        if complaint is not None:
            store.put_complaint(complaint)
        store.import_feedback(feedback)
    target = Deployment(store=store, registry=source.registry, tasks=source.tasks, taxonomy=source.taxonomy,
                        operations=source.operations)
    for task, release in manifest.tasks.items():
        record_version(target, manifest, task, release.champion)
        store.put_strategy(release.applied_to(None, task))
    return target


def retrain(environment: Deployment, manifest: ReleaseManifest, args: RetrainArguments) -> RetrainResult:
    """Export, train, gate, and write the pull request's contents. The scratch store (complaints that analysts
    corrected) lives in a temporary folder and is gone when the job ends: nothing of it reaches ``out``."""
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="retrain-") as scratch:
        deployment = export_corrections(environment, manifest, Path(scratch) / "corrections.sqlite3")
        try:
            return _retrain(deployment, manifest, args)
        finally:
            deployment.store.close()


def _retrain(deployment: Deployment, manifest: ReleaseManifest, args: RetrainArguments) -> RetrainResult:
    results = train(deployment, TrainingArguments(data=args.data, champion="never", actor=args.actor,
                                                  max_rows=args.max_rows, baseline=args.baseline))
    policy = policy_of(manifest.gate)
    verdicts = []
    for result in results:
        task = deployment.task(result.task)
        if task.name in manifest.tasks:
            verdicts.append(compare(deployment, task, result.version, args.data, policy,
                                    champion=manifest.tasks[task.name].champion))
        else:
            verdicts.append(TaskVerdict(task.name, "", result.version, PROMOTE,
                                        ["no champion serves this task yet: its first version enters as champion"],
                                        {"held_out": result.metrics}))
    title = f"Retrain {manifest.environment}: {', '.join(f'{v.task} {v.decision}' for v in verdicts)}"
    report = markdown_report([v for v in verdicts if v.champion], policy, title) + "".join(
        f"\n## {v.task}: {v.decision}\n\n- {v.reasons[0]}\n" for v in verdicts if not v.champion)
    promoted = [v for v in verdicts if v.decision == PROMOTE]
    before = manifest.path.read_text(encoding="utf-8")
    text = before
    for verdict in promoted:
        current = ReleaseManifest.load(manifest.path)
        text = current.with_task(verdict.task, first_step(current, verdict.task, verdict.challenger))
        manifest.path.write_text(text, encoding="utf-8")
        decision = gate_decision_path(manifest.path.parent, verdict.task, verdict.challenger)
        decision.parent.mkdir(parents=True, exist_ok=True)
        decision.write_text(json.dumps(asdict(verdict.as_decision(report_sha256(report), args.actor)), indent=2,
                                       sort_keys=True, default=str) + "\n", encoding="utf-8")
    (args.out / "report.md").write_text(report + "\n", encoding="utf-8")
    (args.out / "manifest.diff").write_text("".join(difflib.unified_diff(
        before.splitlines(keepends=True), text.splitlines(keepends=True),
        f"a/deploy/{manifest.path.name}", f"b/deploy/{manifest.path.name}")), encoding="utf-8")
    (args.out / "gate.json").write_text(json.dumps({
        "environment": manifest.environment, "decided_at": utc_now(), "promoted": [v.task for v in promoted],
        "verdicts": [asdict(v) for v in verdicts]}, indent=2, default=str) + "\n", encoding="utf-8")
    return RetrainResult(verdicts, [v.task for v in promoted], args.out / "report.md", text != before)
