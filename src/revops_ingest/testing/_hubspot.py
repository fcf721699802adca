"""HubSpot's CRM v3/v4, owners, pipelines, legacy engagements and OAuth on 127.0.0.1.

:class:`HubSpotEmulator` speaks the real protocol, so a HubSpot client works
against it unchanged (point its base URL at :attr:`HubSpotEmulator.url`):

- auth: a private-app token (``Authorization: Bearer pat-...``) and OAuth access
  tokens from ``POST /oauth/v1/token`` (``refresh_token`` grant, ``expires_in``
  1800, optionally rotated refresh tokens); an expired OAuth token gets 401
  ``EXPIRED_AUTHENTICATION``, an unknown one 401 ``INVALID_AUTHENTICATION``;
- ``GET /crm/v3/properties/{objectType}``;
- ``GET /crm/v3/objects/{objectType}``: ``limit`` (max 100), opaque ``after``
  cursors, ``properties``, ``archived=true`` (only archived records, with
  ``archivedAt``);
- ``POST /crm/v3/objects/{objectType}/search``: filter groups (ORed) of filters
  (ANDed) with every documented operator, one sort, ``limit`` (max 200), numeric
  ``after``, 400 past 10,000 results, a request body of at most 3,000 characters,
  no archived records, an optional indexing delay, and ties in an order that is
  *not* the id order;
- ``POST /crm/v3/objects/{objectType}/batch/read`` (at most 100 ids);
- ``GET /crm/v3/owners``, ``GET /crm/v3/pipelines/deals``;
- ``GET /engagements/v1/engagements/paged`` (``offset``/``hasMore``, max 250);
- ``POST /crm/v4/associations/{from}/{to}/batch/read`` (per-id paging);
- ``X-HubSpot-RateLimit-*`` headers (the daily ones only for private-app calls,
  none on search), 429 ``TEN_SECONDLY_ROLLING`` and ``DAILY`` with HubSpot's body.

Every property value is a string on the wire. Data are seeded (see
:mod:`~revops_ingest.testing._hubspot_data`) and changed by tests with
:meth:`~HubSpotEmulator.create`, :meth:`~HubSpotEmulator.update`,
:meth:`~HubSpotEmulator.archive` and friends; the clock is injectable.
"""

from __future__ import annotations

import base64
import binascii
import collections
import datetime as dt
import functools
import hashlib
import json
import math
import secrets
import threading
import time
import typing
import uuid

import attrs

from revops_ingest.testing._emulator import Emulator, Fault, Request, Response, route
from revops_ingest.testing._hubspot_data import (
    ASSOCIATION_TYPES,
    CREATED_PROPERTY,
    DEFAULT_PIPELINES,
    ENGAGEMENT_TYPES,
    MODIFIED_PROPERTY,
    Generator,
    PropertyDef,
    Record,
    default_properties,
    format_datetime,
    format_epoch_ms,
)


if typing.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence


__all__ = ["HubSpotEmulator"]

P = typing.ParamSpec("P")

_UTC = dt.timezone.utc
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)
_LIST_MAX = 100
_SEARCH_MAX = 200
_BATCH_READ_MAX = 100
_ASSOC_INPUTS_MAX = 1000
_LEGACY_MAX = 250
_OWNERS_MAX = 500
_BODY_MAX = 3000
_GROUPS_MAX, _FILTERS_PER_GROUP, _FILTERS_MAX = 5, 6, 18
_INTERVAL_MS = 10_000
_LEGACY_TYPES = {
    "calls": "CALL",
    "emails": "EMAIL",
    "meetings": "MEETING",
    "notes": "NOTE",
    "tasks": "TASK",
}
_DEFAULT_LIST_PROPERTIES = {
    "deals": ("dealname", "amount", "dealstage", "pipeline", "closedate", "createdate"),
    "companies": ("name", "domain", "createdate"),
    "contacts": ("firstname", "lastname", "email", "createdate"),
}


class _Invalid(Exception):  # noqa: N818 - control flow inside the emulator
    """A request HubSpot answers with 400 VALIDATION_ERROR."""


def _error(
    status: int,
    category: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    **extra: typing.Any,
) -> Response:
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }
    return Response.json(body, status=status, headers=headers)


def _rate_limited(policy: str) -> Response:
    message = (
        "You have reached your daily limit."
        if policy == "DAILY"
        else "You have reached your ten_secondly_rolling limit."
    )
    return Response.json(
        {
            "status": "error",
            "message": message,
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()),
            "policyName": policy,
            "requestId": str(uuid.uuid4()),
        },
        status=429,
    )


def _ms(value: dt.datetime) -> int:
    return (value.astimezone(_UTC) - _EPOCH) // dt.timedelta(milliseconds=1)


def _parse_instant(text: str) -> int:
    """Epoch ms of an epoch-ms string or an ISO 8601 datetime or date."""
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=_UTC)
    return _ms(value)


def _cursor(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _uncursor(value: str) -> str:
    try:
        return base64.b64decode(value.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        msg = f"invalid after cursor {value!r}"
        raise _Invalid(msg) from exc


def _api(
    handler: Callable[typing.Concatenate[HubSpotEmulator, Request, P], Response],
) -> Callable[typing.Concatenate[HubSpotEmulator, Request, P], Response]:
    """Check the token and the limits, count the call, add the rate-limit headers."""

    @functools.wraps(handler)
    def guarded(
        self: HubSpotEmulator, request: Request, /, *args: P.args, **kwargs: P.kwargs
    ) -> Response:
        search = request.path.endswith("/search")
        denied, private = self._admit(request, search=search)
        if denied is not None:
            return denied
        try:
            response = handler(self, request, *args, **kwargs)
        except _Invalid as exc:
            response = _error(400, "VALIDATION_ERROR", str(exc), errors=[])
        return self._with_headers(response, private=private, search=search)

    return guarded


@attrs.define
class _Token:
    issued: dt.datetime
    calls: int = 0
    revoked: bool = False


class HubSpotEmulator(Emulator):
    """HubSpot's CRM APIs on loopback, with seeded data and an edit API.

    Use it as a context manager and point a client's base URL at :attr:`url`::

        with HubSpotEmulator(seed=1, now=clock) as hs:
            deal = hs.create("deals", dealname="Big one", amount="5000")
            hs.update("deals", deal, dealstage="closedwon")
            hs.archive("deals", deal)
            hs.inject(hs.rate_limit_fault("TEN_SECONDLY_ROLLING", times=2))

    Args:
        seed: Seed of the data generator.
        companies: Companies to generate (each with 2 contacts, 2 deals and one
            engagement of each type on average).
        owners: Owners to generate (one more is archived).
        private_app_token: The static token private-app calls carry.
        client_id: The OAuth app's client id.
        client_secret: The OAuth app's client secret.
        refresh_token: The refresh token the token endpoint accepts.
        rotate_refresh_token: Whether each refresh returns a new refresh token and
            invalidates the old one.
        token_ttl_calls: If set, an OAuth access token expires after this many
            API calls (401 ``EXPIRED_AUTHENTICATION``).
        expires_in: Seconds an OAuth access token lives (by the clock).
        daily_limit: API calls a day; past it, 429 ``DAILY``.
        ten_second_limit: Calls per rolling ten seconds (by *rate_clock*); past it
            429 ``TEN_SECONDLY_ROLLING``. Also ``X-HubSpot-RateLimit-Max``.
        search_per_second: If set, search calls per second (by *rate_clock*).
        search_max_results: Results a search can page through (10,000).
        index_delay: How long after a change a record shows up in search.
        association_page_size: Associations per id in one v4 batch-read answer.
        now: The emulator's clock (aware datetimes).
        rate_clock: Monotonic seconds for the rate limits.
        host: The interface to listen on.
        port: The port to listen on; 0 picks a free one.

    Attributes:
        records: Object type -> id -> ``Record``.
        properties: Object type -> property definitions.
        owners: Owner id -> owner JSON (``archived`` ones included).
        api_calls: Calls counted towards the daily limit.
        access_tokens_issued: OAuth access tokens issued.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        companies: int = 10,
        owners: int = 4,
        private_app_token: str = "pat-na1-00000000-test",  # noqa: S107 - fixture
        client_id: str = "hs-client-id",
        client_secret: str = "hs-client-secret",  # noqa: S107 - a fixture value
        refresh_token: str = "hs-refresh-token",  # noqa: S107 - a fixture value
        rotate_refresh_token: bool = False,
        token_ttl_calls: int | None = None,
        expires_in: int = 1800,
        daily_limit: int = 1_000_000,
        ten_second_limit: int | None = None,
        search_per_second: int | None = None,
        search_max_results: int = 10_000,
        index_delay: dt.timedelta = dt.timedelta(0),
        association_page_size: int = 500,
        now: Callable[[], dt.datetime] | None = None,
        rate_clock: Callable[[], float] = time.monotonic,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.private_app_token = private_app_token
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.rotate_refresh_token = rotate_refresh_token
        self.token_ttl_calls = token_ttl_calls
        self.expires_in = expires_in
        self.daily_limit = daily_limit
        self.ten_second_limit = ten_second_limit
        self.search_per_second = search_per_second
        self.search_max_results = search_max_results
        self.index_delay = index_delay
        self.association_page_size = association_page_size
        self.api_calls = 0
        self.access_tokens_issued = 0
        self._clock = now or (lambda: dt.datetime.now(_UTC))
        self._rate_clock = rate_clock
        self._lock = threading.RLock()
        self._generator = Generator.seeded(seed)
        self._salt = str(seed)
        self._next_id = 1000
        self._tokens: dict[str, _Token] = {}
        self._recent_calls: collections.deque[float] = collections.deque()
        self._recent_searches: collections.deque[float] = collections.deque()
        self.properties: dict[str, list[PropertyDef]] = default_properties()
        self.records: dict[str, dict[str, Record]] = {n: {} for n in self.properties}
        self.owners: dict[str, dict[str, typing.Any]] = {}
        # (from, to) -> from id -> to id -> type ids
        self._associations: dict[tuple[str, str], dict[str, dict[str, list[int]]]] = (
            collections.defaultdict(dict)
        )
        self._populate(companies=companies, owners=owners)

    # ------------------------------------------------------------ addresses

    @property
    def token_url(self) -> str:
        """The OAuth token endpoint, ``{url}/oauth/v1/token``."""
        return f"{self.url}/oauth/v1/token"

    # ------------------------------------------------------------ clock & ids

    def _now(self) -> dt.datetime:
        value = self._clock()
        if value.tzinfo is None:
            msg = "the emulator's clock must return aware datetimes"
            raise ValueError(msg)
        # HubSpot keeps milliseconds.
        value = value.astimezone(_UTC)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)

    def _new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def _props(self, object_type: str) -> dict[str, PropertyDef]:
        if object_type not in self.properties:
            msg = (
                f"unknown object type {object_type!r}; known: {sorted(self.properties)}"
            )
            raise KeyError(msg)
        return {p.name: p for p in self.properties[object_type]}

    def _format(self, spec: PropertyDef | None, value: typing.Any) -> str | None:  # noqa: PLR0911 - one form per value kind
        """A property value as HubSpot stores it: a string."""
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                msg = "datetimes must be aware"
                raise ValueError(msg)
            if spec is not None and spec.epoch_ms:
                return format_epoch_ms(value)
            return format_datetime(value)
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    def _stamp(self, record: Record, object_type: str, when: dt.datetime) -> None:
        record.updated = when
        record.properties[MODIFIED_PROPERTY[object_type]] = format_datetime(when)

    # ------------------------------------------------------------ data API

    def create(
        self,
        object_type: str,
        *,
        stamp: dt.datetime | None = None,
        **properties: typing.Any,
    ) -> str:
        """Create a record now (or modified at *stamp*) and return its id.

        Property values may be strings or Python values (numbers, bools, aware
        datetimes, dates), stored as HubSpot's strings.
        """
        specs = self._props(object_type)
        with self._lock:
            when = stamp.astimezone(_UTC) if stamp is not None else self._now()
            record_id = self._new_id()
            values: dict[str, str | None] = dict.fromkeys(specs)
            for name, value in properties.items():
                if name not in specs:
                    msg = f"{object_type} has no property {name!r}"
                    raise KeyError(msg)
                values[name] = self._format(specs[name], value)
            values["hs_object_id"] = record_id
            values[CREATED_PROPERTY[object_type]] = format_datetime(when)
            record = Record(record_id, values, when, when)
            self._stamp(record, object_type, when)
            self.records[object_type][record_id] = record
            return record_id

    def update(
        self,
        object_type: str,
        record_id: str,
        *,
        stamp: dt.datetime | None = None,
        **properties: typing.Any,
    ) -> None:
        """Change properties now; the last-modified property moves (to *stamp*)."""
        specs = self._props(object_type)
        with self._lock:
            old = self.records[object_type][record_id]
            record = attrs.evolve(old, properties=dict(old.properties))
            for name, value in properties.items():
                if name not in specs:
                    msg = f"{object_type} has no property {name!r}"
                    raise KeyError(msg)
                record.properties[name] = self._format(specs[name], value)
            when = stamp.astimezone(_UTC) if stamp is not None else self._now()
            self._stamp(record, object_type, when)
            self.records[object_type][record_id] = record

    def archive(self, object_type: str, record_id: str) -> None:
        """Archive (delete) a record now: gone from lists and search, in archived."""
        with self._lock:
            old = self.records[object_type][record_id]
            if old.archived:
                msg = f"{object_type} {record_id} is archived already"
                raise ValueError(msg)
            now = self._now()
            record = attrs.evolve(
                old, properties=dict(old.properties), archived=True, archived_at=now
            )
            self._stamp(record, object_type, now)
            self.records[object_type][record_id] = record

    def restore(self, object_type: str, record_id: str) -> None:
        """Restore an archived record now (its last-modified time moves)."""
        with self._lock:
            old = self.records[object_type][record_id]
            record = attrs.evolve(
                old, properties=dict(old.properties), archived=False, archived_at=None
            )
            self._stamp(record, object_type, self._now())
            self.records[object_type][record_id] = record

    def set_modified(
        self, object_type: str, ids: Iterable[str], stamp: dt.datetime
    ) -> None:
        """Give the records *ids* the same last-modified time (a bulk import)."""
        with self._lock:
            for record_id in ids:
                old = self.records[object_type][record_id]
                record = attrs.evolve(old, properties=dict(old.properties))
                self._stamp(record, object_type, stamp.astimezone(_UTC))
                self.records[object_type][record_id] = record

    def generate(
        self, object_type: str, n: int, *, stamp: dt.datetime | None = None
    ) -> list[str]:
        """Add *n* realistic records, created and last modified now (or at *stamp*).

        They are associated with existing records as the seeded ones are.
        """
        self._props(object_type)
        with self._lock:
            return self._generate(object_type, n, stamp or self._now())

    def add_property(
        self,
        object_type: str,
        name: str,
        type: str,  # noqa: A002 - the properties API's attribute
        field_type: str = "text",
    ) -> None:
        """Add a property from now on; existing records hold null."""
        with self._lock:
            if name in self._props(object_type):
                msg = f"{object_type} has a property {name!r} already"
                raise ValueError(msg)
            self.properties[object_type].append(PropertyDef(name, type, field_type))
            for record in self.records[object_type].values():
                record.properties.setdefault(name, None)

    def associate(
        self,
        from_type: str,
        from_id: str,
        to_type: str,
        to_id: str,
        *,
        primary: bool = False,
    ) -> None:
        """Associate two records (both directions), with HubSpot's type ids."""
        with self._lock:
            for a, a_id, b, b_id in (
                (from_type, from_id, to_type, to_id),
                (to_type, to_id, from_type, from_id),
            ):
                unlabeled, primary_id = ASSOCIATION_TYPES.get((a, b), (0, None))
                types = [unlabeled]
                if primary and primary_id is not None and a == from_type:
                    types.insert(0, primary_id)
                known = self._associations[(a, b)].setdefault(a_id, {})
                merged = sorted(set(known.get(b_id, [])) | set(types))
                known[b_id] = merged

    def unassociate(
        self, from_type: str, from_id: str, to_type: str, to_id: str
    ) -> None:
        """Remove every association between two records."""
        with self._lock:
            self._associations[(from_type, to_type)].get(from_id, {}).pop(to_id, None)
            self._associations[(to_type, from_type)].get(to_id, {}).pop(from_id, None)

    def associations(self, from_type: str, to_type: str) -> set[tuple[str, str, int]]:
        """Every ``(from id, to id, type id)`` of live records, for assertions."""
        with self._lock:
            live_from = {
                i for i, r in self.records[from_type].items() if not r.archived
            }
            return {
                (a, b, t)
                for a, targets in self._associations[(from_type, to_type)].items()
                if a in live_from
                for b, types in targets.items()
                for t in types
            }

    def archive_owner(self, owner_id: str) -> None:
        """Deactivate an owner: only ``archived=true`` lists it."""
        with self._lock:
            owner = self.owners[owner_id]
            owner["archived"] = True
            owner["updatedAt"] = format_datetime(self._now())

    def expire_tokens(self) -> None:
        """Expire every OAuth access token issued so far."""
        with self._lock:
            for token in self._tokens.values():
                token.revoked = True

    def exhaust_daily_quota(self) -> None:
        """Use up the daily limit: every call gets 429 ``DAILY``."""
        with self._lock:
            self.api_calls = max(self.api_calls, self.daily_limit)

    def issue_access_token(self) -> str:
        """A fresh OAuth access token, without a round trip."""
        with self._lock:
            return self._new_token()

    def live(self, object_type: str) -> dict[str, Record]:
        """The records that are not archived."""
        with self._lock:
            return {
                i: r for i, r in self.records[object_type].items() if not r.archived
            }

    @staticmethod
    def rate_limit_fault(
        policy: str = "TEN_SECONDLY_ROLLING",
        *,
        method: str | None = None,
        path: str | None = None,
        skip: int = 0,
        times: int | None = 1,
        retry_after: float | None = None,
    ) -> Fault:
        """A :class:`Fault` answering 429 with HubSpot's body for *policy*."""
        response = _rate_limited(policy)
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        return Fault.status(
            429,
            json.loads(response.body),
            headers=headers,
            method=method,
            path=path,
            skip=skip,
            times=times,
        )

    @staticmethod
    def error_fault(
        status: int,
        category: str,
        message: str,
        *,
        method: str | None = None,
        path: str | None = None,
        skip: int = 0,
        times: int | None = 1,
    ) -> Fault:
        """A :class:`Fault` answering with HubSpot's error body."""
        return Fault.status(
            status,
            {"status": "error", "message": message, "category": category},
            method=method,
            path=path,
            skip=skip,
            times=times,
        )

    # ------------------------------------------------------------ generation

    def _populate(self, *, companies: int, owners: int) -> None:
        gen = self._generator
        now = self._now()
        for index in range(owners + 1):
            owner_id = str(41_629_700 + index)
            owner = gen.owner(index, now - dt.timedelta(days=400 - index))
            owner["id"] = owner_id
            self.owners[owner_id] = owner
        self.archive_owner(str(41_629_700 + owners))
        self._generate("companies", companies, None)
        self._generate("contacts", companies * 2, None)
        self._generate("deals", companies * 2, None)
        for kind in ENGAGEMENT_TYPES:
            self._generate(kind, companies, None)

    def _owner_ids(self) -> list[str]:
        return [i for i, o in self.owners.items() if not o["archived"]]

    def _generate(
        self, object_type: str, n: int, stamp: dt.datetime | None
    ) -> list[str]:
        gen = self._generator
        rng = gen.rng
        specs = self._props(object_type)
        owners: list[str | None] = [*self._owner_ids()] or [None]
        companies = list(self.live("companies"))
        contacts = list(self.live("contacts"))
        deals = list(self.live("deals"))
        made: list[str] = []
        for created, modified in gen.stamps(self._now(), n, stamp):
            owner = rng.choice(owners)
            company = rng.choice(companies) if companies else None
            if object_type == "companies":
                values = gen.company(owner)
            elif object_type == "contacts":
                values = gen.contact(company, owner)
            elif object_type == "deals":
                name = (
                    self.records["companies"][company].properties.get("name")
                    if company
                    else None
                )
                values = gen.deal(name, owner, created)
            else:
                values = gen.engagement(object_type, owner, modified)
            record_id = self._new_id()
            props: dict[str, str | None] = dict.fromkeys(specs)
            props.update({k: v for k, v in values.items() if k in specs})
            props["hs_object_id"] = record_id
            props[CREATED_PROPERTY[object_type]] = format_datetime(created)
            record = Record(record_id, props, created, modified)
            self._stamp(record, object_type, modified)
            self.records[object_type][record_id] = record
            made.append(record_id)
            if object_type in {"contacts", "deals"} and company is not None:
                self.associate(
                    object_type, record_id, "companies", company, primary=True
                )
            if object_type in ENGAGEMENT_TYPES:
                if company is not None:
                    self.associate(object_type, record_id, "companies", company)
                if contacts:
                    self.associate(
                        object_type, record_id, "contacts", rng.choice(contacts)
                    )
                if deals and rng.random() < 0.5:  # noqa: PLR2004
                    self.associate(object_type, record_id, "deals", rng.choice(deals))
        return made

    # ------------------------------------------------------------ auth & limits

    def _new_token(self) -> str:
        token = f"CJ{secrets.token_urlsafe(40)}"
        self._tokens[token] = _Token(self._now())
        self.access_tokens_issued += 1
        return token

    def _admit(  # noqa: C901 - one check per documented refusal
        self, request: Request, *, search: bool
    ) -> tuple[Response | None, bool]:
        """The error answer for a call that may not run (or count it); private app?"""
        scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
        token = token.strip()
        with self._lock:
            private = scheme.lower() == "bearer" and token == self.private_app_token
            state = self._tokens.get(token) if scheme.lower() == "bearer" else None
            if not private and state is None:
                return (
                    _error(
                        401,
                        "INVALID_AUTHENTICATION",
                        "Authentication credentials not found. This API supports "
                        "OAuth 2.0 authentication and you can find more details at "
                        "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                    ),
                    False,
                )
            if state is not None:
                age = self._now() - state.issued
                expired = (
                    state.revoked
                    or age.total_seconds() >= self.expires_in
                    or (
                        self.token_ttl_calls is not None
                        and state.calls >= self.token_ttl_calls
                    )
                )
                if expired:
                    minutes = max(0, int(age.total_seconds() - self.expires_in) // 60)
                    return (
                        _error(
                            401,
                            "EXPIRED_AUTHENTICATION",
                            "The OAuth token used to make this call expired "
                            f"{minutes} minute(s) ago.",
                        ),
                        False,
                    )
            if self.api_calls >= self.daily_limit:
                return _rate_limited("DAILY"), private
            moment = self._rate_clock()
            if self.ten_second_limit is not None:
                recent = self._recent_calls
                while recent and recent[0] <= moment - _INTERVAL_MS / 1000:
                    recent.popleft()
                if len(recent) >= self.ten_second_limit:
                    return _rate_limited("TEN_SECONDLY_ROLLING"), private
                recent.append(moment)
            if search and self.search_per_second is not None:
                searches = self._recent_searches
                while searches and searches[0] <= moment - 1:
                    searches.popleft()
                if len(searches) >= self.search_per_second:
                    return _rate_limited("SECONDLY"), private
                searches.append(moment)
            self.api_calls += 1
            if state is not None:
                state.calls += 1
        return None, private

    def _with_headers(
        self, response: Response, *, private: bool, search: bool
    ) -> Response:
        if search:  # the search endpoints send no rate-limit headers
            return response
        headers = dict(response.headers)
        with self._lock:
            if private:
                headers["X-HubSpot-RateLimit-Daily"] = str(self.daily_limit)
                headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(
                    max(0, self.daily_limit - self.api_calls)
                )
            limit = self.ten_second_limit
            headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(_INTERVAL_MS)
            headers["X-HubSpot-RateLimit-Max"] = str(limit or 190)
            used = len(self._recent_calls) if limit is not None else 1
            headers["X-HubSpot-RateLimit-Remaining"] = str(
                max(0, (limit or 190) - used)
            )
        return attrs.evolve(response, headers=headers)

    @route("POST", "/oauth/v1/token")
    def token(self, request: Request) -> Response:
        """The ``refresh_token`` grant, answered as HubSpot does."""
        try:
            form = request.form()
        except UnicodeDecodeError:
            form = {}

        def refuse(status: str, message: str) -> Response:
            return Response.json(
                {
                    "status": status,
                    "message": message,
                    "correlationId": str(uuid.uuid4()),
                    "requestId": str(uuid.uuid4()),
                },
                status=400,
            )

        if form.get("grant_type") != "refresh_token":
            return refuse("BAD_GRANT_TYPE", "grant_type must be refresh_token")
        if form.get("client_id") != self.client_id:
            return refuse("BAD_CLIENT_ID", "missing or unknown client id")
        if form.get("client_secret") != self.client_secret:
            return refuse("BAD_CLIENT_SECRET", "missing or invalid client secret")
        with self._lock:
            if form.get("refresh_token") != self.refresh_token:
                return refuse("BAD_REFRESH_TOKEN", "missing or invalid refresh token")
            if self.rotate_refresh_token:
                self.refresh_token = f"na1-{secrets.token_hex(16)}"
            access = self._new_token()
            refresh = self.refresh_token
        return Response.json(
            {
                "token_type": "bearer",
                "refresh_token": refresh,
                "access_token": access,
                "expires_in": self.expires_in,
            }
        )

    # ------------------------------------------------------------ rendering

    def _render(
        self,
        record: Record,
        properties: Sequence[str],
    ) -> dict[str, typing.Any]:
        body: dict[str, typing.Any] = {
            "id": record.id,
            "properties": {
                name: record.properties.get(name)
                for name in properties
                if name in record.properties
            },
            "createdAt": format_datetime(record.created),
            "updatedAt": format_datetime(record.updated),
            "archived": record.archived,
        }
        if record.archived and record.archived_at is not None:
            body["archivedAt"] = format_datetime(record.archived_at)
        return body

    def _unknown_type(self, object_type: str) -> Response | None:
        """HubSpot's 400 for an object type it does not have, else ``None``."""
        if object_type in self.properties:
            return None
        return _error(
            400, "VALIDATION_ERROR", f"Unable to infer object type from: {object_type}"
        )

    def _requested(self, object_type: str, names: Iterable[str] | None) -> list[str]:
        if names is None:
            defaults = _DEFAULT_LIST_PROPERTIES.get(object_type, ("hs_timestamp",))
            names = (*defaults, "hs_object_id", MODIFIED_PROPERTY[object_type])
        return list(dict.fromkeys(n for n in names if n))

    # ------------------------------------------------------------ CRM endpoints

    @route("GET", "/crm/v3/properties/{object_type}")
    @_api
    def list_properties(self, request: Request, object_type: str) -> Response:  # noqa: ARG002
        """The properties API."""
        unknown = self._unknown_type(object_type)
        if unknown is not None:
            return unknown
        with self._lock:
            specs = list(self.properties[object_type])
        return Response.json({"results": [p.describe(object_type) for p in specs]})

    @route("GET", "/crm/v3/objects/{object_type}")
    @_api
    def list_objects(self, request: Request, object_type: str) -> Response:
        """A page of records by id, or of archived ones."""
        unknown = self._unknown_type(object_type)
        if unknown is not None:
            return unknown
        limit = _int(request.arg("limit"), 10, "limit")
        if not 1 <= limit <= _LIST_MAX:
            msg = f"limit must be between 1 and {_LIST_MAX}"
            raise _Invalid(msg)
        archived = (request.arg("archived") or "false").lower() == "true"
        after = request.arg("after")
        start = int(_uncursor(after)) if after else 0
        names = request.arg("properties")
        properties = self._requested(
            object_type, names.split(",") if names is not None else None
        )
        with self._lock:
            chosen = sorted(
                (
                    r
                    for r in self.records[object_type].values()
                    if r.archived == archived and int(r.id) >= start
                ),
                key=lambda r: int(r.id),
            )
            page = chosen[:limit]
            body: dict[str, typing.Any] = {
                "results": [self._render(r, properties) for r in page]
            }
        if len(chosen) > limit:
            nxt = _cursor(chosen[limit].id)
            body["paging"] = {"next": {"after": nxt, "link": f"?after={nxt}"}}
        return Response.json(body)

    @route("POST", "/crm/v3/objects/{object_type}/batch/read")
    @_api
    def batch_read(self, request: Request, object_type: str) -> Response:
        """Records by id; ids not found are listed in ``errors`` (207)."""
        unknown = self._unknown_type(object_type)
        if unknown is not None:
            return unknown
        body = _json_body(request)
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or len(inputs) > _BATCH_READ_MAX:
            msg = f"inputs must be a list of at most {_BATCH_READ_MAX} ids"
            raise _Invalid(msg)
        archived = (request.arg("archived") or "false").lower() == "true"
        properties = self._requested(object_type, body.get("properties"))
        found, missing = [], []
        with self._lock:
            for item in inputs:
                record_id = str(item.get("id")) if isinstance(item, dict) else ""
                record = self.records[object_type].get(record_id)
                if record is None or record.archived != archived:
                    missing.append(record_id)
                else:
                    found.append(self._render(record, properties))
        now = format_datetime(self._now())
        answer: dict[str, typing.Any] = {
            "status": "COMPLETE",
            "results": found,
            "startedAt": now,
            "completedAt": now,
        }
        if missing:
            answer["numErrors"] = 1
            answer["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": "Could not get some objects, they may be deleted or "
                    "not exist.",
                    "context": {"ids": missing},
                }
            ]
        return Response.json(answer, status=207 if missing else 200)

    def _value(self, spec: PropertyDef | None, text: str) -> typing.Any:
        """A comparable value of a stored string or filter value."""
        kind = spec.type if spec is not None else "string"
        if kind in {"datetime", "date"}:
            return _parse_instant(text)
        if kind == "number":
            return float(text)
        if kind == "bool":
            return text.lower() == "true"
        return text

    def _matches(  # noqa: C901, PLR0911 - one branch per documented operator
        self,
        record: Record,
        specs: Mapping[str, PropertyDef],
        flt: Mapping[str, typing.Any],
    ) -> bool:
        name = flt.get("propertyName")
        operator = flt.get("operator")
        if not isinstance(name, str) or not isinstance(operator, str):
            msg = "each filter needs a propertyName and an operator"
            raise _Invalid(msg)
        spec = specs.get(name)
        raw = record.properties.get(name) if name != "id" else record.id
        if name == "id":
            spec = PropertyDef("id", "number")
        if operator == "HAS_PROPERTY":
            return raw not in (None, "")
        if operator == "NOT_HAS_PROPERTY":
            return raw in (None, "")
        try:
            if operator in {"IN", "NOT_IN"}:
                values = flt.get("values")
                if not isinstance(values, list):
                    msg = f"{operator} needs values"
                    raise _Invalid(msg)
                wanted = {self._value(spec, str(v)) for v in values}
                inside = raw is not None and self._value(spec, raw) in wanted
                return inside if operator == "IN" else not inside
            if "value" not in flt:
                msg = f"{operator} needs a value"
                raise _Invalid(msg)
            target = self._value(spec, str(flt["value"]))
            if operator in {"CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}:
                hit = raw is not None and str(target).strip("*").lower() in raw.lower()
                return hit if operator == "CONTAINS_TOKEN" else not hit
            if raw in (None, ""):
                return operator == "NEQ"
            value = self._value(spec, raw)
            if operator == "BETWEEN":
                high = self._value(spec, str(flt.get("highValue")))
                return bool(target <= value <= high)
            checks: dict[str, Callable[[typing.Any, typing.Any], bool]] = {
                "EQ": lambda a, b: a == b,
                "NEQ": lambda a, b: a != b,
                "LT": lambda a, b: a < b,
                "LTE": lambda a, b: a <= b,
                "GT": lambda a, b: a > b,
                "GTE": lambda a, b: a >= b,
            }
            if operator not in checks:
                msg = f"unknown operator {operator!r}"
                raise _Invalid(msg)
            return checks[operator](value, target)
        except (ValueError, TypeError) as exc:
            msg = f"cannot compare {name} with the filter value: {exc}"
            raise _Invalid(msg) from None

    def _tie_key(self, record_id: str) -> str:
        # Records with equal sort values come in an order unrelated to their ids.
        return hashlib.sha256(f"{self._salt}:{record_id}".encode()).hexdigest()

    @route("POST", "/crm/v3/objects/{object_type}/search")
    @_api
    def search(  # noqa: C901, PLR0915 - one check per documented limit
        self, request: Request, object_type: str
    ) -> Response:
        """The CRM search API."""
        unknown = self._unknown_type(object_type)
        if unknown is not None:
            return unknown
        if len(request.body) > _BODY_MAX:
            msg = f"the request body is longer than {_BODY_MAX} characters"
            raise _Invalid(msg)
        body = _json_body(request)
        groups = body.get("filterGroups") or []
        if not isinstance(groups, list) or len(groups) > _GROUPS_MAX:
            msg = f"at most {_GROUPS_MAX} filterGroups"
            raise _Invalid(msg)
        total_filters = 0
        for group in groups:
            filters = group.get("filters") if isinstance(group, dict) else None
            if not isinstance(filters, list) or len(filters) > _FILTERS_PER_GROUP:
                msg = f"each filter group holds at most {_FILTERS_PER_GROUP} filters"
                raise _Invalid(msg)
            total_filters += len(filters)
        if total_filters > _FILTERS_MAX:
            msg = f"at most {_FILTERS_MAX} filters in all"
            raise _Invalid(msg)
        sorts = body.get("sorts") or []
        if not isinstance(sorts, list) or len(sorts) > 1:
            msg = "at most one sort"
            raise _Invalid(msg)
        limit = _int(body.get("limit"), 10, "limit")
        if not 1 <= limit <= _SEARCH_MAX:
            msg = f"limit must be between 1 and {_SEARCH_MAX}"
            raise _Invalid(msg)
        offset = _int(body.get("after"), 0, "after")
        if offset >= self.search_max_results:
            msg = (
                f"The search API cannot page past {self.search_max_results} results; "
                f"after={offset}"
            )
            raise _Invalid(msg)
        names = body.get("properties")
        properties = self._requested(
            object_type,
            names
            if isinstance(names, list) and names
            else [
                "hs_object_id",
                CREATED_PROPERTY[object_type],
                MODIFIED_PROPERTY[object_type],
            ],
        )
        visible_before = self._now() - self.index_delay
        with self._lock:
            specs = self._props(object_type)
            rows = [
                r
                for r in self.records[object_type].values()
                if not r.archived
                and r.updated <= visible_before
                and (
                    not groups
                    or any(
                        all(self._matches(r, specs, f) for f in g["filters"])
                        for g in groups
                    )
                )
            ]
            if sorts:
                rule = sorts[0] if isinstance(sorts[0], dict) else {}
                name = str(rule.get("propertyName"))
                spec = specs.get(name)
                descending = rule.get("direction") == "DESCENDING"

                def key(record: Record) -> tuple[bool, typing.Any, str]:
                    raw = record.properties.get(name)
                    missing = raw in (None, "")
                    value = self._value(spec, raw) if raw and not missing else 0
                    if descending and not isinstance(value, str):
                        value = -value
                    return (missing, value, self._tie_key(record.id))

                rows.sort(key=key)
            else:
                rows.sort(key=lambda r: int(r.id))
            total = len(rows)
            stop = min(offset + limit, self.search_max_results)
            page = [self._render(r, properties) for r in rows[offset:stop]]
        answer: dict[str, typing.Any] = {"total": total, "results": page}
        if offset + limit < total:
            answer["paging"] = {"next": {"after": str(offset + limit)}}
        return Response.json(answer)

    # ------------------------------------------------------------ owners, pipelines

    @route("GET", "/crm/v3/owners")
    @route("GET", "/crm/v3/owners/")
    @_api
    def list_owners(self, request: Request) -> Response:
        """Owners, paged by an opaque cursor."""
        limit = _int(request.arg("limit"), 100, "limit")
        if not 1 <= limit <= _OWNERS_MAX:
            msg = f"limit must be between 1 and {_OWNERS_MAX}"
            raise _Invalid(msg)
        archived = (request.arg("archived") or "false").lower() == "true"
        after = request.arg("after")
        start = int(_uncursor(after)) if after else 0
        with self._lock:
            chosen = sorted(
                (
                    dict(o)
                    for o in self.owners.values()
                    if o["archived"] == archived and int(o["id"]) >= start
                ),
                key=lambda o: int(o["id"]),
            )
        body: dict[str, typing.Any] = {"results": chosen[:limit]}
        if len(chosen) > limit:
            nxt = _cursor(chosen[limit]["id"])
            body["paging"] = {"next": {"after": nxt, "link": f"?after={nxt}"}}
        return Response.json(body)

    @route("GET", "/crm/v3/pipelines/{object_type}")
    @_api
    def pipelines(self, request: Request, object_type: str) -> Response:  # noqa: ARG002
        """Deal pipelines with their stages; metadata values are strings."""
        if object_type != "deals":
            return Response.json({"results": []})
        stamp = "2021-03-01T12:00:00.000Z"
        results = []
        for order, pipeline in enumerate(DEFAULT_PIPELINES):
            stages = [
                {
                    "id": stage_id,
                    "label": label,
                    "displayOrder": index,
                    "metadata": {"isClosed": closed, "probability": probability},
                    "createdAt": stamp,
                    "updatedAt": stamp,
                    "archived": False,
                    "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                }
                for index, (stage_id, label, probability, closed) in enumerate(
                    pipeline["stages"]
                )
            ]
            results.append(
                {
                    "id": pipeline["id"],
                    "label": pipeline["label"],
                    "displayOrder": order,
                    "createdAt": stamp,
                    "updatedAt": stamp,
                    "archived": False,
                    "stages": stages,
                }
            )
        return Response.json({"results": results})

    # ------------------------------------------------------------ legacy engagements

    def _legacy(self, kind: str, record: Record) -> dict[str, typing.Any]:
        props = record.properties

        def ids(to: str) -> list[int]:
            targets = self._associations[(kind, to)].get(record.id, {})
            return sorted(int(i) for i in targets)

        owner = props.get("hubspot_owner_id")
        timestamp = props.get("hs_timestamp")
        metadata = {
            key.removeprefix(f"hs_{kind[:-1]}_"): value
            for key, value in props.items()
            if key.startswith(f"hs_{kind[:-1]}_") and value is not None
        }
        return {
            "engagement": {
                "id": int(record.id),
                "portalId": 62515,
                "active": True,
                "createdAt": _ms(record.created),
                "lastUpdated": _ms(record.updated),
                "ownerId": int(owner) if owner else None,
                "type": _LEGACY_TYPES[kind],
                "timestamp": _parse_instant(timestamp) if timestamp else None,
            },
            "associations": {
                "contactIds": ids("contacts"),
                "companyIds": ids("companies"),
                "dealIds": ids("deals"),
                "ownerIds": [],
                "ticketIds": [],
            },
            "attachments": [],
            "metadata": metadata,
        }

    @route("GET", "/engagements/v1/engagements/paged")
    @_api
    def legacy_engagements(self, request: Request) -> Response:
        """The legacy v1 engagements, paged by ``offset``."""
        limit = _int(request.arg("limit"), 100, "limit")
        if not 1 <= limit <= _LEGACY_MAX:
            msg = f"limit must be between 1 and {_LEGACY_MAX}"
            raise _Invalid(msg)
        offset = _int(request.arg("offset"), 0, "offset")
        with self._lock:
            everything = sorted(
                (
                    (int(r.id), kind, r)
                    for kind in ENGAGEMENT_TYPES
                    for r in self.records[kind].values()
                    if not r.archived
                ),
                key=lambda item: item[0],
            )
            chosen = [item for item in everything if item[0] > offset]
            page = [self._legacy(kind, r) for _, kind, r in chosen[:limit]]
        more = len(chosen) > limit
        next_offset = (
            chosen[limit - 1][0] if more else (chosen[-1][0] if chosen else offset)
        )
        return Response.json({"results": page, "hasMore": more, "offset": next_offset})

    # ------------------------------------------------------------ associations

    @route("POST", "/crm/v4/associations/{from_type}/{to_type}/batch/read")
    @_api
    def read_associations(
        self, request: Request, from_type: str, to_type: str
    ) -> Response:
        """v4 batch read: each id's associations, paged per id."""
        unknown = self._unknown_type(from_type) or self._unknown_type(to_type)
        if unknown is not None:
            return unknown
        body = _json_body(request)
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or len(inputs) > _ASSOC_INPUTS_MAX:
            msg = f"inputs must be a list of at most {_ASSOC_INPUTS_MAX} ids"
            raise _Invalid(msg)
        results, missing = [], []
        size = self.association_page_size
        with self._lock:
            table = self._associations[(from_type, to_type)]
            for item in inputs:
                if not isinstance(item, dict) or "id" not in item:
                    msg = "each input needs an id"
                    raise _Invalid(msg)
                from_id = str(item["id"])
                start = _int(item.get("after"), 0, "after")
                targets = sorted(
                    table.get(from_id, {}).items(), key=lambda t: int(t[0])
                )
                if not targets:
                    missing.append(from_id)
                    continue
                page = targets[start : start + size]
                entry: dict[str, typing.Any] = {
                    "from": {"id": from_id},
                    "to": [
                        {
                            "toObjectId": int(to_id),
                            "associationTypes": [
                                {
                                    "category": "HUBSPOT_DEFINED",
                                    "typeId": type_id,
                                    "label": "Primary"
                                    if type_id
                                    == ASSOCIATION_TYPES.get(
                                        (from_type, to_type), (0, None)
                                    )[1]
                                    else None,
                                }
                                for type_id in types
                            ],
                        }
                        for to_id, types in page
                    ],
                }
                if start + size < len(targets):
                    entry["paging"] = {
                        "next": {"after": str(start + size), "link": None}
                    }
                results.append(entry)
        now = format_datetime(self._now())
        answer: dict[str, typing.Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": now,
            "completedAt": now,
        }
        if missing:
            answer["numErrors"] = len(missing)
            answer["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                    "message": f"No {to_type} is associated with {from_type} {i}.",
                    "context": {"fromObjectId": [i]},
                }
                for i in missing
            ]
        return Response.json(answer, status=207 if missing else 200)


def _json_body(request: Request) -> dict[str, typing.Any]:
    try:
        body = request.json()
    except ValueError as exc:
        msg = f"the body is not JSON: {exc}"
        raise _Invalid(msg) from None
    if not isinstance(body, dict):
        msg = "the body must be a JSON object"
        raise _Invalid(msg)
    return body


def _int(value: object, default: int, name: str) -> int:
    if value is None or value == "":
        return default
    try:
        number = float(str(value))
    except ValueError:
        msg = f"{name} must be a number, not {value!r}"
        raise _Invalid(msg) from None
    if not math.isfinite(number) or number != int(number):
        msg = f"{name} must be a whole number, not {value!r}"
        raise _Invalid(msg)
    return int(number)
