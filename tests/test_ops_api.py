"""The ops API on real triaged complaints: every role against every endpoint (allowed and refused), corrections
attributed to the authenticated user, explanations from the version that decided, and the committed OpenAPI 3.0
document that the code must still produce."""

import asyncio
import json
import shutil

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from complaints import access, strategy
from complaints.deployment import Deployment
from complaints.feedback import reallocate, stored_key
from complaints.intake import read_batch
from complaints.pipeline import TriagePipeline
from complaints.queues import slug
from complaints.routing import SMOKE_TEST, SMOKE_TEST_INBOX, SMOKE_TEST_QUEUE
from complaints.config import Settings
from conftest import PROVENANCE, sample, write_csv
from ops_api.app import create_app
from ops_api.openapi import COMMITTED, produced, rendered
from ops_fixtures import ROLES, STAND_IN, VULNERABLE, as_role, deployment, ops_home, ops_store  # noqa: F401 (fixtures)


@pytest.fixture
def client(deployment):
    return TestClient(create_app(deployment, explainer=STAND_IN))


def endpoints(ops_store) -> dict[str, tuple[str, str, dict | None, set[str]]]:
    """name -> (method, path, body, the roles allowed). Analyst A works team A and manual triage, analyst B team B
    and manual triage; the specialist the vulnerable queue; the lead every queue; the auditor reads everything."""
    c, a, b = ops_store.complaint, slug(ops_store.team_a), slug(ops_store.team_b)
    lead, readers_a = {"triage_lead", "auditor"}, {"analyst_a", "triage_lead", "auditor"}
    manual_readers = {"analyst_a", "analyst_b", "triage_lead", "auditor"}
    return {
        "me": ("GET", "/me", None, set(ROLES)),
        "queues": ("GET", "/queues", None, set(ROLES)),
        "team A's queue": ("GET", f"/queues/{a}/complaints", None, readers_a),
        "team B's queue": ("GET", f"/queues/{b}/complaints", None, {"analyst_b", "triage_lead", "auditor"}),
        "manual triage queue": ("GET", "/queues/manual-triage/complaints", None, manual_readers),
        "vulnerable queue": ("GET", f"/queues/{slug(VULNERABLE)}/complaints", None, {"specialist"} | lead),
        "team A's complaint": ("GET", f"/complaints/{c['a']}", None, readers_a),
        "team B's complaint": ("GET", f"/complaints/{c['b']}", None, {"analyst_b"} | lead),
        "manual triage complaint": ("GET", f"/complaints/{c['manual']}", None, manual_readers),
        "vulnerable complaint": ("GET", f"/complaints/{c['vulnerable']}", None, {"specialist"} | lead),
        "reassign team A's complaint": ("POST", f"/complaints/{c['a']}/reassignments",
                                        {"task": "team", "label": ops_store.team_b,
                                         "expected_revision": ops_store.revision["a"]}, {"analyst_a", "triage_lead"}),
        "reassign a vulnerable complaint": ("POST", f"/complaints/{c['vulnerable']}/reassignments",
                                            {"task": "vulnerable", "label": "no",
                                             "expected_revision": ops_store.revision["vulnerable"]},
                                            {"specialist", "triage_lead"}),
        "request an explanation": ("POST", f"/complaints/{c['b']}/explanations/team", None, {"analyst_b"} | lead),
        "read an explanation": ("GET", f"/complaints/{c['a']}/explanations/team", None, readers_a),
        "audit chain": ("GET", f"/complaints/{c['a']}/audit", None, lead),
        "summary": ("GET", "/summary?hours=168", None, lead),
    }


def _cases():
    return [(name, role) for name in ENDPOINT_NAMES for role in ROLES]


ENDPOINT_NAMES = ("me", "queues", "team A's queue", "team B's queue", "manual triage queue", "vulnerable queue",
                  "team A's complaint", "team B's complaint", "manual triage complaint", "vulnerable complaint",
                  "reassign team A's complaint", "reassign a vulnerable complaint", "request an explanation",
                  "read an explanation", "audit chain", "summary")


UNKNOWN_ID = "9999999999"


@pytest.mark.parametrize("name,role", _cases())
def test_each_role_may_call_exactly_the_endpoints_its_work_needs(ops_store, client, name, role):
    """A complaint the role may not read answers exactly as one that does not exist: 404, the same body (a 403
    would tell, id by id, where the vulnerable customers' complaints are). A role refused a kind of call (an
    auditor's reassignment, an analyst's summary) gets 403."""
    method, path, body, allowed = endpoints(ops_store)[name]
    response = client.request(method, path, json=body, headers=as_role(ops_store, role))
    if role in allowed:
        assert response.status_code in (200, 201), response.text
        return
    complaint_id = next((c for c in ops_store.complaint.values() if f"/complaints/{c}" in path), None)
    hidden = complaint_id is not None and name != "audit chain" and not (role == "auditor" and method == "POST"
                                                                        and path.endswith("/reassignments"))
    if hidden:
        unknown = client.request(method, path.replace(complaint_id, UNKNOWN_ID), json=body,
                                 headers=as_role(ops_store, role))
        assert (response.status_code, response.json()) == (404, unknown.json()), response.text
        assert complaint_id not in response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "access_denied"


@pytest.mark.parametrize("name", ENDPOINT_NAMES)
def test_every_endpoint_refuses_a_missing_or_false_token(ops_store, client, name):
    method, path, body, _ = endpoints(ops_store)[name]
    forged = ops_store.tokens["triage_lead"][:-2] + "xx"
    for headers in ({}, {"Authorization": "Bearer nobody.secret"}, {"Authorization": f"Bearer {forged}"}):
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_each_role_sees_the_queues_it_works_with_real_counts(ops_store, client):
    counts = {q["name"]: q["count"] for q in client.get("/queues", headers=as_role(ops_store, "triage_lead")).json()}
    assert sum(counts.values()) == 60 and counts[VULNERABLE] >= 1
    mine = client.get("/queues", headers=as_role(ops_store, "analyst_a")).json()
    assert [q["name"] for q in mine] == [ops_store.team_a, "Manual triage"]
    assert [q["name"] for q in client.get("/queues", headers=as_role(ops_store, "specialist")).json()] == [VULNERABLE]
    page = client.get(f"/queues/{slug(ops_store.team_a)}/complaints?limit=2&sort=oldest",
                      headers=as_role(ops_store, "analyst_a")).json()
    assert page["queue"]["count"] == counts[ops_store.team_a] and len(page["items"]) == 2
    assert page["items"][0]["allocated_at"] <= page["items"][1]["allocated_at"]
    assert all(item["queue"] == ops_store.team_a for item in page["items"])


def test_a_reassignment_is_the_users_correction_moves_the_complaint_and_a_resend_stores_nothing(ops_store, client,
                                                                                                deployment):
    complaint = ops_store.complaint["a"]
    headers = {**as_role(ops_store, "analyst_a"), "Idempotency-Key": "req-42"}
    body = {"task": "team", "label": ops_store.team_b, "expected_revision": ops_store.revision["a"]}
    first = client.post(f"/complaints/{complaint}/reassignments", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["correction"]["analyst"] == "analyst-a" and first.json()["queue"]["name"] == ops_store.team_b
    again = client.post(f"/complaints/{complaint}/reassignments", json=body, headers=headers)
    assert again.status_code == 200 and again.json()["already_stored"] is True
    [stored] = [c for c in deployment.store.list_feedback(complaint)
                if c.idempotency_key == stored_key("analyst-a", "req-42") == first.json()["correction"]["idempotency_key"]]
    assert (stored.analyst, stored.label, stored.revision) == ("analyst-a", ops_store.team_b, ops_store.revision["a"] + 1)
    # it left team A: analyst A no longer reads it, analyst B now does
    assert client.get(f"/complaints/{complaint}", headers=as_role(ops_store, "analyst_a")).status_code == 404
    moved = client.get(f"/complaints/{complaint}", headers=as_role(ops_store, "analyst_b")).json()
    assert moved["queue"] == ops_store.team_b  # the allocation stays as the models made it
    assert moved["allocation"]["queue"] == deployment.store.get_allocation(complaint).queue != ops_store.team_b
    other = client.post(f"/complaints/{complaint}/reassignments",
                        json={**body, "label": ops_store.team_a, "expected_revision": stored.revision},
                        headers={**as_role(ops_store, "analyst_b"), "Idempotency-Key": "req-42"})
    assert other.status_code == 201  # another user's key of the same text is theirs: no one can take a key first
    conflict = client.post(f"/complaints/{complaint}/reassignments", json={**body, "label": ops_store.team_a},
                           headers=headers)
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "conflict"
    manual = ops_store.complaint["manual"]  # a key is scoped to its complaint: a resend names the same one
    elsewhere = client.post(f"/complaints/{manual}/reassignments", headers=headers,
                            json={**body, "expected_revision": ops_store.revision["manual"]})
    assert elsewhere.status_code == 201 and elsewhere.json()["correction"]["idempotency_key"] == stored.idempotency_key


@pytest.mark.parametrize("body,status,why", [
    ({"task": "team", "label": "Not a team", "expected_revision": 0}, 422, "not a valid team label"),
    ({"task": "weather", "label": "sunny", "expected_revision": 0}, 404, "no such task"),
    ({"task": "team", "expected_revision": 0}, 422, "body.label: Field required"),
    ({"task": "team", "label": "Mortgage"}, 422, "body.expected_revision: Field required"),
])
def test_bad_requests_get_a_4xx_with_a_reason_and_never_echo_the_value(ops_store, client, body, status, why):
    response = client.post(f"/complaints/{ops_store.complaint['a']}/reassignments", json=body,
                           headers=as_role(ops_store, "triage_lead"))
    assert response.status_code == status and why in response.json()["error"]["message"]
    unreadable = client.post(f"/complaints/{ops_store.complaint['a']}/reassignments", content=b"\xff\xfe{",
                             headers={**as_role(ops_store, "triage_lead"), "Content-Type": "application/json"})
    assert unreadable.status_code == 422 and unreadable.json()["error"]["code"] == "invalid_request"
    secret = client.get("/queues/manual-triage/complaints?sort=123-45-6789", headers=as_role(ops_store, "auditor"))
    assert secret.status_code == 422 and "123-45-6789" not in secret.text


def test_a_reassignment_that_sets_what_the_server_decides_is_refused_not_silently_half_taken(ops_store, client,
                                                                                             deployment):
    """Who corrected, when, the revision and the key are the server's: a body naming any of them, or any field
    the operation does not take, is refused whole (a client must not believe it set them), and the field is
    named by where it was, never by the name sent."""
    lead, complaint_id = as_role(ops_store, "triage_lead"), ops_store.complaint["a"]
    sound = {"task": "team", "label": ops_store.team_b, "expected_revision": ops_store.revision["a"]}
    for extra in ({"analyst": "someone-else"}, {"at": "2000-01-01T00:00:00+00:00"}, {"revision": 7},
                  {"idempotency_key": "k"}, {"previous_label": "Mortgage"}, {"Maria Garcia 51238472": 1}):
        refused = client.post(f"/complaints/{complaint_id}/reassignments", json={**sound, **extra}, headers=lead)
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_request", refused.text
        assert "body: Extra inputs are not permitted" in refused.text and "Garcia" not in refused.text
    assert deployment.store.get_placement(complaint_id).revision == ops_store.revision["a"]  # nothing stored


def test_a_complaint_shows_its_redacted_narrative_versions_scores_and_corrections(ops_store, client, deployment):
    complaint = ops_store.complaint["vulnerable"]
    detail = client.get(f"/complaints/{complaint}", headers=as_role(ops_store, "specialist")).json()
    stored, allocation = deployment.store.get_complaint(complaint), deployment.store.get_allocation(complaint)
    assert detail["narrative"] == stored.narrative and detail["queue"] == VULNERABLE
    assert {t: p["version"] for t, p in detail["allocation"]["predictions"].items()} == allocation.model_versions
    assert {t: p["score"] for t, p in detail["allocation"]["predictions"].items()} == {
        t: p.score for t, p in allocation.predictions.items()}
    assert [c["analyst"] for c in detail["corrections"]] == [f.analyst for f in deployment.store.list_feedback(complaint)]


def test_an_old_allocation_is_explained_by_the_version_that_made_it_not_todays_champion(ops_store, client, deployment,
                                                                                        sample_csv):
    from model.baseline import BaselineConfig
    from model.train import TrainingArguments, train

    complaint = ops_store.complaint["b"]
    decided = deployment.store.get_allocation(complaint).predictions["team"]
    [newer] = train(deployment, TrainingArguments(data=sample_csv, tasks=["team"], champion="never", max_rows=300,
                                                  provenance=PROVENANCE, baseline=BaselineConfig(max_iter=50)))
    assert newer.version != decided.model_version
    strategy.promote(deployment, "team", newer.version, "test")
    assert strategy.champions(deployment)["team"] == newer.version
    response = client.post(f"/complaints/{complaint}/explanations/team", headers=as_role(ops_store, "triage_lead"))
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["version"] == decided.model_version and made["requested_by"] == "triage-lead"
    assert (made["payload"]["label"], made["payload"]["score"]) == (decided.label, pytest.approx(decided.score))
    kept = client.post(f"/complaints/{complaint}/explanations/team", headers=as_role(ops_store, "auditor"))
    assert kept.status_code == 200 and kept.json() == made  # asked again: the kept one, not computed anew
    assert client.get(f"/complaints/{complaint}/explanations/team",
                      headers=as_role(ops_store, "auditor")).json() == made


def test_an_explanation_not_yet_requested_is_not_found(ops_store, client):
    response = client.get(f"/complaints/{ops_store.complaint['manual']}/explanations/issue",
                          headers=as_role(ops_store, "auditor"))
    assert response.status_code == 404 and "POST to request one" in response.json()["error"]["message"]


def test_a_version_modified_or_gone_from_the_registry_is_a_json_503_naming_it_never_where_it_lies(
        ops_store, client, deployment, ops_home):
    complaint = ops_store.complaint["b"]
    version = deployment.store.get_allocation(complaint).model_versions["team"]
    folder = ops_home / "registry" / "team" / version
    (folder / "weights.npz").write_bytes((folder / "weights.npz").read_bytes()[:100])
    path, lead = f"/complaints/{complaint}/explanations/team", as_role(ops_store, "triage_lead")
    modified = client.post(path, headers=lead)
    shutil.rmtree(folder)
    for response, why in ((modified, "was modified"), (client.post(path, headers=lead), "is not in the registry")):
        assert response.status_code == 503 and response.json()["error"]["code"] == "model_unavailable", response.text
        assert f"team@{version} {why}" in response.json()["error"]["message"] and str(ops_home) not in response.text


def test_the_audit_chain_and_the_summary_come_from_the_store(ops_store, client):
    chain = client.get(f"/complaints/{ops_store.complaint['a']}/audit", headers=as_role(ops_store, "auditor")).json()
    assert chain["complaint_id"] == ops_store.complaint["a"] and set(chain["tasks"]) == {"team", "issue", "vulnerable"}
    summary = client.get("/summary?hours=168", headers=as_role(ops_store, "triage_lead")).json()
    assert summary["allocated"] == 60 == sum(summary["by_queue"].values())
    assert summary["manual_triage_share"] == pytest.approx(summary["manual_triage"] / 60, abs=1e-4)
    assert summary["corrections"] == sum(summary["corrections_by_task"].values())


def test_a_model_card_edited_after_the_version_was_recorded_is_flagged_and_the_chain_is_incomplete(
        ops_store, client, deployment, ops_home, cli_at):
    """The card is no part of the version's hash: a forged data hash or accuracy must not pass as evidence."""
    path, auditor = f"/complaints/{ops_store.complaint['a']}/audit", as_role(ops_store, "auditor")
    before = client.get(path, headers=auditor).json()
    assert before["complete"] and "mismatch" not in before["tasks"]["team"]["model_card"]
    version = before["tasks"]["team"]["version"]
    card = ops_home / "registry" / "team" / version / "README.md"
    recorded = before["tasks"]["team"]["model_info"]
    text = card.read_text().replace(recorded["training_data_sha256"], "f" * 64)
    card.write_text(text.replace(f"value: {recorded['metrics']['accuracy']}\n", "value: 0.999\n", 1))
    after = client.get(path, headers=auditor).json()
    team = after["tasks"]["team"]
    assert team["model_card"]["mismatch"] == ["training.data_sha256", "metrics.accuracy"]
    assert not team["complete"] and not after["complete"] and team["model_info"] == recorded
    assert all(after["tasks"][task] == before["tasks"][task] for task in ("issue", "vulnerable"))
    code, out, _ = cli_at(ops_home)("audit", ops_store.complaint["a"])
    assert code == 1 and "model card DIFFERS from what was recorded for the version: training.data_sha256, " \
                         "metrics.accuracy" in out


def test_no_role_lists_counts_reads_or_corrects_a_smoke_tests_complaints(ops_store, client, deployment, cfpb_rows,
                                                                        tmp_path):
    """A smoke test's batch (tools/smoke.py: its key in the inbox, its complaint ids) triaged beside the 60: no role's
    queues, counts or summary include it, no role reads its queue or one of its complaints (the answer to an unknown
    id), and no correction of one is accepted, by the API or the core, so none becomes training data."""
    stamp = "20260101T000000000000Z"
    rows = [dict(row, **{"Complaint ID": f"{SMOKE_TEST}{stamp}-{row['Complaint ID']}"})
            for row in sample(cfpb_rows, 5, salt="smoke")]
    batch = read_batch(write_csv(tmp_path / "smoke.csv", rows), deployment.taxonomy)
    batch.source = f"s3://complaints-test-batches/{SMOKE_TEST_INBOX}{stamp}.csv"  # as functions/intake.py names it
    TriagePipeline(deployment).triage(batch)
    held = rows[0]["Complaint ID"]
    assert deployment.store.count_queue(SMOKE_TEST_QUEUE) == 5

    body = {"task": "team", "label": ops_store.team_a, "expected_revision": 0}
    for role in ROLES:
        headers = as_role(ops_store, role)
        assert SMOKE_TEST_QUEUE not in {q["name"] for q in client.get("/queues", headers=headers).json()}
        assert client.get(f"/queues/{slug(SMOKE_TEST_QUEUE)}/complaints", headers=headers).status_code == 404
        for method, path, sent in (("GET", f"/complaints/{held}", None),
                                   ("POST", f"/complaints/{held}/reassignments", body)):
            response = client.request(method, path, json=sent, headers=headers)
            unknown = client.request(method, path.replace(held, UNKNOWN_ID), json=sent, headers=headers)
            assert (response.status_code, response.json()) == (404, unknown.json()), (role, path, response.text)
    for role in ("triage_lead", "auditor"):  # the audit chain's readers
        response, unknown = (client.get(f"/complaints/{complaint}/audit", headers=as_role(ops_store, role))
                             for complaint in (held, UNKNOWN_ID))
        assert (response.status_code, response.json()) == (404, unknown.json()), (role, response.text)
    lead = as_role(ops_store, "triage_lead")
    assert sum(q["count"] for q in client.get("/queues", headers=lead).json()) == 60
    summary = client.get("/summary?hours=168", headers=lead).json()
    assert summary["allocated"] == 60 and SMOKE_TEST_QUEUE not in summary["by_queue"]
    with pytest.raises(ValueError, match="smoke test's complaint takes no correction"):
        reallocate(deployment, held, "team", ops_store.team_a, "lead")
    assert deployment.store.list_feedback(held) == []


def test_users_are_refused_without_a_valid_role_or_team(deployment):
    for name, role, team in (("Ana Smith", "analyst", "Mortgage"), ("ana", "admin", None), ("ana", "analyst", None),
                             ("ana", "auditor", "Mortgage"), ("ana", "analyst", "Nowhere")):
        with pytest.raises(ValueError):
            access.add_user(deployment.store, deployment.taxonomy, name, role, team, "test")
    with pytest.raises(ValueError, match="exists"):
        access.add_user(deployment.store, deployment.taxonomy, "auditor", "auditor", None, "test")
    token = access.add_user(deployment.store, deployment.taxonomy, "auditor", "auditor", None, "test", replace=True)
    assert access.authenticate(deployment.store, token).name == "auditor"
    assert deployment.store.get_user("auditor").token_sha256 not in token  # only a hash is kept


# -- the committed OpenAPI 3.0 document ------------------------------------------------------------------------

def test_the_committed_openapi_document_is_what_the_code_produces():
    assert COMMITTED.read_text(encoding="utf-8") == rendered(produced()), "the API changed: run `make openapi`"


def test_the_document_is_valid_openapi_3_0_with_examples_errors_and_a_header_security_scheme():
    document = json.loads(COMMITTED.read_text(encoding="utf-8"))
    validate(document)
    assert document["openapi"].startswith("3.0.")
    text = json.dumps(document)
    assert '"anyOf"' not in text and '"const"' not in text and '"type": "null"' not in text
    assert document["components"]["securitySchemes"]["ApiKey"] == {
        **document["components"]["securitySchemes"]["ApiKey"], "type": "apiKey", "in": "header", "name": "Authorization"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation["security"] == [{"ApiKey": []}], (method, path)
            for status in ("401", "403", "404", "422"):
                assert operation["responses"][status]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorResponse"}, (method, path, status)
    assert "example" in document["components"]["schemas"]["ComplaintDetail"]


def test_the_api_benchmark_measures_every_request_on_a_copy_of_the_store(ops_home, tmp_path):
    from tools import bench_api as bench

    output = tmp_path / "bench-api.json"
    before = (ops_home / "triage.sqlite3").read_bytes()
    assert bench.main(["--home", str(ops_home), "--requests", "4", "--output", str(output)]) == 0
    report = json.loads(output.read_text())
    assert report["complaints"] == 60
    for name in ("queue_counts", "queue_page", "complaint_detail"):
        assert report[name]["requests"] == 4 and 0 < report[name]["p50_ms"] <= report[name]["p95_ms"]
    assert (ops_home / "triage.sqlite3").read_bytes() == before  # the benchmark user went to the copy


def test_the_bearer_scheme_is_case_insensitive(ops_store, client):
    token = ops_store.tokens["triage_lead"]
    for scheme in ("Bearer", "bearer", "BEARER"):
        assert client.get("/me", headers={"Authorization": f"{scheme} {token}"}).status_code == 200


def test_errors_name_no_value_the_request_carried(ops_store, client):
    """An id, a task, a label or a sort that carries personal data comes back in no error message."""
    pii = "51238472"
    lead = as_role(ops_store, "triage_lead")
    answers = [client.get(f"/complaints/{pii}", headers=lead),
               client.get(f"/complaints/{pii}/explanations/team", headers=lead),
               client.post(f"/complaints/{ops_store.complaint['a']}/reassignments", headers=lead,
                           json={"task": f"t{pii}", "label": "x", "expected_revision": 0}),
               client.post(f"/complaints/{ops_store.complaint['a']}/reassignments", headers=lead,
                           json={"task": "team", "label": f"Maria Garcia {pii}", "expected_revision": 0}),
               client.get(f"/queues/q{pii}/complaints", headers=lead),
               client.get(f"/queues/manual-triage/complaints?sort=s{pii}", headers=lead)]
    for answer in answers:
        assert 400 <= answer.status_code < 500 and answer.json()["error"]["message"], answer.text
        assert pii not in answer.text and "Garcia" not in answer.text, answer.text


def test_a_write_held_up_by_another_writer_is_a_503_and_holds_up_no_read(ops_store, ops_home):
    """Another process holds the store's write lock: the waiting reassignment holds up no other request (each
    thread has its connection; WAL lets readers go on) and ends as a JSON 503 with Retry-After."""
    import sqlite3
    import threading
    import time
    from dataclasses import replace

    from complaints.store.sqlite import SQLiteStore

    path = ops_home / "triage.sqlite3"
    deployment = replace(Deployment.embedded(Settings.from_env(home=ops_home)),
                         store=SQLiteStore(path, busy_timeout_ms=1_500))
    client, lead = TestClient(create_app(deployment, explainer=STAND_IN)), as_role(ops_store, "triage_lead")
    finished, answers = [], {}
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        def write():
            answers["write"] = client.post(f"/complaints/{ops_store.complaint['a']}/reassignments", headers=lead,
                                           json={"task": "team", "label": ops_store.team_b,
                                                 "expected_revision": ops_store.revision["a"]})
            finished.append("write")

        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(0.3)  # the write is waiting for the lock by now (it waits 1.5 s)
        answers["read"] = client.get(f"/complaints/{ops_store.complaint['b']}", headers=lead)
        finished.append("read")
        writer.join()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert finished == ["read", "write"] and answers["read"].status_code == 200
    busy = answers["write"]
    assert busy.status_code == 503 and busy.json()["error"]["code"] == "store_busy", busy.text
    assert busy.headers["Retry-After"] == "1"


def test_a_write_to_a_read_only_store_is_a_503_and_reads_go_on(ops_store, ops_home):
    """The store's owner made it read-only: it opens for reading, and a correction is a JSON 503, not a 500."""
    from dataclasses import replace

    from complaints.store.sqlite import SQLiteStore

    path = ops_home / "triage.sqlite3"
    path.chmod(0o400)
    deployment = replace(Deployment.embedded(Settings.from_env(home=ops_home)), store=SQLiteStore(path))
    client, lead = TestClient(create_app(deployment, explainer=STAND_IN)), as_role(ops_store, "triage_lead")
    assert client.get(f"/complaints/{ops_store.complaint['b']}", headers=lead).status_code == 200
    refused = client.post(f"/complaints/{ops_store.complaint['a']}/reassignments", headers=lead,
                          json={"task": "team", "label": ops_store.team_b, "expected_revision": ops_store.revision["a"]})
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "store_unavailable", refused.text


def test_a_body_is_read_only_from_an_authenticated_caller_and_never_past_the_limit(ops_store, client):
    from ops_api.body_guard import MAX_BODY_BYTES

    path, lead = f"/complaints/{ops_store.complaint['a']}/reassignments", as_role(ops_store, "triage_lead")
    json_body = {"Content-Type": "application/json"}
    anonymous = client.post(path, content=b"{not json", headers=json_body)
    assert anonymous.status_code == 401  # not 422: the body was never parsed
    declared = client.post(path, content=b"{" + b" " * MAX_BODY_BYTES + b"}", headers={**lead, **json_body})
    assert declared.status_code == 413 and declared.json()["error"]["code"] == "body_too_large"
    streamed = client.post(path, content=(b" " * 1024 for _ in range(MAX_BODY_BYTES // 1024 + 1)),
                           headers={**lead, **json_body})
    assert "content-length" not in streamed.request.headers and streamed.status_code == 413
    fitting = client.post(path, json={"task": "team", "label": ops_store.team_b,
                                      "expected_revision": ops_store.revision["a"]}, headers=lead)
    assert fitting.status_code == 201, fitting.text


def test_an_unknown_query_parameter_is_refused_and_only_after_the_caller_is_known(ops_store, client):
    path = "/queues/manual-triage/complaints"
    anonymous = client.get(path, params={"limt": 5})
    assert anonymous.status_code == 401 and "limit" not in anonymous.text  # who is asking comes first
    misspelt = client.get(path, params={"limt": 5}, headers=as_role(ops_store, "triage_lead"))
    assert misspelt.status_code == 422 and "['limit', 'offset', 'sort']" in misspelt.text, misspelt.text
    assert client.get(path, params={"limit": 5}, headers=as_role(ops_store, "triage_lead")).status_code == 200


def test_a_method_a_path_does_not_take_is_405_naming_every_method_it_does(ops_store, client):
    """RFC 9110: a 405 carries Allow. The routes sit in included routers, so the app's own route list alone
    names none of them."""
    lead, complaint_id = as_role(ops_store, "triage_lead"), ops_store.complaint["a"]
    for method, path, allow in [("DELETE", "/me", "GET"), ("PUT", f"/complaints/{complaint_id}", "GET"),
                                ("DELETE", f"/complaints/{complaint_id}/explanations/team", "GET, POST"),
                                ("GET", f"/complaints/{complaint_id}/reassignments", "POST")]:
        answer = client.request(method, path, headers=lead)
        assert answer.status_code == 405 and answer.json()["error"]["code"] == "method_not_allowed", answer.text
        assert answer.headers["Allow"] == allow, (method, path)


def test_no_answer_is_stored_by_a_cache_sniffed_or_framed(ops_store, client):
    """Answers carry redacted narratives and who corrected what: no browser or proxy keeps them (no-store), none
    is read as another type than it says, and the rendered explanation runs no script and sits in no frame."""
    lead, complaint_id = as_role(ops_store, "triage_lead"), ops_store.complaint["a"]
    answers = [client.get(f"/complaints/{complaint_id}", headers=lead),
               client.get(f"/complaints/{complaint_id}/explanations/team/html", headers=lead),
               client.get("/queues/manual-triage/complaints", headers=lead),
               client.get(f"/complaints/{UNKNOWN_ID}", headers=lead), client.post(f"/complaints/{complaint_id}/reassignments"),
               client.post(f"/complaints/{complaint_id}/reassignments", content=b"{", headers=lead)]
    for answer in answers:
        assert answer.headers["Cache-Control"] == "no-store", answer.request.url
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'; " \
                                                          "frame-ancestors 'none'"
    assert [answer.status_code for answer in answers] == [200, 200, 200, 404, 401, 422]


def test_a_declared_length_in_digits_int_cannot_read_is_refused_not_a_500():
    # "\xb2" is "²" in Latin-1, which str.isdigit accepts and int() does not; servers in front refuse it too
    from ops_api.body_guard import BodyGuard

    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/complaints/1/reassignments", "query_string": b"",
             "headers": [(b"content-length", b"\xb2")]}
    asyncio.run(BodyGuard(None)(scope, receive, send))
    assert sent[0]["status"] == 413 and b"body_too_large" in sent[1]["body"]


def test_explanations_are_computed_a_bounded_number_at_once_and_each_once(ops_store, deployment, monkeypatch):
    """Twenty requests at once, four complaints asked five times each: each explanation is computed once, and no
    more than EXPLAINED_AT_ONCE run together."""
    import threading
    import time
    from types import SimpleNamespace

    from ops_api.routers import explanations
    from ops_fixtures import predicted_label

    running, most, computed, guard = [0], [0], [], threading.Lock()

    def slow(predictor, text):
        with guard:
            running[0] += 1
            most[0] = max(most[0], running[0])
            computed.append(text)
        time.sleep(0.05)
        with guard:
            running[0] -= 1
        return predicted_label(predictor, text)

    client = TestClient(create_app(deployment, explainer=SimpleNamespace(explain=slow, render_html=str)))
    lead = as_role(ops_store, "triage_lead")
    asked = [c for c in ops_store.complaint.values() if c != ops_store.complaint["a"]]  # a's is kept already
    answers = []

    def ask(complaint_id):
        answers.append(client.post(f"/complaints/{complaint_id}/explanations/team", headers=lead).status_code)

    threads = [threading.Thread(target=ask, args=(c,)) for c in asked * 5]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == sorted([201] * len(asked) + [200] * 4 * len(asked))
    assert len(computed) == len(asked) and most[0] <= explanations.EXPLAINED_AT_ONCE


def test_an_unexpected_failure_is_a_json_500_that_names_nothing(ops_store, deployment):
    """A fault no rule foresaw (here the explainer's) answers in the one error body, so a client (the ops app)
    reads it as a failure, and says nothing of what failed."""
    from types import SimpleNamespace

    def crash(predictor, text):
        raise RuntimeError(f"explainer crashed on {text[:20]}")

    client = TestClient(create_app(deployment, explainer=SimpleNamespace(explain=crash, render_html=str)),
                        raise_server_exceptions=False)
    answer = client.post(f"/complaints/{ops_store.complaint['b']}/explanations/team",
                         headers=as_role(ops_store, "triage_lead"))
    assert answer.status_code == 500 and answer.json() == {
        "error": {"code": "internal_error", "message": "the server failed to answer this request"}}
    assert answer.headers["Cache-Control"] == "no-store"  # answered outside the middleware that adds it


def test_no_page_loads_scripts_from_a_cdn(client):
    assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").json()["openapi"] == "3.0.3"


def test_a_disabled_user_is_refused_on_every_call_whatever_vouches_for_it(ops_store, deployment, client):
    """A token, or (on AWS) an access token still within its 10 minutes: both are refused once the user is
    disabled, and a new token from `users add --replace` enables the user again."""
    sub = "0f4e2d1c-9b8a-4c7d-8e6f-5a4b3c2d1e0f"
    token = access.add_user(deployment.store, deployment.taxonomy, "leaver", "triage_lead", None, "test",
                            cognito_sub=sub)
    me = {"Authorization": f"Bearer {token}"}
    assert client.get("/me", headers=me).status_code == 200
    assert access.principal_named(deployment.store, "leaver", sub).role == "triage_lead"
    access.disable_user(deployment.store, "leaver", "test")
    for method, path in [("GET", "/me"), ("GET", "/queues"), ("GET", f"/complaints/{ops_store.complaint['a']}"),
                         ("POST", f"/complaints/{ops_store.complaint['a']}/reassignments")]:
        assert client.request(method, path, headers=me, json={}).status_code == 401
    with pytest.raises(access.NotAuthenticated):
        access.principal_named(deployment.store, "leaver", sub)  # the AWS path: the access token's username and sub
    again = access.add_user(deployment.store, deployment.taxonomy, "leaver", "triage_lead", None, "test", replace=True)
    assert client.get("/me", headers={"Authorization": f"Bearer {again}"}).status_code == 200
    assert client.get("/me", headers=me).status_code == 401  # the old token stays refused


def test_a_request_with_a_body_is_authenticated_once(ops_store, deployment):
    """The body guard authenticates before the body is read; the route's user is that principal, not a second
    lookup."""
    calls = []

    def counted(deployment, request, authorization):
        calls.append(authorization)
        return access.authenticate(deployment.store, authorization or "")

    client = TestClient(create_app(deployment, identity=counted, explainer=STAND_IN))
    answer = client.post(f"/complaints/{ops_store.complaint['a']}/reassignments", headers=as_role(ops_store, "triage_lead"),
                         json={"task": "team", "label": ops_store.team_b, "expected_revision": ops_store.revision["a"]})
    assert answer.status_code == 201 and len(calls) == 1
