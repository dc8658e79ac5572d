"""`complaints monitor`: the serving models' health from what the store holds (complaints/monitoring.py), as a
summary people read, the JSON the ops tools read, or an HTML report with charts."""

from __future__ import annotations

from pathlib import Path

from complaints.config import Settings
from complaints.deployment import Deployment
from complaints.drift import DRIFTED, MODERATE
from complaints.monitoring import model_health
from console.common import emit_json, require_extra


def add_commands(command) -> None:
    monitor = command("monitor", cmd_monitor,
                      "The serving models' health over the last days: live accuracy from analysts' corrections (an "
                      "upper bound), the manual triage and specialist shares, drift against each version's held-out "
                      "reference, emerging issues, and a verdict: healthy, watch or retrain.")
    monitor.add_argument("--since", type=int, default=28, metavar="DAYS",
                         help="the complaints allocated in the last DAYS days (default 28)")
    monitor.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    monitor.add_argument("--report", metavar="DIR",
                         help="also write an HTML report to DIR: index.html, its PNG charts and health.json (needs "
                              "the report extra: matplotlib)")


def cmd_monitor(args, settings: Settings, deployment: Deployment) -> int:
    if args.report:
        require_extra("monitor --report", "report", "matplotlib")
    health = model_health(deployment, args.since)
    page = None
    if args.report:
        from model.monitoring_report import write_report  # matplotlib: only when a report is asked for

        page = write_report(health, Path(args.report))
    if args.json:
        emit_json(health)
        return 0
    _print(health)
    if page:
        print(f"\nReport: {page}")
    return 0


def _interval(figures: dict) -> str:
    if figures["estimated_accuracy"] is None:
        return "–"
    low, high = figures["ci95"]
    return f"{figures['estimated_accuracy']:.3f} [{low:.3f}-{high:.3f}]"


def _psi(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _print(health: dict) -> None:
    print(f"Model health over the last {health['since_days']} days (as of {health['generated_at']}): "
          f"{health['verdict'].upper()}")
    for reason in health["reasons"]:
        print(f"  - {reason}")
    tasks = list(health["versions"]) or list(health["weeks"][0]["tasks"])
    print(f"\n{'week':<9} {'complaints':>10} {'manual':>7} {'specialist':>10}  " +
          "  ".join(f"{task + ' accuracy':<22}" for task in tasks))
    for week in health["weeks"]:
        print(f"{week['week']:<9} {week['complaints']:>10} {week['manual_triage_share']:>7.3f} "
              f"{week['specialist_share']:>10.3f}  " +
              "  ".join(f"{_interval(week['tasks'][task]):<22}" for task in tasks))
    print(f"  (specialist capacity {health['weeks'][0]['specialist_capacity']:.2f}; accuracy: estimated from "
          f"corrections with its 95% interval)")
    print(f"\nDrift (PSI against each version's held-out reference; moderate from {MODERATE}, drifted from {DRIFTED}, "
          f"beyond sampling noise):")
    for task, figures in health["drift"].items():
        print(f"  {task:<12} {health['versions'][task]:<14} score {_psi(figures['score_psi'])}  label "
              f"{_psi(figures['label_psi'])}  {figures['status']}  ({figures['complaints']} answers; "
              f"{figures['reference']})")
    print("\nEmerging issues:" + ("" if health["emerging_issues"] else " none"))
    for alert in health["emerging_issues"]:
        print(f"  {alert['issue']!r}: {alert['corrections']} corrections, given to {alert['served_share']:.1%} of "
              f"complaints by the serving model" + ("" if alert["in_taxonomy"] else ", not in the taxonomy"))
