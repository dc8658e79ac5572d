"""The ops API's OpenAPI document, as 3.0: Budibase's importer reads 3.0 documents and FastAPI writes 3.1.

FastAPI's 3.1 schemas are rewritten into their 3.0 equivalents (``anyOf`` with ``null`` -> ``nullable``, a
schema's ``examples`` list -> ``example``, ``const`` -> ``enum``) and the result is validated as 3.0 by
openapi-spec-validator. ``ops_api/openapi.json`` is the committed document; a test fails when the code no
longer produces it, and ``make openapi`` writes it again.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

COMMITTED = Path(__file__).with_name("openapi.json")


def openapi_30(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI 3.0 document (cached on the app, as FastAPI caches its own)."""
    if app.openapi_schema is None:
        document = get_openapi(title=app.title, version=app.version, openapi_version=app.openapi_version,
                               description=app.description, routes=app.routes)
        app.openapi_schema = _to_30(_errors_as_json(document))
    return app.openapi_schema


def _errors_as_json(document: dict[str, Any]) -> dict[str, Any]:
    """Errors are JSON on every route: FastAPI files a route's extra responses under the route's own media type
    (text/html for a rendering)."""
    for operations in document["paths"].values():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                content = response.get("content", {})
                if status >= "400" and "application/json" not in content:
                    response["content"] = {"application/json": next(iter(content.values()))}
    return document


def _to_30(node: Any) -> Any:
    if isinstance(node, list):
        return [_to_30(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _to_30(value) for key, value in node.items()}
    if "anyOf" in node and {"type": "null"} in node["anyOf"]:
        others = [option for option in node.pop("anyOf") if option != {"type": "null"}]
        [other] = others if len(others) == 1 else [{"anyOf": others}]
        node.update({"allOf": [other]} if "$ref" in other else other)
        node["nullable"] = True
    if isinstance(node.get("examples"), list):  # a schema's examples (3.1); 3.0 has one example
        node["example"] = node.pop("examples")[0]
    if "const" in node:
        node["enum"] = [node.pop("const")]
    return node


def spec_app() -> FastAPI:
    """The app as the document describes it: routes and schemas need no store, registry or models."""
    from complaints.deployment import Deployment
    from complaints.config import Settings
    from complaints.tasks import load_tasks
    from complaints.taxonomy import Taxonomy
    from ops_api.app import create_app

    settings = Settings.from_env()
    return create_app(Deployment(store=None, registry=None, tasks=load_tasks(settings.tasks_file),
                                 taxonomy=Taxonomy.load(settings.taxonomy_file)))


def rendered(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    from openapi_spec_validator import validate

    parser = argparse.ArgumentParser(description="Write the ops API's OpenAPI 3.0 document.")
    parser.add_argument("output", nargs="?", type=Path, default=COMMITTED)
    args = parser.parse_args(argv)
    document = openapi_30(spec_app())
    validate(document)
    args.output.write_text(rendered(document), encoding="utf-8")
    print(f"wrote {args.output} (OpenAPI {document['openapi']}, {len(document['paths'])} paths)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
