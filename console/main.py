"""`complaints`: parse the command line, build the deployment, run one command, report errors honestly.

Exit status: 0 done; 1 the command ran and failed (it says what changed, if anything); 2 refused: bad
input or configuration, nothing was changed.
"""

from __future__ import annotations

import argparse
import logging
import sys

from console import checks, dataset, lifecycle, models, monitoring, ops, triage
from console.common import EXIT_FAILED, EXIT_REFUSED, UsageError
from complaints import logs
from complaints.deployment import Deployment
from complaints.audit import NotAllocatedError
from complaints.intake import IntakeError
from complaints.pipeline import BatchStopped
from model.manifest import ManifestError, ReleaseManifest, manifest_path
from model.registration import RegistrationIncomplete
from complaints.registry import RegistryError
from complaints.config import Settings
from complaints.feedback import CorrectionQuotaExceeded
from complaints.store import IdempotencyConflict, StaleWriteError, StoreBusy, StoreUnavailable
from complaints.strategy import NoChampionError
from complaints.tasks import TaskConfigError
from complaints.taxonomy import TaxonomyError

# Raised before anything is written: the input or configuration is refused, or the store cannot take the write
# (busy, read-only, out of reach).
REFUSALS = (UsageError, IntakeError, NoChampionError, TaskConfigError, TaxonomyError, ManifestError, NotAllocatedError,
            RegistryError, KeyError, ValueError, StaleWriteError, CorrectionQuotaExceeded, StoreBusy, StoreUnavailable)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="complaints",
        description="Triage bank complaints: route each to a product team queue, name its issue, flag "
                    "vulnerable customers. Embedded default: SQLite store and model registry under COMPLAINTS_HOME.")
    parser.add_argument("--home", help="where the store and registry live (env COMPLAINTS_HOME; default .complaints "
                                       "in the working directory: the checkout's, which make run fills)")
    parser.add_argument("--tasks", help="task configuration file (env COMPLAINTS_TASKS; default the packaged tasks.yaml)")
    parser.add_argument("--env", help="a deployed environment: its release manifest deploy/ENV.yaml names its store "
                                      "and registry (COMPLAINTS_MANIFEST_STORE_URL / COMPLAINTS_MANIFEST_REGISTRY_URL "
                                      "override them); "
                                      "default the embedded home")
    parser.add_argument("-v", "--verbose", action="store_true", help="structured INFO logs on stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        # a help text is %-formatted ("80%%" reads "80%"), a description is printed as written
        sub = commands.add_parser(name, help=help_text, description=help_text.replace("%%", "%"))
        sub.set_defaults(handler=handler)
        return sub

    for group in (triage, models, dataset, checks, lifecycle, ops, monitoring):
        group.add_commands(command)
    return parser


def _deployment(environment: str | None, settings: Settings) -> Deployment:
    if environment is None:
        return Deployment.embedded(settings)
    manifest = ReleaseManifest.load(manifest_path(environment))
    return Deployment.at(manifest.store_url, manifest.registry_url, settings)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure(logging.INFO if args.verbose else logging.WARNING)
    settings = Settings.from_env(home=args.home, tasks_file=args.tasks)
    try:
        return args.handler(args, settings, _deployment(args.env, settings))
    except REFUSALS as error:
        print(f"complaints {args.command}: error: {error.args[0] if error.args else error}", file=sys.stderr)
        return EXIT_REFUSED
    except (RegistrationIncomplete, IdempotencyConflict, BatchStopped) as error:  # failed; it says what did change
        print(f"complaints {args.command}: failed: {error}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
