"""Where the embedded default keeps its state and finds its data, from flags or the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
CONFIG_DIR = Path(__file__).resolve().parent / "config"
SHARED_DATA = Path("../shared/data/cfpb")  # complaints.csv.gz and recent.csv.gz, read as one


def _default_home() -> Path:
    # Inside the checkout (git-ignored) for a development install, else the user's home.
    if (CHECKOUT / "pyproject.toml").exists():
        return CHECKOUT / ".complaints"
    return Path.home() / ".complaints"


def default_data_path() -> Path | None:
    """COMPLAINTS_DATA, else the shared CFPB data folder beside the working directory or the checkout."""
    if env := os.environ.get("COMPLAINTS_DATA"):
        return Path(env)
    for base in (Path.cwd(), CHECKOUT):
        candidate = (base / SHARED_DATA).resolve()
        if candidate.exists():
            return candidate
    return None


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
            home=Path(home or os.environ.get("COMPLAINTS_HOME") or _default_home()).resolve(),
            tasks_file=Path(tasks_file or os.environ.get("COMPLAINTS_TASKS") or CONFIG_DIR / "tasks.yaml"),
            taxonomy_file=Path(os.environ.get("COMPLAINTS_TAXONOMY") or CONFIG_DIR / "taxonomy.yaml"),
            operations_file=Path(os.environ.get("COMPLAINTS_OPERATIONS") or CONFIG_DIR / "operations.yaml"),
        )
