"""The `training` suite and the training gate on real complaints and deliberately broken training sets:
a failing set stops training before anything is fitted or registered, with a report that says why."""

from dataclasses import replace
from datetime import date

import pytest

from complaints.deployment import Deployment
from complaints.config import Settings
from conftest import PROVENANCE, sample, write_csv
from complaints.schema import Complaint
from model.training_data import one_per_narrative, training_set
from data_checks.training import MIN_EXAMPLES_PER_CLASS, check_training
from model.train import TrainingArguments, TrainingDataError, train

BY_ID = "expect_column_pair_values_a_to_determine_b(complaint_id, split)"
BY_TEXT = "expect_column_pair_values_a_to_determine_b(narrative_fingerprint, split)"


@pytest.fixture
def fresh(tmp_path):
    """A deployment without champions: nothing to compare label distributions with."""
    return Deployment.embedded(Settings.from_env(home=tmp_path / "fresh"))


def splits_of(deployment, path):
    training = training_set(deployment, deployment.tasks, path, provenance=PROVENANCE)
    return training.complaints, training.splits


def failed(check) -> set[str]:
    return {e.name for e in check.outcome.expectations if not e.success and e.severity == "critical"}


def test_real_training_data_passes_and_small_classes_are_left_out_of_training(fresh, sample_csv):
    complaints, splits = splits_of(fresh, sample_csv)
    check = check_training(fresh, complaints, splits)
    assert check.success, check.report()
    small = check.small_classes["issue"]
    assert small and all(n < MIN_EXAMPLES_PER_CLASS for n in small.values())
    assert "vulnerable" not in check.small_classes
    trainable = check.trainable(splits)
    trained = {y for _, y in trainable["issue"][0]}
    assert trained and not trained & set(small)
    assert len(trainable["issue"][0]) == len(splits["issue"][0]) - sum(small.values())
    assert trainable["issue"][1] == splits["issue"][1]  # evaluation keeps every class
    assert [n for n in check.notes if "drift not checked" in n] and check.missing_classes["issue"]


def test_leakage_across_the_split_by_id_and_by_normalised_text_fails_naming_the_complaints(fresh, sample_csv):
    complaints, splits = splits_of(fresh, sample_csv)
    train_set, evaluation = splits["team"]
    same, original = train_set[0], train_set[1]
    twin = (replace(original[0], complaint_id="twin-1", narrative=f"  {original[0].narrative.upper()}\n"), original[1])
    splits["team"] = (train_set, [*evaluation, same, twin])
    check = check_training(fresh, complaints, splits)
    assert not check.success and failed(check) == {BY_ID, BY_TEXT}
    assert check.outcome.expectation(BY_ID).unexpected_count == 2
    report = check.report()
    assert f"FAIL {BY_ID}  2 row(s): {same[0].complaint_id}, {same[0].complaint_id}" in report
    assert "twin-1" in report and original[0].complaint_id in report and "leakage" in report


def test_unknown_issues_labels_outside_the_taxonomy_and_a_flag_without_positives_fail(fresh, cfpb_rows, tmp_path):
    rows = [dict(r) for r in sample(cfpb_rows, 300, salt="coverage")]
    complaints, splits = splits_of(fresh, write_csv(tmp_path / "coverage.csv", rows))
    (complaint, _), *rest = splits["team"][0]
    # Intake rejects an unknown issue (unknown_issue); a stored complaint from an older taxonomy can still carry one.
    complaint = replace(complaint, attributes={**complaint.attributes, "Issue": "Spaceship trouble"})
    splits["team"] = ([(complaint, "Space travel"), *rest], splits["team"][1])
    splits["vulnerable"] = tuple([(c, "no") for c, _ in side] for side in splits["vulnerable"])
    check = check_training(fresh, complaints, splits)
    assert failed(check) == {"expect_column_values_to_be_in_set(Issue)", "expect_column_values_to_be_in_set(team_label)",
                             "expect_column_distinct_values_to_contain_set(vulnerable_label)"}
    assert complaint.complaint_id in check.report()
    assert check.missing_classes["vulnerable"] == ["yes"]


def test_too_many_duplicate_narratives_stop_training_before_anything_is_registered(fresh, cfpb_rows, tmp_path):
    rows = sample(cfpb_rows, 200, salt="duplicates")
    resent = [dict(r, **{"Complaint ID": f"resent-{i}"}) for i, r in enumerate(rows[:50])]
    path = write_csv(tmp_path / "resent.csv", rows + resent)
    with pytest.raises(TrainingDataError) as failure:
        train(fresh, TrainingArguments(data=path, provenance=PROVENANCE))
    report = str(failure.value)
    assert "nothing was trained" in report and "FAIL expect_column_values_to_not_repeat(narrative_fingerprint)" in report
    assert "at most 15% of rows repeat an earlier narrative" in report
    assert fresh.registry.versions("team") == [] and fresh.store.get_strategy("team") is None


def test_a_repeated_narrative_is_learnt_once_with_its_majority_label_and_an_analyst_overrules_it(cfpb_rows):
    [row] = sample(cfpb_rows, 1, salt="copies")
    copies = [Complaint(f"copy-{i}", date(2024, 1, 2), row["Consumer complaint narrative"], {}) for i in range(4)]
    votes = [(copies[0], "Mortgage"), (copies[1], "Debt collection"), (copies[2], "Debt collection"), (copies[3], None)]
    assert one_per_narrative(votes, {}) == [(copies[1], "Debt collection")]
    assert one_per_narrative(votes, {"copy-3": "Credit card"}) == [(copies[3], "Credit card")]


def test_label_drift_against_the_champions_training_set_stops_training(home, cfpb_rows, sample_csv, tmp_path):
    deployment = Deployment.embedded(Settings.from_env(home=home))
    complaints, splits = splits_of(deployment, sample_csv)  # what the champions were trained on
    same = check_training(deployment, complaints, splits)
    assert same.success and not same.notes
    assert same.outcome.expectation("expect_column_kl_divergence_to_be_less_than(team_label)").observed_value == 0
    debt_only = write_csv(tmp_path / "debt.csv", [r for r in sample(cfpb_rows, 800) if r["Product"] == "Debt collection"])
    versions = deployment.registry.versions("team")
    with pytest.raises(TrainingDataError, match=r"FAIL expect_column_kl_divergence_to_be_less_than\(team_label\)"):
        train(deployment, TrainingArguments(data=debt_only, provenance=PROVENANCE))
    assert deployment.registry.versions("team") == versions
