"""Every error ``revops_ingest`` raises on purpose.

The tree::

    RevOpsIngestError
    ├── ConfigurationError (ValueError)   wrong or missing settings, bad paths
    ├── SourceError                        a source system did not give us what we need
    │   ├── AuthenticationError            credentials rejected, token refresh failed
    │   ├── RateLimitError                 retries or quota exhausted
    │   │   └── QuotaExceededError         the vendor's daily allocation is used up
    │   ├── TransportError                 connection failures and time-outs, retried
    │   └── UnexpectedResponseError        an answer we cannot use: status, body, shape
    ├── SchemaError (ValueError)           columns or types that do not fit the dataset
    ├── DatasetError                       reading or committing a lake dataset failed
    │   └── DatasetNotFoundError (KeyError)
    └── QualityCheckError                  a data-quality result was raised for

Catch :class:`RevOpsIngestError` to handle anything the library raises on purpose;
catch a leaf to handle one situation. Messages name the source system, the object and
the request path where there is one, and say what to do next. They never contain a
credential: anything secret is wrapped in :class:`revops_ingest.Secret` and redacted
before a message is built.
"""

from __future__ import annotations

import typing


if typing.TYPE_CHECKING:
    from collections.abc import Sequence


__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "DatasetError",
    "DatasetNotFoundError",
    "QualityCheckError",
    "QuotaExceededError",
    "RateLimitError",
    "RevOpsIngestError",
    "SchemaError",
    "SourceError",
    "TransportError",
    "UnexpectedResponseError",
]


class RevOpsIngestError(Exception):
    """Base class of every error raised by ``revops_ingest`` on purpose."""


class ConfigurationError(RevOpsIngestError, ValueError):
    """A setting, argument, config dataset or dataset path is wrong or missing."""


class SourceError(RevOpsIngestError):
    """A source system failed to give us what we need.

    Attributes:
        source: The source system, such as ``"Salesforce"``.
        object_type: The object being synced, if known.
        method: The HTTP method of the failing request, if any.
        path: The request path (never the query string, which may hold secrets).
        status: The HTTP status code, if a response arrived.
        vendor_code: The vendor's own error code (``INVALID_SESSION_ID``, ``606``, ...).
        hint: What to do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        object_type: str | None = None,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        vendor_code: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.source = source
        self.object_type = object_type
        self.method = method
        self.path = path
        self.status = status
        self.vendor_code = vendor_code
        self.hint = hint
        self.detail = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = " ".join(p for p in (self.source, self.object_type) if p)
        request = " ".join(p for p in (self.method, self.path) if p)
        answer = " ".join(
            p
            for p in (
                str(self.status) if self.status is not None else None,
                self.vendor_code,
            )
            if p
        )
        head = ": ".join(p for p in (where, request) if p)
        if answer:
            head = f"{head} -> {answer}" if head else answer
        text = f"{head}: {self.detail}" if head else self.detail
        if self.hint:
            text = f"{text} ({self.hint})"
        return text


class AuthenticationError(SourceError):
    """The source rejected our credentials, or refreshing a token failed.

    Attributes:
        grant: The OAuth grant or auth scheme that was used, if known.
    """

    def __init__(
        self, message: str, *, grant: str | None = None, **kw: typing.Any
    ) -> None:
        self.grant = grant
        super().__init__(message, **kw)


class RateLimitError(SourceError):
    """The source kept throttling us until the retry budget ran out.

    Attributes:
        retry_after: Seconds the source asked us to wait, if it said.
    """

    def __init__(
        self, message: str, *, retry_after: float | None = None, **kw: typing.Any
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class QuotaExceededError(RateLimitError):
    """The vendor's (daily) API allocation is used up; retrying will not help."""


class TransportError(SourceError):
    """The connection failed or timed out, and retries did not help."""


class UnexpectedResponseError(SourceError):
    """The source answered, but not with something we can use.

    A status we do not expect, a body that is not valid JSON or CSV, a required key
    missing from a page: the sync stops and nothing from the failed window is committed.
    """


class SchemaError(RevOpsIngestError, ValueError):
    """Columns or types do not fit what a dataset or transform requires.

    Attributes:
        dataset: The dataset path involved, if any.
        column: The offending column, if one can be named.
    """

    def __init__(
        self,
        message: str,
        *,
        dataset: str | None = None,
        column: str | None = None,
    ) -> None:
        self.dataset = dataset
        self.column = column
        super().__init__(message)


class DatasetError(RevOpsIngestError):
    """Reading or committing a lake dataset failed.

    Attributes:
        dataset: The dataset path, such as ``"/Salesforce/Raw/Opportunity"``.
    """

    def __init__(self, message: str, *, dataset: str | None = None) -> None:
        self.dataset = dataset
        super().__init__(message)


class DatasetNotFoundError(DatasetError, KeyError):
    """The dataset has never been committed."""

    def __str__(self) -> str:
        # KeyError quotes its argument; keep our readable message instead.
        return str(self.args[0]) if self.args else ""


class QualityCheckError(RevOpsIngestError):
    """Raised by a quality result's ``raise_for`` when checks failed.

    Attributes:
        failures: Names of the failed checks.
    """

    def __init__(self, message: str, *, failures: Sequence[str] = ()) -> None:
        self.failures = tuple(failures)
        super().__init__(message)
