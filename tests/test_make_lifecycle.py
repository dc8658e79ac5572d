"""`make retrain` and `make release` end to end, as the workflows run them in GitHub: the committed manifest
names a Hub registry (here a local Hub on 127.0.0.1) and a store (here SQLite in place of DynamoDB); the retrain
leaves the pull request's contents; the merged manifest is applied once, and a second apply is a no-op. A release
reads the Hub and writes nothing there."""

import os
import shutil
import subprocess

import yaml

from complaints.deployment import Deployment
from complaints.config import Settings
from testing import CHECKOUT
from conftest import git_commit_all
from testing.fake_hub import FakeHub

TOKEN = "hf_fake_token"


def make(target: str, env: dict, **variables: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", target, *(f"{k}={v}" for k, v in variables.items())],
                          cwd=CHECKOUT, env=env, capture_output=True, text=True, timeout=900)


def test_make_retrain_then_make_release_against_a_local_hub(sample_csv, tiny_model_minimums, tmp_path):
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    shutil.copy(CHECKOUT / "deploy" / "dev.yaml", deploy / "dev.yaml")  # the real manifest: no models yet
    git_commit_all(deploy, "dev as it is in the repository")
    store = f"sqlite:///{tmp_path / 'dev.sqlite3'}"
    with FakeHub(TOKEN) as hub:
        env = {**os.environ, "COMPLAINTS_DEPLOY_DIR": str(deploy), "COMPLAINTS_MANIFEST_STORE_URL": store,
               "COMPLAINTS_MANIFEST_REGISTRY_URL": "hf://megabank", "HF_ENDPOINT": hub.url, "HF_TOKEN": TOKEN,
               "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HOME": str(tmp_path / "hf-home")}
        out = tmp_path / "promotion"
        retrained = make("retrain", env, ENV="dev", DATA=str(sample_csv), OUT=str(out))
        assert retrained.returncode == 0, retrained.stdout[-3000:] + retrained.stderr[-3000:]
        manifest = yaml.safe_load((deploy / "dev.yaml").read_text())
        assert set(manifest["tasks"]) == {"team", "issue", "vulnerable"}
        report = (out / "report.md").read_text()
        assert report.count(": promote\n") == 3 and "**Decision: promote team, issue, vulnerable.**" in report
        assert "+  team:" in (out / "manifest.diff").read_text()
        assert {f"megabank/complaints-triage-{task}" for task in manifest["tasks"]} == set(hub.repos)
        assert all(set(hub.repos[f"megabank/complaints-triage-{task}"].tags) == {entry["champion"]}
                   for task, entry in manifest["tasks"].items())  # the Hub holds what the gate promoted, no more
        assert {path.name for path in (deploy / "gate" / "dev").iterdir()} == {f"{t}.json" for t in manifest["tasks"]}

        commit = git_commit_all(deploy, "merge the retrain pull request")
        refs = {repo_id: (dict(repo.branches), dict(repo.tags)) for repo_id, repo in hub.repos.items()}
        before = len(hub.requests)
        url = "https://github.com/megabank/complaints-triage/actions/runs/42"
        released = make("release", env, ENV="dev", RUN_URL=url)
        assert released.returncode == 0, released.stdout[-3000:] + released.stderr[-3000:]
        again = make("release", env, ENV="dev", RUN_URL=url)
        assert again.returncode == 0 and "nothing changed" in again.stdout
        assert {method for method, _ in hub.requests[before:]} <= {"GET", "HEAD"}  # a release only reads the Hub
        assert {repo_id: (repo.branches, repo.tags) for repo_id, repo in hub.repos.items()} == refs

    deployment = Deployment.at(store, "file:///unused", Settings.from_env())
    served = {task: deployment.store.get_strategy(task).champion for task in manifest["tasks"]}
    assert served == {task: entry["champion"] for task, entry in manifest["tasks"].items()}
    [release] = deployment.store.list_releases("dev")
    assert (release.git_commit, release.run_url) == (commit, url)
