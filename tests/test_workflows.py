"""The GitHub workflows, checked offline: actionlint (with shellcheck), zizmor --offline and GitHub's workflow schema
find nothing, and every `run:` step is a make target that exists or a `complaints` command that exists, with the
few plain shell commands no make target can stand in for. A workflow is thin: what it runs also runs on a laptop."""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from conftest import write_manifest
from testing.fake_gh import FakeGh

CHECKOUT = Path(__file__).resolve().parents[1]
WORKFLOW_DIR = CHECKOUT / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOW_DIR.glob("*.yml"))
BIN = Path(sys.executable).parent  # the venv the suite runs in: the dev extra installs the linters there

# Shell glue a `run:` step may use besides make and complaints, and why no make target stands in for it.
GLUE = {
    "echo": "a line of the job summary ($GITHUB_STEP_SUMMARY)",
    "cat": "a report into the job summary; models.json into terraform's -var",
    "mkdir": "the folder terraform show writes the plan text into",
    "terraform": "init/plan/show/apply: infra/README.md's release steps, run by the workflows as written there; "
                 "output: what the apply hands to the job that deploys the ops app",
}
TERRAFORM_SUBCOMMANDS = {"init", "plan", "show", "apply", "fmt", "validate", "output"}
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
    waits for an unrelated one to reach the Lambda functions; and a pull request that changes one is planned (the
    `changes` job's filter: the same paths), so its plan shows the image it will deploy."""
    dockerfile = (CHECKOUT / "functions" / "Dockerfile").read_text(encoding="utf-8")
    copied = {line.split()[1].split("/")[0] for line in dockerfile.splitlines() if line.startswith("COPY ")}
    assert copied >= {"complaints", "functions", "ops_api"}, copied
    deploy = load(WORKFLOW_DIR / "deploy.yml")
    paths = deploy["on"]["push"]["paths"]
    assert {f"{package}/**" for package in copied} <= set(paths), sorted(copied)
    [step] = deploy["jobs"]["changes"]["steps"]
    assert yaml.safe_load(step["with"]["filters"]) == {"stack": paths}
    assert deploy["jobs"]["plan"]["if"].startswith("needs.changes.outputs.plan == 'true'")


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
    subject (tests/test_infra.py), and the secrets are that environment's, not the repository's. A
    pull_request_target run is the base branch's, reading the pull request's files as data: the same holds."""
    checked = []
    for path in WORKFLOWS:
        if not {"pull_request", "pull_request_target"} & set(load(path)["on"] or {}):
            continue
        for name, job in load(path)["jobs"].items():
            where = f"{path.name}:{name}"
            assert "secrets" not in job, f"{where}: passes secrets to a reusable workflow; its environment holds them"
            reads_secret = re.search(r"\bsecrets\.(?!GITHUB_TOKEN\b)\w+", yaml.safe_dump(job))
            if assumes_a_role(job) or reads_secret:
                assert job.get("environment"), f"{where}: AWS or a secret without an environment's reviewers"
                checked.append(where)
    assert {"gate.yml:gate-environment", "deploy.yml:plan"} <= set(checked)


# --- the gate: one required check, always reported, run from the base branch ------------------------------------

BASE = "${{ github.event.pull_request.base.sha }}"
HEAD = "${{ github.event.pull_request.head.sha }}"


def test_the_gate_is_one_check_on_every_pull_request_that_always_reports():
    """Branch protection can require only a check that every pull request reports: `gate` runs whatever the pull
    request into main changes (no paths filter on the trigger, `if: always()`), and no other job takes its name,
    so no workflow a pull request adds or edits can stand in for it (a pull_request workflow runs the pull
    request's copy; gate.yml is pull_request_target, the base branch's). Into main only: the base branch's code
    runs with the gate role and the Hub token, and any writer can push a branch other than main."""
    gate = load(WORKFLOW_DIR / "gate.yml")
    assert gate["on"] == {"pull_request_target": {"branches": ["main"]}}
    check = gate["jobs"]["gate"]
    assert check["name"] == "gate" and check["if"] == "always()" and set(check["needs"]) == {"changes", "gate-environment"}
    assert [step["run"] for step in check["steps"] if "run" in step] == ["make gate-verdict"]
    named_gate = [f"{workflow}:{name}" for workflow, name, job in jobs() if job.get("name", name) == "gate"]
    assert named_gate == ["gate.yml:gate"]
    assert not any(re.search(r"\bmake gate\b", script) for where, script in run_steps() if not where.startswith("gate.yml"))


def test_the_gate_runs_the_base_branchs_code_and_reads_the_pull_requests_deploy_as_data():
    """Every checkout of gate.yml is the base branch's, but one: the pull request's deploy/ alone, under
    build/proposed, which the base's `make gate` reads with --proposed and nothing runs. The gate decides in the
    environment <env>-gate, whose reviewers approve the run before its role and Hub token are reachable."""
    gate = load(WORKFLOW_DIR / "gate.yml")
    proposed = []
    for name, job in gate["jobs"].items():
        for step in job.get("steps", []):
            if not step.get("uses", "").startswith("actions/checkout@"):
                continue
            if step["with"].get("path"):
                proposed.append((name, step["with"]))
            else:
                assert step["with"]["ref"] == BASE, f"gate.yml:{name}: checks out {step['with'].get('ref')}"
    [(name, data)] = proposed
    assert name == "gate-environment" and data["ref"] == HEAD and data["path"] == "build/proposed"
    assert data["sparse-checkout"] == "/deploy/" and data["sparse-checkout-cone-mode"] is False
    environment = gate["jobs"]["gate-environment"]
    assert environment["environment"] == "${{ matrix.environment }}-gate" and assumes_a_role(environment)
    [script] = [step["run"] for step in environment["steps"] if "make gate " in step.get("run", "")]
    assert script == 'make gate ENV="$ENVIRONMENT" PROPOSED=build/proposed/deploy'
    assert "fork == 'false'" in environment["if"]


@pytest.mark.parametrize("changes, environments, fork, result, code, said", [
    ("success", "[]", "false", "skipped", 0, "nothing to gate"),
    ("success", "[]", "true", "skipped", 0, "nothing to gate"),  # a fork's code change: nothing under deploy/
    ("success", '["dev","prod"]', "false", "success", 0, "passed"),
    ("success", '["prod"]', "true", "skipped", 2, "a fork cannot be gated"),
    ("success", '["prod"]', "false", "failure", 2, "not gated"),
    ("success", '["prod"]', "false", "skipped", 2, "not gated"),  # a reviewer did not approve the run
    ("success", '["prod"]', "false", "cancelled", 2, "not gated"),
    ("failure", "", "", "skipped", 2, "not gated"),
])
def test_the_required_check_passes_only_with_nothing_to_gate_or_every_gate_passed(changes, environments, fork,
                                                                                 result, code, said):
    env = {**os.environ, "CHANGES_RESULT": changes, "ENVIRONMENTS": environments, "FORK": fork, "RESULT": result,
           "CHANGED_FILES": "12"}
    run = subprocess.run(["make", "--no-print-directory", "gate-verdict"], cwd=CHECKOUT, env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == code and said in run.stdout + run.stderr, run.stdout + run.stderr


@pytest.mark.parametrize("workflow, job, target", [("gate.yml", "gate", "gate-verdict"),
                                                   ("deploy.yml", "plans", "plan-verdict")])
def test_a_verdict_fails_a_pull_request_of_more_files_than_githubs_api_lists(workflow, job, target):
    """The `changes` jobs (dorny/paths-filter) list a pull request's files from GitHub's API, 3,000 at most: past
    that a change under deploy/ can go unseen, and "nothing to gate" or "nothing to plan" would pass it. Each
    verdict takes the pull request's own count (changed_files, through env:) and fails above 3,000."""
    [step] = [step for step in load(WORKFLOW_DIR / workflow)["jobs"][job]["steps"] if step.get("run") == f"make {target}"]
    assert step["env"]["CHANGED_FILES"] == "${{ github.event.pull_request.changed_files }}"
    nothing = {"CHANGES_RESULT": "success", "ENVIRONMENTS": "[]", "PLAN_NEEDED": "false", "FORK": "false",
               "RESULT": "skipped"}

    def verdict(files: str | None) -> subprocess.CompletedProcess:
        env = {key: value for key, value in {**os.environ, **nothing}.items() if key != "CHANGED_FILES"}
        return subprocess.run(["make", "--no-print-directory", target], cwd=CHECKOUT, capture_output=True, text=True,
                              env=env if files is None else {**env, "CHANGED_FILES": files}, timeout=60)

    assert verdict("3000").returncode == 0
    over = verdict("3001")
    assert over.returncode != 0 and "changes 3001 files, but GitHub's API lists only the first 3000" in over.stderr
    for unknown in (None, "", "many"):
        assert "CHANGED_FILES (how many files the pull request changes) is required" in verdict(unknown).stderr


# --- the retrain: a quiet week is green and leaves no stale pull request -----------------------------------------

def test_the_retrains_pull_request_job_runs_whatever_it_promoted_and_closes_a_stale_pull_request():
    """`make retrain` exits 0 when no challenger passes (tests/test_gate.py) and nothing masks a real failure, so the
    pull-request job, which needs only the retrain's success, runs whatever it promoted: neither it nor its steps
    ask. create-pull-request then proposes deploy/ as the retrain left it; equal to the base's, with delete-branch
    it deletes retrain/<env>, which closes an earlier week's pull request (its README, "Action behaviour")."""
    workflow = load(WORKFLOW_DIR / "retrain.yml")["jobs"]
    retrain, job = workflow["retrain"], workflow["pull-request"]
    proposals = {step["id"]: step for step in retrain["steps"] if step.get("id") in ("retrain", "promote")}
    for name, step in proposals.items():  # one runs: retrain for dev, promote for prod (promoted_from dev)
        assert step["run"].startswith(f'make {name} ENV="$ENVIRONMENT"') and "continue-on-error" not in step
        assert step["if"] == f"env.PROPOSAL == '{name}'"
    assert set(proposals) == {"retrain", "promote"}
    # the retrain trains on the dataset revision the step before it pushed, which its model cards then name
    steps = retrain["steps"]
    pushed = next(i for i, step in enumerate(steps) if step.get("run", "").startswith("make dataset "))
    assert steps[pushed + 1] is proposals["retrain"] and 'DATA="$(cat build/dataset.ref)"' in proposals["retrain"]["run"]
    [upload] = [step for step in retrain["steps"] if step.get("uses", "").startswith("actions/upload-artifact@")]
    assert "if" not in upload and "deploy/" in upload["with"]["path"].split()
    assert job["needs"] == "retrain" and "if" not in job and "outputs" not in retrain
    assert not [step.get("name", step.get("uses")) for step in job["steps"] if "if" in step]
    [create] = [step for step in job["steps"] if step.get("uses", "").startswith("peter-evans/create-pull-request@")]
    assert create["with"]["delete-branch"] is True and create["with"]["add-paths"] == "deploy/"
    assert create["with"]["branch"] == "retrain/${{ env.ENVIRONMENT }}"


def test_dev_is_retrained_on_mondays_and_prod_promoted_from_it_on_wednesdays():
    """The schedules and the manifests agree: the environment a run proposes for is dispatched, or read from the
    schedule that started it; the one promoted_from another is promoted (deploy/prod.yaml), the other retrained."""
    workflow = load(WORKFLOW_DIR / "retrain.yml")
    schedules = [entry["cron"] for entry in workflow[True]["schedule"]] if True in workflow else \
        [entry["cron"] for entry in workflow["on"]["schedule"]]
    assert schedules == ["17 4 * * 1", "17 4 * * 3"]
    manifests = {path.stem: yaml.safe_load(path.read_text()) for path in (CHECKOUT / "deploy").glob("*.yaml")}
    assert manifests["prod"].get("promoted_from") == "dev" and "promoted_from" not in manifests["dev"]
    env = workflow["jobs"]["retrain"]["env"]
    which = "inputs.environment || (github.event.schedule == '17 4 * * 3' && 'prod' || 'dev')"
    assert env["ENVIRONMENT"] == f"${{{{ {which} }}}}"
    assert env["PROPOSAL"] == f"${{{{ ({which}) == 'prod' && 'promote' || 'retrain' }}}}"
    assert workflow["jobs"]["pull-request"]["env"]["ENVIRONMENT"] == env["ENVIRONMENT"]


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


# The one exception: Budibase admits only the landing zone's addresses, so the ops app deploys from a self-hosted
# runner there, chosen by a repository variable (budibase/README.md, "Deploying from inside the landing zone").
LANDING_ZONE_RUNNER = "complaints-landing-zone"
SELF_HOSTED = {"apply.yml:ops-app": ["self-hosted", f"${{{{ vars.BUDIBASE_RUNNER_LABEL || '{LANDING_ZONE_RUNNER}' }}}}",
                                     "${{ inputs.environment }}"]}


def test_every_job_runs_on_a_runner_a_private_repository_has():
    for workflow, name, job in jobs():
        if "uses" in job:  # a reusable workflow's jobs name their own
            continue
        where = f"{workflow}:{name}"
        assert job["runs-on"] == SELF_HOSTED.get(where) or job["runs-on"] in PRIVATE_REPOSITORY_RUNNERS, \
            f"{where}: runs-on {job['runs-on']}"


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
    assert sorted(builds) == ["apply.yml:plan", "deploy.yml:plan"]


def test_prods_plan_exists_before_its_approval_and_the_apply_applies_exactly_it():
    """apply.yml plans in its own job, under the read-only plan role of environment <env>-release-plan (main only,
    no reviewers), and puts the plan in the run's summary; the apply job, in environment <env> (prod's reviewers),
    needs it, pushes the image archive the plan was made against (make push-image checks the digest) and applies
    that saved plan file, not a new plan."""
    apply = load(WORKFLOW_DIR / "apply.yml")["jobs"]
    plan, release = apply["plan"], apply["apply"]
    assert plan["environment"] == {"name": "${{ inputs.environment }}-release-plan", "deployment": False}
    assert "vars.AWS_PLAN_ROLE_ARN" in yaml.safe_dump(plan) and "AWS_APPLY_ROLE_ARN" not in yaml.safe_dump(plan)
    [build] = [s for s in plan["steps"] if s.get("uses", "").startswith("docker/build-push-action@")]
    assert build["with"]["outputs"] == "type=oci,dest=build/image/serving.tar" and "push" not in build["with"]
    scripts = {step.get("name"): step.get("run", "") for step in plan["steps"]}
    assert "make --no-print-directory image-digest" in scripts["The image's digest (its manifest's, from the archive's index)"]
    assert '-out="../../build/plan/${ENVIRONMENT}.tfplan"' in scripts["terraform plan"]
    assert "@${{ steps.image.outputs.digest }}" in yaml.safe_dump(plan)
    assert any("GITHUB_STEP_SUMMARY" in script and "build/plan/${ENVIRONMENT}.md" in script for script in scripts.values())
    [upload] = [s for s in plan["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["with"]["name"] == "release-plan-${{ inputs.environment }}"
    assert {"build/plan/${{ inputs.environment }}.tfplan", "build/image/serving.tar",
            "functions/build/models/models.json"} <= {line.strip() for line in upload["with"]["path"].splitlines()}

    assert release["needs"] == "plan" and release["environment"]["name"] == "${{ inputs.environment }}"
    names = [step.get("name") or step.get("uses", "").split("@")[0] for step in release["steps"]]
    [download] = [s for s in release["steps"] if s.get("uses", "").startswith("actions/download-artifact@")]
    assert download["with"] == {"name": "release-plan-${{ inputs.environment }}"}
    assert not any(s.get("uses", "").startswith(("docker/build-push-action@", "docker/setup-buildx")) for s in release["steps"])
    runs = {step.get("name"): step.get("run", "") for step in release["steps"]}
    assert runs["Push the planned image, by digest"].startswith("make push-image ")
    applied = runs["terraform apply (the saved plan, nothing else)"]
    assert "terraform -chdir=infra/stack apply" in applied and applied.rstrip().endswith('"../../build/plan/${ENVIRONMENT}.tfplan"')
    assert " plan " not in applied
    order = [names.index(name) for name in ("actions/download-artifact", "Push the planned image, by digest",
                                            "terraform apply (the saved plan, nothing else)",
                                            "Apply the release manifest to the store (this run recorded)")]
    assert order == sorted(order)


def test_the_image_archives_digest_is_its_one_manifests_and_a_push_must_land_it(tmp_path):
    """tools/image_archive.py: the digest the plan names is the one image manifest of the OCI archive; a push
    whose registry copy has another digest fails (skopeo stood in for by a recorder: no registry here)."""
    import hashlib
    import io
    import tarfile
    from subprocess import CompletedProcess

    from tools import image_archive

    manifest = b'{"schemaVersion": 2, "layers": []}'
    sha = "sha256:" + hashlib.sha256(manifest).hexdigest()
    archive = tmp_path / "serving.tar"

    def write(index: dict) -> None:
        with tarfile.open(archive, "w") as tar:
            data = json.dumps(index).encode()
            info = tarfile.TarInfo("index.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

    write({"manifests": [{"digest": sha}]})
    assert image_archive.digest(archive) == sha
    calls = []

    def skopeo(held: bytes):
        def run(argv, **_):
            calls.append(argv[:2])
            return CompletedProcess(argv, 0, stdout=held)
        return run

    assert image_archive.push(archive, "registry/repo:tag", run=skopeo(manifest)) == sha
    assert calls == [["skopeo", "copy"], ["skopeo", "inspect"]]
    with pytest.raises(RuntimeError, match="the plan names"):
        image_archive.push(archive, "registry/repo:tag", run=skopeo(manifest + b" "))
    write({"manifests": [{"digest": sha}, {"digest": sha}]})
    with pytest.raises(ValueError, match="exactly one"):
        image_archive.digest(archive)


# --- only an environment whose manifest serves a model is planned and applied ------------------------------------

def serving_environments(deploy: Path) -> subprocess.CompletedProcess:
    """What `make serving-environments` runs, on the manifests in ``deploy``."""
    return subprocess.run([sys.executable, "-m", "model.serving_image", "serving", "dev", "prod"], cwd=CHECKOUT,
                          env={**os.environ, "COMPLAINTS_DEPLOY_DIR": str(deploy)}, capture_output=True, text=True,
                          timeout=120)


def test_an_environment_whose_manifest_serves_nothing_is_neither_planned_nor_applied(tmp_path):
    """Before its first release (`tasks: {}`: prod until dev's versions are promoted to it) an environment has no
    image to build (make stage refuses it): planning it could only fail, and with it the required check `plan` of
    every pull request and the deploy of every push. deploy.yml lists the environments whose manifest serves a
    model (make serving-environments: the pull request's manifests, or main's) and plans and deploys those only."""
    dry = make_dry_run("serving-environments", ())
    assert "-m model.serving_image serving dev prod > build/serving-environments.json" in dry.stdout, dry.stdout
    deploy, store, registry = tmp_path / "deploy", "sqlite:///unused", "file:///unused"
    served = {"team": {"champion": "0123456789abcdef"}}
    for dev, prod, listed in (({}, {}, "[]"), (served, {}, '["dev"]'), (served, served, '["dev","prod"]')):
        write_manifest(deploy, "dev", store, registry, dev)
        write_manifest(deploy, "prod", store, registry, prod)
        run = serving_environments(deploy)
        assert run.returncode == 0 and run.stdout == listed + "\n", run.stdout + run.stderr
    (deploy / "prod.yaml").unlink()
    missing = serving_environments(deploy)
    assert missing.returncode != 0 and "prod.yaml: no release manifest" in missing.stderr

    jobs = load(WORKFLOW_DIR / "deploy.yml")["jobs"]
    listing = jobs["environments"]
    assert listing["permissions"] == {"contents": "read"} and "environment" not in listing
    assert listing["outputs"] == {"serving": "${{ steps.serving.outputs.environments }}"}
    [script] = [step["run"] for step in listing["steps"] if "run" in step]
    assert script.splitlines() == ["make serving-environments",
                                   'echo "environments=$(cat build/serving-environments.json)" >> "$GITHUB_OUTPUT"']
    assert "github.event_name == 'push'" in listing["if"] and "needs.changes.outputs.plan == 'true'" in listing["if"]
    for name in ("plan", "plan-comment"):
        assert jobs[name]["strategy"]["matrix"] == {"environment": "${{ fromJSON(needs.environments.outputs.serving) }}"}
    assert "needs.environments.outputs.serving != '[]'" in jobs["plan"]["if"]  # an empty matrix is an error
    for name in ("dev", "prod"):
        condition = jobs[name]["if"]
        assert f"contains(needs.environments.outputs.serving, '\"{name}\"')" in condition, name
        assert condition.startswith("!cancelled() && github.event_name == 'push'"), name  # `changes` is skipped
    assert "needs.environments.result == 'success'" in jobs["dev"]["if"]
    assert "needs.dev.result == 'success'" in jobs["prod"]["if"]


# --- a deployment as it runs on main -----------------------------------------------------------------------------

def tip_of_main(folder: Path, main: str | None) -> subprocess.CompletedProcess:
    """make tip-of-main for commit abc123, with a fake gh that says main is at ``main`` (None: cannot tell)."""
    answers = {} if main is None else {"repos/megabank/complaints-triage/git/ref/heads/main": main}
    env = FakeGh(folder, answers).path({**os.environ, "GITHUB_REPOSITORY": "megabank/complaints-triage",
                                        "GITHUB_SHA": "abc123"})
    return subprocess.run(["make", "--no-print-directory", "tip-of-main"], cwd=CHECKOUT, env=env, capture_output=True,
                          text=True, timeout=60)


def test_a_run_applies_only_mains_tip(tmp_path):
    """"Re-run all jobs" of an older run, or prod's approval given after a later merge, would apply a commit main
    has moved past, which no pull request proposes now: the plan and apply jobs first ask GitHub, with the job's
    token (contents: read), whether the run's commit is still main's tip, and stop there if not."""
    apply = load(WORKFLOW_DIR / "apply.yml")["jobs"]
    for name in ("plan", "apply"):
        checkout, check = apply[name]["steps"][:2]
        assert checkout["uses"].startswith("actions/checkout@") and check["run"] == "make tip-of-main", name
        assert check["env"] == {"GH_TOKEN": "${{ github.token }}"} and apply[name]["permissions"]["contents"] == "read"
    current = tip_of_main(tmp_path / "current", "abc123")
    assert current.returncode == 0 and "main is at abc123" in current.stdout, current.stdout + current.stderr
    moved = tip_of_main(tmp_path / "moved", "def456")
    assert moved.returncode != 0 and "this run deploys abc123, but main is at def456 now" in moved.stderr
    unknown = tip_of_main(tmp_path / "unknown", None)
    assert unknown.returncode != 0 and "could not read main's tip from GitHub" in unknown.stderr


def test_prods_reviewers_have_as_long_to_approve_as_the_run_keeps_the_plan():
    """The apply job downloads the plan job's saved plan and image only once prod's reviewers approve, which may be
    days later: the artifact is kept for the window docs/lifecycle.md gives them, a week, or every later approval
    fails for want of a plan."""
    plan = load(WORKFLOW_DIR / "apply.yml")["jobs"]["plan"]
    [upload] = [step for step in plan["steps"] if step.get("uses", "").startswith("actions/upload-artifact@")]
    days = upload["with"]["retention-days"]
    assert days >= 7, f"the saved plan is kept {days} days: prod's reviewers have a week"
    assert f"**They have {days} days to approve**" in (CHECKOUT / "docs" / "lifecycle.md").read_text(encoding="utf-8")


def test_a_pending_prod_approval_holds_up_no_later_dev_deploy():
    """Applies queue per environment (job-level `deploy-<env>`), not per workflow: a run waiting for prod's
    reviewers holds only prod's group, so the next merge's dev apply goes ahead. Each push's run is its own
    workflow-level group; a pull request's new push still cancels its earlier plans."""
    deploy = load(WORKFLOW_DIR / "deploy.yml")
    group = deploy["concurrency"]["group"]
    assert "github.run_id" in group and "github.ref" not in group, group
    assert deploy["concurrency"]["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    apply = load(WORKFLOW_DIR / "apply.yml")
    assert "concurrency" not in apply, "a workflow-level group of the called workflow would be shared by dev and prod"
    assert apply["jobs"]["apply"]["concurrency"] == {"group": "deploy-${{ inputs.environment }}",
                                                     "cancel-in-progress": False}
    callers = {name: job for name, job in deploy["jobs"].items() if job.get("uses", "").endswith("/apply.yml")}
    assert {name: job["with"]["environment"] for name, job in callers.items()} == {"dev": "dev", "prod": "prod"}
    assert callers["prod"]["needs"] == ["environments", "dev"] and callers["dev"]["needs"] == "environments"


def test_each_deployment_names_the_model_versions_it_released():
    """The apply job's GitHub deployment links the manifest it released (environment url); `record`, once it
    succeeded, puts each task's versions on that deployment (make deployment-status) from the models.json the
    apply staged from deploy/<env>.yaml and uploaded."""
    apply = load(WORKFLOW_DIR / "apply.yml")["jobs"]
    assert apply["apply"]["environment"] == {
        "name": "${{ inputs.environment }}",
        "url": "${{ github.server_url }}/${{ github.repository }}/blob/${{ github.sha }}/deploy/${{ inputs.environment }}.yaml"}
    [upload] = [step for step in apply["apply"]["steps"] if step.get("uses", "").startswith("actions/upload-artifact@")
                and step["with"]["name"].startswith("applied-plan")]
    assert upload["with"]["name"] == "applied-plan-${{ inputs.environment }}"
    assert "functions/build/models/models.json" in upload["with"]["path"].split()
    record = apply["record"]
    assert record["needs"] == "apply" and "if" not in record, "only after the apply succeeded"
    assert record["permissions"] == {"contents": "read", "deployments": "write"}
    [download] = [step for step in record["steps"] if step.get("uses", "").startswith("actions/download-artifact@")]
    assert download["with"] == {"name": "applied-plan-${{ inputs.environment }}"}
    assert [step["run"] for step in record["steps"] if "run" in step] == ['make deployment-status ENV="$ENVIRONMENT"']
    assert re.search(r"^MODELS \?= functions/build/models/models\.json$", (CHECKOUT / "Makefile").read_text(), re.M)
    for name, job in load(WORKFLOW_DIR / "deploy.yml")["jobs"].items():
        if job.get("uses", "").endswith("/apply.yml"):
            assert job["permissions"].get("deployments") == "write", f"deploy.yml:{name}: record needs it"


MODELS = {"team": "3f2a9c0d1e2b4a5c", "issue": "9b8e7d6c5a4f3e2d", "issue:challenger": "1a2b3c4d5e6f7a8b",
          "vulnerable": "0f1e2d3c4b5a6978"}


def deployment_status(tmp_path: Path, models: dict[str, str], answers: dict[str, str]) -> tuple[FakeGh, subprocess.CompletedProcess]:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "models.json").write_text(json.dumps(models), encoding="utf-8")
    fake = FakeGh(tmp_path, answers)
    env = fake.path({**os.environ, "GITHUB_REPOSITORY": "megabank/complaints-triage", "GITHUB_SHA": "abc123",
                     "GITHUB_RUN_ID": "555", "GITHUB_SERVER_URL": "https://github.com"})
    run = subprocess.run(["make", "--no-print-directory", "deployment-status", "ENV=prod",
                          f"MODELS={tmp_path / 'models.json'}", f"PYTHON={sys.executable}"], cwd=CHECKOUT, env=env,
                         capture_output=True, text=True, timeout=60)
    return fake, run


def test_the_deployment_status_finds_this_runs_deployment_and_names_every_version(tmp_path):
    repo = "repos/megabank/complaints-triage"
    manifest = "https://github.com/megabank/complaints-triage/blob/abc123/deploy/prod.yaml"
    answers = {  # newest first: a later run's deployment of the same commit, then this run's
        f"{repo}/deployments?environment=prod&sha=abc123": json.dumps([{"id": 12}, {"id": 11}]),
        f"{repo}/deployments/12/statuses": json.dumps([{"log_url": "https://github.com/x/actions/runs/999/job/1"}]),
        f"{repo}/deployments/11/statuses": json.dumps([
            {"state": "success", "log_url": "https://github.com/x/actions/runs/555/job/77", "environment_url": manifest}]),
    }
    fake, run = deployment_status(tmp_path, MODELS, answers)
    assert run.returncode == 0, run.stdout + run.stderr
    [post] = [call for call in fake.calls() if call["method"] == "POST"]
    assert post["path"] == f"{repo}/deployments/11/statuses"
    assert post["body"] == {
        "state": "success", "environment_url": manifest,
        "log_url": "https://github.com/megabank/complaints-triage/actions/runs/555",
        "description": "issue 9b8e7d6c5a4f3e2d, challenger 1a2b3c4d5e6f7a8b; team 3f2a9c0d1e2b4a5c; "
                       "vulnerable 0f1e2d3c4b5a6978"}

    every_challenger = {**MODELS, "team:challenger": "aaaaaaaaaaaaaaaa", "vulnerable:challenger": "bbbbbbbbbbbbbbbb"}
    fake, run = deployment_status(tmp_path / "long", every_challenger, answers)
    [post] = [call for call in fake.calls() if call["method"] == "POST"]
    description = post["body"]["description"]
    assert len(description) <= 140 and all(version[:8] in description for version in every_challenger.values())

    fake, run = deployment_status(tmp_path / "none", MODELS, {**answers, f"{repo}/deployments/11/statuses": "[]"})
    assert run.returncode != 0 and "no deployment to prod of abc123 was made by run 555" in run.stderr
    assert all(call["method"] == "GET" for call in fake.calls())


def test_a_forks_pull_request_tests_with_no_variable_or_secret():
    """A pull request from a fork gets no repository variable and no secret. The jobs whose checks main requires
    (lint, terraform, test) read no secret; the test job's one variable, CFPB_DATA_URL, is needed only where the
    Actions cache holds no CFPB sample, which main's runs save and every pull request may restore."""
    ci = load(WORKFLOW_DIR / "ci.yml")["jobs"]
    for name in ("static", "terraform", "test"):
        assert "secrets." not in yaml.safe_dump(ci[name]) and "environment" not in ci[name], name
    assert "vars." not in yaml.safe_dump(ci["static"]) + yaml.safe_dump(ci["terraform"])
    steps = ci["test"]["steps"]
    [fetch] = [index for index, step in enumerate(steps) if "vars." in yaml.safe_dump(step)]
    assert steps[fetch]["run"] == "make shared-data" and set(steps[fetch]["env"]) == {"CFPB_DATA_URL"}
    restore, save = steps[fetch - 1], steps[fetch + 1]
    assert restore["uses"].startswith("actions/cache/restore@") and save["uses"].startswith("actions/cache/save@")
    data_dir = re.search(r"^DATA_DIR := (\S+)$", (CHECKOUT / "Makefile").read_text(encoding="utf-8"), re.M)[1]
    assert restore["with"] == save["with"] == {"path": data_dir, "key": "${{ env.CFPB_CACHE }}"}
    assert "${{" not in ci["test"]["env"]["CFPB_CACHE"], "a fork computes the same key"
    assert save["if"] == "github.event_name == 'push' && steps.cfpb.outputs.cache-hit != 'true'" and restore["id"] == "cfpb"


def test_ci_fails_until_the_provider_lock_files_are_committed_and_whenever_they_are_stale(tmp_path):
    """terraform-lock-check runs `providers lock` for both Linux platforms in both root configurations and fails
    when that adds or changes a lock file, in a scratch repository with a terraform that writes the hashes given."""
    ci_terraform = load(WORKFLOW_DIR / "ci.yml")["jobs"]["terraform"]
    scripts = [step["run"] for step in ci_terraform["steps"] if "run" in step]
    assert scripts[-1] == "make terraform-lock-check" and "validate" in scripts[-2]
    repo = tmp_path / "repo"
    for root in ("infra/stack", "infra/bootstrap"):
        (repo / root).mkdir(parents=True)
        (repo / root / "main.tf").write_text("", encoding="utf-8")
    calls = tmp_path / "terraform-calls"
    terraform = tmp_path / "terraform"
    terraform.write_text(f"""#!{sys.executable}
import os, sys
root = sys.argv[1].removeprefix("-chdir=")
open({str(calls)!r}, "a").write(" ".join(sys.argv[1:]) + "\\n")
if sys.argv[2:4] == ["providers", "lock"]:
    open(os.path.join(root, ".terraform.lock.hcl"), "w").write(os.environ["HASHES"])
""", encoding="utf-8")
    terraform.chmod(0o755)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "infra"], cwd=repo, check=True)

    def check(hashes: str) -> subprocess.CompletedProcess:
        return subprocess.run(["make", "--no-print-directory", "-f", str(CHECKOUT / "Makefile"), "terraform-lock-check",
                               f"TERRAFORM={terraform}"], cwd=repo, env={**os.environ, "HASHES": hashes},
                              capture_output=True, text=True, timeout=60)

    missing = check('hashes = ["h1:one"]\n')
    assert missing.returncode != 0 and "run make terraform-lock and commit them" in missing.stdout
    lock = "providers lock -platform=linux_amd64 -platform=linux_arm64"
    assert calls.read_text().splitlines() == ["-chdir=infra/stack init -backend=false -input=false",
                                              f"-chdir=infra/stack {lock}",
                                              "-chdir=infra/bootstrap init -backend=false -input=false",
                                              f"-chdir=infra/bootstrap {lock}"]
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "lock"], cwd=repo, check=True)
    assert check('hashes = ["h1:one"]\n').returncode == 0
    stale = check('hashes = ["h1:one", "h1:two"]\n')
    assert stale.returncode != 0 and '+hashes = ["h1:one", "h1:two"]' in stale.stdout


def test_the_ops_app_deploys_from_inside_the_landing_zone_only_where_budibase_is_hosted():
    """Budibase admits no GitHub-hosted runner: its deploy is the one job on a self-hosted runner (SELF_HOSTED),
    skipped where the stack hosts no Budibase (a job for a runner nobody registered would wait a day), with only
    the key of environment <env>-ops-app and the two URLs the apply job read from the stack's outputs."""
    apply = load(WORKFLOW_DIR / "apply.yml")["jobs"]
    job = apply["ops-app"]
    assert job["needs"] == "apply" and job["if"] == "needs.apply.outputs.budibase-url != 'null'"
    assert job["environment"] == "${{ inputs.environment }}-ops-app" and job["permissions"] == {"contents": "read"}
    [step] = [step for step in job["steps"] if "run" in step]
    assert step["run"] == "make budibase-deploy"
    assert step["env"]["BUDIBASE_URL"] == "${{ fromJSON(needs.apply.outputs.budibase-url) }}"
    assert step["env"]["OPS_API_URL"] == "${{ fromJSON(needs.apply.outputs.ops-api-url) }}"
    assert apply["apply"]["outputs"]["budibase-url"] == "${{ steps.ops-app.outputs.budibase-url }}"
    [outputs] = [step["run"] for step in apply["apply"]["steps"] if step.get("id") == "ops-app"]
    assert "terraform -chdir=infra/stack output -json budibase_url" in outputs
    assert "terraform -chdir=infra/stack output -json ops_api_endpoint" in outputs
    deploys = [where for where, script in run_steps() if "make budibase-deploy" in script]
    assert [where.rsplit(":", 1)[0] for where in deploys] == ["apply.yml:ops-app"]
    readme = (CHECKOUT / "budibase" / "README.md").read_text(encoding="utf-8")
    assert "### Deploying from inside the landing zone" in readme
    assert f"`{LANDING_ZONE_RUNNER}`" in readme and "`BUDIBASE_RUNNER_LABEL`" in readme


def test_a_release_records_who_triggered_it_not_a_fixed_name():
    """The audit log's actor of a release is the person whose merge (or re-run) applied it."""
    [step] = [step for _, _, job in jobs() for step in job.get("steps", []) if "make release" in step.get("run", "")]
    assert step["env"]["ACTOR"] == "${{ github.triggering_actor }}" and 'ACTOR="github:$ACTOR"' in step["run"]
    dry = subprocess.run(["make", "-n", "release", "ENV=dev", "ACTOR=github:ana"], cwd=CHECKOUT,
                         capture_output=True, text=True, check=True).stdout
    assert 'release apply --run-url "" --actor "github:ana"' in dry
