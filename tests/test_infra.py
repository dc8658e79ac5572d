"""Static checks of infra/: checkov passes, and the Terraform agrees with the code it deploys.

No Terraform binary is needed: python-hcl2 parses the modules, and the helpers here are also what
test_aws_state_machine.py reads to build the stack on moto exactly as Terraform names it.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

import hcl2
import pytest
from hcl2.utils import SerializationOptions

from complaints.settings import CHECKOUT
from complaints.store.dynamodb import TABLES

INFRA = CHECKOUT / "infra"
MODULES = INFRA / "modules"
ASL = MODULES / "orchestration" / "triage.asl.json"
CHECKOV = Path(sys.prefix) / "checkov" / "bin" / "checkov"  # its own venv: `make setup` (see Makefile)
_HCL = SerializationOptions(strip_string_quotes=True, explicit_blocks=False)


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


def function_grants(variables: dict[str, str]) -> dict[str, dict]:
    """What each function's role may do, from module functions: {"tables": {table: [actions]},
    "s3_read": [key prefixes], "s3_write": [...]}, with ${var.NAME} replaced from ``variables``."""
    values = local_values(MODULES / "functions")

    def resolve(value):
        if value == "${local.pipeline_tables}":
            return values["pipeline_tables"]
        if isinstance(value, list):
            return [re.sub(r"\$\{var\.(\w+)\}", lambda m: variables[m.group(1)], item) for item in value]
        return value

    return {key: {grant: resolve(spec[grant]) for grant in ("tables", "s3_read", "s3_write")}
            for key, spec in values["functions"].items()}


def common_environment() -> dict[str, str]:
    return local_values(MODULES / "functions")["common_environment"]


def function_name(name_prefix: str, key: str) -> str:
    """As Terraform names it: "${var.name_prefix}-${replace(each.key, "_", "-")}"."""
    expression = resources(MODULES / "functions")[("aws_lambda_function", "this")]["function_name"]
    assert expression == '${var.name_prefix}-${replace(each.key, "_", "-")}', expression
    return f"{name_prefix}-{key.replace('_', '-')}"


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
    assert set(specs) == {"intake", "triage", "manual_triage", "submit"}
    for key, spec in specs.items():
        module_name, attribute = spec["command"].rsplit(".", 1)
        module = importlib.import_module(module_name)
        assert callable(getattr(module, attribute)), spec["command"]
        source = Path(module.__file__).read_text(encoding="utf-8")
        reads = set(re.findall(r"os\.environ\[[\"'](\w+)[\"']\]", source))
        if "runtime.pipeline()" in source:  # Deployment.aws(): the store and the registry
            reads |= {"COMPLAINTS_STORE_URL", "COMPLAINTS_REGISTRY_URL"}
        given = set(common_environment()) | set(spec["environment"])
        assert reads <= given, f"{key} reads {sorted(reads - given)}, which Terraform does not set"


def test_table_key_schemas_match_the_dynamodb_store():
    tables = local_values(MODULES / "store")["tables"]
    assert set(tables) == set(TABLES)
    for name, schema in TABLES.items():
        declared = tables[name]
        assert (declared["hash_key"], declared["range_key"]) == (schema.hash_key, schema.range_key), name
        assert declared["attributes"] == {a: schema.attribute_type(a) for a in schema.key_attributes}, name
        index = declared["index"]
        if schema.index is None:
            assert index is None, name
        else:
            assert (index["name"], index["hash_key"], index["range_key"]) == (
                schema.index.name, schema.index.hash_key, schema.index.range_key), name
    table = resources(MODULES / "store")[("aws_dynamodb_table", "this")]
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    assert table["point_in_time_recovery"][0]["enabled"] is True
    assert table["server_side_encryption"][0]["kms_key_arn"] == "${var.kms_key_arn}"


def test_the_state_machine_calls_only_functions_terraform_defines():
    variables = asl_variables()
    machine = json.loads(render_asl({name: f"<{name}>" for name in variables}))
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
    assert invoked == {"intake", "triage", "manual_triage"} and invoked <= set(function_specs())
    assert set(local_values(MODULES / "orchestration")["invoked_functions"]) == invoked  # the role may invoke them


def test_a_failed_triage_task_is_retried_then_caught_into_manual_triage_then_parked():
    machine = json.loads(render_asl({name: f"<{name}>" for name in asl_variables()}))
    assert machine["States"]["Intake"]["Catch"][0]["Next"] == "ParkBatch"
    assert machine["States"]["ParkBatch"]["Next"] == "BatchRefused"
    chunk = machine["States"]["TriageChunks"]["ItemProcessor"]["States"]
    throttled, anything = chunk["Triage"]["Retry"]
    assert "Lambda.TooManyRequestsException" in throttled["ErrorEquals"] and throttled["MaxAttempts"] >= 5
    assert anything["ErrorEquals"] == ["States.ALL"] and anything["MaxAttempts"] == 2
    assert chunk["Triage"]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "ManualTriage"}]
    assert chunk["ManualTriage"]["Catch"][0]["Next"] == "ParkChunk"
    assert chunk["ParkChunk"]["Parameters"]["QueueUrl"] == "<dead_letter_queue_url>"


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
    intake = json.loads(ASL.read_text())["States"]["Intake"]["Parameters"]["Payload"]
    assert {intake["bucket.$"], intake["key.$"]} == {"$.bucket", "$.key"}


def test_every_resource_and_the_state_machine_carry_the_release_tags():
    stack = INFRA / "stack"
    provider = terraform(stack)["provider"][0]["aws"]
    assert provider["default_tags"][0]["tags"] == "${local.release_tags}"
    release = local_values(stack)["release_tags"]
    assert '"complaints:git-sha" = var.git_sha' in release and "var.model_versions" in release, release
    modules = {name: body for block in terraform(stack)["module"] for name, body in block.items()}
    assert set(modules) == {"key", "store", "functions", "orchestration", "intake", "alarms"}
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
    code = f"import sys; sys.modules.update({{{blocked}}}); {handlers}; import functions.release"
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
        ("bootstrap", "state_bucket"), ("intake", "batches"), ("intake", "access_logs")}

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
        present = {rtype for (rtype, _), body in module.items() if "count" not in body
                   or (rtype == "aws_s3_bucket_logging" and call.get("access_logging"))
                   or (rtype == "aws_s3_bucket_notification" and call.get("eventbridge"))}
        for rtype in present - added.get((folder.name, name), set()):
            index = "[0]" if "count" in module[(rtype, "this")] else ""
            expected.setdefault(folder, {})["${%s.%s}" % (rtype, old_names[(folder.name, name)])] = \
                "${module.%s.%s.this%s}" % (name, rtype, index)
    for folder, moves in expected.items():
        assert {m["from"]: m["to"] for m in terraform(folder).get("moved", [])} == moves, folder.name
