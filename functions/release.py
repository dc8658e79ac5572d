"""Release the models the serving image carries: stage them for the image, then publish them to AWS.

``stage`` copies each task's champion out of a registry into ``functions/build/models`` (a local registry,
so the content hash of every version is checked again when the Lambda loads it) and writes ``models.json``
naming the pinned versions; the Dockerfile copies the folder to /opt/models. ``publish``, run after
``terraform apply``, registers those versions in the AWS store and makes them champion there (an audit
event each), so the tables and the image agree on what serves.

    python -m functions.release stage --home PATH [--registry hf://NAMESPACE] [--out functions/build/models]
    python -m functions.release publish --home PATH --store dynamodb://PREFIX?region=R [--out ...] [--actor NAME]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from complaints.deployment import Deployment
from complaints.registration import register_model
from complaints.registry import RegistryError, open_registry
from complaints.registry.local import LocalRegistry
from complaints.settings import Settings
from complaints.store import TriageStore, open_store
from complaints.strategy import champions

MANIFEST = "models.json"
DEFAULT_OUT = Path(__file__).resolve().parent / "build" / "models"


def stage(source: Deployment, out: Path) -> dict[str, str]:
    """Copy every task's champion into ``out``; returns (and writes to models.json) task -> version."""
    staged = LocalRegistry(out)
    pinned = {}
    for task, champion in champions(source).items():
        version = staged.register(task, source.registry.fetch(task, champion))
        if version != champion:
            raise RegistryError(f"{task}@{champion} staged as {version}: its content changed")
        pinned[task] = version
    (Path(out) / MANIFEST).write_text(json.dumps(pinned, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return pinned


def publish(source: Deployment, out: Path, store: TriageStore, actor: str) -> dict[str, str]:
    """Register the staged versions in ``store`` and make them champion; returns task -> version."""
    pinned: dict[str, str] = json.loads((Path(out) / MANIFEST).read_text(encoding="utf-8"))
    target = Deployment(store=store, registry=LocalRegistry(out), tasks=source.tasks, taxonomy=source.taxonomy)
    for task, version in pinned.items():
        info = source.store.get_model_info(task, version)
        if info is None:
            raise RegistryError(f"{task}@{version} has no model_info record in the source store")
        register_model(target, task, target.registry.fetch(task, version), info.kind, info.metrics,
                       info.training_data_sha256, actor, make_champion=True)
    return pinned


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m functions.release", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["stage", "publish"])
    parser.add_argument("--home", help="COMPLAINTS_HOME whose store names the champions (and holds their records)")
    parser.add_argument("--registry", help="stage: fetch the versions from this registry URL (default: the home's; "
                                           "hf://NAMESPACE for the Hub)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the image's model folder (default %(default)s)")
    parser.add_argument("--store", help="publish: the AWS store URL, dynamodb://PREFIX?region=REGION")
    parser.add_argument("--actor", default="release", help="publish: who releases (audit log)")
    args = parser.parse_args(argv)
    source = Deployment.embedded(Settings.from_env(home=args.home))
    if args.registry:
        source = replace(source, registry=open_registry(args.registry))
    if args.action == "stage":
        pinned = stage(source, args.out)
    else:
        if not args.store:
            parser.error("publish needs --store dynamodb://PREFIX?region=REGION")
        pinned = publish(source, args.out, open_store(args.store), args.actor)
    print(json.dumps(pinned, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
