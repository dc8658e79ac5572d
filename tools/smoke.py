"""Post-deploy smoke test: real complaints through the deployed pipeline, as any batch goes.

`make smoke ENV=prod` puts N real complaints from the CFPB sample as a CSV batch at
``inbox/smoke-<timestamp>.csv`` in the batch bucket, finds the execution that S3 -> EventBridge started for
that object (an execution of the state machine started after the upload whose input names it), waits for
it to end, and checks its output (Reconcile's summary): it succeeded (a parked chunk fails it), intake read
N rows, no chunk fell back to manual triage, and allocated + manual triage + rejected = rows. Exit 0, or 1
with the reasons.

The batch bucket and the state machine are the stack's terraform outputs `batch_bucket` and
`state_machine_arn`: --bucket/--state-machine-arn, else BATCH_BUCKET/STATE_MACHINE_ARN, else
`terraform -chdir=infra/stack output` where the job initialised it (the apply workflow); whichever, both must
be named complaints-<env>-.

Each complaint's id becomes ``smoke-<timestamp>-<CFPB id>``: every run triages new complaints (none is
reused from an earlier run). The key and the ids are what complaints.routing takes for a smoke test's: its
complaints are stored and routed as any, then held in the reserved smoke test queue, out of the ops team's
queues, their summary and their corrections (so out of training data).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from complaints.intake import data_files
from complaints.config import default_data_path
from complaints.routing import SMOKE_TEST, SMOKE_TEST_INBOX
from model.stack_outputs import stack_outputs

DEFAULT_COUNT = 25
CLOCK_SKEW = timedelta(minutes=1)  # between this machine and Step Functions' start dates
COMPLAINT_ID = "Complaint ID"
NARRATIVE = "Consumer complaint narrative"


@dataclass
class Outcome:
    key: str
    execution_arn: str = ""
    status: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def smoke_batch(data: Path, count: int, stamp: str) -> bytes:
    """``count`` real complaints with a narrative, drawn at random from the sample (a CFPB CSV export, or a
    folder of them), as a CFPB-format CSV."""
    rows, fields = [], []
    for file in data_files(data):
        opener = gzip.open if file.suffix == ".gz" else open
        with opener(file, "rt", encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            rows += [row for row in reader if (row.get(NARRATIVE) or "").strip()]
            fields = fields or list(reader.fieldnames or [])
    if len(rows) < count:
        raise ValueError(f"{data} has {len(rows)} complaints with a narrative, fewer than {count}")
    chosen = random.Random(stamp).sample(rows, count)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    writer.writerows({**row, COMPLAINT_ID: f"{SMOKE_TEST}{stamp}-{row[COMPLAINT_ID]}"} for row in chosen)
    return out.getvalue().encode("utf-8")


def find_execution(sfn: Any, state_machine_arn: str, bucket: str, key: str, since: datetime,
                   deadline: float, poll_s: float) -> str | None:
    """The execution started (after ``since``) for s3://bucket/key: EventBridge names no execution after
    the object, so each recent one's input is read until one is {"bucket": bucket, "key": key}."""
    looked: set[str] = set()
    while True:
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn):
            recent = [e for e in page["executions"] if e["startDate"] >= since - CLOCK_SKEW]
            for execution in recent:
                if execution["executionArn"] in looked:
                    continue
                looked.add(execution["executionArn"])
                started = json.loads(sfn.describe_execution(executionArn=execution["executionArn"]).get("input") or "{}")
                if started == {"bucket": bucket, "key": key}:
                    return execution["executionArn"]
            if len(recent) < len(page["executions"]):  # newest first: the rest started before the upload
                break
        if time.monotonic() >= deadline:
            return None
        time.sleep(poll_s)


def check(execution: dict, count: int) -> tuple[dict[str, int], list[str]]:
    """The counts of a finished execution, and what is wrong with it."""
    if execution["status"] != "SUCCEEDED":
        return {}, [f"the execution ended {execution['status']}: {execution.get('error', '')} {execution.get('cause', '')}".strip()]
    summary = json.loads(execution["output"])["result"]["summary"]  # Reconcile's: every chunk has a report
    counts = {name: summary[name] for name in ("rows", "allocated", "manual_triage", "rejected", "reused")}
    problems = [f"{chunks} chunk(s): triage failed after its retries and the chunk went to manual triage: {error}"
                for error, chunks in summary["fell_back"].items()]
    if counts["rows"] != count:
        problems.append(f"intake read {counts['rows']} rows, {count} were sent")
    triaged = counts["allocated"] + counts["manual_triage"] + counts["rejected"]
    if triaged != counts["rows"]:
        problems.append(f"allocated {counts['allocated']} + manual triage {counts['manual_triage']} + rejected "
                        f"{counts['rejected']} = {triaged}, not the {counts['rows']} rows read")
    return counts, problems


def smoke(s3: Any, sfn: Any, bucket: str, state_machine_arn: str, count: int = DEFAULT_COUNT,
          data: Path | None = None, timeout_s: float = 600, poll_s: float = 5) -> Outcome:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    outcome = Outcome(key=f"{SMOKE_TEST_INBOX}{stamp}.csv")
    data = data or default_data_path()
    if data is None or not Path(data).exists():
        outcome.problems.append(f"no CFPB sample at {data}: set COMPLAINTS_DATA or run `make shared-data`")
        return outcome
    body = smoke_batch(Path(data), count, stamp)
    deadline = time.monotonic() + timeout_s
    since = datetime.now(timezone.utc)
    s3.put_object(Bucket=bucket, Key=outcome.key, Body=body, ContentType="text/csv")

    arn = find_execution(sfn, state_machine_arn, bucket, outcome.key, since, deadline, poll_s)
    if arn is None:
        outcome.problems.append(f"no execution of {state_machine_arn} started for s3://{bucket}/{outcome.key} "
                                f"within {timeout_s:.0f}s: is the EventBridge rule enabled?")
        return outcome
    outcome.execution_arn = arn
    while (execution := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        if time.monotonic() >= deadline:
            outcome.status = "RUNNING"
            outcome.problems.append(f"the execution was still running after {timeout_s:.0f}s")
            return outcome
        time.sleep(poll_s)
    outcome.status = execution["status"]
    outcome.counts, outcome.problems = check(execution, count)
    return outcome


def targets(bucket: str, state_machine_arn: str) -> tuple[str, str]:
    """The batch bucket and the state machine: as given, else from the environment, else terraform's outputs."""
    bucket = bucket or os.environ.get("BATCH_BUCKET", "")
    state_machine_arn = state_machine_arn or os.environ.get("STATE_MACHINE_ARN", "")
    if not bucket or not state_machine_arn:
        outputs = stack_outputs()
        bucket = bucket or outputs.get("batch_bucket", "")
        state_machine_arn = state_machine_arn or outputs.get("state_machine_arn", "")
    return bucket, state_machine_arn


def _name_of(arn_or_name: str) -> str:
    return arn_or_name.rsplit(":", 1)[-1]


def main(argv: list[str] | None = None, s3: Any = None, sfn: Any = None) -> int:
    parser = argparse.ArgumentParser(description="Post-deploy smoke test: real complaints through the deployed pipeline.")
    parser.add_argument("--env", required=True, help="the environment tested: its resources are named complaints-<env>-")
    parser.add_argument("--bucket", default="",
                        help="the batch bucket (default $BATCH_BUCKET, else terraform output batch_bucket)")
    parser.add_argument("--state-machine-arn", default="",
                        help="the triage state machine (default $STATE_MACHINE_ARN, else terraform output state_machine_arn)")
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT, help=f"complaints sent (default {DEFAULT_COUNT})")
    parser.add_argument("--data", type=Path, help="the CFPB sample (default: COMPLAINTS_DATA or the shared sample)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the execution (default 600)")
    parser.add_argument("--poll", type=float, default=5, help="seconds between looks (default 5)")
    args = parser.parse_args(argv)
    bucket, machine = targets(args.bucket, args.state_machine_arn)
    if not bucket or not machine.startswith("arn:"):
        parser.error("give the batch bucket and the state machine ARN (--bucket/--state-machine-arn, "
                     "BATCH_BUCKET/STATE_MACHINE_ARN, or an initialised infra/stack: its terraform outputs)")
    prefix = f"complaints-{args.env}-"
    if not bucket.startswith(prefix) or not _name_of(machine).startswith(prefix):
        parser.error(f"{bucket} and {_name_of(machine)} are not both {prefix}*: not environment {args.env}'s")
    if args.count < 1:
        parser.error("--count is at least 1")
    if s3 is None or sfn is None:
        import boto3  # here: the handlers of the image never need this module's clients

        region = machine.split(":")[3]
        s3, sfn = boto3.client("s3", region_name=region), boto3.client("stepfunctions", region_name=region)

    outcome = smoke(s3, sfn, bucket, machine, args.count, args.data, args.timeout, args.poll)
    print(json.dumps({"environment": args.env, "batch": f"s3://{bucket}/{outcome.key}", "execution": outcome.execution_arn,
                      "status": outcome.status, **outcome.counts, "passed": outcome.passed}))
    for problem in outcome.problems:
        print(f"smoke test failed: {problem}", file=sys.stderr)
    return 0 if outcome.passed else 1


if __name__ == "__main__":
    sys.exit(main())
