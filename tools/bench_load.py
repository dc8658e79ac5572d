"""Load benchmark: a day at peak (15,000 complaints) from one file, through the embedded pipeline and through
the deployed state machine on moto; complaints per second, peak memory, and zero lost.

``make bench-load``. A benchmark, not a test: it measures and reports. The batches are real complaints drawn
with replacement from the shared CFPB files (``--data``), each under a fresh unique id, written to a temporary
folder (never the checkout). The champions are the local registry's (``make run`` registers baseline ones).
Each run is its own process, so its peak RSS (Linux's VmHWM) is that run's alone:

* ``embedded``: ``complaints triage`` as it runs, intake streaming chunks into the pipeline, a fresh SQLite
  store; peak RSS at each size shows whether memory grows with the file;
* ``intake``: intake alone, streamed (``read_chunks``) and whole (``read_batch``), for comparison;
* ``moto``: the file through the state machine (testing/moto_stack.py: the real handlers, chunked as Terraform
  configures). moto keeps every object, item and execution event in this process, so its RSS grows with
  the batch by construction and says nothing about a Lambda's memory.

Lost = rows - (allocated + manual triage + rejected), allocations counted in the store per complaint id.
The result is printed and written to ``--output``.

    python -m tools.bench_load [--sizes 5000 15000] [--output reports/bench-load.json]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import yaml

from complaints.deployment import Deployment
from complaints.intake import data_files, read_batch, read_chunks
from model.manifest import ReleaseManifest
from complaints.pipeline import TriagePipeline
from complaints.records import ALLOCATED
from complaints.schema import COMPLAINT_ID, NARRATIVE
from complaints.config import Settings, default_data_path
from complaints.store.base import TriageStore
from complaints.store.sqlite import SQLiteStore
from complaints.strategy import NoChampionError, strategies

DEFAULT_SIZES = (5_000, 15_000)
EXECUTION_TIMEOUT_S = 3_600


def write_batch(sources: list[Path], size: int, folder: Path, seed: int = 0) -> Path:
    """``size`` real complaints with a narrative, drawn with replacement, each with a fresh unique id."""
    rows, columns = [], {}
    for source in sources:
        with gzip.open(source, "rt", encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            rows += [row for row in reader if (row.get(NARRATIVE) or "").strip()]
            columns.update(dict.fromkeys(reader.fieldnames or []))
    path = folder / f"load-{size}.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), restval="")
        writer.writeheader()
        for number, row in enumerate(random.Random(seed).choices(rows, k=size), start=1):
            writer.writerow({**row, COMPLAINT_ID: f"load-{size}-{number:06d}"})
    return path


def _peak_rss_mb() -> float:
    """This process's peak resident set so far: Linux's VmHWM, which exec resets (getrusage's ru_maxrss does
    not: a child would report the peak of the process that spawned it)."""
    status = Path("/proc/self/status").read_text(encoding="ascii")
    return round(int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024, 1)


def _ended(store: TriageStore, path: Path) -> dict[str, int]:
    """Allocated and manual-triage complaints among the file's ids, as the store holds them."""
    ended = Counter()
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            allocation = store.get_allocation(row[COMPLAINT_ID])
            if allocation is not None:
                ended["allocated" if allocation.status == ALLOCATED else "manual_triage"] += 1
    return {"allocated": ended["allocated"], "manual_triage": ended["manual_triage"]}


def _counts(rows: int, peak_rss_mb: float, ended: dict[str, int], rejected: int, seconds: float) -> dict:
    """The run's figures; its peak RSS is taken when the run ends, before the store is counted."""
    return {"rows": rows, **ended, "rejected": rejected,
            "lost": rows - (ended["allocated"] + ended["manual_triage"] + rejected),
            "seconds": round(seconds, 1), "complaints_per_s": round(rows / seconds, 1), "peak_rss_mb": peak_rss_mb}


def run_intake(path: Path, settings: Settings, whole: bool) -> dict:
    """Intake alone: every chunk consumed as it comes (streamed), or the whole batch held (read_batch)."""
    taxonomy = Deployment.embedded(settings).taxonomy
    started = time.perf_counter()
    if whole:
        rows = read_batch(path, taxonomy).rows
    else:
        rows = sum(chunk.rows for chunk in read_chunks(path, taxonomy))
    return {"rows": rows, "seconds": round(time.perf_counter() - started, 1), "peak_rss_mb": _peak_rss_mb()}


def run_embedded(path: Path, settings: Settings, scratch: Path) -> dict:
    """The file through the embedded pipeline as ``complaints triage --data`` runs it, into a fresh SQLite
    store that serves the registry's champions."""
    deployment = Deployment.embedded(settings)
    store = SQLiteStore(scratch / "store.sqlite3")
    for strategy in strategies(deployment).values():
        store.put_strategy(replace(strategy, revision=0))
    deployment = replace(deployment, store=store)
    rss_before_mb = _peak_rss_mb()
    started = time.perf_counter()
    report = TriagePipeline(deployment).triage(read_chunks(path, deployment.taxonomy, settings.chunk_size))
    seconds, peak_rss_mb = time.perf_counter() - started, _peak_rss_mb()
    rejected = len(store.list_rejections(report.batch_id))
    return {**_counts(report.rows, peak_rss_mb, _ended(store, path), rejected, seconds),
            "rss_before_mb": rss_before_mb, "rejected_reasons": dict(report.rejected_reasons)}


def run_moto(path: Path, settings: Settings, scratch: Path) -> dict:
    """The file through the deployed state machine on moto, the registry's champions released to it."""
    from testing.moto_stack import NAME_PREFIX, REGION, running_stack  # the dev extra: moto, python-hcl2

    deployment = Deployment.embedded(settings)
    serving = strategies(deployment)
    manifest_path = scratch / "bench.yaml"
    manifest_path.write_text(yaml.safe_dump({
        "environment": "bench", "store": f"dynamodb://{NAME_PREFIX}?region={REGION}",
        "registry": f"file://{settings.registry_dir}", "tasks": {t: {"champion": s.champion} for t, s in serving.items()},
    }, sort_keys=False))
    manifest = ReleaseManifest.load(manifest_path)
    with running_stack(manifest, settings.registry_dir, deployment.tasks, deployment.taxonomy) as stack:
        started = time.perf_counter()
        execution = stack.run(stack.put_batch(f"inbox/{path.name}", path), timeout_s=EXECUTION_TIMEOUT_S)
        seconds, peak_rss_mb = time.perf_counter() - started, _peak_rss_mb()
        if execution["status"] != "SUCCEEDED":
            raise RuntimeError(f"the execution ended {execution['status']}: {execution.get('error', '')}")
        intake = json.loads(execution["output"])["intake"]
        result = _counts(intake["rows"], peak_rss_mb, _ended(stack.store, path), intake["rejected"], seconds)
        return {**result, "invocations": dict(stack.invocations.calls), "dead_letters": len(stack.dead_letters())}


RUNS = {"embedded": run_embedded, "moto": run_moto}


def _child(run: str, path: Path) -> dict:
    """One run in a fresh process, so its peak RSS is its own."""
    done = subprocess.run([sys.executable, "-m", "tools.bench_load", "--run", run, "--file", str(path)],
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{run} on {path.name} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", type=Path,
                        help="CFPB-format .csv.gz files to draw from (default: every one beside the shared sample)")
    parser.add_argument("--sizes", nargs="+", type=int, default=list(DEFAULT_SIZES))
    parser.add_argument("--paths", nargs="+", choices=sorted(RUNS), default=sorted(RUNS))
    parser.add_argument("--output", default="reports/bench-load.json", help="where the JSON result is also written")
    parser.add_argument("--run", choices=sorted(RUNS) + ["streamed", "whole"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    settings = Settings.from_env()

    if args.run:  # one measured run, in its own process
        with tempfile.TemporaryDirectory() as scratch:
            if args.run in RUNS:
                result = RUNS[args.run](args.file, settings, Path(scratch))
            else:
                result = run_intake(args.file, settings, whole=args.run == "whole")
        print(json.dumps(result))
        return 0

    try:
        strategies(Deployment.embedded(settings))
    except NoChampionError as error:
        raise SystemExit(f"{error} (`make run` registers baseline champions)") from None
    shared = default_data_path()
    sources = args.data or (data_files(shared) if shared else [])
    if not sources:
        raise SystemExit("no CFPB data: pass --data or see README, 'Data'")
    started = time.perf_counter()
    result: dict = {"sources": [str(s) for s in sources], "sizes": args.sizes, "intake": {}}
    with tempfile.TemporaryDirectory() as folder:
        files = {size: write_batch(sources, size, Path(folder)) for size in args.sizes}
        for size, path in files.items():
            result["intake"][size] = {mode: _child(mode, path) for mode in ("streamed", "whole")}
            print(f"intake {size:,}: {result['intake'][size]}", file=sys.stderr, flush=True)
        for run in args.paths:
            result[run] = {}
            for size, path in files.items():
                result[run][size] = _child(run, path)
                print(f"{run} {size:,}: {result[run][size]}", file=sys.stderr, flush=True)
    result["lost"] = sum(r["lost"] for run in args.paths for r in result[run].values())
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 1 if result["lost"] else 0


if __name__ == "__main__":
    sys.exit(main())
