"""The deployed state machine, executed before anyone applies it.

moto's Step Functions interpreter runs infra/modules/orchestration/triage.asl.json (rendered as Terraform's
templatefile renders it); its Lambda tasks run the real handlers of functions/ in this process, as the
functions Terraform defines them (name, image command, environment); the store is moto's DynamoDB, the
models are the trained baseline versions staged as the image stages them, the batches real complaints.
The stack itself is testing/moto_stack.py (``make bench-load`` runs it too).
"""

from __future__ import annotations

import fnmatch
import json
import logging
import time
from collections import Counter
from pathlib import Path
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError

from complaints.access import specialist_queues
from complaints.deployment import Deployment
from complaints.metrics import namespace
from complaints.pipeline import BatchReport
from model.manifest import ReleaseManifest
from complaints.records import ALLOCATED, MANUAL_TRIAGE, NEEDS_TRIAGE, StoredComplaint
from complaints.config import Settings
from complaints.store.dynamodb import DynamoDBStore
from complaints.tasks import load_tasks
from conftest import sample, write_csv, write_manifest
from functions import runtime
from model import serving_image as release
from testing.lambda_container import fresh_container
from testing.moto_stack import BUCKET, ENVIRONMENT, NAME_PREFIX, REGION, Stack, running_stack
from test_infra import function_grants

S3_ACTIONS = {"GetObject": "s3_read", "HeadObject": "s3_read", "PutObject": "s3_write", "ListObjectsV2": "s3_list"}


def assert_least_privilege(calls: set[tuple[str, str, str, str]]) -> None:
    """Every call a handler made is one its Terraform role allows (tables, actions, key prefixes)."""
    grants = function_grants({"inbox_prefix": "inbox/", "chunk_prefix": "chunks/"})
    for function, service, operation, resource in sorted(calls):
        allowed = grants[function]
        if service == "dynamodb":
            table = resource.removeprefix(f"{NAME_PREFIX}-")
            assert f"dynamodb:{operation}" in allowed["tables"].get(table, []), (function, operation, table)
        elif service == "s3" and operation in S3_ACTIONS:
            prefixes = allowed[S3_ACTIONS[operation]]  # an IAM "*" matches any characters, "/" too
            assert any(fnmatch.fnmatchcase(resource, f"{prefix}*") for prefix in prefixes), (function, operation, resource)
        else:
            pytest.fail(f"{function} called {service}:{operation}, which its role does not allow")


@pytest.fixture
def stack(trained_home, tmp_path) -> Stack:
    """The stack on moto serving the trained champions, staged as `model.serving_image stage` stages them."""
    source = Deployment.embedded(Settings.from_env(home=trained_home))
    models = tmp_path / "opt-models"
    manifest = ReleaseManifest.load(write_manifest(
        tmp_path / "deploy", "test", f"dynamodb://{NAME_PREFIX}?region={REGION}", f"file://{models}",
        {t.name: {"champion": source.store.get_strategy(t.name).champion} for t in source.tasks}))
    release.stage(manifest, source.registry, models)
    with fresh_container(), running_stack(manifest, models, source.tasks, source.taxonomy) as stack:
        yield stack


@pytest.fixture
def real_batch(cfpb_rows, tmp_path) -> tuple[Path, list[str]]:
    """250 real complaints and three rows that must be rejected (empty narrative, bad date, unknown product)."""
    rows = sample(cfpb_rows, 250, salt="aws")
    bad = [dict(rows[0], **{"Complaint ID": "bad-1", "Consumer complaint narrative": ""}),
           dict(rows[1], **{"Complaint ID": "bad-2", "Date received": "31/31/2024"}),
           dict(rows[2], **{"Complaint ID": "bad-3", "Product": "Timeshare in space"})]
    return write_csv(tmp_path / "batch.csv", rows + bad), [r["Complaint ID"] for r in rows]


def summary(execution: dict) -> dict:
    """Reconcile's counts: the execution's output."""
    return json.loads(execution["output"])["result"]["summary"]


def chunk_reports(stack: Stack, execution: dict) -> list[tuple[dict, dict | None]]:
    """Each chunk the execution wrote and the report it left in S3 (None where it left none)."""
    folder = f"chunks/{execution['executionArn'].rsplit(':', 1)[1]}/"
    chunks = json.loads(stack.s3.get_object(Bucket=BUCKET, Key=f"{folder}chunks.json")["Body"].read())

    def report(chunk: dict) -> dict | None:
        try:
            return json.loads(stack.s3.get_object(Bucket=BUCKET, Key=runtime.report_key(chunk["key"]))["Body"].read())
        except stack.s3.exceptions.NoSuchKey:
            return None

    return [(chunk, report(chunk)) for chunk in chunks]


def assert_every_row_ended(stack: Stack, execution: dict, ids: list[str]) -> None:
    """Every complaint of the batch is allocated or in manual triage, in the store, and the counts add up."""
    counts = summary(execution)
    assert counts["rows"] == counts["allocated"] + counts["manual_triage"] + counts["rejected"], counts
    allocations = [stack.store.get_allocation(i) for i in ids]
    assert all(allocations), [i for i, a in zip(ids, allocations) if a is None]
    by_status = Counter(a.status == ALLOCATED for a in allocations)
    assert (by_status[True], by_status[False]) == (counts["allocated"], counts["manual_triage"]), counts


def test_a_batch_of_real_complaints_comes_out_allocated_with_model_versions(stack, real_batch, caplog):
    path, ids = real_batch
    caplog.set_level(logging.INFO, logger="complaints")
    execution = stack.run(stack.put_batch("inbox/2026-05-02.csv", path))

    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    assert (output["intake"]["rows"], output["intake"]["rejected"], output["intake"]["chunks"]) == (253, 3, 3)
    assert len(execution["output"]) < 1_000  # counts and keys only: the state never grows with the batch
    staged = chunk_reports(stack, execution)
    reports = [kept["report"] for _, kept in staged]
    assert [chunk["complaints"] for chunk, _ in staged] == [100, 100, 50]
    assert sum(r["allocated"] + r["manual_triage"] for r in reports) == 250
    assert sum(r["rejected"] for r in reports) == 3 and sum(r["reused"] for r in reports) == 0
    assert summary(execution) == {"rows": 253, "allocated": sum(r["allocated"] for r in reports), "chunks": 3,
                                  "manual_triage": sum(r["manual_triage"] for r in reports), "rejected": 3,
                                  "reused": 0, "fell_back": {}}
    assert_every_row_ended(stack, execution, ids)
    assert stack.invocations.calls == Counter({"intake": 1, "triage": 3, "reconcile": 1})

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
    assert {r["batch_id"] for r in reports} == {first} == {stack.store.get_complaint(i).batch_id for i in ids}
    batch = stack.store.get_batch(first)  # one file, one batch: recorded once, by reconcile, with every row
    assert batch.source == f"s3://{BUCKET}/inbox/2026-05-02.csv" and batch.counts["rows"] == 253
    assert batch.counts["allocated"] + batch.counts["manual_triage"] == 250 and batch.counts["rejected"] == 3
    assert {task: v["champion"] for task, v in batch.model_versions.items()} == stack.champions
    assert len(stack.store.list_queue(MANUAL_TRIAGE, limit=500)) == queues[MANUAL_TRIAGE]
    assert stack.dead_letters() == []
    assert {(f, service) for f, service, _, _ in stack.invocations.aws_calls} == {
        ("intake", "s3"), ("triage", "s3"), ("triage", "dynamodb"), ("reconcile", "s3"), ("reconcile", "dynamodb")}
    assert_least_privilege(stack.invocations.aws_calls)
    finished = [r.fields for r in caplog.records if r.getMessage() == "invocation finished"]
    assert [f["function"] for f in finished] == ([f"{NAME_PREFIX}-intake"] + [f"{NAME_PREFIX}-triage"] * 3
                                                 + [f"{NAME_PREFIX}-reconcile"])
    assert finished[0]["cold_start"] and all(f["request_id"] for f in finished)


def metric_documents(stdout: str) -> list[dict]:
    """The embedded metric format documents among the lines a run wrote to stdout (what CloudWatch Logs reads)."""
    return [doc for line in stdout.splitlines() if line.startswith("{")
            for doc in [json.loads(line)] if "_aws" in doc]


def test_reconcile_writes_the_batchs_figures_as_cloudwatch_metrics(stack, real_batch, cfpb_rows, tmp_path, capsys):
    """One embedded metric format line per batch, its numbers the batch's; a smoke test's batch writes none."""
    path, ids = real_batch
    execution = stack.run(stack.put_batch("inbox/2026-05-03.csv", path))
    written = capsys.readouterr().out

    assert execution["status"] == "SUCCEEDED", execution
    [doc] = metric_documents(written)
    [directive] = doc["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == namespace(ENVIRONMENT) == f"Complaints/{ENVIRONMENT}"
    assert directive["Dimensions"] == [["Environment"]] and doc["Environment"] == ENVIRONMENT
    assert abs(doc["_aws"]["Timestamp"] / 1000 - time.time()) < 600  # milliseconds since the epoch, as EMF says
    figures = {m["Name"]: doc[m["Name"]] for m in directive["Metrics"]}
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        "Complaints": "Count", "Allocated": "Count", "ManualTriage": "Count", "SpecialistQueue": "Count",
        "ManualTriageShare": "None", "SpecialistShare": "None"}
    counts = summary(execution)
    specialist_queue = specialist_queues(load_tasks(Settings.from_env().tasks_file))
    specialist = sum(stack.store.get_allocation(i).queue in specialist_queue for i in ids)
    assert figures == {"Complaints": 250, "Allocated": counts["allocated"], "ManualTriage": counts["manual_triage"],
                       "SpecialistQueue": specialist,
                       "ManualTriageShare": round(counts["manual_triage"] / 250, 4),
                       "SpecialistShare": round(specialist / 250, 4)}
    assert counts["allocated"] + counts["manual_triage"] == 250 and specialist > 0
    assert set(doc) == {"_aws", "Environment", *figures}  # counts only: no id, batch, source or text
    assert not any(i in written for i in ids)

    smoke = [dict(row, **{"Complaint ID": f"smoke-1-{row['Complaint ID']}"}) for row in sample(cfpb_rows, 5, "smoke")]
    execution = stack.run(stack.put_batch("inbox/smoke-1.csv", write_csv(tmp_path / "smoke.csv", smoke)))
    assert execution["status"] == "SUCCEEDED" and summary(execution)["rows"] == 5
    assert metric_documents(capsys.readouterr().out) == []  # held in the smoke test queue: no one's work


def test_the_same_batch_twice_makes_no_duplicates(stack, real_batch):
    path, ids = real_batch
    first = stack.run(stack.put_batch("inbox/first.csv", path))
    allocated_at = {i: stack.store.get_allocation(i).allocated_at for i in ids[::25]}
    second = stack.run(stack.put_batch("inbox/again.csv", path))

    assert first["status"] == second["status"] == "SUCCEEDED"
    assert summary(second)["reused"] == 250
    assert stack.allocation_count() == 250
    assert {i: stack.store.get_allocation(i).allocated_at for i in ids[::25]} == allocated_at


def test_a_resend_finishes_a_complaint_a_stopped_batch_stored_and_never_allocated(stack, real_batch):
    path, ids = real_batch
    earlier = StoredComplaint(ids[0], "2024-05-01", "An earlier text, never allocated.", {}, "earlier-hash",
                              "batch-stopped", "2026-05-01T00:00:00.000+00:00")
    stack.store.put_complaint(earlier)  # stored by a run that stopped before allocating it
    execution = stack.run(stack.put_batch("inbox/resend.csv", path))
    assert execution["status"] == "SUCCEEDED" and summary(execution)["rejected"] == 3
    assert_every_row_ended(stack, execution, ids)
    assert stack.store.get_complaint(ids[0]).narrative != earlier.narrative  # the resend's content stands
    assert_least_privilege(stack.invocations.aws_calls)  # the triage role may write it over: a transaction


def test_a_chunk_whose_triage_fails_for_good_goes_to_manual_triage_at_once_and_nothing_is_lost(stack, real_batch):
    path, ids = real_batch

    def second_chunk_is_broken(event: dict) -> None:  # a permanent fault: retrying cannot help
        if event["key"].endswith("chunk-00002.json"):
            raise ValueError("the model's output has the wrong shape")

    stack.invocations.faults["triage"] = second_chunk_is_broken
    execution = stack.run(stack.put_batch("inbox/broken.csv", path))

    assert execution["status"] == "SUCCEEDED", execution
    reports = [report for _, report in chunk_reports(stack, execution)]
    assert [r["fallback"] for r in reports] == ["", "ValueError", ""]
    assert summary(execution)["fell_back"] == {"ValueError": 1}
    assert stack.invocations.calls == Counter({"intake": 1, "triage": 3, "manual_triage": 1, "reconcile": 1})
    assert stack.invocations.backoff_s == []  # a permanent error is not retried
    for complaint_id in ids[100:200]:
        allocation = stack.store.get_allocation(complaint_id)
        assert (allocation.queue, allocation.status) == (MANUAL_TRIAGE, NEEDS_TRIAGE)
        assert any("triage task failed after its retries: ValueError: the model's output has the wrong shape" in reason
                   for reason in allocation.reasons), allocation.reasons
        assert allocation.model_versions == stack.champions  # the versions that were to serve it
        assert stack.store.get_complaint(complaint_id) is not None
    assert_every_row_ended(stack, execution, ids)
    assert stack.allocation_count() == 250 and stack.dead_letters() == []
    assert_least_privilege(stack.invocations.aws_calls)


def test_a_triage_task_that_fails_once_is_retried_and_the_models_decide(stack, real_batch):
    path, ids = real_batch
    failed = set()
    read_text = runtime.read_text

    def first_read_throttled(bucket: str, key: str) -> str:  # S3 answers 503 SlowDown once per chunk
        if stack.invocations.current == "triage" and key not in failed:
            failed.add(key)
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."},
                               "ResponseMetadata": {"HTTPStatusCode": 503}}, "GetObject")
        return read_text(bucket, key)

    with mock.patch.object(runtime, "read_text", first_read_throttled):
        execution = stack.run(stack.put_batch("inbox/throttled.csv", path))

    assert execution["status"] == "SUCCEEDED"
    assert stack.invocations.calls["triage"] == 6 and stack.invocations.calls["manual_triage"] == 0
    assert len(stack.invocations.backoff_s) == 3 and all(0 <= wait <= 2 for wait in stack.invocations.backoff_s)
    assert not any("triage task failed" in r for i in ids for r in stack.store.get_allocation(i).reasons)
    assert_every_row_ended(stack, execution, ids)


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
    # A dropped connection is transient: retried 10 times (each wait a random share of 2, 4, ... 60 s), then
    # the chunk goes to manual triage.
    assert stack.invocations.calls["triage"] == 3 + 10 and stack.invocations.calls["manual_triage"] == 1
    assert len(stack.invocations.backoff_s) == 10 and max(stack.invocations.backoff_s) <= 60
    by_models = [stack.store.get_allocation(i) for i in ids[:40]]
    assert all(not any("triage task failed" in r for r in a.reasons) for a in by_models)
    fallback = [stack.store.get_allocation(i) for i in ids[40:100]]
    assert all(a.queue == MANUAL_TRIAGE and "TransientFault: ConnectionError: connection reset by peer"
               in " ".join(a.reasons) for a in fallback)
    assert summary(execution)["fell_back"] == {"TransientFault": 1}
    assert_every_row_ended(stack, execution, ids)
    assert stack.allocation_count() == 250


def test_a_chunk_nobody_can_triage_is_parked_in_the_dead_letter_queue_and_redriven(stack, real_batch):
    path, ids = real_batch

    def store_down(event: dict) -> None:
        if "chunk-00003" in json.dumps(event):
            raise ConnectionError("DynamoDB endpoint unreachable")

    stack.invocations.faults["triage"] = stack.invocations.faults["manual_triage"] = store_down
    key = stack.put_batch("inbox/outage.csv", path)
    execution = stack.run(key)

    # Reconcile finds the chunk without a report: the execution fails loudly, naming it, and the batch is
    # parked next to the chunk.
    assert (execution["status"], execution["error"]) == ("FAILED", "BatchIncomplete"), execution
    assert "1 of 3 chunks have no report" in execution["cause"] and "chunk-00003.json" in execution["cause"]
    parked, batch = sorted(stack.dead_letters(), key=lambda message: "intake" in message)
    assert parked["key"].endswith("chunk-00003.json") and parked["complaints"] == 50
    assert parked["error"]["Error"] == parked["fallback_error"]["Error"] == "ConnectionError"
    assert (batch["key"], batch["error"]["Error"], batch["intake"]["rows"]) == ("inbox/outage.csv", "BatchIncomplete", 253)
    staged = stack.s3.get_object(Bucket=BUCKET, Key=parked["key"])["Body"].read().decode()
    assert {c["complaint_id"] for c in json.loads(staged)["complaints"]} == set(ids[200:])  # nothing lost
    assert stack.allocation_count() == 200

    stack.invocations.faults.clear()  # the outage is over: re-send the batch file
    again = stack.run(stack.put_batch("inbox/outage-redrive.csv", path))
    assert again["status"] == "SUCCEEDED" and stack.allocation_count() == 250
    assert summary(again)["reused"] == 200
    assert_every_row_ended(stack, again, ids)


def test_a_batch_refused_whole_fails_the_execution_and_is_parked(stack, cfpb_rows, tmp_path):
    rows = [{k: v for k, v in row.items() if k != "Date received"} for row in sample(cfpb_rows, 5)]
    execution = stack.run(stack.put_batch("inbox/no-dates.csv", write_csv(tmp_path / "no-dates.csv", rows)))

    assert (execution["status"], execution["error"]) == ("FAILED", "IntakeError")
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


def test_a_batch_of_many_chunks_keeps_the_state_small_and_reconciles(stack, cfpb_rows, tmp_path, monkeypatch):
    """The payload limit (256 KiB, States.DataLimitExceeded, which no Catch handles) cannot be reached:
    Intake returns the same six counts and keys for 250 chunks as for 2,000 (the list is in S3), the Map
    keeps no result, and Reconcile reads every chunk's report from S3."""
    from functions import intake, reconcile

    rows = sample(cfpb_rows, 250, salt="aws")
    stack.put_batch("inbox/many.csv", write_csv(tmp_path / "many.csv", rows))
    monkeypatch.setenv("COMPLAINTS_CHUNK_PREFIX", "chunks/")
    monkeypatch.setenv("COMPLAINTS_CHUNK_SIZE", "1")
    monkeypatch.setenv("COMPLAINTS_STORE_URL", f"dynamodb://{NAME_PREFIX}?region={REGION}")  # reconcile records it
    monkeypatch.setenv("COMPLAINTS_REGISTRY_URL", f"file://{tmp_path / 'opt-models'}")
    monkeypatch.setenv("COMPLAINTS_ENVIRONMENT", ENVIRONMENT)
    staged = intake.handler({"bucket": BUCKET, "key": "inbox/many.csv", "execution": "many"}, None)
    assert staged["chunks"] == 250 and set(staged) == {"batch_id", "source", "source_sha256", "started_at", "rows",
                                                        "rejected", "chunks", "bucket", "manifest"}
    assert len(json.dumps(staged)) < 512
    chunks = json.loads(stack.s3.get_object(Bucket=BUCKET, Key=staged["manifest"])["Body"].read())
    assert len({c["key"] for c in chunks}) == 250
    for number, chunk in enumerate(chunks):  # what triage leaves: one complaint each, one went to people
        report = BatchReport(staged["batch_id"], staged["source"], rows=1, allocated=int(number > 0),
                             manual_triage=int(number == 0))
        kept = runtime.ChunkReport(report=report.as_json(), fallback="")
        runtime.write_json(BUCKET, runtime.report_key(chunk["key"]), kept)

    result = reconcile.handler(staged, None)
    assert result == {"rows": 250, "allocated": 249, "manual_triage": 1, "rejected": 0, "reused": 0,
                      "chunks": 250, "fell_back": {}}
    assert stack.store.get_batch(staged["batch_id"]).counts["rows"] == 250  # the batch, recorded once
    stack.s3.delete_object(Bucket=BUCKET, Key=runtime.report_key(chunks[7]["key"]))  # a chunk parked
    with pytest.raises(reconcile.BatchIncomplete, match="1 of 250 chunks have no report: chunks/many/chunk-00008"):
        reconcile.handler(staged, None)
