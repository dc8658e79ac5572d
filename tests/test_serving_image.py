"""The serving image holds the core, the Lambda handlers and the ops API (functions/Dockerfile): every module of
those packages imports, with the training, data-check and explanation libraries absent as they are from the
image, and loads nothing from the lifecycle, the explainers, the tools or the test scaffolding. import-linter
checks the imports as written; this checks them as run."""

import json
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
