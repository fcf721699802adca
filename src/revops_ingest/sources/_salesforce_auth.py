"""Salesforce's OAuth 2.0 grants: refresh token, client credentials, JWT bearer.

All three post to the org's token endpoint (``/services/oauth2/token`` on the login,
test or My Domain host) through the source's
:class:`~revops_ingest.http.HttpClient`, and keep the answer's ``instance_url``: the
host every later API call goes to. Salesforce's token response carries no
``expires_in`` (a session lives for the org's session time-out), so a token is kept
until the API answers 401 ``INVALID_SESSION_ID``; the client then refreshes once and
repeats the request.

The JWT bearer grant (RFC 7523) signs its assertion with RS256 using
``cryptography``, an optional dependency: ``pip install revops-ingest[jwt]``.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import types
import typing
import urllib.parse
from collections import deque

import attrs

from revops_ingest._auth import (
    OAuth2ClientCredentialsAuth,
    OAuth2RefreshTokenAuth,
    read_token_response,
)
from revops_ingest._secrets import Secret
from revops_ingest.exceptions import ConfigurationError


if typing.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    import requests
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    from revops_ingest._http import HttpClient


__all__ = [
    "ClientCredentialsAuth",
    "JwtBearerAuth",
    "RefreshTokenAuth",
    "instance_url_of",
]

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
LOGIN_AUDIENCE = "https://login.salesforce.com"
SANDBOX_AUDIENCE = "https://test.salesforce.com"
# Salesforce accepts an assertion whose exp is at most about three minutes ahead.
_JWT_LIFETIME = 180.0
# The token endpoint answers refusals with 400 (401 for client auth); those come back
# to us to read. 429 and 5xx are retried by the client.
_TOKEN_OK = frozenset(range(200, 500)) - {429}
_RETIRED_KEPT = 4

_HINTS = {
    "invalid_grant": (
        "the grant is expired, revoked or not allowed for this user or app; for the "
        "JWT bearer grant check the username, that the user is pre-authorized for "
        "the connected app, the certificate, and the audience (login or test host)"
    ),
    "invalid_client_id": "check the connected app's consumer key (client id)",
    "invalid_client": "check the consumer key and secret, and the app's status",
    "inactive_user": "the user is inactive; activate it or use another user",
    "inactive_org": "the org is locked or inactive",
    "unsupported_grant_type": "allow this OAuth flow for the connected app",
    "invalid_request": "check the token URL (login, test or My Domain host)",
    "rate_limit_exceeded": "too many logins for this user; wait and try again",
}


def instance_url_of(auth: object) -> str | None:
    """Return the ``instance_url`` from *auth*'s last token response, if it has one."""
    response = getattr(auth, "token_response", None)
    if response is None:
        return None
    value = response.get("instance_url")
    return value.rstrip("/") if isinstance(value, str) and value else None


@attrs.define(eq=False)
class RefreshTokenAuth(OAuth2RefreshTokenAuth):
    """Salesforce's OAuth 2.0 ``refresh_token`` grant (a connected app, web flow).

    When refresh-token rotation is on for the app, each token response carries a new
    refresh token: it replaces the old one and is passed to *on_refresh_token*
    (as a :class:`~revops_ingest.Secret`) so that it can be stored for the next
    run. It is never logged.

    Args:
        token_url: ``https://login.salesforce.com/services/oauth2/token``, the test
            host for sandboxes, or the org's My Domain host.
        client_id: The connected app's consumer key.
        client_secret: The connected app's consumer secret.
        refresh_token: The refresh token obtained when the app was authorized.
        on_refresh_token: Called with each rotated refresh token.
    """

    @property
    def instance_url(self) -> str | None:
        """The org's API host from the last token response (``None`` before one)."""
        return instance_url_of(self)


@attrs.define(eq=False)
class ClientCredentialsAuth(OAuth2ClientCredentialsAuth):
    """Salesforce's OAuth 2.0 ``client_credentials`` grant (a run-as user).

    The connected app names the integration user the API calls run as; Salesforce
    only accepts this grant on the org's My Domain host.

    Args:
        token_url: ``https://<my-domain>.my.salesforce.com/services/oauth2/token``.
        client_id: The connected app's consumer key.
        client_secret: The connected app's consumer secret.
    """

    @property
    def instance_url(self) -> str | None:
        """The org's API host from the last token response (``None`` before one)."""
        return instance_url_of(self)


def _pem(value: str | bytes | Secret) -> Secret:
    if isinstance(value, Secret):
        return value
    if isinstance(value, bytes):
        try:
            return Secret(value.decode("ascii"))
        except UnicodeDecodeError:
            msg = "private_key must be a PEM-encoded key (text), not DER bytes"
            raise ConfigurationError(msg) from None
    return Secret(value)


def _load_private_key(pem: Secret) -> RSAPrivateKey:
    """Load an RSA private key from PEM text, or say what is wrong with it."""
    try:
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415
    except ImportError:
        msg = (
            "the Salesforce JWT bearer grant signs with RS256 and needs the "
            "'cryptography' package: pip install revops-ingest[jwt]"
        )
        raise ConfigurationError(msg) from None
    try:
        key = serialization.load_pem_private_key(pem.reveal().encode(), password=None)
    except (ValueError, TypeError) as exc:
        # The message of cryptography never contains the key; keep it short anyway.
        reason = "encrypted keys are not supported" if "password" in str(exc) else ""
        msg = (
            "private_key is not an unencrypted PEM private key"
            + (f" ({reason})" if reason else "")
            + "; pass the key of the certificate uploaded to the connected app"
        )
        raise ConfigurationError(msg) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        msg = f"private_key must be an RSA key for RS256, not {type(key).__name__}"
        raise ConfigurationError(msg)
    return key


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def default_audience(token_url: str) -> str:
    """Return the JWT ``aud`` Salesforce expects for a token endpoint.

    ``https://test.salesforce.com`` for the test host and sandbox My Domain hosts,
    ``https://login.salesforce.com`` for everything else (login and production My
    Domain hosts). Experience Cloud sites want their own URL: pass ``audience``.
    """
    host = (urllib.parse.urlsplit(token_url).hostname or "").lower()
    if host == "test.salesforce.com" or host.endswith(".sandbox.my.salesforce.com"):
        return SANDBOX_AUDIENCE
    return LOGIN_AUDIENCE


@attrs.define(eq=False)
class JwtBearerAuth:
    """Salesforce's OAuth 2.0 JWT bearer grant (RFC 7523): server-to-server, no secret.

    Each token request carries a fresh assertion signed with RS256 by the private key
    whose certificate is uploaded to the connected app: ``iss`` is the consumer key,
    ``sub`` the username, ``aud`` the login or test host and ``exp`` at most three
    minutes ahead (epoch seconds). The user must be pre-authorized for the app. There
    is no refresh token: a new assertion is signed whenever the session expires.

    Needs ``cryptography`` (``pip install revops-ingest[jwt]``); the key is loaded
    and checked when the object is created.

    Args:
        token_url: ``https://login.salesforce.com/services/oauth2/token``, the test
            host for sandboxes, or the org's My Domain host.
        client_id: The connected app's consumer key (the assertion's ``iss``).
        username: The Salesforce username to act as (``sub``).
        private_key: The RSA private key, PEM text or bytes, or a
            :class:`~revops_ingest.Secret` holding it.
        audience: The ``aud`` claim; by default ``https://test.salesforce.com``
            when *token_url* is the test host or a sandbox My Domain host, else
            ``https://login.salesforce.com``.
        lifetime: Seconds until the assertion expires (at most 180).
        clock: Wall clock in epoch seconds, for ``exp``; injectable for tests.
    """

    token_url: str
    client_id: str
    username: str
    private_key: Secret = attrs.field(converter=_pem, repr=False)
    audience: str | None = attrs.field(default=None, kw_only=True)
    lifetime: float = attrs.field(default=_JWT_LIFETIME, kw_only=True)
    clock: Callable[[], float] = attrs.field(
        default=time.time, kw_only=True, repr=False
    )
    _key: RSAPrivateKey = attrs.field(init=False, repr=False)
    _access_token: Secret | None = attrs.field(default=None, init=False, repr=False)
    _assertion: Secret | None = attrs.field(default=None, init=False, repr=False)
    _response: dict[str, typing.Any] = attrs.field(factory=dict, init=False, repr=False)
    _retired: deque[Secret] = attrs.field(
        factory=lambda: deque(maxlen=_RETIRED_KEPT), init=False, repr=False
    )
    _lock: threading.RLock = attrs.field(
        factory=threading.RLock, init=False, repr=False
    )

    def __attrs_post_init__(self) -> None:
        if not 0 < self.lifetime <= _JWT_LIFETIME:
            msg = f"lifetime must be in (0, 180] seconds, not {self.lifetime!r}"
            raise ConfigurationError(msg)
        self._key = _load_private_key(self.private_key)

    @property
    def name(self) -> str:
        """``"OAuth 2.0 JWT bearer"``."""
        return "OAuth 2.0 JWT bearer"

    @property
    def token_response(self) -> Mapping[str, typing.Any]:
        """The last token response, read-only; ``access_token`` is a Secret."""
        return types.MappingProxyType(
            {
                key: Secret(value)
                if key in {"access_token", "id_token"} and isinstance(value, str)
                else value
                for key, value in self._response.items()
            }
        )

    @property
    def instance_url(self) -> str | None:
        """The org's API host from the last token response (``None`` before one)."""
        return instance_url_of(self)

    def assertion(self) -> str:
        """Return a newly signed assertion (a compact JWS)."""
        from cryptography.hazmat.primitives import hashes  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import padding  # noqa: PLC0415

        header = {"alg": "RS256", "typ": "JWT"}
        claims = {
            "iss": self.client_id,
            "sub": self.username,
            "aud": self.audience or default_audience(self.token_url),
            "exp": int(self.clock() + self.lifetime),
        }
        signing_input = ".".join(
            _b64url(json.dumps(part, separators=(",", ":")).encode())
            for part in (header, claims)
        )
        signature = self._key.sign(
            signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
        )
        return f"{signing_input}.{_b64url(signature)}"

    def secrets(self) -> Iterable[Secret]:
        """The private key, the current and recent access tokens and assertion."""
        current = tuple(
            s for s in (self._access_token, self._assertion) if s is not None
        )
        return (self.private_key, *current, *self._retired)

    def apply(self, request: requests.PreparedRequest, http: HttpClient) -> None:
        """Set ``Authorization: Bearer``, fetching a token first if needed."""
        with self._lock:
            token = self._access_token
            if token is None:
                token = self._fetch(http)
        request.headers["Authorization"] = f"Bearer {token.reveal()}"

    def refresh(self, http: HttpClient) -> bool:
        """Sign a new assertion and fetch a new access token; return ``True``.

        Raises:
            AuthenticationError: The token endpoint refused.
        """
        with self._lock:
            self._fetch(http)
        return True

    def _fetch(self, http: HttpClient) -> Secret:
        if self._assertion is not None:
            self._retired.append(self._assertion)
        self._assertion = Secret(self.assertion())
        response = http.request(
            "POST",
            self.token_url,
            data={
                "grant_type": JWT_BEARER_GRANT,
                "assertion": self._assertion.reveal(),
            },
            headers={"Accept": "application/json"},
            ok=_TOKEN_OK,
            authenticate=False,
        )
        payload = self._payload(http, response)
        if self._access_token is not None:
            self._retired.append(self._access_token)
        self._access_token = Secret(payload["access_token"])
        self._response = payload
        http.metrics.token_refreshes += 1
        return self._access_token

    def _payload(
        self, http: HttpClient, response: requests.Response
    ) -> dict[str, typing.Any]:
        return read_token_response(
            http,
            response,
            grant=self.name,
            token_url=self.token_url,
            secrets=self.secrets(),
            hints=_HINTS,
            default_hint="check the connected app's OAuth settings",
        )
