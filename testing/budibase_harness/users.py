"""App users and their sessions, written where Budibase's worker and its SSO sign-in would write them.

In production a user signs in to Budibase with OIDC against the ops user pool; Budibase then keeps the
user's access token on the global user (``oauth2.accessToken``) and the app's REST datasource sends it to
the ops API. Here the worker is absent (see ``worker``), so the harness does the same by hand: one global
user per ops user, carrying that user's ops API token from ``complaints users add`` and the app role for
their ops role, and a session (a Redis entry and the signed ``budibase:auth`` cookie) as sign-in leaves it.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

import httpx
import jwt
import redis

SESSION_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Session:
    user_id: str
    cookie: str  # the value of the budibase:auth cookie
    csrf_token: str


@dataclass(frozen=True)
class BudibaseBackends:
    couchdb_url: str  # with credentials
    redis_port: int
    redis_password: str
    jwt_secret: str

    def session(self, user_id: str) -> Session:
        session_id, csrf = secrets.token_hex(16), secrets.token_hex(16)
        store = redis.Redis(port=self.redis_port, password=self.redis_password)
        store.set(f"session-{user_id}/{session_id}", json.dumps(
            {"sessionId": session_id, "tenantId": "default", "csrfToken": csrf, "userId": user_id}),
            ex=SESSION_SECONDS)
        store.close()
        cookie = jwt.encode({"userId": user_id, "sessionId": session_id, "tenantId": "default"}, self.jwt_secret,
                            algorithm="HS256")
        return Session(user_id=user_id, cookie=cookie, csrf_token=csrf)

    def admin_id(self, email: str) -> str:
        return self._user_by_email(email)["_id"]

    def put_app_user(self, email: str, app_id: str, role_id: str, ops_api_token: str) -> str:
        """Create or update the global user ``email``: the app role and the ops API token it signs in with."""
        current = self._user_by_email(email, missing_ok=True)
        user = current or {"_id": "us_" + secrets.token_hex(16), "email": email, "createdAt": int(time.time() * 1000),
                           "tenantId": "default", "status": "active", "builder": {"global": False},
                           "admin": {"global": False}}
        user = {**user, "roles": {app_id: role_id}, "oauth2": {"accessToken": ops_api_token}}
        response = httpx.put(f"{self.couchdb_url}/global-db/{user['_id']}", json=user, timeout=30)
        response.raise_for_status()
        return user["_id"]

    def _user_by_email(self, email: str, missing_ok: bool = False) -> dict | None:
        response = httpx.get(f"{self.couchdb_url}/global-db/_all_docs", params={"include_docs": "true"}, timeout=30)
        response.raise_for_status()
        for row in response.json()["rows"]:
            if row["id"].startswith("us_") and row["doc"].get("email") == email:
                return row["doc"]
        if missing_ok:
            return None
        raise LookupError(f"no Budibase user {email}")
