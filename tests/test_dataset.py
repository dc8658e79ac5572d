"""The training data as a versioned dataset (model/dataset.py, model/dataset_hub.py, `complaints dataset export`):
split as training splits it, labelled with the taxonomy's classes, redacted, described by its card; pushed to the local
Hub as a private dataset repo's revision tagged with its content hash; and trained on, from its folder or from
hf://NAMESPACE/NAME@REVISION, into the very versions its CSV trained, with the model card and the audit naming it."""

import csv
import shutil
from collections import Counter

import huggingface_hub.constants
import pytest
from datasets import ClassLabel, load_from_disk

from complaints.config import Settings
from complaints.deployment import Deployment
from complaints.model_card import read_model_card
from complaints.records import Feedback, StoredComplaint
from complaints.redaction import redact
from complaints.splits import fingerprint, fold_of
from complaints.strategy import champions
from conftest import PROVENANCE, last_json, sample, write_csv, write_manifest
from model.baseline import BaselineConfig
from model.dataset import SPLITS, build, content_hash, save, version
from model.dataset_card import write_dataset_card
from model.train import TrainingArguments, train
from model.training_data import training_set
from test_registry_hub import hub  # noqa: F401 - the local Hub, a fixture
from testing.pii_cases import build_cases

DATASET = "megabank/complaints-triage-data"
NARRATIVE = "Consumer complaint narrative"


def warm_home(trained_home, folder):
    """A home with no models or corrections, holding the redaction cache of the trained home (the sample, redacted)."""
    folder.mkdir(parents=True)
    shutil.copy(Settings.from_env(home=trained_home).redaction_cache_path, folder)
    return folder


@pytest.fixture(scope="module")
def exported(sample_csv, trained_home, tmp_path_factory):
    """The sample's export, from a home without corrections: (its folder, the export, the home)."""
    home = warm_home(trained_home, tmp_path_factory.mktemp("export") / "home")
    out = tmp_path_factory.mktemp("export") / "dataset"
    return out, export_to(Deployment.embedded(Settings.from_env(home=home)), sample_csv, out), home


def sample_rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def export_to(deployment, data, out):
    """`complaints dataset export`'s steps: the export, saved, with its card."""
    export = build(deployment, data, PROVENANCE)
    write_dataset_card(save(export, out), export)
    return export


def csv_versions(trained_home):
    """The versions the sample's CSV trained (conftest: BaselineConfig(max_iter=100), provenance=PROVENANCE)."""
    deployment = Deployment.embedded(Settings.from_env(home=trained_home))
    return champions(deployment, [task.name for task in deployment.tasks])


def test_the_splits_are_trainings_by_narrative(exported, sample_csv):
    out, export, home = exported
    dataset = load_from_disk(str(out))
    deployment = Deployment.embedded(Settings.from_env(home=home))
    splits = training_set(deployment, deployment.tasks, sample_csv, provenance=PROVENANCE).splits
    sides = {split: set(dataset[split]["narrative_fingerprint"]) for split in SPLITS}
    assert not (sides["train"] & sides["validation"] or sides["train"] & sides["test"]
                or sides["validation"] & sides["test"])  # no narrative on two sides
    assert sum(dataset[split].num_rows for split in SPLITS) == 800
    training, held_out = splits["team"]  # every row has a team: one example per narrative
    assert sides["test"] == {fingerprint(c.narrative) for c, _ in held_out}
    assert sides["train"] | sides["validation"] == {fingerprint(c.narrative) for c, _ in training}
    assert sides["validation"] == {fingerprint(c.narrative) for c, _ in training if fold_of(c.narrative) == 0}
    for task, (training, held_out) in splits.items():  # each example's label is its row's
        column = f"{task}_label"
        names = dataset["train"].features[column]
        rows = {(cid, names.int2str(y)) for split in SPLITS
                for cid, y in zip(dataset[split]["complaint_id"], dataset[split][column])}
        assert {(c.complaint_id, y) for c, y in training + held_out} <= rows


def test_labels_are_the_taxonomys_class_labels_beside_the_cfpbs(exported, sample_csv):
    out, export, _ = exported
    dataset, taxonomy = load_from_disk(str(out)), export.taxonomy
    features = dataset["train"].features
    assert all(isinstance(features[f"{task}_label"], ClassLabel) for task in ("team", "issue", "vulnerable"))
    assert features["team_label"].names == list(taxonomy.teams)
    assert features["issue_label"].names == list(taxonomy.canonical_issues)
    assert features["vulnerable_label"].names == ["no", "yes"]
    row = dataset["test"][0]
    original = next(r for r in sample_rows(sample_csv) if r["Complaint ID"] == row["complaint_id"])
    assert (row["product"], row["issue"]) == (original["Product"], original["Issue"])  # the era's labels, as filed
    assert features["team_label"].int2str(row["team_label"]) == taxonomy.team(original["Product"],
                                                                              original["Sub-product"])
    assert row["source"] and row["origin"] == "sample.csv"


def test_the_card_has_the_counts_the_taxonomy_and_the_hash(exported):
    out, export, _ = exported
    card = (out / "README.md").read_text(encoding="utf-8")
    digest = content_hash(load_from_disk(str(out)))
    assert digest == export.content_hash  # what was saved is what was built, whatever the files
    assert f"sha256:{digest}" in card and f"version: {version(digest)}" in card
    assert "| `sample.csv` | 800 | 800 | 0 |" in card  # where every row came from
    for split in SPLITS:
        assert f"| {split} | {export.dataset[split].num_rows:,} |" in card
    assert f"taxonomy {export.taxonomy.version}" in card and "license: other" in card
    tagged = sum(export.column("all_tagged_source"))
    assert tagged and f"{tagged:,} rows come from a public sample that kept only fully filled rows" in card
    assert "Repeated narratives" in card and "tick box" in card and "Product skew" in card


def test_the_export_holds_no_raw_personal_data_and_reads_back_to_itself(cfpb_rows, trained_home, tmp_path):
    rows = [dict(row) for row in sample(cfpb_rows, 6, salt="pii")]
    cases = build_cases([row[NARRATIVE] for row in rows[:3]])
    for row, case in zip(rows, cases):
        row[NARRATIVE] = case.text
    items = [case.text[start:end] for case in cases for start, end, kind in case.items
             if kind != "NAME_NO_CUE"]  # every kind intake finds in full (docs/security-and-privacy.md)
    data = write_csv(tmp_path / "pii.csv", rows)
    deployment = Deployment.embedded(Settings.from_env(home=warm_home(trained_home, tmp_path / "home")))
    out = tmp_path / "dataset"
    export = export_to(deployment, data, out)
    files = b"".join(path.read_bytes() for path in out.rglob("*") if path.is_file())
    assert items and not [item for item in items if item.encode() in files]
    assert "[SSN]" in files.decode("utf-8", "replace") and "[EMAIL]" in files.decode("utf-8", "replace")
    again = training_set(deployment, deployment.tasks, out)  # intake redacts the redacted text to itself
    assert {c.complaint_id: c.narrative for c in again.complaints} == {
        c.complaint_id: c.narrative for c in export.training.complaints}


@pytest.mark.parametrize("text, redacted", [
    # A token read as written made "Messerli" a person: the recogniser reads it as the CFPB's mask.
    ("The company is Messerli and Kramer, a debt collector.", "The company is Messerli and [NAME], a debt collector."),
    # "Purvis" is a person once "Chester" is masked: redaction runs again until nothing changes.
    ("Codified at 15 U.S.C 1681b ( a ) 3 ( f ) ( i ). Chester v. Purvis, 260 F. Supp 2d 711 ( S.D. Ind. 2003 ).",
     "Codified at 15 U.S.C 1681b ( a ) 3 ( f ) ( i ). [NAME], 260 F. Supp 2d 711 ( S.D. Ind. 2003 )."),
])
def test_redacting_a_redacted_text_changes_nothing(text, redacted):
    assert redact(text)[0] == redacted and redact(redacted) == (redacted, Counter())


def test_training_on_the_export_folder_gives_the_versions_of_its_csv(exported, trained_home, tmp_path):
    out, _, _ = exported
    deployment = Deployment.embedded(Settings.from_env(home=warm_home(trained_home, tmp_path / "home")))
    results = train(deployment, TrainingArguments(data=out, provenance=PROVENANCE,
                                                  baseline=BaselineConfig(max_iter=100)))
    assert {r.task: r.version for r in results} == csv_versions(trained_home)


def test_pushed_private_tagged_then_trained_from_the_hub_named_by_the_model_card_and_the_audit(
        hub, exported, sample_csv, trained_home, cli_at, tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    out, export, home = exported
    tag = version(export.content_hash)
    code, stdout, err = cli_at(home)("dataset", "export", "--data", str(sample_csv), "--provenance", str(PROVENANCE),
                                     "--out", str(tmp_path / "dataset"), "--push", f"hf://{DATASET}", "--json")
    assert code == 0, err
    pushed = last_json(stdout)
    repo = hub.datasets[DATASET]
    assert pushed["pushed"] == f"hf://{DATASET}@{tag}" and repo.private and not hub.repos
    files = repo.commits[repo.tags[tag]]
    assert {"README.md", "dataset_dict.json", "provenance.csv", "train/dataset_info.json"} <= set(files)
    before = len(hub.requests)
    code, stdout, err = cli_at(home)("dataset", "export", "--data", str(sample_csv), "--provenance", str(PROVENANCE),
                                     "--out", str(tmp_path / "dataset"), "--push", f"hf://{DATASET}", "--json")
    assert code == 0, err
    assert not [path for _, path in hub.requests[before:] if "/commit/" in path]  # same content, nothing uploaded

    trained = cli_at(warm_home(trained_home, tmp_path / "home"))
    code, stdout, err = trained("train", "--data", pushed["pushed"], "--max-iter", "100", "--json")
    assert code == 0, err
    versions = {model["task"]: model["version"] for model in last_json(stdout)["models"]}
    assert versions == csv_versions(trained_home)  # provenance from the export's provenance.csv
    deployment = Deployment.embedded(Settings.from_env(home=tmp_path / "home"))
    dataset = read_model_card(deployment.registry.fetch("team", versions["team"]))["training"]["dataset"]
    assert dataset == {"repo": f"hf://{DATASET}", "revision": tag, "commit": repo.tags[tag],
                       "content_sha256": export.content_hash}

    code, _, err = trained("triage", "--data", str(write_csv(tmp_path / "few.csv", sample_rows(sample_csv)[:3])))
    assert code == 0, err
    complaint_id = sample_rows(sample_csv)[0]["Complaint ID"]
    code, stdout, _ = trained("audit", complaint_id, "--json")
    assert last_json(stdout)["tasks"]["team"]["model_card"]["training"]["dataset"]["revision"] == tag
    code, stdout, _ = trained("audit", complaint_id)
    assert f"dataset hf://{DATASET}@{tag}, commit {repo.tags[tag][:12]}" in stdout


def test_corrections_travel_with_the_export_and_never_to_a_public_repo(
        hub, cfpb_rows, trained_home, cli_at, tmp_path):
    rows = sample(cfpb_rows, 20, salt="corrections")
    data = write_csv(tmp_path / "few.csv", rows)
    home = warm_home(trained_home, tmp_path / "home")
    store = Deployment.embedded(Settings.from_env(home=home)).store
    corrected = rows[0]["Complaint ID"]
    store.import_feedback(Feedback(corrected, "team", "Mortgage", "", "analyst", idempotency_key="k1"))
    store.put_complaint(StoredComplaint("bank-1", "2024-05-02", "The bank charged me twice for one payment.",
                                        {"Product": "Checking or savings account"}, "h", "batch", "2024-05-02"))
    store.import_feedback(Feedback("bank-1", "issue", "Managing an account", "", "analyst", idempotency_key="k2"))
    cli = cli_at(home)

    code, _, err = cli("dataset", "export", "--data", str(data), "--out", str(tmp_path / "dataset"),
                       "--push", "hf://megabank/public-data", "--public")
    assert code == 2 and "refused to push" in err and "2 of its rows hold analysts' corrections" in err
    assert not hub.datasets and not hub.requests  # refused before the Hub was asked anything

    dataset = load_from_disk(str(tmp_path / "dataset"))
    rows_by_id = {row["complaint_id"]: row for split in SPLITS for row in dataset[split]}
    assert rows_by_id[corrected]["corrected_by_analyst"] == "team" and rows_by_id["bank-1"]["origin"] == "store"
    elsewhere = Deployment.embedded(Settings.from_env(home=warm_home(trained_home, tmp_path / "elsewhere")))
    carried = training_set(elsewhere, elsewhere.tasks, tmp_path / "dataset")  # a home without the corrections
    assert carried.corrections == {(corrected, "team"): "Mortgage", ("bank-1", "issue"): "Managing an account"}

    code, stdout, err = cli("dataset", "export", "--data", str(data), "--out", str(tmp_path / "dataset"),
                            "--push", "hf://megabank/internal-data")
    assert code == 0, err
    assert hub.datasets["megabank/internal-data"].private and stdout.strip().endswith(
        f"hf://megabank/internal-data@{version(content_hash(dataset))}")


def test_an_environments_export_holds_the_corrections_its_retrain_learns_from(cfpb_rows, cli_at, tmp_path,
                                                                              monkeypatch):
    rows = sample(cfpb_rows, 10, salt="env-corrections")
    data, deploy = write_csv(tmp_path / "few.csv", rows), tmp_path / "deploy"
    for environment, row, issue in (("dev", rows[0], "Managing an account"), ("prod", rows[1], "Closing an account")):
        store = f"sqlite:///{tmp_path / environment}.sqlite3"
        write_manifest(deploy, environment, store, f"file://{tmp_path / 'registry'}", {"team": {"champion": "0" * 16}})
        Deployment.at(store, f"file://{tmp_path / 'registry'}", Settings.from_env()).store.import_feedback(
            Feedback(row["Complaint ID"], "issue", issue, "", "analyst", idempotency_key="k"))
    prod = deploy / "prod.yaml"
    prod.write_text(prod.read_text(encoding="utf-8") + "promoted_from: dev\n", encoding="utf-8")
    monkeypatch.setenv("COMPLAINTS_DEPLOY_DIR", str(deploy))

    code, _, err = cli_at(tmp_path / "unused-home")("--env", "dev", "dataset", "export", "--data", str(data),
                                                    "--out", str(tmp_path / "dataset"))
    assert code == 0, err
    dataset = load_from_disk(str(tmp_path / "dataset"))
    issues = dataset["train"].features["issue_label"]
    corrected = {row["complaint_id"]: issues.int2str(row["issue_label"]) for split in SPLITS for row in dataset[split]
                 if row["corrected_by_analyst"] == "issue"}
    assert corrected == {rows[0]["Complaint ID"]: "Managing an account", rows[1]["Complaint ID"]: "Closing an account"}
