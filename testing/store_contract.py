"""The store contract, written once: every TriageStore backend must pass it (see test_store_*.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from complaints.records import (
    Allocation, ApiUser, AuditEvent, Explanation, Feedback, GateDecision, ModelInfo, ModelStrategy, Placement,
    RejectedRow, ReleaseRecord, StoredComplaint, TaskPrediction, TriageBatch,
)
from complaints.store import IdempotencyConflict, StaleWriteError, TriageStore
from complaints.store.base import CONFLICTING_RESEND


def complaint(complaint_id: str = "1001", narrative: str = "They charged me twice.") -> StoredComplaint:
    return StoredComplaint(complaint_id, "2024-05-01", narrative, {"Product": "Credit card", "State": "TX"},
                           "hash-" + narrative, "batch-1", "2024-05-02T10:00:00.000+00:00")


def allocation(complaint_id: str = "1001", queue: str = "Credit card", at: str = "2024-05-02T10:00:01.000+00:00"
               ) -> Allocation:
    prediction = TaskPrediction("team", queue, 0.91, "v-team", "champion",
                                shadow={"model_version": "v-next", "label": queue, "score": 0.8, "error": ""})
    return Allocation(complaint_id, queue, "allocated", [], {"team": prediction}, {"team": "v-team"},
                      "2026.11.1", "batch-1", at)


INFO = ModelInfo("team", "abc", "tfidf-linear", "2024-01-01T00:00:00+00:00", {"accuracy": 0.8}, "sha", "2026.11.1",
                 "team@abc")
FEEDBACK = Feedback("1", "team", "Mortgage", "Credit card", "ana", at="2024-05-03T00:00:00+00:00",
                    idempotency_key="req-1")
EVENT = AuditEvent("e1", "2024-01-01T00:00:00+00:00", "ci", "promote", "team", {"v": 1})
REJECTION = RejectedRow("b1", 3, "empty_narrative", "empty", "", "{}", 2)
BATCH = TriageBatch("b1", "file.csv", "sha", "t0", "t1", {"rows": 2}, {"team": {"champion": "v1"}})
GATE = GateDecision("team", "v2", "v1", "promote", ["macro F1 up, CI above 0"],
                    {"challenger": {"macro_f1": 0.8123456789012345, "ci": [0.79, 0.83]}, "p_value": 0.012},
                    "2024-06-01T00:00:00+00:00", "sha-report", "ci")
RELEASE = ReleaseRecord("prod", "sha-manifest", "8c47b32", "releases/prod.yaml",
                        {"team": {"champion": "v2", "challenger": None, "mode": "champion", "canary_percent": 0,
                                  "threshold": 0.5}}, "2024-06-02T00:00:00+00:00", "ci", "https://ci.example/runs/1")
USER = ApiUser("ana", "analyst", "Credit card", "sha-token", "2024-06-03T00:00:00+00:00", "lead")
EXPLANATION = Explanation("1001", "team", "v-team", "tfidf-linear", "LinearExplainer", {"masker": "independent"},
                          {"label": "Credit card", "score": 0.91, "tokens": [{"text": "card", "attribution": 0.4123456789}]},
                          "ana", "2024-06-04T00:00:00+00:00")

# Write-once tables: (the write, every record stored near the key, a record, another record under its key).
WRITE_ONCE = {
    "complaint": ("put_complaint", lambda store: [store.get_complaint("1001")], complaint(),
                  complaint(narrative="a different text")),
    "allocation": ("put_allocation",
                   lambda store: [p.allocation for q in ("Credit card", "Mortgage") for p in store.list_queue(q)],
                   allocation(), allocation(queue="Mortgage")),
    "model_info": ("put_model_info", lambda store: [store.get_model_info("team", "abc")], INFO,
                   replace(INFO, metrics={"accuracy": 0.99})),
    "gate_decision": ("put_gate_decision", lambda store: store.list_gate_decisions("team"), GATE,
                      replace(GATE, decision="reject", decided_at="2024-06-02T00:00:00+00:00")),
    "release": ("put_release", lambda store: store.list_releases("prod"), RELEASE,
                replace(RELEASE, git_commit="d30befe", actor="ana")),
    "explanation": ("put_explanation", lambda store: store.list_explanations("1001"), EXPLANATION,
                    replace(EXPLANATION, requested_by="bo", payload={"label": "Mortgage"})),
}
# Tables written once per idempotency key: (the write, every record stored near the key, a record, its replay as a
# client resends it later, another request under its key).
IDEMPOTENT = {
    "feedback": ("import_feedback", lambda store: store.list_feedback(), FEEDBACK,
                 replace(FEEDBACK, at="2024-05-04T00:00:00+00:00", previous_label="Mortgage"),
                 replace(FEEDBACK, label="Student loan")),
    "audit": ("append_audit", lambda store: [e for e in store.list_audit() if e.action != CONFLICTING_RESEND], EVENT,
              replace(EVENT, at="2024-01-02T00:00:00+00:00"), replace(EVENT, action="rollback")),
}
# Tables the last write to a key wins: (the write, every record stored near the key, a record, another).
LAST_WRITE_WINS = {
    "rejection": ("put_rejection", lambda store: store.list_rejections("b1"), REJECTION,
                  replace(REJECTION, reason="still empty")),
    "user": ("put_user", lambda store: store.list_users(), USER, replace(USER, token_sha256="sha-rotated")),
}


class StoreContract:
    """Subclasses provide a fresh, empty ``store`` fixture."""

    def test_complaints_are_written_once_and_read_back_whole(self, store: TriageStore):
        assert store.get_complaint("1001") is None
        assert store.put_complaint(complaint()) is True
        assert store.put_complaint(complaint(narrative="a different text")) is False
        assert store.get_complaint("1001") == complaint()

    def test_a_complaint_is_written_again_only_while_it_has_no_allocation(self, store: TriageStore):
        amended = complaint(narrative="an amended text")
        assert store.replace_unallocated_complaint(amended) is False  # none stored: nothing written
        assert store.get_complaint("1001") is None
        store.put_complaint(complaint())
        assert store.replace_unallocated_complaint(amended) is True  # an unfinished write: the resend stands
        assert store.get_complaint("1001") == amended
        store.put_allocation(allocation())
        assert store.replace_unallocated_complaint(complaint()) is False  # allocated: the stored complaint stands
        assert store.get_complaint("1001") == amended

    def test_the_complaints_stored_with_no_allocation_are_listed_by_id(self, store: TriageStore):
        assert store.list_unallocated() == []
        for complaint_id in ("3", "1", "2"):
            store.put_complaint(complaint(complaint_id))
        store.put_allocation(allocation("2"))
        store.put_allocation(allocation("4"))  # an allocation without its complaint lists nothing
        assert store.list_unallocated() == [complaint("1"), complaint("3")]

    def test_allocations_are_written_once_with_their_predictions(self, store: TriageStore):
        assert store.put_allocation(allocation()) is True
        assert store.put_allocation(allocation(queue="Mortgage")) is False
        stored = store.get_allocation("1001")
        assert stored == allocation()
        assert stored.predictions["team"].shadow["model_version"] == "v-next"
        assert store.get_allocation("missing") is None

    def test_queues_list_their_newest_allocations_first(self, store: TriageStore):
        store.put_allocation(allocation("1", "Mortgage", "2024-05-02T10:00:00.000+00:00"))
        store.put_allocation(allocation("2", "Mortgage", "2024-05-02T11:00:00.000+00:00"))
        store.put_allocation(allocation("3", "Credit card"))
        assert [p.allocation.complaint_id for p in store.list_queue("Mortgage")] == ["2", "1"]
        assert [p.allocation.complaint_id for p in store.list_queue("Mortgage", limit=1)] == ["2"]
        assert [p.allocation.complaint_id for p in store.list_queue("Mortgage", 1, offset=1)] == ["1"]
        assert [p.allocation.complaint_id for p in store.list_queue("Mortgage", oldest_first=True)] == ["1", "2"]
        assert store.list_queue("Student loan") == [] and store.count_queue("Student loan") == 0
        assert (store.count_queue("Mortgage"), store.count_queue("Credit card")) == (2, 1)
        assert store.get_placement("2") == Placement(allocation("2", "Mortgage", "2024-05-02T11:00:00.000+00:00"),
                                                     "Mortgage", 0)
        assert store.get_placement("missing") is None

    def test_model_info_is_immutable(self, store: TriageStore):
        assert store.put_model_info(INFO) is True
        assert store.put_model_info(replace(INFO, metrics={"accuracy": 0.99})) is False
        assert store.get_model_info("team", "abc") == INFO
        assert store.get_model_info("team", "zzz") is None

    def test_strategy_writes_are_conditional_on_the_revision_read(self, store: TriageStore):
        assert store.get_strategy("team") is None
        first = store.put_strategy(ModelStrategy(task="team", champion="v1"))
        assert first.revision == 1 and store.get_strategy("team") == first
        second = store.put_strategy(replace(first, champion="v2", previous_champion="v1"))
        assert second.revision == 2
        with pytest.raises(StaleWriteError):
            store.put_strategy(replace(first, champion="v3"))  # read revision 1, but 2 is stored
        with pytest.raises(StaleWriteError):
            store.put_strategy(ModelStrategy(task="team", champion="v4"))  # creating what exists
        assert store.get_strategy("team").champion == "v2"

    def test_feedback_is_appended_and_listed_oldest_first(self, store: TriageStore):
        assert store.import_feedback(FEEDBACK) is True
        assert store.import_feedback(Feedback("1", "issue", "Fees or interest", "Other", "ana", at=FEEDBACK.at,
                                              idempotency_key="req-2")) is True
        assert store.import_feedback(Feedback("2", "team", "Debt collection", "Mortgage", "bo",
                                              at="2024-05-01T00:00:00+00:00", idempotency_key="req-1")) is True
        assert [f.complaint_id for f in store.list_feedback()] == ["2", "1", "1"]
        assert {f.task for f in store.list_feedback("1")} == {"team", "issue"}
        assert [f.idempotency_key for f in store.list_feedback("1")] == ["req-1", "req-2"]

    def test_a_correction_moves_its_complaint_in_the_same_write_and_only_from_the_revision_read(self, store):
        store.put_allocation(allocation("1", "Credit card"))
        first = replace(FEEDBACK, revision=1)
        assert store.add_correction(first, "Mortgage") is True
        assert store.get_placement("1").queue == "Mortgage" and store.get_placement("1").revision == 1
        assert [p.allocation.complaint_id for p in store.list_queue("Mortgage")] == ["1"]
        assert store.list_queue("Credit card") == []
        rival = replace(FEEDBACK, label="Student loan", idempotency_key="req-rival", revision=1)  # read revision 0 too
        with pytest.raises(StaleWriteError):
            store.add_correction(rival, "Student loan")
        assert store.add_correction(first, "Mortgage") is False  # a replay: recognised though the revision moved
        with pytest.raises(IdempotencyConflict):
            store.add_correction(replace(first, label="Student loan", revision=2), "Student loan")
        assert store.list_feedback("1") == [first] and store.get_placement("1").revision == 1  # nothing else written
        second = replace(FEEDBACK, label="Student loan", previous_label="Mortgage", idempotency_key="req-3", revision=2)
        assert store.add_correction(second, "Student loan") is True
        assert [f.revision for f in store.list_feedback("1")] == [1, 2]
        assert store.count_queue("Student loan") == 1 and store.count_queue("Mortgage") == 0

    def test_a_correction_of_a_complaint_never_allocated_writes_nothing(self, store: TriageStore):
        with pytest.raises(StaleWriteError):
            store.add_correction(replace(FEEDBACK, revision=1), "Mortgage")
        assert store.list_feedback() == []
        with pytest.raises(ValueError, match="revision"):
            store.add_correction(FEEDBACK, "Mortgage")  # revision 0: no correction makes it

    def test_an_analysts_corrections_are_counted_since_a_time(self, store: TriageStore):
        for n, at in enumerate(("2024-05-01T00:00:00+00:00", "2024-05-02T00:00:00+00:00", "2024-05-03T00:00:00+00:00")):
            store.import_feedback(replace(FEEDBACK, complaint_id=str(n), at=at))
        store.import_feedback(replace(FEEDBACK, analyst="bo", at="2024-05-03T00:00:00+00:00", idempotency_key="req-bo"))
        assert store.count_corrections("ana", "2024-05-02T00:00:00+00:00") == 2
        assert store.count_corrections("ana", "2024-01-01") == 3 and store.count_corrections("cy", "2024-01-01") == 0

    def test_a_corrected_allocation_is_not_superseded(self, store: TriageStore):
        first = allocation(queue="Manual triage")
        store.put_allocation(first)
        store.add_correction(replace(FEEDBACK, complaint_id="1001", revision=1), "Mortgage")
        assert store.supersede_allocation(allocation(queue="Credit card", at="2024-05-03T09:00:00.000+00:00"),
                                          first) is False
        assert store.get_placement("1001") == Placement(first, "Mortgage", 1)

    def test_an_event_is_recognised_as_stored_whatever_its_details_become_in_json(self, store: TriageStore):
        event = replace(EVENT, details={"ci95": (0.79, 0.83), "metrics": {"n": 3}})
        assert store.append_audit(event) is True
        assert store.append_audit(replace(event, at="2024-01-05T00:00:00+00:00")) is False
        assert [e.details["ci95"] for e in store.list_audit()] == [[0.79, 0.83]]

    def test_feedback_without_an_idempotency_key_is_refused(self, store: TriageStore):
        with pytest.raises(ValueError, match="idempotency key"):
            store.import_feedback(replace(FEEDBACK, idempotency_key=""))
        with pytest.raises(ValueError, match="idempotency key"):
            store.add_correction(replace(FEEDBACK, idempotency_key="", revision=1), "Mortgage")
        assert store.list_feedback() == []

    def test_a_superseded_allocation_is_kept_in_the_history(self, store: TriageStore):
        first = allocation(queue="Manual triage")
        store.put_allocation(first)
        second = allocation(queue="Mortgage", at="2024-05-03T09:00:00.000+00:00")
        assert store.supersede_allocation(second, first) is True
        assert store.get_allocation("1001") == second and store.list_allocation_history("1001") == [first]
        assert store.list_queue("Manual triage") == [] and store.list_queue("Mortgage") == [Placement(second, "Mortgage")]
        assert store.supersede_allocation(second, first) is False  # a replay: the allocation read is gone
        third = allocation(queue="Credit card", at="2024-05-04T09:00:00.000+00:00")
        assert store.supersede_allocation(third, first) is False  # read before the second was written: stale
        assert store.get_allocation("1001") == second and store.list_allocation_history("1001") == [first]
        assert store.supersede_allocation(third, second) is True
        assert store.list_allocation_history("1001") == [first, second]
        assert store.list_allocation_history("2002") == []

    def test_only_a_later_allocation_of_the_same_complaint_supersedes(self, store: TriageStore):
        first = allocation()
        store.put_allocation(first)
        for other in (allocation(at="2024-05-01T00:00:00.000+00:00"), allocation("2002", at="2024-06-01T00:00:00.000+00:00")):
            with pytest.raises(ValueError, match="later allocation of the same complaint"):
                store.supersede_allocation(other, first)
        assert store.supersede_allocation(allocation("404", at="2024-06-01T00:00:00.000+00:00"), allocation("404")) is False
        assert store.get_allocation("1001") == first and store.get_allocation("404") is None  # never allocated

    def test_queues_list_every_allocation_since_a_time(self, store: TriageStore):
        for n in range(5):
            store.put_allocation(allocation(str(n), "Mortgage", f"2024-05-0{n + 1}T00:00:00.000+00:00"))
        assert [p.allocation.complaint_id for p in store.list_queue("Mortgage", limit=None)] == ["4", "3", "2", "1", "0"]
        assert [p.allocation.complaint_id for p in store.list_queue("Mortgage", None, since="2024-05-03")] == ["4", "3", "2"]

    def test_rejections_are_kept_per_batch_in_row_order(self, store: TriageStore):
        for row in (3, 1):
            store.put_rejection(RejectedRow("b1", row, "empty_narrative", "empty", "", "{}", 2))
        store.put_rejection(RejectedRow("b2", 1, "bad_date", "bad", "9", "{}", 2))
        assert [r.row_number for r in store.list_rejections("b1")] == [1, 3]
        assert store.list_rejections("b3") == []

    def test_batches_and_audit_history(self, store: TriageStore):
        store.put_batch(BATCH)
        assert store.get_batch("b1") == BATCH and store.get_batch("nope") is None
        assert store.append_audit(EVENT) is True
        assert store.append_audit(AuditEvent("e2", "2024-01-02T00:00:00+00:00", "ci", "rollback", "team", {})) is True
        assert [e.event_id for e in store.list_audit()] == ["e2", "e1"]
        assert [e.event_id for e in store.list_audit(limit=1)] == ["e2"]

    def test_every_run_of_a_batch_is_recorded_and_none_is_written_over(self, store: TriageStore):
        assert store.put_batch(BATCH) is True
        again = replace(BATCH, source="again.csv", started_at="t2", finished_at="t3", counts={"rows": 2, "rejected": 1})
        assert store.put_batch(again) is True
        assert store.put_batch(replace(again, finished_at="t4")) is False  # a replay of that run: the first write stands
        assert store.put_batch(replace(BATCH, finished_at="t9")) is False
        assert store.get_batch("b1") == replace(BATCH, reruns=[again.run()])
        assert store.get_batch("b1").reruns[0]["counts"] == {"rows": 2, "rejected": 1}
        assert store._write_batch(replace(BATCH, source="stale.csv"), BATCH) is False  # read before the rerun
        assert store.get_batch("b1") == replace(BATCH, reruns=[again.run()])

    def test_changes_of_what_serves_are_listed_apart_from_the_rest_of_the_audit_log(self, store: TriageStore):
        for n, action in enumerate(("promote", "reallocate", "register", "rollback", "reallocate")):
            store.append_audit(AuditEvent(f"e{n}", f"2024-01-0{n + 1}T00:00:00+00:00", "ci", action, "team", {}))
        assert [e.event_id for e in store.list_audit()] == ["e4", "e3", "e2", "e1", "e0"]
        assert [e.event_id for e in store.list_audit(limit=2)] == ["e4", "e3"]
        assert [e.event_id for e in store.list_audit(serving_only=True)] == ["e3", "e0"]
        assert [e.event_id for e in store.list_audit(1, serving_only=True)] == ["e3"]

    def test_gate_decisions_are_kept_per_challenger_and_champion_newest_first(self, store: TriageStore):
        earlier = replace(GATE, champion="v0", decision="reject", decided_at="2024-05-01T00:00:00+00:00")
        tied = replace(GATE, champion="v1-rc")  # decided at the same time: by challenger, then champion, descending
        later = replace(GATE, challenger="v3", champion="v2", decided_at="2024-07-01T00:00:00+00:00")
        longer = replace(GATE, challenger="v20", decided_at="2024-08-01T00:00:00+00:00")  # "v2" is its prefix
        for decision in (GATE, later, earlier, longer, tied, replace(GATE, task="issue")):
            assert store.put_gate_decision(decision) is True
        assert store.list_gate_decisions("team") == [longer, later, tied, GATE, earlier]
        assert store.list_gate_decisions("team", challenger="v2") == [tied, GATE, earlier]
        assert store.list_gate_decisions("team", challenger="v9") == []
        assert store.list_gate_decisions("vulnerability") == []

    def test_releases_are_listed_per_environment_newest_first(self, store: TriageStore):
        again = replace(RELEASE, applied_at="2024-06-03T00:00:00+00:00")  # the same manifest applied again
        newer = replace(RELEASE, release_id="sha-next", applied_at="2024-06-04T00:00:00+00:00")
        for record in (again, RELEASE, newer, replace(RELEASE, environment="staging")):
            assert store.put_release(record) is True
        assert store.list_releases("prod") == [newer, again, RELEASE]
        assert store.list_releases("prod", limit=2) == [newer, again]
        assert store.list_releases("dev") == []

    def test_users_are_found_by_name(self, store: TriageStore):
        store.put_user(USER)
        store.put_user(replace(USER, name="bo", role="auditor", team=None))
        assert store.get_user("ana") == USER and store.get_user("nobody") is None
        assert [u.name for u in store.list_users()] == ["ana", "bo"]

    def test_explanations_are_kept_per_complaint_task_and_version(self, store: TriageStore):
        older = replace(EXPLANATION, version="v-old")
        issue = replace(EXPLANATION, task="issue", version="v-issue")
        for explanation in (EXPLANATION, older, issue, replace(EXPLANATION, complaint_id="2002")):
            assert store.put_explanation(explanation) is True
        assert store.get_explanation("1001", "team", "v-team") == EXPLANATION
        assert store.get_explanation("1001", "team", "v-old") == older
        assert store.get_explanation("1001", "team", "v-none") is None
        assert store.list_explanations("1001") == [issue, older, EXPLANATION]  # by task, then version
        assert store.list_explanations("3003") == []

    # Replays: a retried write (a Lambda retry, a re-run batch) must not fail or duplicate, in every backend.
    @pytest.mark.parametrize("case", WRITE_ONCE.values(), ids=WRITE_ONCE.keys())
    def test_a_replayed_write_once_write_stores_one_record_and_keeps_the_first(self, store: TriageStore, case):
        write, stored, record, other = case
        assert getattr(store, write)(record) is True
        assert getattr(store, write)(record) is False  # the same record again: no error, no second record
        assert stored(store) == [record]
        assert getattr(store, write)(other) is False  # another record under the same key: the first stands
        assert stored(store) == [record]

    @pytest.mark.parametrize("case", IDEMPOTENT.values(), ids=IDEMPOTENT.keys())
    def test_a_replayed_request_is_stored_once_and_a_conflicting_one_is_kept_and_refused(self, store: TriageStore,
                                                                                         case):
        write, stored, record, replay, other = case
        assert getattr(store, write)(record) is True
        assert getattr(store, write)(record) is False
        assert getattr(store, write)(replay) is False  # resent later, against a newer state: the same request
        assert stored(store) == [record]
        with pytest.raises(IdempotencyConflict, match="already stored with a different request") as conflict:
            getattr(store, write)(other)
        with pytest.raises(IdempotencyConflict):
            getattr(store, write)(other)  # the same conflicting resend again: refused, kept once
        with pytest.raises(IdempotencyConflict):
            getattr(store, write)(replace(other, actor="bo") if write == "append_audit" else replace(other, label="Other"))
        assert stored(store) == [record]  # the first stands
        kept = [e for e in store.list_audit() if e.action == CONFLICTING_RESEND]
        assert len(kept) == 2 and conflict.value.kept_as in {e.event_id for e in kept}
        assert {e.details["stored"]["at"] for e in kept} == {record.at}
        assert other in [type(record)(**e.details["resent"]) for e in kept]

    @pytest.mark.parametrize("case", LAST_WRITE_WINS.values(), ids=LAST_WRITE_WINS.keys())
    def test_a_replayed_overwrite_stores_one_record_and_keeps_the_last(self, store: TriageStore, case):
        write, stored, record, other = case
        getattr(store, write)(record)
        getattr(store, write)(record)
        assert stored(store) == [record]
        getattr(store, write)(other)
        assert stored(store) == [other]

    def test_a_replayed_strategy_write_is_stale(self, store: TriageStore):
        """Not idempotent, by design: a strategy write is conditional on the revision read, so replaying one that
        succeeded is a write from a stale read. It raises StaleWriteError and the stored strategy stands."""
        created = ModelStrategy(task="team", champion="v1")
        first = store.put_strategy(created)
        with pytest.raises(StaleWriteError):
            store.put_strategy(created)
        promoted = replace(first, champion="v2", previous_champion="v1")
        second = store.put_strategy(promoted)
        with pytest.raises(StaleWriteError):
            store.put_strategy(promoted)
        assert store.get_strategy("team") == second and second.revision == 2
