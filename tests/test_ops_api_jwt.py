"""The ops API on AWS verifies the caller's Cognito access token itself (ops_api/cognito.py) and trusts none of
the claims API Gateway's authorizer puts in the event: tokens signed with a real RSA key and served as a JWKS
from 127.0.0.1, every forgery and misuse refused with 401 and the app's JSON error (which quotes no token and
no claim), the user bound by its ``sub``, a disabled user refused, the keys out of reach refused, and the
Lambda handler itself driven with API Gateway events."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from complaints import access
from complaints.config import CognitoSettings, Settings
from complaints.deployment import Deployment
from ops_api.app import create_app
from ops_api.cognito import AccessTokens
from ops_api.dependencies import jwt_identity

ISSUER = "https://cognito-idp.eu-west-2.amazonaws.com/eu-west-2_OpsPool01"
OPS_APP, BUDIBASE = "4r0psappc1ient1d0000000000", "7budibasec1ient1d000000000"
KID = "pool-key-1"
LEAD_SUB = "8d1f3a52-6c0e-4b7a-9f21-3e5d7c9b0a14"
RECREATED_SUB = "2b6e9c40-1d7f-4a38-8e55-9c0a1b2d3e4f"


@pytest.fixture(scope="module")
def pool_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_server(pool_key):
    """The user pool's JWKS endpoint on 127.0.0.1: ``served`` is what it answers, so a test can rotate keys or
    break it."""
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(pool_key.public_key()))
    served = {"body": json.dumps({"keys": [{**public, "kid": KID, "alg": "RS256", "use": "sig"}]}).encode()}

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(served["body"])

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}/eu-west-2_OpsPool01/.well-known/jwks.json",
                          served=served)
    server.shutdown()
    server.server_close()


def claims(**changes) -> dict:
    """An access token's claims as Cognito issues them to the ops app for the user ``lead``; a change of None
    drops the claim."""
    now = int(time.time())
    issued = {"sub": LEAD_SUB, "iss": ISSUER, "client_id": OPS_APP, "origin_jti": "5f0c", "event_id": "9a1b",
              "token_use": "access", "scope": "aws.cognito.signin.user.admin", "auth_time": now, "iat": now,
              "exp": now + 600, "jti": "c3d4", "username": "lead"}
    return {key: value for key, value in {**issued, **changes}.items() if value is not None}


def signed(key, headers: dict | None = None, **changes) -> str:
    return jwt.encode(claims(**changes), key, algorithm="RS256", headers={"kid": KID, **(headers or {})})


def segment(part: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def tampered(token: str, payload: dict) -> str:
    """``token`` with another payload under its header and signature."""
    header, _, signature = token.split(".")
    return f"{header}.{segment(payload)}.{signature}"


@pytest.fixture
def deployment(tmp_path) -> Deployment:
    """An empty embedded store with a triage lead bound to the Cognito user ``LEAD_SUB``."""
    deployment = Deployment.embedded(Settings.from_env(home=tmp_path / "home"))
    access.add_user(deployment.store, deployment.taxonomy, "lead", "triage_lead", None, "test", cognito_sub=LEAD_SUB)
    return deployment


def tokens(jwks_url: str) -> AccessTokens:
    return AccessTokens(ISSUER, frozenset({OPS_APP, BUDIBASE}), jwt.PyJWKClient(jwks_url, timeout=2))


@pytest.fixture
def client(deployment, jwks_server) -> TestClient:
    return TestClient(create_app(deployment, jwt_identity(tokens(jwks_server.url).verify)))


def me(client: TestClient, token: str, scheme: str = "Bearer"):
    return client.get("/me", headers={"Authorization": f"{scheme} {token}"})


def assert_refused(response, *sent: str) -> None:
    """401, the app's JSON error, and not one value the request carried in it."""
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "not_authenticated"
    for value in sent:
        assert value not in response.text


def test_a_valid_access_token_is_its_bound_user_with_the_stores_role(client, pool_key):
    answer = me(client, signed(pool_key))
    assert answer.status_code == 200 and answer.json()["name"] == "lead" and answer.json()["role"] == "triage_lead"
    assert me(client, signed(pool_key, client_id=BUDIBASE), scheme="bearer").status_code == 200  # Budibase's client
    assert me(client, signed(pool_key, exp=int(time.time()) - 10)).status_code == 200  # within the clock leeway


def forgeries(pool_key) -> dict[str, str]:
    """Every token the app must refuse though its username is a triage lead's."""
    now = int(time.time())
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = pool_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo)
    hs_input = f"{segment({'alg': 'HS256', 'typ': 'JWT', 'kid': KID})}.{segment(claims())}"
    hs_signature = base64.urlsafe_b64encode(hmac.new(public_pem, hs_input.encode(), hashlib.sha256).digest())
    return {
        "signed by another key under the pool's kid": signed(other_key),
        "an analyst's token made out to the lead": tampered(signed(pool_key, username="analyst"), claims()),
        "another issuer": signed(pool_key, iss="https://cognito-idp.eu-west-2.amazonaws.com/eu-west-2_Other"),
        "another app client": signed(pool_key, client_id="someoneelsesclient00000000"),
        "an ID token": signed(pool_key, token_use="id", client_id=None, aud=OPS_APP),
        "token_use id with a client_id": signed(pool_key, token_use="id"),
        "expired": signed(pool_key, exp=now - 120),
        "issued in the future": signed(pool_key, iat=now + 600, exp=now + 1200),
        "no exp": signed(pool_key, exp=None),
        "no client_id": signed(pool_key, client_id=None),
        "no token_use": signed(pool_key, token_use=None),
        "no sub": signed(pool_key, sub=None),
        "alg none": f"{segment({'alg': 'none', 'typ': 'JWT', 'kid': KID})}.{segment(claims())}.",
        "HS256 keyed with the public key": f"{hs_input}.{hs_signature.rstrip(b'=').decode()}",
        "an unknown kid": signed(pool_key, headers={"kid": "not-the-pools"}),
        "no kid": jwt.encode(claims(), pool_key, algorithm="RS256"),
        "not a JWT": "lead.not-a-jwt",
    }


def test_every_forged_or_misused_token_is_refused_with_401_quoting_nothing(client, pool_key):
    for name, token in forgeries(pool_key).items():
        assert_refused(me(client, token), token, "lead", LEAD_SUB, OPS_APP, ISSUER), name
    assert_refused(client.get("/me"))  # no header
    assert_refused(me(client, signed(pool_key), scheme="Basic"))


def test_a_recreated_cognito_user_does_not_inherit_the_role_until_an_admin_binds_it(client, deployment, pool_key):
    """Deleted and created again under the same username, the Cognito user has a new sub: refused, until `users
    add --replace --cognito-sub` binds it; `--replace` without one leaves the user bound to no one."""
    recreated = signed(pool_key, sub=RECREATED_SUB)
    assert_refused(me(client, recreated), RECREATED_SUB)
    access.add_user(deployment.store, deployment.taxonomy, "lead", "triage_lead", None, "admin", replace=True,
                    cognito_sub=RECREATED_SUB)
    assert me(client, recreated).status_code == 200
    assert_refused(me(client, signed(pool_key)))  # the old one's tokens are refused now
    access.add_user(deployment.store, deployment.taxonomy, "lead", "triage_lead", None, "admin", replace=True)
    assert_refused(me(client, recreated))
    assert_refused(me(client, signed(pool_key, username="stranger")))  # no user of that name in the store


def test_a_disabled_user_is_refused_whatever_token_it_holds(client, deployment, pool_key):
    token = signed(pool_key)
    assert me(client, token).status_code == 200
    access.disable_user(deployment.store, "lead", "admin")
    assert_refused(me(client, token))
    assert_refused(client.post("/complaints/4120785/reassignments", json={"task": "team", "label": "Mortgage"},
                               headers={"Authorization": f"Bearer {token}"}))  # the body guard, before any body


def test_without_the_pools_keys_every_call_is_refused(deployment, jwks_server, pool_key):
    """Fail closed: keys that cannot be fetched, or that are not a JWKS, refuse the call (401), never a 5xx
    that reads as an outage of the store nor a 422."""
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    unreachable = f"http://127.0.0.1:{closed.server_port}/.well-known/jwks.json"
    closed.server_close()
    down = TestClient(create_app(deployment, jwt_identity(tokens(unreachable).verify)))
    answer = me(down, signed(pool_key))
    assert_refused(answer)
    assert "signing keys cannot be fetched" in answer.json()["error"]["message"]
    kept = jwks_server.served["body"]
    try:
        for body in (b"<html>not json</html>", b'{"keys": []}', b"[]"):
            jwks_server.served["body"] = body
            broken = TestClient(create_app(deployment, jwt_identity(tokens(jwks_server.url).verify)))
            assert_refused(me(broken, signed(pool_key)))
    finally:
        jwks_server.served["body"] = kept


def test_the_keys_are_fetched_once_and_again_for_a_key_rotated_in(deployment, jwks_server, pool_key):
    fetches = []
    verifier = tokens(jwks_server.url)
    fetch = verifier.keys.fetch_data
    verifier.keys.fetch_data = lambda: fetches.append(1) or fetch()
    client = TestClient(create_app(deployment, jwt_identity(verifier.verify)))
    for _ in range(3):
        assert me(client, signed(pool_key)).status_code == 200
    assert len(fetches) == 1
    rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kept = jwks_server.served["body"]
    keys = json.loads(kept)["keys"] + [{**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rotated.public_key())),
                                        "kid": "pool-key-2", "alg": "RS256", "use": "sig"}]
    jwks_server.served["body"] = json.dumps({"keys": keys}).encode()
    try:
        verifier.keys.cooldown_duration = 0  # deployed, an unknown kid refetches at most every 30 s (PyJWT's)
        assert me(client, signed(rotated, headers={"kid": "pool-key-2"})).status_code == 200
        assert me(client, signed(pool_key)).status_code == 200 and len(fetches) == 2
    finally:
        jwks_server.served["body"] = kept


# -- the Lambda handler, driven as API Gateway drives it --------------------------------------------------------

def http_api_event(headers: dict[str, str], claims_: dict | None) -> dict:
    """An HTTP API (payload 2.0) event for GET /me; ``claims_`` is what the authorizer would report."""
    context = {"accountId": "123456789012", "apiId": "ops", "domainName": "ops.execute-api.eu-west-2.amazonaws.com",
               "domainPrefix": "ops", "http": {"method": "GET", "path": "/me", "protocol": "HTTP/1.1",
                                               "sourceIp": "203.0.113.9", "userAgent": "test"},
               "requestId": "r-1", "routeKey": "$default", "stage": "$default", "time": "01/Jan/2026:00:00:00 +0000",
               "timeEpoch": 0}
    if claims_ is not None:
        context["authorizer"] = {"jwt": {"claims": claims_, "scopes": None}}
    return {"version": "2.0", "routeKey": "$default", "rawPath": "/me", "rawQueryString": "",
            "headers": {"host": "ops.execute-api.eu-west-2.amazonaws.com", **headers}, "requestContext": context,
            "isBase64Encoded": False}


@pytest.fixture
def handler(deployment, jwks_server, tmp_path, monkeypatch):
    """functions.ops_api.handler in a fresh container, with the environment Terraform gives it (the store an
    embedded one)."""
    from functions import ops_api as function

    monkeypatch.setenv("COMPLAINTS_STORE_URL", f"sqlite:///{tmp_path / 'home' / 'triage.sqlite3'}")
    monkeypatch.setenv("COMPLAINTS_REGISTRY_URL", f"file://{tmp_path / 'home' / 'registry'}")
    monkeypatch.setenv("COMPLAINTS_COGNITO_ISSUER", ISSUER)
    monkeypatch.setenv("COMPLAINTS_COGNITO_JWKS_URL", jwks_server.url)
    monkeypatch.setenv("COMPLAINTS_COGNITO_CLIENT_IDS", f"{OPS_APP},{BUDIBASE}")
    monkeypatch.setenv("COMPLAINTS_ENVIRONMENT", "test")
    monkeypatch.delenv("COMPLAINTS_LOG_LEVEL", raising=False)
    monkeypatch.setattr(function, "_adapter", None)
    context = SimpleNamespace(function_name="complaints-test-ops-api", aws_request_id="r-1")
    return lambda event: function.handler(event, context)


def test_the_handler_takes_the_user_from_the_verified_token_and_nothing_from_the_authorizers_claims(
        handler, deployment, pool_key, caplog):
    assert deployment.store.get_user("lead").cognito_sub == LEAD_SUB  # the handler's store is this one
    reported = {"username": "lead", "sub": LEAD_SUB, "client_id": OPS_APP, "token_use": "access", "iss": ISSUER}
    answer = handler(http_api_event({"authorization": f"Bearer {signed(pool_key)}"}, reported))
    assert answer["statusCode"] == 200 and json.loads(answer["body"])["name"] == "lead"
    forged = signed(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    for headers in ({}, {"authorization": "Bearer"}, {"authorization": f"Bearer {forged}"}):
        refused = handler(http_api_event(headers, reported))  # a crafted event: claims, no valid token
        assert refused["statusCode"] == 401 and json.loads(refused["body"])["error"]["code"] == "not_authenticated"
        assert LEAD_SUB not in refused["body"] and forged not in refused["body"]
    assert forged not in caplog.text and LEAD_SUB not in caplog.text


def test_the_function_reads_its_user_pool_from_the_environment(monkeypatch):
    for name in ("COMPLAINTS_COGNITO_ISSUER", "COMPLAINTS_COGNITO_JWKS_URL", "COMPLAINTS_COGNITO_CLIENT_IDS"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="the ops API function needs COMPLAINTS_COGNITO_ISSUER and "):
        CognitoSettings.from_env()
    monkeypatch.setenv("COMPLAINTS_COGNITO_ISSUER", ISSUER)
    monkeypatch.setenv("COMPLAINTS_COGNITO_JWKS_URL", f"{ISSUER}/.well-known/jwks.json")
    monkeypatch.setenv("COMPLAINTS_COGNITO_CLIENT_IDS", f"{OPS_APP},{BUDIBASE}")
    settings = CognitoSettings.from_env()
    assert settings == CognitoSettings(ISSUER, f"{ISSUER}/.well-known/jwks.json", frozenset({OPS_APP, BUDIBASE}))
    keys = AccessTokens.from_settings(settings).keys
    assert keys.uri == settings.jwks_url and keys.timeout < 29  # a fetch never outlasts API Gateway's limit


# -- `complaints users add --cognito-sub` ------------------------------------------------------------------------

def test_users_add_binds_the_cognito_user_and_the_listing_shows_it(cli_at, tmp_path):
    cli = cli_at(tmp_path / "home")
    code, out, _ = cli("users", "add", "lead", "--role", "triage_lead", "--cognito-sub", LEAD_SUB)
    assert code == 0 and f"Cognito user {LEAD_SUB}" in out
    _, listing, _ = cli("users", "list")
    assert LEAD_SUB in next(line for line in listing.splitlines() if "lead" in line)
    code, out, _ = cli("users", "add", "lead", "--role", "triage_lead", "--replace")
    assert code == 0 and "no Cognito user (refused on AWS)" in out
    _, listing, _ = cli("users", "list")
    assert LEAD_SUB not in listing
    code, _, err = cli("users", "add", "ana", "--role", "auditor", "--cognito-sub", LEAD_SUB.upper())
    assert code != 0 and "lower-case UUID" in err
