"""The production registry: one private Hugging Face Hub model repo per task, ``<namespace>/complaints-triage-<task>``.

A version is one commit on ``main`` holding exactly its artifacts (the model card is the repo's README.md, so the Hub
renders it), tagged with its content hash. Version tags never move, and a fetch downloads the commit a tag names, by
its sha, then hashes what arrived: a moved tag or an altered file is refused, as in the embedded registry.

The version tags are the only refs this registry writes, and only on register: no tag says what serves (dev and prod
share the namespace; each environment's release manifest says what it serves), so applying a release needs read
access alone.
"""

from __future__ import annotations

import re
from pathlib import Path

from huggingface_hub import CommitOperationAdd, CommitOperationDelete, GitRefs, HfApi
from huggingface_hub.utils import RepositoryNotFoundError

from complaints.registry.base import VERSION_CHARS, ModelRegistry, RegistryError, content_version

# The Hub creates it with every repo and reads it to route large files to LFS: it belongs to the repo, not a version.
HUB_FILES = [".gitattributes"]
# A version tag is a content hash (base.content_version); another tag on a repo (the champion and challenger tags this
# registry once moved, left on older repos) names no version.
VERSION_TAG = re.compile(rf"[0-9a-f]{{{VERSION_CHARS}}}")


class HubRegistry(ModelRegistry):
    def __init__(self, namespace: str, *, endpoint: str | None = None, token: str | None = None,
                 cache_dir: str | Path | None = None):
        """``endpoint``, ``token`` and ``cache_dir`` default to huggingface_hub's (HF_ENDPOINT, HF_TOKEN, HF_HOME)."""
        self.namespace = namespace
        self.api = HfApi(endpoint=endpoint, token=token)
        self.cache_dir = cache_dir

    def repo_id(self, task: str) -> str:
        return f"{self.namespace}/complaints-triage-{task}"

    def _refs(self, task: str) -> GitRefs | None:
        """The branches and tags of the task's repo; None before the task's first register."""
        try:
            return self.api.list_repo_refs(self.repo_id(task))
        except RepositoryNotFoundError:
            return None

    def _versions(self, task: str) -> dict[str, str]:
        """Every version tag and the commit it names."""
        refs = self._refs(task)
        return {tag.name: tag.target_commit for tag in refs.tags if VERSION_TAG.fullmatch(tag.name)} if refs else {}

    def register(self, task: str, artifact_dir: Path) -> str:
        version, repo_id = content_version(artifact_dir), self.repo_id(task)
        refs = self._refs(task)
        if refs is None:
            self.api.create_repo(repo_id, private=True, exist_ok=True)
            refs = self.api.list_repo_refs(repo_id)
        if any(tag.name == version for tag in refs.tags):
            return version  # same content, same version: registering twice uploads nothing
        head = {branch.name: branch.target_commit for branch in refs.branches}["main"]  # the Hub starts every repo
        files = {p.relative_to(artifact_dir).as_posix(): p for p in sorted(Path(artifact_dir).rglob("*"))
                 if p.is_file()}
        remote = self.api.list_repo_files(repo_id, revision=head)
        stale = [path for path in remote if path not in files and path not in HUB_FILES]  # a commit is a whole tree
        commit = self.api.create_commit(
            repo_id,
            [CommitOperationDelete(path_in_repo=path) for path in stale]
            + [CommitOperationAdd(path_in_repo=path, path_or_fileobj=file) for path, file in files.items()],
            commit_message=f"Register {task} model {version}",
            parent_commit=head,  # a concurrent register makes the Hub refuse this commit rather than mix two versions
        )
        # exist_ok: a concurrent register of the same content won; its tag stays where it is (tags never move)
        self.api.create_tag(repo_id, tag=version, revision=commit.oid, exist_ok=True)
        return version

    def fetch(self, task: str, version: str) -> Path:
        commit = self._versions(task).get(version)
        if commit is None:
            raise RegistryError(f"model {task}@{version} is not in the registry")
        path = Path(self.api.snapshot_download(self.repo_id(task), revision=commit, cache_dir=self.cache_dir,
                                               ignore_patterns=HUB_FILES))
        if content_version(path) != version:
            raise RegistryError(f"model {task}@{version} was modified: its content no longer matches")
        return path

    def versions(self, task: str) -> list[str]:
        return sorted(self._versions(task))
