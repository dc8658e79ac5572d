"""Faults injected into the real pipeline, the real SQLite store and the real local registry with trained models:
a store failing mid-chunk, a model that cannot load, the registry unreachable, a chunk that failed past its
retries. Each ends with every row allocated, in manual triage or rejected with its reason, counted in the
store; a replay (or, once the fault is fixed, a retriage) completes the rest, and nothing is stored twice."""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from complaints.deployment import Deployment
from complaints.feedback import reallocate
from complaints.intake import IntakeBatch, read_batch
from complaints.intake.chunks import split
from complaints.pipeline import TriagePipeline
from complaints.records import ALLOCATED, MANUAL_TRIAGE, NEEDS_TRIAGE, Allocation
from conftest import last_json, sample, write_csv


class StoreFailingAfter:
    """The real store, except that ``put_allocation`` raises once ``writes`` allocations are written."""

    def __init__(self, store, writes: int):
        self._store, self.left = store, writes

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    def put_allocation(self, allocation: Allocation) -> bool:
        if self.left == 0:
            raise ConnectionError("store unavailable (injected)")
        self.left -= 1
        return self._store.put_allocation(allocation)


class UnreachableRegistry:
    """The real registry, except that no model can be fetched from it."""

    def __init__(self, registry):
        self._registry = registry

    def __getattr__(self, name: str):
        return getattr(self._registry, name)

    def fetch(self, task: str, version: str) -> Path:
        raise ConnectionError("registry unreachable (injected)")


def batch_with_bad_rows(cfpb_rows, tmp_path, n: int, salt: str) -> Path:
    rows = [dict(r) for r in sample(cfpb_rows, n, salt=salt)]
    rows[1]["Consumer complaint narrative"] = ""
    rows[-1]["Date received"] = "yesterday"
    return write_csv(tmp_path / f"{salt}.csv", rows)


def in_store(deployment: Deployment, batch: IntakeBatch, batch_id: str) -> Counter:
    """How the store holds every row of ``batch``: by allocation status, rejected, or missing."""
    held = Counter(getattr(deployment.store.get_allocation(c.complaint_id), "status", "missing")
                   for c in batch.complaints)
    held["rejected"] = len(deployment.store.list_rejections(batch_id))
    return held


def every_allocation(deployment: Deployment) -> list[Allocation]:
    queues = {*deployment.taxonomy.teams, MANUAL_TRIAGE, *(t.queue for t in deployment.tasks if t.queue)}
    return [p.allocation for queue in queues for p in deployment.store.list_queue(queue, limit=None)]


def assert_accounted(deployment: Deployment, batch: IntakeBatch, batch_id: str) -> Counter:
    held = in_store(deployment, batch, batch_id)
    assert held["missing"] == 0 and held[ALLOCATED] + held[NEEDS_TRIAGE] + held["rejected"] == batch.rows, held
    ids = [a.complaint_id for a in every_allocation(deployment)]
    assert len(ids) == len(set(ids))  # one allocation per complaint, never two
    return held


def assert_healed(deployment: Deployment, failed: dict[str, Allocation], run_id: str) -> None:
    """Every complaint a fault sent to manual triage now has a fault-free allocation from the retriage run,
    and its first allocation, whole, in its history."""
    for complaint_id, first in failed.items():
        current = deployment.store.get_allocation(complaint_id)
        assert deployment.store.list_allocation_history(complaint_id) == [first]
        assert current.batch_id == run_id and not any(p.error for p in current.predictions.values())
    batch = deployment.store.get_batch(run_id)  # a retriage of the same candidates again is a later run of it
    assert [batch.counts, *(run["counts"] for run in batch.reruns)][-1]["retriaged"] == len(failed)


def test_a_store_failing_mid_chunk_fails_the_batch_loudly_and_a_replay_completes_it(deployment, cfpb_rows, tmp_path):
    path = batch_with_bad_rows(cfpb_rows, tmp_path, 60, "store-fault")
    batch = read_batch(path, deployment.taxonomy)
    failing = replace(deployment, store=StoreFailingAfter(deployment.store, 20))
    with pytest.raises(ConnectionError, match="store unavailable"):
        TriagePipeline(failing).triage(split(batch, 16))  # the second chunk fails part-way
    held = in_store(deployment, batch, "none")
    assert held[ALLOCATED] + held[NEEDS_TRIAGE] == 20 and held["missing"] == 38
    report = TriagePipeline(deployment).triage(split(read_batch(path, deployment.taxonomy), 16))
    assert report.reused == 20 and report.rejected == 2
    assert report.rows == 60 == report.allocated + report.manual_triage + report.rejected
    held = assert_accounted(deployment, batch, report.batch_id)
    assert (held[ALLOCATED], held[NEEDS_TRIAGE], held["rejected"]) == (report.allocated, report.manual_triage, 2)
    again = TriagePipeline(deployment).triage(read_batch(path, deployment.taxonomy))
    assert again.reused == 58 and assert_accounted(deployment, batch, report.batch_id) == held


def test_a_retriage_finishes_what_a_stopped_run_stored_and_never_allocated(deployment, cfpb_rows, tmp_path):
    batch = read_batch(batch_with_bad_rows(cfpb_rows, tmp_path, 40, "stopped"), deployment.taxonomy)
    failing = replace(deployment, store=StoreFailingAfter(deployment.store, 20))
    with pytest.raises(ConnectionError, match="store unavailable"):
        TriagePipeline(failing).triage(split(batch, 16))  # the second chunk is stored, then fails part-way
    unfinished = [c.complaint_id for c in batch.complaints if deployment.store.get_complaint(c.complaint_id)
                  and not deployment.store.get_allocation(c.complaint_id)]
    assert len(unfinished) == 12  # two chunks of 16 stored, 20 allocated
    dry = TriagePipeline(deployment).retriage(dry_run=True)
    assert dry.unfinished == 12 and not any(deployment.store.get_allocation(i) for i in unfinished)
    report = TriagePipeline(deployment).retriage()
    assert report.unfinished == 12 and report.allocated + report.manual_triage == 12
    assert all(deployment.store.get_allocation(i).batch_id == report.batch_id for i in unfinished)
    assert deployment.store.get_batch(report.batch_id).counts["unfinished"] == 12
    assert TriagePipeline(deployment).retriage().unfinished == 0  # finished: a second retriage finds none


def test_a_model_that_cannot_load_sends_complaints_to_manual_triage_until_a_retriage(deployment, cfpb_rows, tmp_path,
                                                                                     cli):
    good = deployment.store.get_strategy("issue")
    broken = tmp_path / "broken-issue-model"
    shutil.copytree(deployment.registry.fetch("issue", good.champion), broken)
    (broken / "weights.npz").write_bytes(b"not a numpy archive")
    unloadable = deployment.registry.register("issue", broken)
    serving = deployment.store.put_strategy(replace(good, champion=unloadable))

    path = batch_with_bad_rows(cfpb_rows, tmp_path, 40, "model-fault")
    batch = read_batch(path, deployment.taxonomy)
    report = TriagePipeline(deployment).triage(batch)
    flagged = report.by_queue.get("Vulnerable customers", 0)
    assert (report.manual_triage, report.allocated, report.rejected) == (38 - flagged, flagged, 2)
    assert_accounted(deployment, batch, report.batch_id)
    failed = {c.complaint_id: deployment.store.get_allocation(c.complaint_id) for c in batch.complaints}
    failed = {cid: a for cid, a in failed.items() if a.queue == MANUAL_TRIAGE}
    for allocation in failed.values():
        error = allocation.predictions["issue"].error
        assert error and f"issue model failed: {error}" in allocation.reasons
        assert allocation.model_versions["issue"] == unloadable

    code, out, _ = cli("retriage", "--batch", report.batch_id, "--json")  # not fixed yet: nothing changes
    assert code == 0 and last_json(out)["skipped_reasons"] == {"still_failing": len(failed)}
    assert all(deployment.store.list_allocation_history(cid) == [] for cid in failed)

    deployment.store.put_strategy(replace(serving, champion=good.champion))  # the fix: the good version serves again
    code, out, _ = cli("retriage", "--batch", report.batch_id, "--json")
    healed = last_json(out)
    assert code == 0 and healed["retriaged"] == len(failed) == healed["examined"] and healed["skipped"] == 0
    assert_healed(deployment, failed, healed["batch_id"])
    held = assert_accounted(deployment, batch, report.batch_id)
    assert held[ALLOCATED] == flagged + healed["allocated"] and held[NEEDS_TRIAGE] == healed["manual_triage"]
    complaint_id = next(iter(failed))
    shown = last_json(cli("show", complaint_id, "--json")[1])
    assert shown["allocation_history"][0]["predictions"]["issue"]["error"] == failed[complaint_id].predictions["issue"].error
    code, out, _ = cli("show", complaint_id)
    assert code == 0 and "superseded by a retriage" in out and report.batch_id in out
    chain = last_json(cli("audit", complaint_id, "--json")[1])
    assert chain["allocation"]["batch"]["source"].startswith("retriage") and chain["complete"]
    assert [a["reasons"] for a in chain["superseded"]] == [failed[complaint_id].reasons]


def test_an_unreachable_registry_sends_complaints_to_manual_triage_and_a_retriage_heals_them(deployment, cfpb_rows,
                                                                                             tmp_path):
    earlier = TriagePipeline(deployment).triage(read_batch(write_csv(
        tmp_path / "earlier.csv", sample(cfpb_rows, 30, salt="earlier")), deployment.taxonomy))
    low_confidence = earlier.manual_triage  # manual triage by design: never retriaged
    assert low_confidence > 0

    path = batch_with_bad_rows(cfpb_rows, tmp_path, 30, "registry-fault")
    batch = read_batch(path, deployment.taxonomy)
    offline = replace(deployment, registry=UnreachableRegistry(deployment.registry))
    report = TriagePipeline(offline).triage(batch)
    assert (report.manual_triage, report.allocated, report.rejected) == (28, 0, 2)
    assert_accounted(deployment, batch, report.batch_id)
    failed = {c.complaint_id: deployment.store.get_allocation(c.complaint_id) for c in batch.complaints}
    assert all(p.error == "ConnectionError: registry unreachable (injected)"
               for a in failed.values() for p in a.predictions.values())
    corrected = batch.complaints[0].complaint_id
    reallocate(deployment, corrected, "team", "Mortgage", "ana")  # an analyst's decision stands
    del failed[corrected]

    dry = TriagePipeline(deployment).retriage(dry_run=True)
    assert all(deployment.store.get_allocation(cid) == a for cid, a in failed.items())
    assert deployment.store.get_batch(dry.batch_id) is None
    run = TriagePipeline(deployment).retriage()
    assert (run.allocated, run.manual_triage) == (dry.allocated, dry.manual_triage)
    assert run.allocated + run.manual_triage == 27
    assert run.skipped == Counter(low_confidence=low_confidence, corrected_by_analyst=1)
    assert run.rows == low_confidence + 1 + 27
    assert_healed(deployment, failed, run.batch_id)
    assert deployment.store.list_allocation_history(corrected) == []
    assert_accounted(deployment, batch, report.batch_id)

    again = TriagePipeline(deployment).retriage()  # nothing left to heal: a no-op
    assert again.allocated + again.manual_triage == 0
    assert again.skipped == Counter(low_confidence=low_confidence + run.manual_triage, corrected_by_analyst=1)
    assert all(deployment.store.list_allocation_history(cid) == [a] for cid, a in failed.items())


def test_a_chunk_that_failed_past_its_retries_is_retriaged_once_the_fault_is_fixed(deployment, cfpb_rows, tmp_path):
    path = batch_with_bad_rows(cfpb_rows, tmp_path, 20, "catch-path")
    batch = read_batch(path, deployment.taxonomy)
    reason = "triage task failed after its retries: States.Timeout"
    report = TriagePipeline(deployment).triage(batch, manual_triage_reason=reason)
    assert (report.manual_triage, report.rejected) == (18, 2)
    failed = {c.complaint_id: deployment.store.get_allocation(c.complaint_id) for c in batch.complaints}
    since = min(a.allocated_at for a in failed.values())
    run = TriagePipeline(deployment).retriage(batch_id=report.batch_id, since=since)
    assert run.rows == 18 == run.allocated + run.manual_triage
    assert_healed(deployment, failed, run.batch_id)
    assert_accounted(deployment, batch, report.batch_id)
    later = TriagePipeline(deployment).retriage(since="9999-01-01")
    assert later.rows == 0
