"""The ablation behind the champion recipe (`make ablation`): each model variant trained once on the whole
training split (`complaints train` serves the mean of a recipe's ten fold models), scored on the held-out
split, timed here.

Every variant is scored on the same held-out complaints (both shared files, one example per narrative, as
`complaints train` scores). Team and issue: accuracy. Vulnerable (all-tagged sources left out): ROC AUC,
and, flagging from the highest P(yes) down until recall 0.60, the precision and the share flagged.
Training minutes are the three fits (or the one multi-task fine-tune); serving ms is the p50 of one
complaint through all three exported models, as the pipeline serves them. Calibration and thresholds do
not move any of these (they keep every ranking and argmax), so they are left to `complaints train`.

    python -m tools.ablation [--variants words,char,...] [--transformer-epochs E] [--home DIR]
                             [--output reports/ablation.json]
"""

from __future__ import annotations

import argparse
from collections import Counter
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from complaints.deployment import Deployment
from model.evaluation import ranking_metrics
from complaints.predictors import Predictor, load_predictor
from complaints.predictors.transformer_onnx import hierarchical_issue_proba
from complaints.schema import POSITIVE
from complaints.config import Settings, default_data_path
from complaints.splits import Labelled, is_holdout
from model.training_data import TrainingSet, training_set
from data_checks.training import MIN_EXAMPLES_PER_CLASS
from model import baseline

WORDS = baseline.BaselineConfig()  # the team and vulnerable recipe's features and classifier (the issue task's: char-svm)
SERVING_SAMPLE = 200


@dataclass(frozen=True)
class Variant:
    name: str
    what: str
    config: baseline.BaselineConfig
    files: str = "both"  # "complaints.csv.gz" | "both"
    deduplicated: bool = True
    hierarchy: bool = False  # issue weighted by the team model's probabilities and P(issue | team)
    embeddings: bool = False  # frozen MiniLM sentence embeddings stacked with the TF-IDF features


VARIANTS = [
    Variant("words-old-data", "word 1-2 grams, complaints.csv.gz only (the former champion recipe)", WORDS,
            files="complaints.csv.gz", deduplicated=False),
    Variant("words", "word 1-2 grams, both files", WORDS, deduplicated=False),
    Variant("words-dedup", "+ one example per narrative, majority label (the team and vulnerable recipe)", WORDS),
    Variant("balanced", "+ balanced class weights for rare issues", baseline.BaselineConfig(class_weight="balanced")),
    Variant("hierarchy", "+ issue weighted by P(team) x P(issue | team)", WORDS, hierarchy=True),
    Variant("trigrams", "+ word 3-grams, 100,000 features", baseline.BaselineConfig(ngram_max=3, max_features=100_000)),
    Variant("char-svm", "+ character 2-5 grams, linear SVM (the issue recipe; logistic regression with them: over "
                        "30 min a task)",
            baseline.BaselineConfig(char_ngrams=(2, 5), classifier="linear-svm", c=1.0)),
    Variant("embeddings", "+ frozen all-MiniLM-L6-v2 embeddings stacked with TF-IDF", WORDS, embeddings=True),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="a CFPB export or a folder of them (default the shared data)")
    parser.add_argument("--variants", help=f"comma-separated, default all: {','.join(v.name for v in VARIANTS)}")
    parser.add_argument("--transformer-epochs", type=float, default=0,
                        help="also fine-tune the transformer-onnx kind for this many epochs (batch 16, 128 tokens)")
    parser.add_argument("--transformer-steps", type=int, help="stop the fine-tune after this many steps (quick runs)")
    parser.add_argument("--home", type=Path, help="keep the transformer's registered versions in this home "
                                                  "(default: a temporary one)")
    parser.add_argument("--output", type=Path, default=Path("reports/ablation.json"))
    args = parser.parse_args(argv)
    data = args.data or default_data_path()
    chosen = [v for v in VARIANTS if not args.variants or v.name in args.variants.split(",")]
    with tempfile.TemporaryDirectory(prefix="ablation-") as scratch:
        home = args.home or Path(scratch)
        deployment = Deployment.embedded(Settings.from_env(home=home))
        read = {"both": training_set(deployment, deployment.tasks, data)}
        if any(v.files != "both" for v in chosen):
            read["complaints.csv.gz"] = training_set(deployment, deployment.tasks, Path(data) / "complaints.csv.gz")
        holdout = {task: examples for task, (_, examples) in read["both"].splits.items()}
        results = [run(variant, _training_examples(deployment, read[variant.files], variant.deduplicated),
                       read[variant.files], holdout, Path(home)) for variant in chosen]
        if args.transformer_epochs or args.transformer_steps:
            results.append(run_transformer(deployment, data, args.transformer_epochs or 1.0, args.transformer_steps,
                                           holdout))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(table(results))
    return 0


def run(variant: Variant, examples: dict[str, Labelled], data: TrainingSet, holdout: dict[str, Labelled],
        folder: Path) -> dict:
    """Fit the three tasks on the whole training split, one model each, and score: the ablation compares recipes
    (`complaints train` serves the mean of ten fold models of the recipe)."""
    print(f"{variant.name}: fitting", file=sys.stderr, flush=True)
    started = time.perf_counter()
    predictors, extra = {}, {}
    for task, fit_set in examples.items():
        artifact = folder / variant.name / task
        texts = [c.narrative for c, _ in fit_set]
        if variant.embeddings:
            extra[task] = _fit_stacked(texts, [y for _, y in fit_set], task == "vulnerable", variant.config)
        else:
            baseline.fit(texts, [y for _, y in fit_set], task == "vulnerable", artifact, variant.config)
            predictors[task] = load_predictor(artifact)
    minutes = (time.perf_counter() - started) / 60
    proba = {task: (predictors[task].predict_proba([c.narrative for c, _ in holdout[task]]) if task in predictors
                    else extra[task].predict_proba([c.narrative for c, _ in holdout[task]]))
             for task in data.splits}
    labels = {task: (predictors[task].labels if task in predictors else list(extra[task].classes_)) for task in data.splits}
    if variant.hierarchy:
        proba["issue"] = _hierarchical(predictors, data, holdout)
    return {"variant": variant.name, "what": variant.what, **score(proba, labels, holdout),
            "training_minutes": round(minutes, 1),
            "serving_ms_p50": _serving_ms(predictors, holdout) if len(predictors) == 3 and not variant.hierarchy else None}


def score(proba: dict[str, np.ndarray], labels: dict[str, list[str]], holdout: dict[str, Labelled]) -> dict:
    result = {}
    for task in ("team", "issue"):
        predicted = [labels[task][i] for i in proba[task].argmax(axis=1)]
        result[task] = round(float(np.mean([p == y for p, (_, y) in zip(predicted, holdout[task])])), 4)
    positive = np.array([y == POSITIVE for _, y in holdout["vulnerable"]])
    ranking = ranking_metrics(positive, proba["vulnerable"][:, labels["vulnerable"].index(POSITIVE)], 0.60)
    result["vulnerable"] = {"auc": ranking["auc"], "precision_at_recall_0.60": ranking["precision_at_recall_0.60"],
                            "flag_rate_at_recall_0.60": ranking["flag_rate_at_recall_0.60"]}
    return result


def run_transformer(deployment: Deployment, data: Path, epochs: float, steps: int | None, holdout: dict[str, Labelled]
                    ) -> dict:
    """The transformer-onnx kind through the real training job (fit, export to int8 ONNX), scored like the rest."""
    from model.train import TrainingArguments, train
    from model.transformer import TransformerConfig

    started = time.perf_counter()
    config = TransformerConfig(epochs=epochs, max_steps=steps)
    results = train(deployment, TrainingArguments(data=data, kind="transformer-onnx", champion="always",
                                                  transformer=config), progress=True)
    minutes = (time.perf_counter() - started) / 60
    predictors = {r.task: load_predictor(deployment.registry.fetch(r.task, r.version)) for r in results}
    proba = {task: predictors[task].predict_proba([c.narrative for c, _ in holdout[task]]) for task in predictors}
    return {"variant": "transformer", "what": f"all-MiniLM-L6-v2 fine-tuned "
                                              f"{f'{steps} steps' if steps else f'{epochs:g} epochs'} (batch 16, 128 tokens), "
                                              "int8 ONNX", **score(proba, {t: p.labels for t, p in predictors.items()},
                                                                   holdout),
            "training_minutes": round(minutes, 1), "serving_ms_p50": _serving_ms(predictors, holdout)}


def _training_examples(deployment: Deployment, data: TrainingSet, deduplicated: bool) -> dict[str, Labelled]:
    """Each task's training examples: as `complaints train` reads them (one per narrative), or with every copy
    of a repeated narrative under its own label, as training read them before; classes under the training
    gate's minimum left out either way."""
    examples = {}
    for task in deployment.tasks:
        if deduplicated:
            train_set = data.splits[task.name][0]
        else:
            train_set = [(c, y) for c in data.complaints if not is_holdout(c.narrative)
                         and not (task.binary and c.complaint_id in data.all_tagged_ids)
                         and (y := task.label_of(c, deployment.taxonomy)) is not None]
        sizes = Counter(y for _, y in train_set)
        examples[task.name] = [(c, y) for c, y in train_set if task.binary or sizes[y] >= MIN_EXAMPLES_PER_CLASS]
    return examples


def _hierarchical(predictors: dict[str, Predictor], data: TrainingSet, holdout: dict[str, Labelled]) -> np.ndarray:
    """P(issue | text) weighted by Σ_team P(team | text) P(issue | team), the prior counted on the training rows."""
    teams, issues = predictors["team"].labels, predictors["issue"].labels
    counts = np.full((len(teams), len(issues)), 0.1)
    team_of = {c.complaint_id: y for c, y in data.splits["team"][0]}
    for complaint, issue in data.splits["issue"][0]:
        if complaint.complaint_id in team_of and issue in issues and team_of[complaint.complaint_id] in teams:
            counts[teams.index(team_of[complaint.complaint_id]), issues.index(issue)] += 1
    texts = [c.narrative for c, _ in holdout["issue"]]
    return hierarchical_issue_proba(predictors["issue"].predict_proba(texts), predictors["team"].predict_proba(texts),
                                    counts / counts.sum(axis=1, keepdims=True))


def _fit_stacked(texts: list[str], labels: list[str], binary: bool, config: baseline.BaselineConfig):
    """TF-IDF blocks and the mean-pooled frozen encoder's embedding side by side, one logistic regression."""
    from scipy import sparse
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.preprocessing import FunctionTransformer

    tfidf = baseline.make_pipeline(config, binary)
    union = FeatureUnion([("tfidf", tfidf.named_steps["tfidf"]),
                          ("embedding", FunctionTransformer(lambda batch: sparse.csr_matrix(embed(list(batch)))))])
    return Pipeline([("features", union), ("linear", tfidf.named_steps["linear"])]).fit(texts, labels)


def embed(texts: list[str], batch_size: int = 64) -> np.ndarray:
    """Unit-length mean-pooled all-MiniLM-L6-v2 embeddings (the packaged encoder, offline), cached per text."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from model.transformer import PACKAGED_ENCODER, resolve_base_model

    missing = [t for t in dict.fromkeys(texts) if t not in _EMBEDDINGS]
    if missing:
        path = resolve_base_model(PACKAGED_ENCODER)
        tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
        with torch.no_grad():
            for start in range(0, len(missing), batch_size):
                batch = tokenizer(missing[start:start + batch_size], truncation=True, max_length=128, padding=True,
                                  return_tensors="pt")
                hidden = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).float()
                pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=1).numpy()
                _EMBEDDINGS.update(zip(missing[start:start + batch_size], pooled))
    return np.vstack([_EMBEDDINGS[t] for t in texts])


_EMBEDDINGS: dict[str, np.ndarray] = {}


def _serving_ms(predictors: dict[str, Predictor], holdout: dict[str, Labelled]) -> float:
    texts = [c.narrative for c, _ in holdout["team"][:SERVING_SAMPLE]]
    for predictor in predictors.values():
        predictor.predict(texts[:5])  # warm
    times = []
    for text in texts:
        started = time.perf_counter()
        for predictor in predictors.values():
            predictor.predict([text])
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 2)


def table(results: list[dict]) -> str:
    lines = ["| variant | what | team acc | issue acc | vulnerable AUC | precision at recall 0.60 | flagged at recall 0.60 "
             "| training min | serving ms (p50, 3 tasks) |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        v = r["vulnerable"]
        serving = "–" if r["serving_ms_p50"] is None else f"{r['serving_ms_p50']:.1f}"
        lines.append(f"| {r['variant']} | {r['what']} | {r['team']:.3f} | {r['issue']:.3f} | {v['auc']:.3f} "
                     f"| {v['precision_at_recall_0.60']:.3f} | {v['flag_rate_at_recall_0.60']:.3f} "
                     f"| {r['training_minutes']:.1f} | {serving} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
