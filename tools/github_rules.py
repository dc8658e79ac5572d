"""Apply the repository's own rules (.github/rules/: main's ruleset, the GitHub environments) with the GitHub CLI:
``make github-rules REPO=owner/name [DRY_RUN=1]``.

Each file is the body of one GitHub REST call (.github/rules/README.md). A ruleset is updated in place when the
repository has one of its name, else created; an environment is created or updated (PUT), then its deployment
branch policies are made exactly the file's: the missing created, the others deleted. A team reviewer written
by ``slug`` gets its organisation's numeric ``id``. Reads always run (they decide POST or PUT); ``--dry-run``
prints the writes instead of making them. Standard library only: it needs ``gh``, signed in as an administrator
of the repository, and nothing of ``make setup``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

RULES = Path(__file__).resolve().parent.parent / ".github" / "rules"
BRANCH_POLICIES = ".deployment-branch-policies.json"


class GitHub:
    """`gh api`: reads run, writes run or, in a dry run, are printed."""

    def __init__(self, repository: str, dry_run: bool):
        self.repository = repository
        self.dry_run = dry_run

    def read(self, path: str, jq: str, paginate: bool = False) -> list[str]:
        command = ["gh", "api", *(["--paginate"] if paginate else []), path, "--jq", jq]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()

    def write(self, method: str, path: str, body: object = None) -> None:
        command = ["gh", "api", "--method", method, path, *(["--input", "-"] if body is not None else [])]
        print(("would run: " if self.dry_run else "") + " ".join(command)
              + (f" <<< '{json.dumps(body, separators=(',', ':'))}'" if body is not None else ""))
        if not self.dry_run:
            subprocess.run(command, input=None if body is None else json.dumps(body), capture_output=True,
                           text=True, check=True)

    def repo(self, path: str) -> str:
        return f"repos/{self.repository}/{path}"


def apply_rulesets(github: GitHub, folder: Path) -> None:
    existing = {name: ruleset_id for ruleset_id, name in map(json.loads, github.read(
        github.repo("rulesets?includes_parents=false"), ".[] | [.id, .name] | @json", paginate=True))}
    for file in sorted(folder.glob("*.json")):
        body = json.loads(file.read_text(encoding="utf-8"))
        if body["name"] in existing:
            github.write("PUT", github.repo(f"rulesets/{existing[body['name']]}"), body)
        else:
            github.write("POST", github.repo("rulesets"), body)


def with_team_ids(github: GitHub, body: dict, team_ids: dict[str, int]) -> dict:
    """The body with each team reviewer named by slug given its id instead (one lookup per team)."""
    owner = github.repository.split("/")[0]
    reviewers = []
    for reviewer in body.get("reviewers") or []:
        if "slug" in reviewer:
            slug = reviewer["slug"]
            if slug not in team_ids:
                [team_id] = github.read(f"orgs/{owner}/teams/{quote(slug)}", ".id")
                team_ids[slug] = int(team_id)
            reviewer = {"type": reviewer["type"], "id": team_ids[slug]}
        reviewers.append(reviewer)
    return {**body, "reviewers": reviewers} if "reviewers" in body else body


def apply_environments(github: GitHub, folder: Path) -> None:
    existing = set(github.read(github.repo("environments"), ".environments[].name", paginate=True))
    declared = sorted((file for file in folder.glob("*.json") if not file.name.endswith(BRANCH_POLICIES)),
                      key=lambda file: file.stem)
    team_ids: dict[str, int] = {}
    for file in declared:
        name = file.stem
        path = github.repo(f"environments/{quote(name)}")
        body = with_team_ids(github, json.loads(file.read_text(encoding="utf-8")), team_ids)
        github.write("PUT", path, body)
        if not (body.get("deployment_branch_policy") or {}).get("custom_branch_policies"):
            continue
        wanted = json.loads((folder / f"{name}{BRANCH_POLICIES}").read_text(encoding="utf-8"))
        current = {} if name not in existing else {
            (policy_name, kind): policy_id for policy_id, policy_name, kind in map(json.loads, github.read(
                f"{path}/deployment-branch-policies", ".branch_policies[] | [.id, .name, .type] | @json",
                paginate=True))}
        for policy in wanted:
            if (policy["name"], policy.get("type", "branch")) not in current:
                github.write("POST", f"{path}/deployment-branch-policies", policy)
        kept = {(policy["name"], policy.get("type", "branch")) for policy in wanted}
        for key, policy_id in sorted(current.items()):
            if key not in kept:
                github.write("DELETE", f"{path}/deployment-branch-policies/{policy_id}")
    for name in sorted(existing - {file.stem for file in declared}):
        print(f"note: environment {name} is not in {folder}: left as it is (deleting it would delete its secrets)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.github_rules", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", required=True, help="owner/name of the repository")
    parser.add_argument("--rules", type=Path, default=RULES, help="the folder of the rules (default .github/rules)")
    parser.add_argument("--dry-run", action="store_true", help="make the reads, print the writes")
    args = parser.parse_args(argv)
    if args.repo.count("/") != 1:
        parser.error(f"--repo must be owner/name, not {args.repo!r}")
    github = GitHub(args.repo, args.dry_run)
    try:
        apply_rulesets(github, args.rules / "rulesets")
        apply_environments(github, args.rules / "environments")
    except subprocess.CalledProcessError as error:
        print(f"error: {' '.join(error.cmd)} failed: {error.stderr.strip()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
