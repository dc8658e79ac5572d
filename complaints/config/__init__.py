"""Where the embedded default keeps its state and finds its data, from flags or the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent  # the packaged tasks, taxonomy and operations files
SHARED_DATA = Path("../shared/data/cfpb")  # complaints.csv.gz and recent.csv.gz, read as one
DEFAULT_HOME = Path.home() / ".complaints"  # the Makefile sets COMPLAINTS_HOME to the checkout's .complaints


def default_data_path() -> Path | None:
    """COMPLAINTS_DATA, else the shared CFPB data folder beside the working directory."""
    if env := os.environ.get("COMPLAINTS_DATA"):
        return Path(env)
    candidate = SHARED_DATA.resolve()
    return candidate if candidate.exists() else None


@dataclass(frozen=True)
class Settings:
    home: Path
    tasks_file: Path
    taxonomy_file: Path
    operations_file: Path  # the specialist capacity and costs the operating point is tuned and measured against

    @property
    def store_path(self) -> Path:
        return self.home / "triage.sqlite3"

    @property
    def registry_dir(self) -> Path:
        return self.home / "registry"

    @classmethod
    def from_env(cls, home: str | Path | None = None, tasks_file: str | Path | None = None) -> "Settings":
        return cls(
            home=Path(home or os.environ.get("COMPLAINTS_HOME") or DEFAULT_HOME).resolve(),
            tasks_file=Path(tasks_file or os.environ.get("COMPLAINTS_TASKS") or CONFIG_DIR / "tasks.yaml"),
            taxonomy_file=Path(os.environ.get("COMPLAINTS_TAXONOMY") or CONFIG_DIR / "taxonomy.yaml"),
            operations_file=Path(os.environ.get("COMPLAINTS_OPERATIONS") or CONFIG_DIR / "operations.yaml"),
        )
