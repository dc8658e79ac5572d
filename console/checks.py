"""``complaints validate``: a Great Expectations suite over a data file, with Data Docs."""

from __future__ import annotations

from pathlib import Path

from console.common import DATA_HELP, EXIT_FAILED, data_path, emit_json, require_extra
from complaints.deployment import Deployment
from complaints.config import Settings

DATA_DOCS = "data_docs"  # written here under COMPLAINTS_HOME unless --docs says where


def add_commands(command) -> None:
    validate = command("validate", cmd_validate, "Run a Great Expectations suite over a data file and write Data "
                                                 "Docs: intake (a batch as triage reads it, row for row as intake "
                                                 "decides) or training (the set `complaints train` would fit, "
                                                 "against each champion). Exit status 1 when the suite fails.")
    validate.add_argument("--data", help=DATA_HELP)
    validate.add_argument("--suite", required=True, choices=["intake", "training"], help="the suite to run")
    validate.add_argument("--docs", metavar="DIR", help=f"where Data Docs HTML goes (default COMPLAINTS_HOME/{DATA_DOCS})")
    validate.add_argument("--json", action="store_true", help='last line: {"suite", "success", "rows", "failing_rows", '
                                                              '"passing_rows", "expectations": {NAME: {"success", '
                                                              '"severity", "unexpected_count", ...}}, "data_docs"}; '
                                                              'training adds "small_classes", "missing_classes", "notes"')


def cmd_validate(args, settings: Settings, deployment: Deployment) -> int:
    require_extra("validate", "checks", "great_expectations")  # the serving commands run without it
    from model.validation import validate_file

    docs = Path(args.docs) if args.docs else settings.home / DATA_DOCS
    validation = validate_file(deployment, data_path(args.data), args.suite, docs)
    if args.json:
        emit_json(validation.payload)
    else:
        print(validation.text)
    return 0 if validation.success else EXIT_FAILED
