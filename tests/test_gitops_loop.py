"""The GitOps loop from an empty AWS account (moto) and an empty model registry (the local Hub stand-in), step by
step as the workflows run it, with the repository's own manifests: `make bootstrap ENV=dev` (a first release: the
environment's tables do not exist yet and nothing reads them), its pull request's gate under the base branch's
rules, the merge, dev's first apply (the tables Terraform makes, then `release apply`), prod's first release
promoted from what dev serves, its gate and apply, triage in prod, the audit of an allocation back to the release
and the decisions behind it, and an analyst's correction in prod that dev's next retrain learns from.

Each way around "prod serves only what dev served" is refused: a prod line naming a version dev never served (by
the gate and by `release apply`, even with a sealed decision), a retrain of prod, a second bootstrap."""

import csv
import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from unittest import mock

import boto3
import pytest
import yaml
from moto import mock_aws

from complaints.config import Settings
from complaints.deployment import Deployment
from complaints.registry import open_registry
from complaints.store.dynamodb import DynamoDBStore
from conftest import PROVENANCE, git_commit_all, last_json, write_csv
from model import decision
from model.baseline import BaselineConfig
from model.gate import policy_of, rules_of
from model.manifest import ReleaseManifest, TaskRelease
from model.retrain import export_corrections
from model.train import TrainingArguments, train
from testing import CHECKOUT
from testing.moto_stack import create_store_tables

REGION = "us-east-1"


@pytest.fixture
def account(tmp_path, monkeypatch, local_hub):
    """An empty AWS account on moto and an empty Hub, and the repository's deploy/ manifests in a git checkout."""
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    for name in ("dev.yaml", "prod.yaml"):
        shutil.copy(CHECKOUT / "deploy" / name, deploy / name)
    git_commit_all(deploy, "main before any release")
    monkeypatch.setenv("COMPLAINTS_DEPLOY_DIR", str(deploy))
    monkeypatch.setenv("COMPLAINTS_MANIFEST_REGISTRY_URL", "hf://megabank")
    credentials = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}
    with mock.patch.dict(os.environ, credentials), mock_aws():
        yield {"deploy": deploy, "hub": local_hub, "dynamodb": boto3.client("dynamodb", region_name=REGION)}


def first_apply(environment: str) -> DynamoDBStore:
    """What the first `terraform apply` of an environment makes that the loop reads: its tables."""
    store = DynamoDBStore(f"complaints-{environment}", region_name=REGION)
    create_store_tables(store)
    return store


def lines(deploy, environment: str) -> dict:
    return yaml.safe_load((deploy / f"{environment}.yaml").read_text())["tasks"]


def test_from_an_empty_account_to_prod_through_pull_requests(cli, account, sample_csv, tiny_model_minimums, tmp_path,
                                                               monkeypatch):
    deploy, hub, dynamodb = account["deploy"], account["hub"], account["dynamodb"]
    assert dynamodb.list_tables()["TableNames"] == [] and hub.repos == {}
    data = str(sample_csv)

    # 1. make bootstrap ENV=dev: a first retrain on the base data; the account has no tables and none is read
    base = tmp_path / "base"
    shutil.copytree(deploy, base, ignore=shutil.ignore_patterns(".git"))  # main, as the gate will check it out
    code, out, err = cli("--env", "dev", "bootstrap", "--data", data, "--out", str(tmp_path / "dev-pr"))
    assert code == 0, out[-3000:] + err[-3000:]
    dev = lines(deploy, "dev")
    assert set(dev) == {"team", "issue", "vulnerable"} and all(set(line) == {"champion"} for line in dev.values())
    body = (tmp_path / "dev-pr" / "report.md").read_text()
    assert body.startswith("# Retrain dev: team promote, issue promote, vulnerable promote")
    assert "**Decision: promote team, issue, vulnerable.**" in body
    assert {f"megabank/complaints-triage-{task}" for task in dev} == set(hub.repos)
    assert dynamodb.list_tables()["TableNames"] == []
    code, _, err = cli("--env", "dev", "bootstrap", "--data", data)
    assert code == 2 and "already serves" in err

    # 2. its pull request's gate: the base branch's rules decide the proposed folder, still without a table
    monkeypatch.setenv("COMPLAINTS_DEPLOY_DIR", str(base))
    code, out, err = cli("--env", "dev", "gate", "--proposed", str(deploy), "--data", data, "--json")
    assert code == 0, out[-3000:] + err[-3000:]
    assert set(last_json(out)["decisions"]) == set(dev) and last_json(out)["refused"] == {}
    monkeypatch.setenv("COMPLAINTS_DEPLOY_DIR", str(deploy))

    # 3. merged, then deploy.yml's dev job: terraform apply makes the tables, make release writes the store
    merged = git_commit_all(deploy, "Retrain dev (#1)")
    dev_store = first_apply("dev")
    code, _, err = cli("--env", "prod", "bootstrap", "--data", data)  # before dev's release: nothing to promote
    assert code == 2 and "dev has released nothing yet" in err and lines(deploy, "prod") == {}
    code, out, err = cli("--env", "dev", "release", "apply", "--actor", "github:merger", "--json")
    assert code == 0, err
    assert last_json(out)["release"]["git_commit"] == merged
    assert {task: dev_store.get_strategy(task).champion for task in dev} == {t: line["champion"] for t, line in dev.items()}

    # 4. make bootstrap ENV=prod: prod's first release is dev's current release, promoted; prod's tables are not read
    base_prod = tmp_path / "base-prod"
    shutil.copytree(deploy, base_prod, ignore=shutil.ignore_patterns(".git"))
    code, out, err = cli("--env", "prod", "bootstrap", "--data", data, "--out", str(tmp_path / "prod-pr"))
    assert code == 0, out[-3000:] + err[-3000:]
    prod = lines(deploy, "prod")
    assert prod == dev  # the same artefacts; a first version serves alone, as champion
    assert (tmp_path / "prod-pr" / "report.md").read_text().startswith("# Promote from dev (release ")
    assert not any(name.startswith("complaints-prod-") for name in dynamodb.list_tables()["TableNames"])
    monkeypatch.setenv("COMPLAINTS_DEPLOY_DIR", str(base_prod))
    code, out, err = cli("--env", "prod", "gate", "--proposed", str(deploy), "--data", data, "--json")
    assert code == 0 and last_json(out)["refused"] == {}, out[-3000:] + err[-3000:]
    monkeypatch.setenv("COMPLAINTS_DEPLOY_DIR", str(deploy))
    code, _, err = cli("--env", "prod", "retrain", "--data", data)
    assert code == 2 and "make promote ENV=prod" in err

    # 5. merged; prod's apply; prod triages, and an analyst corrects an allocation there
    git_commit_all(deploy, "Promote prod from dev (#2)")
    prod_store = first_apply("prod")
    code, _, err = cli("--env", "prod", "release", "apply", "--actor", "github:approver")
    assert code == 0, err
    with open(sample_csv, newline="", encoding="utf-8") as handle:
        batch = write_csv(tmp_path / "batch.csv", [row for _, row in zip(range(20), csv.DictReader(handle))])
    code, out, err = cli("--env", "prod", "triage", "--data", str(batch), "--json")
    assert code == 0, err
    triaged = last_json(out)
    assert triaged["allocated"] + triaged["manual_triage"] + triaged["rejected"] == triaged["rows"] == 20
    assert {task: served["champion"] for task, served in triaged["model_versions"].items()} == {
        task: line["champion"] for task, line in prod.items()}
    placement = next(p for queue in triaged["by_queue"] for p in prod_store.list_queue(queue, limit=1))
    code, _, err = cli("--env", "prod", "reallocate", placement.allocation.complaint_id, "--task", "issue", "--label",
                       "Managing an account", "--analyst", "ana", "--expected-revision", str(placement.revision))
    assert code == 0, err

    # 6. its audit chain: the versions, the release record of prod's merge, the decisions that admitted them
    code, out, err = cli("--env", "prod", "audit", placement.allocation.complaint_id, "--json")
    assert code == 0, err
    chain = last_json(out)
    assert chain["complete"] and [c["analyst"] for c in chain["corrections"]] == ["ana"]
    for task, line in prod.items():
        assert line["champion"] in json.dumps(chain["tasks"][task])
        assert decision.read(decision.decision_path(deploy, "prod", task))["sha256"] in json.dumps(chain["tasks"][task])

    # 7. dev's next retrain learns from prod's analysts: their corrections are exported with dev's own
    dev_env = Deployment.at("dynamodb://complaints-dev?region=us-east-1", "hf://megabank", Settings.from_env())
    with tempfile.TemporaryDirectory() as scratch:
        exported = export_corrections(dev_env, ReleaseManifest.load(deploy / "dev.yaml"), Path(scratch))
        assert [(f.complaint_id, f.analyst) for f in exported.store.list_feedback()] == [(placement.allocation.complaint_id, "ana")]
        exported.store.close()

    # 8. a prod line naming a version dev never served: refused by the gate and by release apply, decision or not
    other = _a_version_dev_never_served(tmp_path, sample_csv)
    before = ReleaseManifest.load(deploy / "prod.yaml").tasks["team"]
    after = TaskRelease(before.champion, challenger=other, mode="shadow")
    _seal(deploy, "prod", "team", before, after)
    (deploy / "prod.yaml").write_text(ReleaseManifest.load(deploy / "prod.yaml").with_task("team", after))
    git_commit_all(deploy, "a challenger straight into prod")
    code, out, err = cli("--env", "prod", "gate", "--data", data, "--json")
    assert code == 1 and "never served in dev" in last_json(out)["refused"]["team"][-1]
    writes = len(prod_store.list_audit())
    code, _, err = cli("--env", "prod", "release", "apply")
    assert code == 2 and f"{other} never served in dev" in err
    assert len(prod_store.list_audit()) == writes and prod_store.get_strategy("team").challenger is None


def _a_version_dev_never_served(tmp_path, sample_csv) -> str:
    """A team version trained and registered on the Hub by hand, as a person could, never released to dev."""
    home = tmp_path / "by-hand"
    trained = Deployment.embedded(Settings.from_env(home=home))
    [result] = train(trained, TrainingArguments(data=sample_csv, tasks=["team"], max_rows=500, provenance=PROVENANCE,
                                                baseline=BaselineConfig(max_iter=100)))
    hub = open_registry("hf://megabank")
    return hub.register("team", trained.registry.fetch("team", result.version))


def _seal(deploy, environment: str, task: str, before: TaskRelease, after: TaskRelease) -> None:
    """A promote decision for exactly this change, sealed as the gate seals one: the digest is no signature, so
    the refusal must come from the rule itself."""
    manifest = ReleaseManifest.load(deploy / f"{environment}.yaml")
    deployment = Deployment.at(manifest.store_url, manifest.registry_url, Settings.from_env())
    decision.write(decision.decision_path(deploy, environment, task), {
        "environment": environment, "task": task, "decision": decision.PROMOTE, "from": asdict(before),
        "to": asdict(after), "champion": before.champion, "challenger": after.challenger,
        "reasons": ["sealed by hand"], "metrics": {}, "report_sha256": "0" * 64,
        "decided_at": "2026-01-01T00:00:00+00:00", "actor": "someone",
        "rules": rules_of(deployment, deployment.task(task), policy_of(manifest.gate), manifest.rollout)})
