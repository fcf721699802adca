"""Zendesk Support's incremental exports and list endpoints on 127.0.0.1.

:class:`ZendeskEmulator` speaks the real protocol, so a Zendesk client works against
it unchanged (point its base URL at :attr:`~ZendeskEmulator.url`):

- ``GET /api/v2/incremental/tickets/cursor.json`` with ``start_time`` or
  ``cursor``, ``per_page`` (at most 1000), ``exclude_deleted`` and
  ``include=metric_sets``; pages ordered by ``(generated_timestamp, id)`` with
  ``after_cursor``/``after_url`` and ``end_of_stream``. The cursor is base64 of
  ``"<timestamp>.0||<id>|"``, as Zendesk's decode. Deleted tickets stay in the
  export with ``status: "deleted"``.
- ``GET /api/v2/incremental/{users,organizations}.json?start_time=``: pages of up to
  1000 records with ``updated_at >= start_time``, ordered by ``(updated_at, id)``,
  with ``count``, ``end_time`` (the page's newest ``updated_at``), ``next_page`` and
  ``end_of_stream``. The bound is inclusive, so a page that ends inside a second
  repeats that second's records next time; when more records share one second than
  a page holds, the answer is that second's first page again, with ``end_time`` equal
  to ``start_time`` and ``next_page`` pointing at the same URL, as Zendesk does.
- Both exports leave out what changed in the last minute (``export_lag``).
- ``GET /api/v2/{users,organizations,tickets}.json`` with cursor pagination
  (``page[size]`` at most 100, ``page[after]``; ``meta`` and ``links``).
- Basic auth ``{email}/token:{api_token}`` or a bearer token; 401
  ``{"error": "Couldn't authenticate you"}`` otherwise.
- At most ``export_limit_per_minute`` (10) export requests in any minute of the
  emulator's clock; more get 429 with ``Retry-After``. Every answer carries
  ``X-Rate-Limit`` and ``X-Rate-Limit-Remaining`` for the account limit.

The clock is the emulator's own: it stands still until :meth:`advance` moves it (or
follows *now*, plus what :meth:`advance` added). Tests change the data with
:meth:`create_ticket`, :meth:`update_ticket`, :meth:`system_update_ticket`,
:meth:`delete_ticket` and their user and organization counterparts.
"""

from __future__ import annotations

import base64
import binascii
import collections
import datetime as dt
import functools
import math
import re
import threading
import typing

from revops_ingest.testing._emulator import Emulator, Request, Response, route
from revops_ingest.testing._zendesk_data import (
    Record,
    ZendeskGenerator,
    epoch,
    iso,
)


if typing.TYPE_CHECKING:
    from collections.abc import Callable, Iterable


__all__ = ["ZendeskEmulator"]

P = typing.ParamSpec("P")

_UTC = dt.timezone.utc
_MAX_EXPORT_PAGE = 1000
_MAX_LIST_PAGE = 100
_CURSOR = re.compile(r"^(\d+)\.0\|\|(-?\d+)\|$")
_OBJECTS = ("tickets", "users", "organizations")


def _error(status: int, error: str, description: str, **headers: str) -> Response:
    return Response.json(
        {"error": error, "description": description}, status=status, headers=headers
    )


def _encode_cursor(stamp: int, record_id: int) -> str:
    return base64.b64encode(f"{stamp}.0||{record_id}|".encode()).decode("ascii")


def _decode_cursor(text: str) -> tuple[int, int] | None:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        return None
    match = _CURSOR.match(raw)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def _int_arg(request: Request, name: str) -> int | None:
    value = request.arg(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _api(
    handler: Callable[typing.Concatenate[ZendeskEmulator, Request, P], Response],
) -> Callable[typing.Concatenate[ZendeskEmulator, Request, P], Response]:
    """Check the credentials, count the call, add the account rate-limit headers."""

    @functools.wraps(handler)
    def guarded(
        self: ZendeskEmulator, request: Request, /, *args: P.args, **kwargs: P.kwargs
    ) -> Response:
        denied = self._authenticate(request)
        response = denied or handler(self, request, *args, **kwargs)
        return self._with_limits(response)

    return guarded


class ZendeskEmulator(Emulator):
    """Zendesk Support (incremental exports, list endpoints) on loopback.

    Use it as a context manager and point a client's base URL at :attr:`url`::

        with ZendeskEmulator(seed=1) as zd:
            source = ZendeskSource(
                base_url=zd.url, email=zd.email, api_token=zd.api_token
            )
            zd.update_ticket(ticket_id, status="solved")
            zd.advance(61)  # the exports leave out the last minute

    Args:
        seed: Seed of the data generator; the same seed and clock give the same data.
        organizations: Organizations to generate.
        users_per_organization: End users per organization (some on free mail).
        free_mail_users: End users on free mail without an organization.
        tickets: Tickets to generate, spread over the users.
        email: The agent whose API token is accepted.
        api_token: The API token accepted with *email*.
        oauth_token: The OAuth access token accepted as a bearer token.
        now: The clock the emulator's own clock starts from (aware datetimes); by
            default the real time when the emulator is made, standing still.
        export_limit_per_minute: Export requests allowed in any 60 s of the
            emulator's clock; ``None`` for no limit.
        account_limit_per_minute: The account limit reported in ``X-Rate-Limit``.
        export_lag: Seconds before the request that the exports leave out.
        export_page_size: Records per time-based export page.
        host: The interface to listen on.
        port: The port to listen on; 0 picks a free one.

    Attributes:
        records: Object name (``tickets``, ``users``, ``organizations``) -> id ->
            record, as the API sends it.
        metric_sets: Ticket id -> its metric set.
        export_requests: Export requests answered (429s included).
        throttled: Export requests answered with 429.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        organizations: int = 8,
        users_per_organization: int = 4,
        free_mail_users: int = 4,
        tickets: int = 60,
        email: str = "admin@acme.test",
        api_token: str = "zd-api-token",  # noqa: S107 - a fixture value
        oauth_token: str = "zd-oauth-token",  # noqa: S107 - a fixture value
        now: Callable[[], dt.datetime] | None = None,
        export_limit_per_minute: int | None = 10,
        account_limit_per_minute: int = 700,
        export_lag: int = 60,
        export_page_size: int = _MAX_EXPORT_PAGE,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.email = email
        self.api_token = api_token
        self.oauth_token = oauth_token
        self.export_limit_per_minute = export_limit_per_minute
        self.account_limit_per_minute = account_limit_per_minute
        self.export_lag = export_lag
        self.export_page_size = export_page_size
        self.export_requests = 0
        self.throttled = 0
        started = dt.datetime.now(_UTC).replace(microsecond=0)
        self._base: Callable[[], dt.datetime] = now or (lambda: started)
        self._offset = 0.0
        self._lock = threading.RLock()
        self._export_calls: collections.deque[float] = collections.deque()
        self._account_calls: collections.deque[float] = collections.deque()
        self._generator = ZendeskGenerator.seeded(seed)
        self.records: dict[str, dict[int, Record]] = {name: {} for name in _OBJECTS}
        self.metric_sets: dict[int, Record] = {}
        self._populate(organizations, users_per_organization, free_mail_users, tickets)

    # ------------------------------------------------------------ clock

    def now(self) -> dt.datetime:
        """The emulator's current time."""
        return self._base() + dt.timedelta(seconds=self._offset)

    def epoch(self) -> float:
        """The emulator's current time in Unix seconds (a clock for pacers)."""
        return self.now().timestamp()

    def _second(self) -> int:
        return math.floor(self.epoch())

    def advance(self, seconds: float) -> None:
        """Move the emulator's clock on by *seconds* (a sleep for pacers)."""
        with self._lock:
            self._offset += seconds

    # ------------------------------------------------------------ data

    def _populate(
        self, organizations: int, per_organization: int, free_mail: int, tickets: int
    ) -> None:
        gen, now = self._generator, self._second()
        users: list[Record] = []
        for _ in range(organizations):
            org = gen.organization(now)
            self.records["organizations"][org["id"]] = org
            # Every fourth member of an organization writes from free mail.
            users.extend(
                gen.user(now, org, free_mail=n % 4 == 3)  # noqa: PLR2004
                for n in range(per_organization)
            )
        users.extend(gen.user(now, None, free_mail=True) for _ in range(free_mail))
        for user in users:
            self.records["users"][user["id"]] = user
        for n in range(tickets if users else 0):
            ticket, metrics = gen.ticket(now, users[(n * 7) % len(users)])
            self.records["tickets"][ticket["id"]] = ticket
            self.metric_sets[ticket["id"]] = metrics

    def _record(self, kind: str, record_id: int) -> Record:
        try:
            return self.records[kind][record_id]
        except KeyError:
            msg = f"no {kind[:-1]} {record_id}"
            raise KeyError(msg) from None

    def create_organization(self, **fields: typing.Any) -> int:
        """Create an organization now; return its id."""
        with self._lock:
            now = self._second()
            org = self._generator.organization(
                now, created_at=iso(now), updated_at=iso(now), **fields
            )
            self.records["organizations"][org["id"]] = org
            return int(org["id"])

    def update_organization(self, org_id: int, **fields: typing.Any) -> None:
        """Change an organization now (``updated_at`` moves)."""
        with self._lock:
            org = self._record("organizations", org_id)
            org.update(fields)
            org["updated_at"] = iso(self._second())

    def delete_organization(self, org_id: int) -> None:
        """Delete an organization: it stays in the export with ``deleted_at``."""
        self.update_organization(org_id, deleted_at=iso(self._second()))

    def create_user(
        self,
        organization_id: int | None = None,
        *,
        free_mail: bool = False,
        **fields: typing.Any,
    ) -> int:
        """Create an end user now (on the organization's domain); return its id."""
        with self._lock:
            now = self._second()
            org = (
                self._record("organizations", organization_id)
                if organization_id is not None
                else None
            )
            user = self._generator.user(
                now,
                org,
                free_mail=free_mail,
                created_at=iso(now),
                updated_at=iso(now),
                **fields,
            )
            self.records["users"][user["id"]] = user
            return int(user["id"])

    def create_users(self, count: int, organization_id: int | None = None) -> list[int]:
        """Create *count* users in the current second (an import); return their ids."""
        return [self.create_user(organization_id) for _ in range(count)]

    def update_user(self, user_id: int, **fields: typing.Any) -> None:
        """Change a user now (``updated_at`` moves)."""
        with self._lock:
            user = self._record("users", user_id)
            user.update(fields)
            user["updated_at"] = iso(self._second())

    def delete_user(self, user_id: int) -> None:
        """Delete a user: it stays in the export with ``active: false``."""
        self.update_user(user_id, active=False)

    def create_ticket(self, requester_id: int, **fields: typing.Any) -> int:
        """Create a ticket of *requester_id* now; return its id."""
        with self._lock:
            now = self._second()
            requester = self._record("users", requester_id)
            ticket, _ = self._generator.ticket(now, requester, created=now)
            ticket.update(
                status="new",
                created_at=iso(now),
                updated_at=iso(now),
                generated_timestamp=now,
            )
            ticket.update(fields)
            self.records["tickets"][ticket["id"]] = ticket
            self.metric_sets[ticket["id"]] = self._generator.metric_set(ticket)
            return int(ticket["id"])

    def update_ticket(self, ticket_id: int, **fields: typing.Any) -> None:
        """Change a ticket now, as an agent would (``updated_at`` moves)."""
        with self._lock:
            ticket = self._record("tickets", ticket_id)
            now = self._second()
            ticket.update(fields)
            ticket["updated_at"] = iso(now)
            ticket["generated_timestamp"] = now
            self.metric_sets[ticket_id] = self._generator.metric_set(ticket)

    def system_update_ticket(self, ticket_id: int, **fields: typing.Any) -> None:
        """Change a ticket as Zendesk itself does (an SLA or a metric recalculated).

        ``generated_timestamp`` moves, ``updated_at`` does not.
        """
        with self._lock:
            ticket = self._record("tickets", ticket_id)
            ticket.update(fields)
            ticket["generated_timestamp"] = self._second()

    def delete_ticket(self, ticket_id: int) -> None:
        """Delete a ticket: it stays in the export with ``status: "deleted"``."""
        self.update_ticket(ticket_id, status="deleted")

    def live(self, kind: str) -> dict[int, Record]:
        """The records of *kind* that are not deleted."""
        with self._lock:
            records = self.records[kind]
            if kind == "tickets":
                return {i: r for i, r in records.items() if r["status"] != "deleted"}
            if kind == "users":
                return {i: r for i, r in records.items() if r["active"]}
            return {i: r for i, r in records.items() if r["deleted_at"] is None}

    # ------------------------------------------------------------ protocol

    def _authenticate(self, request: Request) -> Response | None:
        scheme, _, value = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and value == self.oauth_token:
            return None
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode()
            except (binascii.Error, UnicodeError):
                decoded = ""
            if decoded == f"{self.email}/token:{self.api_token}":
                return None
        return Response.json({"error": "Couldn't authenticate you"}, status=401)

    def _with_limits(self, response: Response) -> Response:
        now = self.epoch()
        with self._lock:
            calls = self._account_calls
            calls.append(now)
            while calls and calls[0] <= now - 60:
                calls.popleft()
            remaining = max(0, self.account_limit_per_minute - len(calls))
        headers = {
            **response.headers,
            "X-Rate-Limit": str(self.account_limit_per_minute),
            "X-Rate-Limit-Remaining": str(remaining),
        }
        return Response(response.status, response.body, headers)

    def _throttle(self) -> Response | None:
        """429 past the export limit; else count the call."""
        limit = self.export_limit_per_minute
        now = self.epoch()
        with self._lock:
            self.export_requests += 1
            calls = self._export_calls
            while calls and calls[0] <= now - 60:
                calls.popleft()
            if limit is not None and len(calls) >= limit:
                self.throttled += 1
                wait = max(1, math.ceil(calls[0] + 60 - now))
                return _error(
                    429,
                    "APIRateLimitExceeded",
                    "Number of allowed incremental export API requests per minute "
                    "exceeded",
                    **{"Retry-After": str(wait)},
                )
            calls.append(now)
        return None

    def _origin(self, request: Request) -> str:
        return f"http://{request.headers.get('Host') or f'{self.host}:{self.port}'}"

    def _horizon(self) -> int:
        return self._second() - self.export_lag

    @route("GET", "/api/v2/incremental/tickets/cursor.json")
    @_api
    def ticket_export(self, request: Request) -> Response:
        """The cursor-based incremental ticket export."""
        throttled = self._throttle()
        if throttled is not None:
            return throttled
        per_page = _int_arg(request, "per_page") or _MAX_EXPORT_PAGE
        cursor = request.arg("cursor")
        if cursor is not None:
            position = _decode_cursor(cursor)
            if position is None:
                return _error(400, "InvalidPaginationParameter", "invalid cursor")
        else:
            start = _int_arg(request, "start_time")
            if start is None or start < 0:
                return _error(400, "InvalidValue", "start_time is required")
            position = (start, 0)
        exclude_deleted = request.arg("exclude_deleted") == "true"
        sideload = "metric_sets" in (request.arg("include") or "").split(",")
        horizon = self._horizon()
        with self._lock:
            candidates = sorted(
                (
                    (t["generated_timestamp"], t["id"], t)
                    for t in self.records["tickets"].values()
                    if (t["generated_timestamp"], t["id"]) > position
                    and t["generated_timestamp"] <= horizon
                    and not (exclude_deleted and t["status"] == "deleted")
                ),
                key=lambda entry: (entry[0], entry[1]),
            )
            page = candidates[: max(1, min(per_page, _MAX_EXPORT_PAGE))]
            tickets = [dict(t) for _, _, t in page]
            sets = [dict(self.metric_sets[t["id"]]) for t in tickets if sideload]
        last = (page[-1][0], page[-1][1]) if page else position
        after = _encode_cursor(*last)
        body: dict[str, typing.Any] = {
            "tickets": tickets,
            "after_url": f"{self._origin(request)}"
            f"/api/v2/incremental/tickets/cursor.json?cursor={after}",
            "after_cursor": after,
            "before_url": None,
            "before_cursor": None,
            "end_of_stream": len(candidates) <= len(page),
        }
        if sideload:
            body["metric_sets"] = sets
        return Response.json(body)

    @route("GET", "/api/v2/incremental/{resource}.json")
    @_api
    def time_export(self, request: Request, resource: str) -> Response:
        """The time-based incremental export of users or organizations."""
        if resource not in ("users", "organizations"):
            return _error(404, "InvalidEndpoint", "Not found")
        throttled = self._throttle()
        if throttled is not None:
            return throttled
        start = _int_arg(request, "start_time")
        if start is None or start < 0:
            return _error(400, "InvalidValue", "start_time is required")
        horizon = self._horizon()
        with self._lock:
            candidates = sorted(
                (
                    (epoch(r["updated_at"]), r["id"], r)
                    for r in self.records[resource].values()
                    if start <= epoch(r["updated_at"]) <= horizon
                ),
                key=lambda entry: (entry[0], entry[1]),
            )
            page = candidates[: self.export_page_size]
            items = [dict(r) for _, _, r in page]
        end_time = page[-1][0] if page else start
        return Response.json(
            {
                resource: items,
                "count": len(items),
                "end_time": end_time,
                "end_of_stream": len(candidates) <= len(page),
                "next_page": f"{self._origin(request)}/api/v2/incremental/"
                f"{resource}.json?start_time={end_time}",
            }
        )

    @route("GET", "/api/v2/{resource}.json")
    @_api
    def list_records(self, request: Request, resource: str) -> Response:
        """A list endpoint with cursor pagination (``page[size]``, ``page[after]``)."""
        if resource not in _OBJECTS:
            return _error(404, "InvalidEndpoint", "Not found")
        size = _int_arg(request, "page[size]") or _MAX_LIST_PAGE
        if not 1 <= size <= _MAX_LIST_PAGE:
            return _error(400, "InvalidPaginationParameter", "page[size] is too big")
        after = request.arg("page[after]")
        last_id = 0
        if after:
            position = _decode_cursor(after)
            if position is None:
                return _error(400, "InvalidPaginationParameter", "invalid cursor")
            last_id = position[1]
        with self._lock:
            ids = sorted(i for i in self.records[resource] if i > last_id)
            page = [dict(self.records[resource][i]) for i in ids[:size]]
        has_more = len(ids) > size
        cursor = _encode_cursor(0, page[-1]["id"]) if page else None
        origin = f"{self._origin(request)}/api/v2/{resource}.json?page[size]={size}"
        return Response.json(
            {
                resource: page,
                "meta": {
                    "has_more": has_more,
                    "after_cursor": cursor,
                    "before_cursor": None,
                },
                "links": {
                    "next": f"{origin}&page[after]={cursor}" if has_more else None,
                    "prev": None,
                },
            }
        )

    def stamps(self, kind: str) -> Iterable[tuple[int, int]]:
        """``(id, stamp)`` of every record (``generated_timestamp``, ``updated_at``)."""
        with self._lock:
            for record_id, record in self.records[kind].items():
                if kind == "tickets":
                    yield record_id, int(record["generated_timestamp"])
                else:
                    yield record_id, epoch(record["updated_at"])
