"""The release manifest: one reviewed file per deployed environment (``deploy/<env>.yaml``) saying what
serves there. Git is the source of truth: ``release diff`` compares the environment's store with it,
``release apply`` writes the store from it, and a model reaches an environment only by a pull request
that changes it, with the gate's decision for each line it changes (``deploy/gate/<env>/<task>.json``,
model/decision.py).

    environment: prod
    store: dynamodb://complaints-prod?region=us-east-1   # COMPLAINTS_MANIFEST_STORE_URL overrides (tests, local runs)
    registry: hf://megabank-complaints                   # COMPLAINTS_MANIFEST_REGISTRY_URL overrides
    rollout: [shadow, canary:10, champion]               # how a new challenger enters, and the steps it may take
    gate: {margin: 0.01}                                 # the gate's settings: tighter than model/gate.py's, never looser
    promoted_from: dev                                   # optional: serve only versions a release of dev served
    tasks:
      issue:
        champion: 3f2a9c0d1e2b4a5c
        challenger: 9b8e7d6c5a4f3e2d
        mode: canary
        canary_percent: 10
        threshold: 0.2                                   # optional: the decision threshold served with
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from complaints.config import ManifestSettings
from complaints.records import STRATEGY_MODES, ModelStrategy
from model import decision

# A challenger's rollout steps, in order: shadow (answers stored, never acted on), canary:N (N% of complaints),
# champion. ("Stage" is kept for copying versions into the serving image: model/serving_image.py.)
ROLLOUT_STEPS = ("shadow", "canary", "champion")


class ManifestError(ValueError):
    """The manifest cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class TaskRelease:
    """What one task serves: the fields of its ``model_strategy`` that the manifest owns."""

    champion: str
    challenger: str | None = None
    mode: str = "champion_only"
    canary_percent: int = 0
    threshold: float | None = None

    @classmethod
    def of(cls, strategy: ModelStrategy) -> "TaskRelease":
        return cls(strategy.champion, strategy.challenger, strategy.mode, strategy.canary_percent, strategy.threshold)

    def applied_to(self, current: ModelStrategy | None, task: str) -> ModelStrategy:
        """The strategy to write: this release over what is stored (its revision, and a rollback target)."""
        if current is None:
            return ModelStrategy(task=task, **asdict(self))
        previous = current.champion if current.champion != self.champion else current.previous_champion
        return replace(current, **asdict(self), previous_champion=previous)


@dataclass(frozen=True)
class ReleaseManifest:
    path: Path
    environment: str
    store: str
    registry: str
    tasks: dict[str, TaskRelease]
    rollout: tuple[str, ...] = ("champion",)
    gate: dict[str, Any] = field(default_factory=dict)
    # The environment whose releases this one's versions come from (model/promotion.py): one artefact, tried there
    # first. None: the environment's own retrain proposes its versions.
    promoted_from: str | None = None

    @property
    def store_url(self) -> str:
        return ManifestSettings.from_env().store_url or self.store

    @property
    def registry_url(self) -> str:
        return ManifestSettings.from_env().registry_url or self.registry

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    @classmethod
    def load(cls, path: Path) -> "ReleaseManifest":
        path = Path(path)
        if not path.is_file():
            raise ManifestError(f"{path}: no release manifest (deploy/<env>.yaml)")
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        unknown = set(doc) - {"environment", "store", "registry", "rollout", "gate", "promoted_from", "tasks"}
        missing = [key for key in ("environment", "store", "registry") if not doc.get(key)]
        if unknown or missing:
            raise ManifestError(f"{path}: unknown keys {sorted(unknown)}, missing {missing}")
        tasks = {}
        for name, entry in (doc.get("tasks") or {}).items():
            try:
                tasks[name] = TaskRelease(**entry)
            except TypeError as error:
                raise ManifestError(f"{path}: task {name!r}: {error}") from None
            _check_task(path, name, tasks[name])
        rollout = tuple(str(step) for step in doc.get("rollout") or ("champion",))
        for step in rollout:
            step_of(step, path)
        if rollout[-1] != "champion":
            raise ManifestError(f"{path}: rollout must end with 'champion', not {rollout[-1]!r}")
        for name, release in tasks.items():
            recorded = decision.read(decision.decision_path(path.parent, str(doc["environment"]), name)) or {}
            if recorded.get("to") == asdict(release) and recorded.get("decision") != decision.PROMOTE:
                raise ManifestError(f"{path}: task {name!r}: the gate decided {recorded.get('decision')!r} on this "
                                    f"line ({describe(release)}): a line the gate turned away is never served")
        source = doc.get("promoted_from")
        if source is not None and (source == doc["environment"] or not (path.parent / f"{source}.yaml").is_file()):
            raise ManifestError(f"{path}: promoted_from names {source!r}, which is not another environment's "
                                f"manifest beside it")
        return cls(path, str(doc["environment"]), str(doc["store"]), str(doc["registry"]), tasks, rollout,
                   dict(doc.get("gate") or {}), source)

    def promoted_into(self) -> list["ReleaseManifest"]:
        """The manifests beside this one that take their versions from it (``promoted_from`` this environment)."""
        found = []
        for path in sorted(self.path.parent.glob("*.yaml")):
            if path != self.path and (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get(
                    "promoted_from") == self.environment:
                found.append(ReleaseManifest.load(path))
        return found

    def with_task(self, task: str, release: TaskRelease) -> str:
        """The manifest's text with ``task`` set to ``release``. Everything above ``tasks:`` (comments, store,
        rollout, gate) is kept as written, so a pull request's diff shows only what serves."""
        text = self.path.read_text(encoding="utf-8")
        tasks = dict((yaml.safe_load(text) or {}).get("tasks") or {})
        tasks[task] = {key: value for key, value in asdict(release).items()
                       if value is not None and not (key == "mode" and value == "champion_only")
                       and not (key == "canary_percent" and value == 0)}
        head, found, _ = text.partition("\ntasks:")
        if not found:
            raise ManifestError(f"{self.path}: `tasks:` must be the last top-level key, to be rewritten in place")
        return head + "\n" + yaml.safe_dump({"tasks": tasks}, sort_keys=False, default_flow_style=False)


def step_of(step: str, path: Path | str = "rollout") -> tuple[str, int]:
    """("shadow", 0) | ("canary", N) | ("champion", 0) from a rollout entry such as "canary:10"."""
    name, _, percent = step.partition(":")
    whole = percent.isascii() and percent.isdigit()  # "²" is a digit to isdigit, and no int
    if name not in ROLLOUT_STEPS or (name == "canary") != bool(percent) or (percent and not whole):
        raise ManifestError(f"{path}: rollout step {step!r} must be shadow, canary:N or champion")
    if name == "canary" and not 0 < int(percent) < 100:
        raise ManifestError(f"{path}: a canary takes between 1 and 99 percent, not {percent}")
    return name, int(percent or 0)


def first_step(manifest: ReleaseManifest, task: str, challenger: str) -> TaskRelease:
    """Where a challenger that passed the gate enters, by the manifest's rollout policy."""
    return entering(manifest.rollout, manifest.tasks.get(task), challenger)


def entering(rollout: tuple[str, ...], current: TaskRelease | None, version: str) -> TaskRelease:
    """The line ``version`` enters with, from ``current``: the rollout's first step (a task's first version
    serves alone, as champion)."""
    if current is None:
        return TaskRelease(version)
    name, percent = step_of(rollout[0])
    if name == "champion":
        return TaskRelease(version, threshold=current.threshold)
    return replace(current, challenger=version, mode=name, canary_percent=percent)


def next_step(manifest: ReleaseManifest, task: str) -> TaskRelease:
    """The task's challenger one step further along the rollout policy (the last step makes it champion)."""
    current = manifest.tasks.get(task)
    if current is None or current.challenger is None:
        raise ManifestError(f"{manifest.path}: task {task!r} serves no challenger to move along the rollout")
    steps = [step_of(step, manifest.path) for step in manifest.rollout]
    here = (current.mode, current.canary_percent)
    index = steps.index(here) + 1 if here in steps else 0
    return _at_step(manifest, current, index)


def describe(release: TaskRelease | None) -> str:
    """One line: champion, challenger and how it is served, threshold."""
    if release is None:
        return "nothing"
    text = f"champion {release.champion}"
    if release.challenger:
        text += f", {release.mode} challenger {release.challenger}"
        text += f" at {release.canary_percent}%" if release.mode == "canary" else ""
    return text + (f", threshold {release.threshold}" if release.threshold is not None else "")


def _at_step(manifest: ReleaseManifest, release: TaskRelease, index: int) -> TaskRelease:
    name, percent = step_of(manifest.rollout[index], manifest.path)
    if name == "champion":
        return TaskRelease(release.challenger, threshold=release.threshold)
    return replace(release, mode=name, canary_percent=percent)


def manifest_path(environment: str) -> Path:
    """``<env>.yaml`` in the manifests' folder (``ManifestSettings.deploy_dir``: the checkout's deploy/)."""
    if not environment.replace("-", "").isalnum():
        raise ManifestError(f"environment names are letters, digits and '-', not {environment!r}")
    return ManifestSettings.from_env().deploy_dir / f"{environment}.yaml"


def git_commit_of(path: Path) -> str:
    """The commit that holds the manifest as it is on disk; raises when it has uncommitted changes, since
    an environment serves only what a reviewed commit says."""
    folder = Path(path).resolve().parent

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=True).stdout.strip()

    try:
        if git("status", "--porcelain", "--", str(Path(path).resolve())):
            raise ManifestError(f"{path} has uncommitted changes: a manifest reaches an environment through a "
                                f"reviewed commit (a pull request), so commit it first")
        return git("rev-parse", "HEAD")
    except (OSError, subprocess.CalledProcessError):
        raise ManifestError(f"{path} is not in a git checkout: its commit cannot be recorded") from None


def _check_task(path: Path, name: str, release: TaskRelease) -> None:
    def fail(why: str) -> ManifestError:
        return ManifestError(f"{path}: task {name!r}: {why}")

    if release.mode not in STRATEGY_MODES:
        raise fail(f"mode must be one of {STRATEGY_MODES}, not {release.mode!r}")
    if (release.mode == "champion_only") != (release.challenger is None):
        raise fail("a challenger is served only in canary or shadow mode, and those need one")
    if release.mode == "canary" and not 0 < release.canary_percent < 100:
        raise fail("a canary takes between 1 and 99 percent of complaints")
    if release.mode != "canary" and release.canary_percent:
        raise fail("canary_percent applies to canary mode only")
    if release.threshold is not None and not 0.0 <= release.threshold <= 1.0:
        raise fail("a threshold lies between 0 and 1")
