"""The HTTP core every source talks through.

:class:`HttpClient` wraps one :class:`requests.Session` and adds what ``requests``
leaves to the caller: time-outs on every request (:class:`Timeouts`), retries with
backoff that honour ``Retry-After`` within a time budget (:class:`RetryPolicy`),
pluggable auth with one refresh on 401 (:mod:`revops_ingest._auth`), a per-source
hook for vendor-specific throttling signals (:class:`Retry`, :class:`Fail`,
:class:`RefreshAuth`), proactive pacing (:class:`RateLimiter`), counters for the audit
row (:class:`~revops_ingest._metrics.RequestMetrics`) and errors from
:mod:`revops_ingest.exceptions` that never contain a secret or a query string.

Failures of ``requests`` are translated into our errors in exactly one place,
``_Call.translate``; every error message is assembled and redacted in one place,
:meth:`HttpClient.error`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import functools
import importlib.metadata
import json as _json
import logging
import math
import re
import threading
import time
import typing
import urllib.parse
from collections import deque

import attrs
import backoff
import requests
import requests.exceptions
import urllib3.exceptions

from revops_ingest._metrics import RequestMetrics
from revops_ingest._secrets import redact
from revops_ingest.exceptions import (
    AuthenticationError,
    ConfigurationError,
    RateLimitError,
    SourceError,
    TransportError,
    UnexpectedResponseError,
)


if typing.TYPE_CHECKING:
    import types
    from collections.abc import Callable, Container, Iterable, Iterator, Mapping

    from typing_extensions import Self

    from revops_ingest._auth import Auth
    from revops_ingest._secrets import Secret


__all__ = [
    "Fail",
    "HttpClient",
    "RateLimiter",
    "RefreshAuth",
    "Retry",
    "RetryPolicy",
    "Timeouts",
    "VendorSignal",
    "parse_retry_after",
    "vendor_error",
]

_log = logging.getLogger("revops_ingest.http")

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
# Answers that show the server did not act on the request: safe to repeat a POST.
_NOT_PROCESSED_STATUSES = frozenset({429, 503})
_TOO_MANY_REQUESTS = 429
_UNAUTHORIZED = 401
_SERVER_ERROR = 500
_SNIPPET = 160
_CODE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")  # what a vendor error code looks like


@functools.cache
def _version() -> str:
    try:
        return importlib.metadata.version("revops-ingest")
    except importlib.metadata.PackageNotFoundError:
        return "0"


# ---------------------------------------------------------------- configuration


def _positive(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        msg = f"{attribute.name} must be greater than 0, not {value!r}"
        raise ConfigurationError(msg)


def _not_negative(
    _inst: object, attribute: attrs.Attribute[float], value: float
) -> None:
    if value < 0:
        msg = f"{attribute.name} must not be negative, not {value!r}"
        raise ConfigurationError(msg)


@attrs.frozen(kw_only=True)
class Timeouts:
    """How long to wait on the network; always sent with every request.

    Attributes:
        connect: Seconds to wait for a connection to be established.
        read: Seconds to wait between bytes of the response (not for the whole of it).
    """

    connect: float = attrs.field(default=10.0, validator=_positive)
    read: float = attrs.field(default=120.0, validator=_positive)

    def as_requests(self) -> tuple[float, float]:
        """Return the ``(connect, read)`` tuple ``requests`` takes as ``timeout``."""
        return (self.connect, self.read)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """When and how long to retry one logical request.

    Waits grow exponentially, ``initial_wait * factor ** n`` capped at ``max_wait``,
    with full jitter (a uniform draw below that) unless *jitter* is false. A
    ``Retry-After`` from the server replaces the computed wait.

    Attributes:
        max_tries: Attempts in all, the first included.
        max_time: Seconds one logical request may take, waits included. A wait that
            would end past it is not started: the request fails at once.
        initial_wait: Seconds before the first retry (before jitter).
        factor: Growth of the wait from one retry to the next.
        max_wait: The longest computed wait (``Retry-After`` is not capped).
        jitter: Whether to randomise computed waits.
        retry_statuses: Statuses worth retrying. POST and PATCH are only retried
            on 429 and 503 (the server did not act on them).
    """

    max_tries: int = attrs.field(default=8)
    max_time: float = attrs.field(default=600.0, validator=_positive)
    initial_wait: float = attrs.field(default=1.0, validator=_not_negative)
    factor: float = attrs.field(default=2.0, validator=_positive)
    max_wait: float = attrs.field(default=120.0, validator=_not_negative)
    jitter: bool = True
    retry_statuses: frozenset[int] = attrs.field(
        default=frozenset({429, 500, 502, 503, 504}), converter=frozenset
    )

    @max_tries.validator
    def _check_tries(self, _attribute: attrs.Attribute[int], value: int) -> None:
        if value < 1:
            msg = f"max_tries must be at least 1, not {value!r}"
            raise ConfigurationError(msg)

    def backoff_wait(self, retry: int) -> float:
        """Return the wait before retry number *retry* (1-based), before jitter."""
        return min(self.max_wait, self.initial_wait * self.factor ** (retry - 1))


# ---------------------------------------------------------------- vendor signals


@attrs.frozen
class Retry:
    """Vendor hook verdict: the source is throttling us; retry the request.

    Retried even for POST: a throttled request was not processed.

    Attributes:
        after: Seconds to wait, if the vendor says; else the policy's backoff.
        reason: What the vendor said, for logs and the final error.
    """

    after: float | None = None
    reason: str = "throttled by the source"


@attrs.frozen
class Fail:
    """Vendor hook verdict: raise *error* now, without retrying.

    Context the error lacks (source, method, path, status, object type) is filled
    in by the client.

    Attributes:
        error: The error to raise, such as a
            :class:`~revops_ingest.exceptions.QuotaExceededError`.
    """

    error: SourceError


@attrs.frozen
class RefreshAuth:
    """Vendor hook verdict: the credentials expired; refresh them once and retry.

    For vendors that signal an expired token with something other than a 401.
    """


VendorSignal: typing.TypeAlias = "Retry | Fail | RefreshAuth"
"""What a ``classify`` hook may return instead of ``None``."""


# ---------------------------------------------------------------- pacing


class RateLimiter:
    """Proactive pacing: at most *max_calls* calls in any *period* seconds.

    A sliding window over the times of the last calls. A source shares one between
    all its requests (it is thread-safe) and hands it to :class:`HttpClient` as
    ``pacer``; the client calls :meth:`acquire` before every attempt.

    Args:
        max_calls: Calls allowed per window.
        period: The window's length in seconds.
        clock: Monotonic clock; injectable for tests.
        sleep: How to wait; injectable for tests.
    """

    def __init__(
        self,
        max_calls: int,
        period: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_calls < 1:
            msg = f"max_calls must be at least 1, not {max_calls!r}"
            raise ConfigurationError(msg)
        if not period > 0:
            msg = f"period must be greater than 0, not {period!r}"
            raise ConfigurationError(msg)
        self.max_calls = max_calls
        self.period = period
        self._clock = clock
        self._sleep = sleep
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()
        # What the server last said: calls left until a deadline.
        self._server_remaining: int | None = None
        self._server_reset = 0.0

    def __repr__(self) -> str:
        return f"RateLimiter(max_calls={self.max_calls}, period={self.period})"

    def _delay(self, now: float) -> float:
        if self._server_remaining is not None:
            if now >= self._server_reset:
                self._server_remaining = None
            elif self._server_remaining <= 0:
                return self._server_reset - now
        while self._calls and self._calls[0] <= now - self.period:
            self._calls.popleft()
        if len(self._calls) < self.max_calls:
            return 0.0
        return self._calls[0] + self.period - now

    def acquire(self) -> float:
        """Block until a call is allowed, take it, and return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:  # never held while sleeping
                now = self._clock()
                delay = self._delay(now)
                if delay <= 0:
                    self._calls.append(now)
                    if self._server_remaining is not None:
                        self._server_remaining -= 1
                    return waited
            self._sleep(delay)
            waited += delay

    def update_from_headers(self, remaining: int, reset_seconds: float) -> None:
        """Tighten pacing to what the server reports.

        *remaining* calls are left in the server's window, which resets in
        *reset_seconds* (as in ``X-HubSpot-RateLimit-Remaining`` and
        ``X-HubSpot-RateLimit-Interval-Milliseconds``). Until then no more than
        *remaining* further calls are let through.
        """
        with self._lock:
            self._server_remaining = max(0, remaining)
            self._server_reset = self._clock() + max(0.0, reset_seconds)


# ---------------------------------------------------------------- helpers


def parse_retry_after(value: str | None, *, now: dt.datetime) -> float | None:
    """Return the seconds a ``Retry-After`` header value asks for, or ``None``.

    RFC 9110 §10.2.3 allows delay-seconds or an HTTP-date; a date is measured
    against *now*. Decimal seconds are accepted too; anything unreadable is ``None``.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - now).total_seconds())


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    # Measure an HTTP-date against the server's own Date header when it sent one:
    # clock skew between us and the vendor then does not matter.
    now = None
    if "Date" in response.headers:
        with contextlib.suppress(TypeError, ValueError):
            now = email.utils.parsedate_to_datetime(response.headers["Date"])
    return parse_retry_after(value, now=now or dt.datetime.now(dt.timezone.utc))


def vendor_error(body: bytes) -> tuple[str | None, str | None]:
    """Return the vendor's ``(error code, message)`` from an error body, if any.

    Understands Salesforce (``[{"errorCode", "message"}]``), OAuth 2.0
    (``{"error", "error_description"}``), ``{"error": {"code", "message"}}`` and
    generic ``{"message"}`` / ``{"category"}`` / ``{"errorType"}`` shapes.
    """
    try:
        payload = _json.loads(body)
    except ValueError:
        return None, None
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        payload = payload[0]
    if not isinstance(payload, dict):
        return None, None
    error = payload.get("error")
    if isinstance(error, dict):
        payload = {**payload, **error}
        error = None
    elif isinstance(error, str) and not _CODE.fullmatch(error):
        # Zendesk's {"error": "Couldn't authenticate you"}: a message, not a code.
        payload = {"message": error, **payload}
        error = None
    code = next(
        (
            str(value)
            for value in (
                payload.get("errorCode"),
                error,
                payload.get("code"),
                payload.get("category"),
                payload.get("errorType"),
            )
            if isinstance(value, (str, int)) and not isinstance(value, bool)
        ),
        None,
    )
    message = next(
        (
            value
            for value in (
                payload.get("error_description"),
                payload.get("message"),
                payload.get("description"),
            )
            if isinstance(value, str)
        ),
        None,
    )
    return code, message


def _unchanged(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """A requests auth that adds nothing (our :class:`Auth` applies afterwards)."""
    return request


def _read_body(response: requests.Response) -> bytes:
    """The whole body in one read, failures mapped as ``iter_content`` maps them."""
    try:
        body = response.raw.read(decode_content=True)
    except urllib3.exceptions.ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from exc
    except urllib3.exceptions.DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from exc
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.exceptions.ConnectionError(exc) from exc
    except urllib3.exceptions.SSLError as exc:
        raise requests.exceptions.SSLError(exc) from exc
    return body if body is not None else b""


def _clip(text: str, limit: int = _SNIPPET) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(exc: requests.RequestException, timeouts: Timeouts) -> tuple[str, bool]:
    """Say what went wrong on the wire (without URLs), and if the request went out."""
    read_timeout = f"no response within the read time-out of {timeouts.read:g} s"
    known: tuple[tuple[type[Exception], str, bool], ...] = (
        (
            requests.exceptions.ConnectTimeout,
            f"could not connect within {timeouts.connect:g} s",
            False,
        ),
        (requests.exceptions.ProxyError, "could not connect through the proxy", False),
        (requests.exceptions.ReadTimeout, read_timeout, True),
        (
            requests.exceptions.ChunkedEncodingError,
            "the connection broke while the response body was being read",
            True,
        ),
    )
    for kind, text, sent in known:
        if isinstance(exc, kind):
            return text, sent
    cause = exc.args[0] if exc.args else None
    reason = getattr(cause, "reason", None)
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        errno = re.search(r"\[Errno [^\]]+\] [^'\"),]*", str(reason))
        return "could not connect" + (f": {errno.group(0)}" if errno else ""), False
    if isinstance(cause, urllib3.exceptions.ReadTimeoutError):
        return read_timeout, True
    return "the connection was closed before the response was complete", True


class _Retry(Exception):  # noqa: N818 - internal control flow, never escapes
    """An attempt failed in a way that may be worth repeating."""

    def __init__(
        self,
        kind: typing.Literal["throttled", "server", "transport", "auth"],
        reason: str,
        *,
        after: float | None = None,
        status: int | None = None,
        vendor_code: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(kind)
        self.kind = kind
        self.reason = reason  # for the log line
        self.after = after
        self.status = status
        self.vendor_code = vendor_code
        self.detail = detail  # for the final error, if status and code do not say


# ---------------------------------------------------------------- the client


_OK: Container[int] = range(200, 300)


class HttpClient:
    """Talks HTTP to one source system: time-outs, retries, auth, metrics, errors.

    One :class:`requests.Session` per client: created by the client unless *session*
    is given (then the caller closes it). Use the client as a context manager or
    call :meth:`close`.

    Args:
        source: The system's name, for messages (``"Salesforce"``).
        base_url: Prefixed to relative paths (``"https://x.my.salesforce.com"``).
            A path is appended to it as is, so a base URL may end in a path prefix.
        auth: Adds credentials to requests to *base_url*'s origin.
        timeouts: Connect and read time-outs, sent with every request; by default
            ``Timeouts()`` (10 s and 120 s).
        retry: The retry policy; by default ``RetryPolicy()``.
        classify: The vendor hook: maps a response to a :data:`VendorSignal`, or
            ``None`` for the default handling.
        observe: Called with every response and the metrics, to read quota headers
            (``Sforce-Limit-Info``) into ``quota_used``/``quota_limit`` or to feed a
            :class:`RateLimiter`.
        pacer: Proactive pacing; acquired before every attempt.
        session: A ready session (adapters, proxies, certificates) to use.
        headers: Headers sent with every request.
        user_agent: The ``User-Agent``; ``revops-ingest/<version>`` by default.
        sleep: How to wait; injectable for tests.
        clock: Monotonic clock measuring the retry budget; injectable for tests.
        metrics: The counters to add to; see also :meth:`recording`.
    """

    def __init__(
        self,
        *,
        source: str,
        base_url: str,
        auth: Auth | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        classify: Callable[[requests.Response], VendorSignal | None] | None = None,
        observe: Callable[[requests.Response, RequestMetrics], None] | None = None,
        pacer: RateLimiter | None = None,
        session: requests.Session | None = None,
        headers: Mapping[str, str] | None = None,
        user_agent: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        metrics: RequestMetrics | None = None,
    ) -> None:
        self.source = source
        self.base_url = base_url
        self.auth = auth
        self.timeouts = timeouts if timeouts is not None else Timeouts()
        self.retry = retry if retry is not None else RetryPolicy()
        self.classify = classify
        self.observe = observe
        self.pacer = pacer
        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()
        self.headers: dict[str, str] = dict(headers or {})
        self.user_agent = user_agent or f"revops-ingest/{_version()}"
        self.sleep = sleep
        self.clock = clock
        self.metrics = metrics if metrics is not None else RequestMetrics()
        self._environment: dict[str, dict[str, typing.Any]] = {}

    def __repr__(self) -> str:
        return f"<HttpClient {self.source} {self.base_url}>"

    def environment_settings(self, url: str) -> dict[str, typing.Any]:
        """The proxies and CA bundle the environment gives requests to *url*'s origin.

        Read once per origin and client: requests reads them again for every
        request, scanning the whole environment for ``*_proxy`` variables (about
        a millisecond each time).
        """
        parts = urllib.parse.urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._environment:
            self._environment[origin] = dict(
                self.session.merge_environment_settings(url, {}, None, None, None)
            )
        return dict(self._environment[origin])

    def close(self) -> None:
        """Close the session, if the client created it."""
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.close()

    @contextlib.contextmanager
    def recording(self, metrics: RequestMetrics) -> Iterator[RequestMetrics]:
        """Add to *metrics* instead of :attr:`metrics` inside the ``with`` block."""
        previous, self.metrics = self.metrics, metrics
        try:
            yield metrics
        finally:
            self.metrics = previous

    def secrets(self) -> Iterable[Secret]:
        """The secrets that must never appear in messages or logs."""
        return self.auth.secrets() if self.auth is not None else ()

    def redact(self, text: str) -> str:
        """Mask every secret of the client's auth in *text*."""
        return redact(text, list(self.secrets()))

    def url(self, url_or_path: str) -> str:
        """Return the absolute URL of *url_or_path* (absolute URLs pass through)."""
        if re.match(r"^https?://", url_or_path, re.IGNORECASE):
            return url_or_path
        return f"{self.base_url.rstrip('/')}/{url_or_path.lstrip('/')}"

    def _same_origin(self, url: str) -> bool:
        mine = urllib.parse.urlsplit(self.base_url)
        theirs = urllib.parse.urlsplit(url)
        return (mine.scheme.lower(), mine.netloc.lower()) == (
            theirs.scheme.lower(),
            theirs.netloc.lower(),
        )

    # -- requests

    def request(
        self,
        method: str,
        url_or_path: str,
        *,
        params: Mapping[str, typing.Any] | None = None,
        json: typing.Any = None,
        data: Mapping[str, typing.Any] | bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        object_type: str | None = None,
        ok: Container[int] = _OK,
        idempotent: bool | None = None,
        authenticate: bool | None = None,
    ) -> requests.Response:
        """Send one logical request, retrying as the policy allows.

        The body is read completely inside each attempt, so a connection that drops
        mid-body is retried like any other transport failure.

        Args:
            method: The HTTP method.
            url_or_path: A path below :attr:`base_url`, or an absolute URL.
            params: Query parameters.
            json: A JSON body.
            data: A form (mapping) or raw body.
            headers: Extra headers for this request.
            object_type: The object being synced, for messages.
            ok: Statuses returned to the caller rather than raised.
            idempotent: Whether the request may be repeated after the server may
                have acted on it; by default true for all methods but POST and PATCH.
            authenticate: Apply :attr:`auth`; by default only to URLs with the same
                origin as :attr:`base_url`, so credentials never go to another host.

        Raises:
            RateLimitError: Still throttled when the budget ran out, or asked to wait
                past the budget.
            TransportError: The connection kept failing or timing out.
            AuthenticationError: Credentials rejected even after one refresh.
            UnexpectedResponseError: A status not in *ok* that is not retried, or a
                5xx that persisted.
        """
        method = method.upper()
        url = self.url(url_or_path)
        call = _Call(
            client=self,
            method=method,
            url=url,
            params=params,
            json=json,
            data=data,
            headers=headers,
            object_type=object_type,
            ok=ok,
            idempotent=(
                method in _IDEMPOTENT_METHODS if idempotent is None else idempotent
            ),
            authenticate=(
                self.auth is not None
                and (self._same_origin(url) if authenticate is None else authenticate)
            ),
        )
        return call.run()

    def get_json(
        self,
        path: str,
        *,
        params: Mapping[str, typing.Any] | None = None,
        object_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> typing.Any:
        """GET *path* and return the decoded JSON body (``None`` if empty).

        Raises:
            UnexpectedResponseError: The body is not valid JSON; the message names
                the request and shows the start of the body.
        """
        response = self.request(
            "GET", path, params=params, object_type=object_type, headers=headers
        )
        return self.decode_json(response, object_type=object_type)

    def post_json(
        self,
        path: str,
        json: typing.Any = None,
        *,
        params: Mapping[str, typing.Any] | None = None,
        data: Mapping[str, typing.Any] | bytes | str | None = None,
        object_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> typing.Any:
        """POST *json* (or *data*) to *path* and return the decoded JSON body."""
        response = self.request(
            "POST",
            path,
            params=params,
            json=json,
            data=data,
            object_type=object_type,
            headers=headers,
            idempotent=idempotent,
        )
        return self.decode_json(response, object_type=object_type)

    def decode_json(
        self, response: requests.Response, *, object_type: str | None = None
    ) -> typing.Any:
        """Return *response*'s body decoded as JSON (``None`` if empty).

        Raises:
            UnexpectedResponseError: The body is not valid JSON.
        """
        if not response.content.strip():
            return None
        try:
            return _json.loads(response.content)
        except ValueError as exc:
            snippet = response.content.decode("utf-8", errors="replace")
            method = response.request.method or "GET"
            why = (
                f" ({exc.msg} at byte {exc.pos})"
                if isinstance(exc, _json.JSONDecodeError)
                else ""
            )
            raise self.error(
                UnexpectedResponseError,
                f"the body is not valid JSON{why}",
                object_type=object_type,
                method=method,
                url=response.url,
                status=response.status_code,
                snippet=snippet,
                hint="a proxy or an outage page may have answered; try again later",
            ) from None

    def unexpected(
        self,
        response: requests.Response,
        detail: str,
        *,
        object_type: str | None = None,
    ) -> UnexpectedResponseError:
        """The error for an answer of the wrong shape (what every source raises).

        It names the request and status, and says that nothing of the sync is
        kept (the engine commits nothing from a fetch that raises).
        """
        error = self.error(
            UnexpectedResponseError,
            detail,
            object_type=object_type,
            method=response.request.method or "GET",
            url=response.url,
            status=response.status_code,
            hint="the API may have changed, or a proxy answered; nothing of this "
            "sync is kept",
        )
        assert isinstance(error, UnexpectedResponseError)
        return error

    def error(
        self,
        cls: type[SourceError],
        detail: str,
        *,
        object_type: str | None = None,
        method: str | None = None,
        url: str | None = None,
        status: int | None = None,
        vendor_code: str | None = None,
        hint: str | None = None,
        snippet: str | None = None,
        secrets: Iterable[Secret] = (),
        **extra: typing.Any,
    ) -> SourceError:
        """Build a *cls* error about a request to *url*, with every secret masked.

        The one place messages are assembled: the path is named without the query
        string, *snippet* (the start of a body) is clipped, and the auth's secrets
        (plus *secrets*) are masked in every part. *extra* goes to *cls*, such as
        ``retry_after`` or ``grant``.
        """
        secrets = [*self.secrets(), *secrets]
        if snippet is not None:
            detail = f"{detail}; the body starts {_clip(snippet)!r}"
        path = urllib.parse.urlsplit(url).path if url else None
        return cls(
            redact(detail, secrets),
            source=self.source,
            object_type=object_type,
            method=method,
            path=redact(path, secrets) if path else None,
            status=status,
            vendor_code=redact(vendor_code, secrets) if vendor_code else None,
            hint=redact(hint, secrets) if hint else None,
            **extra,
        )


@attrs.define
class _Call:
    """One logical request: its attempts, retries and failure translation."""

    client: HttpClient
    method: str
    url: str
    params: Mapping[str, typing.Any] | None
    json: typing.Any
    data: Mapping[str, typing.Any] | bytes | str | None
    headers: Mapping[str, str] | None
    object_type: str | None
    ok: Container[int]
    idempotent: bool
    authenticate: bool
    started: float = 0.0
    retries: int = 0
    refreshed: bool = False

    @property
    def path(self) -> str:
        return self.client.redact(urllib.parse.urlsplit(self.url).path)

    def run(self) -> requests.Response:
        self.started = self.client.clock()
        # backoff runs the loop and counts tries; the runtime wait generator gets
        # each failure and returns the wait. backoff always calls time.sleep(), and
        # measures its max_time with the wall clock, so to keep both injectable the
        # generator does the waiting itself with the client's sleep and checks the
        # budget with the client's clock, and hands backoff a wait of 0.
        attempt = backoff.on_exception(
            backoff.runtime,
            _Retry,
            value=self.wait,
            max_tries=self.client.retry.max_tries,
            jitter=None,
            logger=None,
        )(self.attempt)
        try:
            return attempt()
        except _Retry as failure:
            raise self.give_up(failure, budget_spent=False) from None

    # -- one attempt

    def prepare(self) -> requests.PreparedRequest:
        client = self.client
        headers = {"User-Agent": client.user_agent, **client.headers}
        headers.update(self.headers or {})
        request = requests.Request(
            self.method,
            self.url,
            params=dict(self.params) if self.params is not None else None,
            json=self.json,
            data=self.data,
            headers=headers,
            # With our own auth, requests need not look for ~/.netrc each time.
            auth=_unchanged if self.authenticate and client.auth is not None else None,
        )
        prepared = client.session.prepare_request(request)
        if self.authenticate and client.auth is not None:
            client.auth.apply(prepared, client)
        return prepared

    def attempt(self) -> requests.Response:
        client = self.client
        metrics = client.metrics
        if client.pacer is not None:
            metrics.wait_seconds += client.pacer.acquire()
        try:
            prepared = self.prepare()
        except requests.RequestException as exc:  # an invalid URL
            raise self.translate(exc) from None
        settings = client.environment_settings(prepared.url or self.url)
        body = prepared.body
        metrics.requests += 1
        metrics.bytes_sent += len(body) if body is not None else 0
        began = time.perf_counter()
        settings["stream"] = True
        try:
            response = client.session.send(
                prepared, timeout=client.timeouts.as_requests(), **settings
            )
            # Read the body here, inside the retried attempt, in one read:
            # requests' iter_content (10 KiB chunks by default) costs ~1 us per
            # record on big pages, and even 1 MiB chunks take twice as long.
            response._content = _read_body(response)  # noqa: SLF001 - as .content
            response._content_consumed = True  # type: ignore[attr-defined]  # noqa: SLF001
        except requests.RequestException as exc:
            failure = self.translate(exc)
            _log.debug(
                "%s %s -> %s after %.0f ms",
                self.method,
                self.path,
                failure.reason if isinstance(failure, _Retry) else type(exc).__name__,
                (time.perf_counter() - began) * 1000,
            )
            raise failure from None
        metrics.bytes_received += len(response.content)
        _log.debug(
            "%s %s -> %d in %.0f ms, %d bytes",
            self.method,
            self.path,
            response.status_code,
            (time.perf_counter() - began) * 1000,
            len(response.content),
        )
        if client.observe is not None:
            client.observe(response, metrics)
        return self.check(response)

    def translate(
        self, exc: requests.RequestException
    ) -> _Retry | SourceError | ConfigurationError:
        """Map a failure of ``requests`` to a retry or to our error: the one place."""
        if isinstance(exc, ValueError):  # InvalidURL, MissingSchema, InvalidSchema
            return ConfigurationError(
                f"{self.client.source}: {self.method} {self.path}: the URL is not "
                f"valid ({type(exc).__name__}); check base_url and the path"
            )
        if isinstance(exc, requests.exceptions.TooManyRedirects):
            return self.error(
                UnexpectedResponseError,
                "the source redirected too many times",
                hint="check base_url; the API may have moved",
            )
        if isinstance(exc, requests.exceptions.SSLError):
            return self.error(
                TransportError,
                "the TLS handshake failed",
                hint="check the host name and the certificates (REQUESTS_CA_BUNDLE, "
                "or a session with verify= set)",
            )
        if isinstance(
            exc,
            (
                requests.exceptions.ConnectionError,
                requests.exceptions.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ),
        ):
            reason, sent = _describe(exc, self.client.timeouts)
            if not sent or self.idempotent:
                return _Retry("transport", reason)
            return self.error(
                TransportError,
                f"{reason}; not retried because the source may have acted on the "
                f"{self.method} already",
                hint="check in the source whether it took effect before running it "
                "again",
            )
        return self.error(
            TransportError,
            f"the request failed ({type(exc).__name__})",
            hint="check the network and the source's status page",
        )

    def check(self, response: requests.Response) -> requests.Response:
        client = self.client
        status = response.status_code
        signal = client.classify(response) if client.classify is not None else None
        if isinstance(signal, Fail):
            raise self.vendor_failure(signal.error, status)
        if isinstance(signal, Retry):
            reason = client.redact(signal.reason)
            raise _Retry(
                "throttled", reason, after=signal.after, status=status, detail=reason
            )
        if isinstance(signal, RefreshAuth) or (
            status == _UNAUTHORIZED and status not in self.ok
        ):
            if self.authenticate:
                self.refresh_or_fail(response)
            elif isinstance(signal, RefreshAuth):  # e.g. from a token endpoint
                raise self.error(
                    AuthenticationError,
                    "the source says the credentials expired, but this request "
                    "carries none that could be refreshed",
                    status=status,
                    hint="check the vendor hook and the token endpoint",
                )
        if status in self.ok:
            return response
        code, message = vendor_error(response.content)
        if status in client.retry.retry_statuses:
            if self.idempotent or status in _NOT_PROCESSED_STATUSES:
                raise _Retry(
                    "throttled" if status == _TOO_MANY_REQUESTS else "server",
                    f"{status}" + (f" {code}" if code else ""),
                    after=_retry_after(response),
                    status=status,
                    vendor_code=code,
                )
            raise self.error(
                UnexpectedResponseError,
                self.said(message, f"the source failed with {status}")
                + f"; not retried because the source may have acted on the "
                f"{self.method} already",
                status=status,
                vendor_code=code,
                hint="check in the source whether it took effect before running "
                "it again",
            )
        raise self.error(
            AuthenticationError if status == _UNAUTHORIZED else UnexpectedResponseError,
            self.said(message, f"the source answered {status}"),
            status=status,
            vendor_code=code,
            hint=_hint(status),
        )

    def said(self, message: str | None, fallback: str) -> str:
        if message:
            return f"{fallback}: {_clip(message)}"
        return fallback

    def refresh_or_fail(self, response: requests.Response) -> None:
        """Refresh the credentials once and retry; the second time, give up."""
        client = self.client
        auth = client.auth
        status = response.status_code
        code, message = vendor_error(response.content)
        if auth is not None and not self.refreshed:
            self.refreshed = True
            if auth.refresh(client):
                raise _Retry("auth", f"{status} answered; credentials refreshed")
            detail = f"the source rejected the {auth.name} credentials"
            hint = (
                f"{auth.name} cannot be refreshed automatically; "
                "check that the credentials are valid and not revoked"
            )
        else:
            name = auth.name if auth is not None else "request's"
            detail = (
                f"the source rejected the {name} credentials even after refreshing them"
            )
            hint = (
                "check that the user is active, the app is still authorized and the "
                "credentials are not revoked"
            )
        raise self.error(
            AuthenticationError,
            self.said(message, detail),
            status=status,
            vendor_code=code,
            hint=hint,
            grant=auth.name if auth is not None else None,
        )

    def vendor_failure(self, error: SourceError, status: int) -> SourceError:
        """Fill in the context a vendor hook's error lacks, and redact it."""
        error.source = error.source or self.client.source
        error.object_type = error.object_type or self.object_type
        error.method = error.method or self.method
        error.path = error.path or self.path
        error.status = error.status if error.status is not None else status
        error.detail = self.client.redact(error.detail)
        if error.hint:
            error.hint = self.client.redact(error.hint)
        error.args = (error._render(),)  # noqa: SLF001 - our own exception type
        return error

    # -- between attempts

    def wait(self, failure: _Retry) -> float:
        """Backoff's runtime wait: wait out *failure* here, within the budget."""
        client = self.client
        policy = client.retry
        retry = self.retries + 1
        if failure.kind == "auth":
            seconds = 0.0
        elif failure.after is not None:
            seconds = failure.after
        else:
            seconds = policy.backoff_wait(retry)
            if policy.jitter:
                seconds = backoff.full_jitter(seconds)
        remaining = policy.max_time - (client.clock() - self.started)
        if seconds > remaining:
            if failure.after is not None:
                raise client.error(
                    RateLimitError,
                    f"the source asked to wait {failure.after:g} s "
                    f"({failure.detail or 'Retry-After'}), more than the "
                    f"{max(remaining, 0):.1f} s left of the {policy.max_time:g} s "
                    "retry budget",
                    object_type=self.object_type,
                    method=self.method,
                    url=self.url,
                    status=failure.status,
                    vendor_code=failure.vendor_code,
                    hint="run the sync again later, or raise RetryPolicy.max_time",
                    retry_after=failure.after,
                ) from None
            raise self.give_up(failure, budget_spent=True) from None
        self.retries = retry
        _log.info(
            "%s: retrying %s %s in %.2f s (%s; retry %d of at most %d)",
            client.source,
            self.method,
            self.path,
            seconds,
            client.redact(failure.reason),
            self.retries,
            policy.max_tries - 1,
        )
        if seconds > 0:
            client.sleep(seconds)
            client.metrics.wait_seconds += seconds
        client.metrics.retries += 1
        return 0.0

    def give_up(self, failure: _Retry, *, budget_spent: bool) -> SourceError:
        """The error for a failure that retries did not cure."""
        policy = self.client.retry
        tries = self.retries + 1
        after = f"after {tries} tr{'ies' if tries > 1 else 'y'}"
        if budget_spent:
            after += (
                f"; the next wait would end past the {policy.max_time:g} s retry "
                "budget (RetryPolicy.max_time)"
            )
        else:
            after += f" (RetryPolicy.max_tries={policy.max_tries})"
        said = f" ({failure.detail})" if failure.detail else ""
        if failure.kind == "throttled":
            return self.error(
                RateLimitError,
                f"still throttled{said} {after}",
                status=failure.status,
                vendor_code=failure.vendor_code,
                hint="lower the request rate (a pacer) or raise RetryPolicy.max_time",
                retry_after=failure.after,
            )
        if failure.kind == "transport":
            return self.error(
                TransportError,
                f"{failure.reason} {after}",
                hint="check the network and the source's status page; time-outs are "
                f"connect={self.client.timeouts.connect:g} s, "
                f"read={self.client.timeouts.read:g} s",
            )
        if failure.kind == "auth":
            return self.error(
                AuthenticationError,
                f"the credentials were refreshed but no try was left {after}",
                hint="raise RetryPolicy.max_tries",
                grant=self.client.auth.name if self.client.auth else None,
            )
        return self.error(
            UnexpectedResponseError,
            f"the source kept failing{said} {after}",
            status=failure.status,
            vendor_code=failure.vendor_code,
            hint="the source is having trouble; run the sync again later",
        )

    def error(
        self,
        cls: type[SourceError],
        detail: str,
        *,
        status: int | None = None,
        vendor_code: str | None = None,
        hint: str | None = None,
        **extra: typing.Any,
    ) -> SourceError:
        return self.client.error(
            cls,
            detail,
            object_type=self.object_type,
            method=self.method,
            url=self.url,
            status=status,
            vendor_code=vendor_code,
            hint=hint,
            **extra,
        )


def _hint(status: int) -> str:
    hints = {
        400: "the source rejected the request; check the parameters and API version",
        401: "check the credentials",
        403: "check that the user may read this object (permissions, licence, scope)",
        404: "check the path, the API version and the object's name",
        409: "the source reports a conflict; run the sync again",
        410: "the resource is gone; the API version may be retired",
        422: "the source rejected the request; check the parameters",
    }
    if status >= _SERVER_ERROR:
        return "the source is having trouble; run the sync again later"
    return hints.get(status, "see the source's API documentation for this status")
