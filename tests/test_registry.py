import pytest

from complaints.config import Settings
from complaints.deployment import Deployment
from complaints.registry import RegistryError, open_registry
from complaints.registry.base import MODEL_CARD, content_version
from conftest import write_manifest
from model.manifest import ReleaseManifest
from model.release import apply
from testing.decisions import seal_first_release


def artifacts(folder, weights=b"weights"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.json").write_text('{"kind": "tfidf-linear"}')
    (folder / "weights.npz").write_bytes(weights)
    (folder / MODEL_CARD).write_text("---\nlibrary_name: x\n---\n")
    return folder


def test_versions_are_content_hashes_and_registering_twice_is_a_no_op(tmp_path):
    registry = open_registry(f"file://{tmp_path / 'registry'}")
    version = registry.register("team", artifacts(tmp_path / "a"))
    assert version == content_version(tmp_path / "a") and len(version) == 16
    assert registry.register("team", artifacts(tmp_path / "b")) == version
    assert registry.versions("team") == [version]
    other = registry.register("team", artifacts(tmp_path / "c", weights=b"other weights"))
    assert other != version and sorted(registry.versions("team")) == sorted([version, other])


def test_the_model_card_is_not_part_of_the_identity(tmp_path):
    folder = artifacts(tmp_path / "a")
    before = content_version(folder)
    (folder / MODEL_CARD).write_text("an edited card")
    assert content_version(folder) == before


def test_a_tampered_version_is_refused_on_fetch(tmp_path):
    registry = open_registry(f"file://{tmp_path / 'registry'}")
    version = registry.register("team", artifacts(tmp_path / "a"))
    (registry.fetch("team", version) / "weights.npz").write_bytes(b"swapped")
    with pytest.raises(RegistryError, match="no longer matches") as modified:
        registry.fetch("team", version)
    with pytest.raises(RegistryError, match="not in the registry") as missing:
        registry.fetch("team", "0000000000000000")
    # the messages reach allocations and the ops API: the version, never the server's path
    assert str(tmp_path) not in str(modified.value) + str(missing.value)


def release(environment, registry, tasks, tmp_path):
    """``environment``'s manifest, naming the shared ``registry``, applied to that environment's own store."""
    store = f"sqlite:///{tmp_path / environment}.db"
    manifest = ReleaseManifest.load(write_manifest(tmp_path / "deploy", environment, store, registry, tasks))
    deployment = Deployment.at(store, registry, Settings.from_env())
    seal_first_release(deployment, manifest)  # these artifacts are no model the gate could score
    apply(deployment, manifest, "0" * 40, "test")
    return deployment


def test_applying_a_release_in_one_environment_changes_nothing_in_the_registry(tmp_path):
    """The registry holds versions only; what serves is each environment's store (from its manifest), so dev's apply
    cannot move prod's serving state through the registry they share."""
    url = f"file://{tmp_path / 'registry'}"
    registry = open_registry(url)
    first = registry.register("team", artifacts(tmp_path / "a"))
    second = registry.register("team", artifacts(tmp_path / "b", weights=b"better weights"))
    prod = release("prod", url, {"team": {"champion": first}}, tmp_path)
    stored = {p: p.read_bytes() for p in (tmp_path / "registry").rglob("*") if p.is_file()}

    dev = release("dev", url, {"team": {"champion": second}}, tmp_path)
    assert dev.store.get_strategy("team").champion == second and prod.store.get_strategy("team").champion == first
    assert {p: p.read_bytes() for p in (tmp_path / "registry").rglob("*") if p.is_file()} == stored
