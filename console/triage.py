"""Triage commands: the main job, a file or one text through the pipeline, a complaint, a queue, and an
analyst's correction."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone

from console.common import DATA_HELP, UsageError, data_path, emit_json, print_promise
from complaints.deployment import Deployment
from complaints.feedback import reallocate
from complaints.intake import IntakeBatch, read_chunks, validate_text
from complaints.pipeline import BatchReport, TriagePipeline
from complaints.records import as_dict
from complaints.config import Settings
from complaints.splits import is_holdout
from complaints.strategy import champions


def add_commands(command) -> None:
    run = command("run", cmd_run, "The main job: train baseline champions if none are registered, triage the "
                                  "held-out split of the data, report per queue with model versions.")
    run.add_argument("--data", help=DATA_HELP)
    run.add_argument("--limit", type=int, help="triage at most this many complaints")

    triage = command("triage", cmd_triage, "Run the triage pipeline on a file of complaints or on one text.")
    source = triage.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help=DATA_HELP)
    source.add_argument("--text", help="triage one complaint narrative")
    triage.add_argument("--json", action="store_true", help='last line: {"rows", "allocated", "manual_triage", "rejected", "by_queue", "model_versions", ...}')

    show = command("show", cmd_show, "Show a stored complaint (redacted), its allocation and the model versions behind "
                                      "it, and the earlier allocations a retriage superseded.")
    show.add_argument("complaint_id")
    show.add_argument("--json", action="store_true", help="print one JSON object")

    queue = command("queue", cmd_queue, "List the newest complaints in a queue (a team, the specialist queue, or "
                                        "'Manual triage').")
    queue.add_argument("queue")
    queue.add_argument("--limit", type=int, default=20)
    queue.add_argument("--json", action="store_true", help="print one JSON object")

    retriage = command("retriage", cmd_retriage, "Run the models again on complaints that a model or task failure "
                                                 "sent to manual triage, once the fault is fixed; an allocation "
                                                 "they now get supersedes the first, which stays in the complaint's "
                                                 "history. Complaints in manual triage for low confidence, and "
                                                 "complaints an analyst corrected, are left alone. Complaints a "
                                                 "stopped run stored and never allocated are allocated. Safe to "
                                                 "re-run.")
    retriage.add_argument("--batch", metavar="BATCH_ID", help="only complaints allocated (or, unfinished, stored) by "
                                                              "this batch")
    retriage.add_argument("--since", metavar="ISO_TIME", help="only complaints allocated (or, unfinished, stored) at "
                                                              "or after this date or time (UTC unless it names an "
                                                              "offset)")
    retriage.add_argument("--dry-run", action="store_true", help="run the models, report, write nothing")
    retriage.add_argument("--json", action="store_true", help='last line: {"examined", "unfinished", "retriaged", '
                                                              '"allocated", "manual_triage", "skipped", '
                                                              '"skipped_reasons", ...}')

    realloc = command("reallocate", cmd_reallocate, "Record an analyst's correction of one task's label; it "
                                                    "becomes training data for the next retrain.")
    realloc.add_argument("complaint_id")
    realloc.add_argument("--task", required=True)
    realloc.add_argument("--label", required=True, help="the correct label (for the team task: the team queue)")
    realloc.add_argument("--analyst", required=True)
    realloc.add_argument("--idempotency-key", metavar="KEY",
                         help="the request's own key (a client that retries sends the same one): a resend under it "
                              "stores nothing again, another correction under it is refused (exit 1) and kept in "
                              "the audit log. Default: derived from the correction and the revision it builds on")
    realloc.add_argument("--expected-revision", metavar="N", type=int,
                         help="the complaint's revision as read (`complaints show`): refused (exit 1, nothing "
                              "stored) if another correction came since. Default: the revision the command reads")


def cmd_run(args, settings: Settings, deployment: Deployment) -> int:
    data = data_path(args.data)
    missing = [t.name for t in deployment.tasks if t.name not in champions(deployment, required=False)]
    if missing:
        from model.train import TrainingArguments, train  # the `train` extra: only when a task has no champion

        print(f"No champion for {missing}: training baseline models on {data} ...", flush=True)
        results = train(deployment, TrainingArguments(data=data, tasks=missing), progress=True)
        print_promise(results[0].operating_point, deployment.operations)
    else:
        print("Champion models already registered: reusing them.")
    chunks = _held_out(read_chunks(data, deployment.taxonomy, settings.chunk_size, redactor=deployment.redactor),
                       args.limit or None)
    report = TriagePipeline(deployment).triage(chunks, progress=True)
    print()
    _print_report(report, settings)
    print("\nNext: `complaints show COMPLAINT_ID`, `complaints queue \"Manual triage\"`, "
          "`complaints evaluate --data PATH`")
    return 0


def _held_out(chunks: Iterable[IntakeBatch], limit: int | None) -> Iterator[IntakeBatch]:
    """The held-out split of a file's chunks, at most ``limit`` complaints, every rejection kept; hashed as a
    selection of the file, so its batch id is its own."""
    left = limit
    for chunk in chunks:
        held_out = [c for c in chunk.complaints if is_holdout(c.narrative)][:left]
        if left is not None:
            left -= len(held_out)
        selection = hashlib.sha256(f"{chunk.source_sha256}\nheld-out split\n{limit}".encode()).hexdigest()
        yield IntakeBatch(f"{chunk.source} (held-out split)", selection, held_out, chunk.rejections, chunk.redactions)


def cmd_triage(args, settings: Settings, deployment: Deployment) -> int:
    if args.text is not None:
        batch = validate_text(args.text, deployment.taxonomy)
        report = TriagePipeline(deployment).triage(batch, progress=not args.json)
        if batch.complaints and not args.json:
            return _show(deployment, batch.complaints[0].complaint_id, as_json=False)
    else:
        report = TriagePipeline(deployment).triage(read_chunks(data_path(args.data), deployment.taxonomy,
                                                               settings.chunk_size, redactor=deployment.redactor),
                                                   progress=not args.json)
    if args.json:
        emit_json(report.as_json())
    else:
        _print_report(report, settings)
    return 0


def _show(deployment: Deployment, complaint_id: str, as_json: bool) -> int:
    complaint = deployment.store.get_complaint(complaint_id)
    if complaint is None:
        raise UsageError(f"no complaint {complaint_id!r} in the store")
    placement = deployment.store.get_placement(complaint_id)
    allocation = placement.allocation if placement else None
    models = {}
    if allocation:
        for task, version in allocation.model_versions.items():
            info = deployment.store.get_model_info(task, version)
            models[task] = {**(as_dict(info) if info else {"version": version}),
                            "gate_decisions": [as_dict(g) for g in deployment.store.list_gate_decisions(task, version)]}
    history = deployment.store.list_allocation_history(complaint_id)
    payload = {"complaint": as_dict(complaint), "allocation": as_dict(allocation) if allocation else None,
               "queue_now": placement.queue if placement else None, "revision": placement.revision if placement else None,
               "allocation_history": [as_dict(a) for a in history], "models": models,
               "feedback": [as_dict(f) for f in deployment.store.list_feedback(complaint_id)]}
    if as_json:
        emit_json(payload)
        return 0
    print(f"Complaint {complaint.complaint_id}  received {complaint.date_received}  (batch {complaint.batch_id})")
    print(f"  {complaint.narrative[:600]}{'...' if len(complaint.narrative) > 600 else ''}")
    if allocation is None:
        print("  not allocated yet")
        return 0
    print(f"\nQueue: {allocation.queue}  [{allocation.status}]  at {allocation.allocated_at}")
    print(f"Stands in: {placement.queue}  (revision {placement.revision}: corrections so far)")
    for reason in allocation.reasons:
        print(f"  reason: {reason}")
    for task, p in allocation.predictions.items():
        shadow = f"  shadow {p.shadow['model_version']}: {p.shadow['label']}" if p.shadow else ""
        error = f"  ERROR {p.error}" if p.error else ""
        print(f"  {task:<12} {p.label:<50} {p.score:.2f}  {p.model_version} ({p.served_by}){shadow}{error}")
    print(f"  taxonomy {allocation.taxonomy_version}  (batch {allocation.batch_id})")
    if history:
        print("\nEarlier allocations, superseded by a retriage (oldest first):")
    for earlier in history:
        print(f"  {earlier.allocated_at}  {earlier.queue}  [{earlier.status}]  (batch {earlier.batch_id})")
        for reason in earlier.reasons:
            print(f"    reason: {reason}")
    return 0


def cmd_show(args, settings: Settings, deployment: Deployment) -> int:
    return _show(deployment, args.complaint_id, args.json)


def cmd_queue(args, settings: Settings, deployment: Deployment) -> int:
    allocations = [p.allocation for p in deployment.store.list_queue(args.queue, args.limit)]
    if args.json:
        emit_json({"queue": args.queue, "allocations": [as_dict(a) for a in allocations]})
        return 0
    print(f"{args.queue}: {len(allocations)} newest")
    for a in allocations:
        print(f"  {a.complaint_id:<12} {a.allocated_at}  " + "  ".join(f"{t}={p.label}" for t, p in a.predictions.items()))
    return 0


def _utc(value: str) -> str:
    """An ISO date or time as the store writes times (UTC, milliseconds), so that they compare as text."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--since {value!r} is not an ISO date or time (e.g. 2026-11-29 or 2026-11-29T08:00)") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc).isoformat(
        timespec="milliseconds")


def cmd_retriage(args, settings: Settings, deployment: Deployment) -> int:
    report = TriagePipeline(deployment).retriage(args.batch, _utc(args.since) if args.since else None, args.dry_run)
    if args.json:
        emit_json(report.as_json())
        return 0
    print(f"{report.batch_id}: {report.source}" + ("  (dry run: nothing written)" if report.dry_run else ""))
    print(f"  examined         {report.rows:>7,}")
    print(f"    unfinished     {report.unfinished:>7,}  (stored by a run that stopped before allocating them)")
    print(f"  retriaged        {report.allocated + report.manual_triage:>7,}")
    print(f"    allocated      {report.allocated:>7,}")
    print(f"    manual triage  {report.manual_triage:>7,}  (the models answered, with low confidence"
          + ("; or an unfinished complaint's failed)" if report.unfinished else ")"))
    print(f"  skipped          {sum(report.skipped.values()):>7,}")
    for reason, count in report.skipped.most_common():
        print(f"    {reason:<27} {count:>7,}")
    return 0


def cmd_reallocate(args, settings: Settings, deployment: Deployment) -> int:
    correction = reallocate(deployment, args.complaint_id, args.task, args.label, args.analyst, args.idempotency_key,
                            args.expected_revision)
    emit_json({**as_dict(correction.feedback), "already_stored": correction.already_stored})
    return 0


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
