"""Lifecycle commands: what serves an environment is a release manifest in git (``release diff|apply``),
a challenger earns its place by the gate (``gate``), the retrain job proposes both (``retrain``; ``promote`` for an
environment that serves another's versions, ``bootstrap`` for a first release), and any allocation can be traced
back to all of it (``audit``)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from console.common import DATA_HELP, EXIT_FAILED, TRAINING_DATA_HELP, UsageError, data_path, emit_json, training_data
from complaints.audit import audit_chain
from complaints.deployment import Deployment
from model import decision
from model.gate import PROMOTE, compare, decide, markdown_report, policy_of, report_sha256, rules_of
from model.manifest import ReleaseManifest, TaskRelease, describe, git_commit_of, manifest_path, next_step
from model.promotion import unpromoted
from model.release import apply, as_read, diff, gated, serving
from complaints.config import Settings
from complaints.strategy import strategies


def add_commands(command) -> None:
    release = command("release", cmd_release, "Compare an environment's store with its release manifest "
                                              "(deploy/ENV.yaml), or apply the manifest to it: conditional writes, "
                                              "an audit event each, and a release record. Needs --env.")
    release.add_argument("action", choices=["diff", "apply", "advance"],
                         help="diff: exit 1 when the store differs from the manifest; apply: make it agree "
                              "(idempotent); advance: move --task's challenger to the next step of the manifest's "
                              "rollout in the file (for a pull request)")
    release.add_argument("--task", help="advance: the task whose challenger moves on")
    release.add_argument("--run-url", default="", help="the workflow run that applies it (recorded)")
    _recorded(release, actor="release", who="who applies (audit log)")

    gate = command("gate", cmd_gate, "The champion/challenger gate: both versions on the same held-out complaints "
                                     "(analysts' corrections applied), a paired bootstrap non-inferiority test with "
                                     "a margin, class collapse. Exit 0 when every challenger gated may be promoted, "
                                     "1 otherwise. With --env, every line the proposed manifest changes against "
                                     "what the environment serves is decided under deploy/ENV.yaml's rules (the "
                                     "rollout, the tasks' minimums) and must carry that decision, committed.")
    gate.add_argument("--task", help="the task to gate (default: every task with a challenger, or whose line changes)")
    gate.add_argument("--challenger", help="embedded: the challenger version (default: the task's serving challenger)")
    gate.add_argument("--proposed", metavar="DIR", help="--env: the pull request's deploy/ folder, read as data (its "
                                                        "ENV.yaml and gate/ENV/); default deploy/ itself")
    gate.add_argument("--decide", action="store_true", help="--env: write the decision of each change promoted "
                                                            "into the proposed gate/ENV/ (for a pull request)")
    gate.add_argument("--data", help=DATA_HELP)
    gate.add_argument("--report", metavar="DIR", help="write report.md (the pull request body) and gate.json here")
    _recorded(gate, actor="gate", who="who runs the gate (recorded with the decision)")

    retrain = command("retrain", cmd_retrain, "Retrain an environment's models on the base data and the analysts' "
                                              "corrections in its store (and in the environments promoted from it), "
                                              "gate the challengers, and write the manifest change and report for a "
                                              "pull request. Needs --env. Exit 0 when no challenger passes too (the "
                                              "manifest is untouched, the report says why); non-zero when the retrain "
                                              "fails (the data gate, training).")
    promote = command("promote", cmd_retrain, "Propose to an environment `promoted_from` another (prod from dev) the "
                                              "versions the other's latest release serves: gated against what serves "
                                              "here on this environment's corrections, entering at its rollout's first "
                                              "step; the manifest change and report for a pull request. Needs --env.")
    bootstrap = command("bootstrap", cmd_retrain, "An environment's first release, its manifest serving nothing: "
                                                  "retrain on the base data alone (the environment's tables may not "
                                                  "exist yet), or promote from its source environment; first versions "
                                                  "must reach the tasks' minimums. Refused once the manifest serves.")
    for parser in (retrain, promote, bootstrap):
        parser.add_argument("--data", help=TRAINING_DATA_HELP)
        parser.add_argument("--out", default="build/promotion",
                            help="report.md, gate.json, manifest.diff (default %(default)s)")
        parser.add_argument("--actor", default=parser.prog.split()[-1], help="who proposes (recorded)")
    for parser in (retrain, bootstrap):
        parser.add_argument("--max-rows", type=int, help="train on a deterministic subset of this many complaints")

    audit = command("audit", cmd_audit, "The audit chain of a complaint: its allocation, each task's version and "
                                        "strategy line, model card, the gate decision that admitted it, the release "
                                        "(manifest commit, run URL) or local promotion that put it in service, and "
                                        "analysts' corrections since.")
    audit.add_argument("complaint_id")
    audit.add_argument("--json", action="store_true", help="print one JSON object")


def _recorded(parser, actor: str, who: str) -> None:
    """The options of a command whose every change is recorded: who made it, and a JSON line for the workflows."""
    parser.add_argument("--actor", default=actor, help=who)
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")


def _manifest(args) -> ReleaseManifest:
    if not args.env:
        raise UsageError(f"{args.command} needs --env ENV (the release manifest deploy/ENV.yaml)")
    return ReleaseManifest.load(manifest_path(args.env))


def cmd_release(args, settings: Settings, deployment: Deployment) -> int:
    manifest = _manifest(args)
    if args.action == "advance":
        if not args.task:
            raise UsageError("release advance needs --task")
        moved = next_step(manifest, args.task)
        manifest.path.write_text(manifest.with_task(args.task, moved), encoding="utf-8")
        print(f"{manifest.path}: {args.task} now serves {describe(moved)}; open a pull request")
        return 0
    if args.action == "diff":
        changes = diff(deployment, manifest)
        if args.json:
            emit_json({"environment": manifest.environment, "in_sync": not any(c.changed for c in changes),
                       "tasks": {c.task: {"serving": asdict(c.serving) if c.serving else None,
                                          "manifest": asdict(c.wanted) if c.wanted else None,
                                          "changed": c.changed} for c in changes}})
        else:
            print(f"{manifest.environment}: store against {manifest.path}")
            print("\n".join(c.line() for c in changes))
        return EXIT_FAILED if any(c.changed for c in changes) else 0
    result = apply(deployment, manifest, git_commit_of(manifest.path), args.actor, args.run_url)
    written = [c.task for c in result.changes if c.changed]
    payload = {"environment": manifest.environment, "written": written,
               "release": asdict(result.release) if result.release else None}
    if args.json:
        emit_json(payload)
    elif result.release is None:
        print(f"{manifest.environment}: already serves {manifest.path.name}; nothing changed")
    else:
        print(f"{manifest.environment}: applied {manifest.path.name} at {result.release.git_commit[:12]}; "
              f"strategies written: {', '.join(written) or 'none'}; release {result.release.release_id[:12]}")
    return 0


def cmd_gate(args, settings: Settings, deployment: Deployment) -> int:
    if args.env:
        if args.challenger:
            raise UsageError("--challenger is the embedded gate's: an environment's challengers are its manifest's")
        return _gate_environment(args, deployment)
    if args.proposed or args.decide:
        raise UsageError("--proposed and --decide need --env")
    if args.challenger and not args.task:
        raise UsageError("--challenger needs --task")
    served = strategies(deployment, required=False)
    pairs = {task: (s.champion, s.challenger) for task, s in served.items() if s.challenger}
    if args.task:
        champion = served[args.task].champion if args.task in served else None
        challenger = args.challenger or pairs.get(args.task, (None, None))[1]
        if champion is None or challenger is None:
            raise UsageError(f"task {args.task!r} needs a champion and a challenger to gate")
        pairs = {args.task: (champion, challenger)}
    unknown = [f"{t}@{v}" for t, (_, v) in pairs.items() if deployment.store.get_model_info(t, v) is None]
    if unknown:
        raise UsageError(f"{', '.join(unknown)}: not a registered version")
    policy = policy_of({})
    data = data_path(args.data)
    verdicts = [compare(deployment, deployment.task(task), challenger, data, policy, champion)
                for task, (champion, challenger) in pairs.items()]
    title = "Gate: " + (", ".join(f"{v.task} {v.decision}" for v in verdicts) or "nothing to gate")
    report = (markdown_report(verdicts, policy, title) if verdicts else
              f"# {title}\n\nNo task serves a challenger: nothing to compare.") + "\n"
    for verdict in verdicts:
        deployment.store.put_gate_decision(verdict.as_decision(report_sha256(report), args.actor))
    _gate_output(args, report, {"decisions": {v.task: _verdict_json(v) for v in verdicts}})
    return 0 if all(v.decision == PROMOTE for v in verdicts) else EXIT_FAILED


def _gate_environment(args, deployment: Deployment) -> int:
    """The gate of a pull request: its manifest's changes against what the environment serves, decided under the
    rules of deploy/ENV.yaml (in CI the base branch's checkout: its code, policy, rollout and minimums), and the
    decision each change carries, committed in the pull request's gate/ENV/ (``--decide`` writes them)."""
    rules_manifest = _manifest(args)
    folder = Path(args.proposed) if args.proposed else rules_manifest.path.parent
    proposed = ReleaseManifest.load(folder / rules_manifest.path.name)
    if proposed.environment != rules_manifest.environment:
        raise UsageError(f"{proposed.path} is the manifest of {proposed.environment!r}, not {args.env!r}")
    policy_of(proposed.gate)  # a manifest that would loosen the gate is refused, rules change or not
    with as_read(deployment, rules_manifest) as environment:
        return _gate_proposal(args, environment, rules_manifest, proposed, folder)


def _gate_proposal(args, deployment: Deployment, rules_manifest: ReleaseManifest, proposed: ReleaseManifest,
                   folder: Path) -> int:
    policy = policy_of(rules_manifest.gate)
    current = serving(deployment, rules_manifest)
    changes = [c for c in gated(diff(deployment, proposed, current), current) if not args.task or c.task == args.task]
    never_served = unpromoted(proposed, changes)
    serving_lines = {task: TaskRelease.of(s) for task, s in current.items()}
    verdicts = decide(deployment, changes, serving_lines, data_path(args.data), policy, rules_manifest.rollout) \
        if changes else []
    title = f"Gate {rules_manifest.environment}: " + (
        ", ".join(f"{v.task} {v.decision}" for v in verdicts) or "nothing to gate")
    report = (markdown_report(verdicts, policy, title) if verdicts else
              f"# {title}\n\nThe manifest changes no line against what the environment serves: nothing to gate.") + "\n"
    rules_changed = (proposed.gate, proposed.rollout, proposed.promoted_from) != (
        rules_manifest.gate, rules_manifest.rollout, rules_manifest.promoted_from)
    refused = {}
    for verdict in verdicts:
        rules = rules_of(deployment, deployment.task(verdict.task), policy, rules_manifest.rollout)
        path = decision.decision_path(folder, proposed.environment, verdict.task)
        if args.decide and verdict.decision == PROMOTE:
            decision.write(path, verdict.committed(proposed.environment, rules, report_sha256(report), args.actor))
        change = verdict.change
        problems = decision.problems(decision.read(path), proposed.environment, verdict.task,
                                     asdict(change.before) if change.before else None, asdict(change.after), rules)
        if rules_changed:
            problems.append("the pull request changes the gate's settings or the rollout and a serving line: "
                            "the rules change in a pull request of their own")
        if verdict.task in never_served:
            problems.append(never_served[verdict.task])
        if problems:
            refused[verdict.task] = problems
    if refused:
        report += "\n## Committed decisions\n\n" + "".join(
            f"- {task}: {'; '.join(problems)}\n" for task, problems in refused.items())
    elif verdicts:
        report += "\n## Committed decisions\n\nEach change carries the decision above, sealed, under these rules.\n"
    if rules_changed and not verdicts:
        report += (f"\nThe pull request changes the rules only (gate {proposed.gate}, rollout {list(proposed.rollout)}; "
                   f"in force: gate {rules_manifest.gate}, rollout {list(rules_manifest.rollout)}): they hold for the "
                   f"pull requests after it.\n")
    _gate_output(args, report, {"decisions": {v.task: _verdict_json(v) for v in verdicts}, "refused": refused})
    return 0 if all(v.decision == PROMOTE for v in verdicts) and not refused else EXIT_FAILED


def _verdict_json(verdict) -> dict:
    return {"decision": verdict.decision, "champion": verdict.champion, "challenger": verdict.challenger,
            "reasons": verdict.reasons, "metrics": verdict.metrics}


def _gate_output(args, report: str, payload: dict) -> None:
    if args.report:
        folder = Path(args.report)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "report.md").write_text(report, encoding="utf-8")
        (folder / "gate.json").write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    if args.json:
        emit_json(payload)
    else:
        print(report, end="")


def cmd_retrain(args, settings: Settings, deployment: Deployment) -> int:
    """retrain, promote and bootstrap: the manifest change, its decisions and its report, for a pull request."""
    from model.retrain import RetrainArguments, promote, retrain  # the `train` extra, imported only to train

    manifest = _manifest(args)
    job = args.command
    if job == "bootstrap":
        if manifest.tasks:
            raise UsageError(f"{manifest.path} already serves {', '.join(manifest.tasks)}: {manifest.environment} "
                             f"is bootstrapped (make {'promote' if manifest.promoted_from else 'retrain'} "
                             f"ENV={manifest.environment})")
        job = "promote" if manifest.promoted_from else "retrain"
        print(f"{manifest.environment}: first release, by {job}" + (f" from {manifest.promoted_from}"
                                                                    if manifest.promoted_from else ""))
    data, dataset = training_data(args.data)
    result = (promote if job == "promote" else retrain)(deployment, manifest, RetrainArguments(
        data=data, out=Path(args.out), actor=args.actor, max_rows=getattr(args, "max_rows", None), dataset=dataset))
    for verdict in result.verdicts:
        print(f"{verdict.task:<12} {verdict.challenger}  {verdict.decision:<14} {verdict.reasons[0]}")
    if result.manifest_changed:
        print(f"\n{manifest.path} changed for {', '.join(result.promoted)}: open a pull request with "
              f"{result.report} as its body ({Path(args.out) / 'manifest.diff'})")
    else:
        print(f"\nNothing passed the gate or nothing was new: {manifest.path} is untouched, nothing to propose (a "
              f"quiet week, not a failure). Why: {result.report}")
    return 0


def cmd_audit(args, settings: Settings, deployment: Deployment) -> int:
    chain = audit_chain(deployment, args.complaint_id)
    if args.json:
        emit_json(chain)
        return 0
    allocation = chain["allocation"]
    print(f"Complaint {chain['complaint_id']}: {allocation['queue']} [{allocation['status']}] at "
          f"{allocation['allocated_at']} (batch {allocation['batch']['batch_id']}, taxonomy "
          f"{allocation['taxonomy_version']})")
    for task, link in chain["tasks"].items():
        card, service = link["model_card"], link["put_in_service_by"] or {}
        training = card.get("training") or {}
        gate = link["gate_decision"]
        print(f"\n{task}: {link['prediction']['label']} ({link['prediction']['score']:.2f}) by {link['version']} "
              f"({link['prediction']['served_by']})")
        dataset = training.get("dataset")
        print(f"  model card: {card.get('kind')}, data {str(training.get('data_sha256'))[:12]}"
              + (f" (dataset {dataset['repo']}@{dataset['revision']}, commit {dataset['commit'][:12]})" if dataset else "")
              + f", taxonomy {training.get('taxonomy_version')}, commit {training.get('git_commit')}, held-out "
              f"{card.get('metrics')}")
        if card.get("mismatch"):
            print(f"  model card DIFFERS from what was recorded for the version: {', '.join(card['mismatch'])}")
        print(f"  gate: {gate['decision'] + ' against ' + gate['champion'] + ' at ' + gate['decided_at'] if gate else 'none'}")
        if service.get("action") == "release":
            print(f"  in service by release of {service['environment']} at {service['at']}: manifest "
                  f"{service['manifest']} @ {service['git_commit']}, run {service['run_url'] or '(none recorded)'}")
        elif service:
            print(f"  in service by {service['action']} at {service['at']} by {service['actor']}: {service['note']}")
        else:
            print("  in service by: NOT FOUND in the audit log")
    for earlier in chain["superseded"]:
        print(f"\nSuperseded by a retriage: {earlier['queue']} [{earlier['status']}] at {earlier['allocated_at']} "
              f"(batch {earlier['batch_id']}): {'; '.join(earlier['reasons']) or 'no reason recorded'}")
    print(f"\nCorrections since: {len(chain['corrections'])}")
    for correction in chain["corrections"]:
        print(f"  {correction['at']} {correction['analyst']}: {correction['task']} "
              f"{correction['previous_label']} -> {correction['label']}")
    return 0 if chain["complete"] else EXIT_FAILED
