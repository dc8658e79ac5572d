"""``complaints validate``: one suite over one data file, a verdict per expectation with row counts, and
Data Docs HTML for people to open (and for workflows to keep as an artifact)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from complaints.deployment import Deployment
from complaints.intake import read_records
from model.training_data import training_set
from data_checks.intake import check_records
from data_checks.training import check_training

SUITES = ("intake", "training")


@dataclass(frozen=True)
class Validation:
    success: bool
    text: str  # readable report
    payload: dict[str, Any]  # the --json object: each expectation by name with its result


def validate_file(deployment: Deployment, data: Path, suite: str, docs_dir: Path) -> Validation:
    """Run ``suite`` ("intake" or "training") over ``data``; Data Docs go to ``docs_dir``/index.html."""
    if suite == "intake":
        today = datetime.now(timezone.utc).date()  # as read_batch dates "the future"
        outcome = check_records(read_records(data), deployment.taxonomy, today, docs_dir)
        body, lines = outcome.as_json(), outcome.lines()
    elif suite == "training":
        training = training_set(deployment, deployment.tasks, data)
        check = check_training(deployment, training.complaints, training.splits, docs_dir)
        body, lines = check.as_json(), check.report().splitlines()
    else:
        raise ValueError(f"no suite {suite!r}; suites: {', '.join(SUITES)}")
    docs = Path(docs_dir).resolve() / "index.html"
    text = "\n".join([f"Validated {data}", *lines, f"Data Docs: {docs}"])
    return Validation(body["success"], text, {"suite": suite, "data": str(data), **body, "data_docs": str(docs)})
