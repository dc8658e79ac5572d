"""The registry interface: immutable model versions named by the content hash of their artifacts.

A registry holds versions and nothing else: what serves an environment lives in its store (embedded) or its release
manifest (deployed), so no environment can move another's serving state through a registry they share.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from pathlib import Path

MODEL_CARD = "README.md"  # Hugging Face model card; describes the version, is not part of its identity
VERSION_CHARS = 16  # a version is this many hex digits of its content hash


class RegistryError(RuntimeError):
    """A version is missing, or its stored artifacts no longer match its hash. The message names the task and
    version, never where the registry keeps them: it reaches allocations, the audit chain and the ops API."""


def content_version(artifact_dir: Path) -> str:
    """Hash every artifact file (path and bytes), the model card excepted: same weights, same version."""
    digest = hashlib.sha256()
    for file in sorted(p for p in Path(artifact_dir).rglob("*") if p.is_file() and p.name != MODEL_CARD):
        digest.update(file.relative_to(artifact_dir).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()[:VERSION_CHARS]


class ModelRegistry(ABC):
    @abstractmethod
    def register(self, task: str, artifact_dir: Path) -> str:
        """Store the artifacts as an immutable version of ``task``; returns the version (idempotent)."""

    @abstractmethod
    def fetch(self, task: str, version: str) -> Path:
        """A local directory holding exactly the artifacts of that version."""

    @abstractmethod
    def versions(self, task: str) -> list[str]: ...
