"""The AWS store: one DynamoDB table per SQLite table, named ``<prefix>-<table>``.

Items hold their key attributes and the whole record as a JSON ``body``, exactly as the SQLite rows do,
so floats stay exact and both backends read and write identical records. Write-once tables use
``attribute_not_exists`` conditions, the strategy table a condition on the revision read, a batch's record one on
the record read, a retriage one
transaction (the allocation, conditional on the one read, and its history item), a correction another (the
correction, unless its key is stored, and the allocation's queue and revision, conditional on the revision read), a
complaint written again a third (conditional on its having no allocation). Items are keyed as
complaints/store/tables.py declares; Terraform (``infra/modules/store``) creates the tables, and
tests/test_infra.py holds it to that declaration.

Every read of a table's own keys is strongly consistent (``ConsistentRead``): nearly every one decides a
write (triage's is-it-stored check, the strategy read before its conditional write, retriage's read before
its compare-and-set, the idempotency key checks of corrections and audit events), and an eventually
consistent read there could send a complaint through twice or a correction against a stale label. Queries
of a secondary index (queues, the audit log by time) cannot be consistent; retriage only picks candidates
there and reads each again, consistently, before it writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
from botocore.exceptions import ClientError

from complaints.records import (
    Allocation, ApiUser, AuditEvent, Explanation, Feedback, GateDecision, ModelInfo, ModelStrategy, Placement,
    RejectedRow, ReleaseRecord, StoredComplaint, TriageBatch,
)
from complaints.store.base import TriageStore, decode, decode_all, encode
from complaints.store.tables import TABLES

QUEUE_INDEX = TABLES["complaints_allocation"].item_index.name  # the ops queues by (queue, allocated_at)
ANALYST_INDEX = TABLES["feedback"].item_index.name  # corrections by (analyst, at): the daily quota
AUDIT_INDEX = TABLES["audit_log"].item_index.name  # the audit log by (log, at_event): its parts, by time


def _placement(item: dict) -> Placement:
    return Placement(decode(Allocation, item["body"]["S"]), item["queue"]["S"], int(item["revision"]["N"]))


class DynamoDBStore(TriageStore):
    def __init__(self, table_prefix: str, client: Any = None, **client_args: Any):
        self.table_prefix = table_prefix
        self._client = client or boto3.client("dynamodb", **client_args)

    @classmethod
    def from_url(cls, url: str) -> "DynamoDBStore":
        """``dynamodb://<table-prefix>[?region=us-east-1][&endpoint_url=http://localhost:8000]``."""
        parsed = urlparse(url)
        query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
        unknown = set(query) - {"region", "endpoint_url"}
        if not parsed.netloc or unknown:
            raise ValueError(f"bad DynamoDB store URL {url!r}: expected dynamodb://<table-prefix>"
                             f"[?region=REGION][&endpoint_url=URL]")
        args = {k: v for k, v in (("region_name", query.get("region")), ("endpoint_url", query.get("endpoint_url"))) if v}
        return cls(parsed.netloc, **args)

    def table_name(self, table: str) -> str:
        return f"{self.table_prefix}-{table}"

    # -- item plumbing: every item is its key attributes (and the strategy's revision) plus the record's JSON body
    def _item(self, table: str, record: Any, **attributes: Any) -> dict[str, dict[str, str]]:
        schema = TABLES[table]
        item = {name: {schema.attribute_type(name): str(value)} for name, value in attributes.items()}
        item["body"] = {"S": encode(record)}
        return item

    def _put(self, table: str, item: dict, condition: str | None = None, values: dict | None = None) -> bool:
        args: dict[str, Any] = {"TableName": self.table_name(table), "Item": item}
        if condition:
            args["ConditionExpression"] = condition
        if values:
            args["ExpressionAttributeValues"] = values
        try:
            self._client.put_item(**args)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _put_new(self, table: str, item: dict) -> bool:
        """Put the item unless its key is stored; True when written."""
        return self._put(table, item, f"attribute_not_exists({TABLES[table].hash_key})")

    def _get_item(self, table: str, **keys: Any) -> dict | None:
        schema = TABLES[table]
        key = {name: {schema.attribute_type(name): str(value)} for name, value in keys.items()}
        return self._client.get_item(TableName=self.table_name(table), Key=key, ConsistentRead=True).get("Item")

    def _get(self, table: str, **keys: Any) -> str | None:
        item = self._get_item(table, **keys)
        return item["body"]["S"] if item else None

    def _pages(self, table: str, limit: int | None = None, **args: Any) -> Iterator[dict]:
        """The query's pages (up to ``limit`` items in all), each read from where the last stopped; consistent
        unless of an index."""
        args = {"TableName": self.table_name(table), "ConsistentRead": "IndexName" not in args, **args}
        read = 0
        while limit is None or read < limit:
            page = self._client.query(**args, **({"Limit": limit - read} if limit else {}))
            read += page["Count"]
            yield page
            if "LastEvaluatedKey" not in page:
                return
            args["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _query_items(self, table: str, limit: int | None = None, **args: Any) -> list[dict]:
        """Every item the query matches, or the first ``limit``."""
        return [item for page in self._pages(table, limit, **args) for item in page["Items"]]

    def _query(self, table: str, limit: int | None = None, **args: Any) -> list[str]:
        return [item["body"]["S"] for item in self._query_items(table, limit, **args)]

    def _count(self, table: str, **args: Any) -> int:
        """How many items the query matches, counted by DynamoDB page by page (no bodies sent back)."""
        return sum(page["Count"] for page in self._pages(table, Select="COUNT", **args))

    def _transact(self, *writes: dict) -> list[str | None] | None:
        """Write all or nothing; None when written, else each write's cancellation reason (a failed condition:
        ``ConditionalCheckFailed``)."""
        try:
            self._client.transact_write_items(TransactItems=list(writes))
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
            if "ConditionalCheckFailed" not in reasons:
                raise
            return reasons
        return None

    def _scan(self, table: str) -> list[str]:
        pages = self._client.get_paginator("scan").paginate(TableName=self.table_name(table), ConsistentRead=True)
        return [item["body"]["S"] for page in pages for item in page["Items"]]

    # -- the store interface
    def put_complaint(self, complaint: StoredComplaint) -> bool:
        return self._put_new("raw_complaints", self._item("raw_complaints", complaint, complaint_id=complaint.complaint_id))

    def get_complaint(self, complaint_id: str) -> StoredComplaint | None:
        return decode(StoredComplaint, self._get("raw_complaints", complaint_id=complaint_id))

    def list_unallocated(self) -> list[StoredComplaint]:
        """No index knows which complaints have no allocation: every stored complaint's key is read (a scan),
        page by page, and looked up in the allocations a hundred at a time; only those without one are read whole."""
        pages = self._client.get_paginator("scan").paginate(TableName=self.table_name("raw_complaints"),
                                                            ConsistentRead=True, ProjectionExpression="complaint_id")
        unallocated = []
        for page in pages:
            ids = [item["complaint_id"]["S"] for item in page["Items"]]
            for start in range(0, len(ids), 100):
                allocated = self._allocated(ids[start:start + 100])
                unallocated += [i for i in ids[start:start + 100] if i not in allocated]
        return [self.get_complaint(complaint_id) for complaint_id in sorted(unallocated)]

    def _allocated(self, complaint_ids: list[str]) -> set[str]:
        """Which of these complaints (a hundred at most: one batch read) have an allocation, read consistently."""
        request = {self.table_name("complaints_allocation"): {
            "Keys": [{"complaint_id": {"S": i}} for i in complaint_ids], "ConsistentRead": True,
            "ProjectionExpression": "complaint_id"}}
        found: set[str] = set()
        while request:
            answer = self._client.batch_get_item(RequestItems=request)
            found.update(item["complaint_id"]["S"] for items in answer["Responses"].values() for item in items)
            request = answer.get("UnprocessedKeys")
        return found

    def replace_unallocated_complaint(self, complaint: StoredComplaint) -> bool:
        return self._transact(
            {"ConditionCheck": {"TableName": self.table_name("complaints_allocation"),
                                "Key": {"complaint_id": {"S": complaint.complaint_id}},
                                "ConditionExpression": "attribute_not_exists(complaint_id)"}},
            {"Put": {"TableName": self.table_name("raw_complaints"),
                     "Item": self._item("raw_complaints", complaint, complaint_id=complaint.complaint_id),
                     "ConditionExpression": "attribute_exists(complaint_id)"}},
        ) is None

    def _allocation_item(self, allocation: Allocation, queue: str, revision: int) -> dict[str, dict[str, str]]:
        return self._item("complaints_allocation", allocation, complaint_id=allocation.complaint_id, queue=queue,
                          allocated_at=allocation.allocated_at, revision=revision)

    def put_allocation(self, allocation: Allocation) -> bool:
        return self._put_new("complaints_allocation", self._allocation_item(allocation, allocation.queue, 0))

    def get_allocation(self, complaint_id: str) -> Allocation | None:
        return decode(Allocation, self._get("complaints_allocation", complaint_id=complaint_id))

    def get_placement(self, complaint_id: str) -> Placement | None:
        item = self._get_item("complaints_allocation", complaint_id=complaint_id)
        return _placement(item) if item else None

    def list_queue(self, queue: str, limit: int | None = 100, since: str | None = None, offset: int = 0,
                   oldest_first: bool = False) -> list[Placement]:
        """An index has no offset: the ``offset`` skipped are read and dropped, so deep pages cost what they skip."""
        condition, values = "#q = :q", {":q": {"S": queue}}
        if since:
            condition += " AND allocated_at >= :since"
            values[":since"] = {"S": since}
        items = self._query_items(
            "complaints_allocation", None if limit is None else offset + limit, IndexName=QUEUE_INDEX,
            ScanIndexForward=oldest_first, KeyConditionExpression=condition, ExpressionAttributeNames={"#q": "queue"},
            ExpressionAttributeValues=values)
        return [_placement(item) for item in items[offset:]]

    def count_queue(self, queue: str) -> int:
        return self._count("complaints_allocation", IndexName=QUEUE_INDEX, KeyConditionExpression="#q = :q",
                           ExpressionAttributeNames={"#q": "queue"}, ExpressionAttributeValues={":q": {"S": queue}})

    def _swap_allocation(self, allocation: Allocation, read: Allocation) -> bool:
        history = self._item("allocation_history", read, complaint_id=read.complaint_id, allocated_at=read.allocated_at)
        return self._transact(
            {"Put": {"TableName": self.table_name("complaints_allocation"),
                     "Item": self._allocation_item(allocation, allocation.queue, 0),
                     "ConditionExpression": "allocated_at = :read AND revision = :uncorrected",
                     "ExpressionAttributeValues": {":read": {"S": read.allocated_at}, ":uncorrected": {"N": "0"}}}},
            {"Put": {"TableName": self.table_name("allocation_history"), "Item": history,
                     "ConditionExpression": "attribute_not_exists(complaint_id)"}},
        ) is None

    def list_allocation_history(self, complaint_id: str) -> list[Allocation]:
        return decode_all(Allocation, self._query("allocation_history", KeyConditionExpression="complaint_id = :c",
                                                  ExpressionAttributeValues={":c": {"S": complaint_id}}))

    def put_model_info(self, info: ModelInfo) -> bool:
        return self._put_new("model_info", self._item("model_info", info, task=info.task, version=info.version))

    def get_model_info(self, task: str, version: str) -> ModelInfo | None:
        return decode(ModelInfo, self._get("model_info", task=task, version=version))

    def get_strategy(self, task: str) -> ModelStrategy | None:
        return decode(ModelStrategy, self._get("model_strategy", task=task))

    def _write_strategy(self, written: ModelStrategy, read_revision: int) -> bool:
        item = self._item("model_strategy", written, task=written.task, revision=written.revision)
        if read_revision == 0:
            return self._put_new("model_strategy", item)
        return self._put("model_strategy", item, "revision = :read", {":read": {"N": str(read_revision)}})

    def _feedback_item(self, feedback: Feedback) -> dict[str, dict[str, str]]:
        return self._item("feedback", feedback, complaint_id=feedback.complaint_id,
                          idempotency_key=feedback.idempotency_key, analyst=feedback.analyst, at=feedback.at)

    def _insert_feedback(self, feedback: Feedback) -> bool:
        return self._put_new("feedback", self._feedback_item(feedback))

    def _append_correction(self, feedback: Feedback, queue: str) -> bool | None:
        reasons = self._transact(
            {"Put": {"TableName": self.table_name("feedback"), "Item": self._feedback_item(feedback),
                     "ConditionExpression": "attribute_not_exists(complaint_id)"}},
            {"Update": {"TableName": self.table_name("complaints_allocation"),
                        "Key": {"complaint_id": {"S": feedback.complaint_id}},
                        "UpdateExpression": "SET #q = :queue, revision = :revision",
                        "ConditionExpression": "revision = :read",
                        "ExpressionAttributeNames": {"#q": "queue"},
                        "ExpressionAttributeValues": {":queue": {"S": queue},
                                                      ":revision": {"N": str(feedback.revision)},
                                                      ":read": {"N": str(feedback.revision - 1)}}}},
        )
        if reasons is None:
            return True
        return None if reasons[0] == "ConditionalCheckFailed" else False

    def _get_feedback(self, complaint_id: str, idempotency_key: str) -> Feedback | None:
        return decode(Feedback, self._get("feedback", complaint_id=complaint_id, idempotency_key=idempotency_key))

    def list_feedback(self, complaint_id: str | None = None) -> list[Feedback]:
        """No key orders corrections by time; a complaint has few, so they are read and sorted here."""
        if complaint_id is None:
            rows = decode_all(Feedback, self._scan("feedback"))
        else:
            rows = decode_all(Feedback, self._query("feedback", KeyConditionExpression="complaint_id = :c",
                                                    ExpressionAttributeValues={":c": {"S": complaint_id}}))
        return sorted(rows, key=lambda f: (f.at, f.complaint_id, f.idempotency_key))

    def count_corrections(self, analyst: str, since: str) -> int:
        return self._count("feedback", IndexName=ANALYST_INDEX, KeyConditionExpression="analyst = :a AND #at >= :since",
                           ExpressionAttributeNames={"#at": "at"},
                           ExpressionAttributeValues={":a": {"S": analyst}, ":since": {"S": since}})

    def put_rejection(self, rejection: RejectedRow) -> None:
        self._put("rejected_rows", self._item("rejected_rows", rejection, batch_id=rejection.batch_id,
                                              row_number=rejection.row_number))

    def list_rejections(self, batch_id: str) -> list[RejectedRow]:
        return decode_all(RejectedRow, self._query("rejected_rows", KeyConditionExpression="batch_id = :b",
                                                   ExpressionAttributeValues={":b": {"S": batch_id}}))

    def _write_batch(self, written: TriageBatch, read: TriageBatch | None) -> bool:
        """Conditional on the body as stored, once it decodes to ``read``: a record stored before it had reruns
        holds no such key."""
        body = self._get("triage_batches", batch_id=written.batch_id)
        if decode(TriageBatch, body) != read:
            return False
        item = self._item("triage_batches", written, batch_id=written.batch_id)
        if body is None:
            return self._put_new("triage_batches", item)
        return self._put("triage_batches", item, "body = :read", {":read": {"S": body}})

    def get_batch(self, batch_id: str) -> TriageBatch | None:
        return decode(TriageBatch, self._get("triage_batches", batch_id=batch_id))

    def _insert_audit(self, event: AuditEvent) -> bool:
        return self._put_new("audit_log", self._item("audit_log", event, event_id=event.event_id, log=event.log,
                                                     at_event=f"{event.at}#{event.event_id}"))

    def _get_audit(self, event_id: str) -> AuditEvent | None:
        return decode(AuditEvent, self._get("audit_log", event_id=event_id))

    def list_audit(self, limit: int = 100, serving_only: bool = False) -> list[AuditEvent]:
        """Each part of the log is a partition of the time index; every event is the newest of both, merged."""
        events = [event for log in (("serving",) if serving_only else ("serving", "audit"))
                  for event in decode_all(AuditEvent, self._query(
                      "audit_log", limit, IndexName=AUDIT_INDEX, ScanIndexForward=False,
                      KeyConditionExpression="#log = :log", ExpressionAttributeNames={"#log": "log"},
                      ExpressionAttributeValues={":log": {"S": log}}))]
        return sorted(events, key=lambda e: (e.at, e.event_id), reverse=True)[:limit]

    def put_gate_decision(self, decision: GateDecision) -> bool:
        return self._put_new("gate_decisions", self._item(
            "gate_decisions", decision, task=decision.task,
            challenger_champion=f"{decision.challenger}#{decision.champion}"))

    def list_gate_decisions(self, task: str, challenger: str | None = None) -> list[GateDecision]:
        """No key orders a task's verdicts by time; they are few, so all are read and sorted here."""
        condition, values = "task = :t", {":t": {"S": task}}
        if challenger is not None:
            condition += " AND begins_with(challenger_champion, :c)"
            values[":c"] = {"S": f"{challenger}#"}
        rows = decode_all(GateDecision, self._query("gate_decisions", KeyConditionExpression=condition,
                                                    ExpressionAttributeValues=values))
        return sorted(rows, key=lambda d: (d.decided_at, d.challenger, d.champion), reverse=True)

    def put_release(self, record: ReleaseRecord) -> bool:
        return self._put_new("releases", self._item("releases", record, environment=record.environment,
                                                    applied_release=f"{record.applied_at}#{record.release_id}"))

    def list_releases(self, environment: str, limit: int = 100) -> list[ReleaseRecord]:
        return decode_all(ReleaseRecord, self._query(
            "releases", limit, ScanIndexForward=False, KeyConditionExpression="environment = :e",
            ExpressionAttributeValues={":e": {"S": environment}}))

    def put_user(self, user: ApiUser) -> None:
        self._put("users", self._item("users", user, username=user.name))

    def get_user(self, name: str) -> ApiUser | None:
        return decode(ApiUser, self._get("users", username=name))

    def list_users(self) -> list[ApiUser]:
        return sorted(decode_all(ApiUser, self._scan("users")), key=lambda user: user.name)

    def put_explanation(self, explanation: Explanation) -> bool:
        return self._put_new("explanations", self._item(
            "explanations", explanation, complaint_id=explanation.complaint_id,
            task_version=f"{explanation.task}#{explanation.version}"))

    def get_explanation(self, complaint_id: str, task: str, version: str) -> Explanation | None:
        return decode(Explanation, self._get("explanations", complaint_id=complaint_id, task_version=f"{task}#{version}"))

    def list_explanations(self, complaint_id: str) -> list[Explanation]:
        rows = decode_all(Explanation, self._query("explanations", KeyConditionExpression="complaint_id = :c",
                                                   ExpressionAttributeValues={":c": {"S": complaint_id}}))
        return sorted(rows, key=lambda e: (e.task, e.version))
