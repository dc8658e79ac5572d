"""A deployment of the core: which store, registry, tasks and taxonomy it runs on.

The embedded default (SQLite file + local registry under COMPLAINTS_HOME) is built here; the AWS
deployment (``Deployment.aws``) builds the same object from DynamoDB and the model versions baked into
the Lambda image (staged from the registry by ``model/serving_image.py``). Both read the packaged tasks,
taxonomy and operations files unless ``Settings`` name others.
"""

from __future__ import annotations

from dataclasses import dataclass

from complaints.registry import ModelRegistry, open_registry
from complaints.registry.local import LocalRegistry
from complaints.config import AwsSettings, Settings
from complaints.operations import Operations
from complaints.redaction import Redactor, redact
from complaints.redaction.cache import cached_redactor
from complaints.store import TriageStore, open_store
from complaints.store.sqlite import SQLiteStore, owner_only
from complaints.tasks import TaskSpec, load_tasks
from complaints.taxonomy import Taxonomy


@dataclass
class Deployment:
    store: TriageStore
    registry: ModelRegistry
    tasks: list[TaskSpec]
    taxonomy: Taxonomy
    operations: Operations  # the criteria, and how an unsure answer is deferred
    redactor: Redactor = redact  # intake's redaction: embedded, a cache under the home (complaints/redaction/cache.py)

    @classmethod
    def embedded(cls, settings: Settings) -> "Deployment":
        """The embedded default, its home readable by its owner only: it holds the store, the models and the
        redaction cache."""
        store = SQLiteStore(settings.store_path)  # makes the home, or says why it cannot
        owner_only(settings.home)
        return cls(
            store=store,
            registry=LocalRegistry(settings.registry_dir),
            tasks=load_tasks(settings.tasks_file),
            taxonomy=Taxonomy.load(settings.taxonomy_file),
            operations=Operations.load(settings.operations_file),
            redactor=cached_redactor(settings.redaction_cache_path),
        )

    @classmethod
    def aws(cls) -> "Deployment":
        """The Lambda deployment, from its environment (``AwsSettings``: the DynamoDB tables and the versions
        baked into the image); tasks and taxonomy are the packaged ones unless ``Settings`` say otherwise."""
        aws = AwsSettings.from_env()
        return cls.at(aws.store_url, aws.registry_url, Settings.from_env())

    @classmethod
    def at(cls, store_url: str, registry_url: str, settings: Settings) -> "Deployment":
        """A deployed environment's store and registry, by URL (a release manifest names them)."""
        return cls(
            store=open_store(store_url),
            registry=open_registry(registry_url),
            tasks=load_tasks(settings.tasks_file),
            taxonomy=Taxonomy.load(settings.taxonomy_file),
            operations=Operations.load(settings.operations_file),
        )

    def task(self, name: str) -> TaskSpec:
        for task in self.tasks:
            if task.name == name:
                return task
        raise KeyError(f"no such task; configured tasks: {[t.name for t in self.tasks]}")
