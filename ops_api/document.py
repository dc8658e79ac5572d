"""The ops API's OpenAPI document, as 3.0: Budibase's importer reads 3.0 documents and FastAPI writes 3.1.

FastAPI's 3.1 schemas are rewritten into their 3.0 equivalents (``anyOf`` with ``null`` -> ``nullable``, a
schema's ``examples`` list -> ``example``, ``const`` -> ``enum``); the app serves this at ``/openapi.json``, and
``ops_api.openapi`` validates and commits it.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi


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
