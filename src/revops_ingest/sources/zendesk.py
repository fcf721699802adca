"""Zendesk Support: tickets, users and organizations.

>>> from revops_ingest.sources.zendesk import ZendeskSource
>>> source = ZendeskSource(
...     subdomain="acme", email="admin@acme.com", api_token="api-token"
... )
>>> [(spec.name, spec.raw_dataset(source.system)) for spec in source.objects()]
[('tickets', '/Zendesk/Raw/Tickets'), ('users', '/Zendesk/Raw/Users'), \
('organizations', '/Zendesk/Raw/Organizations')]

Constructing a source does no IO. Tickets are read through the cursor-based
incremental export (exact resumption, system changes caught through
``generated_timestamp``, deletes as tombstones); users and organizations through the
time-based exports, with the inclusive boundary de-duplicated and the "more than a
page in one second" case handled. The exports' limit of 10 requests a minute is
paced before it is hit. See ``docs/sources/zendesk.md``.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import typing

import attrs
import requests

from revops_ingest._auth import BasicAuth, BearerTokenAuth
from revops_ingest._http import HttpClient, RateLimiter, RetryPolicy, Timeouts
from revops_ingest._secrets import Secret, as_secret
from revops_ingest._source import ClosingSource, ObjectSpec
from revops_ingest.exceptions import ConfigurationError
from revops_ingest.sources._zendesk_api import ZendeskApi, observe
from revops_ingest.sources._zendesk_sync import Settings, TicketSync, TimeSync
from revops_ingest.sources._zendesk_types import (
    ORGANIZATIONS,
    TICKETS,
    TOMBSTONE_COLUMN,
    USERS,
)


if typing.TYPE_CHECKING:
    from collections.abc import Callable, Generator, Mapping, Sequence

    import pyarrow as pa

    from revops_ingest._auth import Auth
    from revops_ingest._source import FetchContext, JSONValue, State


__all__ = [
    "EXPORT_REQUESTS_PER_MINUTE",
    "OBJECTS",
    "SYSTEM",
    "TOMBSTONE_COLUMN",
    "ZendeskSource",
    "raw_schema",
]

SYSTEM = "Zendesk"
"""The system name; raw datasets land in ``/Zendesk/Raw/<Object>``."""

EXPORT_REQUESTS_PER_MINUTE = 10
"""Zendesk's limit on the incremental export endpoints (30 with High Volume)."""

OBJECTS = (
    ObjectSpec(
        name="tickets",
        primary_key=("id",),
        cursor="generated_timestamp",
        dataset="/Zendesk/Raw/Tickets",
    ),
    ObjectSpec(
        name="users",
        primary_key=("id",),
        cursor="updated_at",
        dataset="/Zendesk/Raw/Users",
    ),
    ObjectSpec(
        name="organizations",
        primary_key=("id",),
        cursor="updated_at",
        dataset="/Zendesk/Raw/Organizations",
    ),
)
"""The objects the source offers, with their raw datasets."""

_SUBDOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_MAX_PAGE, _MAX_LIST_PAGE = 1000, 100


def _optional_secret(value: str | Secret | None) -> Secret | None:
    return None if value is None else as_secret(value)


def _base_url(value: str | None) -> str | None:
    if value is None:
        return None
    if not re.match(r"^https?://[^/]+/?$", value):
        msg = (
            "base_url must be a root URL such as 'https://acme.zendesk.com', "
            f"not {value!r}"
        )
        raise ConfigurationError(msg)
    return value.rstrip("/")


def _start_time(value: int | dt.datetime) -> int:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            msg = "start_time must be an aware datetime (with a time zone)"
            raise ConfigurationError(msg)
        return int(value.timestamp())
    if isinstance(value, bool) or value < 0:
        msg = f"start_time must be Unix seconds or a datetime, not {value!r}"
        raise ConfigurationError(msg)
    return value


_IntCheck: typing.TypeAlias = "Callable[[object, attrs.Attribute[int], int], None]"


def _between(low: int, high: int) -> _IntCheck:
    def check(_inst: object, attribute: attrs.Attribute[int], value: int) -> None:
        if not low <= value <= high:
            msg = f"{attribute.name} must be between {low} and {high}, not {value!r}"
            raise ConfigurationError(msg)

    return check


def _check_rate(
    _inst: object, _attribute: attrs.Attribute[typing.Any], value: int | None
) -> None:
    if value is not None and value < 1:
        msg = f"export_requests_per_minute must be at least 1 or None, not {value!r}"
        raise ConfigurationError(msg)


@attrs.define(kw_only=True)
class ZendeskSource(ClosingSource):
    """The Zendesk Support source: a :class:`~revops_ingest.sources.Source`.

    Give exactly one kind of credentials: *email* and *api_token* (sent as Basic
    auth, ``{email}/token:{api_token}``), or *oauth_token* (sent as a bearer token).

    Args:
        subdomain: The account's subdomain: ``acme`` for ``acme.zendesk.com``.
        email: The agent or admin the API token belongs to.
        api_token: An API token (Admin Center > Apps and integrations > Zendesk API).
        oauth_token: An OAuth access token, instead of *email* and *api_token*.
        base_url: The API host, instead of ``https://{subdomain}.zendesk.com``
            (a proxy, or an emulator).
        start_time: Where the first sync (and a full refresh) starts: Unix seconds
            or an aware datetime; 0 reads the whole history.
        page_size: Tickets per page of the cursor-based export (at most 1000).
        list_page_size: Records per page of the list endpoints (at most 100), used
            when more records share one second than an export page holds.
        include_metric_sets: Sideload each ticket's metric set
            (``include=metric_sets``) into the ``metric_*`` columns.
        export_requests_per_minute: Pacing of the incremental export endpoints;
            Zendesk allows 10 (30 with the High Volume add-on). ``None`` turns
            pacing off (a 429 is then still waited out).
        timeouts: Connect and read time-outs.
        retry: Retries of throttled and failed requests.
        session: A ``requests.Session`` to use (proxies, certificates); the caller
            closes it.
        sleep: How to wait (pacing, backoff, ``Retry-After``); injectable for tests.
        clock: The monotonic clock pacing and the retry budget are measured with;
            injectable for tests.
    """

    subdomain: str | None = None
    email: str | None = None
    api_token: Secret | None = attrs.field(
        default=None, converter=_optional_secret, repr=False
    )
    oauth_token: Secret | None = attrs.field(
        default=None, converter=_optional_secret, repr=False
    )
    base_url: str | None = attrs.field(default=None, converter=_base_url)
    start_time: int = attrs.field(default=0, converter=_start_time)
    page_size: int = attrs.field(default=_MAX_PAGE, validator=_between(1, _MAX_PAGE))
    list_page_size: int = attrs.field(
        default=_MAX_LIST_PAGE, validator=_between(1, _MAX_LIST_PAGE)
    )
    include_metric_sets: bool = True
    export_requests_per_minute: int | None = attrs.field(
        default=EXPORT_REQUESTS_PER_MINUTE, validator=_check_rate
    )
    timeouts: Timeouts = attrs.Factory(Timeouts)
    retry: RetryPolicy = attrs.Factory(RetryPolicy)
    session: requests.Session | None = attrs.field(default=None, repr=False)
    sleep: Callable[[float], None] = attrs.field(default=time.sleep, repr=False)
    clock: Callable[[], float] = attrs.field(default=time.monotonic, repr=False)
    _api: ZendeskApi | None = attrs.field(default=None, init=False, repr=False)
    _own_session: requests.Session | None = attrs.field(
        default=None, init=False, repr=False
    )

    system: typing.ClassVar[str] = SYSTEM

    def __attrs_post_init__(self) -> None:
        token = self.api_token is not None or self.email is not None
        if token == (self.oauth_token is not None):
            msg = (
                "Zendesk: give either email= and api_token= (an API token) or "
                "oauth_token= (an OAuth access token), not both and not neither"
            )
            raise ConfigurationError(msg)
        if token and not (self.email and self.api_token):
            msg = "Zendesk: an API token needs both email= and api_token="
            raise ConfigurationError(msg)
        if self.base_url is None:
            if self.subdomain is None or not _SUBDOMAIN.match(self.subdomain):
                msg = (
                    "Zendesk: give subdomain= (such as 'acme' for acme.zendesk.com) "
                    f"or base_url=; subdomain {self.subdomain!r} is not one"
                )
                raise ConfigurationError(msg)
            self.base_url = f"https://{self.subdomain}.zendesk.com"

    @property
    def auth(self) -> Auth:
        """Basic auth as ``{email}/token``, or the OAuth bearer token if given."""
        if self.oauth_token is not None:
            return BearerTokenAuth(self.oauth_token)
        assert self.email is not None
        assert self.api_token is not None
        return BasicAuth(f"{self.email}/token", self.api_token)

    def objects(self) -> Sequence[ObjectSpec]:
        """``tickets``, ``users`` and ``organizations``."""
        return OBJECTS

    def _client(self) -> ZendeskApi:
        """The API calls and their HTTP clients, created on first use."""
        if self._api is None:
            session = self.session
            if session is None:
                session = self._own_session = requests.Session()
            assert self.base_url is not None
            auth = self.auth

            def http(pacer: RateLimiter | None) -> HttpClient:
                return HttpClient(
                    source=SYSTEM,
                    base_url=typing.cast("str", self.base_url),
                    auth=auth,
                    timeouts=self.timeouts,
                    retry=self.retry,
                    observe=observe,
                    pacer=pacer,
                    session=session,
                    headers={"Accept": "application/json"},
                    sleep=self.sleep,
                    clock=self.clock,
                )

            rate = self.export_requests_per_minute
            pacer = (
                RateLimiter(rate, 60.0, clock=self.clock, sleep=self.sleep)
                if rate is not None
                else None
            )
            self._api = ZendeskApi(export=http(pacer), account=http(None))
        return self._api

    def close(self) -> None:
        """Close the HTTP session, unless *session* was given."""
        self._api = None
        if self._own_session is not None:
            self._own_session.close()
            self._own_session = None

    def _settings(self) -> Settings:
        return Settings(
            start_time=self.start_time,
            page_size=self.page_size,
            list_page_size=self.list_page_size,
            metric_sets=self.include_metric_sets,
        )

    def fetch(
        self,
        obj: ObjectSpec,
        state: Mapping[str, JSONValue] | None,
        context: FetchContext,
    ) -> Generator[pa.RecordBatch, None, State]:
        """Yield the object's records changed since *state*; return the new state."""
        api = self._client()
        settings = self._settings()
        with (
            api.export.recording(context.metrics),
            api.account.recording(context.metrics),
        ):
            if obj.name == "tickets":
                return (yield from TicketSync(api, context, settings).run(state))
            if obj.name in ("users", "organizations"):
                record = USERS if obj.name == "users" else ORGANIZATIONS
                return (yield from TimeSync(api, context, settings, record).run(state))
        msg = f"Zendesk has no object {obj.name!r}; it offers tickets, users and "
        msg += "organizations"
        raise ConfigurationError(msg)


_SCHEMAS = {"tickets": TICKETS, "users": USERS, "organizations": ORGANIZATIONS}


def raw_schema(object_name: str) -> pa.Schema:
    """The Arrow schema of a raw dataset (without the engine's ``_sync_id``)."""
    try:
        return _SCHEMAS[object_name].schema
    except KeyError:
        msg = f"Zendesk has no object {object_name!r}"
        raise ConfigurationError(msg) from None
