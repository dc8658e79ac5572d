"""Budibase's builder HTTP API, the calls that build and publish an app, each one find-or-update so a re-run
never duplicates.

These are the endpoints Budibase's own builder UI calls (its public API cannot import specs or write
screens). A deployment authenticates with a builder's API key (``x-budibase-api-key``); the local harness with
a session cookie and its CSRF token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import httpx


Kind = Literal["queries", "roles", "screens"]  # the builder API's document collections this app writes


class BudibaseError(RuntimeError):
    """Budibase refused a call; the message names the call and Budibase's reason, never a credential."""


@dataclass(frozen=True)
class Credentials:
    """How the deployment signs in: an API key, or a session (cookie and CSRF token)."""

    api_key: str | None = None
    session_cookie: str | None = None
    csrf_token: str | None = None

    def headers(self) -> dict[str, str]:
        if self.api_key:
            return {"x-budibase-api-key": self.api_key}
        if self.session_cookie and self.csrf_token:
            return {"Cookie": f"budibase:auth={self.session_cookie}", "x-csrf-token": self.csrf_token}
        raise ValueError("Budibase credentials need an API key, or a session cookie and its CSRF token")


class BuilderClient:
    """One Budibase instance; ``workspace(app_id)`` scopes the calls that act inside one workspace."""

    def __init__(self, url: str, credentials: Credentials, timeout: float = 60.0) -> None:
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=credentials.headers(), timeout=timeout)
        self.app_id: str | None = None

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"x-budibase-app-id": self.app_id} if self.app_id else {}
        response = self.http.request(method, path, headers=headers, **kwargs)
        if response.status_code >= 400:
            try:
                reason = response.json().get("message", response.text[:300])
            except ValueError:
                reason = response.text[:300]
            raise BudibaseError(f"{method} {path}: {response.status_code} {reason}")
        return response.json() if response.content else None

    # -- workspaces ------------------------------------------------------------------------------------
    def workspace(self, name: str, url: str) -> dict[str, Any]:
        """The development workspace named ``name``, created when there is none; later calls act inside it."""
        found = [app for app in self.call("GET", "/api/applications", params={"status": "all"})
                 if app["name"] == name or app["url"] == url]
        workspace = found[0] if found else self.call("POST", "/api/applications", data={"name": name, "url": url})
        self.app_id = workspace["appId"]
        return workspace

    def workspace_app(self, name: str) -> dict[str, Any]:
        """The workspace's one app, at its root URL: the first made (Budibase may make one with the workspace)."""
        apps = sorted(self.call("GET", "/api/workspaceApp")["workspaceApps"], key=lambda a: a["createdAt"])
        return apps[0] if apps else self.call("POST", "/api/workspaceApp", json={"name": name, "url": "/"})[
            "workspaceApp"]

    def update_workspace_app(self, app: dict[str, Any], navigation: dict[str, Any]) -> None:
        """Its navigation, and enabled: Budibase makes a new one disabled (a published app then answers 404)."""
        body = {key: app[key] for key in ("_id", "_rev", "name", "url")} | {"navigation": navigation,
                                                                             "disabled": False}
        self.call("PUT", f"/api/workspaceApp/{app['_id']}", json=body)

    def publish(self) -> dict[str, Any]:
        return self.call("POST", f"/api/applications/{self.app_id}/publish")

    def export(self) -> bytes:
        """The workspace as Budibase's export file (tar.gz, no rows: this app holds none), as the builder's
        "Export" gives it, for teams that import by hand."""
        response = self.http.post("/api/backups/export", params={"appId": self.app_id},
                                  json={"excludeRows": True}, headers={"x-budibase-app-id": self.app_id})
        if response.status_code >= 400:
            raise BudibaseError(f"export: {response.status_code} {response.text[:300]}")
        return response.content

    # -- the REST datasource and its queries -----------------------------------------------------------
    def datasource(self, name: str) -> dict[str, Any] | None:
        return next((ds for ds in self.call("GET", "/api/datasources") if ds.get("name") == name), None)

    def import_openapi(self, spec: dict[str, Any], datasource: dict[str, Any] | None, name: str,
                       config: dict[str, Any]) -> list[dict[str, Any]]:
        """Import ``spec`` with Budibase's own importer: into a new datasource ``name`` when there is none,
        else into ``datasource`` (whose config is updated). Returns the queries the import just made."""
        body: dict[str, Any] = {"data": json.dumps(spec)}
        if datasource is None:
            body["datasource"] = {"name": name, "source": "REST", "config": config}
        else:
            self.call("PUT", f"/api/datasources/{datasource['_id']}",
                      json={**datasource, "config": {**datasource["config"], **config}})
            body["datasourceId"] = datasource["_id"]
        result = self.call("POST", "/api/queries/import", json=body)
        if result.get("errorQueries"):
            raise BudibaseError(f"the OpenAPI import failed for {[q.get('name') for q in result['errorQueries']]}")
        return result["queries"]

    def allow(self, role_id: str, resource_id: str, level: str) -> None:
        self.call("POST", f"/api/permission/{role_id}/{resource_id}/{level}")

    # -- the workspace's documents: queries, roles, screens ---------------------------------------------
    def documents(self, kind: Kind) -> list[dict[str, Any]]:
        return self.call("GET", f"/api/{kind}")

    def save(self, kind: Kind, document: dict[str, Any]) -> dict[str, Any]:
        """Create ``document``, or update it when it carries the ``_id`` and ``_rev`` Budibase gave it."""
        return self.call("POST", f"/api/{kind}", json=document)

    def delete(self, kind: Kind, document: dict[str, Any]) -> None:
        self.call("DELETE", f"/api/{kind}/{document['_id']}/{document['_rev']}")

    # -- the organisation's sign-in ----------------------------------------------------------------------
    def sign_in_settings(self) -> dict[str, Any]:
        """The settings as the sign-in page reads them: ``oidc`` (an OpenID Connect configuration is active) and
        ``isSSOEnforced`` (password sign-in is refused: the setting is on and the licence has the feature)."""
        return self.call("GET", "/api/global/configs/public")["config"]

    def enforce_single_sign_on(self) -> None:
        """Turn on the organisation's "Enforce single sign-on" setting, keeping its other settings."""
        settings = self.call("GET", "/api/global/configs/settings") or {}
        self.call("POST", "/api/global/configs",
                  json={"type": "settings", "config": {**settings.get("config", {}), "isSSOEnforced": True}})
