"""Reading a version's model card (written by model/model_card.py at training): what the audit chain cites."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from complaints.registry.base import MODEL_CARD


def read_model_card(artifact_dir: Path) -> dict[str, Any]:
    """The card's metadata: ``task``, ``kind``, ``ci95``, ``training`` and the held-out ``metrics``."""
    text = (Path(artifact_dir) / MODEL_CARD).read_text(encoding="utf-8")
    metadata = yaml.safe_load(text.split("---\n", 2)[1]) if text.startswith("---\n") else {}
    card = dict((metadata or {}).get("complaints_triage") or {})
    results = (metadata or {}).get("model-index", [{}])[0].get("results", [{}])[0].get("metrics", [])
    card["metrics"] = {m["type"]: m["value"] for m in results}
    return card
