"""On AWS, the caller's Cognito access token, verified by the app itself.

API Gateway's JWT authorizer checks the token before the function runs; the app checks it again rather than
trust the claims the authorizer puts in the event, so an event that reached the function another way, or an
authorizer configured wrong, names no one. PyJWT checks the RS256 signature with the user pool's key that the
token's ``kid`` names (the pool's JWKS, fetched over HTTPS and kept five minutes), the issuer, the expiry and
the issue time; a Cognito access token names its app client in ``client_id`` (it has no ``aud``) and says what
it is in ``token_use`` (an ID token of the same pool says ``id``), both checked here. Every refusal is
``NotAuthenticated`` (401) with a fixed message, never the token or a claim it carries.
"""

from __future__ import annotations

from typing import NamedTuple

import jwt

from complaints.access import NotAuthenticated
from complaints.config import CognitoSettings

ALGORITHMS = ["RS256"]  # Cognito's only one: no "none", no HMAC keyed with a public key
REQUIRED = ["exp", "iat", "iss", "sub", "client_id", "token_use", "username"]
LEEWAY_S = 30  # clock skew between Cognito and Lambda
JWKS_TIMEOUT_S = 5  # a fetch of the keys leaves the call well inside API Gateway's 29 s
INVALID = "the Cognito access token is missing, malformed, expired or not one of this API's"
NO_KEYS = "the user pool's signing keys cannot be fetched now; retry later"


class CognitoUser(NamedTuple):
    """Who a verified access token names: the user pool's username and its ``sub``, which a user deleted and
    created again under the same name does not keep."""

    username: str
    sub: str


class AccessTokens:
    """The access tokens of one user pool, issued to one of the given app clients."""

    def __init__(self, issuer: str, client_ids: frozenset[str], keys: jwt.PyJWKClient) -> None:
        self.issuer, self.client_ids, self.keys = issuer, client_ids, keys

    @classmethod
    def from_settings(cls, settings: CognitoSettings) -> "AccessTokens":
        return cls(settings.issuer, settings.client_ids, jwt.PyJWKClient(settings.jwks_url, timeout=JWKS_TIMEOUT_S))

    def verify(self, authorization: str | None) -> CognitoUser:
        """The user of ``Authorization: Bearer <access token>``; NotAuthenticated for anything else, and when
        the pool's keys cannot be had (fail closed)."""
        token = _bearer(authorization)
        try:
            self.keys.get_signing_keys()  # the cached set, else fetched: a failure here is ours, not the token's
        except (jwt.PyJWTError, ValueError):
            raise NotAuthenticated(NO_KEYS) from None
        try:
            claims = jwt.decode(token, self.keys.get_signing_key_from_jwt(token), algorithms=ALGORITHMS,
                                issuer=self.issuer, leeway=LEEWAY_S, options={"require": REQUIRED})
        except (jwt.PyJWTError, ValueError):  # ValueError: a key set refetched for an unknown kid that is not JSON
            raise NotAuthenticated(INVALID) from None
        if claims["token_use"] != "access" or claims["client_id"] not in self.client_ids:
            raise NotAuthenticated(INVALID)
        return CognitoUser(claims["username"], claims["sub"])


def _bearer(authorization: str | None) -> str:
    """The token of a ``Bearer`` header (the scheme case-insensitive, RFC 9110)."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated(INVALID)
    return token.strip()
