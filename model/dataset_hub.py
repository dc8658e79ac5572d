"""The training dataset on the Hugging Face Hub: ``hf://NAMESPACE/NAME``, a dataset repo holding an export as it was
saved (model/dataset.py), one commit per version tagged with its content hash, as the registry tags a model version.
Training reads a version back by its tag (``hf://NAMESPACE/NAME@REVISION``): the commit the tag names, by its sha,
then the content hashed again, so a moved tag or an altered file is refused.

Analysts' corrections, and the bank's complaints they corrected, are internal: the repo is private unless a push
asks for a public one, and a push that would put either in a public repo is refused before anything is written.
"""

from __future__ import annotations

import re
from pathlib import Path

from datasets import load_from_disk
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

from complaints.config import HubSettings
from complaints.registry.base import VERSION_CHARS
from model.dataset import content_hash, internal_rows, version

URL = re.compile(r"hf://(?P<repo>[\w.-]+/[\w.-]+)(?:@(?P<revision>[\w.-]+))?")
HUB_FILES = [".gitattributes"]  # the Hub's own file of every repo: not the dataset's
_VERSION = re.compile(rf"[0-9a-f]{{{VERSION_CHARS}}}")
_COMMIT = re.compile(r"[0-9a-f]{40}")


class DatasetRefused(ValueError):
    """Nothing was pushed or read: the message says why."""


def parse(url: str) -> tuple[str, str | None]:
    """``hf://NAMESPACE/NAME[@REVISION]`` as (repo id, revision)."""
    match = URL.fullmatch(url)
    if match is None:
        raise DatasetRefused(f"{url!r} is not a dataset on the Hub: expected hf://NAMESPACE/NAME[@REVISION]")
    return match["repo"], match["revision"]


def push(folder: Path, url: str, public: bool = False) -> str:
    """Push the export in ``folder`` to the dataset repo of ``url`` (created private unless ``public``) as a commit
    tagged with its version; returns ``hf://NAMESPACE/NAME@VERSION``. The same content pushed again uploads nothing."""
    repo_id, revision = parse(url)
    if revision:
        raise DatasetRefused(f"{url}: a push makes its own revision (its content hash); name the repo alone")
    dataset = load_from_disk(str(folder))
    internal = internal_rows(dataset)
    if public and internal:
        raise DatasetRefused(f"refused to push {folder} to a public dataset: {internal:,} of its rows hold analysts' "
                             f"corrections or the bank's own complaints, which are internal; push it without --public "
                             f"(a private repo)")
    tag = version(content_hash(dataset))
    api = _api()
    api.create_repo(repo_id, repo_type="dataset", private=not public, exist_ok=True)
    if api.repo_info(repo_id, repo_type="dataset").private == public:
        raise DatasetRefused(f"refused: hf://{repo_id} is {'private' if public else 'public'} and this push is "
                             f"{'public' if public else 'private'}; nothing was pushed")
    refs = api.list_repo_refs(repo_id, repo_type="dataset")
    if any(ref.name == tag for ref in refs.tags):
        return f"hf://{repo_id}@{tag}"  # same content, same version
    head = {branch.name: branch.target_commit for branch in refs.branches}["main"]
    files = {path.relative_to(folder).as_posix(): path for path in sorted(Path(folder).rglob("*")) if path.is_file()}
    stale = [path for path in api.list_repo_files(repo_id, repo_type="dataset", revision=head)
             if path not in files and path not in HUB_FILES]  # a version is its files alone
    commit = api.create_commit(
        repo_id, [CommitOperationDelete(path_in_repo=path) for path in stale]
        + [CommitOperationAdd(path_in_repo=path, path_or_fileobj=file) for path, file in files.items()],
        repo_type="dataset", commit_message=f"Training data {tag}", parent_commit=head)
    api.create_tag(repo_id, tag=tag, revision=commit.oid, repo_type="dataset", exist_ok=True)  # tags never move
    return f"hf://{repo_id}@{tag}"


def fetch(url: str, cache_dir: str | Path | None = None) -> tuple[Path, dict[str, str]]:
    """The local folder of ``hf://NAMESPACE/NAME@REVISION`` (a tag, a branch or a commit) and what the model card
    names: the repo, the revision, its commit and the content hash. A version tag whose content no longer matches
    it is refused."""
    repo_id, revision = parse(url)
    if not revision:
        raise DatasetRefused(f"{url}: name the revision to train on, hf://NAMESPACE/NAME@REVISION (the version a push "
                             f"printed): a branch moves, a model card must name what it learnt from")
    api = _api()
    commit = _commit(api, repo_id, revision)
    path = Path(api.snapshot_download(repo_id, repo_type="dataset", revision=commit, cache_dir=cache_dir,
                                      ignore_patterns=HUB_FILES))
    digest = content_hash(load_from_disk(str(path)))
    if _VERSION.fullmatch(revision) and version(digest) != revision:
        raise DatasetRefused(f"hf://{repo_id}@{revision} was modified: its content hash is now {version(digest)}")
    return path, {"repo": f"hf://{repo_id}", "revision": revision, "commit": commit, "content_sha256": digest}


def _commit(api: HfApi, repo_id: str, revision: str) -> str:
    if _COMMIT.fullmatch(revision):
        return revision
    refs = api.list_repo_refs(repo_id, repo_type="dataset")
    named = {ref.name: ref.target_commit for ref in [*refs.branches, *refs.tags]}
    if revision not in named:
        raise DatasetRefused(f"hf://{repo_id} has no revision {revision!r} at {api.endpoint}")
    return named[revision]


def _api() -> HfApi:
    """The Hub of HF_ENDPOINT (a test's local one) or huggingface.co; the token is HF_TOKEN."""
    return HfApi(endpoint=HubSettings.from_env().endpoint)
