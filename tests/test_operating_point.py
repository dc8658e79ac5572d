"""The operating point: the system arithmetic, the tuning that meets the business case, and their agreement
with the router that serves the thresholds."""

import itertools
from dataclasses import replace

import numpy as np
import pytest

from complaints.operations import Operations
from model.operating_point import GRID, TaskAnswers, gap_sd, measure, system_metrics, tune
from complaints.records import ALLOCATED, TaskPrediction
from complaints.routing import left_to_name, route
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


def routed(answers: list[TaskAnswers], thresholds: dict[str, float], deferral: str = "complaint"
           ) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Route every row with complaints.routing, as the pipeline serves the thresholds: allocated, flagged, and
    per classifier task the allocated complaints whose answer is the models' (not left for people to name)."""
    statuses, flagged, to_name = [], [], []
    for row in range(len(answers[0].scores)):
        predictions = {}
        for a in answers:
            score = float(a.scores[row])
            label = (POSITIVE if score >= thresholds[a.task.name] else NEGATIVE) if a.task.binary else "a team"
            predictions[a.task.name] = TaskPrediction(a.task.name, label, score, "v1", "champion",
                                                      threshold=thresholds[a.task.name])
        queue, status, reasons = route([a.task for a in answers], predictions, deferral)
        statuses.append(status == ALLOCATED)
        flagged.append(queue == FLAG.queue)
        to_name.append(left_to_name(reasons))
    allocated = np.array(statuses)
    decided = {a.task.name: allocated & np.array([a.task.name not in names for names in to_name])
               for a in answers if not a.task.binary}
    return allocated, {FLAG.name: np.array(flagged)}, decided


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
    assert system["time_cut"] == 0.5


def test_tuning_meets_the_criterion_by_the_lower_bound_not_the_estimate():
    """900 of 1,000 right is 0.90, over a floor of 0.89; its 95% lower bound (0.90 - 1.645 x 0.0095 = 0.884) is
    not: tuning leaves every complaint to people, unless the bound is the estimate (confidence 0.5)."""
    known = np.ones(1000, dtype=bool)
    answers = [TaskAnswers(TEAM, np.ones(1000), np.arange(1000) < 900, known)]
    strict = Operations(0.30, 2.0, 35.0, 0.00025, criteria={"over": -0.09, "band": 0.03}, criterion="over")
    system = system_metrics(answers, known, {}, strict)
    team = system["tasks"]["team"]
    assert team["accuracy"] == 0.9 and team["lower_bound"] == pytest.approx(0.9 - 1.645 * np.sqrt(0.09 / 1000), abs=1e-3)
    assert team["floor"] == 0.89 and system["criteria"] == {"over": True, "band": True}  # realised: within both
    assert tune(answers, strict).system["automation_rate"] == 0.0
    assert tune(answers, replace(strict, confidence=0.5)).system["automation_rate"] == 1.0


def test_the_tuned_point_meets_the_criterion_and_the_router_agrees():
    answers = synthetic()
    point = tune(answers, OPERATIONS)
    assert point.system["criteria"]["band"], point.system
    assert all(values["lower_bound"] >= values["floor"] for values in point.system["tasks"].values())
    assert point.system["tasks"]["vulnerable"]["specialist_share_upper"] <= OPERATIONS.specialist_capacity
    assert point.system["automation_rate"] > 0.3  # calibrated models beat the team on their confident share
    allocated, flagged, decided = routed(answers, point.thresholds)
    assert system_metrics(answers, allocated, flagged, OPERATIONS, decided) == point.system


def test_no_grid_point_leaves_people_less_work_while_meeting_the_criterion():
    answers = synthetic(n=300, seed=1)
    point = tune(answers, OPERATIONS)
    tuned_work = 1 - point.system["time_cut"]
    for t, i in itertools.product(np.arange(GRID + 1) / GRID, repeat=2):
        system = measure(answers, {**point.thresholds, "team": float(t), "issue": float(i)}, OPERATIONS)
        if 1 - system["time_cut"] < tuned_work - 1e-4:
            assert any(v["lower_bound"] < v["floor"] or v.get("specialist_share_upper", 0) > v.get("capacity", 1)
                       for v in system["tasks"].values()), (t, i)


def test_per_task_deferral_routes_a_sure_team_with_its_issue_left_to_name():
    answers = synthetic()
    by_task = Operations(0.30, 2.0, 35.0, 0.00025, deferral="task")
    point = tune(answers, by_task)
    allocated, flagged, decided = routed(answers, point.thresholds, "task")
    team, issue, _ = answers
    to_name = allocated & ~(decided["team"] & decided["issue"])
    in_team_queues = to_name & ~flagged["vulnerable"]
    assert in_team_queues.any() and (issue.scores[in_team_queues] < point.thresholds["issue"]).all()
    assert (team.scores[in_team_queues] >= point.thresholds["team"]).all()  # an unsure team goes to people
    assert system_metrics(answers, allocated, flagged, by_task, decided) == point.system == \
        measure(answers, point.thresholds, by_task)
    assert point.system["left_to_name_share"] == pytest.approx(to_name.mean(), abs=1e-4)
    assert point.system["criteria"]["band"]
    # Naming costs a whole triage by default: the time cut is what neither people path takes.
    assert point.system["time_cut"] == pytest.approx(1 - (~allocated).mean() - to_name.mean(), abs=1e-4)
    sensitivity = point.system["naming_sensitivity"]
    assert sensitivity["0.25"] > sensitivity["0.5"] > sensitivity["1.0"] == point.system["cost_cut"]


def test_a_flagged_complaint_leaves_what_the_models_are_unsure_of_to_the_specialists():
    """A flag sends the complaint to the specialist queue whatever the other tasks say; the tasks under their
    thresholds there count at the team's rates (people name them), not as the models' answers, and their naming
    is people's work: tuning, the router and the system arithmetic agree on it."""
    answers = synthetic(seed=2)
    point = tune(answers, OPERATIONS)
    allocated, flagged, decided = routed(answers, point.thresholds)
    team, issue, _ = answers
    raised = flagged["vulnerable"]
    unsure = (team.scores < point.thresholds["team"]) | (issue.scores < point.thresholds["issue"])
    assert (raised & unsure).any() and (allocated[raised]).all()
    assert not (decided["issue"] & raised & (issue.scores < point.thresholds["issue"])).any()
    assert (decided["issue"] & raised & ~unsure).sum() == (raised & ~unsure).sum()
    assert point.system["left_to_name_share"] == pytest.approx((raised & unsure).mean(), abs=1e-4)
    assert point.system["time_cut"] == pytest.approx(1 - (~allocated).mean() - (raised & unsure).mean(), abs=1e-4)
    issue_correct = (issue.hits & decided["issue"]).sum() + 0.71 * (~decided["issue"]).sum()
    assert point.system["tasks"]["issue"]["accuracy"] == pytest.approx(issue_correct / len(allocated), abs=1e-4)
    assert system_metrics(answers, allocated, flagged, OPERATIONS, decided) == point.system


def test_a_criterion_the_models_cannot_meet_leaves_every_complaint_to_people():
    answers = synthetic()
    strict = Operations(0.30, 2.0, 35.0, 0.00025, criteria={"beyond": -0.5}, criterion="beyond")
    point = tune(answers, strict)
    assert point.system["automation_rate"] == 0.0
    assert point.system["tasks"]["team"]["accuracy"] == pytest.approx(0.80)


def test_a_capacity_under_what_the_team_itself_flags_is_refused():
    with pytest.raises(ValueError, match="specialist_capacity"):
        tune(synthetic(), Operations(0.01, 2.0, 35.0, 0.00025))


def test_the_gap_chance_makes_is_both_sets_standard_errors_combined():
    """Two samples of the same complaints: each figure's gap varies by the two standard errors combined, and
    over many pairs of samples the gaps do vary by that much."""
    answers = synthetic(n=6000, seed=3)
    point = tune(answers, OPERATIONS)
    halves = [np.arange(6000) % 2 == side for side in (0, 1)]
    first, second = ([TaskAnswers(a.task, a.scores[rows], a.hits[rows], a.known[rows]) for a in answers]
                     for rows in halves)
    promised, realised = (measure(half, point.thresholds, OPERATIONS) for half in (first, second))
    chance = gap_sd(promised, realised)
    assert set(chance) == {"automation_rate", "team", "issue", "vulnerable"}
    p, q = promised["automation_rate"], realised["automation_rate"]
    assert chance["automation_rate"] == pytest.approx(np.hypot(np.sqrt(p * (1 - p) / 3000),
                                                               np.sqrt(q * (1 - q) / 3000)), abs=1e-4)
    team = promised["tasks"]["team"]
    assert team["standard_error"] == pytest.approx((team["accuracy"] - team["lower_bound"]) / OPERATIONS.z, abs=2e-4)
    gaps = []
    for seed in range(40):  # fresh pairs of samples of the same population at the same thresholds
        pair = [measure(synthetic(n=3000, seed=100 + 2 * seed + side), point.thresholds, OPERATIONS)
                for side in (0, 1)]
        gaps.append(pair[1]["automation_rate"] - pair[0]["automation_rate"])
    assert 0.6 < np.std(gaps) / chance["automation_rate"] < 1.5


def test_the_temperature_fit_recovers_an_over_confident_model():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, size=(4000, 3))
    true_proba = calibrated(np.exp(logits) / np.exp(logits).sum(1, keepdims=True), 1.0)
    labels = [str(rng.choice(3, p=p)) for p in true_proba]
    over_confident = calibrated(true_proba, 0.5)  # sharper than the truth: T = 0.5
    assert fit_temperature(over_confident, labels, ["0", "1", "2"]) == pytest.approx(2.0, rel=0.1)


def test_training_records_the_promise_beside_what_the_held_out_split_realised(trained_home):
    """The point tuned on out-of-fold answers, its realisation by the final versions on the held-out split, the
    gap, and the points of the other criteria: in operating_point.json and the model card of every version."""
    import json

    from complaints.config import Settings
    from complaints.deployment import Deployment
    from complaints.strategy import champions

    deployment = Deployment.embedded(Settings.from_env(home=trained_home))
    folders = [deployment.registry.fetch(task, version) for task, version in champions(deployment).items()]
    points = [json.loads((folder / "operating_point.json").read_text()) for folder in folders]
    assert all(point == points[0] for point in points)  # one point for the tasks trained together
    point = points[0]
    promised, realised = point["system"], point["held_out"]["system"]
    assert point["held_out"]["gap"]["automation_rate"] == pytest.approx(
        realised["automation_rate"] - promised["automation_rate"], abs=1e-4)
    assert point["held_out"]["gap"]["team"] == pytest.approx(
        realised["tasks"]["team"]["accuracy"] - promised["tasks"]["team"]["accuracy"], abs=1e-4)
    assert set(point["criteria"]) == {"band", "parity"} == set(point["held_out"]["criteria"])
    chance = point["held_out"]["gap_sd"]
    assert chance == gap_sd(promised, realised) and chance["automation_rate"] > 0
    card = (folders[0] / "README.md").read_text()
    assert "| figure | promised | realised (held-out) | gap | chance (sd) |" in card
    assert (f"| automation | {promised['automation_rate']} | {realised['automation_rate']} | "
            f"{realised['automation_rate'] - promised['automation_rate']:+.4f} | {chance['automation_rate']} |") in card
    model = json.loads((folders[0] / "model.json").read_text())
    assert model["decision_threshold"] == point["thresholds"]["team"]


def test_training_on_two_data_files_holds_the_point_on_each_and_says_so(cfpb_rows, recent_rows, tmp_path):
    """A folder of two files: each complaint's origin is its file, the point is held on each file's answers,
    and operating_point.json and the model card carry each file's figures, promised and realised."""
    from complaints.config import Settings
    from complaints.deployment import Deployment
    from conftest import PROVENANCE, sample, write_csv
    from model.baseline import BaselineConfig
    from model.train import TrainingArguments, train

    data = tmp_path / "data"
    data.mkdir()
    write_csv(data / "older.csv", sample(cfpb_rows, 500, salt="older"))
    write_csv(data / "recent.csv", sample(recent_rows, 500, salt="recent"))
    embedded = Deployment.embedded(Settings.from_env(home=tmp_path / "home"))
    deployment = replace(embedded, operations=replace(embedded.operations, origin_min_complaints=100))
    results = train(deployment, TrainingArguments(data=data, provenance=PROVENANCE,
                                                  baseline=BaselineConfig(max_iter=100)))
    point = results[0].operating_point
    assert set(point["origins"]) == {"older.csv", "recent.csv"} == set(point["held_out"]["origins"])
    assert sum(system["n"] for system in point["origins"].values()) == point["system"]["n"]
    criterion = deployment.operations.criterion
    assert all(system["criteria"][criterion] for system in point["origins"].values())
    card = (deployment.registry.fetch("team", results[0].version) / "README.md").read_text()
    older, realised = point["origins"]["older.csv"], point["held_out"]["origins"]["older.csv"]
    assert f"| `older.csv` | {older['automation_rate']} / {realised['automation_rate']} |" in card


def test_evaluation_counts_the_issues_the_router_left_to_name(trained_home, cfpb_rows, tmp_path):
    """Under per-task deferral, evaluation reads what the router left for people to name (an unsure issue in a
    team's queue; an unsure team or issue in the specialist queue)."""
    from complaints.config import Settings
    from complaints.deployment import Deployment
    from complaints.intake import read_batch
    from conftest import sample, write_csv
    from model.evaluation import evaluate_champions

    embedded = Deployment.embedded(Settings.from_env(home=trained_home))
    deployment = replace(embedded, operations=replace(embedded.operations, deferral="task"))
    batch = read_batch(write_csv(tmp_path / "deferral.csv", sample(cfpb_rows, 200, salt="deferral")),
                       deployment.taxonomy)
    report, rows = evaluate_champions(deployment, batch.complaints)
    threshold = report["system"]["thresholds"]["issue"]
    team_threshold = report["system"]["thresholds"]["team"]
    named = [r["status"] == ALLOCATED and (r["issue_score"] < threshold
                                           or r["queue"] == FLAG.queue and r["team_score"] < team_threshold)
             for r in rows]
    assert any(named) and report["system"]["left_to_name_share"] == pytest.approx(np.mean(named), abs=1e-4)


def test_among_equally_good_points_tuning_flags_the_fewest():
    """Where more flags cost no work and widen no margin, the specialists' capacity is not filled by default."""
    n = 500
    rng = np.random.default_rng(3)
    vulnerable = np.arange(n) < 50
    flag_scores = np.where(vulnerable, 0.9, rng.uniform(0, 0.8, n))
    sure = np.ones(n, dtype=bool)
    answers = [TaskAnswers(TEAM, np.ones(n), sure, sure), TaskAnswers(ISSUE, np.ones(n), sure, sure),
               TaskAnswers(FLAG, flag_scores, vulnerable, sure)]
    point = tune(answers, OPERATIONS)
    assert point.thresholds["vulnerable"] > 0.8
    assert point.system["tasks"]["vulnerable"]["specialist_share"] == pytest.approx(vulnerable.mean())


def two_origins(n: int = 1500) -> tuple[list[TaskAnswers], np.ndarray]:
    """Two data files' answers: the older file's issue answers are right less often than they state (0.8 of it),
    the recent file's as often as they state."""
    older, recent = synthetic(n, seed=1), synthetic(n, seed=2)
    rng = np.random.default_rng(3)
    older[1] = replace(older[1], hits=rng.random(n) < 0.8 * older[1].scores)
    answers = [TaskAnswers(a.task, np.concatenate([a.scores, b.scores]), np.concatenate([a.hits, b.hits]),
                           np.concatenate([a.known, b.known])) for a, b in zip(older, recent)]
    return answers, np.array(["older.csv"] * n + ["recent.csv"] * n)


def test_the_point_holds_on_each_data_file_not_only_on_their_mix():
    answers, origins = two_origins()
    floor = OPERATIONS.floor(0.71)
    mixed = tune(answers, OPERATIONS)
    assert mixed.system["tasks"]["issue"]["lower_bound"] >= floor
    assert measure(answers, mixed.thresholds, OPERATIONS, origins == "older.csv")["tasks"]["issue"]["accuracy"] < floor
    held = tune(answers, OPERATIONS, origins)
    assert set(held.origins) == {"older.csv", "recent.csv"}
    for origin, system in held.origins.items():
        assert system == measure(answers, held.thresholds, OPERATIONS.for_origins, origins == origin)
        assert system["tasks"]["team"]["lower_bound"] >= OPERATIONS.floor(0.80)
        assert system["tasks"]["issue"]["lower_bound"] >= floor
        assert system["tasks"]["vulnerable"]["lower_bound"] >= OPERATIONS.floor(0.60)
        assert system["tasks"]["vulnerable"]["specialist_share_upper"] <= OPERATIONS.specialist_capacity
    assert held.system["automation_rate"] < mixed.system["automation_rate"]  # holding each file costs automation


def test_a_data_file_under_the_minimum_is_held_only_as_part_of_the_mix():
    answers, origins = two_origins()
    origins[:20] = "store"  # a few corrected complaints the files do not hold
    held = tune(answers, replace(OPERATIONS, origin_min_complaints=1400), origins)
    assert set(held.origins) == {"older.csv", "recent.csv"} and held.origins["older.csv"]["n"] == 1480
    alone = tune(answers, replace(OPERATIONS, origin_min_complaints=1600), origins)
    assert alone.origins == {} and alone.thresholds == tune(answers, OPERATIONS).thresholds
