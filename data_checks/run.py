"""Running suites with Great Expectations: an in-memory context per run, so nothing is kept between runs
but the Data Docs folder a caller asks for. Analytics and progress bars are off (no network, clean logs)."""

from __future__ import annotations

from pathlib import Path

import great_expectations as gx
import pandas as pd
from great_expectations.data_context.types.base import (
    DataContextConfig, InMemoryStoreBackendDefaults, ProgressBarsConfig,
)

from data_checks.outcome import SuiteOutcome

# Every failing row's index, so a gate can quarantine each one and a report can name it.
RESULT_FORMAT = {"result_format": "COMPLETE"}


def run_suites(batches: list[tuple[gx.ExpectationSuite, pd.DataFrame]], docs_dir: Path | None = None
               ) -> list[SuiteOutcome]:
    """Validate each frame against its suite; with ``docs_dir``, write Data Docs there (index.html)."""
    context = gx.get_context(mode="ephemeral", project_config=_config(docs_dir))
    source = context.data_sources.add_pandas("complaints")
    outcomes = []
    for suite, frame in batches:
        batch = source.add_dataframe_asset(suite.name).add_batch_definition_whole_dataframe("whole frame")
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=suite.name, data=batch, suite=context.suites.add(suite)))
        result = definition.run(batch_parameters={"dataframe": frame}, result_format=RESULT_FORMAT)
        outcomes.append(SuiteOutcome.from_result(suite.name, len(frame), result))
    if docs_dir is not None:
        context.build_data_docs()
    return outcomes


def _config(docs_dir: Path | None) -> DataContextConfig:
    sites = {}
    if docs_dir is not None:
        sites["complaints"] = {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(Path(docs_dir).resolve())},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    return DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(), analytics_enabled=False,
                             progress_bars=ProgressBarsConfig(globally=False), data_docs_sites=sites)
