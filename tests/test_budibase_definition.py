"""The ops app's definition, checked without a Budibase server: every binding names something that exists,
every operation the app reads is in the ops API's spec, and the vocabulary comes from the configuration.
(The app running in a real Budibase and browser: tests/test_budibase_app.py, make budibase-e2e.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from budibase import app
from budibase.components import STANDARD
from budibase.deploy import SPEC
from complaints.queues import slug
from complaints.config import Settings
from complaints.tasks import load_tasks
from complaints.taxonomy import Taxonomy

MANIFEST_KINDS = {"container", "dataprovider", "table", "repeater", "heading", "text", "markdownviewer", "button",
                  "form", "optionsfield", "stringfield", "cardstat"}


@pytest.fixture(scope="module")
def vocabulary() -> app.Vocabulary:
    settings = Settings.from_env()
    return app.Vocabulary.of(load_tasks(settings.tasks_file), Taxonomy.load(settings.taxonomy_file))


@pytest.fixture(scope="module")
def built(vocabulary):
    queries = {name: {"_id": f"query_{name}", "name": name, "datasourceId": "datasource_ops", "parameters": []}
               for name in app.QUERY_VIEWS}
    return queries, app.screens(queries, vocabulary, "workspace_app_1")


def _components(node):
    yield node
    for child in node.get("_children", []):
        yield from _components(child)


def test_every_operation_the_app_reads_is_in_the_committed_spec():
    spec = json.loads(Path(SPEC).read_text())
    operations = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert set(app.QUERY_VIEWS) | app.UNUSED_OPERATIONS == operations


def test_component_ids_are_unique_and_every_binding_names_a_component_on_its_screen(built):
    queries, screens = built
    for screen in screens:
        components = list(_components(screen["props"]))
        ids = [c["_id"] for c in components]
        assert len(ids) == len(set(ids)), screen["routing"]["route"]
        text = json.dumps(screen)
        named = set(re.findall(r"\[([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\]", text))
        assert named <= set(ids), screen["routing"]["route"]
        for component in components:
            assert component["_component"].removeprefix(STANDARD) in MANIFEST_KINDS
            if "dataProvider" in component:  # a table or repeater reads a data provider of its own screen
                target = re.fullmatch(r"\{\{ literal \[(.+)\] \}\}", component["dataProvider"]).group(1)
                assert next(c for c in components if c["_id"] == target)["_component"].endswith("dataprovider")
            source = component.get("dataSource", {})
            if source.get("type") == "query":
                assert source["_id"] == queries[source["name"]]["_id"]


def test_routes_are_unique_and_each_role_has_its_home_screen(built, vocabulary):
    _, screens = built
    routes = [s["routing"]["route"] for s in screens]
    assert len(routes) == len(set(routes))
    homes = {s["routing"]["roleId"] for s in screens if s["routing"]["homeScreen"]}
    assert homes == {app.BASIC, app.ANALYST, app.SPECIALIST, app.AUDITOR}
    assert {f"/{queue_id}" for queue_id in vocabulary.specialist_queue_ids} <= set(routes)
    links = app.navigation(vocabulary)["links"]
    assert {link["url"] for link in links} <= set(routes)


def test_reassignment_offers_the_configured_labels_and_a_fresh_idempotency_key(built, vocabulary):
    settings = Settings.from_env()  # the configuration only: no store is opened
    tasks, taxonomy = load_tasks(settings.tasks_file), Taxonomy.load(settings.taxonomy_file)
    _, screens = built
    complaint = next(s for s in screens if s["routing"]["route"] == "/complaint/:complaint_id")
    pickers = {c["label"]: [o["value"] for o in c["customOptions"]] for c in _components(complaint["props"])
               if c["_component"].endswith("optionsfield")}
    assert pickers["Correct team"] == list(taxonomy.teams)
    assert pickers["Correct vulnerable"] == ["no", "yes"]
    reassign = next(c for c in _components(complaint["props"]) if c.get("text") == "Reassign team")
    executed = reassign["onClick"][1]["parameters"]
    assert executed["queryId"] == "query_reassign" and executed["queryParams"]["idempotency_key"].startswith("{{ js ")
    assert vocabulary.specialist_queue_ids == [slug(t.queue) for t in tasks if t.role == "flag"]


def test_the_reassign_query_sends_the_idempotency_key_it_is_given():
    imported = {"_id": "q", "name": "reassign", "datasourceId": "d",
                "fields": {"headers": {"Idempotency-Key": "{{Idempotency-Key}}"}, "path": "/complaints/{{id}}"},
                "parameters": [{"name": "complaint_id", "default": ""}, {"name": "Idempotency-Key", "default": ""}]}
    query = app.query_definition(imported, "reassign")
    assert query["fields"]["headers"]["Idempotency-Key"] == "{{ idempotency_key }}"
    assert [p["name"] for p in query["parameters"]] == ["complaint_id", "idempotency_key"]
    assert set(query["schema"]) == set(app.QUERY_VIEWS["reassign"].fields)


def test_the_deploy_command_does_nothing_where_the_stack_hosts_no_budibase(monkeypatch, capsys):
    from budibase import deploy as command
    monkeypatch.delenv("BUDIBASE_URL", raising=False)
    monkeypatch.delenv("OPS_API_URL", raising=False)
    monkeypatch.setattr(command, "stack_outputs", lambda: {"ops_api_endpoint": "https://ops.example"})
    assert command.main([]) == 0
    assert "hosts no Budibase" in capsys.readouterr().out
    monkeypatch.setattr(command, "stack_outputs", lambda: {})  # no stack, no URL: a usage error, not a no-op
    with pytest.raises(SystemExit) as usage:
        command.main([])
    assert usage.value.code == 2 and "--url and --ops-api-url are required" in capsys.readouterr().err


def test_the_deploy_command_needs_credentials(monkeypatch, capsys):
    from budibase import deploy as command
    for name in ("BUDIBASE_API_KEY", "BUDIBASE_SESSION", "BUDIBASE_CSRF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit) as usage:
        command.main(["--url", "https://budibase.example", "--ops-api-url", "https://ops.example"])
    assert usage.value.code == 2 and "BUDIBASE_API_KEY" in capsys.readouterr().err


def test_the_model_health_screen_is_the_triage_leads_and_auditors_and_reads_a_window_the_api_takes(built, vocabulary):
    from ops_api.routers.monitoring import MONITORING_DAYS

    _, screens = built
    [health] = [s for s in screens if s["routing"]["route"] == "/model-health"]
    assert health["routing"]["roleId"] == app.AUDITOR  # the triage lead inherits it; analysts and specialists not
    assert next(r for r in app.ROLES if r["name"] == app.TRIAGE_LEAD)["inherits"].count(app.AUDITOR) == 1
    [source] = [c["dataSource"] for c in _components(health["props"]) if c.get("dataSource", {}).get("type") == "query"]
    assert source["name"] == "model_health" and 1 <= int(source["queryParams"]["since_days"]) <= MONITORING_DAYS
    table = next(c for c in _components(health["props"]) if c["_component"].endswith("table"))
    assert {column["name"] for column in table["columns"]} <= set(app.QUERY_VIEWS["model_health"].fields)
    assert {"url": "/model-health", "roleId": app.AUDITOR} in [
        {k: link[k] for k in ("url", "roleId")} for link in app.navigation(vocabulary)["links"]]
