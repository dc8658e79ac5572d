"""One artefact through the environments: an environment whose manifest says ``promoted_from: dev`` serves only
versions that a release of dev served, so that what reaches prod is exactly what ran in dev first.

Such an environment trains nothing of its own: ``complaints --env prod promote`` (model/retrain.py) proposes dev's
current champions, gated there against what prod serves; the gate of its pull request and ``release apply`` both
refuse a line naming a version that no release record of dev names (``unpromoted``). Dev's release records are
written by dev's own ``release apply``, after its apply and smoke test, so a version gets there only by serving.
"""

from __future__ import annotations

from complaints.config import Settings
from complaints.deployment import Deployment
from model.gate import Change
from model.manifest import ReleaseManifest, manifest_path

RELEASES_READ = 1000  # release records of the source read back: some years of weekly releases


class PromotionError(ValueError):
    """The source environment cannot supply a promotion (it has released nothing yet): refused, nothing written."""


def source_of(manifest: ReleaseManifest) -> Deployment:
    """The deployment ``manifest`` is promoted from: its store, where its release records are."""
    source = ReleaseManifest.load(manifest_path(manifest.promoted_from))
    return Deployment.at(source.store_url, source.registry_url, Settings.from_env())


def served_in(source: Deployment, environment: str) -> dict[str, set[str]]:
    """Per task, every version a release of ``environment`` served: a champion, or a challenger that decided
    complaints (a canary); a shadow challenger's answers were never acted on, so it never served."""
    served: dict[str, set[str]] = {}
    for record in source.store.list_releases(environment, limit=RELEASES_READ):
        for task, line in record.tasks.items():
            versions = served.setdefault(task, set())
            versions.add(line["champion"])
            if line.get("mode") == "canary" and line.get("challenger"):
                versions.add(line["challenger"])
    return served


def unpromoted(manifest: ReleaseManifest, changes: list[Change]) -> dict[str, str]:
    """Per task, why a change brings in a version its source environment never served ({} when every version
    is one, or the environment trains its own). Versions the line served before are not asked again."""
    if manifest.promoted_from is None or not changes:
        return {}
    served = served_in(source_of(manifest), manifest.promoted_from)
    refused = {}
    for change in changes:
        before = {change.before.champion, change.before.challenger} if change.before else set()
        new = {change.after.champion, change.after.challenger} - before - {None, change.previous_champion}
        missing = sorted(new - served.get(change.task, set()))
        if missing:
            refused[change.task] = (f"{', '.join(missing)} never served in {manifest.promoted_from} (no release record "
                                    f"of {manifest.promoted_from} names it): {manifest.environment} serves only versions "
                                    f"promoted from there (`make promote ENV={manifest.environment}`)")
    return refused
