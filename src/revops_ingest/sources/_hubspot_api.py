"""The HubSpot calls the source makes, over one :class:`HttpClient`, and its hooks.

- :func:`classify`: a 429 whose ``policyName`` is ``DAILY`` is the account's daily
  allocation used up: a :class:`~revops_ingest.exceptions.QuotaExceededError`,
  never retried. Any other 429 (``TEN_SECONDLY_ROLLING``, ``SECONDLY``, ...) is
  waited out and retried (``Retry-After`` if sent, else the retry policy's backoff).
- :meth:`HubSpotApi.observe`: ``X-HubSpot-RateLimit-Remaining`` and
  ``-Interval-Milliseconds`` tighten the pacer, so that the source slows down before
  HubSpot says 429; ``X-HubSpot-RateLimit-Daily`` and ``-Daily-Remaining`` (sent to
  private apps only) go into the sync's metrics, hence the audit row.
- Search calls also take a slot of their own pacer (5 per second by default), since
  the search endpoints have a limit of their own and send no rate-limit headers.

Every answer's shape is checked: an answer we cannot use is an
:class:`~revops_ingest.exceptions.UnexpectedResponseError` naming the request.
"""

from __future__ import annotations

import datetime as dt
import json
import typing

import attrs

from revops_ingest._http import Fail, Retry, parse_retry_after, vendor_error
from revops_ingest.exceptions import QuotaExceededError, UnexpectedResponseError


if typing.TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import requests

    from revops_ingest._http import HttpClient, RateLimiter, VendorSignal
    from revops_ingest._metrics import RequestMetrics


__all__ = ["HubSpotApi", "Page", "classify"]

_TOO_MANY = 429
_DAILY = "DAILY"

JSONObject: typing.TypeAlias = "dict[str, typing.Any]"


def _policy(body: bytes) -> tuple[str | None, str | None]:
    """``policyName`` and ``message`` of a 429 body."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None, None
    if not isinstance(payload, dict):
        return None, None
    policy, message = payload.get("policyName"), payload.get("message")
    return (
        policy if isinstance(policy, str) else None,
        message if isinstance(message, str) else None,
    )


def classify(response: requests.Response) -> VendorSignal | None:
    """The vendor hook: the daily limit fails the sync, the others are waited out."""
    if response.status_code != _TOO_MANY:
        return None
    policy, message = _policy(response.content)
    said = message or "You have reached your limit."
    if policy == _DAILY:
        return Fail(
            QuotaExceededError(
                f"the account's daily API limit is used up ({said})",
                vendor_code=_DAILY,
                hint="HubSpot resets the daily count at midnight in the account's "
                "time zone; run the sync again then, or buy the API limit increase",
            )
        )
    after = parse_retry_after(response.headers.get("Retry-After"), now=_now())
    return Retry(after=after, reason=f"429 {policy or 'RATE_LIMIT'}: {said}")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


@attrs.frozen
class Page:
    """One page of a list or search answer.

    Attributes:
        results: The records (JSON objects).
        after: The ``paging.next.after`` cursor, or ``None`` on the last page.
        total: The search answer's ``total``, if any.
    """

    results: list[JSONObject]
    after: str | None
    total: int | None = None


@attrs.define
class HubSpotApi:
    """The calls of one source.

    Attributes:
        http: The client (base URL ``https://api.hubapi.com``).
        pacer: The general pacer, also fed from the rate-limit headers.
        search_pacer: The search endpoints' own pacer.
    """

    http: HttpClient
    pacer: RateLimiter
    search_pacer: RateLimiter

    # -- hooks

    def observe(self, response: requests.Response, metrics: RequestMetrics) -> None:
        """The observe hook: pace from the headers, daily usage into *metrics*."""
        headers = response.headers
        daily = _header_int(headers, "X-HubSpot-RateLimit-Daily")
        left = _header_int(headers, "X-HubSpot-RateLimit-Daily-Remaining")
        if daily is not None and left is not None:
            metrics.quota_limit = daily
            metrics.quota_used = max(0, daily - left)
        remaining = _header_int(headers, "X-HubSpot-RateLimit-Remaining")
        interval = _header_int(headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
        if remaining is not None and interval:
            self.pacer.update_from_headers(remaining, interval / 1000)

    # -- plumbing

    def unexpected(
        self, response: requests.Response, detail: str, object_type: str | None
    ) -> UnexpectedResponseError:
        """The error for an answer of the wrong shape."""
        return self.http.unexpected(response, detail, object_type=object_type)

    def _object(
        self, response: requests.Response, object_type: str | None
    ) -> JSONObject:
        payload = self.http.decode_json(response, object_type=object_type)
        if not isinstance(payload, dict):
            raise self.unexpected(
                response, "the answer is not a JSON object", object_type
            )
        return payload

    def _results(
        self, response: requests.Response, payload: JSONObject, object_type: str | None
    ) -> list[JSONObject]:
        results = payload.get("results")
        if not isinstance(results, list) or not all(
            isinstance(r, dict) for r in results
        ):
            raise self.unexpected(
                response, "the answer has no 'results' list of objects", object_type
            )
        return results

    def _page(self, response: requests.Response, object_type: str | None) -> Page:
        payload = self._object(response, object_type)
        results = self._results(response, payload, object_type)
        paging = payload.get("paging")
        after: str | None = None
        if paging is not None:
            nxt = paging.get("next") if isinstance(paging, dict) else None
            value = nxt.get("after") if isinstance(nxt, dict) else None
            if nxt is not None and (
                not isinstance(value, (str, int)) or isinstance(value, bool)
            ):
                raise self.unexpected(
                    response, "'paging.next' has no 'after' cursor", object_type
                )
            after = str(value) if value is not None else None
        total = payload.get("total")
        return Page(results, after, total if isinstance(total, int) else None)

    # -- calls

    def properties(self, object_type: str) -> list[JSONObject]:
        """``GET /crm/v3/properties/{objectType}``."""
        response = self.http.request(
            "GET", f"/crm/v3/properties/{object_type}", object_type=object_type
        )
        payload = self._object(response, object_type)
        return self._results(response, payload, object_type)

    def list_page(
        self,
        object_type: str,
        *,
        properties: Sequence[str],
        after: str | None,
        archived: bool,
        limit: int,
    ) -> Page:
        """``GET /crm/v3/objects/{objectType}``: one page, by id."""
        params: dict[str, str | int] = {
            "limit": limit,
            "archived": str(archived).lower(),
        }
        if properties:
            params["properties"] = ",".join(properties)
        if after is not None:
            params["after"] = after
        response = self.http.request(
            "GET",
            f"/crm/v3/objects/{object_type}",
            params=params,
            object_type=object_type,
        )
        return self._page(response, object_type)

    def search_page(self, object_type: str, body: Mapping[str, typing.Any]) -> Page:
        """``POST /crm/v3/objects/{objectType}/search``: one page (paced)."""
        self.http.metrics.wait_seconds += self.search_pacer.acquire()
        response = self.http.request(
            "POST",
            f"/crm/v3/objects/{object_type}/search",
            json=dict(body),
            object_type=object_type,
            idempotent=True,  # a search changes nothing
        )
        return self._page(response, object_type)

    def batch_read(
        self, object_type: str, ids: Sequence[str], properties: Sequence[str]
    ) -> list[JSONObject]:
        """``POST /crm/v3/objects/{objectType}/batch/read`` (ids gone are left out)."""
        response = self.http.request(
            "POST",
            f"/crm/v3/objects/{object_type}/batch/read",
            json={
                "properties": list(properties),
                "propertiesWithHistory": [],
                "inputs": [{"id": i} for i in ids],
            },
            object_type=object_type,
            idempotent=True,
        )
        payload = self._object(response, object_type)
        return self._results(response, payload, object_type)

    def owners_page(self, *, after: str | None, archived: bool, limit: int) -> Page:
        """``GET /crm/v3/owners``."""
        params: dict[str, str | int] = {
            "limit": limit,
            "archived": str(archived).lower(),
        }
        if after is not None:
            params["after"] = after
        response = self.http.request(
            "GET", "/crm/v3/owners", params=params, object_type="owners"
        )
        return self._page(response, "owners")

    def pipelines(self, object_type: str) -> list[JSONObject]:
        """``GET /crm/v3/pipelines/{objectType}``."""
        response = self.http.request(
            "GET", f"/crm/v3/pipelines/{object_type}", object_type="pipelines"
        )
        payload = self._object(response, "pipelines")
        return self._results(response, payload, "pipelines")

    def legacy_page(
        self, *, offset: int | None, limit: int
    ) -> tuple[list[JSONObject], bool, int | None]:
        """``GET /engagements/v1/engagements/paged``: results, hasMore, offset."""
        params: dict[str, int] = {"limit": limit}
        if offset is not None:
            params["offset"] = offset
        response = self.http.request(
            "GET",
            "/engagements/v1/engagements/paged",
            params=params,
            object_type="engagements",
        )
        payload = self._object(response, "engagements")
        results = self._results(response, payload, "engagements")
        more = payload.get("hasMore")
        nxt = payload.get("offset")
        if not isinstance(more, bool) or (
            more and (not isinstance(nxt, int) or isinstance(nxt, bool))
        ):
            raise self.unexpected(
                response, "the answer has no 'hasMore' flag and 'offset'", "engagements"
            )
        return results, more, nxt if isinstance(nxt, int) else None

    def associations(
        self,
        from_type: str,
        to_type: str,
        inputs: Sequence[Mapping[str, str]],
        *,
        object_type: str,
    ) -> list[JSONObject]:
        """``POST /crm/v4/associations/{from}/{to}/batch/read``; 207 answers too."""
        response = self.http.request(
            "POST",
            f"/crm/v4/associations/{from_type}/{to_type}/batch/read",
            json={"inputs": [dict(i) for i in inputs]},
            object_type=object_type,
            idempotent=True,
        )
        payload = self._object(response, object_type)
        results = self._results(response, payload, object_type)
        for result in results:
            source = result.get("from")
            if not isinstance(source, dict) or not isinstance(result.get("to"), list):
                raise self.unexpected(
                    response,
                    "an association result has no 'from' and 'to'",
                    object_type,
                )
        if payload.get("status") not in (None, "COMPLETE"):
            _code, message = vendor_error(response.content)
            raise self.unexpected(
                response,
                f"the batch read ended {payload.get('status')!r}"
                + (f": {message}" if message else ""),
                object_type,
            )
        return results
