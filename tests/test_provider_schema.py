"""infra/provider_schema.py: infra/ agrees with the hashicorp/aws provider's schema (arguments, nested blocks,
attribute references), and each kind of mistake `terraform validate` would stop is caught, with its file and line.

The mutation tests copy a real module to tmp_path and break one thing in it; the extraction test builds a miniature
of the cdktf bindings' wheel (the real one is 55 MB and needs the network), in the same layout.
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
import shutil
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from testing import CHECKOUT

_spec = importlib.util.spec_from_file_location("provider_schema", CHECKOUT / "infra" / "provider_schema.py")
provider_schema = sys.modules["provider_schema"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(provider_schema)

INFRA = CHECKOUT / "infra"


@pytest.fixture(scope="module")
def schema() -> dict:
    return provider_schema.load()


def copy(tmp_path: Path, *folders: str) -> Path:
    """infra/<folder> for each folder, copied under tmp_path (one module each)."""
    for folder in folders:
        shutil.copytree(INFRA / folder, tmp_path / Path(folder).name)
    return tmp_path


def edit(path: Path, old: str, new: str) -> int:
    """Replace old, which must be there once, by new; the line where it was."""
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not once in {path}: the mutation would not apply"
    path.write_text(text.replace(old, new))
    return line_of(path, new) if new else text[:text.index(old)].count("\n") + 1


def line_of(path: Path, text: str) -> int:
    """The line where text (once in the file) starts."""
    source = path.read_text()
    assert source.count(text) == 1, f"{text!r} is not once in {path}"
    return source[:source.index(text)].count("\n") + 1


def problems(root: Path, schema: dict) -> list[str]:
    """Each problem as `file:line: message`, file relative to root."""
    report = provider_schema.check([root], schema)
    return [f"{Path(file).relative_to(root)}:{line}: {message}" for file, line, message in report.problems]


# -- the real infra/ -----------------------------------------------------------------------------------------

def test_every_module_of_infra_agrees_with_the_provider_schema(schema):
    report = provider_schema.check([INFRA], schema)

    assert report.problems == []
    # It did look: every module, each aws resource and data source, their arguments and the references to them.
    assert report.files == len(list(INFRA.rglob("*.tf")))
    assert report.blocks >= 170
    assert report.arguments >= 1500
    assert report.references >= 250


def test_main_prints_a_summary_and_exits_0_on_infra(capsys):
    assert provider_schema.main([]) == 0

    out = capsys.readouterr().out
    assert out.startswith("provider schema: no problems in ")
    assert "hashicorp/aws 5.100.0 (cdktf-cdktf-provider-aws==20.1.0)" in out


def test_the_committed_schema_is_the_provider_version_infra_requires(schema):
    assert schema["source"] == "cdktf-cdktf-provider-aws==20.1.0"
    assert schema["provider_version"] == "5.100.0"
    for versions in (INFRA / "stack" / "versions.tf", INFRA / "bootstrap" / "versions.tf"):
        (constraint,) = re.findall(r'source += "hashicorp/aws"\s+version += "([^"]+)"', versions.read_text())
        assert provider_schema.satisfies("5.100.0", constraint), constraint
    # What infra/ uses is there, with its computed attributes and nested blocks.
    assert {"bucket", "arn", "id", "tags_all", "bucket_regional_domain_name"} <= set(
        provider_schema._readable(schema["resources"]["aws_s3_bucket"]))
    assert "json" in provider_schema._readable(schema["data_sources"]["aws_iam_policy_document"])
    assert "principals" in schema["data_sources"]["aws_iam_policy_document"]["b"]["statement"]["b"]


# -- mutations: each must fail, naming what is wrong and where -------------------------------------------------

def test_an_unmodified_copy_passes(tmp_path, schema):
    root = copy(tmp_path, "modules/bucket", "modules/store", "bootstrap")

    assert problems(root, schema) == []


def test_a_misspelled_resource_argument_fails(tmp_path, schema):
    root = copy(tmp_path, "modules/bucket")
    line = edit(root / "bucket" / "main.tf", "  bucket = var.name\n", "  buckett = var.name\n")

    assert problems(root, schema) == [
        f"bucket/main.tf:{line}: aws_s3_bucket.this: unsupported argument 'buckett' (did you mean 'bucket'?)"]


def test_a_misspelled_nested_block_argument_fails(tmp_path, schema):
    root = copy(tmp_path, "modules/bucket")
    line = edit(root / "bucket" / "main.tf", "days_after_initiation = 1", "days_after_initiaton = 1")

    (found,) = problems(root, schema)
    assert found.startswith(f"bucket/main.tf:{line}: ")
    assert ("aws_s3_bucket_lifecycle_configuration.this.rule.abort_incomplete_multipart_upload: unsupported "
            "argument 'days_after_initiaton' (did you mean 'days_after_initiation'?)") in found


def test_a_misspelled_argument_inside_a_dynamic_block_fails_and_the_required_one_is_missing(tmp_path, schema):
    root = copy(tmp_path, "modules/store")
    edit(root / "store" / "main.tf", 'projection_type = "ALL"', 'projection_typ = "ALL"')

    found = problems(root, schema)
    assert len(found) == 2
    assert any("aws_dynamodb_table.this.global_secondary_index: unsupported argument 'projection_typ'" in p
               for p in found)
    assert any("aws_dynamodb_table.this.global_secondary_index: missing required argument 'projection_type'" in p
               for p in found)


def test_a_misspelled_attribute_reference_fails(tmp_path, schema):
    root = copy(tmp_path, "modules/store")
    with open(root / "store" / "outputs.tf", "a") as outputs:
        outputs.write('\noutput "raw_arn" {\n  value = aws_dynamodb_table.this["raw_complaints"].arnn\n}\n')
    lines = (root / "store" / "outputs.tf").read_text().splitlines()

    assert problems(root, schema) == [
        f"store/outputs.tf:{len(lines) - 1}: aws_dynamodb_table.this[\"raw_complaints\"].arnn: aws_dynamodb_table "
        "has no attribute 'arnn' (did you mean 'arn'?)"]


def test_the_right_attribute_reference_passes(tmp_path, schema):
    root = copy(tmp_path, "modules/store")
    with open(root / "store" / "outputs.tf", "a") as outputs:
        outputs.write('\noutput "raw_arn" {\n  value = aws_dynamodb_table.this["raw_complaints"].arn\n}\n'
                      '\noutput "stream" {\n  value = [for t in aws_dynamodb_table.this : t.stream_arn]\n}\n')

    assert problems(root, schema) == []


def test_a_misspelled_reference_inside_a_string_template_fails(tmp_path, schema):
    root = copy(tmp_path, "modules/bucket")
    line = edit(root / "bucket" / "main.tf", '"${aws_s3_bucket.this.arn}/*"', '"${aws_s3_bucket.this.arm}/*"')

    (found,) = problems(root, schema)
    assert found.startswith(f"bucket/main.tf:{line}: aws_s3_bucket.this.arm: aws_s3_bucket has no attribute 'arm'")


def test_a_reference_to_an_undeclared_resource_fails(tmp_path, schema):
    root = copy(tmp_path, "modules/bucket")
    policy = edit(root / "bucket" / "main.tf", "  policy = data.aws_iam_policy_document.this.json",
                  "  policy = data.aws_iam_policy_document.that.json")
    logging = edit(root / "bucket" / "main.tf", "bucket        = aws_s3_bucket.this.id",
                   "bucket        = aws_s3_bucket.that.id")

    assert problems(root, schema) == [
        f"bucket/main.tf:{logging}: aws_s3_bucket.that: not declared in this module (it declares this)",
        f"bucket/main.tf:{policy}: data.aws_iam_policy_document.that: not declared in this module (it declares this)",
    ]


def test_a_misspelled_data_source_argument_and_attribute_fail(tmp_path, schema):
    root = copy(tmp_path, "modules/bucket")
    argument = edit(root / "bucket" / "main.tf", "source_policy_documents = var.policy_documents",
                    "source_policy_document = var.policy_documents")
    reference = edit(root / "bucket" / "main.tf", "data.aws_iam_policy_document.this.json",
                     "data.aws_iam_policy_document.this.jsn")

    assert problems(root, schema) == [
        f"bucket/main.tf:{argument}: data.aws_iam_policy_document.this: unsupported argument 'source_policy_document' "
        "(did you mean 'source_policy_documents'?)",
        f"bucket/main.tf:{reference}: data.aws_iam_policy_document.this.jsn: aws_iam_policy_document has no attribute "
        "'jsn' (did you mean 'json'?)",
    ]


def test_a_misspelled_nested_data_source_block_fails(tmp_path, schema):
    root = copy(tmp_path, "modules/bucket")
    line = edit(root / "bucket" / "main.tf", "    principals {", "    principal {")

    (found,) = problems(root, schema)
    assert found.startswith(f"bucket/main.tf:{line}: data.aws_iam_policy_document.this.statement: unsupported block "
                            "'principal' (did you mean 'principals'?)")


def test_a_block_written_as_an_argument_fails(tmp_path, schema):
    root = copy(tmp_path, "modules/bucket")
    edit(root / "bucket" / "main.tf", '  versioning_configuration {\n    status = "Enabled"\n  }',
         '  versioning_configuration = {\n    status = "Enabled"\n  }')

    (found,) = problems(root, schema)
    assert "aws_s3_bucket_versioning.this: 'versioning_configuration' is a block" in found


def test_a_missing_required_argument_fails(tmp_path, schema):
    root = copy(tmp_path, "modules/bucket")
    edit(root / "bucket" / "main.tf", "  policy = data.aws_iam_policy_document.this.json\n", "")
    line = line_of(root / "bucket" / "main.tf", 'resource "aws_s3_bucket_policy" "this"')

    assert problems(root, schema) == [
        f"bucket/main.tf:{line}: aws_s3_bucket_policy.this: missing required argument 'policy'"]


def test_an_unknown_resource_type_fails(tmp_path, schema):
    root = copy(tmp_path, "modules/bucket")
    line = edit(root / "bucket" / "main.tf", 'resource "aws_s3_bucket_versioning" "this"',
                'resource "aws_s3_bucket_versioned" "this"')

    (found,) = problems(root, schema)
    assert found == (f"bucket/main.tf:{line}: aws_s3_bucket_versioned.this: no resource type 'aws_s3_bucket_versioned' in "
                     "hashicorp/aws 5.100.0 (did you mean 'aws_s3_bucket_versioning'?)")


def test_an_instance_key_must_match_count_and_for_each(tmp_path, schema):
    root = copy(tmp_path, "modules/bucket", "modules/store")
    with open(root / "store" / "outputs.tf", "a") as outputs:
        outputs.write('\noutput "no_key" {\n  value = aws_dynamodb_table.this.arn\n}\n')
    line = edit(root / "bucket" / "main.tf", "resources = [aws_s3_bucket.this.arn,",
                "resources = [aws_s3_bucket.this[0].arn,")

    found = problems(root, schema)
    assert len(found) == 2
    assert any(f"bucket/main.tf:{line}: aws_s3_bucket.this[0]: aws_s3_bucket.this has neither count nor for_each" in p
               for p in found)
    assert any("aws_dynamodb_table.this.arn: aws_dynamodb_table.this has for_each, so an instance key comes first"
               in p for p in found)


def test_references_only_count_in_expressions(tmp_path, schema):
    root = copy(tmp_path, "modules/bucket")
    # Literal text (a description, an escaped interpolation) is no reference; a comment is none either.
    with open(root / "bucket" / "outputs.tf", "a") as outputs:
        outputs.write('\noutput "prose" {\n  description = "Not aws_s3_bucket.nothing.arnn, nor $${aws_s3_bucket.x.y}."\n'
                      '  value       = "${aws_s3_bucket.this.bucket_regional_domain_name}/x" # aws_s3_bucket.y.z\n}\n')

    assert problems(root, schema) == []
    assert provider_schema._REFERENCE.findall(provider_schema._code('"aws_s3_bucket.a.b ${aws_s3_bucket.c.d}"')) == [
        ("", "aws_s3_bucket", "c")]


def test_moved_blocks_may_name_resources_no_longer_declared(tmp_path, schema):
    root = copy(tmp_path, "bootstrap")
    assert "from = aws_s3_bucket.state" in (root / "bootstrap" / "moved.tf").read_text()

    assert problems(root, schema) == []


def test_a_check_blocks_own_data_source_is_declared_in_it(tmp_path, schema):
    (tmp_path / "main.tf").write_text(
        'check "account" {\n  data "aws_caller_identity" "now" {}\n\n  assert {\n'
        '    condition     = data.aws_caller_identity.now.account_id != ""\n    error_message = "no account"\n  }\n\n'
        '  assert {\n    condition     = data.aws_caller_identity.now.user_idd != ""\n    error_message = "no user"\n'
        '  }\n}\n')

    assert problems(tmp_path, schema) == [
        "main.tf:10: data.aws_caller_identity.now.user_idd: aws_caller_identity has no attribute 'user_idd' "
        "(did you mean 'user_id'?)"]


def test_a_file_python_hcl2_cannot_parse_is_a_problem(tmp_path, schema):
    (tmp_path / "main.tf").write_text('resource "aws_s3_bucket" "this" {\n  bucket = \n}\n')

    (found,) = problems(tmp_path, schema)
    assert found.startswith("main.tf:2: python-hcl2 cannot parse it: ")


def test_the_provider_block_and_its_version_are_checked(tmp_path, schema):
    root = copy(tmp_path, "bootstrap")
    region = edit(root / "bootstrap" / "versions.tf", "  region = var.region", "  regoin = var.region")
    version = edit(root / "bootstrap" / "versions.tf", '">= 5.81, < 6.0"', '"~> 6.0"')

    assert problems(root, schema) == [
        f"bootstrap/versions.tf:{version}: required_providers aws '~> 6.0' excludes the schema's 5.100.0 "
        "(cdktf-cdktf-provider-aws==20.1.0): re-extract it (see infra/provider_schema.py)",
        f"bootstrap/versions.tf:{region}: provider.aws: unsupported argument 'regoin' (did you mean 'region'?)",
    ]


def test_main_exits_1_with_one_line_per_problem(tmp_path, capsys):
    root = copy(tmp_path, "modules/bucket")
    line = edit(root / "bucket" / "main.tf", "  bucket = var.name\n", "  buckett = var.name\n")

    assert provider_schema.main([str(root)]) == 1

    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"{root}/bucket/main.tf:{line}: aws_s3_bucket.this: unsupported argument 'buckett' (did you mean 'bucket'?)"
    assert err[1].startswith("provider schema: 1 problem in 4 files")


@pytest.mark.parametrize(("constraint", "expected"), [
    (">= 5.81, < 6.0", True), ("~> 5.0", True), ("~> 5.100", True), ("= 5.100.0", True), ("5.100.0", True),
    ("~> 6.0", False), ("< 5.100", False), ("~> 5.99.0", False), ("!= 5.100.0", False), ("> 5.100.0", False),
])
def test_version_constraints(constraint, expected):
    assert provider_schema.satisfies("5.100.0", constraint) is expected


# -- --extract, on a miniature of the bindings' wheel ----------------------------------------------------------

_LINK = "{@link https://registry.terraform.io/providers/hashicorp/aws/5.100.0/docs"
_JAVASCRIPT = """\
"use strict";
function thingRuleToTerraform(struct) {
    return {
        days: cdktf.numberToTerraform(struct.days),
        address_line_1: cdktf.stringToTerraform(struct.addressLine1),
    };
}
class ThingRuleOutputReference extends cdktf.ComplexObject {
    get days() {
        return this.getNumberAttribute('days');
    }
    get daysInput() {
        return this._days;
    }
    get addressLine1() {
        return this.getStringAttribute('address_line_1');
    }
    get ruleArn() {
        return this.getStringAttribute('rule_arn');
    }
}
class ThingRuleList extends cdktf.ComplexList {
}
class ThingIdentityOutputReference extends cdktf.ComplexObject {
    get issuer() {
        return this.getStringAttribute('issuer');
    }
}
class ThingIdentityList extends cdktf.ComplexList {
}
class Thing extends cdktf.TerraformResource {
    constructor(scope, id, config) {
        super(scope, id, {});
        this._identity = new ThingIdentityList(this, "identity", false);
        this._rule = new ThingRuleList(this, "rule", false);
    }
    get arn() {
        return this.getStringAttribute('arn');
    }
    get identity() {
        return this._identity;
    }
    get name() {
        return this.getStringAttribute('name');
    }
    get nameInput() {
        return this._name;
    }
    get selfAttribute() {
        return this.getStringAttribute('self');
    }
    get rule() {
        return this._rule;
    }
    get ruleInput() {
        return this._rule.internalValue;
    }
    synthesizeAttributes() {
        return {
            name: cdktf.stringToTerraform(this._name),
            self: cdktf.stringToTerraform(this._selfAttribute),
            rule: cdktf.listMapper(thingRuleToTerraform, true)(this._rule.internalValue),
        };
    }
}
class AwsProvider extends cdktf.TerraformProvider {
    synthesizeAttributes() {
        return {
            region: cdktf.stringToTerraform(this._region),
        };
    }
}
"""


def _prop(name: str, type_: dict, summary: str = "", optional: bool = True, **more) -> dict:
    return {"name": name, "type": type_, "docs": {"summary": summary}, **({"optional": True} if optional else {}),
            **more}


def _assembly() -> dict:
    p = "@cdktf/provider-aws.thing."
    string = {"primitive": "string"}
    rules = {"union": {"types": [{"fqn": "cdktf.IResolvable"},
                                 {"collection": {"kind": "array", "elementtype": {"fqn": p + "ThingRule"}}}]}}

    def cls(base, summary="", config=None, properties=(), methods=()):
        return {"kind": "class", "base": base, "docs": {"summary": summary}, "properties": list(properties),
                "methods": list(methods),
                "initializer": {"parameters": [{"name": "config", "type": {"fqn": config}}] if config else []}}

    return {"version": "20.1.0", "types": {
        p + "Thing": cls("cdktf.TerraformResource", f"Represents a {_LINK}/resources/thing aws_thing}}.",
                         p + "ThingConfig", [
                             _prop("tfResourceType", string, static=True), _prop("arn", string),
                             _prop("identity", {"fqn": p + "ThingIdentityList"}), _prop("name", string),
                             _prop("nameInput", string), _prop("selfAttribute", string),
                             _prop("rule", {"fqn": p + "ThingRuleList"}), _prop("ruleInput", rules)]),
        p + "ThingConfig": {"kind": "interface", "datatype": True, "properties": [
            _prop("name", string, f"Docs at Terraform Registry: {_LINK}/resources/thing#name Thing#name}}.",
                  optional=False),
            _prop("selfAttribute", string, f"Docs at Terraform Registry: {_LINK}/resources/thing#self Thing#self}}."),
            _prop("rule", rules, "rule block.")]},
        p + "ThingRule": {"kind": "interface", "datatype": True, "properties": [
            _prop("days", {"primitive": "number"}, "Days."), _prop("addressLine1", string, "The first line.")]},
        p + "ThingRuleOutputReference": cls("cdktf.ComplexObject", properties=[
            _prop("days", {"primitive": "number"}), _prop("daysInput", {"primitive": "number"}),
            _prop("addressLine1", string), _prop("ruleArn", string)]),
        p + "ThingRuleList": cls("cdktf.ComplexList", methods=[
            {"name": "get", "returns": {"type": {"fqn": p + "ThingRuleOutputReference"}}}]),
        p + "ThingIdentityOutputReference": cls("cdktf.ComplexObject", properties=[_prop("issuer", string)]),
        p + "ThingIdentityList": cls("cdktf.ComplexList", methods=[
            {"name": "get", "returns": {"type": {"fqn": p + "ThingIdentityOutputReference"}}}]),
        "@cdktf/provider-aws.provider.AwsProvider": cls(
            "cdktf.TerraformProvider", f"Represents a {_LINK} aws}}.", "@cdktf/provider-aws.provider.AwsProviderConfig"),
        "@cdktf/provider-aws.provider.AwsProviderConfig": {"kind": "interface", "datatype": True, "properties": [
            _prop("region", string, "The region.")]},
    }}


def _wheel(path: Path) -> Path:
    tarball = io.BytesIO()
    with tarfile.open(fileobj=tarball, mode="w:gz") as tar:
        for name, data in (("package/.jsii", json.dumps(_assembly()).encode()),
                           ("package/lib/thing/index.js", _JAVASCRIPT.encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("cdktf_cdktf_provider_aws/_jsii/provider-aws@20.1.0.jsii.tgz", tarball.getvalue())
    return path


def test_extract_reads_names_structure_and_computed_attributes_from_the_bindings(tmp_path):
    wheel = _wheel(tmp_path / "cdktf_cdktf_provider_aws-20.1.0-py3-none-any.whl")

    schema = provider_schema.extract(wheel)

    assert schema["source"] == "cdktf-cdktf-provider-aws==20.1.0"
    assert schema["provider_version"] == "5.100.0"
    assert schema["provider"] == {"a": ["region"]}
    assert schema["data_sources"] == {}
    # Terraform's names, not camelCase's: `self` (renamed selfAttribute), `address_line_1` (not address_line1).
    assert schema["resources"] == {"aws_thing": {
        "a": ["name", "self"],
        "b": {"rule": {"a": ["address_line_1", "days"], "r": {"rule_arn": 0}}},
        "q": ["name"],
        "r": {"arn": 0, "identity": {"r": {"issuer": 0}}},
    }}


def test_extract_writes_the_same_bytes_each_time_and_the_checker_uses_them(tmp_path):
    wheel = _wheel(tmp_path / "bindings.whl")
    first, second = tmp_path / "first.json.gz", tmp_path / "second.json.gz"

    assert provider_schema.main(["--extract", str(wheel), "--schema", str(first)]) == 0
    provider_schema.main(["--extract", str(wheel), "--schema", str(second)])

    assert first.read_bytes() == second.read_bytes()
    module = tmp_path / "module"
    module.mkdir()
    (module / "main.tf").write_text(
        'resource "aws_thing" "a" {\n  name = "a"\n  self = "b"\n  rule {\n    address_line_1 = "c"\n  }\n}\n\n'
        'output "ok" {\n  value = [aws_thing.a.identity[0].issuer, aws_thing.a.rule[0].rule_arn, aws_thing.a.arn]\n}\n\n'
        'output "bad" {\n  value = aws_thing.a.identity[0].issuerr\n}\n')
    assert problems(module, provider_schema.load(first)) == [
        "main.tf:14: aws_thing.a.identity[0].issuerr: aws_thing.identity has no attribute 'issuerr' (did you mean "
        "'issuer'?)"]
