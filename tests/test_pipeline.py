"""The pipeline end to end on real complaints, real SQLite and the trained baseline models."""

import json
import shutil
from collections import Counter
from dataclasses import replace

import pytest
import yaml

from complaints.deployment import Deployment
from complaints.intake import read_batch
from complaints import strategy
from complaints.pipeline import TriagePipeline
from complaints.records import ALLOCATED, MANUAL_TRIAGE, NEEDS_TRIAGE
from complaints.config import CONFIG_DIR, Settings
from complaints.strategy import NoChampionError
from conftest import sample, write_csv


@pytest.fixture
def batch_csv(cfpb_rows, tmp_path):
    return write_csv(tmp_path / "batch.csv", sample(cfpb_rows, 120, salt="batch"))


def test_every_complaint_is_allocated_with_the_versions_that_decided(deployment, batch_csv):
    report = TriagePipeline(deployment).triage(read_batch(batch_csv, deployment.taxonomy))
    assert report.rows == 120 == report.allocated + report.manual_triage + report.rejected
    assert report.rejected == 0 and sum(report.by_queue.values()) == 120
    champions = {t.name: deployment.store.get_strategy(t.name).champion for t in deployment.tasks}
    assert {t: v["champion"] for t, v in report.model_versions.items()} == champions
    for complaint_id in [c.complaint_id for c in read_batch(batch_csv, deployment.taxonomy).complaints][:30]:
        allocation = deployment.store.get_allocation(complaint_id)
        assert allocation.model_versions == champions
        assert set(allocation.predictions) == {"team", "issue", "vulnerable"}
        assert allocation.taxonomy_version == deployment.taxonomy.version
        if allocation.queue == MANUAL_TRIAGE:
            assert allocation.reasons and allocation.status != ALLOCATED
        elif allocation.queue == "Vulnerable customers":
            assert allocation.predictions["vulnerable"].label == "yes"
        else:
            assert allocation.queue == allocation.predictions["team"].label in deployment.taxonomy.teams
    batch = deployment.store.get_batch(report.batch_id)
    assert batch.counts["rows"] == 120 and batch.model_versions == report.model_versions


def test_a_second_run_reuses_stored_allocations_instead_of_starting_over(deployment, batch_csv):
    pipeline = TriagePipeline(deployment)
    first = pipeline.triage(read_batch(batch_csv, deployment.taxonomy))
    second = pipeline.triage(read_batch(batch_csv, deployment.taxonomy))
    assert second.reused == 120
    assert second.by_queue == first.by_queue
    assert (second.allocated, second.manual_triage) == (first.allocated, first.manual_triage)


def test_a_retried_batch_finds_its_own_records_instead_of_multiplying_them(deployment, cfpb_rows, tmp_path):
    rows = [dict(r) for r in sample(cfpb_rows, 12, salt="retry")]
    rows[4]["Date received"] = "yesterday"
    path = write_csv(tmp_path / "retry.csv", rows)
    reports = [TriagePipeline(deployment).triage(read_batch(path, deployment.taxonomy)) for _ in range(3)]
    assert len({r.batch_id for r in reports}) == 1  # the id is the batch's content, not the time it ran
    assert len(deployment.store.list_rejections(reports[0].batch_id)) == 1
    batch = deployment.store.get_batch(reports[0].batch_id)  # every run's record, none written over
    assert batch.counts["reused"] == 0 and [run["counts"]["reused"] for run in batch.reruns] == [11, 11]
    other = write_csv(tmp_path / "other.csv", rows[:6])
    assert TriagePipeline(deployment).triage(read_batch(other, deployment.taxonomy)).batch_id != reports[0].batch_id


def test_a_resend_with_different_content_is_rejected_and_kept(deployment, cfpb_rows, tmp_path):
    rows = sample(cfpb_rows, 3, salt="resend")
    pipeline = TriagePipeline(deployment)
    pipeline.triage(read_batch(write_csv(tmp_path / "a.csv", rows), deployment.taxonomy))
    changed = [dict(rows[0], **{"Consumer complaint narrative": "Entirely new text about my mortgage."})]
    report = pipeline.triage(read_batch(write_csv(tmp_path / "b.csv", changed), deployment.taxonomy))
    assert (report.rows, report.rejected) == (1, 1)
    [kept] = deployment.store.list_rejections(report.batch_id)
    assert kept.reason_code == "conflicting_resend" and kept.complaint_id == rows[0]["Complaint ID"]
    assert "Entirely new text about my mortgage." in kept.record  # the resend itself is kept, redacted
    assert "batch" not in kept.reason  # the batch that stored it may have stopped before it was recorded


def test_every_conflicting_resend_of_a_batch_is_kept(deployment, cfpb_rows, tmp_path):
    rows = sample(cfpb_rows, 3, salt="resends")
    pipeline = TriagePipeline(deployment)
    pipeline.triage(read_batch(write_csv(tmp_path / "a.csv", rows), deployment.taxonomy))
    changed = [dict(row, **{"Consumer complaint narrative": f"A different text, number {i}."})
               for i, row in enumerate(rows)]
    report = pipeline.triage(read_batch(write_csv(tmp_path / "b.csv", changed), deployment.taxonomy))
    kept = deployment.store.list_rejections(report.batch_id)
    assert report.rejected == 3 and [r.row_number for r in kept] == [1, 2, 3]
    assert [r.complaint_id for r in kept] == [row["Complaint ID"] for row in rows]
    assert all(deployment.store.get_complaint(r["Complaint ID"]).narrative == r["Consumer complaint narrative"]
               for r in rows)  # the stored complaints stand


def interrupted(deployment, path):
    """Triage ``path`` and die as a killed run does: after its complaints are stored, before any is allocated."""
    def killed(allocation):
        raise SystemExit(137)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(deployment.store, "put_allocation", killed)
        with pytest.raises(SystemExit):
            TriagePipeline(deployment).triage(read_batch(path, deployment.taxonomy))


def test_a_resend_finishes_what_an_interrupted_run_stored_its_new_content_standing(deployment, cfpb_rows, tmp_path):
    rows = sample(cfpb_rows, 3, salt="interrupted")
    ids = [row["Complaint ID"] for row in rows]
    interrupted(deployment, write_csv(tmp_path / "a.csv", rows))
    assert all(deployment.store.get_complaint(i) and deployment.store.get_allocation(i) is None for i in ids)
    amended = [dict(rows[0], **{"Consumer complaint narrative": "An amended text about my mortgage."}), *rows[1:]]
    report = TriagePipeline(deployment).triage(read_batch(write_csv(tmp_path / "b.csv", amended), deployment.taxonomy))
    assert (report.rows, report.rejected, report.reused, report.allocated + report.manual_triage) == (3, 0, 0, 3)
    assert all(deployment.store.get_allocation(i).batch_id == report.batch_id for i in ids)
    stored = deployment.store.get_complaint(ids[0])
    assert (stored.narrative, stored.batch_id) == ("An amended text about my mortgage.", report.batch_id)


def test_bad_rows_are_stored_with_their_reasons_and_the_counts_add_up(deployment, cfpb_rows, tmp_path):
    rows = [dict(r) for r in sample(cfpb_rows, 10, salt="bad")]
    rows[0]["Consumer complaint narrative"] = ""
    rows[1]["Product"] = "Timeshare"
    rows[2]["Consumer complaint narrative"] += " my SSN is 123-45-6789"
    report = TriagePipeline(deployment).triage(read_batch(write_csv(tmp_path / "bad.csv", rows), deployment.taxonomy))
    assert report.rows == 10 and report.rejected == 2
    assert report.allocated + report.manual_triage == 8
    assert report.rejected_reasons == Counter({"empty_narrative": 1, "unknown_product": 1})
    assert [r.row_number for r in deployment.store.list_rejections(report.batch_id)] == [1, 2]
    stored = deployment.store.get_complaint(rows[2]["Complaint ID"])
    assert "123-45-6789" not in stored.narrative and "[SSN]" in stored.narrative


def test_a_failing_model_sends_its_complaints_to_manual_triage(deployment, batch_csv):
    current = deployment.store.get_strategy("issue")
    deployment.store.put_strategy(replace(current, champion="0000000000000000"))  # not in the registry
    report = TriagePipeline(deployment).triage(read_batch(batch_csv, deployment.taxonomy))
    flagged = report.by_queue.get("Vulnerable customers", 0)
    assert report.manual_triage == 120 - flagged and report.allocated == flagged
    for allocation in (p.allocation for p in deployment.store.list_queue(MANUAL_TRIAGE, limit=200)):
        assert any(reason.startswith("issue model failed") for reason in allocation.reasons)
        assert allocation.predictions["issue"].error == "RegistryError: model issue@0000000000000000 is not in the registry"


def test_a_models_failure_reason_names_its_version_never_the_servers_path(deployment, home, batch_csv, tmp_path):
    """Analysts read the reason: a version that loads no model is named by its task and version."""
    champion = deployment.store.get_strategy("issue")
    unknown = shutil.copytree(deployment.registry.fetch("issue", champion.champion), tmp_path / "unknown-kind")
    meta = json.loads((unknown / "model.json").read_text())
    (unknown / "model.json").write_text(json.dumps({**meta, "kind": "mystery"}))
    version = deployment.registry.register("issue", unknown)
    deployment.store.put_strategy(replace(champion, champion=version))
    report = TriagePipeline(deployment).triage(read_batch(batch_csv, deployment.taxonomy))
    failed = [p.allocation for p in deployment.store.list_queue(MANUAL_TRIAGE, limit=200)]
    assert len(failed) == report.manual_triage > 0
    for allocation in failed:
        assert allocation.predictions["issue"].error.startswith(f"ValueError: issue@{version}: unknown model kind")
        assert not any(str(home) in text for text in (allocation.predictions["issue"].error, *allocation.reasons))


def test_a_batch_sent_to_manual_triage_keeps_earlier_allocations_and_records_the_reason(deployment, batch_csv):
    batch = read_batch(batch_csv, deployment.taxonomy)
    first = replace(batch, complaints=batch.complaints[:20])
    TriagePipeline(deployment).triage(first)
    report = TriagePipeline(deployment).triage(batch, manual_triage_reason="triage task failed: States.Timeout")
    assert report.rows == 120 == report.allocated + report.manual_triage + report.rejected and report.reused == 20
    earlier = {c.complaint_id for c in first.complaints}
    for complaint in batch.complaints:
        allocation = deployment.store.get_allocation(complaint.complaint_id)
        if complaint.complaint_id in earlier:
            assert not any("States.Timeout" in r for r in allocation.reasons)  # the first allocation stands
            continue
        assert (allocation.queue, allocation.status) == (MANUAL_TRIAGE, NEEDS_TRIAGE)
        assert all(p.error == "triage task failed: States.Timeout" for p in allocation.predictions.values())
        assert allocation.model_versions == {t: v["champion"] for t, v in report.model_versions.items()}


def test_no_champion_stops_before_anything_is_stored(tmp_path, batch_csv):
    empty = Deployment.embedded(Settings.from_env(home=tmp_path / "empty"))
    with pytest.raises(NoChampionError, match="complaints train"):
        TriagePipeline(empty).triage(read_batch(batch_csv, empty.taxonomy))
    assert empty.store.list_queue(MANUAL_TRIAGE) == []


def test_canary_shadow_and_rollback_choose_the_serving_version(deployment, batch_csv, sample_csv):
    from model.baseline import BaselineConfig
    from model.train import TrainingArguments, train

    champion = deployment.store.get_strategy("team").champion
    [challenger] = train(deployment, TrainingArguments(data=sample_csv, tasks=["team"], champion="never",
                                                       baseline=BaselineConfig(max_iter=100, c=1.0)))
    assert challenger.version != champion and not challenger.champion
    strategy.start_canary(deployment, "team", challenger.version, 30, "test")
    canary = TriagePipeline(deployment).triage(read_batch(batch_csv, deployment.taxonomy))
    served = Counter(deployment.store.get_allocation(c.complaint_id).predictions["team"].served_by
                     for c in read_batch(batch_csv, deployment.taxonomy).complaints)
    assert 15 <= served["challenger"] <= 60 and served["champion"] == 120 - served["challenger"]
    assert canary.model_versions["team"] == {"mode": "canary", "champion": champion, "challenger": challenger.version}

    strategy.start_shadow(deployment, "team", challenger.version, "test")
    rows = read_batch(sample_csv, deployment.taxonomy).complaints[:5]
    fresh = replace(read_batch(sample_csv, deployment.taxonomy), complaints=[replace(c, complaint_id=f"s{i}") for i, c in enumerate(rows)], rejections=[])
    TriagePipeline(deployment).triage(fresh)
    shadowed = deployment.store.get_allocation("s0").predictions["team"]
    assert shadowed.model_version == champion and shadowed.shadow["model_version"] == challenger.version

    strategy.promote(deployment, "team", challenger.version, "test")
    rolled = strategy.rollback(deployment, "team", "test")
    assert rolled.champion == champion and rolled.mode == "champion_only"
    assert deployment.store.get_strategy("team") == rolled and rolled.challenger is None
    assert [e.action for e in deployment.store.list_audit(limit=4)] == ["rollback", "promote", "shadow", "canary"]


def test_a_fourth_task_plugs_in_through_config_alone(home, cfpb_rows, sample_csv, tmp_path):
    """No pipeline code changes: a new task in the YAML is trained, predicted, stored and evaluated."""
    from model.baseline import BaselineConfig
    from model.train import TrainingArguments, train

    config = yaml.safe_load((CONFIG_DIR / "tasks.yaml").read_text())
    config["tasks"]["sub_product"] = {"label": "column:Sub-product", "model": "tfidf-linear", "role": "annotate",
                                      "threshold": 0.0}
    tasks_file = tmp_path / "tasks.yaml"
    tasks_file.write_text(yaml.safe_dump(config))
    deployment = Deployment.embedded(Settings.from_env(home=home, tasks_file=tasks_file))
    [result] = train(deployment, TrainingArguments(data=sample_csv, tasks=["sub_product"],
                                                   baseline=BaselineConfig(max_iter=100)))
    assert result.champion
    batch_path = write_csv(tmp_path / "batch.csv", sample(cfpb_rows, 20, salt="fourth"))
    report = TriagePipeline(deployment).triage(read_batch(batch_path, deployment.taxonomy))
    assert report.model_versions["sub_product"]["champion"] == result.version
    allocation = deployment.store.get_allocation(sample(cfpb_rows, 1, salt="fourth")[0]["Complaint ID"])
    assert allocation.model_versions["sub_product"] == result.version
    assert allocation.predictions["sub_product"].label
