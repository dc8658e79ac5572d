"""Release manifests in git decide what serves an environment: `release diff` compares, `release apply`
writes the store from the committed manifest (twice is a no-op), records the release, and the strategy
commands refuse to change a deployed environment behind the manifest's back.

`release apply` is bound to the gate: every line the manifest changes (a first version, a new version, a mode,
a canary share, a threshold) needs the committed, sealed promote decision that names exactly that change under
the rules in force. A deleted, hand-edited or turned-away decision, an ungated serving change, a loosened gate
and a version the gate never admitted are each refused with nothing written."""

import json
import shutil
from dataclasses import replace

import pytest
import yaml

from complaints.deployment import Deployment
from complaints.strategy import write
from model import decision
from model.manifest import ManifestError, ReleaseManifest, first_step, next_step
from complaints.config import Settings
from conftest import PROVENANCE, decide_and_commit, git_commit_all, last_json, write_manifest
from model.baseline import BaselineConfig
from model.train import TrainingArguments, train


@pytest.fixture
def env(home, cli, sample_csv, tiny_model_minimums, tmp_path, monkeypatch):
    """A `dev` environment: its own SQLite store, the trained home's registry, a manifest in a git repository
    naming the trained champions (a challenger enters as a 10% canary), with the gate's decisions for them."""
    trained = Deployment.embedded(Settings.from_env(home=home))
    champions = {t.name: trained.store.get_strategy(t.name).champion for t in trained.tasks}
    deploy = tmp_path / "deploy"
    path = write_manifest(deploy, "dev", f"sqlite:///{tmp_path / 'dev.sqlite3'}", f"file://{home / 'registry'}",
                          {task: {"champion": version} for task, version in champions.items()},
                          rollout=["canary:10", "champion"])
    monkeypatch.setenv("COMPLAINTS_DEPLOY_DIR", str(deploy))
    commit = decide_and_commit(cli, deploy, "dev", sample_csv, "release dev")
    store = Deployment.at(f"sqlite:///{tmp_path / 'dev.sqlite3'}", f"file://{home / 'registry'}", Settings.from_env())
    return {"path": path, "commit": commit, "champions": champions, "deployment": store, "deploy": deploy,
            "trained": trained}


def edit(env, task: str, **line) -> None:
    """Set ``task``'s line in the manifest, as a pull request would."""
    doc = yaml.safe_load(env["path"].read_text())
    doc["tasks"][task] = line
    env["path"].write_text(yaml.safe_dump(doc))


def refused(cli, env, *words: str) -> str:
    """`release apply` is refused (exit 2) and writes nothing; returns what it said."""
    audit, releases = len(env["deployment"].store.list_audit()), len(env["deployment"].store.list_releases("dev"))
    code, _, err = cli("--env", "dev", "release", "apply")
    assert code == 2, err
    assert len(env["deployment"].store.list_audit()) == audit and len(env["deployment"].store.list_releases("dev")) == releases
    for word in words:
        assert word in err, err
    return err


def other_version(env, sample_csv) -> str:
    """A second registered team version (fewer complaints than the champion's)."""
    [result] = train(env["trained"], TrainingArguments(data=sample_csv, tasks=["team"], champion="never", max_rows=500,
                                                       provenance=PROVENANCE, baseline=BaselineConfig(max_iter=100)))
    return result.version


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
    for event in events:  # each write names the sealed decision that admitted it
        committed = json.loads((env["deploy"] / "gate" / "dev" / f"{event.subject}.json").read_text())
        assert event.details["gate_decision_sha256"] == committed["sha256"] == decision.digest(committed)
        [recorded] = store.list_gate_decisions(event.subject, env["champions"][event.subject])
        assert (recorded.decision, recorded.champion) == ("promote", "")

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


def test_a_deleted_decision_refuses_the_whole_manifest(cli, env):
    (env["deploy"] / "gate" / "dev" / "vulnerable.json").unlink()
    git_commit_all(env["deploy"], "a decision lost")
    refused(cli, env, "'vulnerable'", "no gate decision is committed")
    assert env["deployment"].store.get_strategy("team") is None  # not even the tasks that have one


def test_a_hand_edited_decision_is_refused(cli, env):
    path = env["deploy"] / "gate" / "dev" / "issue.json"
    edited = json.loads(path.read_text())
    edited["metrics"]["system"]["tasks"]["issue"]["accuracy"] = 0.99
    path.write_text(json.dumps(edited))
    git_commit_all(env["deploy"], "a better number")
    refused(cli, env, "'issue'", "edited after the gate sealed it")


def test_a_decision_the_gate_turned_away_is_never_applied(cli, env):
    path = env["deploy"] / "gate" / "dev" / "team.json"
    document = json.loads(path.read_text())
    decision.write(path, {**document, "decision": "reject"})  # sealed, but a reject of this very line
    git_commit_all(env["deploy"], "apply a reject")
    refused(cli, env, "turned away")  # the manifest loader refuses the line
    decision.write(path, {**document, "decision": "reject", "to": {**document["to"], "threshold": 0.5}})
    git_commit_all(env["deploy"], "a reject of another line")
    refused(cli, env, "'team'", "the gate decided 'reject'")  # apply refuses what no promote names


@pytest.mark.parametrize("line, words", [
    ({"threshold": 0.0}, ["threshold 0.0"]),
    ({"mode": "canary", "canary_percent": 10, "challenger": "CHALLENGER"}, ["canary challenger"]),
    ({"mode": "shadow", "challenger": "CHALLENGER"}, ["shadow challenger"]),
])
def test_a_serving_change_without_its_decision_is_refused(cli, env, sample_csv, line, words):
    assert cli("--env", "dev", "release", "apply")[0] == 0
    if line.get("challenger"):
        line = {**line, "challenger": other_version(env, sample_csv)}
    edit(env, "team", champion=env["champions"]["team"], **line)
    git_commit_all(env["deploy"], "serve it differently, no decision")
    refused(cli, env, "'team'", "it admits", *words)
    assert env["deployment"].store.get_strategy("team").mode == "champion_only"


def test_a_canary_share_change_without_its_decision_is_refused(cli, env, sample_csv):
    assert cli("--env", "dev", "release", "apply")[0] == 0
    challenger = other_version(env, sample_csv)
    deployment = env["deployment"]
    current = deployment.store.get_strategy("team")  # the environment serves a 10% canary (as a release put it)
    write(deployment, replace(current, mode="canary", challenger=challenger, canary_percent=10), "test", "release")
    edit(env, "team", champion=env["champions"]["team"], challenger=challenger, mode="canary", canary_percent=90)
    git_commit_all(env["deploy"], "a 90% canary")
    refused(cli, env, "'team'", "at 90%")
    assert deployment.store.get_strategy("team").canary_percent == 10


def test_a_loosened_gate_is_refused_and_a_tightened_one_binds_only_later(cli, env):
    assert cli("--env", "dev", "release", "apply")[0] == 0
    doc = yaml.safe_load(env["path"].read_text())
    env["path"].write_text(yaml.safe_dump({**doc, "gate": {"margin": 0.9}}))
    git_commit_all(env["deploy"], "a lenient gate")
    refused(cli, env, "may tighten the gate, never loosen it", "margin 0.9")
    # Tighter rules and a serving change in one pull request: the decision was made under the rules it replaces.
    env["path"].write_text(yaml.safe_dump({**doc, "gate": {"margin": 0.005},
                                           "tasks": {**doc["tasks"], "team": {**doc["tasks"]["team"], "threshold": 0.5}}}))
    git_commit_all(env["deploy"], "stricter, and a threshold")
    refused(cli, env, "'team'", "other rules")


def test_a_version_the_gate_never_admitted_cannot_be_served(cli, env, sample_csv, tmp_path):
    """A challenger the gate turned away is not in the environment's registry (retrain registers only what it
    promotes), and no decision names it: a manifest naming it is refused."""
    assert cli("--env", "dev", "release", "apply")[0] == 0
    elsewhere = Deployment.embedded(Settings.from_env(home=tmp_path / "retrain-scratch"))
    [rejected] = train(elsewhere, TrainingArguments(data=sample_csv, tasks=["team"], champion="never", max_rows=80,
                                                    provenance=PROVENANCE, baseline=BaselineConfig(max_iter=100)))
    edit(env, "team", champion=rejected.version)
    git_commit_all(env["deploy"], "name a version the gate never admitted")
    refused(cli, env, "'team'", rejected.version)
    assert env["deployment"].store.get_model_info("team", rejected.version) is None


def test_a_version_missing_from_the_registry_refuses_the_manifest_before_anything_is_written(cli, env, home):
    """The manifest's last task's version is gone: the versions named before it are not recorded either."""
    task, version = list(env["champions"].items())[-1]
    shutil.rmtree(home / "registry" / task / version)
    refused(cli, env, f"model {task}@{version} is not in the registry")
    store = env["deployment"].store
    assert all(store.get_model_info(t, v) is None and store.get_strategy(t) is None for t, v in env["champions"].items())


def test_a_serving_change_with_its_decision_applies(cli, env, sample_csv):
    """A threshold the gate admits (the system it makes still reaches every minimum) reaches the store, and the
    decision that admitted it is recorded beside the write."""
    assert cli("--env", "dev", "release", "apply")[0] == 0
    edit(env, "team", champion=env["champions"]["team"], threshold=0.5)
    decide_and_commit(cli, env["deploy"], "dev", sample_csv, "team at 0.5, gated")
    assert cli("--env", "dev", "release", "apply")[0] == 0
    assert env["deployment"].store.get_strategy("team").threshold == 0.5
    committed = json.loads((env["deploy"] / "gate" / "dev" / "team.json").read_text())
    assert committed["from"]["threshold"] is None and committed["to"]["threshold"] == 0.5
    assert env["deployment"].store.list_audit()[0].details["gate_decision_sha256"] == committed["sha256"]


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


def test_the_gate_of_a_manifest_pull_request_decides_each_change_against_what_serves(
        cli, env, sample_csv, tmp_path):
    assert cli("--env", "dev", "release", "apply")[0] == 0
    code, _, _ = cli("--env", "dev", "gate", "--data", str(sample_csv), "--report", str(tmp_path / "none"))
    assert code == 0 and "nothing to gate" in (tmp_path / "none" / "report.md").read_text()

    challenger = other_version(env, sample_csv)
    edit(env, "team", champion=env["champions"]["team"], challenger=challenger, mode="canary", canary_percent=10)
    code, out, _ = cli("--env", "dev", "gate", "--data", str(sample_csv), "--report", str(tmp_path / "pr"), "--json")
    payload = last_json(out)
    [(task, verdict)] = payload["decisions"].items()
    assert task == "team" and (verdict["champion"], verdict["challenger"]) == (env["champions"]["team"], challenger)
    assert code == 1 and "it admits a change from None" in payload["refused"]["team"][0]  # the first version's
    report = (tmp_path / "pr" / "report.md").read_text()
    assert f"## team: {verdict['decision']}" in report and "## Committed decisions" in report
    assert env["deployment"].store.list_gate_decisions("team", challenger) == []  # an environment records at apply
    code, _, _ = cli("--env", "dev", "gate", "--decide", "--data", str(sample_csv))
    written = decision.decision_path(env["deploy"], "dev", "team")
    assert code == (0 if verdict["decision"] == "promote" else 1)
    assert json.loads(written.read_text())["to"]["challenger"] == (challenger if code == 0 else None)

    edit(env, "team", champion="0123456789abcdef")  # not in the registry
    code, _, err = cli("--env", "dev", "gate", "--data", str(sample_csv))
    assert code == 2 and "0123456789abcdef is not in the registry" in err


def test_the_pull_requests_gate_runs_under_the_base_branchs_rules(cli, env, sample_csv, tmp_path):
    """CI checks out the base branch (code, tasks' minimums, deploy/ENV.yaml's gate and rollout) and reads the
    pull request's deploy/ as data (--proposed): a pull request cannot loosen the gate it is judged by, nor
    change the rules together with what serves."""
    assert cli("--env", "dev", "release", "apply")[0] == 0
    proposed = tmp_path / "pull-request" / "deploy"
    proposed.mkdir(parents=True)
    doc = yaml.safe_load(env["path"].read_text())
    (proposed / "dev.yaml").write_text(yaml.safe_dump({**doc, "gate": {"margin": 0.9}}))
    code, _, err = cli("--env", "dev", "gate", "--proposed", str(proposed), "--data", str(sample_csv))
    assert code == 2 and "never loosen" in err

    (proposed / "dev.yaml").write_text(yaml.safe_dump({**doc, "rollout": ["champion"], "tasks": {
        **doc["tasks"], "team": {**doc["tasks"]["team"], "threshold": 0.5}}}))
    code, out, _ = cli("--env", "dev", "gate", "--proposed", str(proposed), "--decide", "--data", str(sample_csv),
                       "--json")
    assert code == 1 and "the rules change in a pull request of their own" in last_json(out)["refused"]["team"][-1]
    committed = json.loads(decision.decision_path(proposed, "dev", "team").read_text())
    assert committed["to"]["threshold"] == 0.5
    assert committed["rules"]["rollout"] == ["canary:10", "champion"]  # the base's, not the pull request's
