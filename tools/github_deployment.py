"""Name the model versions on the GitHub deployment an apply made: ``make deployment-status ENV=prod``.

apply.yml's apply job is a GitHub deployment to the environment, which GitHub creates with an empty payload
and closes when the job ends. The job after it (apply.yml ``record``) finds that deployment (this run's, by
its log URL, among the environment's deployments of this commit) and adds a success status whose description
names each task's version (and challenger) of ``models.json``, which ``make stage`` wrote from the
environment's release manifest, ``deploy/<env>.yaml``: the deployments page then says what serves, not only
that something was deployed. Standard library and ``gh`` only; ``GITHUB_REPOSITORY``, ``GITHUB_SHA``,
``GITHUB_RUN_ID`` and ``GITHUB_SERVER_URL`` as the runner sets them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

DESCRIPTION_LIMIT = 140  # GitHub refuses a deployment status whose description is longer
CHALLENGER = ":challenger"


def describe(models: dict[str, str], digits: int | None = None) -> str:
    """"team 3f2a9c0d1e2b4a5c; issue 9b8e7d6c5a4f3e2d, challenger 1a2b3c4d5e6f7a8b; ...", versions cut to
    ``digits`` where given."""
    parts = []
    for task in sorted(key for key in models if not key.endswith(CHALLENGER)):
        part = f"{task} {models[task][:digits]}"
        if f"{task}{CHALLENGER}" in models:
            part += f", challenger {models[f'{task}{CHALLENGER}'][:digits]}"
        parts.append(part)
    return "; ".join(parts)


def description(models: dict[str, str]) -> str:
    """The versions in full where they fit GitHub's limit, else their first 8 digits (the manifest has them all)."""
    full = describe(models)
    return full if len(full) <= DESCRIPTION_LIMIT else describe(models, 8)[:DESCRIPTION_LIMIT]


def gh(*args: str, body: dict | None = None) -> object:
    result = subprocess.run(["gh", "api", *args], input=None if body is None else json.dumps(body),
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def this_runs_deployment(repository: str, environment: str, sha: str, run_id: str) -> dict:
    """The deployment GitHub made for this run's job in ``environment``, and its newest status."""
    deployments = gh(f"repos/{repository}/deployments?environment={environment}&sha={sha}")
    for deployment in deployments:
        statuses = gh(f"repos/{repository}/deployments/{deployment['id']}/statuses")
        if any(f"/actions/runs/{run_id}/" in (status.get("log_url") or "") for status in statuses):
            return {"id": deployment["id"], "status": statuses[0]}
    raise LookupError(f"no deployment to {environment} of {sha} was made by run {run_id}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.github_deployment", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", required=True, help="the environment applied (a GitHub environment)")
    parser.add_argument("--models", type=Path, required=True, help="models.json of make stage (the image's versions)")
    args = parser.parse_args(argv)
    repository, sha, run_id = (os.environ[name] for name in ("GITHUB_REPOSITORY", "GITHUB_SHA", "GITHUB_RUN_ID"))
    models = json.loads(args.models.read_text(encoding="utf-8"))
    try:
        found = this_runs_deployment(repository, args.env, sha, run_id)
        status = {"state": "success", "description": description(models),
                  "log_url": f"{os.environ['GITHUB_SERVER_URL']}/{repository}/actions/runs/{run_id}"}
        if found["status"].get("environment_url"):
            status["environment_url"] = found["status"]["environment_url"]
        gh("--method", "POST", f"repos/{repository}/deployments/{found['id']}/statuses", "--input", "-", body=status)
    except (LookupError, subprocess.CalledProcessError) as error:
        print(f"error: {getattr(error, 'stderr', None) or error}", file=sys.stderr)
        return 1
    print(f"deployment {found['id']} ({args.env}): {status['description']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
