"""`complaints audit` resolves the chain behind every allocation: in the embedded default (locally promoted
versions say so) and in an environment whose versions came by a release (manifest commit, run URL)."""

from complaints.deployment import Deployment
from complaints.config import Settings
from conftest import decide_and_commit, last_json, sample, write_csv, write_manifest


def test_every_allocation_of_the_main_job_has_a_complete_audit_chain(cli_at, cfpb_rows, tmp_path):
    home = tmp_path / "fresh"
    cli = cli_at(home)
    data = write_csv(tmp_path / "data.csv", sample(cfpb_rows, 500, salt="audit"))
    assert cli("run", "--data", str(data), "--limit", "60")[0] == 0
    deployment = Deployment.embedded(Settings.from_env(home=home))
    allocated = [p.allocation for queue in {*deployment.taxonomy.teams, "Manual triage", "Vulnerable customers"}
                 for p in deployment.store.list_queue(queue, 1000)]
    assert len(allocated) == 60
    cli("reallocate", allocated[0].complaint_id, "--task", "team", "--label", "Mortgage", "--analyst", "ana")
    for allocation in allocated:
        code, out, _ = cli("audit", allocation.complaint_id, "--json")
        chain = last_json(out)
        assert code == 0 and chain["complete"], chain
        for task, link in chain["tasks"].items():
            assert link["version"] == allocation.model_versions[task]
            assert link["model_card"]["training"]["data_sha256"] == link["model_info"]["training_data_sha256"]
            assert link["model_card"]["training"]["git_commit"] and link["model_card"]["metrics"]
            assert link["put_in_service_by"]["action"] == "promote"
            assert "promoted locally" in link["put_in_service_by"]["note"] and link["gate_decision"] is None
    first = last_json(cli("audit", allocated[0].complaint_id, "--json")[1])
    assert [c["label"] for c in first["corrections"]] == ["Mortgage"]
    code, out, _ = cli("audit", allocated[0].complaint_id)
    assert code == 0 and "promoted locally" in out and "Corrections since: 1" in out
    assert cli("audit", "no-such-complaint")[0] == 2


def test_an_environments_allocation_traces_to_the_release_that_served_it(cli_at, tiny_model_minimums, home, cfpb_rows,
                                                                         sample_csv, tmp_path, monkeypatch):
    trained = Deployment.embedded(Settings.from_env(home=home))
    deploy = tmp_path / "deploy"
    write_manifest(deploy, "dev", f"sqlite:///{tmp_path / 'dev.sqlite3'}", f"file://{home / 'registry'}",
                   {t.name: {"champion": trained.store.get_strategy(t.name).champion} for t in trained.tasks})
    monkeypatch.setenv("COMPLAINTS_DEPLOY_DIR", str(deploy))
    cli = cli_at(tmp_path / "unused-home")
    commit = decide_and_commit(cli, deploy, "dev", sample_csv, "release dev")
    assert cli("--env", "dev", "release", "apply", "--run-url", "https://ci.example/runs/7")[0] == 0
    rows = sample(cfpb_rows, 5, salt="env-audit")
    assert cli("--env", "dev", "triage", "--data", str(write_csv(tmp_path / "b.csv", rows)), "--json")[0] == 0
    code, out, _ = cli("--env", "dev", "audit", rows[0]["Complaint ID"], "--json")
    chain = last_json(out)
    assert code == 0 and chain["complete"]
    for link in chain["tasks"].values():
        service = link["put_in_service_by"]
        assert (service["action"], service["environment"], service["git_commit"]) == ("release", "dev", commit)
        assert service["run_url"] == "https://ci.example/runs/7" and service["release"]["git_commit"] == commit
        assert link["gate_decision"]["decision"] == "promote"  # the committed decision that admitted the version
