"""The repository's own rules as code (.github/rules, .github/CODEOWNERS), checked offline: each file is a body GitHub's
REST API documents, main's ruleset requires checks that every pull request reports, every GitHub environment a job
uses or an AWS role trusts is declared and protected, and `make github-rules` issues exactly the `gh api` calls it
should (a fake `gh` records them)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from testing.fake_gh import FakeGh

CHECKOUT = Path(__file__).resolve().parents[1]
RULES = CHECKOUT / ".github" / "rules"
RULESETS = sorted((RULES / "rulesets").glob("*.json"))
ENVIRONMENT_DIR = RULES / "environments"
BRANCH_POLICIES = ".deployment-branch-policies.json"
ENVIRONMENTS = {path.stem: json.loads(path.read_text(encoding="utf-8"))
                for path in ENVIRONMENT_DIR.glob("*.json") if not path.name.endswith(BRANCH_POLICIES)}
CODEOWNERS = CHECKOUT / ".github" / "CODEOWNERS"
DEPLOYED = ("dev", "prod")  # infra/envs/<env>.tfvars
REPOSITORY = "megabank/complaints-triage"
GITHUB_ACTIONS_APP = 15368  # the integration id of GitHub Actions' checks

# The fields GitHub's REST API documents for each body (POST /repos/{owner}/{repo}/rulesets, PUT .../environments/
# {environment_name}, POST .../environments/{environment_name}/deployment-branch-policies): a name outside these
# is ignored or refused by GitHub, so a typo would silently drop a rule.
RULESET_FIELDS = {"name", "target", "enforcement", "bypass_actors", "conditions", "rules"}
RULESET_REQUIRED = {"name", "enforcement"}
RULESET_VALUES = {"target": {"branch", "tag", "push"}, "enforcement": {"disabled", "active", "evaluate"}}
BYPASS_ACTOR_FIELDS = {"actor_id", "actor_type", "bypass_mode"}
REF_NAME_FIELDS = {"include", "exclude"}
RULE_PARAMETERS: dict[str, tuple[set[str], set[str]] | None] = {  # type: (documented, required) parameters
    "creation": None, "deletion": None, "required_linear_history": None, "required_signatures": None,
    "non_fast_forward": None,
    "update": ({"update_allows_fetch_and_merge"}, {"update_allows_fetch_and_merge"}),
    "required_deployments": ({"required_deployment_environments"}, {"required_deployment_environments"}),
    "pull_request": ({"allowed_merge_methods", "automatic_copilot_code_review_enabled", "dismiss_stale_reviews_on_push",
                      "require_code_owner_review", "require_last_push_approval", "required_approving_review_count",
                      "required_review_thread_resolution"},
                     {"dismiss_stale_reviews_on_push", "require_code_owner_review", "require_last_push_approval",
                      "required_approving_review_count", "required_review_thread_resolution"}),
    "required_status_checks": ({"do_not_enforce_on_create", "required_status_checks",
                                "strict_required_status_checks_policy"},
                               {"required_status_checks", "strict_required_status_checks_policy"}),
}
STATUS_CHECK_FIELDS = {"context", "integration_id"}
MERGE_METHODS = {"merge", "squash", "rebase"}
ENVIRONMENT_FIELDS = {"wait_timer", "prevent_self_review", "reviewers", "deployment_branch_policy"}
REVIEWER_FIELDS = {"type", "id"}
REVIEWER_TYPES = {"User", "Team"}
BRANCH_POLICY_SETTINGS = {"protected_branches", "custom_branch_policies"}
BRANCH_POLICY_FIELDS = {"name", "type"}


def ruleset(name: str = "main") -> dict:
    [body] = [json.loads(path.read_text(encoding="utf-8")) for path in RULESETS if path.stem == name]
    return body


def rules(body: dict) -> dict[str, dict]:
    return {rule["type"]: rule.get("parameters", {}) for rule in body["rules"]}


def branch_policies(environment: str) -> list[dict]:
    return json.loads((ENVIRONMENT_DIR / f"{environment}{BRANCH_POLICIES}").read_text(encoding="utf-8"))


def workflows() -> dict[str, dict]:
    found = {}
    for path in sorted((CHECKOUT / ".github" / "workflows").glob("*.yml")):
        workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
        workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as true
        found[path.name] = workflow
    return found


PULL_REQUEST_EVENTS = ("pull_request", "pull_request_target")


def on_every_pull_request(workflow: dict) -> bool:
    """It runs on every pull request to main: a pull request event with no paths filter and no branch filter
    leaving main out."""
    for event in PULL_REQUEST_EVENTS:
        if event in (workflow["on"] or {}):
            trigger = workflow["on"][event] or {}
            return not {"paths", "paths-ignore"} & set(trigger) and "main" in trigger.get("branches", ["main"])
    return False


# --- each body is one GitHub documents -------------------------------------------------------------------------

def test_the_rulesets_use_only_the_fields_github_documents():
    assert RULESETS, "no ruleset under .github/rules/rulesets"
    for path in RULESETS:
        body = json.loads(path.read_text(encoding="utf-8"))
        where = path.relative_to(CHECKOUT)
        assert RULESET_REQUIRED <= set(body) <= RULESET_FIELDS, (where, set(body) - RULESET_FIELDS)
        assert body["name"] == path.stem, f"{where}: the file is named after its ruleset (the tool finds it by name)"
        for field, values in RULESET_VALUES.items():
            assert body.get(field, "branch") in values, (where, field)
        assert all(set(actor) <= BYPASS_ACTOR_FIELDS for actor in body.get("bypass_actors", [])), where
        assert set(body["conditions"]) == {"ref_name"} and set(body["conditions"]["ref_name"]) <= REF_NAME_FIELDS
        for rule in body["rules"]:
            assert set(rule) <= {"type", "parameters"} and rule["type"] in RULE_PARAMETERS, (where, rule)
            documented = RULE_PARAMETERS[rule["type"]]
            if documented is None:
                assert "parameters" not in rule, (where, rule["type"])
                continue
            fields, required = documented
            assert required <= set(rule["parameters"]) <= fields, (where, rule["type"], set(rule["parameters"]))
        parameters = rules(body)
        if "pull_request" in parameters:
            assert set(parameters["pull_request"].get("allowed_merge_methods", [])) <= MERGE_METHODS
            assert 0 <= parameters["pull_request"]["required_approving_review_count"] <= 10
        for check in parameters.get("required_status_checks", {}).get("required_status_checks", []):
            assert "context" in check and set(check) <= STATUS_CHECK_FIELDS, (where, check)


def test_the_environments_use_only_the_fields_github_documents():
    """One substitution, .github/rules/README.md's: a team reviewer is named by `slug`, which the tool turns into
    the `id` GitHub takes."""
    assert set(ENVIRONMENTS) >= {"dev", "prod", "dev-plan", "prod-plan", "dev-gate", "prod-gate"}
    for name, body in ENVIRONMENTS.items():
        assert set(body) <= ENVIRONMENT_FIELDS, (name, set(body) - ENVIRONMENT_FIELDS)
        assert 0 <= body.get("wait_timer", 0) <= 43200, name
        reviewers = body.get("reviewers") or []
        assert len(reviewers) <= 6, f"{name}: GitHub takes up to six reviewers"
        for reviewer in reviewers:
            assert reviewer["type"] in REVIEWER_TYPES, (name, reviewer)
            assert set(reviewer) == REVIEWER_FIELDS or (reviewer["type"] == "Team" and set(reviewer) == {"type", "slug"})
        settings = body.get("deployment_branch_policy")
        policies = ENVIRONMENT_DIR / f"{name}{BRANCH_POLICIES}"
        if settings is None:
            assert not policies.exists(), f"{name}: branch policies of an environment every branch may use"
            continue
        assert set(settings) == BRANCH_POLICY_SETTINGS, name
        assert settings["protected_branches"] != settings["custom_branch_policies"], f"{name}: exactly one is true"
        if settings["custom_branch_policies"]:
            assert branch_policies(name), f"{name}: custom branch policies, none listed"
            for policy in branch_policies(name):
                assert "name" in policy and set(policy) <= BRANCH_POLICY_FIELDS, (name, policy)
                assert policy.get("type", "branch") in {"branch", "tag"}, (name, policy)
    leftovers = {path.name.removesuffix(BRANCH_POLICIES) for path in ENVIRONMENT_DIR.glob(f"*{BRANCH_POLICIES}")}
    assert leftovers <= set(ENVIRONMENTS), f"branch policies of no environment: {leftovers - set(ENVIRONMENTS)}"


# --- what main's ruleset says ----------------------------------------------------------------------------------

def test_main_takes_only_reviewed_pull_requests_with_linear_history_and_no_force_push_or_deletion():
    body = ruleset("main")
    assert body["target"] == "branch" and body["enforcement"] == "active"
    assert body["conditions"]["ref_name"]["include"] == ["refs/heads/main"]
    assert body["bypass_actors"] == [], "no one bypasses main's rules, administrators included"
    parameters = rules(body)
    assert {"deletion", "non_fast_forward", "required_linear_history", "pull_request",
            "required_status_checks"} <= set(parameters)
    review = parameters["pull_request"]
    assert review["required_approving_review_count"] >= 1
    assert review["dismiss_stale_reviews_on_push"] is True and review["require_last_push_approval"] is True
    assert review["require_code_owner_review"] is CODEOWNERS.exists()
    assert "merge" not in review["allowed_merge_methods"], "a merge commit would break the linear history"
    checks = parameters["required_status_checks"]
    assert checks["strict_required_status_checks_policy"] is True
    assert all(check.get("integration_id") == GITHUB_ACTIONS_APP for check in checks["required_status_checks"]), \
        "a required check comes from GitHub Actions, not from whoever can post a status"


def test_every_required_check_is_one_job_that_every_pull_request_reports():
    """A required check nobody reports blocks every pull request; one a job may skip passes without running (GitHub
    takes a skipped check as a success). So each is exactly one job, of a workflow that runs on every pull request,
    named without a matrix, that runs whatever its needs did (no `if`, or always() / !cancelled())."""
    contexts = [check["context"] for check in rules(ruleset("main"))["required_status_checks"]["required_status_checks"]]
    assert {"test and data gate", "gate", "plan"} <= set(contexts) and len(set(contexts)) == len(contexts)
    all_jobs = [(file, job_id, job) for file, workflow in workflows().items() for job_id, job in workflow["jobs"].items()]
    for context in contexts:
        named = [(file, job_id, job) for file, job_id, job in all_jobs if job.get("name", job_id) == context]
        assert len(named) == 1, f"required check {context!r}: jobs named so: {[(f, j) for f, j, _ in named]}"
        [(file, job_id, job)] = named
        assert on_every_pull_request(workflows()[file]), f"{file}: not on every pull request, so {context!r} may be absent"
        assert "strategy" not in job, f"{file}:{job_id}: a matrix job reports one check per entry, not {context!r}"
        condition = job.get("if")
        assert condition is None or re.search(r"always\(\)|!cancelled\(\)", condition), \
            f"{file}:{job_id}: `if: {condition}` may skip it, and GitHub passes a skipped required check"


def test_the_plan_check_fails_unless_nothing_needed_a_plan_or_every_plan_succeeded():
    """An environment whose manifest serves no model yet is rightly not planned (make serving-environments): with
    none serving, a change to the stack has nothing to plan; otherwise every environment listed must plan."""
    plans = workflows()["deploy.yml"]["jobs"]["plans"]
    assert set(plans["needs"]) == {"changes", "environments", "plan"}
    assert [step["run"] for step in plans["steps"] if "run" in step] == ["make plan-verdict"]
    assert plans["steps"][-1]["env"]["SERVING"] == "${{ needs.environments.outputs.serving }}"
    cases = [  # changes, plan needed, fork, environments serving, plan result -> passes
        ("success", "false", "false", "", "skipped", True), ("success", "false", "true", "", "skipped", True),
        ("success", "true", "false", '["dev","prod"]', "success", True),
        ("success", "true", "false", '["dev"]', "success", True),  # prod before its first release
        ("success", "true", "false", "[]", "skipped", True),  # no release yet anywhere
        ("success", "true", "true", "", "skipped", False),
        ("success", "true", "false", '["dev"]', "failure", False),
        ("success", "true", "false", '["dev"]', "cancelled", False),
        ("success", "true", "false", '["dev"]', "skipped", False),  # no reviewer approved the plan
        ("success", "true", "false", "", "skipped", False),  # the environments could not be listed
        ("success", "true", "false", "[]", "success", False), ("failure", "", "", "", "skipped", False),
    ]
    for changes, needed, fork, serving, result, passes in cases:
        env = {**os.environ, "CHANGES_RESULT": changes, "PLAN_NEEDED": needed, "FORK": fork, "SERVING": serving,
               "RESULT": result, "CHANGED_FILES": "12"}
        run = subprocess.run(["make", "--no-print-directory", "plan-verdict"], cwd=CHECKOUT, env=env,
                             capture_output=True, text=True, timeout=60)
        assert (run.returncode == 0) is passes, (changes, needed, fork, serving, result, run.stdout + run.stderr)
        assert run.stdout.startswith("plan: ") or run.stderr.startswith("plan: ")


# --- the environments ------------------------------------------------------------------------------------------

def rendered(environment: str) -> set[str]:
    """A job's environment for each deployed environment (matrix.environment, inputs.environment)."""
    return {re.sub(r"\$\{\{\s*(matrix|inputs)\.environment\s*\}\}", name, environment) for name in DEPLOYED}


def used_environments() -> dict[str, set[str]]:
    """environment -> the workflows whose jobs use it."""
    used: dict[str, set[str]] = {}
    for file, workflow in workflows().items():
        for job in workflow["jobs"].values():
            environment = job.get("environment")
            environment = environment.get("name") if isinstance(environment, dict) else environment
            for name in rendered(environment) if environment else ():
                used.setdefault(name, set()).add(file)
    return used


def trusted_environments() -> set[str]:
    """The environments whose jobs an AWS role trusts: infra/bootstrap/identity.tf's subjects."""
    identity = (CHECKOUT / "infra" / "bootstrap" / "identity.tf").read_text(encoding="utf-8")
    suffixes = set(re.findall(r":environment:\$\{each\.key\}([-a-z]*)\"", identity))
    assert suffixes == {"", "-plan", "-release-plan", "-gate"}, suffixes
    return {f"{name}{suffix}" for name in DEPLOYED for suffix in suffixes}


def reviewed(body: dict) -> bool:
    return bool(body.get("reviewers")) and body.get("prevent_self_review") is True


def main_only(name: str) -> bool:
    settings = ENVIRONMENTS[name].get("deployment_branch_policy") or {}
    return bool(settings.get("custom_branch_policies")) and branch_policies(name) == [{"name": "main", "type": "branch"}]


def test_every_environment_a_job_uses_or_a_role_trusts_is_declared_and_none_other():
    used, trusted = set(used_environments()), trusted_environments()
    assert used >= trusted, f"roles trust environments no job uses: {trusted - used}"
    assert set(ENVIRONMENTS) == used, f"undeclared: {used - set(ENVIRONMENTS)}; unused: {set(ENVIRONMENTS) - used}"


def test_every_environment_is_reviewed_or_main_only_and_a_pull_requests_is_reviewed():
    """A job of a pull request workflow runs what any branch says: its environment has required reviewers, who are
    not the run's author. Every other environment a role trusts or a secret lives in takes only main, which only a
    reviewed pull request changes; prod also waits for its reviewers (docs/lifecycle.md)."""
    for name, files in used_environments().items():
        pull_request = any(set(PULL_REQUEST_EVENTS) & set(workflows()[file]["on"] or {}) for file in files)
        body = ENVIRONMENTS[name]
        if pull_request:
            assert reviewed(body), f"{name}: a pull request's job, with no required reviewer"
            assert body.get("deployment_branch_policy") is None, f"{name}: a pull request's branch is any branch"
        else:
            assert main_only(name), f"{name}: used from main only, so deploy from main only"
    assert reviewed(ENVIRONMENTS["prod"]) and main_only("prod")
    assert all(reviewed(ENVIRONMENTS[name]) or main_only(name) for name in trusted_environments())


def test_every_team_named_is_a_documented_placeholder():
    readme = (RULES / "README.md").read_text(encoding="utf-8")
    placeholders = set(re.findall(r"^\| `([a-z-]+)` \|", readme.split("## Placeholders to replace", 1)[1], re.M))
    teams = {reviewer["slug"] for body in ENVIRONMENTS.values() for reviewer in body.get("reviewers") or []
             if "slug" in reviewer}
    owners = set(re.findall(r"@megabank/([a-z-]+)", CODEOWNERS.read_text(encoding="utf-8")))
    assert teams | owners == placeholders, (teams | owners) ^ placeholders
    lines = [line.split() for line in CODEOWNERS.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines[0][0] == "*" and all(len(line) >= 2 for line in lines), "every path has an owner, the first line all"
    assert {line[0] for line in lines} >= {"/.github/", "/Makefile", "/infra/"}


# --- make github-rules, against a fake gh --------------------------------------------------------------------------

TEAM_IDS = {"complaints-platform-owners": 101, "complaints-model-owners": 102, "complaints-ops-owners": 103,
            "complaints-risk-owners": 104}


def github(tmp_path: Path, rulesets: str) -> FakeGh:
    """A repository with `rulesets` (gh's lines after --jq), environments dev and prod (dev also allowing
    release/*) and an undeclared one, and the organisation's teams."""
    repo = f"repos/{REPOSITORY}"
    return FakeGh(tmp_path, {
        f"{repo}/rulesets?includes_parents=false": rulesets,
        f"{repo}/environments": "dev\nprod\nstaging",
        f"{repo}/environments/dev/deployment-branch-policies": '[7,"main","branch"]\n[8,"release/*","branch"]',
        f"{repo}/environments/prod/deployment-branch-policies": '[9,"main","branch"]',
        **{f"orgs/megabank/teams/{slug}": str(team_id) for slug, team_id in TEAM_IDS.items()},
    })


def make_github_rules(fake: FakeGh, *variables: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", "github-rules", f"REPO={REPOSITORY}",
                           f"PYTHON={sys.executable}", *variables], cwd=CHECKOUT, env=fake.path(dict(os.environ)),
                          capture_output=True, text=True, timeout=60)


def expected_writes(ruleset_call: tuple[str, str]) -> list[tuple[str, str]]:
    repo = f"repos/{REPOSITORY}"
    writes = [ruleset_call]
    for name in sorted(ENVIRONMENTS):
        writes.append(("PUT", f"{repo}/environments/{name}"))
        if name not in ("dev", "prod") and main_only(name):
            writes.append(("POST", f"{repo}/environments/{name}/deployment-branch-policies"))
        if name == "dev":
            writes.append(("DELETE", f"{repo}/environments/dev/deployment-branch-policies/8"))
    return writes


def test_the_dry_run_reads_and_prints_every_write_it_would_make(tmp_path):
    fake = github(tmp_path, '[42,"main"]')
    run = make_github_rules(fake, "DRY_RUN=1")
    assert run.returncode == 0, run.stdout + run.stderr
    calls = fake.calls()
    assert {call["method"] for call in calls} == {"GET"}, "a dry run writes nothing"
    assert {call["path"] for call in calls} == {
        f"repos/{REPOSITORY}/rulesets?includes_parents=false", f"repos/{REPOSITORY}/environments",
        f"repos/{REPOSITORY}/environments/dev/deployment-branch-policies",
        f"repos/{REPOSITORY}/environments/prod/deployment-branch-policies",
        *(f"orgs/megabank/teams/{slug}" for slug in TEAM_IDS)}
    assert len([call for call in calls if call["path"].startswith("orgs/")]) == len(TEAM_IDS), "one lookup per team"
    printed = re.findall(r"^would run: gh api --method (\w+) (\S+)", run.stdout, flags=re.M)
    assert printed == expected_writes(("PUT", f"repos/{REPOSITORY}/rulesets/42")), printed
    assert "note: environment staging is not in" in run.stdout


def test_a_run_creates_the_ruleset_once_then_updates_it_in_place_with_the_bodies_of_the_files(tmp_path):
    fake = github(tmp_path / "new", "")
    assert make_github_rules(fake).returncode == 0
    writes = [call for call in fake.calls() if call["method"] != "GET"]
    assert [(call["method"], call["path"]) for call in writes] == expected_writes(("POST", f"repos/{REPOSITORY}/rulesets"))
    assert writes[0]["body"] == ruleset("main")
    bodies = {call["path"].rsplit("/", 1)[1]: call["body"] for call in writes if call["method"] == "PUT"}
    for name, body in ENVIRONMENTS.items():
        teams = [{"type": "Team", "id": TEAM_IDS[reviewer["slug"]]} for reviewer in body["reviewers"]]
        assert bodies[name] == {**body, "reviewers": teams}, name
        assert all(set(reviewer) == REVIEWER_FIELDS for reviewer in bodies[name]["reviewers"])
    policies = [call["body"] for call in writes if call["path"].endswith("/deployment-branch-policies")]
    assert policies and all(body == {"name": "main", "type": "branch"} for body in policies)

    again = github(tmp_path / "again", '[7,"release-tags"]\n[42,"main"]')
    assert make_github_rules(again).returncode == 0
    [ruleset_write] = [call for call in again.calls() if "/rulesets" in call["path"] and call["method"] != "GET"]
    assert (ruleset_write["method"], ruleset_write["path"]) == ("PUT", f"repos/{REPOSITORY}/rulesets/42")


def test_the_target_needs_a_repository_and_stops_on_the_first_failed_call(tmp_path):
    fake = github(tmp_path, '[42,"main"]')
    assert make_github_rules(fake, "REPO=").returncode != 0
    broken = FakeGh(tmp_path / "broken", {})  # every read is a 404
    run = make_github_rules(broken)
    assert run.returncode != 0 and "Not Found" in run.stderr
    assert all(call["method"] == "GET" for call in broken.calls())
