import pytest
import yaml

from complaints.config import CONFIG_DIR
from complaints.tasks import TaskConfigError, load_tasks


def write(tmp_path, tasks):
    path = tmp_path / "tasks.yaml"
    path.write_text(yaml.safe_dump({"tasks": tasks}))
    return path


def test_the_packaged_tasks():
    tasks = load_tasks(CONFIG_DIR / "tasks.yaml")
    assert [(t.name, t.role) for t in tasks] == [("team", "queue"), ("issue", "annotate"), ("vulnerable", "flag")]
    assert tasks[2].binary and tasks[2].queue == "Vulnerable customers"
    assert tasks[1].within == "team" and tasks[0].within is None
    assert tasks[1].options == {"char_ngrams": [2, 5], "classifier": "linear-svm", "c": 1.0} and tasks[0].options is None
    assert [t.minimum for t in tasks] == [{"accuracy": 0.75}, {"accuracy": 0.66}, {"recall": 0.52}]


def test_a_task_knows_its_classes_where_the_taxonomy_defines_them():
    from complaints.taxonomy import Taxonomy

    taxonomy = Taxonomy.load(CONFIG_DIR / "taxonomy.yaml")
    team, issue, vulnerable = load_tasks(CONFIG_DIR / "tasks.yaml")
    assert team.classes(taxonomy) == taxonomy.teams and issue.classes(taxonomy) == taxonomy.canonical_issues
    assert vulnerable.classes(taxonomy) == ("no", "yes")


@pytest.mark.parametrize("tasks, message", [
    ({"team": {"label": "taxonomy.team", "model": "tfidf-linear", "role": "route", "threshold": 0.5}}, "role must be"),
    ({"team": {"label": "taxonomy.team", "model": "tfidf-linear", "role": "queue"}}, "needs a threshold"),
    ({"team": {"label": "product", "model": "tfidf-linear", "role": "queue", "threshold": 0.5}}, "label must be"),
    ({"team": {"label": "taxonomy.team", "role": "queue", "threshold": 0.5}}, "missing 'model'"),
    ({"team": {"label": "taxonomy.team", "model": "tfidf-linear", "role": "queue", "threshold": 0.5, "colour": 1}}, "unknown keys"),
    ({"team": {"label": "taxonomy.team", "model": "tfidf-linear", "role": "queue", "threshold": 0.5,
               "options": [2, 5]}}, "options is a mapping"),
    ({"issue": {"label": "taxonomy.issue", "model": "tfidf-linear", "role": "annotate", "threshold": 0.5}}, "exactly one task"),
    ({"team": {"label": "taxonomy.team", "model": "tfidf-linear", "role": "queue", "threshold": 0.5},
      "vulnerable": {"label": "taxonomy.vulnerable", "model": "tfidf-linear", "role": "flag", "threshold": 0.3,
                     "queue": "Specialist"}}, "decision threshold from the model"),
    ({"team": {"label": "taxonomy.team", "model": "gbdt", "role": "queue", "threshold": 0.5}}, "model kinds"),
    ({"team": {"label": "taxonomy.team", "model": "tfidf-linear", "role": "queue", "threshold": 0.5},
      "issue": {"label": "taxonomy.issue", "model": "tfidf-linear", "role": "annotate", "threshold": 0.2,
                "within": "product"}}, "within 'product' must name another multi-class task"),
    ({"team": {"label": "taxonomy.team", "model": "tfidf-linear", "role": "queue", "threshold": 0.5},
      "vulnerable": {"label": "taxonomy.vulnerable", "model": "tfidf-linear", "role": "flag",
                     "queue": "Specialist", "within": "team"}}, "only a multi-class task has one"),
    ({"team": {"label": "taxonomy.team", "model": "tfidf-linear", "role": "queue", "threshold": 0.5,
               "target": {"accuracy": 0.8}, "minimum": {"recall": 0.5}}}, "minimum is {accuracy"),
    ({"team": {"label": "taxonomy.team", "model": "tfidf-linear", "role": "queue", "threshold": 0.5,
               "minimum": {"accuracy": 0.7}}}, "needs its target"),
])
def test_a_broken_task_config_names_the_task_and_the_problem(tmp_path, tasks, message):
    with pytest.raises(TaskConfigError, match=message):
        load_tasks(write(tmp_path, tasks))
