"""The card (README.md) of a training dataset export, in the Hugging Face format: YAML metadata, then what a reader
needs to use the data honestly: what it is, where every row came from, its licence, its labels and their taxonomy,
its splits and how they are drawn, its known biases (the shared data's README names them) and its content hash."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml

from complaints.registry.base import MODEL_CARD
from datasets import ClassLabel

from complaints.schema import TAGS
from complaints.splits import FOLDS
from model.dataset import (
    ALL_TAGGED, FIELD, FINGERPRINT, SOURCE, SPLITS, VALIDATION_FOLD, DatasetExport, internal_rows, split_of, version,
)
from model.training_data import CORRECTED, ORIGIN, STORE, label_column

CFPB = "https://www.consumerfinance.gov/data-research/consumer-complaints/"


def write_dataset_card(folder: Path, export: DatasetExport) -> Path:
    digest, dataset = export.content_hash, export.dataset
    internal = internal_rows(dataset)
    metadata = {
        "pretty_name": "MegaBank complaints triage: training data",
        "language": ["en"], "task_categories": ["text-classification"],
        "license": "other", "license_name": "cfpb-public-data" + ("-and-internal" if internal else ""),
        "license_link": CFPB, "tags": ["complaints-triage", "cfpb", "consumer-complaints"],
        "complaints_triage": {"content_sha256": digest, "version": version(digest),
                              "taxonomy_version": export.taxonomy.version, "source_sha256": export.training.source_sha256,
                              "rows": {split: dataset[split].num_rows for split in SPLITS}, "internal_rows": internal},
    }
    sections = [_what(export, internal), _origins(export), _licence(internal), _labels(export), _splits(export),
                _biases(export), _hash(digest)]
    path = Path(folder) / MODEL_CARD
    path.write_text("---\n" + yaml.safe_dump(metadata, sort_keys=False) + "---\n\n" + "\n".join(sections),
                    encoding="utf-8")
    return path


def _what(export: DatasetExport, internal: int) -> str:
    rows = sum(export.dataset[split].num_rows for split in SPLITS)
    privacy = (f"It holds {internal:,} rows with analysts' corrections or the bank's own complaints: internal, so it "
               "is private." if internal else "It holds no analyst's correction and no complaint of the bank's own.")
    return (f"# MegaBank complaints triage: training data ({version(export.content_hash)})\n\n"
            f"The {rows:,} complaints the triage models learn from and are scored on, as `complaints train` reads them "
            "(`model/training_data.py`): each narrative as intake redacted it (`complaint_what_happened`, the CFPB "
            "API's name), its date, each task's label under taxonomy "
            f"{export.taxonomy.version} beside the CFPB's labels of its era, and where it came from. Training on it "
            "(`complaints train --data DIR` or `--data hf://NAMESPACE/NAME@REVISION`) trains the same model versions "
            f"as training on the files it was exported from with the same analysts' corrections. {privacy}\n")


def _origins(export: DatasetExport) -> str:
    origins = Counter(export.column(ORIGIN))
    lines = ["## Where every row came from", "",
             "| data file | records read | rows here | rejected by intake |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| `{name}` | {records:,} | {origins[name]:,} | {records - origins[name]:,} |"
              for name, records in export.files.items()]
    if origins[STORE]:
        lines.append(f"| the store: complaints analysts corrected that the files do not hold | | {origins[STORE]:,} | |")
    sources = export.column(SOURCE)
    tagged = Counter(source for source, tags in zip(sources, export.column(FIELD[TAGS])) if tags)
    all_tagged = {source for source, flag in zip(sources, export.column(ALL_TAGGED)) if flag}
    lines += ["", "The public samples they were gathered from (`source`; `provenance.csv` beside the dataset, which "
              "training reads as it reads the one beside the CFPB files):", "",
              "| source | rows | tagged vulnerable | every row tagged |", "| --- | ---: | ---: | --- |"]
    lines += [f"| {source or '(none)'} | {count:,} | {tagged[source]:,} | {'yes' if source in all_tagged else ''} |"
              for source, count in sorted(Counter(sources).items(), key=lambda item: (-item[1], item[0] or ""))]
    return "\n".join(lines) + "\n"


def _licence(internal: int) -> str:
    text = ("## Licence\n\nThe complaints are public data: the US Consumer Financial Protection Bureau publishes them "
            f"in its Consumer Complaint Database ({CFPB}), narratives only with the consumer's consent and after its "
            "own scrubbing (`XXXX`). The label taxonomy (`complaints/config/taxonomy.yaml`) and the redaction are "
            "MegaBank's.")
    if internal:
        text += (" Analysts' corrections and the bank's own complaints are internal: a dataset that holds any is "
                 "pushed only to a private repository (`complaints dataset export --push` refuses `--public`).")
    return text + "\n"


def _labels(export: DatasetExport) -> str:
    lines = ["## Labels", "",
             f"Taxonomy {export.taxonomy.version} (`complaints/config/taxonomy.yaml`) maps every CFPB product and issue "
             "name of every era to a current team and a current issue. Each task's column holds the label training "
             "learns: an analyst's correction where `corrected_by_analyst` names the task, else the taxonomy's reading "
             "of the CFPB's labels, which stand beside it as filed (`product`, `sub_product`, `issue`, `sub_issue`, "
             "`tags`) with the firm complained about (`company`).", "",
             "| column | task | classes |", "| --- | --- | --- |"]
    for task in export.tasks:
        classes = task.classes(export.taxonomy)
        named = ("any value" if classes is None else ", ".join(f"`{name}`" for name in classes) if len(classes) <= 12
                 else f"{len(classes)} (their names are the feature's)")
        lines.append(f"| `{label_column(task.name)}` | {task.name} (`{task.label}`) | {named} |")
    corrected = Counter(task for value in export.column(CORRECTED) if value for task in value.split(","))
    if corrected:
        lines += ["", "Labels an analyst set: " + ", ".join(f"{task} {n:,}" for task, n in sorted(corrected.items())) + "."]
    return "\n".join(lines) + "\n"


def _splits(export: DatasetExport) -> str:
    examples = _examples(export)
    lines = ["## Splits", "",
             "Drawn from a hash of the narrative (case and whitespace normalised: `narrative_fingerprint`, "
             "`complaints/splits.py`), so every copy of a narrative is on one side and no text is on two. `test` is "
             "training's held-out split (20%). Training has no validation split of its own: it tunes calibration and "
             f"the operating point on out-of-fold answers over the {FOLDS} folds of its training split; `validation` is "
             f"fold {VALIDATION_FOLD} of them (the fold the transformer kind tunes on) and `train` the others. "
             "Training reads `train` and `validation` together as its training split.", "",
             "| split | rows | narratives |" + "".join(f" {task} examples |" for task in examples),
             "| --- | ---: | ---: |" + " ---: |" * len(examples)]
    for split in SPLITS:
        narratives = len(set(export.dataset[split][FINGERPRINT]))
        lines.append(f"| {split} | {export.dataset[split].num_rows:,} | {narratives:,} |"
                     + "".join(f" {examples[task][split]:,} |" for task in examples))
    lines += ["", "A task learns and is scored on each narrative once, with its copies' majority label (an analyst's "
              "correction of any copy decides); a flag task leaves out the rows of a sample that tagged every row "
              "(`all_tagged_source`), and training leaves out a class with fewer than 5 training examples."]
    return "\n".join(lines) + "\n"


def _examples(export: DatasetExport) -> dict[str, dict[str, int]]:
    """Per task, the examples training learns and is scored on in each split (one per narrative)."""
    counts = {}
    for task, (training, held_out) in export.training.splits.items():
        sides = Counter(split_of(complaint.narrative) for complaint, _ in training)
        counts[task] = {"train": sides["train"], "validation": sides["validation"], "test": len(held_out)}
    return counts


def _biases(export: DatasetExport) -> str:
    fingerprints, flags, tags = export.column(FINGERPRINT), export.column(ALL_TAGGED), export.column(FIELD[TAGS])
    repeated = len(fingerprints) - len(set(fingerprints))
    others = [tag for tag, flag in zip(tags, flags) if not flag]
    rate = sum(1 for tag in others if tag) / len(others) if others else 0.0
    lines = ["## Known biases", "",
             f"- **A source that tagged every row**: {sum(flags):,} rows come from a public sample that kept only fully "
             "filled rows, so every one is tagged vulnerable (2015-2017 debt collection and student loans); the "
             f"vulnerable task neither learns from nor is scored on them. Of the other rows {rate:.1%} are tagged.",
             f"- **Repeated narratives**: {repeated:,} rows ({repeated / max(len(fingerprints), 1):.1%}) repeat another "
             "row's narrative under another complaint id (one consumer, several companies); copies share a "
             "`narrative_fingerprint` and a split.",
             "- **The tag is a tick box**: `Older American` and `Servicemember` are set by the person filing, not read "
             "from the text; many vulnerable customers' narratives carry none.",
             "- **Eras**: the CFPB renamed products and issues in 2017 and around 2023; the taxonomy maps every name "
             "of every era, never merging distinct issues."]
    queue = next((task for task in export.tasks if task.role == "queue"), None)
    if queue is not None:
        column = label_column(queue.name)
        feature = export.dataset[SPLITS[0]].features[column]
        teams = Counter(feature.int2str(value) if isinstance(feature, ClassLabel) else value
                        for value in export.column(column) if value is not None)
        lines += ["- **Product skew**: two public samples were filtered to a few products, so a few teams dominate:",
                  "", f"| {queue.name} | rows |", "| --- | ---: |"]
        lines += [f"| {team} | {count:,} |" for team, count in teams.most_common()]
    return "\n".join(lines) + "\n"


def _hash(digest: str) -> str:
    return (f"## Content hash\n\n`sha256:{digest}`: the sha256 of each split in order (train, validation, test): its "
            "name, its features (the taxonomy's class names among them) and its rows as JSON (`model/dataset.py`), "
            "whatever files it is saved in; this card is not part of it. Its first 16 digits, "
            f"`{version(digest)}`, are the dataset's version and its tag on the Hub.\n")
