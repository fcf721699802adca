"""Salesforce: Opportunity, Account, Contact, Task, Event, User, and any other object.

>>> from revops_ingest.sources.salesforce import RefreshTokenAuth, SalesforceSource
>>> source = SalesforceSource(
...     auth=RefreshTokenAuth(
...         "https://login.salesforce.com/services/oauth2/token",
...         "consumer-key",
...         "consumer-secret",
...         "refresh-token",
...     ),
... )
>>> [spec.name for spec in source.objects()]
['Opportunity', 'Account', 'Contact', 'Task', 'Event', 'User']

Constructing a source does no IO; the first sync fetches a token (and the org's
``instance_url`` from it, unless given) and each object's ``describe``. What a sync
does is in ``docs/sources/salesforce.md``: exact incremental windows on
SystemModstamp through ``queryAll``, a look-back for late commits with
de-duplication, tombstones for hard deletes from the deleted-records log (and an id
reconciliation when the log has a gap), Bulk API 2.0 for big reads, and the org's API
quota in the audit row.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import typing

import attrs

from revops_ingest._http import HttpClient, RetryPolicy, Timeouts
from revops_ingest._source import ClosingSource, ObjectSpec
from revops_ingest.exceptions import ConfigurationError
from revops_ingest.sources._salesforce_api import SalesforceApi, classify, observe
from revops_ingest.sources._salesforce_auth import (
    ClientCredentialsAuth,
    JwtBearerAuth,
    RefreshTokenAuth,
)
from revops_ingest.sources._salesforce_bulk import BLOCKLIST, BulkOptions
from revops_ingest.sources._salesforce_sync import ObjectSync, Settings
from revops_ingest.sources._salesforce_types import (
    TOMBSTONE_COLUMN,
    plan_from_describe,
)


if typing.TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable, Mapping, Sequence

    import pyarrow as pa
    import requests

    from revops_ingest._auth import Auth
    from revops_ingest._source import FetchContext, JSONValue, State


__all__ = [  # noqa: RUF022 - plain sorted(), as tests/test_public_api.py checks
    "BULK_BLOCKLIST",
    "ClientCredentialsAuth",
    "DEFAULT_API_VERSION",
    "DEFAULT_OBJECTS",
    "JwtBearerAuth",
    "RefreshTokenAuth",
    "SYSTEM",
    "SalesforceObject",
    "SalesforceSource",
    "TOMBSTONE_COLUMN",
]

SYSTEM = "Salesforce"
"""The system name; raw datasets land in ``/Salesforce/Raw/<Object>``."""

DEFAULT_API_VERSION = "62.0"
DEFAULT_OBJECTS = ("Opportunity", "Account", "Contact", "Task", "Event", "User")
"""The objects a source offers unless told otherwise."""

BULK_BLOCKLIST = BLOCKLIST
"""Objects the Bulk API does not support; always read through REST."""

_FULL_BY_DEFAULT = frozenset({"User"})
_VERSION = re.compile(r"^v?(\d{2,3}\.\d)$")
_MIN_BATCH, _MAX_BATCH = 200, 2000


def _field_names(value: Iterable[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):  # ("Name") is a str, not a 1-tuple: forgive it
        return (value,)
    return tuple(value)


@attrs.frozen(kw_only=True)
class SalesforceObject:
    """One object to sync, and how.

    Attributes:
        name: The object's API name (``Opportunity``, ``Invoice__c``); also the
            raw dataset's name.
        mode: ``"incremental"`` (changes since the last sync, with deletes) or
            ``"full"`` (every row on every sync).
        fields: The fields to read; by default every field describe lists (but
            compound and base64 ones). ``Id``, the cursor and ``IsDeleted`` are
            always read.
    """

    name: str
    mode: typing.Literal["incremental", "full"] = "incremental"
    fields: tuple[str, ...] | None = attrs.field(default=None, converter=_field_names)

    def spec(self) -> ObjectSpec:
        """The engine's :class:`~revops_ingest.sources.ObjectSpec` of this object."""
        return ObjectSpec(
            name=self.name,
            primary_key=("Id",),
            cursor="SystemModstamp" if self.mode == "incremental" else None,
            mode=self.mode,
        )


def _objects(
    value: Iterable[str | SalesforceObject],
) -> tuple[SalesforceObject, ...]:
    if isinstance(value, (str, SalesforceObject)):
        value = (value,)
    result: list[SalesforceObject] = []
    for item in typing.cast("Iterable[object]", value):
        if isinstance(item, str):
            mode: typing.Literal["incremental", "full"] = (
                "full" if item in _FULL_BY_DEFAULT else "incremental"
            )
            item = SalesforceObject(name=item, mode=mode)  # noqa: PLW2901
        elif not isinstance(item, SalesforceObject):
            msg = (
                "objects must hold object names or SalesforceObject s, not "
                f"{type(item).__name__}"
            )
            raise ConfigurationError(msg)
        ObjectSpec(name=item.name, primary_key=("Id",))  # checks the name
        result.append(item)
    names = [o.name.lower() for o in result]
    if len(set(names)) != len(names):
        msg = "objects must not name an object twice"
        raise ConfigurationError(msg)
    return tuple(result)


def _api_version(value: str) -> str:
    match = _VERSION.match(str(value).strip())
    if match is None:
        msg = f"api_version must look like '62.0', not {value!r}"
        raise ConfigurationError(msg)
    return match.group(1)


def _instance_url(value: str | None) -> str | None:
    if value is None:
        return None
    if not re.match(r"^https?://[^/]+/?$", value):
        msg = (
            "instance_url must be the org's root URL, such as "
            f"'https://acme.my.salesforce.com', not {value!r}"
        )
        raise ConfigurationError(msg)
    return value.rstrip("/")


def _check_batch_size(
    _inst: object, _attribute: attrs.Attribute[int], value: int
) -> None:
    if not _MIN_BATCH <= value <= _MAX_BATCH:
        msg = f"batch_size must be between 200 and 2000, not {value!r}"
        raise ConfigurationError(msg)


def _check_share(
    _inst: object, _attribute: attrs.Attribute[float | None], value: float | None
) -> None:
    if value is not None and not 0 < value <= 1:
        msg = f"max_quota_share must be in (0, 1], such as 0.5, not {value!r}"
        raise ConfigurationError(msg)


def _check_not_negative(
    _inst: object, attribute: attrs.Attribute[typing.Any], value: typing.Any
) -> None:
    if value is None:
        return
    zero = dt.timedelta(0) if isinstance(value, dt.timedelta) else 0
    if value < zero:
        msg = f"{attribute.name} must not be negative, not {value!r}"
        raise ConfigurationError(msg)


def _check_positive(
    _inst: object, attribute: attrs.Attribute[typing.Any], value: typing.Any
) -> None:
    if not value > 0:
        msg = f"{attribute.name} must be greater than 0, not {value!r}"
        raise ConfigurationError(msg)


@attrs.define(kw_only=True)
class SalesforceSource(ClosingSource):
    """The Salesforce source: a :class:`~revops_ingest.sources.Source`.

    Args:
        auth: :class:`RefreshTokenAuth`, :class:`ClientCredentialsAuth`,
            :class:`JwtBearerAuth` (or any :class:`~revops_ingest.http.Auth`, with
            *instance_url*).
        instance_url: The org's API host (``https://acme.my.salesforce.com``);
            by default the ``instance_url`` of the token response.
        api_version: The REST API version, such as ``"62.0"`` (Bulk API 2.0
            queries need 47.0 or later).
        objects: The objects to offer: names (``User`` is then a full object,
            the others incremental) or :class:`SalesforceObject` s for modes and
            field lists; by default :data:`DEFAULT_OBJECTS`. Any queryable object
            may be named, such as ``(*DEFAULT_OBJECTS, "Invoice__c")``.
        lookback: How far before the last watermark each incremental window
            starts, to land rows that committed late; rows landed before are
            recognised and dropped.
        batch_size: Rows per REST page (``Sforce-Query-Options: batchSize``,
            200 to 2000; Salesforce treats it as a hint).
        bulk_threshold: From how many rows a read goes through Bulk API 2.0
            instead of REST: the first REST page's ``totalSize`` (the count of
            the whole window) decides. ``None`` for never, 0 for always.
        bulk_max_records: Rows per Bulk results page (``maxRecords``).
        bulk_timeout: Seconds to wait for a Bulk job before the sync fails.
        bulk_blocklist: Objects never read through Bulk.
        include_base64: Read base64 fields (REST only; their values are URLs to
            the binary content).
        max_quota_share: Stop the sync, failed with a
            :class:`~revops_ingest.exceptions.QuotaExceededError`, before the
            org's rolling 24-hour API usage passes this share of its allocation.
        recent_limit: The most ``(Id, stamp)`` pairs of the last look-back span
            kept in the state to recognise re-read rows.
        timeouts: Connect and read time-outs.
        retry: Retries of throttled and failed requests.
        session: A ``requests.Session`` to use (proxies, certificates).
        sleep: How to wait (backoff, Bulk polling); injectable for tests.
    """

    auth: Auth
    instance_url: str | None = attrs.field(default=None, converter=_instance_url)
    api_version: str = attrs.field(default=DEFAULT_API_VERSION, converter=_api_version)
    _objects: tuple[SalesforceObject, ...] = attrs.field(
        default=DEFAULT_OBJECTS, converter=_objects, alias="objects"
    )
    lookback: dt.timedelta = attrs.field(
        default=dt.timedelta(minutes=5), validator=_check_not_negative
    )
    batch_size: int = attrs.field(default=2000, validator=_check_batch_size)
    bulk_threshold: int | None = attrs.field(
        default=50_000, validator=_check_not_negative
    )
    bulk_max_records: int = attrs.field(default=20_000, validator=_check_positive)
    bulk_timeout: float = attrs.field(default=3600.0, validator=_check_positive)
    bulk_blocklist: frozenset[str] = attrs.field(
        default=BULK_BLOCKLIST, converter=frozenset
    )
    include_base64: bool = False
    max_quota_share: float | None = attrs.field(default=None, validator=_check_share)
    recent_limit: int = attrs.field(default=20_000, validator=_check_positive)
    timeouts: Timeouts = attrs.Factory(Timeouts)
    retry: RetryPolicy = attrs.Factory(RetryPolicy)
    session: requests.Session | None = attrs.field(default=None, repr=False)
    sleep: Callable[[float], None] = attrs.field(default=time.sleep, repr=False)
    _api: SalesforceApi | None = attrs.field(default=None, init=False, repr=False)

    system: typing.ClassVar[str] = SYSTEM

    def objects(self) -> Sequence[ObjectSpec]:
        """The configured objects (by default :data:`DEFAULT_OBJECTS`)."""
        return tuple(o.spec() for o in self._objects)

    def _client(self) -> SalesforceApi:
        """The REST calls and their HTTP client, created on first use."""
        if self._api is None:
            base_url = self.instance_url or _origin(getattr(self.auth, "token_url", ""))
            http = HttpClient(
                source=SYSTEM,
                base_url=base_url,
                auth=self.auth,
                timeouts=self.timeouts,
                retry=self.retry,
                classify=classify,
                observe=observe,
                session=self.session,
                headers={"Accept": "application/json"},
                sleep=self.sleep,
            )
            self._api = SalesforceApi(
                http,
                self.api_version,
                instance_url=self.instance_url,
                max_quota_share=self.max_quota_share,
            )
        return self._api

    def close(self) -> None:
        """Close the HTTP client (its session, unless *session* was given)."""
        if self._api is not None:
            self._api.http.close()
            self._api = None

    def _object(self, spec: ObjectSpec) -> SalesforceObject:
        for item in self._objects:
            if item.name == spec.name:
                return item
        # Not configured: an ObjectSpec made by the caller for any object.
        return SalesforceObject(name=spec.name, mode=spec.mode)

    def _settings(self) -> Settings:
        """The options an object sync needs."""
        return Settings(
            lookback_ms=int(self.lookback / dt.timedelta(milliseconds=1)),
            batch_size=self.batch_size,
            bulk_threshold=self.bulk_threshold,
            bulk_blocklist=self.bulk_blocklist,
            bulk=BulkOptions(
                max_records=self.bulk_max_records, timeout=self.bulk_timeout
            ),
            recent_limit=self.recent_limit,
        )

    def fetch(
        self,
        obj: ObjectSpec,
        state: Mapping[str, JSONValue] | None,
        context: FetchContext,
    ) -> Generator[pa.RecordBatch, None, State]:
        """Yield the object's rows changed since *state*; return the new state.

        Full objects yield every row. Incremental objects yield the window since
        the last watermark, then tombstones for deleted records; see the module
        documentation.
        """
        config = self._object(obj)
        api = self._client()
        with api.http.recording(context.metrics):
            api.connect()
            plan = plan_from_describe(
                api.describe(obj.name),
                fields=config.fields,
                include_base64=self.include_base64,
            )
            run = ObjectSync(api, plan, context, self._settings())
            if obj.mode == "full":
                return (yield from run.full())
            if plan.cursor is None:
                context.warn(
                    f"Salesforce {obj.name} has no SystemModstamp, LastModifiedDate "
                    "or CreatedDate; every row is read on every sync"
                )
                return (yield from run.full())
            return (yield from run.incremental(state))


def _origin(url: str) -> str:
    match = re.match(r"^(https?://[^/]+)", url)
    if match is None:
        msg = (
            "Salesforce: pass instance_url=, or an auth with a token_url such as "
            "'https://login.salesforce.com/services/oauth2/token'"
        )
        raise ConfigurationError(msg)
    return match.group(1)
