"""Release manifests in git decide what serves an environment: `release diff` compares, `release apply`
writes the store from the committed manifest (twice is a no-op), records the release, and the strategy
commands refuse to change a deployed environment behind the manifest's back."""

import json

import pytest
import yaml

from complaints.deployment import Deployment
from model.manifest import ManifestError, ReleaseManifest, first_step, next_step
from complaints.config import Settings
from conftest import PROVENANCE, git_commit_all, last_json, write_manifest
from model.baseline import BaselineConfig
from model.train import TrainingArguments, train


@pytest.fixture
def env(home, tmp_path, monkeypatch):
    """A `dev` environment: its own SQLite store, the trained home's registry, a manifest in a git repository
    naming the trained champions."""
    trained = Deployment.embedded(Settings.from_env(home=home))
    champions = {t.name: trained.store.get_strategy(t.name).champion for t in trained.tasks}
    deploy = tmp_path / "deploy"
    path = write_manifest(deploy, "dev", f"sqlite:///{tmp_path / 'dev.sqlite3'}", f"file://{home / 'registry'}",
                          {task: {"champion": version} for task, version in champions.items()})
    commit = git_commit_all(deploy, "release dev")
    monkeypatch.setenv("COMPLAINTS_DEPLOY_DIR", str(deploy))
    store = Deployment.at(f"sqlite:///{tmp_path / 'dev.sqlite3'}", f"file://{home / 'registry'}", Settings.from_env())
    return {"path": path, "commit": commit, "champions": champions, "deployment": store, "deploy": deploy}


def test_apply_writes_the_manifest_once_and_twice_changes_nothing(cli, env):
    code, out, _ = cli("--env", "dev", "release", "diff", "--json")
    assert code == 1 and not last_json(out)["in_sync"]
    code, out, _ = cli("--env", "dev", "release", "apply", "--run-url", "https://ci.example/run/1", "--json")
    applied = last_json(out)
    assert code == 0 and sorted(applied["written"]) == ["issue", "team", "vulnerable"]
    assert applied["release"]["git_commit"] == env["commit"] and applied["release"]["run_url"].endswith("/run/1")
    store = env["deployment"].store
    assert {t: store.get_strategy(t).champion for t in env["champions"]} == env["champions"]
    assert all(store.get_model_info(t, v).kind == "tfidf-linear" for t, v in env["champions"].items())
    events = store.list_audit()
    assert [e.action for e in events] == ["release"] * 3
    assert all(e.details["git_commit"] == env["commit"] and e.details["run_url"] for e in events)

    code, out, _ = cli("--env", "dev", "release", "apply", "--json")
    assert code == 0 and last_json(out) == {"environment": "dev", "written": [], "release": None}
    assert len(store.list_audit()) == 3 and len(store.list_releases("dev")) == 1
    code, out, _ = cli("--env", "dev", "release", "diff")
    assert code == 0 and out.count("in sync") == 3


def test_an_uncommitted_manifest_is_refused_and_nothing_is_written(cli, env):
    env["path"].write_text(env["path"].read_text() + "# an edit nobody reviewed\n")
    code, _, err = cli("--env", "dev", "release", "apply")
    assert code == 2 and "uncommitted changes" in err
    assert env["deployment"].store.list_audit() == [] and env["deployment"].store.list_releases("dev") == []


def test_a_canary_release_serves_both_versions_and_records_the_gate_decision(cli, env, deployment):
    team = env["champions"]["team"]
    challenger = env["champions"]["issue"]  # any other registered version stands in for a challenger
    doc = yaml.safe_load(env["path"].read_text())
    doc["tasks"]["issue"] = {"champion": challenger, "challenger": challenger, "mode": "canary", "canary_percent": 10}
    env["path"].write_text(yaml.safe_dump(doc))
    decision = env["deploy"] / "gate" / "issue" / f"{challenger}.json"
    decision.parent.mkdir(parents=True)
    decision.write_text(json.dumps({"task": "issue", "challenger": challenger, "champion": team, "decision": "promote",
                                    "reasons": ["test"], "metrics": {}, "decided_at": "2026-01-01T00:00:00+00:00",
                                    "report_sha256": "0" * 64, "actor": "retrain"}))
    git_commit_all(env["deploy"], "canary")
    assert cli("--env", "dev", "release", "apply")[0] == 0
    strategy = env["deployment"].store.get_strategy("issue")
    assert (strategy.mode, strategy.challenger, strategy.canary_percent) == ("canary", challenger, 10)
    [gate] = env["deployment"].store.list_gate_decisions("issue", challenger)
    assert gate.decision == "promote" and gate.actor == "retrain"


def test_strategy_commands_refuse_a_deployed_environment(cli, env):
    code, _, err = cli("--env", "dev", "strategy", "rollback", "--task", "team")
    assert code == 2 and "release manifest (deploy/dev.yaml)" in err
    assert env["deployment"].store.list_audit() == []


def test_the_rollout_policy_moves_a_challenger_from_shadow_to_canary_to_champion(tmp_path):
    path = write_manifest(tmp_path, "prod", "sqlite:///x", "file:///y", {"team": {"champion": "a"}},
                          rollout=["shadow", "canary:10", "champion"])

    def moved(release) -> ReleaseManifest:
        path.write_text(ReleaseManifest.load(path).with_task("team", release))
        return ReleaseManifest.load(path)

    shadow = first_step(ReleaseManifest.load(path), "team", "b")
    assert (shadow.champion, shadow.challenger, shadow.mode) == ("a", "b", "shadow")
    canary = next_step(moved(shadow), "team")
    assert (canary.champion, canary.challenger, canary.mode, canary.canary_percent) == ("a", "b", "canary", 10)
    champion = next_step(moved(canary), "team")
    assert (champion.champion, champion.challenger, champion.mode) == ("b", None, "champion_only")
    with pytest.raises(ManifestError, match="no challenger"):
        next_step(moved(champion), "team")


@pytest.mark.parametrize("tasks, message", [
    ({"team": {"champion": "a", "challenger": "b"}}, "served only in canary or shadow"),
    ({"team": {"champion": "a", "challenger": "b", "mode": "canary", "canary_percent": 100}}, "between 1 and 99"),
    ({"team": {"champion": "a", "colour": "red"}}, "unexpected keyword"),
    ({"team": {"champion": "a", "threshold": 2}}, "between 0 and 1"),
])
def test_a_broken_manifest_names_the_file_and_the_problem(tmp_path, tasks, message):
    with pytest.raises(ManifestError, match=message):
        ReleaseManifest.load(write_manifest(tmp_path, "dev", "sqlite:///x", "file:///y", tasks))


def test_the_gate_of_a_manifest_pull_request_compares_what_serves_with_what_the_manifest_proposes(
        cli, env, home, sample_csv, tmp_path):
    assert cli("--env", "dev", "release", "apply")[0] == 0
    code, _, _ = cli("--env", "dev", "gate", "--data", str(sample_csv), "--report", str(tmp_path / "none"))
    assert code == 0 and "nothing to gate" in (tmp_path / "none" / "report.md").read_text()

    trained = Deployment.embedded(Settings.from_env(home=home))  # its registry is the environment's
    [proposed] = train(trained, TrainingArguments(data=sample_csv, tasks=["team"], champion="never", max_rows=500,
                                                  provenance=PROVENANCE, baseline=BaselineConfig(max_iter=100)))
    doc = yaml.safe_load(env["path"].read_text())
    doc["tasks"]["team"] = {"champion": proposed.version}  # dev's rollout replaces the champion outright
    env["path"].write_text(yaml.safe_dump(doc))
    code, out, _ = cli("--env", "dev", "gate", "--data", str(sample_csv), "--report", str(tmp_path / "pr"), "--json")
    [(task, decision)] = last_json(out)["decisions"].items()
    assert task == "team" and (decision["champion"], decision["challenger"]) == (env["champions"]["team"],
                                                                               proposed.version)
    assert code == (0 if decision["decision"] == "promote" else 1)
    assert f"## team: {decision['decision']}" in (tmp_path / "pr" / "report.md").read_text()
    assert env["deployment"].store.list_gate_decisions("team") == []  # an environment records at apply only

    doc["tasks"]["team"] = {"champion": "0123456789abcdef"}  # not in the registry
    env["path"].write_text(yaml.safe_dump(doc))
    code, _, err = cli("--env", "dev", "gate", "--data", str(sample_csv))
    assert code == 2 and "0123456789abcdef is not in the registry" in err
