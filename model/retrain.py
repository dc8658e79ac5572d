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

The promotion job (``promote``) is the same proposal for an environment ``promoted_from`` another
(model/promotion.py): its candidates are the versions the source environment's latest release serves, not new ones.
A first release (a manifest that serves nothing: ``make bootstrap``) reads nothing from the environment, which may
not exist yet; its versions are gated against the tasks' minimums alone.
"""

from __future__ import annotations

import difflib
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from complaints.deployment import Deployment
from complaints.registry import ModelRegistry, RegistryError
from complaints.registry.local import LocalRegistry
from complaints.config import Settings
from model import decision
from model.gate import PROMOTE, Change, TaskVerdict, decide, markdown_report, policy_of, report_sha256, rules_of
from model.manifest import ManifestError, ReleaseManifest, TaskRelease, entering
from complaints.monitoring import model_health
from model.monitoring_report import markdown_summary
from model.promotion import PromotionError, source_of
from complaints.records import utc_now
from model.release import record_version, serving
from complaints.store.sqlite import SQLiteStore
from model.baseline import BaselineConfig
from model.train import TrainingArguments, train


@dataclass
class RetrainArguments:
    data: Path
    out: Path = Path("build/promotion")
    actor: str = "retrain"
    max_rows: int | None = None  # a deterministic subset (tests)
    dataset: dict | None = None  # the Hub dataset revision ``data`` is (model/dataset_hub.fetch), named in model cards
    baseline: BaselineConfig = field(default_factory=BaselineConfig)


@dataclass(frozen=True)
class RetrainResult:
    verdicts: list[TaskVerdict]
    promoted: list[str]  # tasks whose challenger entered the manifest
    report: Path
    manifest_changed: bool


def export_corrections(source: Deployment, manifest: ReleaseManifest, scratch: Path) -> Deployment:
    """A scratch deployment holding what training and the gate read from the environment: analysts'
    corrections with their complaints (:func:`corrections`), and the versions that serve there (records, strategies
    and artifacts, in a scratch registry that the challengers are registered in until the gate has decided). A first
    release reads nothing: there is nothing yet (``model.release.serving``)."""
    target = corrections(source, manifest, scratch)
    for task, strategy in serving(source, manifest).items():
        for version in filter(None, (strategy.champion, strategy.challenger)):
            _copy(source.registry, target.registry, task, version)
            record_version(target, manifest.registry, task, version)
        target.store.put_strategy(TaskRelease.of(strategy).applied_to(None, task))
    return target


def corrections(source: Deployment, manifest: ReleaseManifest, scratch: Path) -> Deployment:
    """A scratch deployment holding the analysts' corrections a retrain of the environment learns from, with their
    complaints: its own, and those of the environments promoted from it, where the analysts work on what it first
    served (the training dataset an environment exports holds the same: ``complaints --env ENV dataset export``)."""
    store, registry = SQLiteStore(scratch / "corrections.sqlite3"), LocalRegistry(scratch / "registry")
    target = Deployment(store=store, registry=registry, tasks=source.tasks, taxonomy=source.taxonomy,
                        operations=source.operations)
    readers = [source] if manifest.tasks else []
    readers += [Deployment.at(m.store_url, m.registry_url, Settings.from_env()) for m in manifest.promoted_into()
                if m.tasks and m.store_url != manifest.store_url]
    for reader in readers:
        for feedback in reader.store.list_feedback():
            complaint = reader.store.get_complaint(feedback.complaint_id)
            if complaint is not None:
                store.put_complaint(complaint)
            store.import_feedback(feedback)
    return target


def _copy(source: ModelRegistry, target: ModelRegistry, task: str, version: str) -> None:
    """``version`` of ``task`` from one registry into another, under the same content hash."""
    if target.register(task, source.fetch(task, version)) != version:
        raise RegistryError(f"{task}@{version} changed on the way between registries")


def retrain(environment: Deployment, manifest: ReleaseManifest, args: RetrainArguments) -> RetrainResult:
    """Export, train, gate, and write the pull request's contents. The scratch store (complaints that analysts
    corrected) and registry live in a temporary folder and are gone when the job ends: nothing of them reaches
    ``out``, and of the registry only what the gate promoted reaches the environment's."""
    if manifest.promoted_from:
        raise ManifestError(f"{manifest.path}: {manifest.environment} serves versions promoted from "
                            f"{manifest.promoted_from}, never its own: `make promote ENV={manifest.environment}`")
    with scratch_deployment(environment, manifest) as deployment:
        results = train(deployment, TrainingArguments(data=args.data, champion="never", actor=args.actor,
                                                      max_rows=args.max_rows, baseline=args.baseline,
                                                      dataset=args.dataset))
        return _propose(environment, deployment, manifest, {r.task: r.version for r in results}, args, "Retrain")


def promote(environment: Deployment, manifest: ReleaseManifest, args: RetrainArguments) -> RetrainResult:
    """The versions the source environment (``promoted_from``) serves in its latest release, proposed to this one
    as the retrain proposes its challengers: gated against what serves here, on this environment's corrections,
    entering at the first step of its rollout. A task whose line already serves the version is left as it is."""
    if not manifest.promoted_from:
        raise ManifestError(f"{manifest.path}: {manifest.environment} trains its own versions (no promoted_from): "
                            f"`make retrain ENV={manifest.environment}`")
    source = source_of(manifest)
    latest = source.store.list_releases(manifest.promoted_from, limit=1)
    if not latest:
        raise PromotionError(f"{manifest.promoted_from} has released nothing yet: bootstrap it first (`make bootstrap "
                             f"ENV={manifest.promoted_from}`, its pull request merged and applied)")
    current = serving(environment, manifest)
    candidates = {task: line["champion"] for task, line in latest[0].tasks.items()
                  if task not in current or line["champion"] not in (current[task].champion, current[task].challenger)}
    with scratch_deployment(environment, manifest) as deployment:
        for task, version in candidates.items():
            _copy(source.registry, deployment.registry, task, version)
            record_version(deployment, manifest.registry, task, version)
        return _propose(environment, deployment, manifest, candidates, args,
                        f"Promote from {manifest.promoted_from} (release {latest[0].release_id[:12]})")


@contextmanager
def scratch_deployment(environment: Deployment, manifest: ReleaseManifest, export=export_corrections
                       ) -> Iterator[Deployment]:
    """The scratch deployment ``export`` makes of the environment, in a temporary folder gone when the job ends."""
    with tempfile.TemporaryDirectory(prefix="retrain-") as folder:
        deployment = export(environment, manifest, Path(folder))
        try:
            yield deployment
        finally:
            deployment.store.close()


def _propose(environment: Deployment, deployment: Deployment, manifest: ReleaseManifest, candidates: dict[str, str],
             args: RetrainArguments, job: str) -> RetrainResult:
    """Gate each candidate version against what the environment serves, register the promoted ones in its
    registry, and write the manifest change, the sealed decisions and the report."""
    args.out.mkdir(parents=True, exist_ok=True)
    policy = policy_of(manifest.gate)
    current = serving(environment, manifest)
    lines = {task: TaskRelease.of(strategy) for task, strategy in current.items()}
    changes = [Change(task, lines.get(task), entering(manifest.rollout, lines.get(task), version),
                      current[task].previous_champion if task in current else None)
               for task, version in candidates.items()]
    verdicts = decide(deployment, changes, lines, args.data, policy, manifest.rollout) if changes else []
    title = f"{job} {manifest.environment}: " + (", ".join(f"{v.task} {v.decision}" for v in verdicts)
                                                 or "nothing new to propose")
    report = (markdown_report(verdicts, policy, title) if verdicts else
              f"# {title}\n\nEvery task already serves the versions proposed: nothing to gate.") + "\n"
    if current:  # how what serves is doing, beside what would replace it (a first release has nothing to judge)
        report += "\n" + markdown_summary(model_health(environment)) + "\n"
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
