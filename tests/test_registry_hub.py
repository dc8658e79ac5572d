"""The Hub registry against a fake Hub on 127.0.0.1: real huggingface_hub, real HTTP, no network beyond the host."""

import os
import re
import subprocess
import sys

import huggingface_hub.constants
import pytest

from complaints.registry import RegistryError, open_registry
from complaints.registry.base import MODEL_CARD, content_version
from test_registry import artifacts, release

TOKEN = "hf_fake_token"
REPO = "megabank/complaints-triage-team"
SHA = re.compile(r"[0-9a-f]{40}")


@pytest.fixture
def hub(local_hub):
    return local_hub


@pytest.fixture
def registry(hub, tmp_path):
    registry = open_registry("hf://megabank")
    registry.cache_dir = tmp_path / "hf-cache"
    return registry


def test_register_commits_the_artifacts_once_and_tags_the_version(hub, registry, tmp_path):
    version = registry.register("team", artifacts(tmp_path / "a"))
    repo = hub.repos[REPO]
    assert version == content_version(tmp_path / "a") and repo.private
    assert [r for r in hub.requests if "/commit/" in r[1]] == [("POST", f"/api/models/{REPO}/commit/main")]
    assert set(repo.commits[repo.tags[version]]) == {".gitattributes", "model.json", "weights.npz", MODEL_CARD}
    assert repo.commits[repo.tags[version]][MODEL_CARD].startswith(b"---\nlibrary_name")  # the card at the root

    before = len(hub.requests)
    assert registry.register("team", artifacts(tmp_path / "b")) == version
    assert [method for method, _ in hub.requests[before:]] == ["GET"]  # the refs, and nothing uploaded

    other_dir = artifacts(tmp_path / "c", weights=b"other weights")
    (other_dir / "model.json").unlink()
    other = registry.register("team", other_dir)
    assert set(repo.commits[repo.tags[other]]) == {".gitattributes", "weights.npz", MODEL_CARD}  # no stale file
    assert registry.versions("team") == sorted([version, other])
    assert repo.tags[version] != repo.tags[other] and len(repo.commits) == 3  # the Hub's first commit, then one each


def test_fetch_downloads_the_tagged_commit_by_its_sha(hub, registry, tmp_path):
    version = registry.register("team", artifacts(tmp_path / "a"))
    before = len(hub.requests)
    path = registry.fetch("team", version)
    assert content_version(path) == version and (path / "weights.npz").read_bytes() == b"weights"
    assert not (path / ".gitattributes").exists()
    commit = hub.repos[REPO].tags[version]
    reads = [p for _, p in hub.requests[before:] if "/tree/" in p or "/resolve/" in p]
    assert SHA.fullmatch(commit) and len(reads) == 7  # the tree, then HEAD and GET of each of the 3 files
    assert all(commit in p and f"/{version}/" not in p for p in reads)  # pinned by the commit, never by the tag


def test_a_tampered_file_on_the_hub_is_refused(hub, registry, tmp_path):
    version = registry.register("team", artifacts(tmp_path / "a"))
    hub.tamper(REPO, "weights.npz", b"swapped")
    with pytest.raises(RegistryError, match="no longer matches") as modified:
        registry.fetch("team", version)
    with pytest.raises(RegistryError, match="not in the registry") as missing:
        registry.fetch("team", "0000000000000000")
    assert "/" not in str(modified.value) + str(missing.value)  # no cache path, no Hub address
    with pytest.raises(RegistryError, match="not in the registry"):
        registry.fetch("issue", version)  # a task with no repo yet


def test_applying_a_release_in_one_environment_changes_nothing_on_the_hub(hub, registry, tmp_path, monkeypatch):
    """dev and prod name the same namespace: an apply reads versions from it (a read-only token is enough) and writes
    only its own environment's store, so no environment moves another's serving state."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))  # the applies' cache
    first = registry.register("team", artifacts(tmp_path / "a"))
    second = registry.register("team", artifacts(tmp_path / "b", weights=b"better weights"))
    refs = {repo_id: (dict(repo.branches), dict(repo.tags)) for repo_id, repo in hub.repos.items()}
    before = len(hub.requests)

    prod = release("prod", "hf://megabank", {"team": {"champion": first}}, tmp_path)
    dev = release("dev", "hf://megabank", {"team": {"champion": first, "challenger": second, "mode": "canary",
                                                    "canary_percent": 10}}, tmp_path)
    assert {method for method, _ in hub.requests[before:]} <= {"GET", "HEAD"}
    assert {repo_id: (repo.branches, repo.tags) for repo_id, repo in hub.repos.items()} == refs
    assert (dev.store.get_strategy("team").challenger, prod.store.get_strategy("team").challenger) == (second, None)


def test_opening_the_hub_registry_makes_no_request():
    code = (
        "import socket\n"
        "def refuse(*args): raise AssertionError('network access at import or open')\n"
        "socket.socket.connect = socket.create_connection = refuse\n"
        "from complaints.registry import open_registry\n"
        "registry = open_registry('hf://megabank')\n"
        "print(registry.repo_id('team'), registry.api.endpoint)\n"
    )
    env = {**os.environ, "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_OFFLINE": "0"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["megabank/complaints-triage-team", "http://127.0.0.1:9"]
