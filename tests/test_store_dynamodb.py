"""The DynamoDB store passes the same contract as SQLite, against moto's DynamoDB (in process, no network), in
tables made as infra/modules/store declares them."""

import json
from dataclasses import replace

import pytest
from moto import mock_aws

from complaints.records import Allocation, ModelStrategy, as_dict
from complaints.store import open_store
from complaints.store.dynamodb import DynamoDBStore
from complaints.store.tables import TABLES
from testing.moto_stack import create_store_tables
from testing.store_contract import BATCH, EVENT, FEEDBACK, GATE, RELEASE, StoreContract, allocation, complaint

REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


@pytest.fixture
def store(aws) -> DynamoDBStore:
    store = open_store(f"dynamodb://complaints-test?region={REGION}")
    create_store_tables(store)
    return store


class TestDynamoDBStore(StoreContract):
    """The contract, on the ``store`` above."""


def test_the_url_names_the_table_prefix_and_region(aws):
    store = open_store(f"dynamodb://complaints-dev?region={REGION}")
    assert isinstance(store, DynamoDBStore) and store.table_name("raw_complaints") == "complaints-dev-raw_complaints"
    with pytest.raises(ValueError, match="dynamodb://<table-prefix>"):
        open_store("dynamodb://complaints-dev?table=x")


def test_items_keep_the_whole_record_beside_their_keys(store):
    store.put_allocation(allocation())
    item = store._client.get_item(TableName="complaints-test-complaints_allocation",
                                  Key={"complaint_id": {"S": "1001"}})["Item"]
    assert set(item) == {"complaint_id", "queue", "allocated_at", "revision", "body"}
    assert item["queue"] == {"S": "Credit card"} and item["revision"] == {"N": "0"}
    assert Allocation.from_dict(json.loads(item["body"]["S"])) == allocation()
    store.put_strategy(ModelStrategy("team", "v1"))
    item = store._client.get_item(TableName="complaints-test-model_strategy", Key={"task": {"S": "team"}})["Item"]
    assert set(item) == {"task", "revision", "body"} and item["revision"] == {"N": "1"}


def test_gate_decisions_and_releases_are_keyed_as_terraform_declares(store):
    store.put_gate_decision(GATE)
    store.put_release(RELEASE)
    gate = {"task": {"S": "team"}, "challenger_champion": {"S": "v2#v1"}}
    release = {"environment": {"S": "prod"}, "applied_release": {"S": f"{RELEASE.applied_at}#sha-manifest"}}
    assert "Item" in store._client.get_item(TableName="complaints-test-gate_decisions", Key=gate)
    assert "Item" in store._client.get_item(TableName="complaints-test-releases", Key=release)


def test_a_queue_longer_than_one_page_is_read_to_its_limit(store):
    for n in range(30):
        store.put_allocation(allocation(str(n), "Mortgage", f"2024-05-02T10:00:{n:02d}.000+00:00"))
    store.put_complaint(complaint())
    newest = store.list_queue("Mortgage", limit=25)
    assert [p.allocation.complaint_id for p in newest] == [str(n) for n in range(29, 4, -1)]
    assert store.count_queue("Mortgage") == 30


def test_complaints_with_no_allocation_are_found_past_one_batch_read(store):
    for n in range(250):
        store.put_complaint(complaint(f"c{n:03}"))
        if n % 3:
            store.put_allocation(allocation(f"c{n:03}"))
    assert [c.complaint_id for c in store.list_unallocated()] == [f"c{n:03}" for n in range(0, 250, 3)]


def test_a_batch_recorded_before_batches_kept_their_reruns_keeps_its_first_run(store):
    written = {k: v for k, v in as_dict(BATCH).items() if k != "reruns"}
    store._client.put_item(TableName="complaints-test-triage_batches",
                           Item={"batch_id": {"S": "b1"}, "body": {"S": json.dumps(written)}})
    again = replace(BATCH, started_at="t2", finished_at="t3")
    assert store.put_batch(again) is True
    assert store.get_batch("b1") == replace(BATCH, reruns=[again.run()])


def test_every_table_has_a_schema():
    assert set(TABLES) == {"raw_complaints", "complaints_allocation", "allocation_history", "model_info",
                           "model_strategy", "feedback", "rejected_rows", "triage_batches", "audit_log",
                           "gate_decisions", "releases", "users", "explanations"}


def test_reads_that_decide_a_write_are_strongly_consistent(store):
    """moto is always consistent, so the parameter each read sends is what is checked: every read of a table's
    own keys asks for a consistent read; only a secondary index's query (a queue, the audit log) cannot."""
    reads: list[tuple[str, dict]] = []
    store._client.meta.events.register(
        "provide-client-params.dynamodb.*",
        lambda params, model, **_: reads.append((model.name, params)) if model.name in ("GetItem", "Query", "Scan") else None)
    store.put_complaint(complaint())
    store.put_allocation(allocation())
    store.get_complaint("1001")  # triage's is-it-stored check
    store.get_allocation("1001")
    store.put_strategy(ModelStrategy("team", "v1"))
    store.put_strategy(replace(store.get_strategy("team"), champion="v2"))  # the read before a conditional write
    for _ in range(2):  # a replay reads the stored key back
        store.import_feedback(FEEDBACK)
        store.append_audit(EVENT)
    store.list_feedback("1")
    store.list_feedback()
    store.list_allocation_history("1001")
    store.list_unallocated()
    store.list_queue("Credit card")
    store.list_audit()
    consistent = {(op, params["TableName"].removeprefix("complaints-test-")) for op, params in reads
                  if params.get("ConsistentRead") is True}
    assert {("GetItem", "raw_complaints"), ("GetItem", "complaints_allocation"), ("GetItem", "model_strategy"),
            ("GetItem", "feedback"), ("GetItem", "audit_log"), ("Query", "feedback"), ("Scan", "feedback"),
            ("Query", "allocation_history"), ("Scan", "raw_complaints")} <= consistent
    assert all(params.get("ConsistentRead") is True for _, params in reads if "IndexName" not in params)
    assert {params["IndexName"] for _, params in reads if not params.get("ConsistentRead")} == {"by_queue", "by_time"}
