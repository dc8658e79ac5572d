"""Everything the platform takes from its environment, read here and nowhere else (tests/test_config.py checks).

Each group of settings is a dataclass built ``from_env()`` by whoever needs it, at the time it needs it (a test
sets a variable and the next call sees it); each field's comment names its variable, once. The packaged tasks,
taxonomy and operations files sit beside this module.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent  # the packaged tasks, taxonomy and operations files
SHARED_DATA = Path("../shared/data/cfpb")  # complaints.csv.gz and recent.csv.gz, read as one
DEFAULT_HOME = Path(".complaints")  # in the working directory: run from the checkout's root, the home `make run`
# fills (the Makefile sets COMPLAINTS_HOME to it), so the commands a person types next read its store and models
DEPLOY_DIR = Path("deploy")  # the checkout's release manifests, run from its root (make)
# Complaints per chunk of a batch, on both paths: the embedded pipeline triages a file a chunk at a time, the AWS
# intake cuts it into chunks of this size, one triage call each (infra/modules/functions' chunk_size: a test checks).
DEFAULT_CHUNK_SIZE = 100


def default_data_path() -> Path | None:
    """COMPLAINTS_DATA, else the shared CFPB data folder beside the working directory."""
    if env := os.environ.get("COMPLAINTS_DATA"):
        return Path(env)
    candidate = SHARED_DATA.resolve()
    return candidate if candidate.exists() else None


def _required(who: str, *names: str) -> list[str]:
    """The values of variables a deployment must set; one error names every one missing."""
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        raise ValueError(f"{who} needs {' and '.join(missing)} in its environment")
    return [os.environ[name] for name in names]


@dataclass(frozen=True)
class Settings:
    """Where the embedded default keeps its state, and which tasks, taxonomy and operations it runs on."""

    home: Path  # COMPLAINTS_HOME (or --home), else .complaints: the SQLite store and the local registry
    tasks_file: Path  # COMPLAINTS_TASKS (or --tasks), else the packaged tasks.yaml
    taxonomy_file: Path  # COMPLAINTS_TAXONOMY, else the packaged taxonomy.yaml
    operations_file: Path  # COMPLAINTS_OPERATIONS, else the packaged operations.yaml: the criteria, capacity, costs and deferral
    chunk_size: int = DEFAULT_CHUNK_SIZE  # COMPLAINTS_CHUNK_SIZE, else DEFAULT_CHUNK_SIZE: complaints per chunk

    @property
    def store_path(self) -> Path:
        return self.home / "triage.sqlite3"

    @property
    def redaction_cache_path(self) -> Path:
        return self.home / "redaction-cache.sqlite3"

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
            chunk_size=int(os.environ.get("COMPLAINTS_CHUNK_SIZE") or DEFAULT_CHUNK_SIZE),
        )


@dataclass(frozen=True)
class AwsSettings:
    """The AWS deployment's store and registry, as Terraform sets them on the functions that triage."""

    store_url: str  # COMPLAINTS_STORE_URL: the DynamoDB tables, dynamodb://<prefix>?region=R
    registry_url: str  # COMPLAINTS_REGISTRY_URL: file:///opt/models, the versions baked into the image

    @classmethod
    def from_env(cls) -> "AwsSettings":
        return cls(*_required("the AWS deployment", "COMPLAINTS_STORE_URL", "COMPLAINTS_REGISTRY_URL"))


@dataclass(frozen=True)
class FunctionSettings:
    """What every Lambda function reads."""

    log_level: int | None  # COMPLAINTS_LOG_LEVEL: a logging level name (INFO); unset leaves logging as it is

    @classmethod
    def from_env(cls) -> "FunctionSettings":
        name = os.environ.get("COMPLAINTS_LOG_LEVEL")
        return cls(getattr(logging, name.upper()) if name else None)


@dataclass(frozen=True)
class MetricsSettings:
    """Which environment the functions that count the models' work write their metrics for (complaints/metrics.py)."""

    environment: str  # COMPLAINTS_ENVIRONMENT: dev or prod, the metrics' namespace (Complaints/<env>) and dimension

    @classmethod
    def from_env(cls) -> "MetricsSettings":
        return cls(*_required("a function that writes metrics", "COMPLAINTS_ENVIRONMENT"))


@dataclass(frozen=True)
class IntakeSettings:
    """Where the intake function writes a batch's chunks (their size is every path's: ``Settings.chunk_size``)."""

    chunk_prefix: str  # COMPLAINTS_CHUNK_PREFIX: the batch bucket's chunk folder, e.g. chunks/

    @classmethod
    def from_env(cls) -> "IntakeSettings":
        return cls(*_required("the intake function", "COMPLAINTS_CHUNK_PREFIX"))


@dataclass(frozen=True)
class SubmitSettings:
    """Where the HTTP API's submit function puts a batch: the inbox the state machine listens to."""

    batch_bucket: str  # COMPLAINTS_BATCH_BUCKET: the batch bucket's name
    inbox_prefix: str  # COMPLAINTS_INBOX_PREFIX: its inbox folder, e.g. inbox/

    @classmethod
    def from_env(cls) -> "SubmitSettings":
        return cls(*_required("the submit function", "COMPLAINTS_BATCH_BUCKET", "COMPLAINTS_INBOX_PREFIX"))


@dataclass(frozen=True)
class CognitoSettings:
    """The user pool whose access tokens the ops API function verifies itself (ops_api/cognito.py), as Terraform
    sets them from module ops_api."""

    issuer: str  # COMPLAINTS_COGNITO_ISSUER: https://cognito-idp.<region>.amazonaws.com/<pool id>
    jwks_url: str  # COMPLAINTS_COGNITO_JWKS_URL: the pool's public signing keys, <issuer>/.well-known/jwks.json
    client_ids: frozenset[str]  # COMPLAINTS_COGNITO_CLIENT_IDS: the app clients it takes tokens of, comma-separated

    @classmethod
    def from_env(cls) -> "CognitoSettings":
        issuer, jwks_url, client_ids = _required("the ops API function", "COMPLAINTS_COGNITO_ISSUER",
                                                 "COMPLAINTS_COGNITO_JWKS_URL", "COMPLAINTS_COGNITO_CLIENT_IDS")
        return cls(issuer, jwks_url, frozenset(filter(None, client_ids.split(","))))


@dataclass(frozen=True)
class HubSettings:
    """The Hugging Face Hub the production registry talks to (its token, HF_TOKEN, huggingface_hub reads)."""

    endpoint: str | None  # HF_ENDPOINT: a Hub other than huggingface.co (a test's local one); None: the public Hub

    @classmethod
    def from_env(cls) -> "HubSettings":
        return cls(os.environ.get("HF_ENDPOINT") or None)


@dataclass(frozen=True)
class ManifestSettings:
    """Where the release tooling finds the release manifests, and what stands in for a manifest's store and
    registry when the lifecycle runs away from the environment it names (tests, local runs)."""

    deploy_dir: Path  # COMPLAINTS_DEPLOY_DIR, else the checkout's deploy/
    store_url: str | None  # COMPLAINTS_MANIFEST_STORE_URL: a store used in place of every manifest's
    registry_url: str | None  # COMPLAINTS_MANIFEST_REGISTRY_URL: a registry used in place of every manifest's

    @classmethod
    def from_env(cls) -> "ManifestSettings":
        return cls(Path(os.environ.get("COMPLAINTS_DEPLOY_DIR") or DEPLOY_DIR),
                   os.environ.get("COMPLAINTS_MANIFEST_STORE_URL") or None,
                   os.environ.get("COMPLAINTS_MANIFEST_REGISTRY_URL") or None)
