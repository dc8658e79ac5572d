"""Explanation benchmark: seconds per explanation of each model kind, cold and warm, on real narratives.

For each kind registered in the deployment (per task: its champion where that is of the kind, else its newest
version of the kind) it explains real narratives with ``explain.explain``:
- warm: in this process, after one explanation has paid the imports and numba's compilation; p50 and max over
  ``--complaints`` narratives, with the model rows the explainer used and the seconds per row;
- cold: a new process until its first explanation is done (Python, imports, ``import shap``, loading the
  version, numba compiling shap's Partition code), and the same with ``NUMBA_DISABLE_JIT=1`` (shap's numba code
  run as Python: no compilation, slower loops), the choice for a process that explains once.
The targets: 1 s for ``tfidf-linear`` and 10 s for ``transformer-onnx``, warm. The cost of an explanation
depends on the version's size (vocabulary, encoder, ``max_length``), not on how long it was trained, so a
version trained for a few steps measures the same. The machine's load average is recorded: the figures are
only as quiet as the machine was. The last line printed is a JSON summary; the whole result goes to
``--output``.

    python -m tools.bench_explain [--home PATH ...] [--complaints 5] [--max-evals N] [--output reports/bench-explain.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from complaints.deployment import Deployment
from complaints.intake import read_batch
from complaints.predictors import KINDS, Predictor, load_predictor
from complaints.config import Settings, default_data_path
from explain import explain
from explain.partition import DEFAULT_MAX_EVALS

TARGETS_S = {"tfidf-linear": 1.0, "transformer-onnx": 10.0}
_COLD = """
import json, sys, time
started = time.perf_counter()
from complaints.predictors import load_predictor
from explain import explain
predictor = load_predictor(sys.argv[1])
loaded = time.perf_counter()
explain(predictor, sys.stdin.read(), max_evals=int(sys.argv[2]))
print(json.dumps({"load_s": loaded - started, "first_explanation_s": time.perf_counter() - loaded}), flush=True)
"""


def versions_of_kind(deployment: Deployment, kind: str) -> dict[str, str]:
    """Per task, its champion when that is of ``kind``, else its newest registered version of ``kind``."""
    found = {}
    for task in deployment.tasks:
        infos = [deployment.store.get_model_info(task.name, v) for v in deployment.registry.versions(task.name)]
        candidates = sorted((i for i in infos if i is not None and i.kind == kind), key=lambda i: i.registered_at)
        if candidates:
            strategy = deployment.store.get_strategy(task.name)
            champion = strategy.champion if strategy else None
            found[task.name] = champion if any(i.version == champion for i in candidates) else candidates[-1].version
    return found


def cold(path: Path, text: str, max_evals: int, **env: str) -> dict:
    """A new process until its first explanation: wall seconds, and its own split between loading and explaining."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", _COLD, str(path), str(max_evals)], input=text,
                            capture_output=True, text=True, env={**os.environ, **env})
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"the cold explanation failed:\n{result.stderr[-2000:]}")
    phases = json.loads(result.stdout.strip().splitlines()[-1])
    return {"wall_s": round(wall, 2), **{k: round(v, 2) for k, v in phases.items()}}


def warm(predictors: list[Predictor], texts: list[str], max_evals: int) -> dict:
    """Seconds per explanation once imports and compilation are paid, over every task and narrative."""
    for predictor in predictors:
        explain(predictor, texts[0], max_evals=max_evals)
    seconds, rows = [], []
    for predictor in predictors:
        for text in texts:
            started = time.perf_counter()
            payload = explain(predictor, text, max_evals=max_evals)
            seconds.append(time.perf_counter() - started)
            rows.append(payload["settings"].get("model_rows", 0))
    result = {"explanations": len(seconds), "p50_s": round(float(np.median(seconds)), 3),
              "max_s": round(max(seconds), 3)}
    if any(rows):
        result.update(model_rows_mean=round(float(np.mean(rows)), 1),
                      ms_per_model_row=round(1000 * sum(seconds) / sum(rows), 2))
    return result


def measure(deployment: Deployment, kind: str, versions: dict[str, str], texts: list[str], max_evals: int) -> dict:
    paths = [deployment.registry.fetch(task, version) for task, version in versions.items()]
    predictors = [load_predictor(path) for path in paths]
    result = {"versions": versions, "max_length": predictors[0].meta.get("max_length"),
              "warm": warm(predictors, texts, max_evals), "cold": cold(paths[0], texts[0], max_evals)}
    if kind == "transformer-onnx":
        result["max_evals"] = max_evals
        result["cold_numba_disabled"] = cold(paths[0], texts[0], max_evals, NUMBA_DISABLE_JIT="1")
    result["target_s"] = TARGETS_S.get(kind)
    result["target_met"] = result["target_s"] is not None and result["warm"]["max_s"] <= result["target_s"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_explain", description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", action="append", type=Path,
                        help="a COMPLAINTS_HOME to take versions from (repeatable: each kind from the first home "
                             "that has it; default: the configured one)")
    parser.add_argument("--data", help="CFPB-format file of narratives (default: the shared CFPB sample)")
    parser.add_argument("--complaints", type=int, default=5, help="narratives explained per task, warm")
    parser.add_argument("--max-evals", type=int, default=DEFAULT_MAX_EVALS, help="model rows Partition may use")
    parser.add_argument("--output", default="reports/bench-explain.json", help="where the JSON result is written")
    args = parser.parse_args(argv)

    deployments = [Deployment.embedded(Settings.from_env(home=home)) for home in args.home or [None]]
    complaints = read_batch(Path(args.data) if args.data else default_data_path(), deployments[0].taxonomy).complaints
    step = max(1, len(complaints) // args.complaints)
    texts = [c.narrative for c in complaints[::step]][:args.complaints]

    result = {"narratives": len(texts), "words_mean": round(float(np.mean([len(t.split()) for t in texts])), 1),
              "cpus": os.cpu_count(), "kinds": {}}
    for kind in KINDS:
        found = next(((d, v) for d in deployments if (v := versions_of_kind(d, kind))), None)
        result["kinds"][kind] = None if found is None else measure(found[0], kind, found[1], texts, args.max_evals)
    result["load_average_1m_after"] = round(os.getloadavg()[0], 2)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2))
    summary = {kind: None if r is None else {"warm_p50_s": r["warm"]["p50_s"], "warm_max_s": r["warm"]["max_s"],
                                             "cold_s": r["cold"]["wall_s"], "target_s": r["target_s"],
                                             "target_met": r["target_met"]}
               for kind, r in result["kinds"].items()}
    print(json.dumps(result, indent=2), file=sys.stderr)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
