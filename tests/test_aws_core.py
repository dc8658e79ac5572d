"""The core pieces the AWS deployment adds: a batch's chunks, the AWS deployment, the release of models."""

import json
from datetime import date

import pytest

from complaints.deployment import Deployment
from complaints.intake import IntakeBatch, read_batch
from model.manifest import ReleaseManifest
from complaints.registry import RegistryError
from complaints.registry.local import LocalRegistry
from complaints.schema import Rejection
from complaints.config import Settings
from complaints.intake.chunks import dumps, loads, split
from complaints.store.dynamodb import DynamoDBStore
from conftest import sample, write_csv, write_manifest
from model import serving_image as release
from functions.manual_triage import reason


@pytest.fixture
def batch(cfpb_rows, tmp_path, deployment) -> IntakeBatch:
    rows = sample(cfpb_rows, 23, salt="chunks")
    rows.append(dict(rows[0], **{"Complaint ID": "no-text", "Consumer complaint narrative": ""}))
    return read_batch(write_csv(tmp_path / "batch.csv", rows), deployment.taxonomy)


def test_chunks_hold_every_complaint_once_and_the_rejections_in_the_first(batch):
    chunks = split(batch, 10)
    assert [len(c.complaints) for c in chunks] == [10, 10, 3]
    assert [c.complaint_id for chunk in chunks for c in chunk.complaints] == [c.complaint_id for c in batch.complaints]
    assert [len(c.rejections) for c in chunks] == [1, 0, 0] and chunks[0].rows == 11
    assert {(c.source, c.source_sha256) for c in chunks} == {(batch.source, batch.source_sha256)}  # one batch


def test_a_chunk_reads_back_as_the_same_batch(batch):
    chunk = split(batch, 50)[0]
    again = loads(dumps(chunk))
    assert again == chunk
    assert [c.content_hash for c in again.complaints] == [c.content_hash for c in chunk.complaints]
    assert isinstance(again.complaints[0].date_received, date)


def test_a_batch_of_rejections_only_is_one_chunk_and_sizes_must_be_positive():
    rejected = IntakeBatch("f.csv", "sha", [], [Rejection(1, "empty_narrative", "empty", "7", "{}", 2)])
    [chunk] = split(rejected, 100)
    assert chunk.rejections == rejected.rejections and chunk.complaints == []
    with pytest.raises(ValueError, match="at least one"):
        split(rejected, 0)


def test_the_aws_deployment_comes_from_its_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("COMPLAINTS_STORE_URL", raising=False)
    monkeypatch.delenv("COMPLAINTS_REGISTRY_URL", raising=False)
    with pytest.raises(ValueError, match="COMPLAINTS_STORE_URL and COMPLAINTS_REGISTRY_URL"):
        Deployment.aws()
    monkeypatch.setenv("COMPLAINTS_STORE_URL", "dynamodb://complaints-prod?region=us-east-1")
    monkeypatch.setenv("COMPLAINTS_REGISTRY_URL", f"file://{tmp_path}")
    deployment = Deployment.aws()
    assert isinstance(deployment.store, DynamoDBStore) and deployment.store.table_prefix == "complaints-prod"
    assert isinstance(deployment.registry, LocalRegistry) and deployment.registry.root == tmp_path
    assert {t.name for t in deployment.tasks} >= {"team", "issue", "vulnerable"}


def test_the_image_stages_what_the_manifest_serves_pinned_by_hash(home, tmp_path):
    source = Deployment.embedded(Settings.from_env(home=home))
    champions = {t.name: source.store.get_strategy(t.name).champion for t in source.tasks}
    tasks = {task: {"champion": version} for task, version in champions.items()}
    tasks["issue"] = {"champion": champions["issue"], "challenger": champions["issue"], "mode": "shadow"}
    manifest = ReleaseManifest.load(write_manifest(tmp_path / "deploy", "dev", "sqlite:///unused",
                                                   f"file://{home / 'registry'}", tasks))
    pinned = release.stage(manifest, source.registry, tmp_path / "models")
    assert pinned == {**champions, "issue:challenger": champions["issue"]}
    assert json.loads((tmp_path / "models" / release.MANIFEST).read_text()) == pinned
    staged = LocalRegistry(tmp_path / "models")
    assert all(staged.fetch(task, version) for task, version in champions.items())  # content matches its hash

    artifact = source.registry.fetch("team", champions["team"]) / "model.json"
    artifact.write_text(artifact.read_text().replace("{", '{"tampered": true, ', 1))
    with pytest.raises(RegistryError, match="modified"):
        release.stage(manifest, source.registry, tmp_path / "other")
    empty = ReleaseManifest.load(write_manifest(tmp_path / "empty", "dev", "sqlite:///x", "file:///y", {}))
    with pytest.raises(RegistryError, match="releases no model yet"):
        release.stage(empty, source.registry, tmp_path / "none")


def test_the_manual_triage_reason_names_the_error_briefly():
    cause = json.dumps({"errorMessage": "x" * 1000, "errorType": "MemoryError"})
    assert reason({"Error": "MemoryError", "Cause": cause}) == f"triage task failed after its retries: MemoryError: {'x' * 300}"
    assert reason({"Error": "States.Timeout", "Cause": ""}) == "triage task failed after its retries: States.Timeout"
