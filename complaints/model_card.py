"""Model cards in the Hugging Face format: YAML metadata (with ``model-index`` metrics) and a summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from complaints.registry.base import MODEL_CARD


def write_model_card(artifact_dir: Path, task: str, kind: str, metrics: dict[str, Any], training: dict[str, Any]) -> Path:
    """Write README.md into the artifact directory; ``metrics`` are the held-out results of the task."""
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
        "complaints_triage": {"task": task, "kind": kind, "ci95": metrics.get("ci95"), "training": training},
    }
    body = (
        f"# complaints-triage: {task} ({kind})\n\n"
        f"Predicts the `{task}` task of MegaBank's complaints triage from the complaint narrative.\n\n"
        "## Training\n\n" + "".join(f"- {key}: `{value}`\n" for key, value in training.items()) +
        "\n## Held-out results\n\n" + "".join(f"- {key}: {value}\n" for key, value in metrics.items()) +
        "\n## Limitations\n\nTrained on public CFPB complaints, which over-represent debt collection, credit "
        "reporting and payday loans; the vulnerable-customer tag is set by the complainant, not the text.\n"
    )
    path = Path(artifact_dir) / MODEL_CARD
    path.write_text("---\n" + yaml.safe_dump(metadata, sort_keys=False) + "---\n\n" + body, encoding="utf-8")
    return path


def read_model_card(artifact_dir: Path) -> dict[str, Any]:
    """The card's metadata: ``task``, ``kind``, ``ci95``, ``training`` and the held-out ``metrics``."""
    text = (Path(artifact_dir) / MODEL_CARD).read_text(encoding="utf-8")
    metadata = yaml.safe_load(text.split("---\n", 2)[1]) if text.startswith("---\n") else {}
    card = dict((metadata or {}).get("complaints_triage") or {})
    results = (metadata or {}).get("model-index", [{}])[0].get("results", [{}])[0].get("metrics", [])
    card["metrics"] = {m["type"]: m["value"] for m in results}
    return card
