"""What every command shares: exit statuses, the one-line error, the data file, JSON output."""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path

from complaints.config import default_data_path
from complaints.operations import Operations

EXIT_REFUSED = 2  # bad input or configuration: refused, nothing was changed
EXIT_FAILED = 1  # the command ran and failed (`validate`: the data failed the suite; `train`, a batch: part-way, it says what changed)
DATA_HELP = ("CFPB-format CSV, CSV.gz, JSON lines, a saved Hugging Face dataset, or a folder of such files read as "
             "one (env COMPLAINTS_DATA; default the folder ../shared/data/cfpb: complaints.csv.gz and recent.csv.gz)")
TRAINING_DATA_HELP = DATA_HELP + ("; or a version of the training dataset on the Hub, hf://NAMESPACE/NAME@REVISION "
                                  "(`complaints dataset export --push`), which each model card then names")


class UsageError(RuntimeError):
    """Reported as one line on stderr with exit status 2: refused, nothing changed."""


def require_extra(command: str, extra: str, *modules: str) -> None:
    """Refuse ``command`` before it does any work when the packages of its optional ``extra`` (pyproject.toml) are
    not installed: `make run`'s environment has the main job's only."""
    if missing := [module for module in modules if find_spec(module) is None]:
        raise UsageError(f"{command} needs the {extra!r} extra ({', '.join(missing)} not installed): make setup "
                         f"installs it (or pip install -e '.[{extra}]')")


def data_path(value: str | None) -> Path:
    path = Path(value) if value else default_data_path()
    if path is None:
        raise UsageError("no data given: pass --data PATH or set COMPLAINTS_DATA "
                         "(the default folder ../shared/data/cfpb is not there)")
    return path


def training_data(value: str | None) -> tuple[Path, dict | None]:
    """A training job's --data: a path, or the training dataset's version on the Hub (hf://NAMESPACE/NAME@REVISION)
    fetched, with what the model cards name of it (model/dataset_hub.py)."""
    if value and value.startswith("hf://"):
        from model.dataset_hub import fetch  # the `hub` and `train` extras, only for a dataset on the Hub

        return fetch(value)
    return data_path(value), None


def emit_json(payload: dict) -> None:
    print(json.dumps(payload, ensure_ascii=False, sort_keys=False))


def print_promise(point: dict, operations: Operations) -> None:
    """The operating point: what the out-of-fold tuning promised beside what the held-out split realised."""
    promised, realised = point["system"], point["held_out"]["system"]
    chance = point["held_out"].get("gap_sd") or {}
    print(f"\nOperating point ({operations.criterion}, {operations.confidence:.0%} lower bounds; deferral per "
          f"{operations.deferral}): thresholds " + ", ".join(f"{k} {v}" for k, v in point["thresholds"].items()))
    print(f"  {'':<26} {'promised':>9} {'held-out':>9} {'chance sd':>9}")
    print(f"  {'automation':<26} {promised['automation_rate']:>9.3f} {realised['automation_rate']:>9.3f}"
          f" {_sd(chance.get('automation_rate'))}")
    print(f"  {'time cut':<26} {promised['time_cut']:>9.3f} {realised['time_cut']:>9.3f}")
    for name, values in promised["tasks"].items():
        metric = "recall" if "recall" in values else "accuracy"
        print(f"  {name + ' system ' + metric:<26} {values[metric]:>9.3f} {realised['tasks'][name][metric]:>9.3f}"
              f" {_sd(chance.get(name))}  (floor {values['floor']:.2f})")
    for origin, system in (point.get("origins") or {}).items():
        real = point["held_out"]["origins"][origin]
        figures = [f"time cut {system['time_cut']:.3f}/{real['time_cut']:.3f}"]
        for name, values in system["tasks"].items():
            metric = "recall" if "recall" in values else "accuracy"
            figures.append(f"{name} {values[metric]:.3f}/{real['tasks'][name][metric]:.3f}")
        print(f"  held to {origin} alone (promised/held-out): " + ", ".join(figures))


def _sd(value: float | None) -> str:
    return f"{value:>9.3f}" if value is not None else f"{'–':>9}"
