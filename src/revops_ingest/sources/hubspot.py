"""HubSpot: deals, companies, contacts, engagements, owners, pipelines, associations.

>>> from revops_ingest.sources.hubspot import HubSpotSource
>>> source = HubSpotSource(token="pat-na1-...")
>>> [spec.name for spec in source.objects()][:5]
['deals', 'companies', 'contacts', 'engagements', 'owners']

Constructing a source does no IO. What a sync does is in
``docs/sources/hubspot.md``: typed properties from the properties API, incremental
windows on the last-modified property through the search API (keyset-paged, so the
10,000-result cap and timestamp ties are harmless), a look-back for the search
index's delay with de-duplication, archived records as tombstones, pacing from the
``X-HubSpot-RateLimit-*`` headers, and the daily limit failing a sync cleanly.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import typing

import attrs

from revops_ingest._auth import BearerTokenAuth, OAuth2RefreshTokenAuth
from revops_ingest._http import HttpClient, RateLimiter, RetryPolicy, Timeouts
from revops_ingest._secrets import Secret, as_secret
from revops_ingest._source import ClosingSource, ObjectSpec
from revops_ingest.exceptions import (
    AuthenticationError,
    ConfigurationError,
    SchemaError,
    UnexpectedResponseError,
)
from revops_ingest.sources._hubspot_api import HubSpotApi, classify
from revops_ingest.sources._hubspot_sync import (
    RecordSync,
    Settings,
    read_associations,
    read_legacy_engagements,
    read_owners,
    read_pipelines,
)
from revops_ingest.sources._hubspot_types import (
    ENGAGEMENT_TYPE_COLUMN,
    TOMBSTONE_COLUMN,
    plan_from_properties,
)


if typing.TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable, Mapping, Sequence

    import pyarrow as pa
    import requests

    from revops_ingest._auth import Auth
    from revops_ingest._source import FetchContext, JSONValue, State


__all__ = [  # noqa: RUF022 - plain sorted(), as tests/test_public_api.py checks
    "ASSOCIATION_OBJECTS",
    "DEFAULT_BASE_URL",
    "DEFAULT_OBJECTS",
    "ENGAGEMENT_TYPES",
    "ENGAGEMENT_TYPE_COLUMN",
    "HubSpotOAuth",
    "HubSpotSource",
    "SYSTEM",
    "TOKEN_URL",
    "TOMBSTONE_COLUMN",
]

SYSTEM = "HubSpot"
"""The system name; raw datasets land in ``/HubSpot/Raw/<object>``."""

DEFAULT_BASE_URL = "https://api.hubapi.com"
TOKEN_URL = f"{DEFAULT_BASE_URL}/oauth/v1/token"

ENGAGEMENT_TYPES = ("calls", "emails", "meetings", "notes", "tasks")
"""The v3 engagement object types read into ``engagements``."""

_RECORD_OBJECTS: dict[str, tuple[str, ...]] = {
    "deals": ("deals",),
    "companies": ("companies",),
    "contacts": ("contacts",),
    "engagements": ENGAGEMENT_TYPES,
}
_CURSORS = {"contacts": "lastmodifieddate"}
_DEFAULT_CURSOR = "hs_lastmodifieddate"

ASSOCIATION_OBJECTS: dict[str, tuple[tuple[str, str], ...]] = {
    "deal_company_associations": (("deals", "companies"),),
    "contact_company_associations": (("contacts", "companies"),),
    "engagement_associations": tuple(
        (kind, to)
        for kind in ENGAGEMENT_TYPES
        for to in ("deals", "companies", "contacts")
    ),
}
"""Association datasets and the ``(from, to)`` object type pairs each reads."""

DEFAULT_OBJECTS = (
    "deals",
    "companies",
    "contacts",
    "engagements",
    "owners",
    "pipelines",
    *ASSOCIATION_OBJECTS,
)
"""Every dataset the source offers, in this order unless told otherwise."""

_LIST_MAX, _SEARCH_MAX = 100, 200

_TOKEN_HINTS = {
    "BAD_REFRESH_TOKEN": (
        "the refresh token is unknown, revoked or for another app; install the app "
        "again and store the new refresh token"
    ),
    "BAD_CLIENT_ID": "check the app's client id",
    "BAD_CLIENT_SECRET": "check the app's client secret",
    "BAD_GRANT_TYPE": "the token endpoint wants grant_type=refresh_token",
}


def _vendor_status(body: bytes) -> tuple[str | None, str | None]:
    """HubSpot's token errors: ``{"status": "BAD_REFRESH_TOKEN", "message": ...}``."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None, None
    if not isinstance(payload, dict):
        return None, None
    status, message = payload.get("status"), payload.get("message")
    return (
        status if isinstance(status, str) and status != "error" else None,
        message if isinstance(message, str) else None,
    )


@attrs.define(eq=False, init=False)
class HubSpotOAuth(OAuth2RefreshTokenAuth):
    """HubSpot OAuth: the ``refresh_token`` grant at ``/oauth/v1/token``.

    Access tokens live 30 minutes (``expires_in``); a new one is fetched shortly
    before expiry, and once more if HubSpot answers 401 ``EXPIRED_AUTHENTICATION``
    mid-sync. A refused grant is an
    :class:`~revops_ingest.exceptions.AuthenticationError` naming the grant and
    HubSpot's ``status`` (``BAD_REFRESH_TOKEN``, ...). A rotated refresh token is
    passed to *on_refresh_token*.

    Args:
        client_id: The app's client id.
        client_secret: The app's client secret.
        refresh_token: The refresh token from the app's installation.
        on_refresh_token: Called with each new refresh token (a
            :class:`~revops_ingest.Secret`), to store it.
        token_url: The token endpoint.
        refresh_margin: Seconds before expiry at which a new token is fetched.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str | Secret,
        refresh_token: str | Secret,
        *,
        on_refresh_token: Callable[[Secret], None] | None = None,
        token_url: str = TOKEN_URL,
        refresh_margin: float = 60.0,
    ) -> None:
        self.__attrs_init__(
            token_url,
            client_id,
            as_secret(client_secret),
            as_secret(refresh_token),
            on_refresh_token=on_refresh_token,
            refresh_margin=refresh_margin,
        )

    def _payload(
        self, http: HttpClient, response: requests.Response
    ) -> dict[str, typing.Any]:
        try:
            return super()._payload(http, response)
        except AuthenticationError as exc:
            code, message = _vendor_status(response.content)
            if exc.vendor_code is None and code is not None:
                exc.vendor_code = code
                exc.hint = _TOKEN_HINTS.get(code, exc.hint)
                if message and message not in exc.detail:
                    exc.detail = f"{exc.detail}: {http.redact(message)}"
                exc.args = (exc._render(),)  # noqa: SLF001 - our own exception type
            raise


def _objects(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    names = tuple(value)
    unknown = [n for n in names if n not in DEFAULT_OBJECTS]
    if unknown:
        msg = (
            f"HubSpot has no dataset(s) {', '.join(map(repr, unknown))}; it offers "
            f"{', '.join(DEFAULT_OBJECTS)}"
        )
        raise ConfigurationError(msg)
    if len(set(names)) != len(names):
        msg = "objects must not name a dataset twice"
        raise ConfigurationError(msg)
    return names


def _optional_secret(value: str | Secret | None) -> Secret | None:
    return None if value is None else as_secret(value)


def _check_range(
    low: int, high: int
) -> Callable[[object, attrs.Attribute[int], int], None]:
    def check(_inst: object, attribute: attrs.Attribute[int], value: int) -> None:
        if not low <= value <= high:
            msg = f"{attribute.name} must be between {low} and {high}, not {value!r}"
            raise ConfigurationError(msg)

    return check


def _check_lookback(
    _inst: object, _attribute: attrs.Attribute[dt.timedelta], value: dt.timedelta
) -> None:
    if value < dt.timedelta(0):
        msg = f"lookback must not be negative, not {value!r}"
        raise ConfigurationError(msg)


def _check_base_url(
    _inst: object, _attribute: attrs.Attribute[str], value: str
) -> None:
    if not value.startswith(("https://", "http://")):
        msg = (
            f"base_url must be an http(s) URL such as {DEFAULT_BASE_URL!r}, "
            f"not {value!r}"
        )
        raise ConfigurationError(msg)


@attrs.define(kw_only=True)
class HubSpotSource(ClosingSource):
    """The HubSpot source: a :class:`~revops_ingest.sources.Source`.

    Args:
        token: A private app's access token (``pat-...``), sent as
            ``Authorization: Bearer``. Give this or *auth*.
        auth: :class:`HubSpotOAuth` (or any :class:`~revops_ingest.http.Auth`).
        base_url: The API root.
        objects: The datasets to offer; by default :data:`DEFAULT_OBJECTS`.
        lookback: How far before the last watermark each window starts, for the
            search index's delay; re-read records that landed before are dropped.
        legacy_engagements: Read ``engagements`` in full through the legacy
            ``/engagements/v1/engagements/paged`` endpoint instead of the v3
            engagement objects.
        archived: Read archived records (deletes) and land them as tombstones.
        page_size: Records per list page (1 to 100).
        search_page_size: Records per search page (1 to 200).
        max_properties_chars: If the comma-joined property names of an object are
            longer, pages carry ids only and records are read with ``batch/read``.
        requests_per_10s: Calls per rolling ten seconds before the headers say
            otherwise (100 is the Free/Starter app limit).
        searches_per_second: Search calls per second (HubSpot allows 5).
        recent_limit: The most ``(id, stamp)`` pairs kept in the state.
        timeouts: Connect and read time-outs.
        retry: Retries of throttled and failed requests.
        session: A ``requests.Session`` to use.
        sleep: How to wait (backoff, pacing); injectable for tests.
        clock: Monotonic seconds (pacing, retry budget, token expiry); injectable.
    """

    token: Secret | None = attrs.field(
        default=None, converter=_optional_secret, repr=False
    )
    auth: Auth | None = None
    base_url: str = attrs.field(default=DEFAULT_BASE_URL, validator=_check_base_url)
    _objects: tuple[str, ...] = attrs.field(
        default=DEFAULT_OBJECTS, converter=_objects, alias="objects"
    )
    lookback: dt.timedelta = attrs.field(
        default=dt.timedelta(minutes=5), validator=_check_lookback
    )
    legacy_engagements: bool = False
    archived: bool = True
    page_size: int = attrs.field(
        default=_LIST_MAX, validator=_check_range(1, _LIST_MAX)
    )
    search_page_size: int = attrs.field(
        default=_SEARCH_MAX, validator=_check_range(1, _SEARCH_MAX)
    )
    max_properties_chars: int = attrs.field(
        default=2000, validator=_check_range(1, 2500)
    )
    requests_per_10s: int = attrs.field(default=100, validator=_check_range(1, 10_000))
    searches_per_second: int = attrs.field(default=5, validator=_check_range(1, 100))
    recent_limit: int = attrs.field(default=20_000, validator=_check_range(1, 10**9))
    timeouts: Timeouts = attrs.Factory(Timeouts)
    retry: RetryPolicy = attrs.Factory(RetryPolicy)
    session: requests.Session | None = attrs.field(default=None, repr=False)
    sleep: Callable[[float], None] = attrs.field(default=time.sleep, repr=False)
    clock: Callable[[], float] = attrs.field(default=time.monotonic, repr=False)
    _api: HubSpotApi | None = attrs.field(default=None, init=False, repr=False)

    system: typing.ClassVar[str] = SYSTEM

    def __attrs_post_init__(self) -> None:
        if (self.token is None) == (self.auth is None):
            msg = (
                "HubSpotSource needs exactly one of token= (a private app's access "
                "token) and auth= (such as HubSpotOAuth(...))"
            )
            raise ConfigurationError(msg)

    def objects(self) -> Sequence[ObjectSpec]:
        """The configured datasets (by default :data:`DEFAULT_OBJECTS`)."""
        return tuple(self._spec(name) for name in self._objects)

    def _spec(self, name: str) -> ObjectSpec:
        if name in _RECORD_OBJECTS:
            if name == "engagements" and self.legacy_engagements:
                return ObjectSpec(name=name, primary_key=("id",), mode="full")
            return ObjectSpec(
                name=name,
                primary_key=("id",),
                cursor=_CURSORS.get(name, _DEFAULT_CURSOR),
            )
        if name == "owners":
            return ObjectSpec(name=name, primary_key=("id",), mode="full")
        if name == "pipelines":
            return ObjectSpec(
                name=name, primary_key=("pipelineId", "stageId"), mode="full"
            )
        return ObjectSpec(
            name=name,
            primary_key=("fromId", "toId", "associationTypeId"),
            mode="full",
        )

    def _client(self) -> HubSpotApi:
        """The calls and their HTTP client, created on first use."""
        if self._api is None:
            auth: Auth = (
                BearerTokenAuth(self.token) if self.token is not None else self.auth  # type: ignore[assignment]
            )
            pacer = RateLimiter(
                self.requests_per_10s, 10.0, clock=self.clock, sleep=self.sleep
            )
            search_pacer = RateLimiter(
                self.searches_per_second, 1.0, clock=self.clock, sleep=self.sleep
            )
            http = HttpClient(
                source=SYSTEM,
                base_url=self.base_url,
                auth=auth,
                timeouts=self.timeouts,
                retry=self.retry,
                classify=classify,
                pacer=pacer,
                session=self.session,
                headers={"Accept": "application/json"},
                sleep=self.sleep,
                clock=self.clock,
            )
            api = HubSpotApi(http, pacer, search_pacer)
            http.observe = api.observe
            self._api = api
        return self._api

    def close(self) -> None:
        """Close the HTTP client (its session, unless *session* was given)."""
        if self._api is not None:
            self._api.http.close()
            self._api = None

    def _settings(self) -> Settings:
        return Settings(
            lookback_ms=int(self.lookback / dt.timedelta(milliseconds=1)),
            page_size=self.page_size,
            search_page_size=self.search_page_size,
            max_properties_chars=self.max_properties_chars,
            archived=self.archived,
            recent_limit=self.recent_limit,
        )

    def fetch(
        self,
        obj: ObjectSpec,
        state: Mapping[str, JSONValue] | None,
        context: FetchContext,
    ) -> Generator[pa.RecordBatch, None, State]:
        """Yield the dataset's rows changed since *state*; return the new state.

        Incremental datasets (deals, companies, contacts, engagements) yield the
        records changed in the window, then tombstones for archived records; the
        others yield everything. See the module documentation.
        """
        if obj.name not in DEFAULT_OBJECTS:
            offered = ", ".join(DEFAULT_OBJECTS)
            msg = f"HubSpot has no dataset {obj.name!r}; it offers {offered}"
            raise ConfigurationError(msg)
        api = self._client()
        end = _epoch_ms(context.started_at)
        with api.http.recording(context.metrics):
            if obj.name == "owners":
                return (yield from read_owners(api, context, end))
            if obj.name == "pipelines":
                return (yield from read_pipelines(api, context, end))
            if obj.name in ASSOCIATION_OBJECTS:
                return (
                    yield from read_associations(
                        api,
                        context,
                        end,
                        dataset=obj.name,
                        pairs=ASSOCIATION_OBJECTS[obj.name],
                        page_size=self.page_size,
                    )
                )
            if obj.name == "engagements" and self.legacy_engagements:
                return (yield from read_legacy_engagements(api, context, end))
            types_ = _RECORD_OBJECTS[obj.name]
            cursor = _CURSORS.get(obj.name, _DEFAULT_CURSOR)
            described = {kind: api.properties(kind) for kind in types_}
            try:
                plan = plan_from_properties(
                    obj.name,
                    described,
                    cursor=cursor,
                    engagement=obj.name == "engagements",
                )
            except ValueError as exc:
                if isinstance(exc, SchemaError):
                    raise
                raise UnexpectedResponseError(
                    f"the properties API's answer cannot be read: {exc}",
                    source=SYSTEM,
                    object_type=obj.name,
                    method="GET",
                    path=f"/crm/v3/properties/{types_[0]}",
                ) from None
            run = RecordSync(api, plan, context, self._settings(), end)
            if obj.mode == "full":
                return (yield from run.full())
            return (yield from run.incremental(state))


def _epoch_ms(value: dt.datetime) -> int:
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (value.astimezone(dt.timezone.utc) - epoch) // dt.timedelta(milliseconds=1)
