"""The serving image holds the core, the Lambda handlers and the ops API (functions/Dockerfile): every module of
those packages imports, with the training, data-check and explanation libraries absent as they are from the
image, and loads nothing from the lifecycle, the explainers, the tools or the test scaffolding. import-linter
checks the imports as written; this checks them as run."""

import fnmatch
import json
import re
import subprocess
import sys

from testing import CHECKOUT

SERVING_PACKAGES = ("complaints", "functions", "ops_api")
OURS_OUTSIDE_THE_IMAGE = ("model", "data_checks", "explain", "tools", "testing")
# Not installed in the image (functions/requirements.txt): blocked here, so an import of one fails as it would there.
# Presidio imports torch and transformers where they are installed, and does without them.
ABSENT_FROM_THE_IMAGE = ("torch", "transformers", "sklearn", "great_expectations", "onnx", "shap", "matplotlib",
                         "datasets")

IMPORT_EVERY_MODULE = f"""
import importlib, json, pkgutil, sys
sys.modules.update(dict.fromkeys({ABSENT_FROM_THE_IMAGE!r}))
for name in {SERVING_PACKAGES!r}:
    package = importlib.import_module(name)
    for module in pkgutil.walk_packages(package.__path__, name + "."):
        importlib.import_module(module.name)
print(json.dumps(sorted({{name.split(".")[0] for name, module in sys.modules.items() if module is not None}})))
"""


def test_the_serving_packages_import_nothing_from_the_lifecycle_tools_or_testing():
    run = subprocess.run([sys.executable, "-c", IMPORT_EVERY_MODULE], cwd=CHECKOUT, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    loaded = set(json.loads(run.stdout.splitlines()[-1]))
    assert {"complaints", "functions", "ops_api"} <= loaded
    assert loaded.isdisjoint(OURS_OUTSIDE_THE_IMAGE), sorted(loaded & set(OURS_OUTSIDE_THE_IMAGE))


def test_the_image_copies_exactly_the_serving_packages():
    dockerfile = (CHECKOUT / "functions" / "Dockerfile").read_text(encoding="utf-8")
    copied = {line.split()[1].split("/")[0] for line in dockerfile.splitlines() if line.startswith("COPY ")
              and not line.split()[1].startswith(("functions/requirements", "functions/build"))}
    assert copied == set(SERVING_PACKAGES)


def _dockerignore_rules(text: str) -> list[tuple[bool, re.Pattern]]:
    """(re-include?, regex) per line, as BuildKit reads a .dockerignore: paths from the context's root, ``*`` within
    one path segment, ``**`` across any, ``!`` re-includes, the last matching line wins."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate, pattern = line.startswith("!"), line.lstrip("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        rules.append((negate, re.compile(regex.replace(r"\?", "[^/]"))))
    return rules


def build_context(files: list[str], dockerignore: str) -> set[str]:
    """The files a build sends: a file is left out when the last rule matching it, or a folder above it, excludes."""
    rules = _dockerignore_rules(dockerignore)

    def kept(path: str) -> bool:
        parts = path.split("/")
        prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
        verdict = True
        for negate, regex in rules:
            if any(regex.fullmatch(prefix) for prefix in prefixes):
                verdict = negate
        return verdict

    return {path for path in files if kept(path)}


def copy_sources(dockerfile: str) -> list[str]:
    return [line.split()[1] for line in dockerfile.splitlines() if line.startswith("COPY ")]


def test_every_copy_source_of_the_image_is_in_its_build_context():
    tracked = subprocess.run(["git", "ls-files"], cwd=CHECKOUT, capture_output=True, text=True, check=True).stdout
    staged = ["functions/build/models/models.json", "functions/build/models/team/0123456789abcdef/model.json"]
    files = tracked.split() + staged  # `make stage` writes the models' folder before a build
    dockerfile = (CHECKOUT / "functions" / "Dockerfile").read_text(encoding="utf-8")
    ignore = (CHECKOUT / "functions" / "Dockerfile.dockerignore").read_text(encoding="utf-8")
    context = build_context(files, ignore)
    for source in copy_sources(dockerfile):
        pattern = source.rstrip("/") + ("/*" if source.endswith("/") else "")
        assert any(fnmatch.fnmatchcase(path, pattern) for path in context), f"COPY {source}: not in the build context"
    assert not any(path.startswith(("tests/", "model/", "tools/", "testing/", ".git")) for path in context)
    without_ops_api = ignore.replace("!ops_api/\n", "")  # the mistake the image once had: the ops API left out
    assert not any(path.startswith("ops_api/") for path in build_context(files, without_ops_api))
