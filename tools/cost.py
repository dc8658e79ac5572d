"""Cost and speed of triage on AWS against the triage team, per 1,000 complaints and per month.

    python -m tools.cost [--home COMPLAINTS_HOME] [--data CFPB.csv.gz] [--bench reports/bench.json] [--json]

What it measures now, on this machine, with the champion models of COMPLAINTS_HOME: the serving latency
of one complaint through every task (unless ``--bench`` names a ``make bench`` result, which is then
used), the cold start of a process until its first prediction, the intake time per complaint, and, by
running the real pipeline over real complaints into a scratch SQLite store, how many store reads and
writes one complaint costs and how large its items are. Everything else is a named assumption below;
infra/COST.md explains each. Exit status 1 when the requirement (>= 50% cheaper and >= 50% faster than
the team) is not met.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from complaints.deployment import Deployment
from complaints.intake import IntakeBatch, data_files, read_batch
from complaints.pipeline import TriagePipeline
from complaints.predictors import load_predictor
from complaints.records import as_dict
from complaints.config import Settings, default_data_path
from complaints.store import TriageStore
from complaints.store.sqlite import SQLiteStore
from complaints.strategy import strategies

DAYS_PER_MONTH = 365 / 12
MEASURED_COMPLAINTS = 200
_KEY_BYTES = 100  # an item's key attributes and attribute names, beside its JSON body


@dataclass(frozen=True)
class Prices:
    """AWS list prices, us-east-1, on demand, no free tier, as published on each service's pricing page
    in 2025 (DynamoDB after the 1 November 2024 on-demand price cut). Re-check before budgeting."""

    lambda_gb_second_arm64: float = 0.0000133334
    lambda_request: float = 0.20 / 1e6
    sfn_transition: float = 0.025 / 1000  # Standard workflows
    dynamodb_write_unit: float = 0.625 / 1e6  # per write request unit (1 KB)
    dynamodb_read_unit: float = 0.125 / 1e6  # per read request unit (4 KB strongly consistent, 8 KB eventually)
    dynamodb_storage_gb_month: float = 0.25
    dynamodb_pitr_gb_month: float = 0.20
    http_api_request: float = 1.00 / 1e6  # API Gateway HTTP API, first 300 M a month
    s3_put: float = 0.005 / 1000
    s3_get: float = 0.0004 / 1000
    s3_storage_gb_month: float = 0.023
    logs_ingested_gb: float = 0.50
    logs_stored_gb_month: float = 0.03
    xray_trace: float = 5.00 / 1e6
    kms_key_month: float = 1.00
    kms_request: float = 0.03 / 10_000
    alarm_month: float = 0.10  # standard-resolution metric alarm


@dataclass(frozen=True)
class Assumptions:
    """Everything not measured. Change one with --set NAME=VALUE."""

    loaded_wage_per_hour: float = 35.0  # a $25/h complaints analyst x 1.4 (benefits, payroll taxes, overhead)
    team_minutes_low: float = 1.0  # the triage team's handling time per complaint (issue: 1-3 minutes)
    team_minutes_mid: float = 2.0
    team_minutes_high: float = 3.0
    batches_per_day: int = 96  # file arrivals: one batch every 15 minutes
    chunk_size: int = 100  # infra/modules/functions chunk_size
    max_concurrency: int = 20  # the Map's MaxConcurrency: prod's triage reserved concurrency (infra/envs/prod.tfvars)
    triage_memory_gb: float = 1.0  # infra/modules/functions triage_memory_mb
    intake_memory_gb: float = 1.769  # infra/modules/functions: a full vCPU, so intake's time is as measured here
    submit_memory_gb: float = 0.5
    lambda_vcpu_share: float = 1024 / 1769  # Lambda gives a full vCPU at 1,769 MB; compute time scales by 1/share
    dynamodb_round_trip_s: float = 0.008  # one DynamoDB call from Lambda in-region, SDK included
    s3_round_trip_s: float = 0.030  # one S3 GET or PUT of a chunk
    container_init_s: float = 1.5  # Lambda pulling and starting the image, on top of the Python cold start
    api_cold_starts_per_function_hour: float = 1.0  # steady API traffic: Lambda recycles each environment hourly
    eventbridge_delivery_s: float = 1.0  # S3 object created -> execution started
    step_overhead_s: float = 0.1  # per state transition and Lambda invoke
    submit_s: float = 0.15  # the API's submit function, warm
    log_bytes_per_invocation: int = 600  # START/END/REPORT lines and one "invocation finished" line
    log_bytes_per_chunk: int = 1_200  # the pipeline's "batch started" and "batch finished" lines
    log_bytes_per_transition: int = 1_500  # Step Functions execution history at level ALL, per state transition
    transitions_per_batch: int = 4  # start, Intake, Map, end (triage.asl.json)
    transitions_per_chunk: int = 2  # the Map iteration and its Triage task (a retry or ManualTriage adds more)
    api_log_bytes_per_request: int = 400
    log_retention_months: float = 12.0
    retention_months: float = 12.0  # storage priced after a year of complaints kept
    alarms: int = 17  # infra/modules/alarms: 3 state machine, 1 queue, 8 function, 2 table, 1 API, 1 share (2 metrics)


@dataclass
class Measured:
    source: str
    latency_p50_ms: float
    latency_p95_ms: float
    cold_start_s: float
    intake_ms_per_complaint: float
    reads_per_complaint: float
    writes_per_complaint: float
    write_units_per_complaint: float
    stored_bytes_per_complaint: float
    raw_bytes_per_complaint: float
    models: dict[str, str] = field(default_factory=dict)


class _MeteredStore:
    """Wraps a store: counts the calls the pipeline makes on it and the DynamoDB write units they would
    cost (1 KB each, rounded up per item; an allocation is written twice, table and queue index)."""

    def __init__(self, store: TriageStore):
        self._store = store
        self.reads = self.writes = self.write_units = self.bytes = 0

    def __getattr__(self, name: str):
        method = getattr(self._store, name)

        def call(*args, **kwargs):
            if name.startswith(("get_", "list_")):
                self.reads += 1
            else:
                size = len(json.dumps(as_dict(args[0]), ensure_ascii=False).encode("utf-8")) + _KEY_BYTES
                copies = 2 if name == "put_allocation" else 1
                self.writes += 1
                self.write_units += copies * math.ceil(size / 1024)
                self.bytes += copies * size
            return method(*args, **kwargs)

        return call


def _cold_start(paths: list[Path]) -> float:
    """Seconds from a new Python process to its first prediction with every champion."""
    code = ("import sys; from complaints.predictors import load_predictor; "
            "[load_predictor(p).predict(['My card was charged twice.']) for p in sys.argv[1:]]")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *map(str, paths)], check=True, capture_output=True)
    return time.perf_counter() - started


def _raw_bytes(path: Path) -> int:
    """Uncompressed bytes of a CFPB export (a folder: of its exports)."""
    total = 0
    for file in data_files(path):
        with gzip.open(file, "rb") if file.suffix == ".gz" else open(file, "rb") as handle:
            total += sum(len(block) for block in iter(lambda: handle.read(1 << 20), b""))
    return total


def measure(home: Path, data: Path, bench: Path | None) -> Measured:
    deployment = Deployment.embedded(Settings.from_env(home=home))
    serving = strategies(deployment)
    paths = {task: deployment.registry.fetch(task, s.champion) for task, s in serving.items()}
    started = time.perf_counter()
    batch = read_batch(data, deployment.taxonomy)
    intake_ms = (time.perf_counter() - started) * 1000 / max(1, batch.rows)
    complaints = batch.complaints[:: max(1, len(batch.complaints) // MEASURED_COMPLAINTS)][:MEASURED_COMPLAINTS]

    predictors = {task: load_predictor(path) for task, path in paths.items()}
    for complaint in complaints[:10]:  # warm up, as a warm Lambda is
        for predictor in predictors.values():
            predictor.predict([complaint.narrative])
    seconds = []
    for complaint in complaints:
        started = time.perf_counter()
        for predictor in predictors.values():
            predictor.predict([complaint.narrative])
        seconds.append(time.perf_counter() - started)

    with tempfile.TemporaryDirectory() as scratch:  # a fresh store holding only the champions' strategies
        sqlite = SQLiteStore(Path(scratch) / "store.sqlite3")
        for strategy in serving.values():
            sqlite.put_strategy(replace(strategy, revision=0))
        store = _MeteredStore(sqlite)
        pipeline = TriagePipeline(replace(deployment, store=store))  # one chunk: every complaint at once
        pipeline.triage(IntakeBatch(str(data), batch.source_sha256, complaints))
        sqlite.close()
    n = len(complaints)
    measured = Measured(
        source=f"measured now: {n} real complaints one at a time, the champions of {home}",
        latency_p50_ms=float(np.percentile(seconds, 50) * 1000), latency_p95_ms=float(np.percentile(seconds, 95) * 1000),
        cold_start_s=_cold_start(list(paths.values())), intake_ms_per_complaint=intake_ms,
        reads_per_complaint=store.reads / n, writes_per_complaint=store.writes / n,
        write_units_per_complaint=store.write_units / n, stored_bytes_per_complaint=store.bytes / n,
        raw_bytes_per_complaint=_raw_bytes(data) / max(1, batch.rows),
        models={task: f"{predictor.meta.get('kind')}@{paths[task].name}" for task, predictor in predictors.items()},
    )
    if bench and bench.exists():
        result = json.loads(bench.read_text())
        measured.source = f"{bench} (make bench, {result.get('complaints')} complaints); store traffic measured now"
        measured.latency_p50_ms, measured.latency_p95_ms = float(result["p50_ms"]), float(result["p95_ms"])
        measured.cold_start_s = float(result.get("cold_start_s", measured.cold_start_s))
        measured.models = result.get("models", measured.models)
    return measured


def lambda_seconds_per_complaint(m: Measured, a: Assumptions) -> float:
    """Billed triage time of one complaint: its models (p95, scaled to the Lambda's CPU share), its
    store calls, and its share of the chunk's S3 read."""
    compute = m.latency_p95_ms / 1000 / a.lambda_vcpu_share
    return compute + (m.reads_per_complaint + m.writes_per_complaint) * a.dynamodb_round_trip_s \
        + a.s3_round_trip_s / a.chunk_size


def monthly_cost(per_day: int, arrival: str, m: Measured, p: Prices, a: Assumptions) -> dict[str, float]:
    """Dollars per month by line, for ``per_day`` complaints arriving as files ("files") or each on its
    own through the API ("api": one request, one batch object, one execution per complaint)."""
    month = per_day * DAYS_PER_MONTH
    api = arrival == "api"
    batches = month if api else a.batches_per_day * DAYS_PER_MONTH
    chunks_per_batch = math.ceil(month / batches / a.chunk_size)
    chunks = batches * chunks_per_batch
    if api:  # arrivals every few seconds keep containers warm: submit, intake, triage restart hourly
        cold_starts = 3 * a.api_cold_starts_per_function_hour * 24 * DAYS_PER_MONTH
    else:  # files every 15 minutes: assume every container is cold, intake and each concurrent triage
        cold_starts = batches * (1 + min(chunks_per_batch, a.max_concurrency))
    cold_s = m.cold_start_s / a.lambda_vcpu_share + a.container_init_s
    invocations = batches + chunks + (month if api else 0)
    gb_seconds = (month * lambda_seconds_per_complaint(m, a) * a.triage_memory_gb
                  + month * m.intake_ms_per_complaint / 1000 * a.intake_memory_gb
                  + batches * (1 + chunks_per_batch) * a.s3_round_trip_s * a.intake_memory_gb
                  + (month * a.submit_s * a.submit_memory_gb if api else 0)
                  + cold_starts * cold_s * a.triage_memory_gb)
    transitions = batches * a.transitions_per_batch + chunks * a.transitions_per_chunk
    log_gb = (invocations * a.log_bytes_per_invocation + chunks * a.log_bytes_per_chunk
              + transitions * a.log_bytes_per_transition + (month * a.api_log_bytes_per_request if api else 0)) / 1e9
    table_gb = month * a.retention_months * m.stored_bytes_per_complaint / 1e9
    file_gb = month * a.retention_months * m.raw_bytes_per_complaint / 1e9
    s3_requests = batches * (1 + 1 + chunks_per_batch) * p.s3_put + batches * (1 + chunks_per_batch) * p.s3_get
    return {
        "Lambda compute (GB-seconds)": gb_seconds * p.lambda_gb_second_arm64,
        "Lambda requests": invocations * p.lambda_request,
        "Step Functions transitions": transitions * p.sfn_transition,
        "DynamoDB requests": month * (m.write_units_per_complaint * p.dynamodb_write_unit
                                      + m.reads_per_complaint * p.dynamodb_read_unit),  # strongly consistent
        "DynamoDB storage + PITR (after a year)": table_gb * (p.dynamodb_storage_gb_month + p.dynamodb_pitr_gb_month),
        "API Gateway requests": (month if api else 0) * p.http_api_request,
        "S3 requests + a year of batch files": s3_requests + file_gb * p.s3_storage_gb_month,
        "CloudWatch Logs (ingest + a year kept)": log_gb * (p.logs_ingested_gb + a.log_retention_months * p.logs_stored_gb_month),
        "X-Ray traces": (batches + (month if api else 0)) * p.xray_trace,
        "KMS key + requests": p.kms_key_month + (cold_starts + batches * 2) * p.kms_request,
        "CloudWatch alarms": a.alarms * p.alarm_month,
    }


def allocation_seconds(m: Measured, a: Assumptions, per_batch: int) -> float:
    """Wall-clock seconds from a batch's arrival to its last allocation, with cold starts (worst case)."""
    cold = m.cold_start_s / a.lambda_vcpu_share + a.container_init_s
    chunks = math.ceil(per_batch / a.chunk_size)
    waves = math.ceil(chunks / a.max_concurrency)
    chunk_s = min(per_batch, a.chunk_size) * lambda_seconds_per_complaint(m, a) + a.s3_round_trip_s
    intake_s = per_batch * m.intake_ms_per_complaint / 1000 + 2 * a.s3_round_trip_s
    return a.eventbridge_delivery_s + 4 * a.step_overhead_s + cold + intake_s + cold + waves * (chunk_s + a.step_overhead_s)


def team_cost_per_month(per_day: int, minutes: float, a: Assumptions) -> float:
    return per_day * DAYS_PER_MONTH * minutes / 60 * a.loaded_wage_per_hour


def report(m: Measured, p: Prices, a: Assumptions) -> dict:
    volumes = (3_000, 15_000)
    rows = {}
    for per_day in volumes:
        for arrival in ("files", "api"):
            lines = monthly_cost(per_day, arrival, m, p, a)
            rows[f"{per_day:,}/day {arrival}"] = {"lines": lines, "month": sum(lines.values()),
                                            "per_1000": sum(lines.values()) / (per_day * DAYS_PER_MONTH) * 1000}
    team = {per_day: {"per_1000": team_cost_per_month(per_day, a.team_minutes_mid, a) / (per_day * DAYS_PER_MONTH) * 1000,
                      "month_low": team_cost_per_month(per_day, a.team_minutes_low, a),
                      "month_mid": team_cost_per_month(per_day, a.team_minutes_mid, a),
                      "month_high": team_cost_per_month(per_day, a.team_minutes_high, a)} for per_day in volumes}
    worst_cost_share = max(rows[f"{d:,}/day {arrival}"]["month"] / team[d]["month_low"]
                           for d in volumes for arrival in ("files", "api"))
    one_by_api = allocation_seconds(m, a, 1) + a.submit_s
    per_file = {d: allocation_seconds(m, a, math.ceil(d / a.batches_per_day)) for d in volumes}
    worst_time_s = max(one_by_api, *per_file.values())
    team_fastest_s = a.team_minutes_low * 60
    return {
        "measured": asdict(m), "assumptions": asdict(a), "prices": asdict(p), "systems": rows, "team": team,
        "allocation_s": {"one_complaint_via_api_cold": one_by_api,
                         **{f"last_of_a_{math.ceil(d / a.batches_per_day)}_complaint_file": s for d, s in per_file.items()},
                         "team_per_complaint": [a.team_minutes_low * 60, a.team_minutes_high * 60]},
        "cheaper_by": 1 - worst_cost_share, "faster_by": 1 - worst_time_s / team_fastest_s,
        "requirement_met": worst_cost_share <= 0.5 and worst_time_s <= 0.5 * team_fastest_s,
    }


def _money(value: float) -> str:
    return "$0" if value == 0 else f"${value:,.2f}" if value >= 0.01 else f"${value:,.4f}"


def print_report(r: dict) -> None:
    m, a = r["measured"], r["assumptions"]
    print("Complaints triage on AWS vs the triage team (assumptions and prices: infra/COST.md)\n")
    print(f"Serving latency per complaint, every task: p50 {m['latency_p50_ms']:.2f} ms, p95 {m['latency_p95_ms']:.2f} ms;"
          f" cold start {m['cold_start_s']:.2f} s")
    print(f"  source: {m['source']}")
    print(f"  models: {', '.join(f'{t}={v}' for t, v in m['models'].items())}")
    print(f"Store per complaint (real pipeline run): {m['reads_per_complaint']:.2f} reads, "
          f"{m['writes_per_complaint']:.2f} writes = {m['write_units_per_complaint']:.2f} write units, "
          f"{m['stored_bytes_per_complaint']:,.0f} bytes; intake {m['intake_ms_per_complaint']:.3f} ms\n")
    columns = list(r["systems"])
    print(f"{'per month (us-east-1, arm64)':<42}" + "".join(f"{c:>18}" for c in columns))
    for line in r["systems"][columns[0]]["lines"]:
        print(f"  {line:<40}" + "".join(f"{_money(r['systems'][c]['lines'][line]):>18}" for c in columns))
    print(f"  {'AWS total per month':<40}" + "".join(f"{_money(r['systems'][c]['month']):>18}" for c in columns))
    print(f"  {'AWS per 1,000 complaints':<40}" + "".join(f"{_money(r['systems'][c]['per_1000']):>18}" for c in columns))
    print(f"\nTriage team at ${a['loaded_wage_per_hour']:.0f}/h loaded, {a['team_minutes_low']:.0f}-"
          f"{a['team_minutes_high']:.0f} min per complaint:")
    for per_day, team in r["team"].items():
        print(f"  {per_day:>6,} a day: {_money(team['month_low'])}-{_money(team['month_high'])} per month "
              f"({_money(team['per_1000'])} per 1,000 at {a['team_minutes_mid']:.0f} min)")
    times = r["allocation_s"]
    print("\nTime to allocation (worst case: cold starts, no queueing counted for the team):")
    for name, seconds in times.items():
        if name != "team_per_complaint":
            print(f"  {name.replace('_', ' '):<44} {seconds:8.1f} s")
    print(f"  {'triage team, one complaint':<44} {times['team_per_complaint'][0]:8.0f}-{times['team_per_complaint'][1]:.0f} s")
    verdict = "MET" if r["requirement_met"] else "NOT MET"
    print(f"\nRequirement >= 50% cheaper and >= 50% faster: {verdict} — cheaper by {r['cheaper_by']:.2%} "
          f"(costliest AWS case vs the team at {a['team_minutes_low']:.0f} min), faster by {r['faster_by']:.1%} "
          f"(slowest AWS case vs the team's fastest {a['team_minutes_low'] * 60:.0f} s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", help="COMPLAINTS_HOME with champion models (default: the embedded home)")
    parser.add_argument("--data", help="CFPB-format file (default: the shared CFPB sample)")
    parser.add_argument("--bench", default="reports/bench.json",
                        help="a `make bench` result to take the serving latency from, if it exists (default %(default)s)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override an assumption")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.set:
        name, _, value = item.partition("=")
        if name not in Assumptions.__dataclass_fields__:
            parser.error(f"unknown assumption {name!r}; known: {sorted(Assumptions.__dataclass_fields__)}")
        overrides[name] = type(getattr(Assumptions(), name))(value)
    settings = Settings.from_env(home=args.home)
    data = Path(args.data) if args.data else default_data_path()
    if data is None or not settings.registry_dir.exists():
        print(f"error: needs champion models in {settings.home} (run `make run` or `make train`) and the CFPB "
              f"sample (--data)", file=sys.stderr)
        return 2
    result = report(measure(settings.home, data, Path(args.bench)), Prices(), Assumptions(**overrides))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_report(result)
    return 0 if result["requirement_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
