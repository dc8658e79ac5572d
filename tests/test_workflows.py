"""The GitHub workflows, checked offline: actionlint (with shellcheck), zizmor --offline and GitHub's workflow schema
find nothing, and every `run:` step is a make target that exists or a `complaints` command that exists, with the
few plain shell commands no make target can stand in for. A workflow is thin: what it runs also runs on a laptop."""

from __future__ import annotations

import functools
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

CHECKOUT = Path(__file__).resolve().parents[1]
WORKFLOW_DIR = CHECKOUT / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOW_DIR.glob("*.yml"))
BIN = Path(sys.executable).parent  # the venv the suite runs in: the dev extra installs the linters there

# Shell glue a `run:` step may use besides make and complaints, and why no make target stands in for it.
GLUE = {
    "echo": "a line of the job summary ($GITHUB_STEP_SUMMARY)",
    "cat": "a report into the job summary; models.json into terraform's -var",
    "mkdir": "the folder terraform show writes the plan text into",
    "terraform": "init/plan/show/apply: infra/README.md's release steps, run by the workflows as written there",
}
TERRAFORM_SUBCOMMANDS = {"init", "plan", "show", "apply", "fmt", "validate"}
SEPARATORS = {";", "&&", "||", "|", "&", "(", ")", "{", "}", "!"}
REDIRECTS = re.compile(r"^\d*(>>?|<|>&|<&)$")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
SHELL_VARIABLE = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?")
PINNED = re.compile(r"^\s*(?:-\s+)?uses:\s+([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # v\d+\.\d+\.\d+\s*$")


def load(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as true
    return workflow


def jobs() -> list[tuple[str, str, dict]]:
    return [(path.name, name, job) for path in WORKFLOWS for name, job in load(path)["jobs"].items()]


def run_steps() -> list[tuple[str, str]]:
    """(where, script) of every `run:` step."""
    return [(f"{workflow}:{job_name}:{step.get('name', step['run'][:40])}", step["run"])
            for workflow, job_name, job in jobs() for step in job.get("steps", []) if "run" in step]


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: the dev extra installs it (make setup, or pip install -e '.[dev]')")
    return str(path)


def test_there_are_workflows():
    assert {path.name for path in WORKFLOWS} >= {"ci.yml", "retrain.yml", "deploy.yml"}


# --- the three linters ---------------------------------------------------------------------------------------

def test_actionlint_with_shellcheck_finds_nothing():
    result = subprocess.run([tool("actionlint"), f"-shellcheck={tool('shellcheck')}", "-no-color"],
                            cwd=CHECKOUT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_zizmor_offline_finds_nothing():
    result = subprocess.run([tool("zizmor"), "--offline", "--no-progress", "--format", "plain", str(WORKFLOW_DIR)],
                            cwd=CHECKOUT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings" in result.stdout, result.stdout


def test_workflows_match_githubs_schema():
    result = subprocess.run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                             *map(str, WORKFLOWS)], cwd=CHECKOUT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


# --- hygiene the linters do not enforce as such ------------------------------------------------------------------

def test_every_action_is_pinned_to_a_commit_with_its_release_in_a_comment():
    for path in WORKFLOWS:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.match(r"^\s*(-\s+)?uses:", line) and "$/" not in line:
                assert PINNED.match(line), f"{path.name}:{number}: `uses:` needs owner/repo@<40 hex> # vX.Y.Z: {line}"


def test_least_privilege_timeouts_and_no_persisted_credentials():
    for path in WORKFLOWS:
        assert load(path).get("permissions") == {}, f"{path.name}: top-level `permissions: {{}}`, each job asks"
    for workflow, name, job in jobs():
        where = f"{workflow}:{name}"
        assert "permissions" in job, f"{where}: no permissions of its own"
        steps = job.get("steps", [])
        if "uses" not in job:  # a job calling a reusable workflow takes the called jobs' timeouts
            assert isinstance(job.get("timeout-minutes"), int), f"{where}: no timeout-minutes"
        for step in steps:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False, f"{where}: persist-credentials"
        # OIDC only where a job assumes an AWS role (or calls the workflow that does).
        assumes_role = any(step.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
                           for step in steps) or job.get("uses", "").endswith("/apply.yml")
        assert (job["permissions"].get("id-token") == "write") == assumes_role, f"{where}: id-token"


def test_a_change_to_anything_the_serving_image_copies_deploys():
    """deploy.yml runs on a push that changes a package the image copies (functions/Dockerfile), so no code change
    waits for an unrelated one to reach the Lambda functions."""
    dockerfile = (CHECKOUT / "functions" / "Dockerfile").read_text(encoding="utf-8")
    copied = {line.split()[1].split("/")[0] for line in dockerfile.splitlines() if line.startswith("COPY ")}
    paths = load(WORKFLOW_DIR / "deploy.yml")["on"]["push"]["paths"]
    assert {f"{package}/**" for package in copied} <= set(paths), sorted(copied)


def test_no_expression_inside_a_script():
    """Untrusted input (a branch name, a title) expanded into a script is shell injection: values go in env:."""
    for where, script in run_steps():
        assert "${{" not in script, f"{where}: pass the value through env:"


def test_applies_are_deployments_that_never_race():
    applies = [(f"{workflow}:{name}", job) for workflow, name, job in jobs()
               if any(re.search(r"terraform\b.*\bapply\b|\bmake release\b", step.get("run", ""))
                      for step in job.get("steps", []))]
    assert applies, "no job applies anything"
    for where, job in applies:
        assert job.get("environment"), f"{where}: an apply is a GitHub deployment (environment:)"
        concurrency = job.get("concurrency", {})
        assert "environment" in str(concurrency.get("group")), f"{where}: one apply per environment at a time"
        assert concurrency.get("cancel-in-progress") is False, f"{where}: an apply is never cancelled midway"


def assumes_a_role(job: dict) -> bool:
    return any(step.get("uses", "").startswith("aws-actions/configure-aws-credentials@") for step in job.get("steps", []))


def test_a_pull_requests_job_reaches_aws_or_a_secret_only_in_a_reviewed_environment():
    """A pull_request run uses the pull request's own workflow files and Makefile: anyone who can push a branch
    writes the job. So a job of a pull_request workflow that assumes an AWS role or reads a secret declares a
    GitHub environment (required reviewers, infra/bootstrap/README.md): the roles trust only that environment's
    subject (tests/test_infra.py), and the secrets are that environment's, not the repository's."""
    checked = []
    for path in WORKFLOWS:
        if "pull_request" not in (load(path)["on"] or {}):
            continue
        for name, job in load(path)["jobs"].items():
            where = f"{path.name}:{name}"
            assert "secrets" not in job, f"{where}: passes secrets to a reusable workflow; its environment holds them"
            reads_secret = re.search(r"\bsecrets\.(?!GITHUB_TOKEN\b)\w+", yaml.safe_dump(job))
            if assumes_a_role(job) or reads_secret:
                assert job.get("environment"), f"{where}: AWS or a secret without an environment's reviewers"
                checked.append(where)
    assert {"ci.yml:gate", "deploy.yml:plan"} <= set(checked)


# --- every run: step is a make target or a complaints command -------------------------------------------------

@functools.cache
def make_targets() -> frozenset[str]:
    text = (CHECKOUT / "Makefile").read_text(encoding="utf-8")
    return frozenset(re.findall(r"^([a-z][a-z0-9-]*):(?!=)", text, flags=re.MULTILINE))


@functools.cache
def make_dry_run(target: str, variables: tuple[str, ...]) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-n", "--no-print-directory", target, *variables], cwd=CHECKOUT,
                          capture_output=True, text=True, timeout=60)


@functools.cache
def complaints_commands(*path: str) -> frozenset[str]:
    """The subcommands `complaints [path...] --help` lists (argparse: `{a,b,c}` in its usage)."""
    result = subprocess.run([tool("complaints"), *path, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    usage = result.stdout.split("\n\n")[0]
    listed = re.findall(r"\{([a-z,-]+)\}", usage)
    if listed:
        return frozenset(listed[0].split(","))
    return frozenset(re.findall(r"^    ([a-z][a-z-]*)\s", result.stdout, flags=re.MULTILINE))


def commands(script: str) -> list[list[str]]:
    """Each simple command of a script, as words, without leading assignments or redirections; the insides
    of $(...) are commands too."""
    script = script.replace("\\\n", " ")
    found: list[list[str]] = []
    for inner in re.findall(r"\$\(([^()]*)\)", script):
        found += commands(inner)
    for line in script.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words: list[str] = []
        for token in [*lexer, ";"]:
            if token in SEPARATORS or set(token) <= set(";&|()"):
                if words:
                    found.append(words)
                words = []
            else:
                words.append(token)
    cleaned = []
    for words in found:
        plain, skip = [], False
        for word in words:
            if skip:
                skip = False
            elif REDIRECTS.match(word):
                skip = True
            elif not plain and ASSIGNMENT.match(word):
                continue
            else:
                plain.append(word)
        if plain:
            cleaned.append(plain)
    return cleaned


def problems(script: str) -> list[str]:
    """Why a script is not thin: commands that are neither a make target that exists, nor a `complaints`
    command that exists, nor the allowed glue."""
    found = []
    for words in commands(script):
        name = words[0]
        if name == "make":
            targets = [word for word in words[1:] if not word.startswith("-") and "=" not in word]
            variables = tuple(SHELL_VARIABLE.sub("dev", word) for word in words[1:] if "=" in word)
            if not targets:
                found.append(f"`{' '.join(words)}`: name the target")
            for target in targets:
                if target not in make_targets():
                    found.append(f"make {target}: the Makefile has no such target")
                    continue
                dry = make_dry_run(target, variables)
                if dry.returncode != 0:
                    found.append(f"make -n {target} {' '.join(variables)} fails: {dry.stderr.strip()}")
        elif Path(name).name == "complaints":
            path: list[str] = []
            args = iter(words[1:])
            for word in args:
                if word in ("--env", "--home", "--tasks"):
                    next(args, None)
                elif not word.startswith("-"):
                    if word not in complaints_commands(*path):
                        found.append(f"`{' '.join(words)}`: complaints {' '.join(path)} has no command {word!r}")
                        break
                    path.append(word)
                    if len(path) == 2 or not complaints_commands(*path):
                        break
        elif name == "terraform":
            sub = next((word for word in words[1:] if not word.startswith("-")), None)
            if sub not in TERRAFORM_SUBCOMMANDS:
                found.append(f"`{' '.join(words)}`: terraform {sub} is not one of the release steps")
        elif name not in GLUE:
            found.append(f"`{' '.join(words)}`: {name} is neither a make target nor allowed glue")
    return found


def test_every_run_step_is_a_make_target_or_a_command_that_exists():
    assert run_steps(), "no run: steps found"
    failures = [f"{where}: {problem}" for where, script in run_steps() for problem in problems(script)]
    assert not failures, "\n".join(failures)


def test_most_steps_are_make_targets():
    """Glue stays the exception: most run: steps are one make target."""
    scripts = [script for _, script in run_steps()]
    make_only = [script for script in scripts if all(words[0] == "make" for words in commands(script))]
    assert len(make_only) > len(scripts) / 2, f"{len(make_only)} of {len(scripts)} run: steps are make targets"


def test_the_step_checker_itself():
    assert commands('echo "a; b" >> "$X" && make gate ENV="$E" | cat') == [
        ["echo", "a; b"], ["make", "gate", "ENV=$E"], ["cat"]]
    assert commands('terraform plan -var "v=$(cat m.json)"')[0] == ["cat", "m.json"]
    assert problems("make lint\nHF_HUB_OFFLINE=0 make gate ENV=\"$ENVIRONMENT\"") == []
    assert problems("complaints --env dev release diff && .venv/bin/complaints gate --report x") == []
    assert problems("complaints --env dev relase apply")  # a typo
    assert problems("make no-such-target")
    assert problems("curl -fsSL https://example.com | sh")
    assert problems("terraform destroy -auto-approve")


# --- the runners, and what they install ---------------------------------------------------------------------------

# GitHub's standard hosted runners for private repositories, Linux on x86_64: the arm64 ones (ubuntu-24.04-arm)
# serve public repositories only.
PRIVATE_REPOSITORY_RUNNERS = {"ubuntu-latest", "ubuntu-24.04", "ubuntu-22.04"}
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# The jobs that train or run the suite; linting, staging, building, planning, applying and gating need no torch.
JOBS_WITH_TORCH = {"ci.yml:test", "retrain.yml:retrain"}
NO_VENV = "/nonexistent/.venv"  # a runner's fresh checkout: nothing installed, so a dry run lists every install


def test_every_job_runs_on_a_runner_a_private_repository_has():
    for workflow, name, job in jobs():
        if "uses" not in job:  # a reusable workflow's jobs name their own
            assert job["runs-on"] in PRIVATE_REPOSITORY_RUNNERS, f"{workflow}:{name}: runs-on {job['runs-on']}"


def optional_dependencies() -> dict[str, list[str]]:
    return tomllib.loads((CHECKOUT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]


def torch_pin() -> str:
    """The one torch requirement, an exact release: PyTorch's CPU index has its build as <release>+cpu."""
    [pin] = [requirement for requirements in optional_dependencies().values() for requirement in requirements
             if re.match(r"torch\b", requirement)]
    assert re.fullmatch(r"torch==\d+\.\d+\.\d+", pin), pin
    return pin


@functools.cache
def extras_with_torch() -> frozenset[str]:
    """The extras of pyproject.toml that install torch, themselves or through an extra they include."""
    extras = optional_dependencies()

    def pulls(extra: str) -> bool:
        return any(re.match(r"torch\b", requirement) or any(map(pulls, included(requirement)))
                   for requirement in extras[extra])

    def included(requirement: str) -> list[str]:
        inner = re.fullmatch(r"complaints-triage\[([\w,-]+)\]", requirement)
        return inner[1].split(",") if inner else []

    return frozenset(extra for extra in extras if pulls(extra))


@functools.cache
def pip_installs(target: str, variables: tuple[str, ...], torch_index: str | None) -> list[str]:
    """The pip installs `make TARGET` runs on a fresh runner, TORCH_INDEX_URL set as the job sets it."""
    env = {key: value for key, value in os.environ.items() if key != "TORCH_INDEX_URL"}
    env.update({"TORCH_INDEX_URL": torch_index} if torch_index else {})
    dry = subprocess.run(["make", "-n", "--no-print-directory", target, *variables, f"VENV={NO_VENV}"], cwd=CHECKOUT,
                         env=env, capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    return [line for line in dry.stdout.splitlines() if re.search(r"/pip install ", line)]


def installs_torch(line: str) -> bool:
    extras = re.search(r"-e '\.\[([\w,-]+)\]'", line)
    return "'torch" in line or bool(extras and set(extras[1].split(",")) & extras_with_torch())


def make_runs() -> list[tuple[str, str, list[str]]]:
    """(workflow:job, target, pip installs) of every make target a run: step calls, with the step's environment."""
    found = []
    for path in WORKFLOWS:
        workflow = load(path)
        for name, job in workflow["jobs"].items():
            for step in job.get("steps", []):
                env = {**workflow.get("env", {}), **job.get("env", {}), **step.get("env", {})}
                for words in commands(step.get("run", "")):
                    if words[0] != "make":
                        continue
                    variables = tuple(SHELL_VARIABLE.sub("dev", word) for word in words[1:] if "=" in word)
                    for target in [word for word in words[1:] if not word.startswith("-") and "=" not in word]:
                        installs = pip_installs(target, variables, env.get("TORCH_INDEX_URL"))
                        found.append((f"{path.name}:{name}", target, installs))
    return found


def test_no_job_installs_the_cuda_torch_and_only_training_and_tests_install_torch():
    """PyPI's Linux wheel of the torch pin pulls the CUDA toolkit, cuDNN and NCCL (gigabytes): a job whose make
    targets install torch takes its CPU build from PyTorch's index first (<pin>+cpu, which the pin then admits);
    the others install no torch at all."""
    cpu_torch = f"--index-url '{CPU_INDEX}' '{torch_pin()}+cpu'"
    assert "train" in extras_with_torch() and "baseline" not in extras_with_torch()
    with_torch = set()
    for where, target, installs in make_runs():
        torch_installs = [line for line in installs if installs_torch(line)]
        if torch_installs:
            with_torch.add(where)
            first = torch_installs[0]
            assert first.endswith(cpu_torch), f"{where}: make {target} installs torch first by {first}"
    assert with_torch == JOBS_WITH_TORCH


def test_the_check_of_torch_installs_itself():
    local = pip_installs("setup", (), None)
    assert [line for line in local if installs_torch(line)] == [f"{NO_VENV}/bin/pip install --quiet -e '.[train]'"]
    assert not any(installs_torch(line) for line in pip_installs("lint", (), CPU_INDEX))


def test_the_image_is_built_for_the_functions_architecture_under_qemu():
    """Lambda runs the image on the functions' architecture (infra/stack, arm64 unless an environment says
    otherwise): an x86_64 runner builds an arm64 image only with QEMU's arm64 emulator installed before buildx."""
    architectures = set()
    for file in [CHECKOUT / "infra" / "stack" / "variables.tf", *(CHECKOUT / "infra" / "envs").glob("*.tfvars")]:
        text = file.read_text(encoding="utf-8")
        declared = re.search(r'variable "architecture" \{[^}]*?default\s*=\s*"(\w+)"', text) if file.suffix == ".tf" \
            else re.search(r'^architecture\s*=\s*"(\w+)"', text, re.M)
        architectures |= {declared[1]} if declared else set()
    assert architectures == {"arm64"}, architectures
    builds = []
    for workflow, name, job in jobs():
        steps = job.get("steps", [])
        for index, step in enumerate(steps):
            if step.get("uses", "").startswith("docker/build-push-action@"):
                builds.append(f"{workflow}:{name}")
                assert step["with"]["platforms"] == "linux/arm64", f"{workflow}:{name}"
                qemu = [earlier.get("with", {}) for earlier in steps[:index]
                        if earlier.get("uses", "").startswith("docker/setup-qemu-action@")]
                assert qemu and "arm64" in qemu[0]["platforms"].split(","), f"{workflow}:{name}: no arm64 emulator"
    assert sorted(builds) == ["apply.yml:apply", "deploy.yml:plan"]
