"""A deployment of the core: which store, registry, tasks and taxonomy it runs on.

The embedded default (SQLite file + local registry under COMPLAINTS_HOME) is built here; the AWS
deployment builds the same object from DynamoDB and the Hugging Face Hub.
"""

from __future__ import annotations

from dataclasses import dataclass

from complaints.registry import ModelRegistry
from complaints.registry.local import LocalRegistry
from complaints.settings import Settings
from complaints.store import TriageStore
from complaints.store.sqlite import SQLiteStore
from complaints.tasks import TaskSpec, load_tasks
from complaints.taxonomy import Taxonomy


@dataclass
class Deployment:
    store: TriageStore
    registry: ModelRegistry
    tasks: list[TaskSpec]
    taxonomy: Taxonomy

    @classmethod
    def embedded(cls, settings: Settings) -> "Deployment":
        return cls(
            store=SQLiteStore(settings.store_path),
            registry=LocalRegistry(settings.registry_dir),
            tasks=load_tasks(settings.tasks_file),
            taxonomy=Taxonomy.load(settings.taxonomy_file),
        )

    def task(self, name: str) -> TaskSpec:
        for task in self.tasks:
            if task.name == name:
                return task
        raise KeyError(f"no task {name!r}; configured tasks: {[t.name for t in self.tasks]}")
