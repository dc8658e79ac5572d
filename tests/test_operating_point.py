"""The operating point: the system arithmetic, the tuning that meets the business case, and their agreement
with the router that serves the thresholds."""

import itertools

import numpy as np
import pytest

from model.operating_point import GRID, Operations, TaskAnswers, system_metrics, tune
from complaints.records import ALLOCATED, TaskPrediction
from complaints.routing import route
from complaints.schema import NEGATIVE, POSITIVE
from complaints.tasks import TaskSpec
from model.calibration import fit_temperature
from complaints.predictors.base import calibrated

TEAM = TaskSpec("team", "taxonomy.team", "tfidf-linear", "queue", threshold=0.5, target={"accuracy": 0.80})
ISSUE = TaskSpec("issue", "taxonomy.issue", "tfidf-linear", "annotate", threshold=0.2, target={"accuracy": 0.71})
FLAG = TaskSpec("vulnerable", "taxonomy.vulnerable", "tfidf-linear", "flag", queue="Vulnerable customers",
                target={"recall": 0.60})
OPERATIONS = Operations(specialist_capacity=0.30, manual_minutes=2.0, loaded_wage_per_hour=35.0,
                        automated_cost=0.00025)


def synthetic(n: int = 800, seed: int = 0) -> list[TaskAnswers]:
    """Calibrated answers: each classifier is right with the probability it states; 16% are vulnerable."""
    rng = np.random.default_rng(seed)
    team_scores, issue_scores = rng.beta(5, 1.5, n), rng.beta(2.5, 2, n)
    vulnerable = rng.random(n) < 0.16
    flag_scores = np.clip(rng.normal(0.3 + 0.3 * vulnerable, 0.15), 0, 1)
    known = np.ones(n, dtype=bool)
    return [TaskAnswers(TEAM, team_scores, rng.random(n) < team_scores, known),
            TaskAnswers(ISSUE, issue_scores, rng.random(n) < issue_scores, known),
            TaskAnswers(FLAG, flag_scores, vulnerable, known)]


def routed(answers: list[TaskAnswers], thresholds: dict[str, float]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Route every row with complaints.routing, as the pipeline serves the thresholds."""
    statuses, flagged = [], []
    for row in range(len(answers[0].scores)):
        predictions = {}
        for a in answers:
            score = float(a.scores[row])
            label = (POSITIVE if score >= thresholds[a.task.name] else NEGATIVE) if a.task.binary else "a team"
            predictions[a.task.name] = TaskPrediction(a.task.name, label, score, "v1", "champion",
                                                      threshold=thresholds[a.task.name])
        queue, status, _ = route([a.task for a in answers], predictions)
        statuses.append(status == ALLOCATED)
        flagged.append(queue == FLAG.queue)
    return np.array(statuses), {FLAG.name: np.array(flagged)}


def test_system_arithmetic_counts_the_team_at_its_rates_on_manual_triage():
    known = np.ones(4, dtype=bool)
    answers = [TaskAnswers(TEAM, np.zeros(4), np.array([True, True, False, False]), known),
               TaskAnswers(FLAG, np.zeros(4), np.array([True, False, True, False]), known)]
    allocated = np.array([True, True, False, False])
    system = system_metrics(answers, allocated, {"vulnerable": np.array([True, False, False, False])}, OPERATIONS)
    assert system["automation_rate"] == 0.5
    assert system["tasks"]["team"]["accuracy"] == pytest.approx((2 + 0.8 * 2) / 4, abs=1e-4)
    assert system["tasks"]["vulnerable"]["recall"] == pytest.approx((1 + 0.6 * 1) / 2, abs=1e-4)
    assert system["tasks"]["vulnerable"]["specialist_share"] == pytest.approx((1 + 0.6 * 0.5 * 2) / 4, abs=1e-4)
    cost = system["cost_per_complaint"]
    assert cost["manual_path"] == pytest.approx(35 * 2 / 60, abs=1e-4)
    assert cost["system"] == pytest.approx(0.00025 + 0.5 * 35 * 2 / 60, abs=1e-4)


def test_the_tuned_point_meets_every_target_and_the_router_agrees():
    answers = synthetic()
    point = tune(answers, OPERATIONS)
    assert all(values["pass"] for values in point.system["tasks"].values()), point.system
    assert point.system["tasks"]["vulnerable"]["specialist_share"] <= OPERATIONS.specialist_capacity
    assert point.system["automation_rate"] > 0.3  # calibrated models beat the team on their confident share
    allocated, flagged = routed(answers, point.thresholds)
    assert system_metrics(answers, allocated, flagged, OPERATIONS) == point.system


def test_no_grid_point_automates_more_while_meeting_the_targets():
    answers = synthetic(n=300, seed=1)
    point = tune(answers, OPERATIONS)
    team, issue, flag = answers
    raised = flag.scores >= point.thresholds["vulnerable"]
    tuned = (raised | ((team.scores >= point.thresholds["team"]) & (issue.scores >= point.thresholds["issue"]))).sum()
    for t, i in itertools.product(np.arange(GRID + 1) / GRID, repeat=2):
        allocated = raised | ((team.scores >= t) & (issue.scores >= i))
        if allocated.sum() > tuned:
            system = system_metrics(answers, allocated, {"vulnerable": raised}, OPERATIONS)
            assert not all(values["pass"] for values in system["tasks"].values()), (t, i)


def test_a_margin_the_models_cannot_clear_leaves_every_complaint_to_people():
    answers = synthetic()
    strict = Operations(0.30, 2.0, 35.0, 0.00025, tuning_margin=0.5)
    point = tune(answers, strict)
    assert point.system["automation_rate"] == 0.0
    assert point.system["tasks"]["team"]["accuracy"] == pytest.approx(0.80)


def test_a_capacity_under_what_the_team_itself_flags_is_refused():
    with pytest.raises(ValueError, match="specialist_capacity"):
        tune(synthetic(), Operations(0.01, 2.0, 35.0, 0.00025))


def test_the_temperature_fit_recovers_an_over_confident_model():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, size=(4000, 3))
    true_proba = calibrated(np.exp(logits) / np.exp(logits).sum(1, keepdims=True), 1.0)
    labels = [str(rng.choice(3, p=p)) for p in true_proba]
    over_confident = calibrated(true_proba, 0.5)  # sharper than the truth: T = 0.5
    assert fit_temperature(over_confident, labels, ["0", "1", "2"]) == pytest.approx(2.0, rel=0.1)
