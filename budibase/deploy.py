"""Create or update the ops app in a Budibase instance, then publish it: ``python -m budibase.deploy``.

Each step finds what a previous run made and updates it, so a re-run never duplicates: the workspace by
name, the datasource by name, each query by its ops API operation, each role by name, each screen by route.
The ops API is imported with Budibase's own OpenAPI importer from ``ops_api/openapi.json`` (the committed
spec, its server set to ``--ops-api-url``). Last, it turns on "Enforce single sign-on" where the instance
allows it, and warns where it does not. ``--export`` writes Budibase's export file of the app for teams that
import by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from budibase import app
from budibase.client import BudibaseError, BuilderClient, Credentials
from complaints.config import Settings
from model.stack_outputs import stack_outputs
from complaints.tasks import load_tasks
from complaints.taxonomy import Taxonomy

SPEC = Path(__file__).resolve().parent.parent / "ops_api" / "openapi.json"


@dataclass
class Deployed:
    """What one run did, for the log and the tests: the ids it settled on, and what it created, updated and
    removed."""

    app_id: str
    roles: dict[str, str]
    queries: dict[str, str]
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    sign_in_gap: str | None = None  # why Budibase's own password sign-in stays open; None: SSO is enforced


def deploy(client: BuilderClient, ops_api_url: str, vocabulary: app.Vocabulary, publish: bool = True) -> Deployed:
    workspace = client.workspace(app.NAME, app.URL)
    done = Deployed(app_id=workspace["appId"], roles={}, queries={})
    done.queries = _sync_queries(client, ops_api_url, done)
    done.roles = _sync_roles(client, done)
    queries = {query["name"]: query for query in client.documents("queries") if query["_id"] in done.queries.values()}
    for query in queries.values():  # who may run it is the API's call: every signed-in app user may ask
        client.allow(app.BASIC, query["_id"], "read")
        client.allow(app.BASIC, query["_id"], "write")
    workspace_app = client.workspace_app(app.NAME)
    _sync_screens(client, app.screens(queries, vocabulary, workspace_app["_id"]), done)
    client.update_workspace_app(workspace_app, app.navigation(vocabulary))
    if publish:
        client.publish()
    done.sign_in_gap = enforce_single_sign_on(client)
    return done


def enforce_single_sign_on(client: BuilderClient) -> str | None:
    """Budibase's own password sign-in would bypass the identity provider's MFA: turn on "Enforce single sign-on"
    where this instance allows it. Returns None once it is enforced, else why it is not (budibase/README.md)."""
    settings = client.sign_in_settings()
    if settings.get("isSSOEnforced"):
        return None
    if not settings.get("oidc"):
        return "no OpenID Connect configuration is active, and Budibase enforces single sign-on only over one"
    try:
        client.enforce_single_sign_on()
    except BudibaseError as error:
        return f"Budibase refused to enforce it ({error}): the deploying key must be an administrator's"
    if client.sign_in_settings().get("isSSOEnforced"):
        return None
    return "this instance's licence lacks Budibase's enforceable SSO (a Business or Enterprise feature)"


def _sync_queries(client: BuilderClient, ops_api_url: str, done: Deployed) -> dict[str, str]:
    spec = json.loads(SPEC.read_text(encoding="utf-8")) | {"servers": [{"url": ops_api_url}]}
    existing = client.datasource(app.DATASOURCE)
    before = {q["name"]: q for q in client.documents("queries") if existing and q["datasourceId"] == existing["_id"]}
    imported = client.import_openapi(spec, existing, app.DATASOURCE,
                                     {"url": ops_api_url, "defaultHeaders": {"Authorization": app.USER_TOKEN}})
    stored = {q["_id"]: q for q in client.documents("queries")}  # the import's answer lacks each query's revision
    kept: dict[str, str] = {}
    for query in (stored[q["_id"]] for q in imported):
        operation = query["restTemplateMetadata"]["operationId"]
        if operation in app.UNUSED_OPERATIONS:
            client.delete("queries", query)
            continue
        wanted = app.query_definition(query, operation)
        if operation in before:  # keep the id the screens name; take the spec's latest shape
            client.delete("queries", query)
            wanted = {**wanted, "_id": before[operation]["_id"], "_rev": before[operation]["_rev"]}
            done.updated.append(f"query {operation}")
        else:
            done.created.append(f"query {operation}")
        kept[operation] = client.save("queries", wanted)["_id"]
    for name, stale in before.items():
        if name not in kept:  # an operation the spec no longer has
            client.delete("queries", stale)
            done.removed.append(f"query {name}")
    missing = set(app.QUERY_VIEWS) - set(kept)
    if missing:
        raise BudibaseError(f"the ops API spec lacks operations the app uses: {sorted(missing)}")
    return kept


def _sync_roles(client: BuilderClient, done: Deployed) -> dict[str, str]:
    """Each role by name; returns the ids screens and users name them by (Budibase's external ids)."""
    for role in app.ROLES:
        current = {r["name"]: r for r in client.documents("roles")}
        body = {**role, "permissionId": "write", "version": "name"}
        if role["name"] in current:
            body |= {"_id": current[role["name"]]["_id"], "_rev": current[role["name"]].get("_rev")}
            done.updated.append(f"role {role['name']}")
        else:
            done.created.append(f"role {role['name']}")
        client.save("roles", body)
    return {r["name"]: r["_id"] for r in client.documents("roles")}


def _sync_screens(client: BuilderClient, wanted: list[dict[str, Any]], done: Deployed) -> None:
    current = {s["routing"]["route"]: s for s in client.documents("screens")}
    for screen in wanted:
        screen = {**screen, "routing": {**screen["routing"],
                                        "roleId": done.roles.get(screen["routing"]["roleId"],
                                                                 screen["routing"]["roleId"])}}
        route = screen["routing"]["route"]
        if route in current:
            previous = current.pop(route)
            screen |= {"_id": previous["_id"], "_rev": previous["_rev"]}
            done.updated.append(f"screen {route}")
        else:
            done.created.append(f"screen {route}")
        client.save("screens", screen)
    for route, stale in current.items():  # a screen the app no longer has
        client.delete("screens", stale)
        done.removed.append(f"screen {route}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m budibase.deploy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("BUDIBASE_URL"),
                        help="the Budibase instance (env BUDIBASE_URL; else the stack's output budibase_url)")
    parser.add_argument("--ops-api-url", default=os.environ.get("OPS_API_URL"),
                        help="the ops API the app calls, as Budibase's server reaches it (env OPS_API_URL; else the "
                             "stack's output ops_api_endpoint)")
    parser.add_argument("--export", type=Path, help="also write the app's Budibase export file (tar.gz) here")
    parser.add_argument("--no-publish", action="store_true", help="update the development app only")
    args = parser.parse_args(argv)
    if not args.url or not args.ops_api_url:
        outputs = stack_outputs()
        if outputs and not outputs.get("budibase_url") and not args.url:
            print("the stack hosts no Budibase (output budibase_url is null): the ops app is not deployed")
            return 0
        args.url = args.url or outputs.get("budibase_url")
        args.ops_api_url = args.ops_api_url or outputs.get("ops_api_endpoint")
    if not args.url or not args.ops_api_url:
        parser.error("--url and --ops-api-url are required (or BUDIBASE_URL and OPS_API_URL, or an initialised "
                     "infra/stack whose outputs name them)")
    credentials = Credentials(api_key=os.environ.get("BUDIBASE_API_KEY"),
                              session_cookie=os.environ.get("BUDIBASE_SESSION"),
                              csrf_token=os.environ.get("BUDIBASE_CSRF_TOKEN"))
    if not credentials.api_key and not (credentials.session_cookie and credentials.csrf_token):
        parser.error("set BUDIBASE_API_KEY (a Budibase builder's API key), or BUDIBASE_SESSION and "
                     "BUDIBASE_CSRF_TOKEN")
    settings = Settings.from_env()
    vocabulary = app.Vocabulary.of(load_tasks(settings.tasks_file), Taxonomy.load(settings.taxonomy_file))
    client = BuilderClient(args.url, credentials)
    try:
        done = deploy(client, args.ops_api_url, vocabulary, publish=not args.no_publish)
        if args.export:
            args.export.parent.mkdir(parents=True, exist_ok=True)
            args.export.write_bytes(client.export())
    except BudibaseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        client.close()
    print(f"{app.NAME} ({done.app_id}): {len(done.created)} created, {len(done.updated)} updated, "
          f"{len(done.removed)} removed{'' if args.no_publish else ', published'}")
    if done.sign_in_gap:
        print(f"warning: Budibase's own password sign-in stays open: {done.sign_in_gap} (known gap and its "
              f"compensating controls: budibase/README.md)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
