"""complaints.config is the one module that reads the environment, and each variable there means one thing."""

import ast
import logging
from pathlib import Path

import pytest

from complaints.config import (
    DEFAULT_CHUNK_SIZE, DEPLOY_DIR, AwsSettings, FunctionSettings, HubSettings, IntakeSettings, ManifestSettings,
    MetricsSettings, Settings, SubmitSettings,
)
from model.manifest import ReleaseManifest, manifest_path
from testing import CHECKOUT
from testing.moto_stack import default_chunk_size

PRODUCT_PACKAGES = ("complaints", "functions", "ops_api", "console", "model", "explain", "data_checks", "budibase")
CONFIG = CHECKOUT / "complaints" / "config"
# budibase/deploy.py is an app's own CLI: its flags default from BUDIBASE_* and OPS_API_URL, as CLIs do.
EXCEPTED = {CHECKOUT / "budibase" / "deploy.py"}
READERS = {"environ", "environb", "getenv", "getenvb"}


def environment_reads(path: Path) -> list[int]:
    """The lines of ``path`` that touch os.environ or os.getenv, however imported."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in READERS:
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os" and {a.name for a in node.names} & READERS:
            lines.append(node.lineno)
    return lines


def test_no_module_outside_complaints_config_reads_the_environment():
    assert environment_reads(CONFIG / "__init__.py")  # the check sees a read where there is one
    readers = {f"{path.relative_to(CHECKOUT)}:{line}"
               for package in PRODUCT_PACKAGES for path in sorted((CHECKOUT / package).rglob("*.py"))
               if CONFIG not in path.parents and path not in EXCEPTED for line in environment_reads(path)}
    assert not readers, f"read the environment through complaints.config, not here: {sorted(readers)}"


def test_the_aws_deployment_names_every_variable_it_misses(monkeypatch):
    monkeypatch.delenv("COMPLAINTS_STORE_URL", raising=False)
    monkeypatch.delenv("COMPLAINTS_REGISTRY_URL", raising=False)
    with pytest.raises(ValueError, match="COMPLAINTS_STORE_URL and COMPLAINTS_REGISTRY_URL in its environment"):
        AwsSettings.from_env()
    monkeypatch.setenv("COMPLAINTS_STORE_URL", "dynamodb://complaints-prod?region=us-east-1")
    with pytest.raises(ValueError, match="needs COMPLAINTS_REGISTRY_URL in"):
        AwsSettings.from_env()
    monkeypatch.setenv("COMPLAINTS_REGISTRY_URL", "file:///opt/models")
    assert AwsSettings.from_env() == AwsSettings("dynamodb://complaints-prod?region=us-east-1", "file:///opt/models")


def test_each_function_reads_its_own_variables_typed(monkeypatch):
    monkeypatch.setenv("COMPLAINTS_CHUNK_PREFIX", "chunks/")
    monkeypatch.setenv("COMPLAINTS_CHUNK_SIZE", "100")
    monkeypatch.setenv("COMPLAINTS_BATCH_BUCKET", "batches")
    monkeypatch.setenv("COMPLAINTS_INBOX_PREFIX", "inbox/")
    monkeypatch.setenv("COMPLAINTS_LOG_LEVEL", "info")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("COMPLAINTS_ENVIRONMENT", "prod")
    assert IntakeSettings.from_env() == IntakeSettings("chunks/")
    assert MetricsSettings.from_env() == MetricsSettings("prod")
    assert Settings.from_env().chunk_size == 100
    assert SubmitSettings.from_env() == SubmitSettings("batches", "inbox/")
    assert FunctionSettings.from_env().log_level == logging.INFO
    assert HubSettings.from_env().endpoint == "http://127.0.0.1:9"
    monkeypatch.delenv("COMPLAINTS_LOG_LEVEL")
    monkeypatch.delenv("HF_ENDPOINT")
    monkeypatch.delenv("COMPLAINTS_CHUNK_PREFIX")
    assert FunctionSettings.from_env().log_level is None and HubSettings.from_env().endpoint is None
    with pytest.raises(ValueError, match="the intake function needs COMPLAINTS_CHUNK_PREFIX"):
        IntakeSettings.from_env()
    monkeypatch.delenv("COMPLAINTS_ENVIRONMENT")
    with pytest.raises(ValueError, match="a function that writes metrics needs COMPLAINTS_ENVIRONMENT"):
        MetricsSettings.from_env()


def test_a_manifest_is_overridden_by_its_own_variables_never_by_the_lambda_deployments(monkeypatch, tmp_path):
    for name in ("COMPLAINTS_DEPLOY_DIR", "COMPLAINTS_MANIFEST_STORE_URL", "COMPLAINTS_MANIFEST_REGISTRY_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COMPLAINTS_STORE_URL", "dynamodb://complaints-prod?region=us-east-1")  # a Lambda's store
    monkeypatch.setenv("COMPLAINTS_REGISTRY_URL", "file:///opt/models")
    assert ManifestSettings.from_env() == ManifestSettings(DEPLOY_DIR, None, None)
    dev = ReleaseManifest.load(CHECKOUT / "deploy" / "dev.yaml")
    assert (dev.store_url, dev.registry_url) == (dev.store, dev.registry)
    monkeypatch.setenv("COMPLAINTS_DEPLOY_DIR", str(tmp_path))
    monkeypatch.setenv("COMPLAINTS_MANIFEST_STORE_URL", "sqlite:///dev.sqlite3")
    monkeypatch.setenv("COMPLAINTS_MANIFEST_REGISTRY_URL", "hf://megabank")
    assert ManifestSettings.from_env() == ManifestSettings(tmp_path, "sqlite:///dev.sqlite3", "hf://megabank")
    assert (dev.store_url, dev.registry_url) == ("sqlite:///dev.sqlite3", "hf://megabank")
    assert manifest_path("dev") == tmp_path / "dev.yaml"


def test_a_batch_is_chunked_by_one_size_on_both_paths(monkeypatch):
    """The embedded default's chunk size is the one Terraform gives the AWS intake, unless set."""
    monkeypatch.delenv("COMPLAINTS_CHUNK_SIZE", raising=False)
    assert Settings.from_env().chunk_size == DEFAULT_CHUNK_SIZE == default_chunk_size()
    monkeypatch.setenv("COMPLAINTS_CHUNK_SIZE", "7")
    assert Settings.from_env().chunk_size == 7


def test_the_home_a_command_reads_is_the_one_make_run_fills(monkeypatch, tmp_path):
    """Typed after `make run` at the checkout's root, a command reads make's home (the README's next steps)."""
    monkeypatch.delenv("COMPLAINTS_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    assert "export COMPLAINTS_HOME ?= $(CURDIR)/.complaints" in (CHECKOUT / "Makefile").read_text(encoding="utf-8")
    assert Settings.from_env().home == tmp_path / ".complaints"
    monkeypatch.setenv("COMPLAINTS_HOME", str(tmp_path / "elsewhere"))
    assert Settings.from_env().home == tmp_path / "elsewhere"
    assert Settings.from_env(home=tmp_path / "flag").home == tmp_path / "flag"
