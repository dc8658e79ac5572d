"""The models' health through the ops API, on real triaged complaints: only triage leads and auditors read it, its
body is the core's model health of the same store, its window is bounded; and each correction of a model's answer
made through the API is counted as a CloudWatch metric (embedded metric format on stdout), which the model health
counts too."""

import json
import shutil
from datetime import datetime

import pytest
import yaml
from fastapi.testclient import TestClient

from complaints.drift import REFERENCE, reference_of
from complaints.metrics import EmbeddedMetrics
from complaints.monitoring import model_health
from complaints.registry.base import MODEL_CARD
from complaints.records import ALLOCATED, MANUAL_TRIAGE
from ops_api.app import create_app
from ops_fixtures import ROLES, as_role, deployment, ops_home, ops_store  # noqa: F401 (fixtures)


@pytest.fixture
def client(deployment):
    """The app as the ops API's Lambda builds it: corrections counted as CloudWatch metrics."""
    return TestClient(create_app(deployment, metrics=EmbeddedMetrics("test")))


def metric_documents(stdout: str) -> list[dict]:
    """The embedded metric format documents among the lines written to stdout (what CloudWatch Logs reads)."""
    return [doc for line in stdout.splitlines() if line.startswith("{") for doc in [json.loads(line)] if "_aws" in doc]


@pytest.mark.parametrize("role", ROLES)
def test_only_triage_leads_and_auditors_read_the_models_health(ops_store, client, role):
    response = client.get("/monitoring", headers=as_role(ops_store, role))
    if role in ("triage_lead", "auditor"):
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 403 and response.json()["error"]["code"] == "access_denied"
    refused = client.get("/monitoring", headers={"Authorization": "Bearer nobody.secret"})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "not_authenticated"


def test_the_body_is_the_model_health_of_the_same_store(ops_store, client, deployment):
    body = client.get("/monitoring?since_days=14", headers=as_role(ops_store, "auditor")).json()
    expected = model_health(deployment, 14)  # a moment later, on the store nothing wrote to since
    answered = datetime.fromisoformat(body.pop("generated_at"))
    assert 0 <= (datetime.fromisoformat(expected.pop("generated_at")) - answered).total_seconds() < 60
    assert body == expected
    assert body["since_days"] == 14 and body["verdict"] in ("healthy", "watch", "retrain") and body["reasons"]
    assert sum(week["complaints"] for week in body["weeks"]) == 60  # the fixture's batch, all in the window
    assert set(body["weeks"][-1]["tasks"]) == {"team", "issue", "vulnerable"}
    assert body["versions"] == {task: s.champion for task in body["versions"]
                                for s in [deployment.store.get_strategy(task)]}


def test_a_champion_gone_from_the_registry_leaves_its_task_unmeasured_and_the_others_report(ops_store, client,
                                                                                          deployment, ops_home):
    healthy = client.get("/monitoring", headers=as_role(ops_store, "auditor")).json()
    version = deployment.store.get_strategy("team").champion
    shutil.rmtree(ops_home / "registry" / "team" / version)
    response = client.get("/monitoring", headers=as_role(ops_store, "auditor"))
    assert response.status_code == 200, response.text
    body = response.json()
    team = body["drift"]["team"]
    assert (team["status"], team["score_psi"], team["distributions"]) == ("unavailable", None, None)
    assert f"team@{version} is not in the registry" in team["reference"] and str(ops_home) not in response.text
    assert team["complaints"] == healthy["drift"]["team"]["complaints"]  # its answers are still counted
    assert {task: body["drift"][task] for task in ("issue", "vulnerable")} == {
        task: healthy["drift"][task] for task in ("issue", "vulnerable")}
    assert body["weeks"] == healthy["weeks"] and body["verdict"] in ("watch", "retrain")
    assert any(reason.startswith("team: drift not measured") for reason in body["reasons"])


def test_a_drift_reference_is_read_only_from_what_the_versions_hash_covers(ops_store, client, deployment, ops_home):
    healthy = client.get("/monitoring", headers=as_role(ops_store, "auditor")).json()
    version = deployment.store.get_strategy("team").champion
    folder = ops_home / "registry" / "team" / version
    # the model card is no part of the hash: a reference forged in it changes no figure
    _, metadata, body = (folder / MODEL_CARD).read_text(encoding="utf-8").split("---\n", 2)
    card = yaml.safe_load(metadata)
    card["complaints_triage"]["reference"] = reference_of(["forged"] * 1000, [0.05] * 1000, {})
    (folder / MODEL_CARD).write_text(f"---\n{yaml.safe_dump(card)}---\n{body}", encoding="utf-8")
    forged = client.get("/monitoring", headers=as_role(ops_store, "auditor")).json()
    assert forged["drift"] == healthy["drift"] and forged["verdict"] == healthy["verdict"]
    # the reference drift reads is one of the version's hashed files: altered, the version is refused
    reference = json.loads((folder / REFERENCE).read_text(encoding="utf-8"))
    (folder / REFERENCE).write_text(json.dumps({**reference, "complaints": reference["complaints"] + 1}),
                                    encoding="utf-8")
    response = client.get("/monitoring", headers=as_role(ops_store, "auditor"))
    assert response.status_code == 200, response.text
    team = response.json()["drift"]["team"]
    assert (team["status"], team["score_psi"], team["distributions"]) == ("unavailable", None, None)
    assert f"team@{version} was modified" in team["reference"] and str(ops_home) not in response.text
    assert {task: response.json()["drift"][task] for task in ("issue", "vulnerable")} == {
        task: healthy["drift"][task] for task in ("issue", "vulnerable")}


@pytest.mark.parametrize("query,status", [("", 200), ("?since_days=1", 200), ("?since_days=90", 200),
                                          ("?since_days=0", 422), ("?since_days=91", 422), ("?since_days=a", 422),
                                          ("?since=7", 422)])
def test_the_window_is_one_to_ninety_days(ops_store, client, query, status):
    response = client.get(f"/monitoring{query}", headers=as_role(ops_store, "triage_lead"))
    assert response.status_code == status, response.text
    if status == 200:
        assert response.json()["since_days"] == int(query.rpartition("=")[2] or 28)
    else:
        assert response.json()["error"]["code"] == "invalid_request"


def test_a_correction_of_a_models_answer_is_one_cloudwatch_metric_and_counts_in_the_health(ops_store, client,
                                                                                           deployment, capsys):
    allocated = next(p.allocation for team in deployment.taxonomy.teams for p in deployment.store.list_queue(team, None)
                     if p.allocation.status == ALLOCATED and not p.corrected)
    other = next(team for team in deployment.taxonomy.teams if team != allocated.predictions["team"].label)
    lead = as_role(ops_store, "triage_lead")
    before = client.get("/monitoring", headers=lead).json()["weeks"][-1]["tasks"]["team"]
    capsys.readouterr()

    body = {"task": "team", "label": other, "expected_revision": 0}
    made = client.post(f"/complaints/{allocated.complaint_id}/reassignments", json=body,
                       headers={**lead, "Idempotency-Key": "metric-1"})
    assert made.status_code == 201, made.text
    resent = client.post(f"/complaints/{allocated.complaint_id}/reassignments", json=body,
                         headers={**lead, "Idempotency-Key": "metric-1"})
    assert resent.status_code == 200  # nothing stored again: nothing counted again
    manual = deployment.store.list_queue(MANUAL_TRIAGE, None)[0]  # people's triage, not a model's error
    people = client.post(f"/complaints/{manual.allocation.complaint_id}/reassignments",
                         json={"task": "team", "label": other, "expected_revision": manual.revision}, headers=lead)
    assert people.status_code == 201, people.text
    written = capsys.readouterr().out

    [doc] = metric_documents(written)
    [directive] = doc["_aws"]["CloudWatchMetrics"]
    assert directive == {"Namespace": "Complaints/test", "Dimensions": [["Environment", "Task"]],
                         "Metrics": [{"Name": "Corrections", "Unit": "Count"}]}
    assert (doc["Environment"], doc["Task"], doc["Corrections"]) == ("test", "team", 1)
    assert set(doc) == {"_aws", "Environment", "Task", "Corrections"}  # no complaint, user or label
    assert allocated.complaint_id not in written and other not in written and "triage-lead" not in written
    after = client.get("/monitoring", headers=lead).json()["weeks"][-1]["tasks"]["team"]
    assert (after["allocated"], after["corrections"]) == (before["allocated"], before["corrections"] + 1)


def test_the_api_counts_no_metric_where_nothing_collects_them(ops_store, deployment, capsys):
    """``complaints serve`` writes no metric lines: only the Lambda hands the app its metrics."""
    allocated = next(p.allocation for team in deployment.taxonomy.teams for p in deployment.store.list_queue(team, None)
                     if p.allocation.status == ALLOCATED and not p.corrected)
    other = next(team for team in deployment.taxonomy.teams if team != allocated.predictions["team"].label)
    response = TestClient(create_app(deployment)).post(
        f"/complaints/{allocated.complaint_id}/reassignments", json={"task": "team", "label": other,
                                                                     "expected_revision": 0},
        headers=as_role(ops_store, "triage_lead"))
    assert response.status_code == 201 and metric_documents(capsys.readouterr().out) == []
