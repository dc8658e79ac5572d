import pytest

from complaints.records import ALLOCATED, MANUAL_TRIAGE, NEEDS_TRIAGE, TaskPrediction
from complaints.routing import SMOKE_TEST_QUEUE, TO_NAME, left_to_name, route, smoke_tests_aside
from complaints.tasks import TaskSpec
from complaints.thresholds import EVEN_ODDS, served_threshold

TASKS = [
    TaskSpec("team", "taxonomy.team", "tfidf-linear", "queue", threshold=0.5),
    TaskSpec("issue", "taxonomy.issue", "tfidf-linear", "annotate", threshold=0.2),
    TaskSpec("vulnerable", "taxonomy.vulnerable", "tfidf-linear", "flag", queue="Vulnerable customers"),
]


def predictions(team=("Mortgage", 0.9), issue=("Trouble during payment process", 0.6), vulnerable=("no", 0.1),
                errors=(), thresholds=None):
    answers = {"team": team, "issue": issue, "vulnerable": vulnerable}
    return {name: TaskPrediction(name, label, score, "v", "champion", error="boom" if name in errors else "",
                                 threshold=(thresholds or {}).get(name))
            for name, (label, score) in answers.items()}


def test_confident_predictions_land_in_the_team_queue():
    assert route(TASKS, predictions()) == ("Mortgage", ALLOCATED, [])


def test_a_vulnerable_flag_goes_to_the_specialist_queue_even_when_unsure_of_the_team():
    queue, status, reasons = route(TASKS, predictions(team=("Mortgage", 0.1), vulnerable=("yes", 0.7)))
    assert (queue, status) == ("Vulnerable customers", ALLOCATED) and "vulnerable flagged" in reasons[0]
    assert reasons[1:] == [f"{TO_NAME}: team confidence 0.10 under threshold 0.50"]
    assert left_to_name(reasons) == {"team"}  # the specialists name it: not the models' answer


def test_a_flagged_complaint_marks_every_unsure_or_failed_task_for_the_specialists_whatever_the_deferral():
    for deferral in ("complaint", "task"):
        queue, status, reasons = route(TASKS, predictions(issue=("Other", 0.1), vulnerable=("yes", 0.7),
                                                          errors=("team",)), deferral)
        assert (queue, status) == ("Vulnerable customers", ALLOCATED)
        assert left_to_name(reasons) == {"team", "issue"}
    assert route(TASKS, predictions(vulnerable=("yes", 0.7)))[2] == ["vulnerable flagged (score 0.70)"]


def test_low_confidence_on_any_task_goes_to_manual_triage_with_every_reason():
    queue, status, reasons = route(TASKS, predictions(team=("Mortgage", 0.4), issue=("Other", 0.1)))
    assert (queue, status) == (MANUAL_TRIAGE, NEEDS_TRIAGE)
    assert len(reasons) == 2 and "team confidence 0.40 under threshold 0.50" in reasons[0]


def test_a_failed_flag_model_is_never_taken_for_not_vulnerable():
    queue, _, reasons = route(TASKS, predictions(errors=("vulnerable",)))
    assert queue == MANUAL_TRIAGE and reasons == ["vulnerable model failed: boom"]


def test_per_task_deferral_lands_a_sure_team_with_its_unsure_issue_marked_for_the_team_to_name():
    unsure_issue = predictions(issue=("Other", 0.1))
    queue, status, reasons = route(TASKS, unsure_issue, deferral="task")
    assert (queue, status) == ("Mortgage", ALLOCATED)
    assert reasons == [f"{TO_NAME}: issue confidence 0.10 under threshold 0.20"]
    assert left_to_name(reasons) == {"issue"}  # what evaluation reads back
    assert route(TASKS, unsure_issue)[:2] == (MANUAL_TRIAGE, NEEDS_TRIAGE)  # per complaint, the default
    # an unsure team still sends the complaint to people, the unsure issue with it
    queue, status, reasons = route(TASKS, predictions(team=("Mortgage", 0.1), issue=("Other", 0.1)), deferral="task")
    assert (queue, status) == (MANUAL_TRIAGE, NEEDS_TRIAGE) and len(reasons) == 2 and not left_to_name(reasons)
    # a failed issue model is not an unsure one: manual triage
    assert route(TASKS, predictions(errors=("issue",)), deferral="task")[1] == NEEDS_TRIAGE


def test_a_failed_team_model_goes_to_manual_triage():
    queue, _, reasons = route(TASKS, predictions(errors=("team",)))
    assert queue == MANUAL_TRIAGE and reasons == ["team model failed: boom"]


def test_the_threshold_recorded_with_a_prediction_decides_before_the_tasks():
    assert route(TASKS, predictions(team=("Mortgage", 0.4), thresholds={"team": 0.3}))[1] == ALLOCATED
    _, status, reasons = route(TASKS, predictions(team=("Mortgage", 0.6), thresholds={"team": 0.7}))
    assert status == NEEDS_TRIAGE and reasons == ["team confidence 0.60 under threshold 0.70"]


def test_a_decision_takes_the_releases_threshold_else_the_versions_else_the_tasks():
    assert served_threshold(0.3, 0.4, 0.5) == 0.3
    assert served_threshold(None, 0.4, 0.5) == 0.4
    assert served_threshold(None, None, 0.5) == 0.5
    assert served_threshold(None, 0.0, 0.5, binary=True) == 0.0  # a tuned 0 is a threshold, not a missing one


def test_a_binary_version_tuned_with_no_threshold_flags_from_even_odds_and_only_a_version_does():
    assert served_threshold(None, None, None, binary=True) == EVEN_ODDS == 0.5
    assert served_threshold(0.2, None, None, binary=True) == 0.2
    assert served_threshold(None, configured=None) is None  # a flag task whose model did not run records none


@pytest.mark.parametrize("source, complaint_id, held", [
    ("s3://complaints-prod-batches-1/inbox/smoke-20260101T000000Z.csv", "smoke-20260101T000000Z-123", True),
    ("s3://complaints-prod-batches-1/inbox/smoke-partner-drop.csv", "123", False),  # a real file named so
    ("s3://complaints-prod-batches-1/inbox/2026-05-02.csv", "smoke-earlier-123", False),  # a real batch's id so named
    ("s3://complaints-prod-batches-1/inbox/api/smoke-1.json", "smoke-1", False),  # the API's keys are its own
    ("/home/ana/inbox/smoke-1.csv", "smoke-1-123", False),  # the embedded path: no smoke test there
])
def test_only_a_smoke_tests_key_and_id_together_hold_a_complaint_out_of_the_ops_teams_queues(source, complaint_id,
                                                                                              held):
    routed = route(TASKS, predictions())
    queue, status, reasons = smoke_tests_aside(source, complaint_id, routed)
    assert (queue, status, reasons) == ((SMOKE_TEST_QUEUE, ALLOCATED, [
        "smoke test: held out of the ops team's queues, routed to Mortgage"]) if held else routed)
