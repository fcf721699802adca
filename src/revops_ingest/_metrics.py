"""Counters that sources fill in while they fetch, for the audit row."""

from __future__ import annotations

import attrs


__all__ = ["RequestMetrics"]


@attrs.define
class RequestMetrics:
    """What talking to a source cost during one sync.

    The HTTP core (:class:`revops_ingest.HttpClient`) adds to it on every request;
    the sync engine copies it into the audit row.

    Attributes:
        requests: HTTP requests sent, retries included.
        retries: Requests that were repeats after a retryable failure.
        bytes_received: Response body bytes received.
        bytes_sent: Request body bytes sent.
        wait_seconds: Time spent sleeping for backoff, ``Retry-After`` or pacing.
        token_refreshes: Access tokens fetched or refreshed.
        quota_used: API calls used of the vendor's allocation, if the vendor says.
        quota_limit: The vendor's allocation, if it says.
    """

    requests: int = 0
    retries: int = 0
    bytes_received: int = 0
    bytes_sent: int = 0
    wait_seconds: float = 0.0
    token_refreshes: int = 0
    quota_used: int | None = None
    quota_limit: int | None = None
