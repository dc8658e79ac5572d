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
    system = point["system"]
    lines = ["", "## Operating point", "",
             "Tuned on the validation slice of the training split, with every task trained in the same run: each "
             "task's system accuracy (the models on what they allocate, the triage team's rate on manual triage) "
             "at least the team's, the vulnerable flag's system recall at least the team's, the specialist queue "
             "within capacity, then the highest automation.", "",
             "- thresholds: " + ", ".join(f"{k} {v}" for k, v in point["thresholds"].items()),
             f"- automation: {system['automation_rate']} (manual triage {system['manual_triage_share']})"]
    lines += [f"- {name}: " + ", ".join(f"{k} {v}" for k, v in values.items()) for name, values in system["tasks"].items()]
    lines += ["", "Automation against the widest worst-task margin over the team's accuracy reachable there:", "",
              "| automation | worst accuracy margin |", "| --- | --- |"]
    lines += [f"| {row['automation']:.2f} | {row['worst_accuracy_margin']:+.3f} |" for row in point["curve"]]
    return "\n".join(lines) + "\n"
