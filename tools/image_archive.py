"""The serving image as one artefact from plan to apply: `apply.yml`'s plan job builds it as an OCI archive and
plans against its digest; the apply job, once approved, pushes those very bytes and applies that plan.

    python -m tools.image_archive digest ARCHIVE              # the digest the plan names (make image-digest)
    python -m tools.image_archive push ARCHIVE REPOSITORY:TAG # skopeo copy, then the registry's digest checked

``push`` copies with ``skopeo`` (on GitHub's Ubuntu images) without converting anything, then reads the manifest
back from the registry and fails unless its sha256 is the archive's: an image other than the one planned is never
applied. Registry credentials are Docker's (``amazon-ecr-login``). Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
from pathlib import Path

DOCKER_AUTH = Path.home() / ".docker" / "config.json"


def digest(archive: Path) -> str:
    """The digest of the archive's one image manifest (Lambda takes a single manifest, not an index)."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("index.json")
        if member is None:
            raise ValueError(f"{archive}: no index.json: not an OCI image archive")
        manifests = json.load(member).get("manifests", [])
    if len(manifests) != 1 or not str(manifests[0].get("digest", "")).startswith("sha256:"):
        raise ValueError(f"{archive}: {len(manifests)} manifests in its index; the serving image has exactly one")
    return manifests[0]["digest"]


def push(archive: Path, reference: str, run=subprocess.run) -> str:
    """Copy the archive to ``reference`` as it is and return the digest the registry holds, which must be the
    archive's; raises otherwise."""
    planned = digest(archive)
    auth = ["--authfile", str(DOCKER_AUTH)] if DOCKER_AUTH.is_file() else []
    run(["skopeo", "copy", "--preserve-digests", *auth, f"oci-archive:{archive}", f"docker://{reference}"],
        check=True)
    manifest = run(["skopeo", "inspect", "--raw", *auth, f"docker://{reference}"], check=True,
                   capture_output=True).stdout
    pushed = "sha256:" + hashlib.sha256(manifest).hexdigest()
    if pushed != planned:
        raise RuntimeError(f"{reference} holds {pushed}, but the plan names {planned}: nothing is applied")
    return pushed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.image_archive", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("digest", help="print the archive's image digest").add_argument("archive", type=Path)
    pushing = commands.add_parser("push", help="push the archive as it is; fail unless the registry holds its digest")
    pushing.add_argument("archive", type=Path)
    pushing.add_argument("reference", help="REGISTRY/REPOSITORY:TAG")
    args = parser.parse_args(argv)
    try:
        print(digest(args.archive) if args.command == "digest" else push(args.archive, args.reference))
    except (OSError, ValueError, KeyError, RuntimeError, tarfile.TarError, subprocess.CalledProcessError) as error:
        print(f"image_archive: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
