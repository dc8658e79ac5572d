"""The deployment closes Budibase's own password sign-in where the instance allows it, and says so where it
does not (the password would bypass Cognito's MFA). Budibase's worker is played here by a fake that keeps the
organisation's settings as Budibase 3.38.1 does: it refuses to enforce single sign-on without an active OIDC
configuration, and reports it enforced only when its licence has the ``enforceableSSO`` feature (Business,
Enterprise); the free self-hosted licence has none.
"""

from __future__ import annotations

import json

import httpx
import pytest

from budibase import deploy as command
from budibase.client import BuilderClient, Credentials


class FakeWorker:
    """The worker's organisation-settings endpoints, as the deployment calls them."""

    def __init__(self, licensed: bool, oidc: bool, admin: bool = True, enforced: bool = False) -> None:
        self.licensed, self.oidc, self.admin = licensed, oidc, admin
        self.settings = {"company": "MegaBank", "platformUrl": "https://ops.megabank.example",
                         "isSSOEnforced": enforced}
        self.writes: list[dict] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path == "/api/global/configs/public":
            return httpx.Response(200, json={"type": "settings", "config": {
                **self.settings, "oidc": self.oidc, "isSSOEnforced": self.licensed and self.settings["isSSOEnforced"]}})
        if request.method == "GET" and path == "/api/global/configs/settings":
            return httpx.Response(200, json={"_id": "config_settings", "type": "settings", "config": self.settings})
        if request.method == "POST" and path == "/api/global/configs":
            if not self.admin:
                return httpx.Response(403, json={"message": "Admin user only endpoint."})
            body = json.loads(request.content)
            if body["config"].get("isSSOEnforced") and not self.oidc:
                return httpx.Response(400, json={"message": "Cannot enforce SSO without an activated configuration"})
            self.writes.append(body)
            self.settings = body["config"]
            return httpx.Response(200, json={"type": "settings", "_id": "config_settings", "_rev": "2-a"})
        return httpx.Response(404, json={"message": f"no {request.method} {path} here"})


def _client(worker: FakeWorker) -> BuilderClient:
    client = BuilderClient("https://budibase.example", Credentials(api_key="key"))
    client.http = httpx.Client(base_url="https://budibase.example", transport=httpx.MockTransport(worker))
    return client


def test_a_licensed_instance_with_oidc_gets_single_sign_on_enforced_and_keeps_its_settings():
    worker = FakeWorker(licensed=True, oidc=True)
    assert command.enforce_single_sign_on(_client(worker)) is None
    assert worker.writes == [{"type": "settings", "config": {
        "company": "MegaBank", "platformUrl": "https://ops.megabank.example", "isSSOEnforced": True}}]


def test_an_enforced_instance_is_left_as_it_is():
    worker = FakeWorker(licensed=True, oidc=True, enforced=True)
    assert command.enforce_single_sign_on(_client(worker)) is None and worker.writes == []


@pytest.mark.parametrize(("worker", "reason"), [
    (FakeWorker(licensed=False, oidc=True), "licence lacks"),  # the free tier: stored, never in force
    (FakeWorker(licensed=True, oidc=False), "no OpenID Connect configuration is active"),
    (FakeWorker(licensed=True, oidc=True, admin=False), "refused"),
], ids=["unlicensed", "no-oidc", "not-an-admin"])
def test_where_single_sign_on_cannot_be_enforced_the_deployment_says_why(worker, reason):
    assert reason in command.enforce_single_sign_on(_client(worker))


def test_the_deploy_command_warns_when_password_sign_in_stays_open(monkeypatch, capsys):
    monkeypatch.setenv("BUDIBASE_API_KEY", "key")
    done = command.Deployed(app_id="app_dev_1", roles={}, queries={}, sign_in_gap="this instance's licence lacks it")
    monkeypatch.setattr(command, "deploy", lambda *args, **kwargs: done)
    assert command.main(["--url", "https://budibase.example", "--ops-api-url", "https://ops.example"]) == 0
    warning = capsys.readouterr().err
    assert "password sign-in stays open: this instance's licence lacks it" in warning
    assert "budibase/README.md" in warning
