"""The Salesforce REST calls the source makes, over one :class:`HttpClient`.

Besides the calls (describe, query pages, ``COUNT()``, the deleted-records log) this
module holds the two vendor hooks of the client:

- :func:`classify`: 403 ``REQUEST_LIMIT_EXCEEDED`` is the org's daily API
  allocation used up: a :class:`~revops_ingest.exceptions.QuotaExceededError`, never
  retried (the concurrent-request variant of the same code is retried);
- :func:`observe`: ``Sforce-Limit-Info: api-usage=used/limit`` on every answer
  goes into the sync's metrics, hence into the audit row.

and the optional quota guard, :meth:`SalesforceApi.check_quota`, which stops a sync
before it uses more than a configured share of the allocation.
"""

from __future__ import annotations

import re
import typing

import attrs

from revops_ingest._http import Fail, Retry, vendor_error
from revops_ingest.exceptions import (
    ConfigurationError,
    QuotaExceededError,
    UnexpectedResponseError,
)
from revops_ingest.sources._salesforce_auth import instance_url_of
from revops_ingest.sources._salesforce_types import (
    Page,
    format_ms,
    page_from_body,
    page_from_json,
    parse_datetime_ms,
)


if typing.TYPE_CHECKING:
    from collections.abc import Mapping

    import requests

    from revops_ingest._http import HttpClient, VendorSignal
    from revops_ingest._metrics import RequestMetrics
    from revops_ingest.sources._salesforce_types import ObjectPlan


__all__ = ["DeletedLog", "SalesforceApi", "classify", "observe"]

SYSTEM = "Salesforce"
_FORBIDDEN = 403
_LIMIT_INFO = re.compile(r"(?:^|[\s,;])api-usage=(\d+)/(\d+)")
_QUERY_OPTIONS = "Sforce-Query-Options"


def classify(response: requests.Response) -> VendorSignal | None:
    """The vendor hook: the daily allocation used up is a failure, not a retry."""
    if response.status_code != _FORBIDDEN:
        return None
    code, message = vendor_error(response.content)
    if code != "REQUEST_LIMIT_EXCEEDED":
        return None
    said = message or "TotalRequests Limit exceeded."
    if "concurrent" in said.lower():
        # ConcurrentPerOrgLongTxn: too many long requests at once; it passes.
        return Retry(reason=f"REQUEST_LIMIT_EXCEEDED: {said}")
    return Fail(
        QuotaExceededError(
            f"the org's API request allocation is used up ({said})",
            vendor_code=code,
            hint="Salesforce counts API calls over a rolling 24 hours; run the sync "
            "again when usage has fallen (Setup > Company Information shows it), "
            "or ask Salesforce for a higher limit",
        )
    )


def observe(response: requests.Response, metrics: RequestMetrics) -> None:
    """The observe hook: ``Sforce-Limit-Info: api-usage=25/15000`` into *metrics*."""
    value = response.headers.get("Sforce-Limit-Info")
    if not value:
        return
    match = _LIMIT_INFO.search(value)
    if match is not None:
        metrics.quota_used = int(match.group(1))
        metrics.quota_limit = int(match.group(2))


@attrs.frozen
class DeletedLog:
    """The answer of ``sobjects/{X}/deleted``.

    Attributes:
        deleted: ``(Id, deletion time in epoch ms)`` pairs.
        earliest: ``earliestDateAvailable``: the log starts there (the recycle bin
            may have been emptied), or ``None`` if not said.
        latest: ``latestDateCovered``: the log is complete up to there.
    """

    deleted: tuple[tuple[str, int], ...]
    earliest: int | None
    latest: int | None


@attrs.define
class SalesforceApi:
    """The REST calls of one source, under ``/services/data/vNN.N``.

    Attributes:
        http: The client; its ``base_url`` is the org's instance URL once known.
        api_version: Such as ``"62.0"``.
        instance_url: Given by the caller, or learned from the token response.
        max_quota_share: Stop before using more than this share of the allocation.
    """

    http: HttpClient
    api_version: str
    instance_url: str | None = None
    max_quota_share: float | None = None

    @property
    def root(self) -> str:
        """The REST root path, ``/services/data/vNN.N``."""
        return f"/services/data/v{self.api_version}"

    # -- plumbing

    def connect(self) -> None:
        """Make sure the instance URL is known: ask the token endpoint if needed.

        Raises:
            ConfigurationError: No instance URL was given and the auth cannot say.
            AuthenticationError: The token endpoint refused.
        """
        if self.instance_url is not None:
            return
        auth = self.http.auth
        if auth is None or not hasattr(auth, "token_response"):
            msg = (
                "Salesforce: pass instance_url= (such as "
                "'https://acme.my.salesforce.com'); this auth cannot tell it"
            )
            raise ConfigurationError(msg)
        if instance_url_of(auth) is None:
            auth.refresh(self.http)
        url = instance_url_of(auth)
        if url is None:
            raise UnexpectedResponseError(
                "the token response has no instance_url",
                source=SYSTEM,
                hint="pass instance_url= explicitly",
            )
        self.instance_url = url
        self.http.base_url = url

    def check_quota(self, object_type: str | None) -> None:
        """Stop before the sync uses more than ``max_quota_share`` of the allocation.

        Raises:
            QuotaExceededError: The last answer's ``Sforce-Limit-Info`` says the share
                is used up.
        """
        share = self.max_quota_share
        metrics = self.http.metrics
        used, limit = metrics.quota_used, metrics.quota_limit
        if share is None or used is None or not limit:
            return
        allowed = int(share * limit)
        if used >= allowed:
            msg = (
                f"{used} of the org's {limit} daily API calls are used "
                f"({used / limit:.0%}); max_quota_share={share:g} allows "
                f"{allowed}, so the sync stopped before using more"
            )
            raise QuotaExceededError(
                msg,
                source=SYSTEM,
                object_type=object_type,
                vendor_code="max_quota_share",
                hint="run the sync later, when the rolling 24-hour usage has "
                "fallen, or raise max_quota_share",
            )

    def request(
        self,
        method: str,
        path: str,
        *,
        object_type: str | None,
        **kw: typing.Any,
    ) -> requests.Response:
        """Check the quota share, then send one request (relative to the root)."""
        self.check_quota(object_type)
        url = path if path.startswith("/services/") else f"{self.root}/{path}"
        return self.http.request(method, url, object_type=object_type, **kw)

    def get_json(
        self,
        path: str,
        *,
        object_type: str | None,
        params: Mapping[str, typing.Any] | None = None,
    ) -> typing.Any:
        """GET *path* and decode the JSON answer."""
        response = self.request("GET", path, object_type=object_type, params=params)
        return self.http.decode_json(response, object_type=object_type)

    def unexpected(
        self, response: requests.Response, detail: str, object_type: str | None
    ) -> UnexpectedResponseError:
        """The error for an answer of the wrong shape."""
        return self.http.unexpected(response, detail, object_type=object_type)

    # -- calls

    def describe(self, object_type: str) -> dict[str, typing.Any]:
        """``GET sobjects/{X}/describe``."""
        answer = self.get_json(
            f"sobjects/{object_type}/describe", object_type=object_type
        )
        if not isinstance(answer, dict) or not isinstance(answer.get("fields"), list):
            raise UnexpectedResponseError(
                "the describe answer has no 'fields' list",
                source=SYSTEM,
                object_type=object_type,
                method="GET",
                path=f"{self.root}/sobjects/{object_type}/describe",
            )
        return answer

    def query_page(
        self,
        plan: ObjectPlan,
        *,
        soql: str | None = None,
        next_url: str | None = None,
        include_deleted: bool = True,
        batch_size: int | None = None,
    ) -> Page:
        """One page of ``queryAll`` (or ``query``): the first of *soql*, or *next_url*.

        Raises:
            UnexpectedResponseError: The answer is not a query page (malformed JSON
                included), or a value does not fit its declared type.
        """
        headers = {_QUERY_OPTIONS: f"batchSize={batch_size}"} if batch_size else None
        if next_url is not None:
            response = self.request(
                "GET", next_url, object_type=plan.name, headers=headers
            )
        else:
            response = self.request(
                "GET",
                "queryAll" if include_deleted else "query",
                object_type=plan.name,
                params={"q": soql},
                headers=headers,
            )
        page = page_from_body(response.content, plan)
        if page is not None:
            return page
        payload = self.http.decode_json(response, object_type=plan.name)
        try:
            return page_from_json(payload, plan)
        except ValueError as exc:
            raise self.unexpected(response, str(exc), plan.name) from None

    def deleted(self, object_type: str, start: int, end: int) -> DeletedLog:
        """``GET sobjects/{X}/deleted/?start=&end=`` (minute granularity)."""
        path = f"sobjects/{object_type}/deleted/"
        response = self.request(
            "GET",
            path,
            object_type=object_type,
            params={"start": _replication_date(start), "end": _replication_date(end)},
        )
        answer = self.http.decode_json(response, object_type=object_type)
        try:
            return _deleted_log(answer)
        except (TypeError, ValueError) as exc:
            raise self.unexpected(response, str(exc), object_type) from None


def _replication_date(ms: int) -> str:
    """``2024-05-01T12:00:00+00:00``: the replication calls ignore seconds anyway."""
    return format_ms(ms)[:19] + "+00:00"


def _deleted_log(answer: object) -> DeletedLog:
    if not isinstance(answer, dict) or not isinstance(
        answer.get("deletedRecords"), list
    ):
        msg = "the answer has no 'deletedRecords' list"
        raise ValueError(msg)  # noqa: TRY004 - reported as a bad answer
    pairs = []
    for item in answer["deletedRecords"]:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            msg = "a deleted record has no 'id'"
            raise ValueError(msg)  # noqa: TRY004
        pairs.append((item["id"], parse_datetime_ms(str(item.get("deletedDate")))))

    def when(key: str) -> int | None:
        value = answer.get(key)
        return parse_datetime_ms(value) if isinstance(value, str) and value else None

    return DeletedLog(
        deleted=tuple(pairs),
        earliest=when("earliestDateAvailable"),
        latest=when("latestDateCovered"),
    )
