"""Writing a version's model card in the Hugging Face format: YAML metadata (with ``model-index`` metrics) and a
summary. The core reads it back (complaints/model_card.py) to tie each output to its evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from complaints.registry.base import MODEL_CARD


def write_model_card(artifact_dir: Path, task: str, kind: str, metrics: dict[str, Any], training: dict[str, Any],
                     operating_point: dict[str, Any] | None = None) -> Path:
    """Write README.md into the artifact directory; ``metrics`` are the held-out results of the task,
    ``operating_point`` the thresholds tuned with the version (model.operating_point) and their curve."""
    results = [
        {"type": name, "value": value, "name": f"held-out {name}"}
        for name, value in metrics.items() if isinstance(value, (int, float))
    ]
    metadata = {
        "library_name": "complaints-triage",
        "tags": ["text-classification", "complaints-triage", task, kind],
        "model-index": [{
            "name": f"complaints-triage-{task}",
            "results": [{
                "task": {"type": "text-classification", "name": task},
                "dataset": {"type": "cfpb-consumer-complaints", "name": "CFPB Consumer Complaint Database",
                            "split": "held-out (narrative hash)"},
                "metrics": results,
            }],
        }],
        "complaints_triage": {"task": task, "kind": kind, "ci95": metrics.get("ci95"), "training": training,
                              "operating_point": operating_point},
    }
    body = (
        f"# complaints-triage: {task} ({kind})\n\n"
        f"Predicts the `{task}` task of MegaBank's complaints triage from the complaint narrative.\n\n"
        "## Training\n\n" + "".join(f"- {key}: `{value}`\n" for key, value in training.items()) +
        "\n## Held-out results\n\n" + "".join(f"- {key}: {value}\n" for key, value in metrics.items()) +
        (_operating_point_section(operating_point) if operating_point else "") +
        "\n## Limitations\n\nTrained on public CFPB complaints, which over-represent debt collection, credit "
        "reporting and payday loans; the vulnerable-customer tag is set by the complainant, not the text.\n"
    )
    path = Path(artifact_dir) / MODEL_CARD
    path.write_text("---\n" + yaml.safe_dump(metadata, sort_keys=False) + "---\n\n" + body, encoding="utf-8")
    return path


def _operating_point_section(point: dict[str, Any]) -> str:
    promised, held_out = point["system"], point.get("held_out")
    realised = held_out["system"] if held_out else None
    chance = (held_out or {}).get("gap_sd") or {}
    lines = ["", "## Operating point", "",
             "Tuned on out-of-fold answers over the whole training split, with every task trained in the same run: "
             "each task's system rate (the models on what they decide, the triage team's rate on what people "
             "decide) met by its lower bound under the tuned criterion, the specialist queue within capacity by its "
             "upper bound, then the least work for people. Promised: on the out-of-fold answers; realised: the "
             "final versions on the held-out split. Chance: the standard deviation of the gap that sampling alone "
             "makes (both sets' standard errors); a gap within two of them is the sets' luck.", "",
             "- thresholds: " + ", ".join(f"{k} {v}" for k, v in point["thresholds"].items()), "",
             "| figure | promised | realised (held-out) | gap | chance (sd) |", "| --- | --- | --- | --- | --- |"]

    def row(name: str, key: str, task: str | None = None, sd: float | None = None) -> str:
        value = (promised["tasks"][task] if task else promised).get(key)
        real = ((realised["tasks"][task] if task else realised).get(key)) if realised else None
        gap = f"{real - value:+.4f}" if real is not None and value is not None else "–"
        return f"| {name} | {value} | {real if real is not None else '–'} | {gap} | {sd if sd is not None else '–'} |"

    lines += [row("automation", "automation_rate", sd=chance.get("automation_rate")), row("time cut", "time_cut")]
    for task, values in promised["tasks"].items():
        metric = "recall" if "recall" in values else "accuracy"
        lines += [row(f"{task} system {metric}", metric, task, chance.get(task)),
                  row(f"{task} lower bound", "lower_bound", task)]
        if "specialist_share" in values:
            lines.append(row("specialist queue share", "specialist_share", task))
    lines += _origins_table(point.get("origins") or {}, (held_out or {}).get("origins") or {})
    lines += ["", "Automation against the widest worst-task margin of the lower bound over its floor reachable there:", "",
              "| automation | worst margin |", "| --- | --- |"]
    lines += [f"| {level['automation']:.2f} | {level['worst_margin']:+.3f} |" for level in point["curve"]]
    return "\n".join(lines) + "\n"


def _origins_table(promised: dict[str, dict], realised: dict[str, dict]) -> list[str]:
    """Each origin (data file) the point was held to on its own: its figures promised, then realised."""
    if not promised:
        return []
    tasks = {task: "recall" if "recall" in values else "accuracy"
             for task, values in next(iter(promised.values()))["tasks"].items()}
    lines = ["", "The criterion was also met on each data file's own complaints (promised / realised on its "
             "held-out complaints):", "",
             "| origin | automation | time cut | " + " | ".join(f"{task} {metric}" for task, metric in tasks.items()) + " |",
             "| --- " * (3 + len(tasks)) + "|"]
    for origin, system in promised.items():
        real = realised.get(origin)
        cells = [_pair(system, "automation_rate", real), _pair(system, "time_cut", real)]
        cells += [_pair(system["tasks"][task], metric, real["tasks"][task] if real else None)
                  for task, metric in tasks.items()]
        lines.append(f"| `{origin}` | " + " | ".join(cells) + " |")
    return lines


def _pair(promised: dict, key: str, realised: dict | None) -> str:
    return f"{promised[key]} / {realised[key] if realised else '–'}"
