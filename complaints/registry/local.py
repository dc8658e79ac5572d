"""The embedded default registry: a directory tree ``<root>/<task>/<version>/`` under COMPLAINTS_HOME."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from complaints.registry.base import ALIASES, ModelRegistry, RegistryError, content_version


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
            raise RegistryError(f"model {task}@{version} is not in the registry at {self.root}")
        if content_version(path) != version:
            raise RegistryError(f"model {task}@{version} at {path} was modified: its content no longer matches")
        return path

    def versions(self, task: str) -> list[str]:
        folder = self.root / task
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")) if folder.exists() else []

    def _aliases_file(self, task: str) -> Path:
        return self.root / task / "aliases.json"

    def set_alias(self, task: str, alias: str, version: str | None) -> None:
        if alias not in ALIASES:
            raise ValueError(f"alias must be one of {ALIASES}, not {alias!r}")
        if version is not None and not (self.root / task / version).is_dir():
            raise RegistryError(f"cannot point {alias} at {task}@{version}: not in the registry")
        aliases = json.loads(self._aliases_file(task).read_text()) if self._aliases_file(task).exists() else {}
        if version is None:
            aliases.pop(alias, None)
        else:
            aliases[alias] = version
        self._aliases_file(task).parent.mkdir(parents=True, exist_ok=True)
        staging = self._aliases_file(task).with_suffix(".tmp")
        staging.write_text(json.dumps(aliases, indent=2, sort_keys=True))
        staging.replace(self._aliases_file(task))

    def get_alias(self, task: str, alias: str) -> str | None:
        file = self._aliases_file(task)
        return json.loads(file.read_text()).get(alias) if file.exists() else None
