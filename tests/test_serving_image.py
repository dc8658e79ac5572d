"""The serving image holds the core, the Lambda handlers and the ops API (functions/Dockerfile): every module of
those packages imports, with the training, data-check and explanation libraries absent as they are from the
image, and loads nothing from the lifecycle, the explainers, the tools or the test scaffolding. import-linter
checks the imports as written; this checks them as run, and that the image's build context, cut by
functions/Dockerfile.dockerignore as docker build cuts it, holds every file they load."""

import functools
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from docker.utils.build import exclude_paths
from docker.utils.fnmatch import fnmatchcase

from testing import CHECKOUT

SERVING_PACKAGES = ("complaints", "functions", "ops_api")
OURS_OUTSIDE_THE_IMAGE = ("model", "data_checks", "explain", "tools", "testing")
# Not installed in the image (functions/requirements.txt): blocked here, so an import of one fails as it would there.
# Presidio imports torch and transformers where they are installed, and does without them.
ABSENT_FROM_THE_IMAGE = ("torch", "transformers", "sklearn", "great_expectations", "onnx", "shap", "matplotlib",
                         "datasets")
# What `make stage` writes before a build (git-ignored, so no clone has it).
STAGED_MODELS = ("functions/build/models/models.json", "functions/build/models/team/0123456789abcdef/model.json")
TASK_ROOT = "${LAMBDA_TASK_ROOT}"  # where the Dockerfile copies the packages: Python's path in a Lambda image

IMPORT_EVERY_MODULE = f"""
import importlib, json, pkgutil, sys
from pathlib import Path
sys.modules.update(dict.fromkeys({ABSENT_FROM_THE_IMAGE!r}))
for name in {SERVING_PACKAGES!r}:
    package = importlib.import_module(name)
    for module in pkgutil.walk_packages(package.__path__, name + "."):
        importlib.import_module(module.name)
loaded = [module for module in sys.modules.values() if module is not None]
checkout, venv = Path.cwd(), Path(sys.prefix)
files = [Path(module.__file__) for module in loaded if getattr(module, "__file__", None)]
print(json.dumps({{
    "packages": sorted({{module.__name__.split(".")[0] for module in loaded}}),
    "files": sorted(str(file.relative_to(checkout)) for file in files
                    if file.is_relative_to(checkout) and not file.is_relative_to(venv)),
}}))
"""


@functools.cache
def loaded() -> dict[str, list[str]]:
    """The top-level packages and the checkout's files that importing every serving module loads."""
    run = subprocess.run([sys.executable, "-c", IMPORT_EVERY_MODULE], cwd=CHECKOUT, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.splitlines()[-1])


def test_the_serving_packages_import_nothing_from_the_lifecycle_tools_or_testing():
    packages = set(loaded()["packages"])
    assert set(SERVING_PACKAGES) <= packages
    assert packages.isdisjoint(OURS_OUTSIDE_THE_IMAGE), sorted(packages & set(OURS_OUTSIDE_THE_IMAGE))


def copies(dockerfile: str) -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY and ADD from the build context (not --from another stage)."""
    found = []
    for line in re.sub(r"\\\n", " ", dockerfile).splitlines():
        instruction, _, arguments = line.strip().partition(" ")
        if instruction.upper() not in ("COPY", "ADD"):
            continue
        words = json.loads(arguments) if arguments.lstrip().startswith("[") else shlex.split(arguments)
        if any(word.startswith("--from=") for word in words):
            continue
        *sources, destination = [word for word in words if not word.startswith("--")]
        found.append((sources, destination))
    return found


def test_the_image_copies_exactly_the_serving_packages():
    copied = {source.split("/")[0] for sources, _ in copies(read("Dockerfile")) for source in sources
              if not source.startswith(("functions/requirements", "functions/build"))}
    assert copied == set(SERVING_PACKAGES)


@pytest.fixture(scope="module")
def checkout_copy(tmp_path_factory):
    """An empty file per file of a clone (and of this work tree, before it is committed) and per staged model file:
    the names are all the build context depends on."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=CHECKOUT,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    root = tmp_path_factory.mktemp("checkout")
    for path in [path for path in listed if (CHECKOUT / path).is_file()] + list(STAGED_MODELS):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).touch()
    return root


def build_context(root: Path, dockerignore: str) -> set[str]:
    """The files docker build sends from ``root`` under these rules, as the Docker SDK reads a .dockerignore: Go's
    filepath.Match per path segment, ``**`` across segments, ``!`` exceptions, the last matching line wins, and a
    folder's verdict covers its files (the SDK also folds case, which BuildKit does not: no rule here needs it)."""
    patterns = [line.strip() for line in dockerignore.splitlines() if line.strip() and not line.startswith("#")]
    return {path for path in exclude_paths(str(root), patterns, dockerfile="functions/Dockerfile")
            if (root / path).is_file()}


def copied(source: str, destination: str, context: set[str]) -> dict[str, str]:
    """{path in the image: path in the context} of one source of a COPY or ADD: a source that names a folder brings
    its contents, one that names files brings each into the destination folder (or to the destination itself)."""
    image = {}
    for path in context:
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            if fnmatchcase("/".join(parts[:depth]), source.strip("/")):
                if depth < len(parts):
                    image[destination.rstrip("/") + "/" + "/".join(parts[depth:])] = path
                else:
                    image[destination + parts[-1] if destination.endswith("/") else destination] = path
                break
    return image


def files_the_image_runs() -> list[str]:
    """Every file of the checkout the serving modules load, and the package data they read (pyproject.toml)."""
    package_data = tomllib.loads((CHECKOUT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"]
    data = [str(file.relative_to(CHECKOUT)) for package, globs in package_data.items() for pattern in globs
            for file in sorted((CHECKOUT / package).glob(pattern))]
    assert data, "pyproject.toml declares no package data"
    return loaded()["files"] + data


def missing_from_the_image(root: Path, dockerignore: str) -> list[str]:
    context = build_context(root, dockerignore)
    image = {target: path for sources, destination in copies(read("Dockerfile")) for source in sources
             for target, path in copied(source, destination, context).items()}
    return [path for path in files_the_image_runs() if f"{TASK_ROOT}/{path}" not in image]


def read(name: str) -> str:
    return (CHECKOUT / "functions" / name).read_text(encoding="utf-8")


def test_every_copy_source_of_the_image_is_in_its_build_context(checkout_copy):
    context = build_context(checkout_copy, read("Dockerfile.dockerignore"))
    for sources, destination in copies(read("Dockerfile")):
        for source in sources:
            assert copied(source, destination, context), f"COPY {source}: nothing of it is in the build context"
    assert not any(path.startswith(("tests/", "model/", "tools/", "testing/", ".git")) for path in context)


def test_every_file_the_serving_modules_load_is_in_the_image(checkout_copy):
    runs = files_the_image_runs()
    assert {"functions/triage.py", "ops_api/cognito.py", "ops_api/routers/queues.py",
            "complaints/redaction/lexicon/companies.txt", "complaints/config/tasks.yaml"} <= set(runs)
    assert missing_from_the_image(checkout_copy, read("Dockerfile.dockerignore")) == []


def test_each_exception_of_the_dockerignore_brings_files_the_image_runs(checkout_copy):
    """Without any one `!` line the image misses files it runs, as the build once did without `!ops_api/`: the
    check above catches a folder left out of the context."""
    ignore = read("Dockerfile.dockerignore")
    exceptions = [line for line in ignore.splitlines() if line.startswith("!")]
    assert "!ops_api/" in exceptions
    for line in exceptions:
        assert missing_from_the_image(checkout_copy, ignore.replace(line + "\n", "")), f"{line}: brings nothing needed"
