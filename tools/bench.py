"""Serving benchmark: the champions as the pipeline serves them, and the transformer path against the naive
approach.

Measures each task's champion, whatever its kind, on real narratives one complaint at a time through every
task: latency p50/p95, batch throughput, and cold start (a new process until its first prediction). When
every task has a ``transformer-onnx`` version registered, it measures those too (the champion where it is
one, else the newest), against the naive approach: one ``transformers.pipeline("text-classification")``
per task in torch fp32 on the same base encoder and label counts, truncated where the served models
truncate (its heads are untrained: only its speed is measured). The last line printed is a JSON summary;
the whole result is written to ``--output``.

    python -m tools.bench [--data PATH] [--complaints 200] [--output reports/bench.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from complaints.deployment import Deployment
from complaints.intake import read_batch
from complaints.predictors import Predictor, load_predictor
from complaints.config import Settings, default_data_path
from complaints.predictors.transformer_onnx import KIND as TRANSFORMER_KIND
from complaints.strategy import NoChampionError, champions

_COLD_START = """
import sys
from complaints.predictors import load_predictor
for predictor in [load_predictor(path) for path in sys.argv[1:]]:
    predictor.predict(["My credit report shows an account that is not mine."])
print("first prediction", flush=True)
"""
_NAIVE = """
import sys
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
base, max_tokens, counts = sys.argv[1], int(sys.argv[2]), [int(n) for n in sys.argv[3:]]
tokenizer = AutoTokenizer.from_pretrained(base)
pipes = [pipeline("text-classification", model=AutoModelForSequenceClassification.from_pretrained(base, num_labels=n),
                  tokenizer=tokenizer, truncation=True, max_length=max_tokens) for n in counts]
for pipe in pipes:
    pipe("My credit report shows an account that is not mine.")
print("first prediction", flush=True)
"""


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    return round(float(np.percentile(seconds, 50)) * 1000, 2), round(float(np.percentile(seconds, 95)) * 1000, 2)


def _cold_start(code: str, args: list[str]) -> float:
    """Seconds from spawning a Python process to its first prediction line."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)
    for line in process.stdout:
        if line.startswith("first prediction"):
            elapsed = time.perf_counter() - started
            process.wait()
            return round(elapsed, 3)
    raise RuntimeError(f"cold-start process exited with {process.wait()} before predicting")


def serving_latency(predictors: list[Predictor], texts: list[str]) -> dict:
    for text in texts[:10]:  # warm up sessions and caches
        for predictor in predictors:
            predictor.predict([text])
    per_complaint = []
    for text in texts:
        started = time.perf_counter()
        for predictor in predictors:
            predictor.predict([text])
        per_complaint.append(time.perf_counter() - started)
    started = time.perf_counter()
    for predictor in predictors:
        predictor.predict(texts)
    throughput = len(texts) / (time.perf_counter() - started)
    p50, p95 = _percentiles(per_complaint)
    return {"p50_ms": p50, "p95_ms": p95, "throughput_per_s": round(throughput, 1)}


def naive_latency(base_model: str, label_counts: list[int], texts: list[str], max_tokens: int) -> dict:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    tokenizer = AutoTokenizer.from_pretrained(base_model)
    pipes = [pipeline("text-classification", tokenizer=tokenizer, truncation=True, max_length=max_tokens,
                      model=AutoModelForSequenceClassification.from_pretrained(base_model, num_labels=n))
             for n in label_counts]
    for text in texts[:5]:
        for pipe in pipes:
            pipe(text)
    per_complaint = []
    for text in texts:
        started = time.perf_counter()
        for pipe in pipes:
            pipe(text)
        per_complaint.append(time.perf_counter() - started)
    p50, p95 = _percentiles(per_complaint)
    return {"naive_p50_ms": p50, "naive_p95_ms": p95}


def transformer_versions(deployment: Deployment) -> dict[str, str] | None:
    """Per task, its champion when that is a ``transformer-onnx`` version, else its newest registered one of
    that kind; None when some task has no transformer version (the transformer path cannot be measured)."""
    serving = champions(deployment)
    versions = {}
    for task in deployment.tasks:
        infos = [deployment.store.get_model_info(task.name, v) for v in deployment.registry.versions(task.name)]
        candidates = sorted((i for i in infos if i is not None and i.kind == TRANSFORMER_KIND),
                            key=lambda i: i.registered_at)
        if not candidates:
            return None
        champion = serving[task.name]
        versions[task.name] = champion if any(i.version == champion for i in candidates) else candidates[-1].version
    return versions


def measure(deployment: Deployment, versions: dict[str, str], texts: list[str]) -> tuple[dict, list[Predictor]]:
    """Latency, throughput and cold start of ``versions`` (task -> version) as the pipeline loads them; and
    the loaded predictors."""
    paths = [deployment.registry.fetch(task, version) for task, version in versions.items()]
    predictors = [load_predictor(path) for path in paths]
    models = {task: f"{p.meta['kind']}@{version}" for (task, version), p in zip(versions.items(), predictors)}
    return {"models": models, **serving_latency(predictors, texts),
            "cold_start_s": _cold_start(_COLD_START, [str(p) for p in paths])}, predictors


def naive_comparison(predictors: list[Predictor], texts: list[str]) -> dict:
    """The naive torch pipelines on the transformer versions' base encoder, truncated where they truncate."""
    from model.transformer import resolve_base_model

    max_tokens = max(int(p.meta.get("max_length", 256)) for p in predictors)
    base = resolve_base_model(next(p.meta["base_model"] for p in predictors))
    counts = [len(p.labels) for p in predictors]
    return {"max_tokens": max_tokens, **naive_latency(base, counts, texts, max_tokens),
            "naive_cold_start_s": _cold_start(_NAIVE, [base, str(max_tokens), *map(str, counts)])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="CFPB-format file of narratives (default: the shared CFPB sample)")
    parser.add_argument("--complaints", type=int, default=200, help="complaints timed one at a time")
    parser.add_argument("--output", default="reports/bench.json", help="where the JSON result is also written")
    parser.add_argument("--skip-naive", action="store_true", help="do not measure the naive torch pipelines")
    args = parser.parse_args(argv)

    deployment = Deployment.embedded(Settings.from_env())
    try:
        serving = champions(deployment)
    except NoChampionError as error:
        raise SystemExit(f"{error} (`make run` registers baseline champions)") from None
    complaints = read_batch(Path(args.data) if args.data else default_data_path(), deployment.taxonomy).complaints
    texts = [c.narrative for c in complaints[:: max(1, len(complaints) // args.complaints)]][:args.complaints]

    result = {"complaints": len(texts), **measure(deployment, serving, texts)[0], "transformer": None}
    versions = transformer_versions(deployment)
    if versions is not None:
        transformer, predictors = measure(deployment, versions, texts)
        if not args.skip_naive:
            transformer.update(naive_comparison(predictors, texts))
            transformer["speedup_p50"] = round(transformer["naive_p50_ms"] / transformer["p50_ms"], 1)
        result["transformer"] = transformer
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2))
    keys = ("p50_ms", "p95_ms", "throughput_per_s", "cold_start_s", "naive_p50_ms", "naive_cold_start_s", "speedup_p50")
    summary = {"champions": {k: result[k] for k in keys if k in result},
               "transformer": {k: v for k, v in (result["transformer"] or {}).items() if k in keys} or None}
    print(json.dumps(result, indent=2), file=sys.stderr)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
