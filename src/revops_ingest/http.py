"""The HTTP core every source is built on.

One :class:`HttpClient` per source: a ``requests`` session with (connect, read)
time-outs always set, retries with ``backoff`` on throttling, server errors and
dropped connections, ``Retry-After`` honoured, a per-vendor hook for vendor signals
(:class:`Retry`, :class:`Fail`, :class:`RefreshAuth`), exactly one token refresh on a
401, secrets masked everywhere, and counters for the audit row. Auth objects are
pluggable (:class:`Auth`). See *How sources talk HTTP* in the docs.
"""

from __future__ import annotations

from revops_ingest._auth import (
    Auth,
    BasicAuth,
    BearerTokenAuth,
    OAuth2Auth,
    OAuth2ClientCredentialsAuth,
    OAuth2RefreshTokenAuth,
)
from revops_ingest._http import (
    Fail,
    HttpClient,
    RateLimiter,
    RefreshAuth,
    Retry,
    RetryPolicy,
    Timeouts,
    VendorSignal,
    parse_retry_after,
    vendor_error,
)
from revops_ingest._metrics import RequestMetrics


__all__ = [
    "Auth",
    "BasicAuth",
    "BearerTokenAuth",
    "Fail",
    "HttpClient",
    "OAuth2Auth",
    "OAuth2ClientCredentialsAuth",
    "OAuth2RefreshTokenAuth",
    "RateLimiter",
    "RefreshAuth",
    "RequestMetrics",
    "Retry",
    "RetryPolicy",
    "Timeouts",
    "VendorSignal",
    "parse_retry_after",
    "vendor_error",
]
