"""The HTTP core against a real loopback emulator: time-outs, retries, auth, errors."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import socket

import attrs
import pytest
import requests
from requests.adapters import HTTPAdapter

from revops_ingest._http import (
    Fail,
    HttpClient,
    RateLimiter,
    RefreshAuth,
    Retry,
    RetryPolicy,
    Timeouts,
    parse_retry_after,
    vendor_error,
)
from revops_ingest._metrics import RequestMetrics
from revops_ingest._secrets import Secret
from revops_ingest.exceptions import (
    AuthenticationError,
    ConfigurationError,
    QuotaExceededError,
    RateLimitError,
    TransportError,
    UnexpectedResponseError,
)
from revops_ingest.testing._emulator import Emulator, Fault, Request, Response, route


TOKEN = "tok-SECRET-0001"
NEW_TOKEN = "tok-SECRET-0002"


class Api(Emulator):
    """A small vendor API: items, a protected resource that echoes bad tokens."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.valid_tokens = {TOKEN}

    @route("GET", "/items/{item_id}")
    def item(self, request: Request, item_id: str) -> Response:
        return Response.json({"id": item_id, "pad": "x" * 2000})

    @route("POST", "/items")
    def create(self, request: Request) -> Response:
        return Response.json({"created": request.json()}, status=201)

    @route("GET", "/secure")
    def secure(self, request: Request) -> Response:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ")
        if token in self.valid_tokens:
            return Response.json({"ok": True})
        # Like some real APIs, the error echoes the credential back.
        return Response.json(
            [
                {
                    "errorCode": "INVALID_SESSION_ID",
                    "message": f"Session expired or invalid: {token}",
                }
            ],
            status=401,
        )

    @route("GET", "/echo-error")
    def echo_error(self, request: Request) -> Response:
        header = request.headers.get("Authorization", "")
        return Response.json({"message": f"bad request with {header}"}, status=400)

    @route("GET", "/text")
    def text(self, request: Request) -> Response:
        return Response.text(f"not json {request.headers.get('Authorization')}")

    @route("GET", "/empty")
    def empty(self, request: Request) -> Response:
        return Response.empty(204)

    @route("GET", "/limits")
    def limits(self, request: Request) -> Response:
        return Response.json({}, headers={"Sforce-Limit-Info": "api-usage=25/15000"})

    @route("GET", "/marketo")
    def marketo(self, request: Request) -> Response:
        return Response.json({"success": True, "result": [1]})

    @route("GET", "/headers")
    def headers(self, request: Request) -> Response:
        return Response.json(dict(request.headers.items()))


@attrs.define
class FakeClock:
    """A clock that moves only when the client sleeps."""

    now: float = 1000.0
    waits: list[float] = attrs.Factory(list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@attrs.define
class SwitchingAuth:
    """A bearer auth whose refresh moves on to the next token of a list."""

    tokens: list[str] = attrs.field(repr=False)
    refreshes: int = 0
    can_refresh: bool = True
    name: str = "test grant"

    def apply(self, request, http):
        request.headers["Authorization"] = f"Bearer {self.tokens[0]}"

    def refresh(self, http):
        if not self.can_refresh:
            return False
        self.refreshes += 1
        self.tokens.pop(0)
        return True

    def secrets(self):
        return [Secret(t) for t in (TOKEN, NEW_TOKEN, *self.tokens)]


FAST = RetryPolicy(max_tries=4, initial_wait=0.5, max_wait=4, jitter=False)


@pytest.fixture(name="api")
def _api(emulator_factory):
    return emulator_factory(Api)


@pytest.fixture(name="fake")
def _fake():
    return FakeClock()


@pytest.fixture(name="make_client")
def _make_client(api, fake):
    clients = []

    def make(**kw):
        kw.setdefault("source", "TestAPI")
        kw.setdefault("base_url", api.url)
        kw.setdefault("timeouts", Timeouts(connect=1, read=2))
        kw.setdefault("retry", FAST)
        kw.setdefault("sleep", fake.sleep)
        kw.setdefault("clock", fake.clock)
        client = HttpClient(**kw)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture(name="client")
def _client(make_client):
    return make_client()


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TestTimeouts:
    def test_defaults(self):
        """Timeouts default to 10 s to connect and 120 s to read."""
        assert (10.0, 120.0) == Timeouts().as_requests()

    def test_must_be_positive(self):
        """A time-out of zero is a configuration error."""
        with pytest.raises(ConfigurationError, match="read"):
            Timeouts(read=0)

    def test_timeouts_go_with_every_request(self, api, make_client):
        """Every attempt is sent with the (connect, read) time-outs."""
        seen = []

        class Recording(HTTPAdapter):
            def send(self, request, **kw):
                seen.append(kw["timeout"])
                return super().send(request, **kw)

        session = requests.Session()
        session.mount("http://", Recording())
        api.inject(Fault.status(503))
        client = make_client(session=session, timeouts=Timeouts(connect=3, read=4))

        client.get_json("/items/1")

        assert [(3, 4), (3, 4)] == seen
        session.close()

    def test_read_timeout_is_retried_then_transport_error(self, api, make_client):
        """A response slower than the read time-out is retried, then fails."""
        api.inject(Fault.delay(2, times=None))
        client = make_client(
            timeouts=Timeouts(connect=1, read=0.1),
            retry=attrs.evolve(FAST, max_tries=3),
        )

        with pytest.raises(TransportError) as info:
            client.get_json("/items/1", object_type="Item")

        assert 3 == len(api.requests)
        assert 3 == client.metrics.requests
        assert 2 == client.metrics.retries
        assert "read time-out of 0.1 s" in str(info.value)
        assert "TestAPI Item: GET /items/1" in str(info.value)

    def test_one_slow_response_is_retried(self, api, make_client):
        """A single slow response is retried and the retry succeeds."""
        api.inject(Fault.delay(2))
        client = make_client(timeouts=Timeouts(connect=1, read=0.1))

        assert "1" == client.get_json("/items/1")["id"]
        assert 1 == client.metrics.retries


class TestRetries:
    def test_503_burst_is_retried(self, api, client, fake):
        """Three 503s are retried with exponential waits, then the request succeeds."""
        api.inject(Fault.status(503, times=3))

        assert "7" == client.get_json("/items/7")["id"]
        assert [0.5, 1.0, 2.0] == fake.waits
        assert 3 == client.metrics.retries
        assert 4 == client.metrics.requests
        assert 3.5 == client.metrics.wait_seconds

    def test_waits_are_capped(self, api, make_client, fake):
        """Computed waits never exceed max_wait."""
        api.inject(Fault.status(502, times=5))
        client = make_client(
            retry=RetryPolicy(initial_wait=1, max_wait=3, jitter=False)
        )

        client.get_json("/items/1")

        assert [1, 2, 3, 3, 3] == fake.waits

    def test_jitter_draws_below_the_computed_wait(self, api, make_client, fake):
        """With jitter, each wait lies between 0 and the exponential wait."""
        api.inject(Fault.status(500, times=3))
        client = make_client(retry=RetryPolicy(initial_wait=1, jitter=True))

        client.get_json("/items/1")

        assert 3 == len(fake.waits)
        assert all(0 <= w <= cap for w, cap in zip(fake.waits, [1, 2, 4], strict=True))

    def test_retry_after_seconds(self, api, client, fake):
        """A Retry-After in seconds replaces the computed wait."""
        api.inject(Fault.status(429, headers={"Retry-After": "7"}))

        client.get_json("/items/1")

        assert [7.0] == fake.waits
        assert 7.0 == client.metrics.wait_seconds

    def test_retry_after_http_date(self, api, client, fake):
        """A Retry-After HTTP-date is measured against the response's Date."""
        when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30)
        retry_after = email.utils.format_datetime(when, usegmt=True)
        api.inject(Fault.status(503, headers={"Retry-After": retry_after}))

        client.get_json("/items/1")

        assert 1 == len(fake.waits)
        assert 28 <= fake.waits[0] <= 31

    def test_retry_after_beyond_budget_fails_at_once(self, api, make_client, fake):
        """A Retry-After longer than the budget left fails now, without sleeping."""
        api.inject(Fault.status(429, headers={"Retry-After": "3600"}))
        client = make_client(retry=attrs.evolve(FAST, max_time=60))

        with pytest.raises(RateLimitError) as info:
            client.get_json("/items/1")

        assert [] == fake.waits
        assert 3600 == info.value.retry_after
        assert (429, 1) == (info.value.status, len(api.requests))
        assert "Retry-After" in str(info.value)

    def test_backoff_beyond_budget_gives_up(self, api, make_client, fake):
        """A computed wait that would end past max_time is not started."""
        api.inject(Fault.status(503, times=None))
        client = make_client(
            retry=RetryPolicy(max_time=2, initial_wait=1.5, jitter=False)
        )

        with pytest.raises(UnexpectedResponseError, match="retry budget"):
            client.get_json("/items/1")

        assert [1.5] == fake.waits
        assert 2 == len(api.requests)

    def test_429_exhausted(self, api, make_client):
        """A 429 that never stops ends in RateLimitError after max_tries."""
        api.inject(Fault.status(429, times=None))
        client = make_client(retry=attrs.evolve(FAST, max_tries=3))

        with pytest.raises(RateLimitError) as info:
            client.get_json("/items/1")

        assert 3 == len(api.requests)
        assert 429 == info.value.status
        assert not isinstance(info.value, QuotaExceededError)

    def test_5xx_exhausted(self, api, client):
        """A 5xx that never stops ends in UnexpectedResponseError with the status."""
        api.inject(Fault.status(502, {"code": "BAD_GATEWAY"}, times=None))

        with pytest.raises(UnexpectedResponseError) as info:
            client.get_json("/items/1")

        assert (502, "BAD_GATEWAY") == (info.value.status, info.value.vendor_code)
        assert 4 == len(api.requests)

    def test_drop_is_retried(self, api, client):
        """A connection closed without a response is retried."""
        api.inject(Fault.drop())

        assert "1" == client.get_json("/items/1")["id"]
        assert (2, 1) == (client.metrics.requests, client.metrics.retries)

    def test_drop_mid_body_is_retried(self, api, client):
        """A body cut short is retried, because the body is read in the attempt."""
        api.inject(Fault.drop_mid_body(times=2))

        assert "x" * 2000 == client.get_json("/items/1")["pad"]
        assert 2 == client.metrics.retries

    def test_connection_refused(self, make_client, fake):
        """A port nobody listens on ends in TransportError after the retries."""
        client = make_client(base_url=f"http://127.0.0.1:{_closed_port()}")

        with pytest.raises(TransportError, match="could not connect") as info:
            client.get_json("/items/1")

        assert 3 == len(fake.waits)
        assert "127.0.0.1" not in str(info.value)

    def test_post_is_not_retried_on_500(self, api, client):
        """A POST that got a 500 is not repeated: the server may have acted on it."""
        api.inject(Fault.status(500))

        with pytest.raises(UnexpectedResponseError, match="not retried") as info:
            client.post_json("/items", {"name": "a"})

        assert 1 == len(api.requests)
        assert 500 == info.value.status

    def test_post_is_not_retried_after_a_drop(self, api, client):
        """A POST whose connection dropped after sending is not repeated."""
        api.inject(Fault.drop())

        with pytest.raises(TransportError, match="not retried"):
            client.post_json("/items", {"name": "a"})

        assert 1 == len(api.requests)

    def test_post_is_retried_on_429_and_503(self, api, client):
        """A POST answered 429 or 503 was not processed, so it is retried."""
        api.inject(Fault.status(429))
        api.inject(Fault.status(503, skip=1))

        assert {"created": {"name": "a"}} == client.post_json("/items", {"name": "a"})
        assert 3 == len(api.requests)

    def test_idempotent_post_is_retried_on_500(self, api, client):
        """idempotent=True lets a POST be retried like a GET."""
        api.inject(Fault.status(500))

        response = client.request("POST", "/items", json={"name": "a"}, idempotent=True)

        assert 201 == response.status_code

    def test_max_tries_must_be_positive(self):
        """A policy with no tries at all is a configuration error."""
        with pytest.raises(ConfigurationError, match="max_tries"):
            RetryPolicy(max_tries=0)


class TestRetryAfterParsing:
    NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("120", 120.0),
            (" 5 ", 5.0),
            ("1.5", 1.5),
            ("Sun, 01 Mar 2026 12:00:30 GMT", 30.0),
            ("Sun, 01 Mar 2026 11:00:00 GMT", 0.0),
            ("-3", None),
            ("soon", None),
            ("nan", None),
            (None, None),
        ],
    )
    def test_values(self, value, expected):
        """Delay-seconds and HTTP-dates are read; nonsense is ignored."""
        assert expected == parse_retry_after(value, now=self.NOW)


class TestVendorHook:
    def test_retry_signal_in_a_200_body(self, api, make_client, fake):
        """A Retry signal (Marketo 606 in a 200 body) is retried after its wait."""
        api.inject(
            Fault.status(
                200,
                {"success": False, "errors": [{"code": "606", "message": "rate"}]},
                path="/marketo",
            )
        )

        def classify(response):
            body = response.json()
            if body.get("success") is False and body["errors"][0]["code"] == "606":
                return Retry(after=20, reason="Marketo 606: rate limit")
            return None

        client = make_client(classify=classify)

        assert [1] == client.get_json("/marketo")["result"]
        assert [20] == fake.waits

    def test_retry_signal_for_a_post(self, api, make_client):
        """A vendor Retry signal retries even a POST: it was not processed."""
        api.inject(Fault.status(429, {"policyName": "TEN_SECONDLY_ROLLING"}))

        def classify(response):
            if response.status_code == 429:
                policy = response.json()["policyName"]
                if policy == "DAILY":
                    return Fail(QuotaExceededError("daily limit used up"))
                return Retry(after=1, reason=policy)
            return None

        client = make_client(classify=classify)

        assert {"created": {}} == client.post_json("/items", {})

    def test_fail_signal_is_not_retried(self, api, make_client):
        """Fail(QuotaExceededError) raises at once, with the request's context."""
        api.inject(
            Fault.status(
                403,
                [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests"}],
            )
        )

        def classify(response):
            if (
                response.status_code == 403
                and "REQUEST_LIMIT_EXCEEDED" in response.text
            ):
                return Fail(
                    QuotaExceededError(
                        "the daily API allocation is used up",
                        vendor_code="REQUEST_LIMIT_EXCEEDED",
                        hint="wait for the 24 h window to roll",
                    )
                )
            return None

        client = make_client(classify=classify)

        with pytest.raises(QuotaExceededError) as info:
            client.get_json("/items/1", object_type="Account")

        assert 1 == len(api.requests)
        error = info.value
        assert ("TestAPI", "Account", "GET", "/items/1", 403) == (
            error.source,
            error.object_type,
            error.method,
            error.path,
            error.status,
        )
        assert str(error).startswith(
            "TestAPI Account: GET /items/1 -> 403 REQUEST_LIMIT_EXCEEDED: the daily"
        )

    def test_refresh_signal(self, api, make_client):
        """A RefreshAuth signal refreshes the credentials once and retries."""
        api.inject(Fault.status(400, {"category": "EXPIRED_AUTHENTICATION"}))
        auth = SwitchingAuth(["old", TOKEN])

        def classify(response):
            if b"EXPIRED_AUTHENTICATION" in response.content:
                return RefreshAuth()
            return None

        client = make_client(auth=auth, classify=classify)

        assert {"ok": True} == client.get_json("/secure")
        assert 1 == auth.refreshes

    def test_refresh_signal_without_credentials(self, api, make_client):
        """A RefreshAuth signal for a request without auth fails without looping."""
        client = make_client(classify=lambda response: RefreshAuth())

        with pytest.raises(AuthenticationError, match="credentials expired"):
            client.get_json("/items/1")

        assert 1 == len(api.requests)

    def test_observe_reads_quota_headers(self, make_client):
        """The observe hook sees every response and fills in the quota metrics."""

        def observe(response, metrics):
            usage = response.headers.get("Sforce-Limit-Info", "")
            if usage.startswith("api-usage="):
                used, limit = usage.removeprefix("api-usage=").split("/")
                metrics.quota_used, metrics.quota_limit = int(used), int(limit)

        client = make_client(observe=observe)
        client.get_json("/limits")

        assert (25, 15000) == (client.metrics.quota_used, client.metrics.quota_limit)


class TestUnauthorized:
    def test_401_refreshes_once_and_retries(self, api, make_client):
        """A 401 leads to exactly one refresh and one retry."""
        auth = SwitchingAuth(["expired-token", TOKEN])
        client = make_client(auth=auth)

        assert {"ok": True} == client.get_json("/secure")
        assert 1 == auth.refreshes
        assert 2 == len(api.requests)
        assert 1 == client.metrics.retries

    def test_second_401_is_authentication_error(self, api, make_client):
        """A 401 after the refresh is an AuthenticationError with the vendor code."""
        auth = SwitchingAuth(["expired-token", "still-bad-token"])
        client = make_client(auth=auth)

        with pytest.raises(AuthenticationError) as info:
            client.get_json("/secure", object_type="Opportunity")

        error = info.value
        assert 1 == auth.refreshes
        assert 2 == len(api.requests)
        assert ("INVALID_SESSION_ID", 401, "test grant") == (
            error.vendor_code,
            error.status,
            error.grant,
        )
        assert "TestAPI Opportunity: GET /secure -> 401 INVALID_SESSION_ID" in str(
            error
        )
        assert "test grant" in str(error)

    def test_static_auth_fails_at_once(self, api, make_client):
        """An auth that cannot refresh makes the first 401 final."""
        client = make_client(auth=SwitchingAuth(["bad-token"], can_refresh=False))

        with pytest.raises(AuthenticationError, match="cannot be refreshed"):
            client.get_json("/secure")

        assert 1 == len(api.requests)

    def test_401_without_auth(self, api, client):
        """A 401 to a client without auth is an AuthenticationError."""
        with pytest.raises(AuthenticationError):
            client.get_json("/secure")

    def test_credentials_stay_on_the_base_origin(self, emulator_factory, make_client):
        """Auth is not applied to absolute URLs on another origin."""
        other = emulator_factory(Api)
        client = make_client(auth=SwitchingAuth([TOKEN]))

        mine = client.get_json("/headers")
        theirs = client.get_json(f"{other.url}/headers")

        assert f"Bearer {TOKEN}" == mine["Authorization"]
        assert "Authorization" not in theirs


class TestErrors:
    def test_malformed_json(self, api, client):
        """Invalid JSON is an UnexpectedResponseError naming the request and body."""
        api.inject(Fault.malformed())

        with pytest.raises(UnexpectedResponseError) as info:
            client.get_json("/items/1", params={"q": "x"}, object_type="Item")

        message = str(info.value)
        assert message.startswith("TestAPI Item: GET /items/1 -> 200: the body is not")
        assert '\'{"id":"1","pad":"xxx' in message
        assert "q=x" not in message
        assert 1 == len(api.requests)

    def test_unexpected_status(self, api, client):
        """A 404 is not retried and says what to check."""
        with pytest.raises(UnexpectedResponseError) as info:
            client.get_json("/nowhere", object_type="Ghost")

        assert 404 == info.value.status
        assert "not_found" == info.value.vendor_code
        assert "check the path" in str(info.value)

    def test_ok_statuses_are_returned(self, client):
        """Statuses listed in ok are handed back instead of raised."""
        response = client.request("GET", "/nowhere", ok={404})

        assert 404 == response.status_code

    def test_empty_body_is_none(self, client):
        """An empty body decodes to None."""
        assert client.get_json("/empty") is None

    def test_query_string_is_never_in_messages(self, api, client):
        """Query parameters (which may hold keys) stay out of errors."""
        api.inject(Fault.status(400))

        with pytest.raises(UnexpectedResponseError) as info:
            client.get_json("/items/1", params={"api_key": "k-123456"})

        assert "k-123456" not in str(info.value)
        assert "/items/1" == info.value.path

    def test_invalid_url_is_a_configuration_error(self, make_client):
        """A base URL that is no URL is a configuration error."""
        client = make_client(base_url="http://")

        with pytest.raises(ConfigurationError):
            client.get_json("/items/1")


class TestSecrets:
    def test_echoed_token_is_masked_in_errors_and_logs(self, api, make_client, caplog):
        """A server echoing the token in error bodies never leaks it anywhere.

        (urllib3's own DEBUG lines show query strings; credentials go in headers.)
        """
        caplog.set_level(logging.DEBUG)
        auth = SwitchingAuth([TOKEN])
        client = make_client(auth=auth)
        api.valid_tokens = set()
        auth.tokens = ["tok-SECRET-0009", NEW_TOKEN]

        errors = []
        for path in ("/secure", "/echo-error", "/text"):
            with pytest.raises(Exception) as info:
                client.get_json(path, params={"token": NEW_TOKEN})
            errors.append(info.value)

        text = " ".join(
            [str(e) for e in errors]
            + [repr(e) for e in errors]
            + [
                r.getMessage()
                for r in caplog.records
                if r.name.startswith("revops_ingest")
            ]
            + [repr(client), repr(auth)]
        )
        for secret in ("tok-SECRET-0009", NEW_TOKEN):
            assert secret not in text
        assert "**********" in str(errors[0])
        assert any(r.name == "revops_ingest.http" for r in caplog.records)

    def test_vendor_fail_errors_are_masked(self, make_client):
        """A vendor hook's error text is masked too."""

        def classify(response):
            return Fail(QuotaExceededError(f"quota for {TOKEN} used up"))

        client = make_client(auth=SwitchingAuth([TOKEN]), classify=classify)

        with pytest.raises(QuotaExceededError) as info:
            client.get_json("/items/1")

        assert TOKEN not in str(info.value)

    def test_logs_name_method_path_and_status(self, client, caplog):
        """Each request is logged at DEBUG with method, path, status and bytes."""
        caplog.set_level(logging.DEBUG, logger="revops_ingest.http")

        client.get_json("/items/1", params={"secret": "zzz-hidden"})

        [record] = [r for r in caplog.records if r.name == "revops_ingest.http"]
        assert record.getMessage().startswith("GET /items/1 -> 200 in ")
        assert "zzz-hidden" not in record.getMessage()


class TestMetrics:
    def test_counts(self, api, client):
        """Requests, bytes sent and bytes received are counted."""
        client.post_json("/items", {"a": 1})
        client.get_json("/items/1")

        metrics = client.metrics
        assert 2 == metrics.requests
        assert len(json.dumps({"a": 1})) == metrics.bytes_sent
        assert (
            len(json.dumps({"created": {"a": 1}}, separators=(",", ":")))
            + len(json.dumps({"id": "1", "pad": "x" * 2000}, separators=(",", ":")))
            == metrics.bytes_received
        )

    def test_recording_routes_counts(self, client):
        """recording() adds to another RequestMetrics for the block only."""
        own = client.metrics
        sync = RequestMetrics()

        with client.recording(sync) as recorded:
            client.get_json("/items/1")
        client.get_json("/items/2")

        assert recorded is sync
        assert (1, 1) == (sync.requests, own.requests)
        assert own is client.metrics


class TestClient:
    def test_user_agent_and_headers(self, make_client):
        """The User-Agent names the library; default and per-call headers are sent."""
        client = make_client(headers={"X-Default": "a"})

        seen = client.get_json("/headers", headers={"X-Call": "b"})

        assert seen["User-Agent"].startswith("revops-ingest/")
        assert ("a", "b") == (seen["X-Default"], seen["X-Call"])

    def test_close_leaves_a_given_session_open(self, make_client):
        """close() closes the client's own session, not one handed in."""
        session = requests.Session()
        with make_client(session=session) as client:
            client.get_json("/items/1")

        assert session.adapters  # untouched
        assert client.session is session
        session.close()

    def test_paths_join_base_urls_with_prefixes(self, api, make_client):
        """A relative path is appended to the base URL, prefix included."""
        client = make_client(base_url=f"{api.url}/items/")

        assert "3" == client.get_json("3")["id"]
        assert f"{api.url}/x" == client.url(f"{api.url}/x")


class TestRateLimiter:
    def test_paces_to_max_calls_per_period(self, fake):
        """A third call within the period waits until the first leaves the window."""
        pacer = RateLimiter(2, 10, clock=fake.clock, sleep=fake.sleep)

        waited = [pacer.acquire() for _ in range(3)]

        assert [0, 0, 10] == waited
        assert [10] == fake.waits

    def test_calls_spread_out_do_not_wait(self, fake):
        """Calls further apart than the window never wait."""
        pacer = RateLimiter(1, 1, clock=fake.clock, sleep=fake.sleep)

        for _ in range(3):
            pacer.acquire()
            fake.now += 1.5

        assert [] == fake.waits

    def test_server_says_none_left(self, fake):
        """update_from_headers(0, reset) blocks until the server's window resets."""
        pacer = RateLimiter(100, 10, clock=fake.clock, sleep=fake.sleep)
        pacer.update_from_headers(0, 5)

        assert 5 == pacer.acquire()

    def test_server_says_some_left(self, fake):
        """update_from_headers(n, reset) lets n calls through, then waits."""
        pacer = RateLimiter(100, 10, clock=fake.clock, sleep=fake.sleep)
        pacer.update_from_headers(2, 5)

        assert [0, 0, 5, 0] == [pacer.acquire() for _ in range(4)]

    def test_client_acquires_before_every_attempt(self, api, make_client, fake):
        """The client paces each attempt and counts the pacing as waiting."""
        pacer = RateLimiter(1, 3, clock=fake.clock, sleep=fake.sleep)
        api.inject(Fault.status(503))
        client = make_client(pacer=pacer)

        client.get_json("/items/1")

        assert [0.5, 2.5] == fake.waits  # backoff, then the rest of the window
        assert 3.0 == client.metrics.wait_seconds

    def test_invalid_configuration(self):
        """Zero calls or a zero period are configuration errors."""
        with pytest.raises(ConfigurationError):
            RateLimiter(0, 1)
        with pytest.raises(ConfigurationError):
            RateLimiter(1, 0)


class TestVendorError:
    @pytest.mark.parametrize(
        ("body", "expected"),
        [
            (
                b'[{"errorCode": "INVALID_SESSION_ID", "message": "m"}]',
                ("INVALID_SESSION_ID", "m"),
            ),
            (
                b'{"error": "invalid_grant", "error_description": "d"}',
                ("invalid_grant", "d"),
            ),
            (b'{"error": {"code": 7, "message": "m"}}', ("7", "m")),
            (b'{"message": "m"}', (None, "m")),
            (
                b'{"error": "Couldn\'t authenticate you"}',
                (None, "Couldn't authenticate you"),
            ),
            (b'{"category": "RATE_LIMITS", "message": "m"}', ("RATE_LIMITS", "m")),
            (b"not json", (None, None)),
            (b"[1]", (None, None)),
        ],
    )
    def test_shapes(self, body, expected):
        """Vendor error codes and messages are found in the common body shapes."""
        assert expected == vendor_error(body)
