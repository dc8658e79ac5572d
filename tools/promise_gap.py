"""Does what training promises hold on complaints it has not seen, beyond one split's luck? (`make promise-gap`)

`complaints train` tunes the operating point on out-of-fold answers and measures its promise on one held-out
split, whose realisation carries that split's luck: about 0.01 of automation and 0.02 of the flag's recall, one
standard deviation. This trains the configured tasks as `complaints train` does, once per rotation of the
held-out split (each holds out another fifth of the narrative hash; rotation 0 is the split every version is
trained with), in a scratch home, and reports per rotation what the tuning promised beside what its held-out
split realised, on the mix and on each data file held to the criterion on its own, then the mean over the
rotations with the gap's standard error: the gap the procedure makes, which no single split shows.

    python -m tools.promise_gap [--data DIR] [--rotations 0,1,2,3,4] [--max-rows N] [--home DIR]
                                [--output reports/promise-gap.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from complaints.config import Settings, default_data_path
from complaints.deployment import Deployment
from complaints.splits import FOLDS, HOLDOUT_PERCENT
from model.train import TrainingArguments, train

ROTATIONS = range(100 // HOLDOUT_PERCENT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="a CFPB export or a folder of them (default the shared data)")
    parser.add_argument("--rotations", default=",".join(map(str, ROTATIONS)),
                        help="comma-separated held-out slices to train with (default all)")
    parser.add_argument("--max-rows", type=int, help="a deterministic subset, for quick runs")
    parser.add_argument("--home", type=Path, help="keep the versions each rotation registers in this home")
    parser.add_argument("--output", type=Path, default=Path("reports/promise-gap.json"))
    args = parser.parse_args(argv)
    rotations = [int(r) for r in args.rotations.split(",")]
    with tempfile.TemporaryDirectory(prefix="promise-gap-") as scratch:
        deployment = Deployment.embedded(Settings.from_env(home=args.home or Path(scratch)))
        runs = {rotation: promise_and_realisation(deployment, args.data or default_data_path(), rotation,
                                                  args.max_rows) for rotation in rotations}
    result = {"folds": FOLDS, "holdout_percent": HOLDOUT_PERCENT, "rotations": runs, "mean": mean_gaps(runs)}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(table(result))
    return 0


def promise_and_realisation(deployment: Deployment, data: Path, rotation: int, max_rows: int | None) -> dict:
    """Train with ``rotation``'s slice held out; its thresholds and, per part (the mix, each data file), each
    figure as promised and as realised."""
    results = train(deployment, TrainingArguments(data=data, max_rows=max_rows, holdout_rotation=rotation,
                                                  champion="never", actor="promise-gap"))
    point = results[0].operating_point  # every task's card carries the same point
    held_out = point["held_out"]
    parts = {"all": figures(point["system"], held_out["system"])}
    parts |= {origin: figures(promised, held_out["origins"][origin]) for origin, promised in point["origins"].items()}
    return {"thresholds": point["thresholds"], "versions": {r.task: r.version for r in results}, "parts": parts}


def figures(promised: dict, realised: dict) -> dict[str, dict[str, float]]:
    """The time cut, the share allocated, each task's system accuracy (a flag's recall and the specialist queue's
    share): promised and realised."""
    pairs = {"time_cut": (promised["time_cut"], realised["time_cut"]),
             "allocated": (promised["automation_rate"], realised["automation_rate"])}
    for task, values in promised["tasks"].items():
        metric = "recall" if "recall" in values else "accuracy"
        pairs[task] = (values[metric], realised["tasks"][task][metric])
        if "specialist_share" in values:
            pairs["specialist_queue"] = (values["specialist_share"], realised["tasks"][task]["specialist_share"])
    return {name: {"promised": p, "realised": r} for name, (p, r) in pairs.items()}


def mean_gaps(runs: dict[int, dict]) -> dict:
    """Per part and figure, over the rotations: the mean promised, realised and gap, and the gap's standard
    error (None with one rotation)."""
    means: dict[str, dict] = {}
    first = next(iter(runs.values()))["parts"]
    for part, names in first.items():
        means[part] = {}
        for name in names:
            pairs = [run["parts"][part][name] for run in runs.values() if name in run["parts"].get(part, {})]
            gaps = [p["realised"] - p["promised"] for p in pairs]
            means[part][name] = {
                "promised": round(statistics.fmean(p["promised"] for p in pairs), 4),
                "realised": round(statistics.fmean(p["realised"] for p in pairs), 4),
                "gap": round(statistics.fmean(gaps), 4),
                "gap_se": round(statistics.stdev(gaps) / len(gaps) ** 0.5, 4) if len(gaps) > 1 else None}
    return means


def table(result: dict) -> str:
    """A markdown table per part (the mix, each data file): each rotation's figures as promised / realised (gap),
    then their mean, the gap ± its standard error."""
    lines = [f"Promised on {result['folds']}-fold out-of-fold answers / realised on the rotation's held-out "
             f"{result['holdout_percent']}% (gap)."]
    for part, means in result["mean"].items():
        names = list(means)
        lines += ["", f"**{'all data files' if part == 'all' else part}**", "",
                  "| rotation | " + " | ".join(name.replace("_", " ") for name in names) + " |",
                  "| --- |" + " --- |" * len(names)]
        for rotation, run in result["rotations"].items():
            values = run["parts"].get(part, {})
            lines.append(f"| {rotation} | " + " | ".join(
                f"{values[n]['promised']:.3f} / {values[n]['realised']:.3f} "
                f"({values[n]['realised'] - values[n]['promised']:+.3f})" if n in values else "" for n in names) + " |")
        lines.append("| **mean** | " + " | ".join(
            f"{means[n]['promised']:.3f} / {means[n]['realised']:.3f} ({means[n]['gap']:+.3f}"
            + (f" ± {means[n]['gap_se']:.3f})" if means[n]["gap_se"] is not None else ")") for n in names) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
