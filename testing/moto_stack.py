"""The deployed AWS stack, run in one process on moto, exactly as Terraform defines it.

moto's Step Functions interpreter runs infra/modules/orchestration/triage.asl.json (rendered as Terraform's
templatefile renders it); its Lambda tasks run the real handlers named by each function's image command, in
this process, with the environment Terraform gives the function; the store is moto's DynamoDB (the release
applied to it), S3 holds the batches and their chunks, SQS is the dead-letter queue. python-hcl2 reads
infra/ (no Terraform binary). tests/test_aws_state_machine.py runs the state machine on it, and
``make bench-load`` loads it; both need the ``dev`` extra (moto, python-hcl2).

The handlers are imported by name at invocation, as Lambda imports them, so this module imports nothing of
functions/ and respects the layers.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import boto3
import hcl2
from botocore.client import BaseClient
from botocore.session import Session
from hcl2.utils import SerializationOptions
from moto import mock_aws
from moto.awslambda.models import LambdaFunction
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

from complaints.config import Settings
from complaints.deployment import Deployment
from complaints.operations import Operations
from model.manifest import ReleaseManifest
from complaints.registry.local import LocalRegistry
from model.release import apply
from testing.decisions import seal_first_release
from testing import CHECKOUT
from complaints.store.dynamodb import DynamoDBStore
from complaints.tasks import TaskSpec
from complaints.taxonomy import Taxonomy

INFRA = CHECKOUT / "infra"
MODULES = INFRA / "modules"
ASL = MODULES / "orchestration" / "triage.asl.json"
_HCL = SerializationOptions(strip_string_quotes=True, explicit_blocks=False)

REGION = "us-east-1"
ENVIRONMENT = "test"
NAME_PREFIX = f"complaints-{ENVIRONMENT}"
BUCKET = "complaints-test-batches"
EXECUTION_TIMEOUT_S = 120
_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
                "AWS_DEFAULT_REGION": REGION}


# -- infra/ as Terraform reads it -------------------------------------------------------------------------

@cache
def terraform(folder: Path) -> dict[str, list]:
    """Every top-level block of the folder's *.tf files, merged by block type."""
    merged: dict[str, list] = {}
    for file in sorted(Path(folder).glob("*.tf")):
        with open(file, encoding="utf-8") as handle:
            for kind, blocks in hcl2.load(handle, serialization_options=_HCL).items():
                merged.setdefault(kind, []).extend(blocks)
    return merged


def resources(folder: Path, kind: str = "resource") -> dict[tuple[str, str], dict]:
    """(type, name) -> body of every resource (or data source) in the folder."""
    found = {}
    for block in terraform(folder).get(kind, []):
        for rtype, named in block.items():
            for name, body in named.items():
                found[(rtype, name)] = body
    return found


def local_values(folder: Path) -> dict:
    values: dict = {}
    for block in terraform(folder).get("locals", []):
        values.update({k: v for k, v in block.items() if not k.startswith("__")})
    return values


def function_specs() -> dict[str, dict]:
    """The Lambda functions Terraform deploys: handler key -> {command, environment, ...}."""
    return local_values(MODULES / "functions")["functions"]


def common_environment() -> dict[str, str]:
    return local_values(MODULES / "functions")["common_environment"]


def default_chunk_size() -> int:
    """Complaints per triage call, as the functions module defaults it (variable chunk_size)."""
    variables = {n: b for block in terraform(MODULES / "functions")["variable"] for n, b in block.items()}
    return int(variables["chunk_size"]["default"])


def default_reserved_concurrency() -> dict[str, int]:
    """Reserved concurrency per function, as the functions module defaults it: the Map runs triage's."""
    variables = {n: b for block in terraform(MODULES / "functions")["variable"] for n, b in block.items()}
    return {key: int(value) for key, value in variables["reserved_concurrency"]["default"].items()}


def function_name(name_prefix: str, key: str) -> str:
    """As Terraform names it: "${var.name_prefix}-${replace(each.key, "_", "-")}"."""
    expression = resources(MODULES / "functions")[("aws_lambda_function", "this")]["function_name"]
    assert expression == '${var.name_prefix}-${replace(each.key, "_", "-")}', expression
    return f"{name_prefix}-{key.replace('_', '-')}"


# How aws_dynamodb_table.this makes each entry of the module's local.tables a table; create_store_tables does the same.
_TABLE_WIRING = {
    "for_each": "${local.tables}", "name": "${var.table_prefix}-${each.key}", "billing_mode": "PAY_PER_REQUEST",
    "hash_key": "${each.value.hash_key}", "range_key": "${each.value.range_key}",
    "attribute": {"for_each": "${each.value.attributes}",
                  "content": [{"name": "${attribute.key}", "type": "${attribute.value}"}]},
    "global_secondary_index": {"for_each": "${each.value.index == null ? [] : [each.value.index]}",
                               "content": [{"name": "${global_secondary_index.value.name}",
                                            "hash_key": "${global_secondary_index.value.hash_key}",
                                            "range_key": "${global_secondary_index.value.range_key}",
                                            "projection_type": "ALL"}]},
}


def create_store_tables(store: DynamoDBStore) -> None:
    """Create the store's tables from infra/modules/store's declaration (Terraform does it in AWS), so every test on
    moto's DynamoDB runs against the deployed key schema; tests/test_infra.py holds it to complaints/store/tables.py."""
    table = resources(MODULES / "store")[("aws_dynamodb_table", "this")]
    wiring = {key: table[key] for key in ("for_each", "name", "billing_mode", "hash_key", "range_key")}
    wiring |= {kind: body for block in table["dynamic"] for kind, body in block.items()}
    assert wiring == _TABLE_WIRING, wiring
    for name, spec in local_values(MODULES / "store")["tables"].items():
        args: dict[str, Any] = {
            "TableName": f"{store.table_prefix}-{name}", "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": _key_schema(spec["hash_key"], spec["range_key"]),
            "AttributeDefinitions": [{"AttributeName": attribute, "AttributeType": kind}
                                     for attribute, kind in spec["attributes"].items()],
        }
        if index := spec["index"]:
            args["GlobalSecondaryIndexes"] = [{"IndexName": index["name"], "Projection": {"ProjectionType": "ALL"},
                                               "KeySchema": _key_schema(index["hash_key"], index["range_key"])}]
        store._client.create_table(**args)


def _key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
    return [{"AttributeName": hash_key, "KeyType": "HASH"}] + (
        [{"AttributeName": range_key, "KeyType": "RANGE"}] if range_key else [])


def asl_variables() -> dict[str, str]:
    """templatefile's variables for the ASL file: name -> the Terraform expression passed."""
    machine = resources(MODULES / "orchestration")[("aws_sfn_state_machine", "triage")]
    call = machine["definition"]
    assert call.startswith('${templatefile("${path.module}/triage.asl.json", {'), call
    return dict(re.findall(r'(\w+)\s*=\s*([\w.\["\]]+)', call.split("{", 2)[2]))


def render_asl(values: dict[str, str]) -> str:
    """What templatefile makes of the ASL file: ${name} replaced; an unknown or missing name fails."""
    text = ASL.read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{(\w+)\}", text))
    assert used == set(values), f"the ASL uses {sorted(used)}, given {sorted(values)}"
    assert "%{" not in text, "template directives would need Terraform to render"
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], text)


# -- Lambda in this process -------------------------------------------------------------------------------

@dataclass
class LambdaContext:
    """The part of the Lambda context object the handlers read."""

    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 1024


@dataclass
class Invocations:
    """What the in-process Lambda ran, and the faults a caller injects (function key -> fault)."""

    calls: Counter = field(default_factory=Counter)
    faults: dict[str, Callable[[dict], None]] = field(default_factory=dict)
    current: str = ""
    thread: int = 0
    backoff_s: list[float] = field(default_factory=list)  # each Retry wait, recorded instead of slept
    aws_calls: set[tuple[str, str, str, str]] = field(default_factory=set)  # (function, service, operation, resource)


_lock = threading.RLock()  # one invocation at a time, and no client built while one changes os.environ


@contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    """The function's environment for one invocation, set and restored key by key. (mock.patch.dict empties
    os.environ before restoring it, and moto's Map threads for other chunks read it meanwhile.)"""
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _in_process(invocations: Invocations, keys: dict[str, str]):
    """moto's Lambda runs no code without Docker: this runs the handler of the function's image command in
    this process, with the function's environment, and answers as Lambda does (an exception becomes a
    function error whose errorType the state machine's Retry and Catch match on)."""

    def invoke(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        module, attribute = self.image_config.cmd[0].rsplit(".", 1)
        handler = getattr(importlib.import_module(module), attribute)
        key = keys[self.function_name]
        with _lock, _environment(self.environment_vars):
            invocations.calls[key] += 1
            invocations.current, invocations.thread = key, threading.get_ident()
            try:
                if key in invocations.faults:
                    invocations.faults[key](event)
                return json.dumps(handler(event, LambdaContext(self.function_name))), False, ""
            except Exception as error:  # noqa: BLE001 - reported to the caller as Lambda reports it
                payload = {"errorMessage": str(error), "errorType": type(error).__name__,
                           "stackTrace": traceback.format_tb(error.__traceback__)}
                return json.dumps(payload), True, ""
            finally:
                invocations.current = ""

    return invoke


def _serialised(create_client: Callable[..., BaseClient]) -> Callable[..., BaseClient]:
    """botocore reads os.environ key by key while it builds a client (proxy settings), and an invocation sets
    and restores its function's environment meanwhile: a key gone between the two is a KeyError, which moto's
    interpreter makes a States.Runtime failure of the Map thread building a Lambda client. So clients are
    built under the invocation lock (re-entrant: the handlers build theirs while holding it)."""

    def create(*args: Any, **kwargs: Any) -> BaseClient:
        with _lock:
            return create_client(*args, **kwargs)

    return create


_TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                     "ConditionCheck": "ConditionCheckItem"}


def _actions(operation: str, params: dict) -> list[tuple[str, str]]:
    """What IAM authorizes a call as, each on its resource: a transaction as the action of each of its items."""
    if operation == "TransactWriteItems":
        return [(_TRANSACT_ACTIONS[kind], write["TableName"]) for item in params["TransactItems"]
                for kind, write in item.items()]
    return [(operation, params.get("TableName") or params.get("Key") or params.get("Prefix") or "")]


def _recording(invocations: Invocations):
    """Record every AWS call a handler makes, to hold it to the role Terraform gives that function."""
    make_api_call = BaseClient._make_api_call

    def call(self: BaseClient, operation: str, params: dict) -> Any:
        if invocations.current and threading.get_ident() == invocations.thread:
            service = self.meta.service_model.service_name
            for action, resource in _actions(operation, params):
                invocations.aws_calls.add((invocations.current, service, action, resource))
        return make_api_call(self, operation, params)

    return call


# -- the stack --------------------------------------------------------------------------------------------

@dataclass
class Stack:
    sfn: Any
    s3: Any
    sqs: Any
    store: DynamoDBStore
    state_machine_arn: str
    dead_letter_url: str
    functions: dict[str, str]  # function key -> ARN
    invocations: Invocations
    champions: dict[str, str]  # task -> the champion the release serves

    def put_batch(self, key: str, path: Path) -> str:
        self.s3.upload_file(str(path), BUCKET, key)
        return key

    def run(self, key: str, timeout_s: float = EXECUTION_TIMEOUT_S) -> dict:
        """Start an execution with the input EventBridge gives it; wait for its end. The state machine
        never expects States.Runtime: where moto's interpreter raised one, the run fails with its cause."""
        arn = self.sfn.start_execution(stateMachineArn=self.state_machine_arn, name=str(uuid.uuid4()),
                                       input=json.dumps({"bucket": BUCKET, "key": key}))["executionArn"]
        deadline = time.monotonic() + timeout_s
        while (execution := self.sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline, f"execution {arn} still running"
            time.sleep(0.05)
        faults = [details.get("cause") for page in self.sfn.get_paginator("get_execution_history").paginate(
                      executionArn=arn) for event in page["events"]
                  if (details := event.get("taskFailedEventDetails", {})).get("error") == "States.Runtime"]
        assert not faults, f"moto's interpreter failed, not the functions (a harness fault): {faults}"
        return execution

    def dead_letters(self) -> list[dict]:
        messages = self.sqs.receive_message(QueueUrl=self.dead_letter_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    def allocation_count(self) -> int:
        return self.store._client.scan(TableName=self.store.table_name("complaints_allocation"),
                                       Select="COUNT")["Count"]


@contextmanager
def running_stack(manifest: ReleaseManifest, models: Path, tasks: list[TaskSpec], taxonomy: Taxonomy,
                  chunk_size: int | None = None) -> Iterator[Stack]:
    """The stack on moto serving ``manifest``'s release from ``models`` (a local registry holding its
    versions, as the image's /opt/models does): tables with the release applied, the batch bucket, the
    dead-letter queue, the functions and the state machine, as Terraform names and configures them."""
    complaints_logger = logging.getLogger("complaints")
    saved = (complaints_logger.handlers[:], complaints_logger.level)  # a cold handler configures logging
    with mock.patch.dict(os.environ, _CREDENTIALS), \
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        store_url = f"dynamodb://{NAME_PREFIX}?region={REGION}"
        store = DynamoDBStore(NAME_PREFIX, region_name=REGION)
        create_store_tables(store)
        operations = Operations.load(Settings.from_env().operations_file)
        deployment = Deployment(store, LocalRegistry(models), tasks, taxonomy, operations)
        seal_first_release(deployment, manifest)  # the champions the harness serves, which no gate scored here
        apply(deployment, manifest, "moto-stack", actor="moto-stack")

        s3, sqs = boto3.client("s3", region_name=REGION), boto3.client("sqs", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        dead_letter_url = sqs.create_queue(QueueName=f"{NAME_PREFIX}-dead-letter")["QueueUrl"]

        values = {  # what Terraform sets, with this stack's resources
            "COMPLAINTS_STORE_URL": store_url,
            "COMPLAINTS_REGISTRY_URL": f"file://{models}",
            "COMPLAINTS_LOG_LEVEL": "INFO",
            "COMPLAINTS_ENVIRONMENT": ENVIRONMENT,
            "COMPLAINTS_CHUNK_PREFIX": "chunks/",
            "COMPLAINTS_CHUNK_SIZE": str(chunk_size or default_chunk_size()),
            "COMPLAINTS_BATCH_BUCKET": BUCKET,
            "COMPLAINTS_INBOX_PREFIX": "inbox/",
            "COMPLAINTS_COGNITO_ISSUER": f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_moto",
            "COMPLAINTS_COGNITO_JWKS_URL": f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_moto/.well-known/jwks.json",
            "COMPLAINTS_COGNITO_CLIENT_IDS": "moto-ops-app",
        }
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                          "Principal": {"Service": "lambda.amazonaws.com"}}]}
        role = boto3.client("iam", region_name=REGION).create_role(
            RoleName=NAME_PREFIX, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        awslambda = boto3.client("lambda", region_name=REGION)
        functions, keys = {}, {}
        for key, spec in function_specs().items():
            name = function_name(NAME_PREFIX, key)
            environment = {var: values[var] for var in [*common_environment(), *spec["environment"]]}
            functions[key] = awslambda.create_function(
                FunctionName=name, Role=role, PackageType="Image",
                Code={"ImageUri": f"123456789012.dkr.ecr.{REGION}.amazonaws.com/complaints-serving@sha256:{'0' * 64}"},
                ImageConfig={"Command": [spec["command"]]}, Environment={"Variables": environment})["FunctionArn"]
            keys[name] = key

        sfn = boto3.client("stepfunctions", region_name=REGION)
        known = {"aws_sqs_queue.dead_letter.url": dead_letter_url,
                 "var.triage_concurrency": str(default_reserved_concurrency()["triage"])}
        definition = render_asl({
            variable: functions[expression.split('"')[1]] if expression.startswith("var.function_arns")
            else known[expression] for variable, expression in asl_variables().items()
        })
        machine = sfn.create_state_machine(name=f"{NAME_PREFIX}-triage", definition=definition, roleArn=role,
                                           type="STANDARD")["stateMachineArn"]
        invocations = Invocations()
        champions = {task: release.champion for task, release in manifest.tasks.items()}
        try:
            with (mock.patch.object(LambdaFunction, "_invoke_lambda", _in_process(invocations, keys)),
                  mock.patch.object(BaseClient, "_make_api_call", _recording(invocations)),
                  mock.patch.object(Session, "create_client", _serialised(Session.create_client)),
                  mock.patch.object(retrier_decl, "time", SimpleNamespace(sleep=invocations.backoff_s.append))):
                yield Stack(sfn, s3, sqs, store, machine, dead_letter_url, functions, invocations, champions)
        finally:
            complaints_logger.handlers[:], complaints_logger.level = saved
