"""Auth objects against a real loopback token endpoint and API."""

from __future__ import annotations

import base64
import logging

import attrs
import pytest

from revops_ingest._auth import (
    BasicAuth,
    BearerTokenAuth,
    OAuth2ClientCredentialsAuth,
    OAuth2RefreshTokenAuth,
)
from revops_ingest._http import HttpClient, RetryPolicy, Timeouts
from revops_ingest._secrets import Secret
from revops_ingest.exceptions import AuthenticationError
from revops_ingest.testing._emulator import Emulator, Fault, Request, Response, route


CLIENT_SECRET = "cs-SECRET-0001"
REFRESH_TOKEN = "rt-SECRET-0001"
API_TOKEN = "api-SECRET-0001"


class Identity(Emulator):
    """An OAuth 2.0 token endpoint and one protected API resource.

    Error bodies echo the credentials they reject, as careless servers do.
    """

    def __init__(self, **kw):
        super().__init__(**kw)
        self.client_secret = CLIENT_SECRET
        self.refresh_token = REFRESH_TOKEN
        self.rotate = False
        self.expires_in: int | None = None
        self.issued = 0
        self.valid: set[str] = set()

    def _client_secret(self, request: Request) -> str | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            decoded = base64.b64decode(header.removeprefix("Basic ")).decode()
            return decoded.partition(":")[2]
        return request.form().get("client_secret")

    @route("POST", "/oauth/token")
    def token(self, request: Request) -> Response:
        form = request.form()
        secret = self._client_secret(request)
        if secret != self.client_secret:
            return Response.json(
                {
                    "error": "invalid_client",
                    "error_description": f"unknown client secret {secret}",
                },
                status=401,
            )
        grant = form.get("grant_type")
        if grant == "refresh_token" and form.get("refresh_token") != self.refresh_token:
            return Response.json(
                {
                    "error": "invalid_grant",
                    "error_description": "expired refresh token "
                    + form["refresh_token"],
                },
                status=400,
            )
        self.issued += 1
        access = f"at-SECRET-{self.issued:04d}"
        self.valid = {access}
        body = {
            "access_token": access,
            "token_type": "Bearer",
            "instance_url": self.url,
            "scope": form.get("scope"),
        }
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        if self.rotate and grant == "refresh_token":
            self.refresh_token = f"rt-SECRET-{self.issued + 1:04d}"
            body["refresh_token"] = self.refresh_token
        return Response.json(body)

    @route("GET", "/api/me")
    def me(self, request: Request) -> Response:
        header = request.headers.get("Authorization", "")
        if header.removeprefix("Bearer ") in self.valid:
            return Response.json({"ok": True})
        return Response.json(
            {"error": "invalid_token", "message": f"bad credentials: {header}"},
            status=401,
        )

    @property
    def token_requests(self):
        return [r for r in self.requests if r.path == "/oauth/token"]


@attrs.define
class FakeClock:
    now: float = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(name="idp")
def _idp(emulator_factory):
    return emulator_factory(Identity)


@pytest.fixture(name="fake")
def _fake():
    return FakeClock()


@pytest.fixture(name="make_client")
def _make_client(idp, fake):
    clients = []

    def make(auth):
        client = HttpClient(
            source="TestCRM",
            base_url=idp.url,
            auth=auth,
            timeouts=Timeouts(connect=1, read=2),
            retry=RetryPolicy(max_tries=3, initial_wait=0.1, jitter=False),
            sleep=fake.sleep,
            clock=fake.clock,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def _refresh_auth(idp, **kw):
    return OAuth2RefreshTokenAuth(
        f"{idp.url}/oauth/token", "client-1", CLIENT_SECRET, REFRESH_TOKEN, **kw
    )


class TestBearerTokenAuth:
    def test_sends_the_token(self, idp, make_client):
        """The token goes in an Authorization: Bearer header."""
        idp.valid = {API_TOKEN}
        client = make_client(BearerTokenAuth(API_TOKEN))

        assert {"ok": True} == client.get_json("/api/me")

    def test_cannot_refresh(self, idp, make_client):
        """A static token cannot refresh, so a 401 fails at once."""
        auth = BearerTokenAuth(Secret(API_TOKEN))
        client = make_client(auth)

        with pytest.raises(AuthenticationError) as info:
            client.get_json("/api/me")

        assert False is auth.refresh(client)
        assert "bearer token" == info.value.grant
        assert API_TOKEN not in str(info.value)
        assert 1 == len(idp.requests)

    def test_repr_hides_the_token(self):
        """The repr shows no token."""
        auth = BearerTokenAuth(API_TOKEN)

        assert "BearerTokenAuth()" == repr(auth)
        assert [Secret(API_TOKEN)] == list(auth.secrets())


class TestBasicAuth:
    def test_sends_basic_credentials(self, idp, make_client):
        """Username and password go base64-encoded in an Authorization header."""
        client = make_client(BasicAuth("me@example.com/token", API_TOKEN))

        client.request("GET", "/api/me", ok={200, 401})

        header = idp.requests[0].headers["Authorization"]
        expected = base64.b64encode(f"me@example.com/token:{API_TOKEN}".encode())
        assert f"Basic {expected.decode()}" == header

    def test_echoed_header_is_masked(self, idp, make_client):
        """The encoded header counts as a secret, so an echo of it is masked."""
        auth = BasicAuth("me@example.com/token", API_TOKEN)
        client = make_client(auth)

        with pytest.raises(AuthenticationError) as info:
            client.get_json("/api/me")

        encoded = base64.b64encode(f"me@example.com/token:{API_TOKEN}".encode())
        assert encoded.decode() not in str(info.value)
        assert "bad credentials: Basic **********" in str(info.value)

    def test_repr_hides_the_password(self):
        """The repr shows the user name only."""
        assert "BasicAuth(username='u')" == repr(BasicAuth("u", API_TOKEN))


class TestOAuth2RefreshTokenAuth:
    def test_token_is_fetched_lazily_and_cached(self, idp, make_client):
        """The first request fetches a token; later ones reuse it."""
        auth = _refresh_auth(idp)
        client = make_client(auth)

        client.get_json("/api/me")
        client.get_json("/api/me")

        assert 1 == len(idp.token_requests)
        assert (3, 1) == (client.metrics.requests, client.metrics.token_refreshes)

    def test_token_request(self, idp, make_client):
        """The token request is a form POST with the grant and client credentials."""
        client = make_client(_refresh_auth(idp, scope="api"))

        client.get_json("/api/me")

        request = idp.token_requests[0]
        assert {
            "grant_type": "refresh_token",
            "refresh_token": REFRESH_TOKEN,
            "client_id": "client-1",
            "client_secret": CLIENT_SECRET,
            "scope": "api",
        } == request.form()
        assert "Authorization" not in request.headers
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"

    def test_refreshes_ahead_of_expiry(self, idp, make_client, fake):
        """A token is renewed refresh_margin seconds before expires_in runs out."""
        idp.expires_in = 3600
        client = make_client(_refresh_auth(idp))

        client.get_json("/api/me")
        fake.now += 3500
        client.get_json("/api/me")
        fake.now += 50
        client.get_json("/api/me")

        assert 2 == len(idp.token_requests)

    def test_401_refreshes_and_retries(self, idp, make_client):
        """A revoked access token is replaced once and the request repeated."""
        client = make_client(_refresh_auth(idp))
        client.get_json("/api/me")
        idp.valid = set()

        assert {"ok": True} == client.get_json("/api/me")
        assert 2 == client.metrics.token_refreshes
        assert 1 == client.metrics.retries

    def test_invalid_grant_names_grant_and_code(self, idp, make_client):
        """A refused refresh names the grant, the error code and its description."""
        idp.refresh_token = "rt-other-0001"
        client = make_client(_refresh_auth(idp))

        with pytest.raises(AuthenticationError) as info:
            client.get_json("/api/me", object_type="Account")

        error = info.value
        message = str(error)
        assert ("OAuth 2.0 refresh_token", "invalid_grant", 400) == (
            error.grant,
            error.vendor_code,
            error.status,
        )
        assert "POST /oauth/token -> 400 invalid_grant" in message
        assert "refused the OAuth 2.0 refresh_token grant" in message
        assert "expired refresh token **********" in message
        assert REFRESH_TOKEN not in message
        assert "authorize the app again" in message

    def test_invalid_client_masks_the_echoed_secret(self, idp, make_client):
        """A server echoing the client secret in its error does not leak it."""
        idp.client_secret = "cs-other-0001"
        client = make_client(_refresh_auth(idp))

        with pytest.raises(AuthenticationError) as info:
            client.get_json("/api/me")

        assert "invalid_client" == info.value.vendor_code
        assert CLIENT_SECRET not in str(info.value)
        assert "client secret" in str(info.value)

    def test_rotation_uses_and_reports_the_new_refresh_token(self, idp, make_client):
        """A rotated refresh token is used from then on and handed to the callback."""
        idp.rotate = True
        stored = []
        auth = _refresh_auth(idp, on_refresh_token=stored.append)
        client = make_client(auth)

        client.get_json("/api/me")
        auth.refresh(client)

        assert [Secret("rt-SECRET-0002"), Secret("rt-SECRET-0003")] == stored
        assert Secret("rt-SECRET-0003") == auth.refresh_token
        assert "rt-SECRET-0002" == idp.token_requests[1].form()["refresh_token"]

    def test_token_response_is_exposed_safely(self, idp, make_client):
        """The last token response is readable, with the tokens as Secrets."""
        auth = _refresh_auth(idp)
        make_client(auth).get_json("/api/me")

        response = auth.token_response

        assert idp.url == response["instance_url"]
        assert Secret("at-SECRET-0001") == response["access_token"]
        assert "at-SECRET-0001" not in repr(response)

    def test_repr_hides_secrets(self, idp, make_client):
        """Neither the repr nor the token's messages show a secret."""
        auth = _refresh_auth(idp)
        make_client(auth).get_json("/api/me")

        text = repr(auth)

        for secret in (CLIENT_SECRET, REFRESH_TOKEN, "at-SECRET-0001"):
            assert secret not in text
        assert "token_url=" in text

    def test_token_endpoint_outage_is_retried(self, idp, make_client):
        """A 503 from the token endpoint is retried like any other request."""
        idp.inject(Fault.status(503, path="/oauth/token"))
        client = make_client(_refresh_auth(idp))

        assert {"ok": True} == client.get_json("/api/me")
        assert 2 == len(idp.token_requests)

    def test_answer_without_access_token(self, idp, make_client):
        """A 200 without an access_token is an AuthenticationError."""
        idp.inject(Fault.status(200, {"token_type": "Bearer"}, path="/oauth/token"))
        client = make_client(_refresh_auth(idp))

        with pytest.raises(AuthenticationError, match="has no access_token"):
            client.get_json("/api/me")

    def test_no_secret_in_logs(self, idp, make_client, caplog):
        """Token flows log nothing secret."""
        caplog.set_level(logging.DEBUG, logger="revops_ingest")
        idp.rotate = True
        client = make_client(_refresh_auth(idp))
        client.get_json("/api/me")
        idp.valid = set()
        client.get_json("/api/me")

        text = " ".join(r.getMessage() for r in caplog.records)
        assert "POST /oauth/token -> 200" in text
        for secret in (CLIENT_SECRET, REFRESH_TOKEN, "rt-SECRET-0002", "at-SECRET"):
            assert secret not in text


class TestOAuth2ClientCredentialsAuth:
    def test_client_credentials_grant(self, idp, make_client):
        """The client_credentials grant sends scope and the client's credentials."""
        auth = OAuth2ClientCredentialsAuth(
            f"{idp.url}/oauth/token", "client-1", CLIENT_SECRET, scope="read"
        )
        client = make_client(auth)

        assert {"ok": True} == client.get_json("/api/me")
        assert {
            "grant_type": "client_credentials",
            "scope": "read",
            "client_id": "client-1",
            "client_secret": CLIENT_SECRET,
        } == idp.token_requests[0].form()
        assert "OAuth 2.0 client_credentials" == auth.name

    def test_client_auth_basic(self, idp, make_client):
        """client_auth='basic' sends the client credentials as HTTP Basic auth."""
        auth = OAuth2ClientCredentialsAuth(
            f"{idp.url}/oauth/token", "client-1", CLIENT_SECRET, client_auth="basic"
        )

        make_client(auth).get_json("/api/me")

        request = idp.token_requests[0]
        assert {"grant_type": "client_credentials"} == request.form()
        assert request.headers["Authorization"].startswith("Basic ")

    def test_refused_client(self, idp, make_client):
        """A refused client names the client_credentials grant."""
        auth = OAuth2ClientCredentialsAuth(
            f"{idp.url}/oauth/token", "client-1", "cs-wrong-0001"
        )

        with pytest.raises(AuthenticationError) as info:
            make_client(auth).get_json("/api/me")

        assert "OAuth 2.0 client_credentials" == info.value.grant
        assert "cs-wrong-0001" not in str(info.value)
