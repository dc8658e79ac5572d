import pytest

from complaints.registry import RegistryError, open_registry
from complaints.registry.base import MODEL_CARD, content_version


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
    with pytest.raises(RegistryError, match="no longer matches"):
        registry.fetch("team", version)
    with pytest.raises(RegistryError, match="not in the registry"):
        registry.fetch("team", "0000000000000000")


def test_aliases_point_at_registered_versions_only(tmp_path):
    registry = open_registry(f"file://{tmp_path / 'registry'}")
    version = registry.register("team", artifacts(tmp_path / "a"))
    assert registry.get_alias("team", "champion") is None
    registry.set_alias("team", "champion", version)
    assert registry.get_alias("team", "champion") == version
    with pytest.raises(RegistryError, match="not in the registry"):
        registry.set_alias("team", "challenger", "0000000000000000")
    with pytest.raises(ValueError, match="alias must be one of"):
        registry.set_alias("team", "latest", version)
    registry.set_alias("team", "champion", None)
    assert registry.get_alias("team", "champion") is None
    assert registry.versions("team") == [version]  # the aliases file is not a version
