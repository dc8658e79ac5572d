"""Known biases of the shared CFPB sample: sources whose every row carries a vulnerable-customer tag.

One public sample kept only fully filled rows, so all of its rows are tagged. Training or scoring the
vulnerable task on it teaches "old debt-collection complaint => vulnerable" and inflates recall and
precision alike, so flag tasks leave those rows out when a provenance file is given.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from complaints.schema import TAGS, Complaint

MIN_SOURCE_ROWS = 100  # a source this large with every row tagged is a filter artefact, not chance


def sources(provenance_csv: Path) -> dict[str, str]:
    """Each complaint id's public sample, as the provenance file names it."""
    with open(provenance_csv, newline="", encoding="utf-8") as handle:
        return {row["complaint_id"]: row["source"] for row in csv.DictReader(handle)}


def all_tagged_rows(provenance_csv: Path, complaints: list[Complaint]) -> set[str]:
    """Complaint ids that come only from sources in which every row (of at least 100) is tagged."""
    source_of = sources(provenance_csv)
    members: dict[str, list[Complaint]] = defaultdict(list)
    for complaint in complaints:
        if complaint.complaint_id in source_of:
            members[source_of[complaint.complaint_id]].append(complaint)
    biased = {source for source, rows in members.items()
              if len(rows) >= MIN_SOURCE_ROWS and all(c.get(TAGS) for c in rows)}
    return {c.complaint_id for source in biased for c in members[source]}


def default_provenance(data_path: Path) -> Path | None:
    """The provenance file shipped beside a CFPB sample file or in its folder, if there is one."""
    folder = Path(data_path) if Path(data_path).is_dir() else Path(data_path).parent
    candidate = folder / "provenance.csv"
    return candidate if candidate.exists() else None
