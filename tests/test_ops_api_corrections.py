"""Corrections through the ops API under contention and abuse: concurrent reassignments of one complaint, a stale
read, the daily quota, a resend after the complaint moved out of reach, and listings that cost what they return."""

from __future__ import annotations

import threading
from dataclasses import replace

from fastapi.testclient import TestClient

from complaints.deployment import Deployment
from complaints.queues import slug
from complaints.records import Feedback
from complaints.config import Settings
from ops_api.app import create_app
from ops_fixtures import STAND_IN, VULNERABLE, as_role, deployment, ops_home, ops_store  # noqa: F401 (fixtures)


def test_concurrent_reassignments_of_one_complaint_store_one_and_refuse_the_rest(ops_store, deployment):
    """Twenty clients read the same revision and reassign at once, each its own request: one correction is stored,
    the others get 409 and store nothing; the chain of corrections stays whole (each previous label the one before
    it). (The same request sent twice is a resend: 200, nothing stored again.)"""
    client = TestClient(create_app(deployment, explainer=STAND_IN))
    complaint, revision = ops_store.complaint["a"], ops_store.revision["a"]
    labels = [ops_store.team_b if n % 2 else ops_store.team_a for n in range(20)]
    answers: list[int] = []
    lock = threading.Lock()

    def reassign(n: int, label: str) -> None:
        answer = client.post(f"/complaints/{complaint}/reassignments",
                             headers={**as_role(ops_store, "triage_lead"), "Idempotency-Key": f"client-{n}"},
                             json={"task": "team", "label": label, "expected_revision": revision})
        with lock:
            answers.append(answer.status_code)

    threads = [threading.Thread(target=reassign, args=(n, label)) for n, label in enumerate(labels)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers.count(201) == 1 and answers.count(409) == 19, answers
    chain = [c for c in deployment.store.list_feedback(complaint) if c.task == "team"]
    assert [c.revision for c in deployment.store.list_feedback(complaint)] == list(range(1, revision + 2))
    assert all(later.previous_label == earlier.label for earlier, later in zip(chain, chain[1:]))
    assert deployment.store.get_placement(complaint).revision == revision + 1


def test_a_reassignment_from_a_stale_read_is_refused_and_stores_nothing(ops_store, deployment):
    client = TestClient(create_app(deployment, explainer=STAND_IN))
    complaint, revision, lead = ops_store.complaint["a"], ops_store.revision["a"], as_role(ops_store, "triage_lead")
    path = f"/complaints/{complaint}/reassignments"
    assert client.post(path, headers=lead, json={"task": "issue", "label": _an_issue(deployment),
                                                 "expected_revision": revision}).status_code == 201
    stale = client.post(path, headers=lead, json={"task": "team", "label": ops_store.team_b,
                                                  "expected_revision": revision})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale", stale.text
    assert len(deployment.store.list_feedback(complaint)) == revision + 1
    detail = client.get(f"/complaints/{complaint}", headers=lead).json()
    assert detail["revision"] == revision + 1
    fresh = client.post(path, headers=lead, json={"task": "team", "label": ops_store.team_b,
                                                  "expected_revision": detail["revision"]})
    assert fresh.status_code == 201 and fresh.json()["correction"]["revision"] == revision + 2


def test_a_user_past_the_days_corrections_is_refused_with_429(ops_store, ops_home):
    deployment = Deployment.embedded(Settings.from_env(home=ops_home))
    deployment = replace(deployment, operations=replace(deployment.operations, corrections_per_analyst_per_day=2))
    client = TestClient(create_app(deployment, explainer=STAND_IN))
    lead = as_role(ops_store, "triage_lead")
    for key in ("a", "b"):
        answer = client.post(f"/complaints/{ops_store.complaint[key]}/reassignments", headers=lead,
                             json={"task": "team", "label": ops_store.team_a if key == "b" else ops_store.team_b,
                                   "expected_revision": ops_store.revision[key]})
        assert answer.status_code == 201, answer.text
    before = len(deployment.store.list_feedback())
    refused = client.post(f"/complaints/{ops_store.complaint['manual']}/reassignments", headers=lead,
                          json={"task": "team", "label": ops_store.team_a,
                                "expected_revision": ops_store.revision["manual"]})
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "quota_exceeded"
    assert refused.headers["Retry-After"] == "3600" and len(deployment.store.list_feedback()) == before
    other = client.post(f"/complaints/{ops_store.complaint['manual']}/reassignments",
                        headers=as_role(ops_store, "analyst_a"),
                        json={"task": "team", "label": ops_store.team_a, "expected_revision": ops_store.revision["manual"]})
    assert other.status_code == 201  # the quota is per user


def test_a_resend_does_not_name_a_queue_the_user_may_no_longer_read(ops_store, deployment):
    """Analyst A moves a complaint to team B, then a lead raises its vulnerable flag: analyst A's resend is
    answered (200, nothing stored) without naming the specialist queue it now stands in."""
    client = TestClient(create_app(deployment, explainer=STAND_IN))
    complaint, revision = ops_store.complaint["a"], ops_store.revision["a"]
    path = f"/complaints/{complaint}/reassignments"
    mine = {**as_role(ops_store, "analyst_a"), "Idempotency-Key": "move-1"}
    body = {"task": "team", "label": ops_store.team_b, "expected_revision": revision}
    first = client.post(path, headers=mine, json=body)
    assert first.status_code == 201 and first.json()["queue"]["name"] == ops_store.team_b
    raised = client.post(path, headers=as_role(ops_store, "triage_lead"),
                         json={"task": "vulnerable", "label": "yes", "expected_revision": revision + 1})
    assert raised.status_code == 201 and raised.json()["queue"]["name"] == VULNERABLE
    resent = client.post(path, headers=mine, json=body)
    assert resent.status_code == 200 and resent.json()["already_stored"] is True
    assert resent.json()["queue"] is None and VULNERABLE not in resent.text


def test_listings_and_corrections_never_read_the_whole_feedback_table(ops_store, deployment, monkeypatch):
    """Thousands of corrections elsewhere cost a listing nothing: the queue index answers counts and pages, and a
    correction reads only its complaint's corrections (the whole table is read by training and the gate only)."""
    for n in range(3_000):
        deployment.store.import_feedback(Feedback(f"elsewhere-{n}", "team", ops_store.team_a, ops_store.team_b,
                                                  "analyst-a", idempotency_key=f"k{n}"))
    whole = deployment.store.list_feedback

    def per_complaint_only(complaint_id=None):
        assert complaint_id is not None, "a request read the whole feedback table"
        return whole(complaint_id)

    monkeypatch.setattr(deployment.store, "list_feedback", per_complaint_only)
    client, lead = TestClient(create_app(deployment, explainer=STAND_IN)), as_role(ops_store, "triage_lead")
    for path in ("/queues", f"/queues/{slug(ops_store.team_a)}/complaints",
                 f"/queues/{slug(ops_store.team_a)}/complaints?sort=least_confident", "/summary?hours=168",
                 f"/complaints/{ops_store.complaint['a']}"):
        assert client.get(path, headers=lead).status_code == 200, path
    moved = client.post(f"/complaints/{ops_store.complaint['a']}/reassignments", headers=lead,
                        json={"task": "team", "label": ops_store.team_b, "expected_revision": ops_store.revision["a"]})
    assert moved.status_code == 201
    assert client.get("/summary?hours=169", headers=lead).status_code == 422  # a week at most


def _an_issue(deployment) -> str:
    return sorted(deployment.task("issue").classes(deployment.taxonomy))[0]


def test_personal_data_in_every_field_and_header_comes_back_in_no_answer_and_no_log(ops_store, deployment, caplog):
    """An SSN in the idempotency key, the body's fields, the query and a stray header: the stored correction keeps
    a hash of the key, and no answer or log line carries the number."""
    import logging

    ssn = "123-45-6789"
    client, lead = TestClient(create_app(deployment, explainer=STAND_IN)), as_role(ops_store, "triage_lead")
    path = f"/complaints/{ops_store.complaint['a']}/reassignments"
    with caplog.at_level(logging.DEBUG):
        answers = [
            client.post(path, headers={**lead, "Idempotency-Key": ssn, "X-Customer": ssn},
                        json={"task": "team", "label": ops_store.team_b, "expected_revision": ops_store.revision["a"]}),
            client.post(path, headers={**lead, "Idempotency-Key": ssn},
                        json={"task": "team", "label": ops_store.team_a, "expected_revision": ops_store.revision["a"]}),
            client.post(path, headers=lead, json={"task": ssn, "label": ssn, "expected_revision": ssn}),
            client.get(f"/queues/manual-triage/complaints?offset={ssn}", headers={**lead, "X-Customer": ssn}),
            client.get(f"/summary?hours={ssn}", headers=lead),
        ]
    assert [answer.status_code for answer in answers] == [201, 409, 422, 422, 422]
    for answer in answers:
        assert ssn not in answer.text and ssn not in str(answer.headers), answer.text
    served = [r.getMessage() + str(r.__dict__) for r in caplog.records if not r.name.startswith("httpx")]
    assert served and not any(ssn in line for line in served)  # the test client's own request log aside
    assert all(ssn not in f.idempotency_key for f in deployment.store.list_feedback(ops_store.complaint["a"]))
