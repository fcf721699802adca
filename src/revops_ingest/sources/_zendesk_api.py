"""The Zendesk Support API calls the source makes, and the shape checks of their pages.

Two :class:`~revops_ingest.http.HttpClient` s share one session: ``export`` for the
incremental exports, paced by a :class:`~revops_ingest.http.RateLimiter` to
Zendesk's 10 requests per minute for those endpoints, and ``account`` for the
ordinary list endpoints, which count against the (much larger) account limit only.
Both retry 429 after ``Retry-After`` and 5xx with backoff.

:func:`observe` copies ``X-Rate-Limit`` / ``X-Rate-Limit-Remaining`` (the account's
per-minute limit) into the audit row's ``api_quota_limit`` / ``api_quota_used``.
"""

from __future__ import annotations

import typing

import attrs


if typing.TYPE_CHECKING:
    from collections.abc import Mapping

    import requests

    from revops_ingest._http import HttpClient
    from revops_ingest._metrics import RequestMetrics
    from revops_ingest.exceptions import UnexpectedResponseError


__all__ = [
    "CursorPage",
    "ListPage",
    "TimePage",
    "ZendeskApi",
    "observe",
]

SYSTEM = "Zendesk"
Item: typing.TypeAlias = "dict[str, typing.Any]"
METRIC_SET_KEY = "_metric_set"
"""Where a ticket's sideloaded metric set is put on the decoded ticket."""


def observe(response: requests.Response, metrics: RequestMetrics) -> None:
    """The observe hook: the account's per-minute limit and usage into *metrics*."""
    limit = response.headers.get("X-Rate-Limit")
    remaining = response.headers.get("X-Rate-Limit-Remaining")
    if limit is None or remaining is None:
        return
    try:
        allowed, left = int(limit), int(remaining)
    except ValueError:
        return
    metrics.quota_limit = allowed
    metrics.quota_used = max(0, allowed - left)


@attrs.frozen
class CursorPage:
    """One page of the cursor-based incremental ticket export.

    Attributes:
        items: The tickets, each with its metric set under ``_metric_set`` if one
            was sideloaded.
        after_cursor: Where the next page (or the next sync) starts.
        end_of_stream: Whether this page reaches the present (less the minute the
            export holds back).
    """

    items: list[Item]
    after_cursor: str
    end_of_stream: bool


@attrs.frozen
class TimePage:
    """One page of a time-based incremental export.

    Attributes:
        items: The records.
        end_time: The newest ``updated_at`` (Unix seconds) in the page: the next
            page's ``start_time``; ``None`` if Zendesk sent none.
        end_of_stream: Whether this page reaches the present.
    """

    items: list[Item]
    end_time: int | None
    end_of_stream: bool


@attrs.frozen
class ListPage:
    """One page of an ordinary list endpoint with cursor pagination.

    Attributes:
        items: The records.
        after_cursor: ``meta.after_cursor``, for the next page.
        has_more: ``meta.has_more``.
    """

    items: list[Item]
    after_cursor: str | None
    has_more: bool


def _records(payload: Mapping[str, typing.Any], key: str) -> list[Item]:
    items = payload.get(key)
    if not isinstance(items, list):
        msg = f"the page has no {key!r} list"
        raise ValueError(msg)  # noqa: TRY004 - reported as a bad answer
    for item in items:
        if not isinstance(item, dict):
            msg = f"the page's {key!r} are not all JSON objects"
            raise ValueError(msg)  # noqa: TRY004
        record_id = item.get("id")
        if not isinstance(record_id, int) or isinstance(record_id, bool):
            msg = f"an item of {key!r} has no integer 'id'"
            raise ValueError(msg)  # noqa: TRY004
    return items


def _flag(payload: Mapping[str, typing.Any], key: str) -> bool:
    value = payload.get(key)
    if not isinstance(value, bool):
        msg = f"the page has no boolean {key!r}"
        raise ValueError(msg)  # noqa: TRY004
    return value


def _attach_metric_sets(payload: Mapping[str, typing.Any], tickets: list[Item]) -> None:
    sets = payload.get("metric_sets")
    if sets is None:
        return
    if not isinstance(sets, list) or not all(isinstance(s, dict) for s in sets):
        msg = "the page's 'metric_sets' is not a list of objects"
        raise ValueError(msg)
    by_ticket = {s.get("ticket_id"): s for s in sets}
    for ticket in tickets:
        found = by_ticket.get(ticket["id"])
        if found is not None:
            ticket[METRIC_SET_KEY] = found


@attrs.define
class ZendeskApi:
    """The calls of one source, under ``/api/v2``.

    Attributes:
        export: The client for the incremental exports (paced).
        account: The client for the ordinary endpoints.
    """

    export: HttpClient
    account: HttpClient

    def _get(
        self,
        http: HttpClient,
        path: str,
        params: Mapping[str, typing.Any],
        object_type: str,
    ) -> tuple[requests.Response, dict[str, typing.Any]]:
        response = http.request("GET", path, params=params, object_type=object_type)
        payload = http.decode_json(response, object_type=object_type)
        if not isinstance(payload, dict):
            raise self.unexpected(
                http, response, "the answer is not a JSON object", object_type
            )
        return response, payload

    @staticmethod
    def unexpected(
        http: HttpClient,
        response: requests.Response,
        detail: str,
        object_type: str,
    ) -> UnexpectedResponseError:
        """The error for an answer of the wrong shape."""
        return http.unexpected(response, detail, object_type=object_type)

    def ticket_page(
        self,
        *,
        start_time: int | None = None,
        cursor: str | None = None,
        per_page: int,
        metric_sets: bool,
    ) -> CursorPage:
        """``GET /api/v2/incremental/tickets/cursor.json``, from a time or a cursor.

        Raises:
            UnexpectedResponseError: The answer is not such a page.
        """
        params: dict[str, typing.Any] = {"per_page": per_page}
        if cursor is not None:
            params["cursor"] = cursor
        else:
            params["start_time"] = start_time
        if metric_sets:
            params["include"] = "metric_sets"
        http = self.export
        response, payload = self._get(
            http, "/api/v2/incremental/tickets/cursor.json", params, "tickets"
        )
        try:
            tickets = _records(payload, "tickets")
            end = _flag(payload, "end_of_stream")
            after = payload.get("after_cursor")
            if not isinstance(after, str) or not after:
                msg = "the page has no 'after_cursor'"
                raise ValueError(msg)  # noqa: TRY301 - one report for every problem
            _attach_metric_sets(payload, tickets)
        except ValueError as exc:
            raise self.unexpected(http, response, str(exc), "tickets") from None
        return CursorPage(tickets, after, end)

    def time_page(self, resource: str, start_time: int) -> TimePage:
        """``GET /api/v2/incremental/{resource}.json?start_time=``.

        Raises:
            UnexpectedResponseError: The answer is not such a page.
        """
        http = self.export
        response, payload = self._get(
            http,
            f"/api/v2/incremental/{resource}.json",
            {"start_time": start_time},
            resource,
        )
        try:
            items = _records(payload, resource)
            end = _flag(payload, "end_of_stream")
            end_time = payload.get("end_time")
            if end_time is not None and (
                not isinstance(end_time, int) or isinstance(end_time, bool)
            ):
                msg = f"'end_time' is not a Unix time: {end_time!r}"
                raise ValueError(msg)  # noqa: TRY301
        except ValueError as exc:
            raise self.unexpected(http, response, str(exc), resource) from None
        return TimePage(items, end_time, end)

    def list_page(self, resource: str, *, after: str | None, size: int) -> ListPage:
        """``GET /api/v2/{resource}.json?page[size]=&page[after]=`` (cursor paging).

        Raises:
            UnexpectedResponseError: The answer is not such a page.
        """
        params: dict[str, typing.Any] = {"page[size]": size}
        if after is not None:
            params["page[after]"] = after
        http = self.account
        response, payload = self._get(
            http, f"/api/v2/{resource}.json", params, resource
        )
        try:
            items = _records(payload, resource)
            meta = payload.get("meta")
            if not isinstance(meta, dict):
                msg = "the page has no 'meta' object"
                raise ValueError(msg)  # noqa: TRY301, TRY004
            has_more = _flag(meta, "has_more")
            cursor = meta.get("after_cursor")
            if has_more and not (isinstance(cursor, str) and cursor):
                msg = "'meta.has_more' is true but there is no 'meta.after_cursor'"
                raise ValueError(msg)  # noqa: TRY301
        except ValueError as exc:
            raise self.unexpected(http, response, str(exc), resource) from None
        return ListPage(items, cursor if isinstance(cursor, str) else None, has_more)
