from complaints.records import ALLOCATED, MANUAL_TRIAGE, NEEDS_TRIAGE, TaskPrediction
from complaints.routing import route
from complaints.tasks import TaskSpec

TASKS = [
    TaskSpec("team", "taxonomy.team", "tfidf-linear", "queue", threshold=0.5),
    TaskSpec("issue", "taxonomy.issue", "tfidf-linear", "annotate", threshold=0.2),
    TaskSpec("vulnerable", "taxonomy.vulnerable", "tfidf-linear", "flag", queue="Vulnerable customers"),
]


def predictions(team=("Mortgage", 0.9), issue=("Trouble during payment process", 0.6), vulnerable=("no", 0.1),
                errors=()):
    answers = {"team": team, "issue": issue, "vulnerable": vulnerable}
    return {name: TaskPrediction(name, label, score, "v", "champion", error="boom" if name in errors else "")
            for name, (label, score) in answers.items()}


def test_confident_predictions_land_in_the_team_queue():
    assert route(TASKS, predictions()) == ("Mortgage", ALLOCATED, [])


def test_a_vulnerable_flag_goes_to_the_specialist_queue_even_when_unsure_of_the_team():
    queue, status, reasons = route(TASKS, predictions(team=("Mortgage", 0.1), vulnerable=("yes", 0.7)))
    assert (queue, status) == ("Vulnerable customers", ALLOCATED) and "vulnerable flagged" in reasons[0]


def test_low_confidence_on_any_task_goes_to_manual_triage_with_every_reason():
    queue, status, reasons = route(TASKS, predictions(team=("Mortgage", 0.4), issue=("Other", 0.1)))
    assert (queue, status) == (MANUAL_TRIAGE, NEEDS_TRIAGE)
    assert len(reasons) == 2 and "team confidence 0.40 under threshold 0.50" in reasons[0]


def test_a_failed_flag_model_is_never_taken_for_not_vulnerable():
    queue, _, reasons = route(TASKS, predictions(errors=("vulnerable",)))
    assert queue == MANUAL_TRIAGE and reasons == ["vulnerable model failed: boom"]


def test_a_failed_team_model_goes_to_manual_triage():
    queue, _, reasons = route(TASKS, predictions(errors=("team",)))
    assert queue == MANUAL_TRIAGE and reasons == ["team model failed: boom"]
