"""Budibase screen components as plain dicts, with ids derived from their place, so every deployment writes
the same screens and a binding can name a component before it exists.

Runtime bindings follow Budibase's form: ``{{ [<component id>].[rows] }}``, ``{{ [url].[param] }}``,
``{{ [eventContext].[row].[field] }}``; actions are ``{"##eventHandlerType": ..., "parameters": ...}``.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

STANDARD = "@budibase/standard-components/"
_IDS = uuid.UUID("6f3c1a52-3d44-4c5e-9b7e-0c1d2e3f4a5b")


def component_id(*place: str) -> str:
    return str(uuid.uuid5(_IDS, "/".join(place)))


def node(kind: str, place: tuple[str, ...], *children: dict[str, Any], **settings: Any) -> dict[str, Any]:
    return {"_id": component_id(*place), "_component": STANDARD + kind, "_instanceName": place[-1],
            "_styles": {"normal": {}, "hover": {}, "active": {}, "selected": {}}, "_children": list(children),
            **settings}


def bind(*path: str) -> str:
    """``bind(provider_id, "rows", "0", "name")`` -> ``{{ [id].[rows].[0].[name] }}``."""
    return "{{ " + ".".join(f"[{part}]" for part in path) + " }}"


def provider_ref(component: str) -> str:
    """A data provider setting: the provider component itself, not a value of it."""
    return "{{ literal [" + component + "] }}"


def js(code: str) -> str:
    """A JavaScript binding, evaluated in the browser when the action runs."""
    return '{{ js "' + base64.b64encode(code.encode()).decode() + '" }}'


def query_source(query: dict[str, Any], **params: str) -> dict[str, Any]:
    return {"type": "query", "_id": query["_id"], "name": query["name"], "label": query["name"],
            "datasourceId": query["datasourceId"], "queryParams": params, "parameters": query.get("parameters", [])}


def execute(query: dict[str, Any], **params: str) -> dict[str, Any]:
    return {"##eventHandlerType": "Execute Query",
            "parameters": {"datasourceId": query["datasourceId"], "queryId": query["_id"], "queryParams": params,
                           "notificationOverride": True}}


def navigate(url: str) -> dict[str, Any]:
    return {"##eventHandlerType": "Navigate To", "parameters": {"type": "url", "url": url}}


def notify(message: str) -> dict[str, Any]:
    return {"##eventHandlerType": "Show Notification",
            "parameters": {"type": "success", "message": message, "autoDismiss": True}}


def columns(*named: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"name": name, "displayName": label, "id": name} for name, label in named]
