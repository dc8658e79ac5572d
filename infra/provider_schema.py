"""`make terraform-check`'s second half: every argument, nested block and attribute reference under infra/ checked
against the hashicorp/aws provider's schema, offline. `terraform validate` would do it but needs the provider, which
only a registry serves (ci.yml's terraform job runs it); this catches the misnamed and the missing here, in a second.

    python infra/provider_schema.py [FOLDER ...]      # default infra/; exit 1 on any problem, one line each
    python infra/provider_schema.py --extract WHEEL   # rewrite SCHEMA from the cdktf bindings' wheel

What it checks, in every folder of *.tf files (one Terraform module each):
- every `resource` and `data` block of an aws_* type: the type exists; every argument and nested block is one the
  type has, written as one (`x = ...` for an argument, `x { ... }` for a block), recursively (`dynamic "x"` as
  block x, its `content` as x's body); none the provider requires is missing. Meta-arguments (count, for_each,
  provider, depends_on, lifecycle, provisioner, connection) are Terraform's. The `provider "aws"` block likewise.
- every reference `aws_TYPE.NAME...` and `data.aws_TYPE.NAME...` in an expression (not in a string's literal
  text, nor in `moved`/`removed`/`import` addresses): the resource is declared in the same module; an instance key
  (`[0]`, `["k"]`) is there exactly when it has count or for_each (`[*]` either way); the attribute is one the type
  has (an argument, a block or a computed attribute; `tags_all` wherever `tags` is), and so on into nested blocks
  (`aws_x.y.block[0].field`) as far as the schema knows them.
- the schema's provider version satisfies every `required_providers` aws constraint.
Not what validate also checks: value types, conflicting arguments, block counts, other providers, module calls.

The schema is SCHEMA, a compact extract (names only: arguments, blocks recursively, which are required, computed
attributes) of the PyPI package cdktf-cdktf-provider-aws, the CDK for Terraform bindings generated from the
provider's own schema. SCHEMA records the version: 20.1.0 mirrors hashicorp/aws 5.100.0, the last 5.x, the newest
that versions.tf's ">= 5.81, < 6.0" admits (21.x mirror 6.x). Committed rather than installed: the wheel is 55 MB,
450 MB installed with its bytecode (25 s, before its dependencies cdktf, jsii and constructs), and reading its
assembly takes 8 s and 0.75 GB of memory; the extract is 0.16 MB and loads in 20 ms. To rebuild it (the network,
once; then commit the file, which is byte for byte the same from the same wheel):

    pip download cdktf-cdktf-provider-aws==20.1.0 --no-deps -d /tmp/cdktf
    python infra/provider_schema.py --extract /tmp/cdktf/cdktf_cdktf_provider_aws-20.1.0-py3-none-any.whl

The wheel holds the jsii assembly (.jsii: each resource class, its config struct and nested block structs, its
attribute getters, which are optional) and the compiled JavaScript. Structure comes from the assembly; names from
the JavaScript, which writes and reads Terraform's own (`address_line_1: ...(struct.addressLine1)`: camelCase
does not give it back, nor the renamed `self`, `system`, `get_password_data`), else the assembly's registry links.
"""

from __future__ import annotations

import argparse
import difflib
import gzip
import io
import json
import re
import sys
import tarfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import hcl2
from hcl2.rules.base import AttributeRule, BlockRule, BodyRule
from hcl2.utils import SerializationOptions

INFRA = Path(__file__).resolve().parent
CHECKOUT = INFRA.parent
SCHEMA = INFRA / "aws_provider_schema.json.gz"
PACKAGE = "cdktf-cdktf-provider-aws"

# Terraform's own, in any resource or data block (top level only).
META_ARGUMENTS = {"count", "for_each", "provider", "depends_on"}
META_BLOCKS = {"lifecycle", "provisioner", "connection"}
# Whose bodies hold resource addresses, not references: the address they move from may no longer be declared.
ADDRESS_BLOCKS = {"moved", "removed", "import"}
_HCL = SerializationOptions(with_comments=False, preserve_heredocs=True)

# -- extraction from the cdktf bindings (--extract) ----------------------------------------------------------

_CLASS = re.compile(r"^class (\w+) extends [\w.]+ \{$", re.M)
_GETTER = re.compile(r"^    get (\w+)\(\) \{\n        return (.+?);\n    \}$", re.M)
_NEW = re.compile(r"this\._(\w+) = new \w+\(this, \"([^\"]+)\"")
_READ = re.compile(r"this\.(?:get\w*Attribute|interpolationForAttribute)\('([^']+)'\)")
_FIELD = re.compile(r"this\._(\w+)")
_SYNTHESIZE = re.compile(r"^    synthesizeAttributes\(\) \{\n        return \{\n(.*?)\n        \};$", re.M | re.S)
_TO_TERRAFORM = re.compile(r"^function (\w+)ToTerraform\(struct\) \{$(.*?)^\}$", re.M | re.S)
_KEY = re.compile(r"^ +(\w+): .*?\((?:this\._|struct\.)(\w+)", re.M)
_TYPE_LINK = re.compile(r"\{@link https://registry\.terraform\.io/providers/hashicorp/aws/([\w.]+)/docs"
                        r"(?:/(resources|data-sources)/\w+)? (\w+)\}")
_ARG_LINK = re.compile(r"#(\w+) \w+#\1\}")
_BLOCK_DOC = re.compile(r"(\w+) block\.")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def _javascript_config(text: str) -> dict[str, dict[str, str]]:
    """class or struct name -> {property: Terraform name}, as the bindings write the configuration: a resource's
    synthesizeAttributes(), a nested block's <struct>ToTerraform()."""
    found = {}
    starts = list(_CLASS.finditer(text))
    for number, start in enumerate(starts):
        body = text[start.end():starts[number + 1].start() if number + 1 < len(starts) else len(text)]
        if synthesize := _SYNTHESIZE.search(body):
            found[start.group(1)] = {prop: name for name, prop in _KEY.findall(synthesize.group(1))}
    for function in _TO_TERRAFORM.finditer(text):
        struct = function.group(1)[0].upper() + function.group(1)[1:]
        found[struct] = {prop: name for name, prop in _KEY.findall(function.group(2))}
    return found


def _javascript_getters(text: str) -> dict[str, dict[str, str]]:
    """class name -> {getter: Terraform name} for the getters that read an attribute (not the `...Input` ones,
    which return the configured value)."""
    found: dict[str, dict[str, str]] = {}
    starts = list(_CLASS.finditer(text))
    for number, start in enumerate(starts):
        body = text[start.end():starts[number + 1].start() if number + 1 < len(starts) else len(text)]
        complex_fields = dict(_NEW.findall(body))
        getters = {}
        for getter, expression in _GETTER.findall(body):
            if read := _READ.search(expression):
                getters[getter] = read.group(1)
            elif (own := _FIELD.fullmatch(expression)) and own.group(1) in complex_fields:
                getters[getter] = complex_fields[own.group(1)]
        found[start.group(1)] = getters
    return found


class _Assembly:
    def __init__(self, types: dict, configured: dict[str, dict[str, str]], getters: dict[str, dict[str, str]]):
        self.types, self.configured, self.getters = types, configured, getters
        self.fallbacks = 0  # names only camelCase gave (6 in 20.1.0: two timeouts blocks, which it gives right)

    def struct_of(self, type_ref: dict) -> str | None:
        """The struct (a nested block's type) a property holds, alone or in a list/set; None for plain values."""
        if "fqn" in type_ref:
            return type_ref["fqn"] if self.types.get(type_ref["fqn"], {}).get("datatype") else None
        if "union" in type_ref:
            return next(filter(None, map(self.struct_of, type_ref["union"]["types"])), None)
        if "collection" in type_ref:
            return self.struct_of(type_ref["collection"]["elementtype"])
        return None

    def name(self, struct: str, owner: str, prop: dict) -> str:
        for names in (self.configured.get(struct.rsplit(".", 1)[1], {}), self.configured.get(owner.rsplit(".", 1)[1], {}),
                      self.getters.get(owner.rsplit(".", 1)[1], {})):
            if name := names.get(prop["name"]):
                return name
        summary = prop.get("docs", {}).get("summary", "")
        if found := _ARG_LINK.search(summary) or _BLOCK_DOC.fullmatch(summary):
            return found.group(1)
        self.fallbacks += 1
        return _snake(prop["name"])

    def config(self, struct: str, owner: str, depth: int = 0) -> dict:
        """A block's node: {"a": [arguments], "b": {block: node}, "q": [required arguments and blocks],
        "r": {computed attribute: node or 0}}; empty ones left out."""
        arguments, blocks, required = [], {}, []
        for prop in self.types[struct].get("properties", []):
            name, nested = self.name(struct, owner, prop), self.struct_of(prop["type"])
            if not prop.get("optional"):
                required.append(name)
            summary = prop.get("docs", {}).get("summary", "")
            if nested and depth < 32:
                blocks[name] = self.config(nested, nested + "OutputReference", depth + 1)
                if not _BLOCK_DOC.fullmatch(summary):
                    arguments.append(name)  # a nested attribute (`name = {...}`) or a block: both accepted
            elif _BLOCK_DOC.fullmatch(summary):
                blocks[name] = None  # a block whose contents the bindings leave untyped
            else:
                arguments.append(name)
        node = {"a": sorted(arguments), "b": dict(sorted(blocks.items())), "q": sorted(required)}
        node["r"] = self.readable(owner, set(arguments) | set(blocks), depth)
        return {key: value for key, value in node.items() if value}

    def readable(self, owner: str, configured: set[str], depth: int) -> dict:
        """The computed attributes of a resource class or OutputReference, beyond its configured ones."""
        found = {}
        getters = self.getters.get(owner.rsplit(".", 1)[1], {})
        for prop in self.types.get(owner, {}).get("properties", []):
            name = getters.get(prop["name"])
            if prop.get("static") or name is None or name in configured:
                continue
            fqn = prop["type"].get("fqn", "")
            if self.types.get(fqn, {}).get("base") == "cdktf.ComplexList":  # its get(index) returns the element
                (fqn,) = [m["returns"]["type"]["fqn"] for m in self.types[fqn]["methods"] if m["name"] == "get"]
            nested = (self.readable(fqn, set(), depth + 1)
                      if self.types.get(fqn, {}).get("base") == "cdktf.ComplexObject" and depth < 32 else None)
            found[name] = {"r": nested} if nested else 0
        return dict(sorted(found.items()))


def extract(wheel: Path) -> dict:
    """The compact schema from the bindings' wheel."""
    with zipfile.ZipFile(wheel) as archive:
        (member,) = [name for name in archive.namelist() if name.endswith(".jsii.tgz")]
        tarball = archive.read(member)
    configured: dict[str, dict[str, str]] = {}
    getters: dict[str, dict[str, str]] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball)) as tar:
        for entry in tar:
            if entry.name == "package/.jsii":
                assembly = json.load(tar.extractfile(entry))
            elif entry.name.startswith("package/lib/") and entry.name.endswith("/index.js"):
                text = tar.extractfile(entry).read().decode("utf-8")
                configured.update(_javascript_config(text))
                getters.update(_javascript_getters(text))
    types = assembly["types"]
    reader = _Assembly(types, configured, getters)
    schema: dict = {"resources": {}, "data_sources": {}}
    for fqn, cls in sorted(types.items()):
        base = cls.get("base")
        if cls["kind"] != "class" or base not in ("cdktf.TerraformResource", "cdktf.TerraformDataSource",
                                                    "cdktf.TerraformProvider"):
            continue
        link = _TYPE_LINK.search(cls["docs"]["summary"])
        (config,) = [p["type"]["fqn"] for p in cls["initializer"]["parameters"] if p["name"] == "config"]
        node = reader.config(config, fqn)
        if base == "cdktf.TerraformProvider":
            schema["provider_version"], schema["provider"] = link.group(1), node
        else:
            schema["resources" if link.group(2) == "resources" else "data_sources"][link.group(3)] = node
    schema["source"] = f"{PACKAGE}=={assembly['version']}"
    print(f"{schema['source']}: hashicorp/aws {schema['provider_version']}, {len(schema['resources'])} resources, "
          f"{len(schema['data_sources'])} data sources; {reader.fallbacks} names from camelCase alone")
    return schema


def write(schema: dict, path: Path = SCHEMA) -> None:
    data = json.dumps(schema, sort_keys=True, separators=(",", ":")).encode()
    path.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))  # byte for byte the same from the same wheel


def load(path: Path = SCHEMA) -> dict:
    return json.loads(gzip.decompress(path.read_bytes()))


# -- the check -------------------------------------------------------------------------------------------------

def _readable(node: dict) -> dict:
    """Every name an expression may read on a resource or nested block: arguments, blocks, computed attributes."""
    names = dict.fromkeys(node.get("a", []), 0) | {name: sub or 0 for name, sub in node.get("b", {}).items()}
    names.update(node.get("r", {}))
    if "tags" in names:
        names.setdefault("tags_all", 0)
    return names


def _code(text: str) -> str:
    """A serialized expression or template with the literal text of its strings blanked out (same length), so only
    expressions remain: `"${aws_s3_bucket.x.arn}/*"` keeps the reference, `"aws_s3_bucket.x.arn"` none."""
    out, stack, i = [], ["template"], 0  # template: literal text; string: a quoted one; an int: braces open
    while i < len(text):
        char, mode = text[i], stack[-1]
        if mode in ("template", "string"):
            if text.startswith(("$${", "%%{"), i):
                out.append("   ")
                i += 3
                continue
            if text.startswith(("${", "%{"), i):
                stack.append(0)
                out.append("  ")
                i += 2
                continue
            if mode == "string" and char == "\\":
                out.append("  ")
                i += 2
                continue
            if mode == "string" and char == '"':
                stack.pop()
            out.append(" ")
        elif char == '"':
            stack.append("string")
            out.append(" ")
        elif char == "{":
            stack[-1] += 1
            out.append(char)
        elif char == "}":
            if mode == 0:
                stack.pop()
                out.append(" ")
            else:
                stack[-1] -= 1
                out.append(char)
        else:
            out.append(char)
        i += 1
    return "".join(out)[:len(text)]


_REFERENCE = re.compile(r"(?<![\w.-])(data\.)?(aws_\w+)\.([A-Za-z_][\w-]*)")
_ATTRIBUTE = re.compile(r"\.([A-Za-z_][\w-]*)")  # HCL's identifiers may hold dashes


def _steps(code: str, text: str, at: int) -> tuple[list[tuple[str, str]], int]:
    """The traversal after `TYPE.NAME` in code (_code's text), at `at`: ("attr", name), ("index", key as text has
    it) or ("splat", "*"); and where it ends."""
    steps = []
    while at < len(code):
        if code[at] == "[":
            depth, end = 0, at
            while end < len(code):
                depth += {"[": 1, "]": -1}.get(code[end], 0)
                if depth == 0:
                    break
                end += 1
            key = text[at + 1:end].strip()
            steps.append(("splat", "*") if key == "*" else ("index", key))
            at = end + 1
        elif code.startswith(".*", at):
            steps.append(("splat", "*"))
            at += 2
        elif found := _ATTRIBUTE.match(code, at):
            steps.append(("attr", found.group(1)))
            at = found.end()
        else:
            break
    return steps, at


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in _strings(key) + _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _label(rule) -> str:
    return rule.serialize(_HCL).strip('"')


def _line(rule) -> int:
    return getattr(rule._meta, "line", 0)  # python-hcl2 parses with lark's propagate_positions


def _hint(name: str, names) -> str:
    close = difflib.get_close_matches(name, list(names), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass
class _Resource:
    mode: str  # "resource" or "data"
    type: str
    name: str
    path: Path
    line: int
    body: BodyRule
    instances: str | None  # "count", "for_each" or None

    @property
    def address(self) -> str:
        return f"{'data.' if self.mode == 'data' else ''}{self.type}.{self.name}"


@dataclass
class Report:
    problems: list[tuple[str, int, str]] = field(default_factory=list)  # (file, line, message)
    files: int = 0
    blocks: int = 0
    arguments: int = 0
    references: int = 0


class Checker:
    def __init__(self, schema: dict):
        self.schema = schema
        self.report = Report()

    def problem(self, path: Path, line: int, message: str) -> None:
        try:
            shown = path.resolve().relative_to(CHECKOUT)
        except ValueError:
            shown = path
        self.report.problems.append((str(shown), line, message))

    # -- arguments and blocks

    def body(self, body: BodyRule, node: dict | None, where: str, path: Path, line: int, top: bool = False) -> None:
        if node is None:
            return  # a block the bindings leave untyped: nothing to check inside
        arguments, blocks = set(node.get("a", [])), node.get("b", {})
        present = set()
        for child in body.children:
            if isinstance(child, AttributeRule):
                name = _label(child.identifier)
                if top and name in META_ARGUMENTS:
                    continue
                self.report.arguments += 1
                present.add(name)
                if name in blocks and name not in arguments:
                    self.problem(path, _line(child), f"{where}: {name!r} is a block ({name} {{ ... }}), "
                                 "not an argument")
                elif name not in arguments and name not in blocks:
                    self.problem(path, _line(child), f"{where}: unsupported argument {name!r}"
                                 f"{_hint(name, arguments | set(blocks))}")
            elif isinstance(child, BlockRule):
                labels = [_label(label) for label in child.labels]
                if top and labels[0] in META_BLOCKS:
                    continue
                self.report.arguments += 1
                name, content = labels[0], child.body
                if name == "dynamic" and len(labels) == 2:
                    name = labels[1]
                    content = next((c.body for c in child.body.children
                                    if isinstance(c, BlockRule) and _label(c.labels[0]) == "content"), None)
                present.add(name)
                if name not in blocks:
                    if name in arguments:
                        self.problem(path, _line(child), f"{where}: {name!r} is an argument ({name} = ...), "
                                     "not a block")
                    else:
                        self.problem(path, _line(child), f"{where}: unsupported block {name!r}"
                                     f"{_hint(name, blocks)}")
                elif content is not None:
                    self.body(content, blocks[name], f"{where}.{name}", path, _line(child))
        for name in node.get("q", []):
            if name not in present:
                kind = "block" if name in blocks and name not in arguments else "argument"
                self.problem(path, line, f"{where}: missing required {kind} {name!r}")

    # -- references

    def references(self, rule: AttributeRule, path: Path, declared: dict[tuple[str, str, str], _Resource],
                   source: list[str]) -> None:
        for text in _strings(rule.expression.serialize(_HCL)):
            code = _code(text)
            for found in _REFERENCE.finditer(code):
                mode = "data" if found.group(1) else "resource"
                address = found.group(0)
                steps, end = _steps(code, text, found.end())
                self.report.references += 1
                self.reference(mode, found.group(2), found.group(3), steps, address, path,
                               self.where(rule, source, text[found.start():end], address), declared)

    @staticmethod
    def where(rule: AttributeRule, source: list[str], *texts: str) -> int:
        """The line of the attribute's (which may span several) that holds the first of texts found; else its
        first line."""
        start = _line(rule)
        span = range(start, min(getattr(rule._meta, "end_line", start), len(source)) + 1)
        return next((number for text in texts for number in span if text in source[number - 1]), start)

    def reference(self, mode: str, rtype: str, name: str, steps: list[tuple[str, str]], address: str, path: Path,
                  line: int, declared: dict) -> None:
        types = self.schema["data_sources" if mode == "data" else "resources"]
        if rtype not in types:
            self.problem(path, line, f"{address}: no {'data source' if mode == 'data' else 'resource'} type "
                         f"{rtype!r} in hashicorp/aws {self.schema['provider_version']}{_hint(rtype, types)}")
            return
        target = declared.get((mode, rtype, name))
        if target is None:
            same = sorted(r.name for (m, t, _), r in declared.items() if (m, t) == (mode, rtype))
            hint = _hint(name, same) or (f" (it declares {', '.join(same[:5])})" if same else "")
            self.problem(path, line, f"{address}: not declared in this module{hint}")
            return
        if not steps:
            return  # the whole resource (depends_on, a for expression)
        if steps[0][0] == "index" and target.instances is None:
            self.problem(path, line, f"{address}[{steps[0][1]}]: {address} has neither count nor for_each, "
                         "so no instance key")
        elif steps[0][0] == "attr" and target.instances is not None:
            self.problem(path, line, f"{address}.{steps[0][1]}: {address} has {target.instances}, so an "
                         "instance key comes first")
        node: dict | int = types[rtype]
        shown, within = address, rtype  # the expression so far; where in the schema it is
        for number, (kind, value) in enumerate(steps):
            if kind != "attr":
                shown += "[*]" if kind == "splat" else f"[{value}]"
                continue
            if number == 0 and target.instances is not None:
                return  # reported above; attributes of the whole map/list would only mislead
            names = _readable(node) if isinstance(node, dict) else None
            if not names:
                return  # a plain value, a map's key or a type the schema does not detail: no further check
            if value not in names:
                self.problem(path, line, f"{shown}.{value}: {within} has no attribute {value!r}"
                             f"{_hint(value, names)}")
                return
            shown, within = f"{shown}.{value}", f"{within}.{value}"
            node = names[value]

    # -- a module

    def module(self, folder: Path) -> None:
        files = {}
        for path in sorted(folder.glob("*.tf")):
            self.report.files += 1
            source = path.read_text(encoding="utf-8")
            try:
                files[path] = (hcl2.parses(source), source.splitlines())
            except Exception as error:  # lark's parse errors, whichever
                self.problem(path, getattr(error, "line", 0), f"python-hcl2 cannot parse it: {error}".splitlines()[0])
        declared: dict[tuple[str, str, str], _Resource] = {}
        top: list[tuple[Path, BlockRule, list[str]]] = []
        for path, (tree, lines) in files.items():
            for block in tree.body.children:
                if not isinstance(block, BlockRule):
                    continue
                top.append((path, block, lines))
                scoped = [c for c in block.body.children if isinstance(c, BlockRule)] if _label(
                    block.labels[0]) == "check" else []  # a check block's own data sources
                for declaration in [block, *scoped]:
                    labels = [_label(label) for label in declaration.labels]
                    if labels[0] not in ("resource", "data") or len(labels) != 3:
                        continue
                    attributes = {_label(c.identifier) for c in declaration.body.children
                                  if isinstance(c, AttributeRule)}
                    instances = next((meta for meta in ("count", "for_each") if meta in attributes), None)
                    declared[(labels[0], labels[1], labels[2])] = _Resource(
                        labels[0], labels[1], labels[2], path, _line(declaration), declaration.body, instances)
        for resource in declared.values():
            if not resource.type.startswith("aws_"):
                continue
            self.report.blocks += 1
            types = self.schema["data_sources" if resource.mode == "data" else "resources"]
            if resource.type not in types:
                kind = "data source" if resource.mode == "data" else "resource"
                self.problem(resource.path, resource.line, f"{resource.address}: no {kind} type {resource.type!r} in "
                             f"hashicorp/aws {self.schema['provider_version']}{_hint(resource.type, types)}")
                continue
            self.body(resource.body, types[resource.type], resource.address, resource.path, resource.line, top=True)
        for path, block, lines in top:
            labels = [_label(label) for label in block.labels]
            if labels[0] == "provider" and labels[1:] == ["aws"]:
                self.report.blocks += 1
                self.body(block.body, self.provider_node(), "provider.aws", path, _line(block), top=True)
            elif labels[0] == "terraform":
                self.versions(block, path, lines)
            if labels[0] not in ADDRESS_BLOCKS:
                for rule in _attributes(block.body):
                    self.references(rule, path, declared, lines)

    def provider_node(self) -> dict:
        node = dict(self.schema["provider"])
        node["a"] = node.get("a", []) + ["alias", "version"]  # Terraform's own in a provider block
        return node

    def versions(self, block: BlockRule, path: Path, source: list[str]) -> None:
        """The schema's provider version against every aws version constraint of required_providers."""
        for child in block.body.children:
            if isinstance(child, BlockRule) and _label(child.labels[0]) == "required_providers":
                for rule in child.body.children:
                    if not isinstance(rule, AttributeRule) or _label(rule.identifier) != "aws":
                        continue
                    value = rule.expression.serialize(SerializationOptions(with_comments=False,
                                                                           strip_string_quotes=True))
                    constraint = value.get("version") if isinstance(value, dict) else None
                    version = self.schema["provider_version"]
                    if constraint and not satisfies(version, constraint):
                        self.problem(path, self.where(rule, source, "version"), f"required_providers aws {constraint!r} excludes the "
                                     f"schema's {version} ({self.schema['source']}): re-extract it (see "
                                     "infra/provider_schema.py)")


def _attributes(body: BodyRule):
    for child in body.children:
        if isinstance(child, AttributeRule):
            yield child
        elif isinstance(child, BlockRule):
            yield from _attributes(child.body)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text.split("-")[0])[:3])


def satisfies(version: str, constraint: str) -> bool:
    """Terraform's version constraint syntax: comma-separated `op X.Y.Z` (=, !=, >, >=, <, <=, ~>)."""
    have = _version(version)
    for clause in constraint.split(","):
        op, wanted = re.fullmatch(r"\s*(~>|>=|<=|!=|=|>|<)?\s*v?([\w.\-]+)\s*", clause).groups()
        want = _version(wanted)
        padded = want + (0,) * (3 - len(want))
        ok = {None: have == padded, "=": have == padded, "!=": have != padded, ">": have > padded,
              ">=": have >= padded, "<": have < padded, "<=": have <= padded,
              "~>": have >= padded and have[:max(len(want) - 1, 1)] == want[:max(len(want) - 1, 1)]}[op]
        if not ok:
            return False
    return True


def modules(root: Path) -> list[Path]:
    """Every folder under root (root included) with *.tf files: one Terraform module each."""
    return sorted({path.parent for path in root.rglob("*.tf") if ".terraform" not in path.parts})


def check(roots: list[Path], schema: dict | None = None) -> Report:
    checker = Checker(schema or load())
    for root in roots:
        for folder in modules(root):
            checker.module(folder)
    return checker.report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="*", type=Path, default=[INFRA], help="folders to check (default infra/)")
    parser.add_argument("--extract", type=Path, metavar="WHEEL", help=f"rewrite {SCHEMA.name} from {PACKAGE}'s wheel")
    parser.add_argument("--schema", type=Path, default=SCHEMA, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.extract:
        write(extract(args.extract), args.schema)
        print(f"wrote {args.schema} ({args.schema.stat().st_size:,} bytes)")
        return 0
    started = time.perf_counter()
    schema = load(args.schema)
    report = check(args.folders, schema)
    for path, line, message in sorted(report.problems):
        print(f"{path}:{line}: {message}", file=sys.stderr)
    summary = (f"{report.files} files, {report.blocks} aws blocks, {report.arguments} arguments and blocks, "
               f"{report.references} references against hashicorp/aws {schema['provider_version']} "
               f"({schema['source']}) in {time.perf_counter() - started:.1f}s")
    if report.problems:
        count = len(report.problems)
        print(f"provider schema: {count} problem{'s' if count > 1 else ''} in {summary}", file=sys.stderr)
        return 1
    print(f"provider schema: no problems in {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
