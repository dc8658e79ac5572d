"""The embedded default registry: a directory tree ``<root>/<task>/<version>/`` under COMPLAINTS_HOME."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from complaints.registry.base import ModelRegistry, RegistryError, content_version


class LocalRegistry(ModelRegistry):
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def register(self, task: str, artifact_dir: Path) -> str:
        version = content_version(artifact_dir)
        target = self.root / task / version
        if target.exists():
            return version  # same content, same version: registering twice is a no-op
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=target.parent))
        shutil.copytree(artifact_dir, staging, dirs_exist_ok=True)
        staging.rename(target)  # atomic: a version directory is either complete or absent
        return version

    def fetch(self, task: str, version: str) -> Path:
        path = self.root / task / version
        if not path.is_dir():
            raise RegistryError(f"model {task}@{version} is not in the registry")
        if content_version(path) != version:
            raise RegistryError(f"model {task}@{version} was modified: its content no longer matches")
        return path

    def versions(self, task: str) -> list[str]:
        folder = self.root / task
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")) if folder.exists() else []
