"""Pluggable auth for :class:`~revops_ingest.http.HttpClient`.

An auth object puts credentials on each request (:meth:`Auth.apply`), gets new ones
when the source says they expired (:meth:`Auth.refresh`) and names its secrets so
that the client can mask them in every message and log line (:meth:`Auth.secrets`).

Ready-made: a static bearer token, HTTP Basic, and OAuth 2.0 (RFC 6749) with the
``refresh_token`` and ``client_credentials`` grants.
"""

from __future__ import annotations

import base64
import json
import threading
import types
import typing
import urllib.parse
from collections import deque

import attrs

from revops_ingest._http import vendor_error
from revops_ingest._secrets import Secret, as_secret
from revops_ingest.exceptions import AuthenticationError


if typing.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    import requests

    from revops_ingest._http import HttpClient


__all__ = [
    "Auth",
    "BasicAuth",
    "BearerTokenAuth",
    "OAuth2Auth",
    "OAuth2ClientCredentialsAuth",
    "OAuth2RefreshTokenAuth",
]

# The token endpoint answers errors with 400 (or 401 for client authentication,
# RFC 6749 §5.2); those come back to us to read. 429 and 5xx are retried by the client.
_TOKEN_OK = frozenset(range(200, 500)) - {429}
_OK_MIN, _OK_MAX = 200, 300
_SECRET_KEYS = frozenset({"access_token", "refresh_token", "id_token"})
_RETIRED_KEPT = 4  # old tokens still masked in messages


class Auth(typing.Protocol):
    """What :class:`~revops_ingest.http.HttpClient` needs from an auth object.

    Implementations that fetch credentials over HTTP do so through the client's
    :meth:`~revops_ingest.http.HttpClient.request` with ``authenticate=False``,
    and add one to ``http.metrics.token_refreshes`` per credential obtained.
    """

    @property
    def name(self) -> str:
        """The scheme or grant, for messages (``"OAuth 2.0 refresh_token"``)."""
        ...

    def apply(self, request: requests.PreparedRequest, http: HttpClient) -> None:
        """Put credentials on *request*; may fetch a token first."""
        ...

    def refresh(self, http: HttpClient) -> bool:
        """Get new credentials now; return ``False`` if this auth cannot."""
        ...

    def secrets(self) -> Iterable[Secret]:
        """Every secret this auth holds or sends, to be masked in messages."""
        ...


@attrs.frozen
class BearerTokenAuth:
    """A static token sent as ``Authorization: Bearer <token>``; it cannot refresh.

    Attributes:
        token: The token.
    """

    token: Secret = attrs.field(converter=as_secret, repr=False)

    @property
    def name(self) -> str:
        """``"bearer token"``."""
        return "bearer token"

    def apply(self, request: requests.PreparedRequest, http: HttpClient) -> None:  # noqa: ARG002
        """Set the ``Authorization`` header."""
        request.headers["Authorization"] = f"Bearer {self.token.reveal()}"

    def refresh(self, http: HttpClient) -> bool:  # noqa: ARG002
        """Return ``False``: a static token cannot be renewed."""
        return False

    def secrets(self) -> Iterable[Secret]:
        """The token."""
        return (self.token,)


def _basic(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


@attrs.frozen
class BasicAuth:
    """HTTP Basic auth (RFC 7617), such as Zendesk's ``email/token`` + API token.

    Attributes:
        username: The user name (not secret).
        password: The password or API token.
    """

    username: str
    password: Secret = attrs.field(converter=as_secret, repr=False)

    @property
    def name(self) -> str:
        """``"basic auth"``."""
        return "basic auth"

    def _credentials(self) -> Secret:
        return Secret(_basic(self.username, self.password.reveal()))

    def apply(self, request: requests.PreparedRequest, http: HttpClient) -> None:  # noqa: ARG002
        """Set the ``Authorization`` header."""
        request.headers["Authorization"] = f"Basic {self._credentials().reveal()}"

    def refresh(self, http: HttpClient) -> bool:  # noqa: ARG002
        """Return ``False``: a password cannot be renewed."""
        return False

    def secrets(self) -> Iterable[Secret]:
        """The password, and the encoded header value (a server may echo it)."""
        return (self.password, self._credentials())


_HINTS = {
    "invalid_grant": (
        "the grant is expired, revoked or for another user or app; authorize the "
        "app again and store the new credentials"
    ),
    "invalid_client": "check the client id and client secret (and the app's status)",
    "unauthorized_client": "allow this grant type for the app in the source",
    "unsupported_grant_type": "allow this grant type for the app in the source",
    "invalid_scope": "check the requested scope against the app's scopes",
    "invalid_request": "check the token URL and the app's OAuth settings",
}


@attrs.define(eq=False)
class OAuth2Auth:
    """Base of OAuth 2.0 (RFC 6749) auth: caches the access token, refreshes ahead.

    The token is fetched on first use, kept until shortly before ``expires_in``
    runs out (or until a 401 when the server gives no expiry) and sent as
    ``Authorization: Bearer``. The token request is a form-encoded POST to
    *token_url* through the same :class:`~revops_ingest.http.HttpClient` (its
    session, time-outs, retries and metrics) without this auth applied.

    Subclasses set :attr:`grant_type` and implement :meth:`grant_params`.

    Attributes:
        token_url: The token endpoint.
        client_id: The app's client id.
        client_secret: The app's client secret.
        scope: The scope to ask for, if any.
        client_auth: ``"body"`` sends the client credentials as form fields,
            ``"basic"`` as HTTP Basic auth (RFC 6749 §2.3.1).
        refresh_margin: Seconds before expiry at which a new token is fetched.
        extra_params: More form fields for the token request (``audience``, ...).
    """

    grant_type: typing.ClassVar[str] = ""

    token_url: str
    client_id: str
    client_secret: Secret = attrs.field(converter=as_secret, repr=False)
    scope: str | None = attrs.field(default=None, kw_only=True)
    client_auth: typing.Literal["body", "basic"] = attrs.field(
        default="body", kw_only=True
    )
    refresh_margin: float = attrs.field(default=60.0, kw_only=True)
    extra_params: Mapping[str, str] = attrs.field(factory=dict, kw_only=True)
    _access_token: Secret | None = attrs.field(default=None, init=False, repr=False)
    _expires_at: float | None = attrs.field(default=None, init=False, repr=False)
    _response: dict[str, typing.Any] = attrs.field(factory=dict, init=False, repr=False)
    _retired: deque[Secret] = attrs.field(
        factory=lambda: deque(maxlen=_RETIRED_KEPT), init=False, repr=False
    )
    _lock: threading.RLock = attrs.field(
        factory=threading.RLock, init=False, repr=False
    )

    @property
    def name(self) -> str:
        """``"OAuth 2.0 <grant_type>"``."""
        return f"OAuth 2.0 {self.grant_type}"

    @property
    def token_response(self) -> Mapping[str, typing.Any]:
        """The last token response, read-only, such as Salesforce's ``instance_url``.

        ``access_token``, ``refresh_token`` and ``id_token`` are wrapped in
        :class:`~revops_ingest.Secret` so that the mapping is safe to print.
        """
        return types.MappingProxyType(
            {
                key: Secret(value)
                if key in _SECRET_KEYS and isinstance(value, str)
                else value
                for key, value in self._response.items()
            }
        )

    def grant_params(self) -> dict[str, str]:
        """The grant's own form fields (besides ``grant_type`` and the client's)."""
        raise NotImplementedError

    def secrets(self) -> Iterable[Secret]:
        """The client secret, the current and recent access tokens, and the grant's."""
        current = (self._access_token,) if self._access_token is not None else ()
        return (self.client_secret, *current, *self._retired)

    def apply(self, request: requests.PreparedRequest, http: HttpClient) -> None:
        """Set ``Authorization: Bearer``, fetching a token first if needed."""
        with self._lock:
            token = self._access_token
            if token is None or self._expiring(http):
                token = self._fetch(http)
        request.headers["Authorization"] = f"Bearer {token.reveal()}"

    def refresh(self, http: HttpClient) -> bool:
        """Fetch a new access token now; return ``True``.

        Raises:
            AuthenticationError: The token endpoint refused.
        """
        with self._lock:
            self._fetch(http)
        return True

    def _expiring(self, http: HttpClient) -> bool:
        return self._expires_at is not None and http.clock() >= self._expires_at

    def _fetch(self, http: HttpClient) -> Secret:
        form = {"grant_type": self.grant_type, **self.grant_params()}
        if self.scope:
            form["scope"] = self.scope
        form.update(self.extra_params)
        headers = {"Accept": "application/json"}
        if self.client_auth == "basic":
            quote = urllib.parse.quote_plus
            basic = _basic(quote(self.client_id), quote(self.client_secret.reveal()))
            headers["Authorization"] = f"Basic {basic}"
        else:
            form["client_id"] = self.client_id
            form["client_secret"] = self.client_secret.reveal()
        response = http.request(
            "POST",
            self.token_url,
            data=form,
            headers=headers,
            ok=_TOKEN_OK,
            authenticate=False,
        )
        payload = self._payload(http, response)
        access = Secret(payload["access_token"])
        if self._access_token is not None:
            self._retired.append(self._access_token)
        self._access_token = access
        self._response = payload
        self._expires_at = self._expiry(http, payload.get("expires_in"))
        self.received(payload)
        http.metrics.token_refreshes += 1
        return access

    def _expiry(self, http: HttpClient, expires_in: object) -> float | None:
        try:
            seconds = float(expires_in)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
        margin = min(self.refresh_margin, seconds / 2)
        return http.clock() + seconds - margin

    def received(self, payload: Mapping[str, typing.Any]) -> None:
        """Hook: a token response arrived (subclasses pick up rotated tokens)."""

    def _payload(
        self, http: HttpClient, response: requests.Response
    ) -> dict[str, typing.Any]:
        return read_token_response(
            http,
            response,
            grant=self.name,
            token_url=self.token_url,
            secrets=self.secrets(),
        )


def read_token_response(
    http: HttpClient,
    response: requests.Response,
    *,
    grant: str,
    token_url: str,
    secrets: Iterable[Secret],
    hints: Mapping[str, str] = _HINTS,
    default_hint: str = "check the app's OAuth settings in the source",
) -> dict[str, typing.Any]:
    """Return a token endpoint's JSON answer, or raise the error it stands for.

    Used by every OAuth grant, ours and vendors' own (such as Salesforce's JWT
    bearer grant): an answer without an ``access_token`` is an
    :class:`~revops_ingest.exceptions.AuthenticationError` naming the grant, the
    vendor's ``error`` code and ``error_description``, with a hint looked up in
    *hints* by that code. No secret appears in the message.
    """
    status = response.status_code
    try:
        payload = json.loads(response.content)
    except ValueError:
        payload = None
    ok = _OK_MIN <= status < _OK_MAX
    if (
        ok
        and isinstance(payload, dict)
        and isinstance(payload.get("access_token"), str)
        and payload["access_token"]
    ):
        return payload
    code, description = vendor_error(response.content)
    if ok:
        detail = f"the token endpoint's answer to the {grant} grant has no access_token"
        hint = "check the token URL"
    else:
        detail = f"the token endpoint refused the {grant} grant"
        hint = hints.get(code or "", default_hint)
    if description:
        detail = f"{detail}: {description}"
    raise http.error(
        AuthenticationError,
        detail,
        method="POST",
        url=token_url,
        status=status,
        vendor_code=code,
        hint=hint,
        snippet=None if isinstance(payload, dict) else response.text,
        secrets=list(secrets),
        grant=grant,
    )


@attrs.define(eq=False)
class OAuth2RefreshTokenAuth(OAuth2Auth):
    """OAuth 2.0 ``refresh_token`` grant (RFC 6749 §6), as Salesforce and HubSpot use.

    When a token response carries a new ``refresh_token`` (rotation), it replaces
    the old one and *on_refresh_token* is called with it, so that it can be stored
    for the next run: the old one may no longer work.

    Attributes:
        refresh_token: The current refresh token.
        on_refresh_token: Called with each new refresh token.
    """

    grant_type: typing.ClassVar[str] = "refresh_token"

    refresh_token: Secret = attrs.field(converter=as_secret, repr=False)
    on_refresh_token: Callable[[Secret], None] | None = attrs.field(
        default=None, kw_only=True, repr=False
    )

    def grant_params(self) -> dict[str, str]:
        """``refresh_token``."""
        return {"refresh_token": self.refresh_token.reveal()}

    def secrets(self) -> Iterable[Secret]:
        """Those of :class:`OAuth2Auth`, and the refresh token."""
        return (*super().secrets(), self.refresh_token)

    def received(self, payload: Mapping[str, typing.Any]) -> None:
        """Switch to a rotated refresh token and report it."""
        new = payload.get("refresh_token")
        if not isinstance(new, str) or not new or new == self.refresh_token.reveal():
            return
        self._retired.append(self.refresh_token)
        self.refresh_token = Secret(new)
        if self.on_refresh_token is not None:
            self.on_refresh_token(self.refresh_token)


@attrs.define(eq=False)
class OAuth2ClientCredentialsAuth(OAuth2Auth):
    """OAuth 2.0 ``client_credentials`` grant (RFC 6749 §4.4), as Marketo uses."""

    grant_type: typing.ClassVar[str] = "client_credentials"

    def grant_params(self) -> dict[str, str]:
        """No fields besides the client's."""
        return {}
