"""Stage the model versions an environment's release manifest names into the serving image.

``stage`` copies each task's champion, and its challenger where the manifest serves one in canary or shadow
mode, out of the manifest's registry into ``functions/build/models`` (a local registry, so every version's
content hash is checked again when the Lambda loads it) and writes ``models.json`` naming them; the
Dockerfile copies the folder to /opt/models. The image, the Terraform tags (``model_versions``) and the
store (``complaints --env ENV release apply``) are all read from the same manifest, so they agree by
construction. ``serving`` lists the environments whose manifest serves a model: only those have an image to
build, so deploy.yml plans and applies only those (prod serves nothing until its first release).

    python -m model.serving_image stage --env ENV [--out functions/build/models]
    python -m model.serving_image serving ENV [ENV...]      # ["dev"]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from model.manifest import ReleaseManifest, manifest_path
from complaints.registry import ModelRegistry, RegistryError, open_registry
from complaints.registry.local import LocalRegistry

MANIFEST = "models.json"
DEFAULT_OUT = Path("functions/build/models")  # the Dockerfile copies it to /opt/models


def stage(manifest: ReleaseManifest, registry: ModelRegistry, out: Path) -> dict[str, str]:
    """Copy every version the manifest serves into ``out``; returns (and writes to models.json, Terraform's
    ``model_versions``) "<task>" -> champion and "<task>:challenger" -> challenger, where there is one."""
    if not manifest.tasks:
        raise RegistryError(f"{manifest.path} releases no model yet: there is nothing to stage (its first release, "
                            f"make bootstrap, fills it; until then the workflows leave it out: make serving-environments)")
    staged = LocalRegistry(out)
    pinned: dict[str, str] = {}
    for task, release in manifest.tasks.items():
        for key, version in ((task, release.champion), (f"{task}:challenger", release.challenger)):
            if version is None:
                continue
            copied = staged.register(task, registry.fetch(task, version))
            if copied != version:
                raise RegistryError(f"{task}@{version} staged as {copied}: its content changed")
            pinned[key] = version
    (Path(out) / MANIFEST).write_text(json.dumps(pinned, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return pinned


def serving(environments: list[str]) -> list[str]:
    """Those of ``environments`` whose manifest serves a model, in the order given. A manifest that serves nothing
    (``tasks: {}``, before the environment's first release) has no image to stage, so it is neither planned nor
    applied; a missing or invalid manifest raises, since it could otherwise skip an environment silently."""
    return [environment for environment in environments if ReleaseManifest.load(manifest_path(environment)).tasks]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.serving_image", description=__doc__.split("\n\n")[0])
    actions = parser.add_subparsers(dest="action", required=True)
    staging = actions.add_parser("stage", help="copy the versions ENV's manifest serves into the image's model folder")
    staging.add_argument("--env", required=True, help="the environment whose manifest (deploy/ENV.yaml) to stage")
    staging.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the image's model folder (default %(default)s)")
    listing = actions.add_parser("serving", help="print, as a JSON list, the ENVs whose manifest serves a model")
    listing.add_argument("environments", nargs="+", metavar="ENV", help="the environments to look at (deploy/ENV.yaml)")
    args = parser.parse_args(argv)
    if args.action == "serving":
        print(json.dumps(serving(args.environments), separators=(",", ":")))
        return 0
    manifest = ReleaseManifest.load(manifest_path(args.env))
    print(json.dumps(stage(manifest, open_registry(manifest.registry_url), args.out), sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
