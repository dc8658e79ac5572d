"""The deployed state machine, executed before anyone applies it.

moto's Step Functions interpreter runs infra/modules/orchestration/triage.asl.json (rendered as Terraform's
templatefile renders it); its Lambda tasks run the real handlers of functions/ in this process, as the
functions Terraform defines them (name, image command, environment); the store is moto's DynamoDB, the
models are the trained baseline versions staged as the image stages them, the batches real complaints.
The stack itself is model/moto_stack.py (``make bench-load`` runs it too).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from unittest import mock

import boto3
import pytest

from complaints.deployment import Deployment
from complaints.manifest import ReleaseManifest
from complaints.records import ALLOCATED, MANUAL_TRIAGE, NEEDS_TRIAGE
from complaints.settings import Settings
from complaints.store.dynamodb import DynamoDBStore
from conftest import sample, write_csv, write_manifest
from functions import release, runtime
from model.moto_stack import BUCKET, NAME_PREFIX, REGION, Stack, running_stack
from test_infra import function_grants

S3_ACTIONS = {"GetObject": "s3_read", "HeadObject": "s3_read", "PutObject": "s3_write"}


def assert_least_privilege(calls: set[tuple[str, str, str, str]]) -> None:
    """Every call a handler made is one its Terraform role allows (tables, actions, key prefixes)."""
    grants = function_grants({"inbox_prefix": "inbox/", "staging_prefix": "staged/"})
    for function, service, operation, resource in sorted(calls):
        allowed = grants[function]
        if service == "dynamodb":
            table = resource.removeprefix(f"{NAME_PREFIX}-")
            assert f"dynamodb:{operation}" in allowed["tables"].get(table, []), (function, operation, table)
        elif service == "s3" and operation in S3_ACTIONS:
            prefixes = allowed[S3_ACTIONS[operation]]
            assert any(resource.startswith(prefix) for prefix in prefixes), (function, operation, resource)
        else:
            pytest.fail(f"{function} called {service}:{operation}, which its role does not allow")


@pytest.fixture
def stack(trained_home, tmp_path) -> Stack:
    """The stack on moto serving the trained champions, staged as `functions.release stage` stages them."""
    source = Deployment.embedded(Settings.from_env(home=trained_home))
    models = tmp_path / "opt-models"
    manifest = ReleaseManifest.load(write_manifest(
        tmp_path / "deploy", "test", f"dynamodb://{NAME_PREFIX}?region={REGION}", f"file://{models}",
        {t.name: {"champion": source.store.get_strategy(t.name).champion} for t in source.tasks}))
    release.stage(manifest, source.registry, models)
    runtime.reset()
    with running_stack(manifest, models, source.tasks, source.taxonomy) as stack:
        yield stack
    runtime.reset()


@pytest.fixture
def real_batch(cfpb_rows, tmp_path) -> tuple[Path, list[str]]:
    """250 real complaints and three rows that must be rejected (empty narrative, bad date, unknown product)."""
    rows = sample(cfpb_rows, 250, salt="aws")
    bad = [dict(rows[0], **{"Complaint ID": "bad-1", "Consumer complaint narrative": ""}),
           dict(rows[1], **{"Complaint ID": "bad-2", "Date received": "31/31/2024"}),
           dict(rows[2], **{"Complaint ID": "bad-3", "Product": "Timeshare in space"})]
    return write_csv(tmp_path / "batch.csv", rows + bad), [r["Complaint ID"] for r in rows]


def _chunks(execution: dict) -> list[dict]:
    return json.loads(execution["output"])["chunks"]


def test_a_batch_of_real_complaints_comes_out_allocated_with_model_versions(stack, real_batch, caplog):
    path, ids = real_batch
    caplog.set_level(logging.INFO, logger="complaints")
    execution = stack.run(stack.put_batch("inbox/2026-05-02.csv", path))

    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    assert (output["intake"]["rows"], output["intake"]["rejected"]) == (253, 3)
    reports = [chunk["result"]["report"] for chunk in output["chunks"]]
    assert [chunk["complaints"] for chunk in output["chunks"]] == [100, 100, 50]
    assert sum(r["allocated"] + r["manual_triage"] for r in reports) == 250
    assert sum(r["rejected"] for r in reports) == 3 and sum(r["reused"] for r in reports) == 0
    assert stack.invocations.calls == Counter({"intake": 1, "triage": 3})

    queues = Counter()
    for complaint_id in ids:
        allocation = stack.store.get_allocation(complaint_id)
        assert allocation.model_versions == stack.champions, complaint_id
        assert set(allocation.predictions) == set(stack.champions)
        assert stack.store.get_complaint(complaint_id).batch_id == allocation.batch_id
        assert (allocation.status == ALLOCATED) == (allocation.queue != MANUAL_TRIAGE)
        queues[allocation.queue] += 1
    assert stack.allocation_count() == 250
    assert queues[MANUAL_TRIAGE] < 150 and len(queues) >= 5, queues  # the models decide most complaints
    first = reports[0]["batch_id"]
    assert {r.reason_code for r in stack.store.list_rejections(first)} == {"empty_narrative", "bad_date",
                                                                           "unknown_product"}
    batch = stack.store.get_batch(first)
    assert batch.source == f"s3://{BUCKET}/inbox/2026-05-02.csv (chunk 1 of 3)"
    assert {task: v["champion"] for task, v in batch.model_versions.items()} == stack.champions
    assert len(stack.store.list_queue(MANUAL_TRIAGE, limit=500)) == queues[MANUAL_TRIAGE]
    assert stack.dead_letters() == []
    assert {(f, service) for f, service, _, _ in stack.invocations.aws_calls} == {
        ("intake", "s3"), ("triage", "s3"), ("triage", "dynamodb")}
    assert_least_privilege(stack.invocations.aws_calls)
    finished = [r.fields for r in caplog.records if r.getMessage() == "invocation finished"]
    assert [f["function"] for f in finished] == [f"{NAME_PREFIX}-intake"] + [f"{NAME_PREFIX}-triage"] * 3
    assert finished[0]["cold_start"] and all(f["request_id"] for f in finished)


def test_the_same_batch_twice_makes_no_duplicates(stack, real_batch):
    path, ids = real_batch
    first = stack.run(stack.put_batch("inbox/first.csv", path))
    allocated_at = {i: stack.store.get_allocation(i).allocated_at for i in ids[::25]}
    second = stack.run(stack.put_batch("inbox/again.csv", path))

    assert first["status"] == second["status"] == "SUCCEEDED"
    reports = [chunk["result"]["report"] for chunk in _chunks(second)]
    assert sum(r["reused"] for r in reports) == 250
    assert stack.allocation_count() == 250
    assert {i: stack.store.get_allocation(i).allocated_at for i in ids[::25]} == allocated_at


def test_a_chunk_whose_triage_keeps_failing_goes_to_manual_triage_and_nothing_is_lost(stack, real_batch):
    path, ids = real_batch

    def second_chunk_times_out(event: dict) -> None:
        if event["key"].endswith("chunk-00002.json"):
            raise TimeoutError("Task timed out after 300.00 seconds")

    stack.invocations.faults["triage"] = second_chunk_times_out
    execution = stack.run(stack.put_batch("inbox/flaky.csv", path))

    assert execution["status"] == "SUCCEEDED", execution
    chunks = _chunks(execution)
    assert [bool(c["result"].get("manual_triage")) for c in chunks] == [False, True, False]
    assert chunks[1]["error"]["Error"] == "TimeoutError"
    assert stack.invocations.calls == Counter({"intake": 1, "triage": 3 + 2, "manual_triage": 1})  # 2 retries
    assert stack.invocations.backoff_s == [1, 2]  # IntervalSeconds 1, BackoffRate 2
    for complaint_id in ids[100:200]:
        allocation = stack.store.get_allocation(complaint_id)
        assert (allocation.queue, allocation.status) == (MANUAL_TRIAGE, NEEDS_TRIAGE)
        assert any("triage task failed after its retries: TimeoutError: Task timed out" in reason
                   for reason in allocation.reasons), allocation.reasons
        assert allocation.model_versions == stack.champions  # the versions that were to serve it
        assert stack.store.get_complaint(complaint_id) is not None
    assert all(stack.store.get_allocation(i) is not None for i in ids)
    assert stack.allocation_count() == 250 and stack.dead_letters() == []
    assert_least_privilege(stack.invocations.aws_calls)


def test_a_triage_task_that_fails_once_is_retried_and_the_models_decide(stack, real_batch):
    path, ids = real_batch
    failed = set()

    def first_attempt_throttled(event: dict) -> None:
        if event["key"] not in failed:
            failed.add(event["key"])
            raise RuntimeError("Rate exceeded")

    stack.invocations.faults["triage"] = first_attempt_throttled
    execution = stack.run(stack.put_batch("inbox/throttled.csv", path))

    assert execution["status"] == "SUCCEEDED"
    assert stack.invocations.calls["triage"] == 6 and stack.invocations.calls["manual_triage"] == 0
    assert not any("triage task failed" in r for i in ids for r in stack.store.get_allocation(i).reasons)


def test_allocations_written_before_a_crash_stand_and_the_rest_go_to_manual_triage(stack, real_batch):
    path, ids = real_batch
    writes = Counter()
    put_allocation = DynamoDBStore.put_allocation

    def crash_after_40_writes(self, allocation):  # the triage function dies mid-chunk, every attempt
        if stack.invocations.current == "triage" and allocation.complaint_id in ids[:100]:
            writes[allocation.complaint_id] += 1
            if ids.index(allocation.complaint_id) >= 40:
                raise ConnectionError("connection reset by peer")
        return put_allocation(self, allocation)

    with mock.patch.object(DynamoDBStore, "put_allocation", crash_after_40_writes):
        execution = stack.run(stack.put_batch("inbox/crash.csv", path))

    assert execution["status"] == "SUCCEEDED"
    by_models = [stack.store.get_allocation(i) for i in ids[:40]]
    assert all(not any("triage task failed" in r for r in a.reasons) for a in by_models)
    fallback = [stack.store.get_allocation(i) for i in ids[40:100]]
    assert all(a.queue == MANUAL_TRIAGE and "ConnectionError" in " ".join(a.reasons) for a in fallback)
    assert stack.allocation_count() == 250


def test_a_chunk_nobody_can_triage_is_parked_in_the_dead_letter_queue_and_redriven(stack, real_batch):
    path, ids = real_batch

    def store_down(event: dict) -> None:
        if "chunk-00003" in json.dumps(event):
            raise ConnectionError("DynamoDB endpoint unreachable")

    stack.invocations.faults["triage"] = stack.invocations.faults["manual_triage"] = store_down
    key = stack.put_batch("inbox/outage.csv", path)
    execution = stack.run(key)

    assert execution["status"] == "SUCCEEDED"
    [parked] = stack.dead_letters()
    assert parked["key"].endswith("chunk-00003.json") and parked["complaints"] == 50
    assert parked["error"]["Error"] == parked["fallback_error"]["Error"] == "ConnectionError"
    staged = stack.s3.get_object(Bucket=BUCKET, Key=parked["key"])["Body"].read().decode()
    assert {c["complaint_id"] for c in json.loads(staged)["complaints"]} == set(ids[200:])  # nothing lost
    assert stack.allocation_count() == 200

    stack.invocations.faults.clear()  # the outage is over: re-send the batch file
    again = stack.run(stack.put_batch("inbox/outage-redrive.csv", path))
    assert again["status"] == "SUCCEEDED" and stack.allocation_count() == 250
    assert sum(c["result"]["report"]["reused"] for c in _chunks(again)) == 200


def test_a_batch_refused_whole_fails_the_execution_and_is_parked(stack, cfpb_rows, tmp_path):
    rows = [{k: v for k, v in row.items() if k != "Date received"} for row in sample(cfpb_rows, 5)]
    execution = stack.run(stack.put_batch("inbox/no-dates.csv", write_csv(tmp_path / "no-dates.csv", rows)))

    assert execution["status"] == "FAILED"
    [parked] = stack.dead_letters()
    assert (parked["bucket"], parked["key"]) == (BUCKET, "inbox/no-dates.csv")
    assert parked["error"]["Error"] == "IntakeError" and "Date received" in parked["error"]["Cause"]
    assert stack.invocations.calls == Counter({"intake": 1}) and stack.allocation_count() == 0


def test_the_api_puts_a_batch_in_the_inbox_that_the_state_machine_triages(stack, cfpb_rows, tmp_path):
    awslambda = boto3.client("lambda", region_name=REGION)
    rows = sample(cfpb_rows, 20, salt="api")
    body = write_csv(tmp_path / "api.csv", rows).read_text(encoding="utf-8")

    def post(text: str) -> dict:
        event = {"body": text, "isBase64Encoded": False, "headers": {"content-type": "text/csv"}}
        answer = awslambda.invoke(FunctionName=stack.functions["submit"], Payload=json.dumps(event))
        return json.loads(answer["Payload"].read())

    refused = post("Complaint ID,Product\n1,Mortgage\n")
    assert refused["statusCode"] == 400 and "Consumer complaint narrative" in refused["body"]
    assert "/tmp" not in refused["body"]
    accepted = post(body)
    assert accepted["statusCode"] == 202
    receipt = json.loads(accepted["body"])
    assert (receipt["rows"], receipt["complaints"], receipt["rejected"]) == (20, 20, 0)
    key = receipt["batch"].removeprefix(f"s3://{BUCKET}/")
    assert key.startswith("inbox/api/") and key.endswith(".csv")

    execution = stack.run(key)
    assert execution["status"] == "SUCCEEDED"
    assert all(stack.store.get_allocation(r["Complaint ID"]) for r in rows)
    assert ("submit", "s3", "PutObject", key) in stack.invocations.aws_calls
    assert_least_privilege(stack.invocations.aws_calls)
