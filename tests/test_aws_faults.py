"""Faults injected into the deployed pipeline: the real state machine executed by moto, the real handlers, the
real DynamoDB store (on moto) and the trained models, staged as the image stages them.

Each fault ends with every complaint of the batch allocated, in manual triage or rejected with its reason,
the counts adding up against the store (Reconcile checks them, and so does each test), and a replay of the
same input completes the rest without writing anything twice. How each fault is made, and why it is the
fault AWS would give:

- the store throttled or refusing: the DynamoDB call raises the ClientError AWS returns, injected at
  botocore's ``_make_api_call``, so it is what the handler sees after botocore's own retries gave up;
- a model that cannot load: a file of the staged model version is changed, so the registry's hash check
  refuses it, as it would refuse a corrupted image;
- the registry unreachable: the registry's fetch raises ``ConnectionError``, as a remote registry would;
- a Lambda throttled: moto's Lambda answers ``Invoke`` with ``TooManyRequestsException`` (HTTP 429), as
  Lambda does when the reserved concurrency is used up;
- a task that times out: the invocation hangs, and moto's Step Functions enforces the deployed
  ``TimeoutSeconds`` on a clock 60 times faster (330 s become 5.5 s), raising ``States.Timeout`` itself.

Retry waits are recorded instead of slept (the stack's fixture), so each test checks the deployed schedule.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaFunction
from moto.stepfunctions.parser.asl.component.state.exec import execute_state

from complaints.records import ALLOCATED, MANUAL_TRIAGE
from complaints.registry.local import LocalRegistry
from conftest import sample, write_csv
from testing.moto_stack import NAME_PREFIX, REGION, Stack
from test_aws_state_machine import assert_every_row_ended, assert_least_privilege, stack, summary  # noqa: F401

CLOCK_SPEEDUP = 60


@pytest.fixture
def batch(cfpb_rows, tmp_path) -> tuple[Path, list[str]]:
    """150 real complaints (two chunks) and a row that must be rejected (an empty narrative)."""
    rows = sample(cfpb_rows, 150, salt="faults")
    bad = dict(rows[0], **{"Complaint ID": "bad-1", "Consumer complaint narrative": ""})
    return write_csv(tmp_path / "batch.csv", rows + [bad]), [r["Complaint ID"] for r in rows]


def _dynamodb_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} (injected)"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "PutItem")


def _failing_allocation_writes(stack: Stack, complaints: list[str], fails, function: str = "triage"):
    """``BaseClient._make_api_call``, except that the allocation writes of ``function`` for ``complaints`` for
    which ``fails(n)`` (n counting them from 1) returns an error raise it instead of reaching the table."""
    make_api_call, writes, targets = BaseClient._make_api_call, Counter(), set(complaints)

    def call(self: BaseClient, operation: str, params: dict):
        if (operation == "PutItem" and stack.invocations.current == function
                and params.get("TableName") == f"{NAME_PREFIX}-complaints_allocation"
                and params["Item"]["complaint_id"]["S"] in targets):
            writes["n"] += 1
            if error := fails(writes["n"]):
                raise error
        return make_api_call(self, operation, params)

    return call


def _registry_root(stack: Stack) -> Path:
    """The models the triage function serves: its COMPLAINTS_REGISTRY_URL (the image's /opt/models)."""
    configuration = boto3.client("lambda", region_name=REGION).get_function_configuration(
        FunctionName=stack.functions["triage"])
    return Path(configuration["Environment"]["Variables"]["COMPLAINTS_REGISTRY_URL"].removeprefix("file://"))


def replay_completes_the_rest(stack: Stack, key: str, ids: list[str]) -> dict:
    """The same input again: what was done is reused, not written twice, and every complaint has ended."""
    before = {i: a.allocated_at for i in ids if (a := stack.store.get_allocation(i))}
    again = stack.run(key)
    assert again["status"] == "SUCCEEDED", again
    assert summary(again)["reused"] == len(before) and stack.allocation_count() == len(ids)
    assert {i: stack.store.get_allocation(i).allocated_at for i in before} == before
    assert_every_row_ended(stack, again, ids)
    return again


def test_a_store_throttled_mid_chunk_heals_by_retrying_and_nothing_is_written_twice(stack, batch):
    path, ids = batch
    throttled = _failing_allocation_writes(  # chunk 1's writes 41 to 45 are refused: the table adapts to a burst
        stack, ids[:100], lambda n: _dynamodb_error("ProvisionedThroughputExceededException", 400) if 41 <= n <= 45 else None)
    with mock.patch.object(BaseClient, "_make_api_call", throttled):
        execution = stack.run(key := stack.put_batch("inbox/throttled.csv", path))

    assert execution["status"] == "SUCCEEDED", execution
    # Each refused write fails the attempt as a TransientFault; the next attempt reuses what was written.
    assert stack.invocations.calls["triage"] == 2 + 5 and stack.invocations.calls["manual_triage"] == 0
    assert [wait <= cap for wait, cap in zip(stack.invocations.backoff_s, [2, 4, 8, 16, 32])] == [True] * 5
    counts = summary(execution)
    assert (counts["rows"], counts["rejected"], counts["fell_back"]) == (151, 1, {})
    assert not any("triage task failed" in r for i in ids for r in stack.store.get_allocation(i).reasons)
    assert_every_row_ended(stack, execution, ids)
    assert stack.allocation_count() == 150 and stack.dead_letters() == []
    assert_least_privilege(stack.invocations.aws_calls)
    replay_completes_the_rest(stack, key, ids)


def test_a_store_that_refuses_for_good_sends_the_rest_of_the_chunk_to_manual_triage_at_once(stack, batch):
    path, ids = batch
    refused = _failing_allocation_writes(  # the triage role lost its grant after chunk 1's 40th write: permanent
        stack, ids[:100], lambda n: _dynamodb_error("AccessDeniedException", 400) if n > 40 else None)
    with mock.patch.object(BaseClient, "_make_api_call", refused):
        execution = stack.run(key := stack.put_batch("inbox/refused.csv", path))

    assert execution["status"] == "SUCCEEDED", execution
    assert stack.invocations.backoff_s == []  # not transient: no retry
    assert summary(execution)["fell_back"] == {"ClientError": 1}
    by_models = [stack.store.get_allocation(i) for i in ids[:40]]
    assert all(not any("triage task failed" in r for r in a.reasons) for a in by_models)
    for complaint_id in ids[40:100]:
        allocation = stack.store.get_allocation(complaint_id)
        assert allocation.queue == MANUAL_TRIAGE
        assert any("ClientError" in r and "AccessDeniedException" in r for r in allocation.reasons), allocation.reasons
    assert_every_row_ended(stack, execution, ids)
    replay_completes_the_rest(stack, key, ids)


def test_models_that_cannot_load_send_their_complaints_to_manual_triage_with_the_reason(stack, batch):
    path, ids = batch
    registry = _registry_root(stack)
    for task, version in stack.champions.items():  # the image's models were corrupted
        weights = next(f for f in sorted((registry / task / version).rglob("*")) if f.is_file() and f.name != "README.md")
        weights.write_bytes(weights.read_bytes() + b"corrupted")

    execution = stack.run(key := stack.put_batch("inbox/broken-models.csv", path))

    assert execution["status"] == "SUCCEEDED", execution
    assert stack.invocations.backoff_s == [] and stack.invocations.calls["manual_triage"] == 0
    assert (summary(execution)["manual_triage"], summary(execution)["allocated"]) == (150, 0)
    for complaint_id in ids:
        allocation = stack.store.get_allocation(complaint_id)
        assert allocation.queue == MANUAL_TRIAGE
        assert any("model failed: RegistryError" in r and "was modified" in r for r in allocation.reasons)
    assert_every_row_ended(stack, execution, ids)
    replay_completes_the_rest(stack, key, ids)


def test_an_unreachable_registry_sends_complaints_to_manual_triage_with_the_reason(stack, batch):
    path, ids = batch

    def unreachable(self, task: str, version: str) -> Path:
        raise ConnectionError(f"registry unreachable fetching {task}@{version}")

    with mock.patch.object(LocalRegistry, "fetch", unreachable):
        execution = stack.run(key := stack.put_batch("inbox/no-registry.csv", path))

    # The pipeline answers a model it cannot fetch as a failed prediction (complaints/pipeline.py), so the
    # handler does not fail and the state machine has nothing to retry: people get the complaints now.
    assert execution["status"] == "SUCCEEDED", execution
    assert summary(execution)["manual_triage"] == 150 and stack.invocations.backoff_s == []
    assert all(any("ConnectionError: registry unreachable" in r for r in stack.store.get_allocation(i).reasons)
               for i in ids)
    assert_every_row_ended(stack, execution, ids)
    replay_completes_the_rest(stack, key, ids)


def test_a_throttled_lambda_is_retried_with_backoff_until_it_runs(stack, batch):
    path, ids = batch
    invoke, throttled = LambdaFunction.invoke, Counter()

    class TooManyRequests(LambdaClientError):
        code = 429

    def reserved_concurrency_used_up(self: LambdaFunction, *args, **kwargs):
        if self.function_name == f"{NAME_PREFIX}-triage" and throttled["n"] < 4:
            throttled["n"] += 1
            raise TooManyRequests("TooManyRequestsException", "Rate Exceeded.")
        return invoke(self, *args, **kwargs)

    with mock.patch.object(LambdaFunction, "invoke", reserved_concurrency_used_up):
        execution = stack.run(key := stack.put_batch("inbox/lambda-throttled.csv", path))

    assert execution["status"] == "SUCCEEDED", execution
    assert throttled["n"] == 4 and len(stack.invocations.backoff_s) == 4
    assert all(0 <= wait <= 120 for wait in stack.invocations.backoff_s)
    assert stack.invocations.calls["triage"] == 2 and stack.invocations.calls["manual_triage"] == 0
    assert summary(execution)["fell_back"] == {}
    assert_every_row_ended(stack, execution, ids)
    replay_completes_the_rest(stack, key, ids)


def test_a_task_that_times_out_is_retried_then_goes_to_manual_triage(stack, cfpb_rows, tmp_path):
    rows = sample(cfpb_rows, 60, salt="timeout")  # one chunk
    ids = [r["Complaint ID"] for r in rows]
    path = write_csv(tmp_path / "slow.csv", rows)
    invoke, released, timeouts = LambdaFunction.invoke, threading.Event(), []

    class FastEvent(threading.Event):  # moto's TimeoutSeconds wait, on a faster clock
        def wait(self, timeout: float | None = None) -> bool:
            timeouts.append(timeout)
            return super().wait(None if timeout is None else timeout / CLOCK_SPEEDUP)

    def triage_hangs(self: LambdaFunction, *args, **kwargs):
        if self.function_name == f"{NAME_PREFIX}-triage":
            released.wait(60)  # until Lambda would kill it; Step Functions stops waiting first
            raise TimeoutError("the hung invocation ended")
        return invoke(self, *args, **kwargs)

    try:
        with (mock.patch.object(execute_state, "threading", SimpleNamespace(Event=FastEvent)),
              mock.patch.object(LambdaFunction, "invoke", triage_hangs)):
            execution = stack.run(key := stack.put_batch("inbox/slow.csv", path))
    finally:
        released.set()

    assert execution["status"] == "SUCCEEDED", execution
    assert 330 in timeouts  # the deployed TimeoutSeconds: the function's 300 s timeout and 30 s
    assert len(stack.invocations.backoff_s) == 2 and all(w <= cap for w, cap in zip(stack.invocations.backoff_s, [10, 20]))
    assert summary(execution)["fell_back"] == {"States.Timeout": 1}
    for complaint_id in ids:
        allocation = stack.store.get_allocation(complaint_id)
        assert allocation.queue == MANUAL_TRIAGE and allocation.status != ALLOCATED
        assert any("triage task failed after its retries: States.Timeout" in r for r in allocation.reasons)
    assert_every_row_ended(stack, execution, ids)
    replay_completes_the_rest(stack, key, ids)
