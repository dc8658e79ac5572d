"""A store of real triaged complaints with a user of every role, for the ops API's tests."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from complaints import access
from complaints.deployment import Deployment
from complaints.explanations import explanation
from complaints.feedback import reallocate
from complaints.intake import read_batch
from complaints.pipeline import TriagePipeline
from complaints.records import MANUAL_TRIAGE
from complaints.config import Settings
from conftest import sample, write_csv

VULNERABLE = "Vulnerable customers"
ROLES = ("analyst_a", "analyst_b", "specialist", "triage_lead", "auditor")  # a user of each in the store


def predicted_label(predictor, text: str) -> dict:
    """A stand-in for the ``explain`` package where a test checks access or versions, not attributions: the
    payload carries the loaded version's own answer on the text, so a test can tell which version computed it."""
    [(label, score)] = predictor.predict([text])
    return {"kind": predictor.meta["kind"], "explainer": "stand-in", "settings": {"max_evals": None},
            "label": label, "score": score, "explained_class": label, "base_value": 0.0,
            "tokens": [{"text": word, "attribution": 0.0} for word in text.split()[:5]],
            "top_for": [], "top_against": [], "shap_version": "none"}


STAND_IN = SimpleNamespace(explain=predicted_label, render_html=lambda payload: f"<p>{payload['label']}</p>")


@dataclass(frozen=True)
class OpsStore:
    """Where things are in the triaged store: a complaint of two teams, of manual triage and of the specialist
    queue, and a token for each role."""

    home: Path
    team_a: str
    team_b: str
    complaint: dict[str, str]  # "a", "b", "manual", "vulnerable" -> a complaint id in that queue
    revision: dict[str, int]  # the same keys -> the complaint's revision (its corrections so far)
    tokens: dict[str, str]  # analyst_a, analyst_b, specialist, triage_lead, auditor -> token


@pytest.fixture(scope="module")
def ops_store(trained_home, cfpb_rows, tmp_path_factory) -> OpsStore:
    """60 real complaints triaged by the tiny trained models; one complaint moved to the specialist queue by a
    triage lead's correction where none was flagged; an explanation of one complaint kept."""
    home = tmp_path_factory.mktemp("ops") / "home"
    shutil.copytree(trained_home, home)
    deployment = Deployment.embedded(Settings.from_env(home=home))
    batch = write_csv(home.parent / "batch.csv", sample(cfpb_rows, 60, salt="ops-api"))
    TriagePipeline(deployment).triage(read_batch(batch, deployment.taxonomy))

    def standing(queue: str) -> list[str]:
        return sorted(p.allocation.complaint_id for p in deployment.store.list_queue(queue, None))

    team_a, team_b = sorted(deployment.taxonomy.teams, key=lambda team: (-len(standing(team)), team))[:2]
    for team, needed in ((team_a, 3), (team_b, 1)):  # team A: two to list, one spare for the specialist queue
        while len(standing(team)) < needed:  # the test models sent too few there: a triage lead moves one
            reallocate(deployment, standing(MANUAL_TRIAGE)[-1], "team", team, "lead")
    complaint = {"a": standing(team_a)[0], "b": standing(team_b)[0], "manual": standing(MANUAL_TRIAGE)[0]}
    if standing(VULNERABLE):
        complaint["vulnerable"] = standing(VULNERABLE)[0]
    else:
        spare = standing(team_a)[1]
        reallocate(deployment, spare, "vulnerable", "yes", "lead")
        complaint["vulnerable"] = spare
    explanation(deployment, complaint["a"], "team", "lead", predicted_label)
    roles = {"analyst_a": ("analyst", team_a), "analyst_b": ("analyst", team_b), "specialist": ("specialist", None),
             "triage_lead": ("triage_lead", None), "auditor": ("auditor", None)}
    tokens = {name.replace("_", "-"): access.add_user(deployment.store, deployment.taxonomy, name.replace("_", "-"),
                                                      role, team, "test") for name, (role, team) in roles.items()}
    revision = {key: deployment.store.get_placement(complaint_id).revision for key, complaint_id in complaint.items()}
    deployment.store.close()
    return OpsStore(home, team_a, team_b, complaint, revision, {k.replace("-", "_"): v for k, v in tokens.items()})


@pytest.fixture
def ops_home(ops_store, tmp_path) -> Path:
    """A private copy of the triaged store, so a test may write to it."""
    copy = tmp_path / "home"
    shutil.copytree(ops_store.home, copy)
    return copy


@pytest.fixture
def deployment(ops_home) -> Deployment:
    """The embedded deployment over that private copy (overrides conftest's for the modules that import it)."""
    return Deployment.embedded(Settings.from_env(home=ops_home))


def as_role(ops_store: OpsStore, role: str) -> dict[str, str]:
    """The request headers of the store's user of ``role``."""
    return {"Authorization": f"Bearer {ops_store.tokens[role]}"}
