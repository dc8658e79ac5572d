"""`make smoke`: the post-deploy smoke test, run against the whole stack on moto (test_aws_state_machine's
`stack`: the real state machine definition, the real handlers, moto's S3, DynamoDB and Step Functions)."""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest

from complaints.access import queues
from complaints.config import Settings, default_data_path
from complaints.routing import SMOKE_TEST_QUEUE
from complaints.tasks import load_tasks
from complaints.taxonomy import Taxonomy
from tools import smoke
from test_aws_state_machine import BUCKET, stack  # noqa: F401 - stack is the fixture these tests run on

ENV = "test"  # the stack fixture names everything complaints-test-...


class EventBridge:
    """The S3 client, plus what S3 -> EventBridge -> Step Functions does in AWS for a new object under inbox/:
    moto's S3 sends no event, and moto's EventBridge starts no state machine, so this starts the execution
    itself, with the input the rule's transformer renders ({"bucket", "key"}) and a name that is not the key's.
    ``others`` arrive at the same moment: the smoke test must find its own execution among them."""

    def __init__(self, s3, sfn, state_machine_arn: str, others: tuple[str, ...] = ()):
        self._s3, self._sfn, self._arn, self._others = s3, sfn, state_machine_arn, others

    def put_object(self, **request):
        answer = self._s3.put_object(**request)
        for key in (*self._others, request["Key"]):
            if key.startswith("inbox/"):
                self._sfn.start_execution(stateMachineArn=self._arn, name=str(uuid.uuid4()),
                                          input=json.dumps({"bucket": request["Bucket"], "key": key}))
        return answer

    def __getattr__(self, name):
        return getattr(self._s3, name)


def smoke_report(out: str) -> dict:
    """The smoke test's report: the last line it prints. The functions run in this process on moto, so the metric
    lines Reconcile writes to stdout for CloudWatch (complaints/metrics.py) come before it."""
    return json.loads(out.strip().splitlines()[-1])


def run(stack, s3, *extra: str) -> int:
    return smoke.main(["--env", ENV, "--bucket", BUCKET, "--state-machine-arn", stack.state_machine_arn,
                       "--poll", "0.05", "--timeout", "120", *extra], s3=s3, sfn=stack.sfn)


def test_real_complaints_go_through_the_deployed_pipeline_and_the_smoke_test_passes(stack, capsys, tmp_path):
    earlier = tmp_path / "earlier.csv"  # a batch of the day, triaged before the deploy
    earlier.write_bytes(smoke.smoke_batch(default_data_path(), 5, "earlier"))
    assert stack.run(stack.put_batch("inbox/earlier.csv", earlier))["status"] == "SUCCEEDED"
    s3 = EventBridge(stack.s3, stack.sfn, stack.state_machine_arn, others=("inbox/partner-drop.csv",))

    assert run(stack, s3) == 0, capsys.readouterr().err
    report = smoke_report(capsys.readouterr().out)
    assert report["passed"] and report["status"] == "SUCCEEDED" and report["rows"] == 25
    assert report["allocated"] + report["manual_triage"] + report["rejected"] == 25 and report["reused"] == 0
    key = report["batch"].removeprefix(f"s3://{BUCKET}/")
    assert key.startswith("inbox/smoke-") and key.endswith(".csv")
    started = json.loads(stack.sfn.describe_execution(executionArn=report["execution"])["input"])
    assert started == {"bucket": BUCKET, "key": key}

    sent = list(csv.DictReader(io.StringIO(stack.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode())))
    stamp = key.removeprefix("inbox/smoke-").removesuffix(".csv")
    assert len(sent) == 25 and all(row["Complaint ID"].startswith(f"smoke-{stamp}-") for row in sent)
    assert all(row["Consumer complaint narrative"].strip() for row in sent)
    assert all(stack.store.get_allocation(row["Complaint ID"]) for row in sent)


def test_a_smoke_tests_complaints_are_routed_as_any_and_held_out_of_the_ops_teams_queues(stack, capsys, tmp_path):
    """Stored and routed as any batch (the reasons name the queue the models chose), then all in the smoke test
    queue, which none of the ops team's queues counts; a batch of the day beside it lands in those queues, smoke
    test ids or not: only a smoke test's key in the inbox and its ids together set complaints aside."""
    earlier = tmp_path / "earlier.csv"
    earlier.write_bytes(smoke.smoke_batch(default_data_path(), 5, "earlier"))  # ids smoke-earlier-...: not its key
    assert stack.run(stack.put_batch("inbox/earlier.csv", earlier))["status"] == "SUCCEEDED"
    assert run(stack, EventBridge(stack.s3, stack.sfn, stack.state_machine_arn), "--count", "10") == 0
    report = smoke_report(capsys.readouterr().out)
    sent = list(csv.DictReader(io.StringIO(stack.s3.get_object(
        Bucket=BUCKET, Key=report["batch"].removeprefix(f"s3://{BUCKET}/"))["Body"].read().decode())))

    settings = Settings.from_env()
    ops_queues = queues(load_tasks(settings.tasks_file), Taxonomy.load(settings.taxonomy_file))
    held = [stack.store.get_allocation(row["Complaint ID"]) for row in sent]
    assert {a.queue for a in held} == {SMOKE_TEST_QUEUE} and stack.store.count_queue(SMOKE_TEST_QUEUE) == 10
    assert report["rows"] == report["allocated"] + report["manual_triage"] == 10 and report["rejected"] == 0
    assert sum(a.status == "allocated" for a in held) == report["allocated"]
    prefix = "smoke test: held out of the ops team's queues, routed to "
    assert all(a.reasons[0].startswith(prefix) and a.reasons[0].removeprefix(prefix) in ops_queues for a in held)
    day = [stack.store.get_allocation(row["Complaint ID"]) for row in csv.DictReader(io.StringIO(earlier.read_text()))]
    assert all(a.queue in ops_queues and not any(r.startswith("smoke test") for r in a.reasons) for a in day)
    assert sum(stack.store.count_queue(name) for name in ops_queues) == 5


def test_a_chunk_that_fell_back_to_manual_triage_fails_the_smoke_test(stack, capsys):
    def broken_image(event: dict) -> None:
        raise ImportError("No module named 'onnxruntime'")

    stack.invocations.faults["triage"] = broken_image
    assert run(stack, EventBridge(stack.s3, stack.sfn, stack.state_machine_arn), "--count", "10") == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["status"] == "SUCCEEDED" and report["manual_triage"] == 10  # counts add up: nothing is lost
    assert "went to manual triage: ImportError" in captured.err


def test_no_execution_for_the_batch_fails_the_smoke_test(stack, capsys):
    assert run(stack, stack.s3, "--count", "3", "--timeout", "0.3") == 1  # nothing starts one: no EventBridge
    assert "no execution of" in capsys.readouterr().err


def test_the_counts_must_add_up_to_the_complaints_sent():
    summary = {"rows": 10, "allocated": 6, "manual_triage": 3, "rejected": 0, "reused": 0, "chunks": 1, "fell_back": {}}
    execution = {"status": "SUCCEEDED", "output": json.dumps({"intake": {"rows": 10}, "result": {"summary": summary}})}
    counts, problems = smoke.check(execution, 10)
    assert counts["allocated"] == 6 and problems == ["allocated 6 + manual triage 3 + rejected 0 = 9, not the 10 rows read"]
    assert smoke.check(execution, 25)[1][0] == "intake read 10 rows, 25 were sent"
    fell_back = {"status": "SUCCEEDED", "output": json.dumps({"result": {"summary": dict(
        summary, allocated=7, fell_back={"TransientFault": 1})}})}
    assert smoke.check(fell_back, 10)[1] == [
        "1 chunk(s): triage failed after its retries and the chunk went to manual triage: TransientFault"]
    assert smoke.check({"status": "FAILED", "error": "BatchIncomplete"}, 1)[1] == ["the execution ended FAILED: BatchIncomplete"]


def test_the_smoke_test_refuses_another_environments_resources(monkeypatch):
    monkeypatch.setattr(smoke, "stack_outputs", lambda: {})
    arguments = ["--bucket", "complaints-dev-batches-1", "--state-machine-arn",
                 "arn:aws:states:us-east-1:1:stateMachine:complaints-dev-triage"]
    with pytest.raises(SystemExit):
        smoke.main(["--env", "prod", *arguments], s3=object(), sfn=object())
    with pytest.raises(SystemExit):
        smoke.main(["--env", "prod"], s3=object(), sfn=object())


def test_each_run_sends_other_real_complaints():
    first, second = (list(csv.DictReader(io.StringIO(smoke.smoke_batch(default_data_path(), 25, stamp).decode())))
                     for stamp in ("20260101T000000Z", "20260102T000000Z"))
    assert len(first) == len(second) == 25
    assert {r["Complaint ID"].rsplit("-", 1)[1] for r in first} != {r["Complaint ID"].rsplit("-", 1)[1] for r in second}


def test_the_targets_default_to_the_environment_then_to_the_stacks_terraform_outputs(tmp_path, monkeypatch):
    terraform = tmp_path / "terraform"  # what `terraform output -json` prints in the apply job
    terraform.write_text("#!/bin/sh\n" + 'test "$2 $3" = "output -json" || exit 1\n' + "cat <<'EOF'\n" + json.dumps({
        "batch_bucket": {"sensitive": False, "type": "string", "value": "complaints-prod-batches-123456789012"},
        "state_machine_arn": {"sensitive": False, "type": "string",
                              "value": "arn:aws:states:us-east-1:123456789012:stateMachine:complaints-prod-triage"},
        "release_tags": {"sensitive": False, "type": ["map", "string"], "value": {"complaints:environment": "prod"}},
    }) + "\nEOF\n")
    terraform.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.delenv("BATCH_BUCKET", raising=False)
    monkeypatch.delenv("STATE_MACHINE_ARN", raising=False)

    assert smoke.targets("", "") == ("complaints-prod-batches-123456789012",
                                     "arn:aws:states:us-east-1:123456789012:stateMachine:complaints-prod-triage")
    monkeypatch.setenv("BATCH_BUCKET", "complaints-prod-batches-x")
    assert smoke.targets("", "")[0] == "complaints-prod-batches-x"
    assert smoke.targets("complaints-prod-given", "arn:given") == ("complaints-prod-given", "arn:given")
    terraform.unlink()
    monkeypatch.delenv("BATCH_BUCKET")
    assert smoke.targets("", "") == ("", "")
