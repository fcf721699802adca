"""Salesforce's OAuth, REST and Bulk API 2.0 query endpoints on 127.0.0.1.

:class:`SalesforceEmulator` speaks the real protocol, so a Salesforce client works
against it unchanged (point its login host and instance at :attr:`url`):

- ``POST /services/oauth2/token`` with the ``refresh_token``,
  ``client_credentials`` and JWT bearer grants (RS256, verified against
  :attr:`SalesforceEmulator.jwt_public_key_pem`);
- ``GET /services/data/`` (versions), ``.../sobjects/``, ``.../sobjects/X/describe``,
  ``.../sobjects/X/{id}`` and base64 blobs, ``.../limits``;
- ``.../query`` and ``.../queryAll`` with a SOQL subset (see
  :mod:`~revops_ingest.testing._salesforce_soql`), ``Sforce-Query-Options:
  batchSize=N`` and server-side cursors (``nextRecordsUrl``) that expire after 15
  minutes idle, at most 10 open;
- ``.../sobjects/X/updated/`` and ``.../sobjects/X/deleted/`` (replication);
- Bulk API 2.0 query jobs: create, poll, CSV results paged by ``Sforce-Locator``,
  abort, delete.

Errors are Salesforce's JSON arrays ``[{"message": ..., "errorCode": ...}]``, and
every response under ``/services/data`` carries ``Sforce-Limit-Info``. The data are
seeded and realistic (see :mod:`~revops_ingest.testing._salesforce_data`), and
tests change them between syncs with :meth:`~SalesforceEmulator.create`,
:meth:`~SalesforceEmulator.update`, :meth:`~SalesforceEmulator.delete` and friends.
"""

from __future__ import annotations

import base64
import binascii
import collections
import csv
import datetime as dt
import functools
import hashlib
import hmac
import io
import json
import re
import secrets
import threading
import typing
import urllib.parse

import attrs

from revops_ingest.testing._emulator import Emulator, Fault, Request, Response, route
from revops_ingest.testing._salesforce_data import (
    FORMULAS,
    FieldSpec,
    Generator,
    ObjectSpec,
    default_schema,
    make_id,
    stage_facts,
)
from revops_ingest.testing._salesforce_soql import (
    ResolvedField,
    SoqlError,
    compile_where,
    parse_datetime,
    parse_soql,
    sort_rows,
)


if typing.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence


__all__ = ["SalesforceEmulator"]

Row: typing.TypeAlias = "Mapping[str, typing.Any]"
Record: typing.TypeAlias = "dict[str, typing.Any]"
_Formatter: typing.TypeAlias = "Callable[[Row], typing.Any]"
P = typing.ParamSpec("P")

_UTC = dt.timezone.utc
_ZERO = dt.timedelta(0)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)
_JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_JWT_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
# The docs ask for an ``exp`` "within 3 minutes"; we accept up to 5 (clock skew).
_JWT_MAX_AHEAD = dt.timedelta(minutes=5)
_LOCATOR_IDLE = dt.timedelta(minutes=15)
_MAX_CURSORS = 10
_BATCH_MIN, _BATCH_MAX = 200, 2000
_UPDATED_WINDOW = dt.timedelta(days=30)
_DELETED_LOG_DAYS = dt.timedelta(days=15)
_MAX_REPLICATION_IDS = 600_000
_OLDEST_VERSION = 31
_DELIMITERS = {
    "COMMA": ",",
    "TAB": "\t",
    "PIPE": "|",
    "SEMICOLON": ";",
    "CARET": "^",
    "BACKQUOTE": "`",
}
_LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
_NOT_FOUND = "The requested resource does not exist"


# ---------------------------------------------------------------- helpers


def _error(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    return Response.json(
        [{"message": message, "errorCode": code}], status=status, headers=headers
    )


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    return Response.json(
        {"error": error, "error_description": description},
        status=status,
        headers={
            "Cache-Control": "no-cache,must-revalidate,max-age=0,no-store,private"
        },
    )


@functools.lru_cache(maxsize=1 << 18)  # syncs and benchmarks re-read the same stamps
def _utc_millis(value: dt.datetime) -> str:
    """Return ``YYYY-MM-DDThh:mm:ss.sss`` of *value* in UTC."""
    if value.utcoffset() != _ZERO:
        value = value.astimezone(_UTC)
    return value.isoformat(timespec="milliseconds")[:23]


def _rest_datetime(value: dt.datetime) -> str:
    return _utc_millis(value) + "+0000"


def _bulk_datetime(value: dt.datetime) -> str:
    return _utc_millis(value) + "Z"


def _floor_minute(value: dt.datetime) -> dt.datetime:
    return value.replace(second=0, microsecond=0)


def _python_value(where: str, kind: str, value: typing.Any) -> typing.Any:
    """Return *value* as stored: ISO strings become dates and datetimes."""
    if kind == "datetime" and isinstance(value, str):
        return parse_datetime(value, require_zone=False)
    if kind == "datetime" and isinstance(value, dt.datetime):
        if value.tzinfo is None:
            msg = f"{where}: datetimes must be aware"
            raise ValueError(msg)
        return value.astimezone(_UTC)
    if kind == "date" and isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value


def _token_form(request: Request) -> dict[str, str] | None:
    """Return the token request's parameters (query, form, HTTP Basic client auth)."""
    try:
        form = {name: values[0] for name, values in request.query.items()}
        form.update(request.form())
        scheme, _, credentials = (request.headers.get("Authorization") or "").partition(
            " "
        )
        if scheme.lower() == "basic":
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
            client_id, _, client_secret = decoded.partition(":")
            form.setdefault("client_id", urllib.parse.unquote(client_id))
            form.setdefault("client_secret", urllib.parse.unquote(client_secret))
    except (UnicodeDecodeError, binascii.Error):
        return None
    return form


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _season(version: float) -> str:
    # v62.0 is Winter '25; three releases a year.
    step = int(version) - 62
    season = ("Winter", "Spring", "Summer")[step % 3]
    return f"{season} '{25 + step // 3:02d}"


@functools.cache
def _jwt_keys() -> tuple[bytes, bytes]:
    """Return one RSA key pair (PEM private, PEM public) for the whole process."""
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    return private, public


def _rs256_valid(public_pem: bytes, signing_input: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: PLC0415

    key = serialization.load_pem_public_key(public_pem)
    if not isinstance(key, rsa.RSAPublicKey):  # pragma: no cover - our own key
        return False
    try:
        key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def _api(
    handler: Callable[typing.Concatenate[SalesforceEmulator, Request, P], Response],
) -> Callable[typing.Concatenate[SalesforceEmulator, Request, P], Response]:
    """Check the bearer token and the quota, count the call, add Sforce-Limit-Info."""

    @functools.wraps(handler)
    def guarded(
        self: SalesforceEmulator, request: Request, /, *args: P.args, **kwargs: P.kwargs
    ) -> Response:
        version = kwargs.get("version")
        denied = self._admit(request, version if isinstance(version, str) else None)
        response = denied or handler(self, request, *args, **kwargs)
        return self._with_usage(response)

    return guarded


# ---------------------------------------------------------------- state


@attrs.define
class _Token:
    grant: str
    calls: int = 0
    revoked: bool = False


@attrs.frozen
class _Column:
    """A selected field: where its value lives and how to read it."""

    name: str  # canonical path: "Name" or "Owner.Name"
    spec: FieldSpec  # the field (on the parent object for a relationship)
    sobject: str  # the object holding the field
    reference: FieldSpec | None  # the reference field, for Owner.Name
    read: Callable[[Row], typing.Any]  # from the record holding the field
    get: Callable[[Row], typing.Any]  # from the queried record


@attrs.frozen
class _Result:
    sobject: ObjectSpec
    columns: tuple[_Column, ...]
    rows: Sequence[Row]
    count: bool


@attrs.define
class _Cursor:
    result: _Result
    batch_size: int
    last_used: dt.datetime


@attrs.define
class _BulkJob:
    id: str
    operation: str
    sobject: str
    version: str
    created: dt.datetime
    modstamp: dt.datetime
    delimiter: str
    line_ending: str
    result: _Result
    state: str = "UploadComplete"
    polls: int = 0
    fail_with: str | None = None
    error: str | None = None


# ---------------------------------------------------------------- the emulator


class SalesforceEmulator(Emulator):
    """Salesforce (OAuth, REST query, replication, Bulk API 2.0) on loopback.

    Use it as a context manager and point a client's login host and instance URL
    at :attr:`url`::

        with SalesforceEmulator(seed=1, now=clock) as sf:
            token = requests.post(sf.token_url, data={
                "grant_type": "refresh_token", "client_id": sf.client_id,
                "client_secret": sf.client_secret, "refresh_token": sf.refresh_token,
            }).json()["access_token"]
            sf.update("Opportunity", opportunity_id, StageName="Closed Won")
            sf.delete("Account", account_id)        # Recycle Bin: queryAll only
            sf.inject(Fault.status(503, times=2))   # any framework fault

    Args:
        seed: Seed of the data generator; the same seed and clock give the same data.
        api_version: The newest API version served, such as ``"62.0"``.
        accounts: Accounts to generate (with 3 contacts, 2 opportunities, 3 tasks
            and 1 event each).
        users: Users to generate; the first is the integration user *username*.
        client_id: The connected app's consumer key.
        client_secret: The connected app's consumer secret.
        refresh_token: The refresh token the token endpoint accepts.
        username: The integration user (the JWT ``sub``).
        rotate_refresh_token: Whether each refresh returns a new refresh token and
            invalidates the old one.
        token_ttl_calls: If set, an access token dies after this many API calls.
        daily_api_limit: The org's daily API request allocation.
        now: The emulator's clock (aware datetimes); the data are dated before it.
        bulk_polls_until_complete: Job-info polls before a Bulk job is complete.
        bulk_page_size: Rows per Bulk results page when the client sends no
            ``maxRecords``.
        strict_deleted_window: Answer ``deleted/`` with 400
            ``INVALID_REPLICATION_DATE`` when ``start`` is before
            ``earliestDateAvailable``, instead of answering with the records still
            known (and an ``earliestDateAvailable`` later than ``start``).
        host: The interface to listen on.
        port: The port to listen on; 0 picks a free one.

    Attributes:
        api_version: The newest API version served.
        records: Object name -> Id -> record (API field names, Python values).
            Compound and formula fields are computed when read, not stored.
        access_tokens_issued: Access tokens issued (by the token endpoint or
            :meth:`issue_access_token`).
        api_calls: REST calls counted towards the daily limit.
        schema: Object name -> its ``ObjectSpec`` (the emulated describe).
        org_id: The org's Id (``00D...``).
        user_id: The integration user's Id (owner of created records).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        api_version: str = "62.0",
        accounts: int = 20,
        users: int = 5,
        client_id: str = "sf-client-id",
        client_secret: str = "sf-client-secret",  # noqa: S107 - a fixture value
        refresh_token: str = "sf-refresh-token",  # noqa: S107 - a fixture value
        username: str = "integration@example.com",
        rotate_refresh_token: bool = False,
        token_ttl_calls: int | None = None,
        daily_api_limit: int = 100_000,
        now: Callable[[], dt.datetime] | None = None,
        bulk_polls_until_complete: int = 2,
        bulk_page_size: int = 50_000,
        strict_deleted_window: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.api_version = api_version
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.username = username
        self.rotate_refresh_token = rotate_refresh_token
        self.token_ttl_calls = token_ttl_calls
        self.daily_api_limit = daily_api_limit
        self.bulk_polls_until_complete = bulk_polls_until_complete
        self.bulk_page_size = bulk_page_size
        self.strict_deleted_window = strict_deleted_window
        self.access_tokens_issued = 0
        self.api_calls = 0
        self._clock = now or (lambda: dt.datetime.now(_UTC))
        self._lock = threading.RLock()
        self._generator = Generator.seeded(seed)
        self._counters: collections.Counter[str] = collections.Counter()
        self._tokens: dict[str, _Token] = {}
        self._cursors: collections.OrderedDict[str, _Cursor] = collections.OrderedDict()
        self._jobs: dict[str, _BulkJob] = {}
        self._bulk_failures: list[str] = []
        self._deleted_log: dict[str, list[tuple[str, dt.datetime]]] = {}
        self._log_floor = dt.datetime.min.replace(tzinfo=_UTC)
        self._getters: dict[tuple[str, str], Callable[[Row], typing.Any]] = {}
        self.schema: dict[str, ObjectSpec] = default_schema()
        self._by_prefix = {obj.key_prefix: obj.name for obj in self.schema.values()}
        self.records: dict[str, dict[str, Record]] = {name: {} for name in self.schema}
        self.org_id = make_id("00D", 1)
        self.user_id = self._populate(users=users, accounts=accounts)

    # ------------------------------------------------------------ addresses

    @property
    def token_url(self) -> str:
        """The OAuth token endpoint, ``{url}/services/oauth2/token``."""
        return f"{self.url}/services/oauth2/token"

    @property
    def instance_url(self) -> str:
        """The org's instance URL (the same server as :attr:`url`)."""
        return self.url

    @property
    def jwt_private_key_pem(self) -> bytes:
        """The RSA private key (PKCS#8 PEM) a client signs JWT assertions with."""
        return _jwt_keys()[0]

    @property
    def jwt_public_key_pem(self) -> bytes:
        """The public key the token endpoint verifies JWT assertions with."""
        return _jwt_keys()[1]

    @property
    def open_cursors(self) -> int:
        """Query locators currently open (not finished, released or expired)."""
        with self._lock:
            self._expire_cursors()
            return len(self._cursors)

    # ------------------------------------------------------------ clock

    def _now(self) -> dt.datetime:
        value = self._clock()
        if value.tzinfo is None:
            msg = "the emulator's clock must return aware datetimes"
            raise ValueError(msg)
        return value.astimezone(_UTC)

    def _stamp_now(self) -> dt.datetime:
        # Salesforce keeps audit stamps to the second (they read ".000").
        return self._now().replace(microsecond=0)

    # ------------------------------------------------------------ data helpers

    def _object(self, sobject: str) -> ObjectSpec:
        for name, obj in self.schema.items():
            if name.lower() == sobject.lower():
                return obj
        msg = f"unknown object {sobject!r}; known: {sorted(self.schema)}"
        raise KeyError(msg)

    def _new_id(self, obj: ObjectSpec) -> str:
        self._counters[obj.name] += 1
        return make_id(obj.key_prefix, self._counters[obj.name])

    def _lookup(self, record_id: str | None) -> Row | None:
        if not record_id:
            return None
        name = self._by_prefix.get(record_id[:3])
        if name is None:
            return None
        table = self.records[name]
        found = table.get(record_id)
        if found is None and len(record_id) == 15:  # noqa: PLR2004
            found = next((r for i, r in table.items() if i[:15] == record_id), None)
        return found

    def _clean(self, obj: ObjectSpec, fields: Mapping[str, typing.Any]) -> Record:
        """Check field names and turn ISO strings into dates and datetimes."""
        out: Record = {}
        for name, value in fields.items():
            spec = obj.get(name)
            if spec is None or not spec.stored:
                msg = f"{obj.name} has no stored field {name!r}"
                raise KeyError(msg)
            out[spec.name] = _python_value(f"{obj.name}.{name}", spec.type, value)
        return out

    def _derive(
        self, obj: ObjectSpec, record: Record, given: Mapping[str, typing.Any]
    ) -> None:
        """Fill in what Salesforce derives from other fields."""
        if obj.name in {"Contact", "User"} and {"FirstName", "LastName"} & set(given):
            first, last = record.get("FirstName"), record.get("LastName")
            record["Name"] = " ".join(part for part in (first, last) if part)
        if obj.name == "Opportunity" and "StageName" in given:
            for name, value in stage_facts(record.get("StageName")).items():
                if name not in given:
                    record[name] = value
        if obj.name in {"Task", "Event"} and "AccountId" not in given:
            what = self._lookup(record.get("WhatId"))
            who = self._lookup(record.get("WhoId"))
            account = None
            if what is not None:
                account = (
                    what["Id"]
                    if what["Id"].startswith("001")
                    else what.get("AccountId")
                )
            if account is None and who is not None:
                account = who.get("AccountId")
            record["AccountId"] = account
        if (
            obj.name == "Event"
            and "EndDateTime" not in given
            and record.get("StartDateTime") is not None
            and record.get("DurationInMinutes") is not None
        ):
            record["EndDateTime"] = record["StartDateTime"] + dt.timedelta(
                minutes=record["DurationInMinutes"]
            )

    # ------------------------------------------------------------ data API

    def create(self, sobject: str, **fields: typing.Any) -> str:
        """Create a record now and return its new 18-character Id.

        Unset fields are null; CreatedDate, LastModifiedDate and SystemModstamp are
        now unless given (as aware datetimes or ISO strings; a given SystemModstamp
        alone sets LastModifiedDate too), OwnerId and the audit user fields are the
        integration user unless given. Derived fields follow
        Salesforce (an opportunity's Probability from its StageName, a contact's
        Name from its first and last names...).
        """
        obj = self._object(sobject)
        with self._lock:
            given = self._clean(obj, fields)
            now = self._stamp_now()
            record: Record = {
                name: None for name, spec in obj.fields.items() if spec.stored
            }
            record["Id"] = given.pop("Id", None) or self._new_id(obj)
            if obj.has_is_deleted:
                record["IsDeleted"] = False
            record.update(
                CreatedDate=now,
                CreatedById=self.user_id,
                LastModifiedDate=now,
                LastModifiedById=self.user_id,
                SystemModstamp=now,
            )
            if "OwnerId" in obj.fields:
                record["OwnerId"] = self.user_id
            record.update(given)
            stamp = given.get("SystemModstamp")
            if stamp is not None:  # keep CreatedDate <= LastModifiedDate <= the stamp
                if "LastModifiedDate" not in given:
                    record["LastModifiedDate"] = stamp
                if "CreatedDate" not in given:
                    record["CreatedDate"] = min(record["CreatedDate"], stamp)
            derived = dict(given)
            if obj.name == "Opportunity":
                derived.setdefault("StageName", record.get("StageName"))
            if obj.name in {"Contact", "User"}:
                derived.setdefault("LastName", record.get("LastName"))
            self._derive(obj, record, derived)
            self.records[obj.name][record["Id"]] = record
            return typing.cast("str", record["Id"])

    def update(self, sobject: str, record_id: str, **fields: typing.Any) -> None:
        """Change a record, as a user would now.

        LastModifiedDate and SystemModstamp move to now, unless ``SystemModstamp=``
        is given: then both take that value (unless LastModifiedDate is given too),
        which builds ties and late-arriving commits.
        """
        obj = self._object(sobject)
        with self._lock:
            given = self._clean(obj, fields)
            record = dict(self.records[obj.name][record_id])
            record.update(given)
            self._derive(obj, record, given)
            stamp = given.get("SystemModstamp") or self._stamp_now()
            record["SystemModstamp"] = stamp
            if "LastModifiedById" not in given:
                record["LastModifiedById"] = self.user_id
            if "LastModifiedDate" not in given:
                record["LastModifiedDate"] = stamp
            # Copy on write: open cursors and Bulk jobs keep the old snapshot.
            self.records[obj.name][record_id] = record

    def delete(self, sobject: str, record_id: str) -> None:
        """Delete a record into the Recycle Bin (``IsDeleted`` true, in queryAll)."""
        obj = self._object(sobject)
        if not obj.has_is_deleted:
            msg = f"{obj.name} records cannot be deleted in Salesforce"
            raise ValueError(msg)
        with self._lock:
            record = dict(self.records[obj.name][record_id])
            if record.get("IsDeleted"):
                msg = f"{obj.name} {record_id} is deleted already"
                raise ValueError(msg)
            now = self._stamp_now()
            record.update(IsDeleted=True, SystemModstamp=now, LastModifiedDate=now)
            self.records[obj.name][record_id] = record
            self._deleted_log.setdefault(obj.name, []).append((record_id, now))

    def purge(self, sobject: str, record_id: str) -> None:
        """Remove a record from the Recycle Bin for good (gone from queryAll too).

        A record that was not deleted first is hard-deleted, and logged as deleted.
        """
        obj = self._object(sobject)
        with self._lock:
            record = self.records[obj.name].pop(record_id)
            if not record.get("IsDeleted"):
                self._deleted_log.setdefault(obj.name, []).append(
                    (record_id, self._stamp_now())
                )

    def purge_deleted_log(self, before: dt.datetime) -> None:
        """Forget deletions before *before*, as a purged Recycle Bin does.

        ``earliestDateAvailable`` of the ``deleted/`` resource moves to *before*.
        """
        if before.tzinfo is None:
            msg = "before must be an aware datetime"
            raise ValueError(msg)
        with self._lock:
            self._log_floor = max(self._log_floor, before.astimezone(_UTC))
            for name, entries in self._deleted_log.items():
                self._deleted_log[name] = [e for e in entries if e[1] >= before]

    def add_field(
        self,
        sobject: str,
        name: str,
        type: str,  # noqa: A002 - the describe attribute's name
        **describe_attrs: typing.Any,
    ) -> None:
        """Add a field (such as ``MyCompetitor__c``) to an object from now on.

        It appears in describe and may be queried; existing records hold null.
        *describe_attrs* are describe attributes (``label``, ``length``,
        ``calculated``, ``calculatedFormula``, ``picklistValues``, ``referenceTo``,
        ``relationshipName``, ``compoundFieldName``, ``filterable``...).
        """
        obj = self._object(sobject)
        spec = FieldSpec.from_describe(name, type, describe_attrs)
        with self._lock:
            obj.add(spec)
            self._getters.clear()
            if spec.stored:
                for record in self.records[obj.name].values():
                    record.setdefault(name, None)

    def set_stamps(self, sobject: str, ids: Iterable[str], stamp: dt.datetime) -> None:
        """Give the records *ids* the same SystemModstamp (and LastModifiedDate)."""
        obj = self._object(sobject)
        (stamp,) = self._clean(obj, {"SystemModstamp": stamp}).values()
        with self._lock:
            table = self.records[obj.name]
            for record_id in ids:
                record = dict(table[record_id])
                record["SystemModstamp"] = stamp
                record["LastModifiedDate"] = stamp
                record["CreatedDate"] = min(record["CreatedDate"], stamp)
                table[record_id] = record

    def generate(
        self, sobject: str, n: int, *, stamp: dt.datetime | None = None
    ) -> list[str]:
        """Add *n* realistic records of *sobject*; return their Ids.

        Parents (accounts, contacts, opportunities, owners) are picked among the
        existing records. With *stamp*, every new record was last modified then.
        """
        obj = self._object(sobject)
        if stamp is not None:
            (stamp,) = self._clean(obj, {"SystemModstamp": stamp}).values()
        with self._lock:
            return self._generate(obj, n, stamp)

    def expire_tokens(self) -> None:
        """Invalidate every access token issued so far (their next call gets 401)."""
        with self._lock:
            for token in self._tokens.values():
                token.revoked = True

    def exhaust_quota(self) -> None:
        """Use up the daily API allocation: calls get 403 REQUEST_LIMIT_EXCEEDED."""
        with self._lock:
            self.api_calls = max(self.api_calls, self.daily_api_limit)

    def issue_access_token(self) -> str:
        """Return a fresh access token without a round trip (for test setup)."""
        with self._lock:
            return self._new_token("test")

    def fail_bulk_jobs(
        self,
        message: str = "InternalServerError : Failed to process query",
        *,
        times: int = 1,
    ) -> None:
        """Make the next *times* Bulk query jobs end in state Failed with *message*."""
        with self._lock:
            self._bulk_failures.extend([message] * times)

    @staticmethod
    def error_fault(
        status: int,
        error_code: str,
        message: str,
        *,
        method: str | None = None,
        path: str | None = None,
        skip: int = 0,
        times: int | None = 1,
    ) -> Fault:
        """Return a :class:`Fault` answering with a Salesforce error array.

        For example ``error_fault(503, "SERVER_UNAVAILABLE", "Server unavailable")``
        or ``error_fault(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn
        Limit exceeded.")``.
        """
        return Fault.status(
            status,
            [{"message": message, "errorCode": error_code}],
            method=method,
            path=path,
            skip=skip,
            times=times,
        )

    # ------------------------------------------------------------ generation

    def _base(
        self,
        obj: ObjectSpec,
        stamps: tuple[dt.datetime, dt.datetime, dt.datetime],
        creator: str,
        modifier: str,
    ) -> Record:
        created, modified, system = stamps
        row: Record = {"Id": self._new_id(obj)}
        if obj.has_is_deleted:
            row["IsDeleted"] = False
        row.update(
            CreatedDate=created,
            CreatedById=creator,
            LastModifiedDate=modified,
            LastModifiedById=modifier,
            SystemModstamp=system,
        )
        return row

    def _populate(self, *, users: int, accounts: int) -> str:
        user = self._object("User")
        gen = self._generator
        now = self._now()
        integration_id = ""
        for index, stamps in enumerate(gen.stamps(now, max(1, users))):
            row = self._base(user, stamps, integration_id, integration_id)
            integration_id = integration_id or row["Id"]
            row["CreatedById"] = row["LastModifiedById"] = integration_id
            row.update(gen.user(index, username=self.username if index == 0 else None))
            if index == 0:
                row["IsActive"] = True
            self.records["User"][row["Id"]] = row
        self.user_id = integration_id
        self._generate(self._object("Account"), accounts, None)
        for name, per_account in (
            ("Contact", 3),
            ("Opportunity", 2),
            ("Task", 3),
            ("Event", 1),
        ):
            self._generate(self._object(name), accounts * per_account, None)
        return integration_id

    def _generate(
        self, obj: ObjectSpec, n: int, stamp: dt.datetime | None
    ) -> list[str]:
        gen = self._generator
        rng = gen.rng
        stamps = gen.stamps(self._now(), n, stamp)
        user_ids = list(self.records["User"]) or [self.user_id]
        live = [r for r in self.records["Account"].values() if not r.get("IsDeleted")]
        contacts = self._children("Contact", enabled=obj.name in {"Task", "Event"})
        opportunities = self._children(
            "Opportunity", enabled=obj.name in {"Task", "Event"}
        )
        rows: list[Record] = []
        for triple in stamps:
            creator = rng.choice(user_ids)
            row = self._base(obj, triple, creator, rng.choice((creator, *user_ids[:1])))
            account = rng.choice(live) if live else None
            owner = account["OwnerId"] if account is not None else rng.choice(user_ids)
            if obj.name == "User":
                row.update(gen.user(self._counters["User"]))
            elif obj.name == "Account":
                row.update(gen.account(rng.choice(user_ids)))
            elif obj.name == "Contact":
                row.update(gen.contact(account, owner))
            elif obj.name == "Opportunity":
                row.update(gen.opportunity(account, owner, triple[0]))
            else:
                row.update(
                    self._activity(
                        obj,
                        account=account,
                        owner=owner,
                        created=triple[0],
                        contacts=contacts,
                        opportunities=opportunities,
                    )
                )
            rows.append(row)
        stored = [name for name, spec in obj.fields.items() if spec.stored]
        table = self.records[obj.name]
        missing = set(stored) - set(rows[0]) if rows else set()
        for row in rows:
            for name in missing:
                row[name] = None
            table[row["Id"]] = row
        return [row["Id"] for row in rows]

    def _children(self, sobject: str, *, enabled: bool) -> dict[str | None, list[str]]:
        """Return the Ids of *sobject* records by AccountId (empty unless enabled)."""
        children: dict[str | None, list[str]] = collections.defaultdict(list)
        if enabled:
            for row in self.records[sobject].values():
                children[row["AccountId"]].append(row["Id"])
        return children

    def _activity(
        self,
        obj: ObjectSpec,
        *,
        account: Row | None,
        owner: str,
        created: dt.datetime,
        contacts: Mapping[str | None, list[str]],
        opportunities: Mapping[str | None, list[str]],
    ) -> Record:
        """Return a Task's or Event's fields, linked to *account*'s people and deals."""
        gen = self._generator
        rng = gen.rng
        account_id = None if account is None else account["Id"]
        who = rng.choice(contacts[account_id]) if contacts[account_id] else None
        what = account_id
        if opportunities[account_id] and rng.random() < 0.5:  # noqa: PLR2004
            what = rng.choice(opportunities[account_id])
        make = gen.task if obj.name == "Task" else gen.event
        return make(account_id, who, what, owner, created)

    # ------------------------------------------------------------ field access

    def _reader(self, obj: ObjectSpec, spec: FieldSpec) -> Callable[[Row], typing.Any]:
        """Return a function reading *spec*'s value from a record of *obj*."""
        key = (obj.name, spec.name)
        cached = self._getters.get(key)
        if cached is not None:
            return cached
        reader: Callable[[Row], typing.Any]
        formula = FORMULAS.get(key)
        if spec.type in {"address", "location"}:
            reader = self._compound_reader(obj, spec)
        elif formula is not None:
            lookup = self._lookup

            def reader(row: Row) -> typing.Any:
                return formula(row, lookup)

        else:
            name = spec.name

            def reader(row: Row) -> typing.Any:
                return row.get(name)

        self._getters[key] = reader
        return reader

    def _compound_reader(
        self, obj: ObjectSpec, spec: FieldSpec
    ) -> Callable[[Row], typing.Any]:
        parts: list[tuple[str, str]] = []
        prefix = spec.name.removesuffix("Address")
        for part in obj.parts(spec.name):
            if spec.type == "location":
                key = "latitude" if "Latitude" in part.name else "longitude"
            else:
                rest = part.name.removeprefix(prefix)
                key = rest[:1].lower() + rest[1:]
            parts.append((key, part.name))
        parts.sort()

        def compound(row: Row) -> dict[str, typing.Any] | None:
            value = {key: row.get(name) for key, name in parts}
            return value if any(v is not None for v in value.values()) else None

        return compound

    def _column(self, obj: ObjectSpec, name: str) -> _Column:
        if "." not in name:
            spec = obj.get(name)
            if spec is None:
                raise SoqlError(
                    "INVALID_FIELD",
                    f"No such column '{name}' on entity '{obj.name}'. If you are "
                    "attempting to use a custom field, be sure to append the '__c' "
                    "after the custom field name. Please reference your WSDL or the "
                    "describe call for the appropriate names.",
                )
            read = self._reader(obj, spec)
            return _Column(spec.name, spec, obj.name, None, read, read)
        relationship, _, field = name.partition(".")
        if "." in field:
            raise SoqlError(
                "MALFORMED_QUERY",
                "relationships of more than one level are not supported by this "
                "emulator",
            )
        reference = obj.relationship(relationship)
        if reference is None:
            raise SoqlError(
                "INVALID_FIELD",
                f"Didn't understand relationship '{relationship}' in field path. If "
                "you are attempting to use a custom relationship, be sure to append "
                "the '__r' after the custom relationship name. Please reference your "
                "WSDL or the describe call for the appropriate names.",
            )
        targets = [self.schema[t] for t in reference.reference_to if t in self.schema]
        polymorphic = len(reference.reference_to) > 1
        target = targets[0]
        spec = target.get(field)
        if spec is None or (polymorphic and spec.name not in {"Id", "Name"}):
            entity = "Name" if polymorphic else target.name
            raise SoqlError(
                "INVALID_FIELD",
                f"No such column '{field}' on entity '{entity}'. If you are "
                "attempting to use a custom field, be sure to append the '__c' after "
                "the custom field name. Please reference your WSDL or the describe "
                "call for the appropriate names.",
            )
        lookup = self._lookup
        by_prefix = self._by_prefix
        field_name = spec.name

        def read_parent(parent: Row) -> typing.Any:
            parent_obj = self.schema[by_prefix[parent["Id"][:3]]]
            parent_spec = parent_obj.get(field_name)
            if parent_spec is None:
                return None
            return self._reader(parent_obj, parent_spec)(parent)

        ref_name = reference.name

        def get(row: Row) -> typing.Any:
            parent = lookup(row.get(ref_name))
            return None if parent is None else read_parent(parent)

        return _Column(
            f"{reference.relationship}.{spec.name}",
            spec,
            target.name,
            reference,
            read_parent,
            get,
        )

    def _resolver(self, obj: ObjectSpec) -> Callable[[str], ResolvedField]:
        def resolve(name: str) -> ResolvedField:
            column = self._column(obj, name)
            return ResolvedField(
                name=column.name,
                type=column.spec.type,
                getter=column.get,
                filterable=column.spec.filterable,
                sortable=column.spec.sortable,
            )

        return resolve

    # ------------------------------------------------------------ queries

    def _query_object(self, name: str) -> ObjectSpec:
        try:
            return self._object(name)
        except KeyError:
            raise SoqlError(
                "INVALID_TYPE",
                f"sObject type '{name}' is not supported. If you are attempting to "
                "use a custom object, be sure to append the '__c' after the entity "
                "name. Please reference your WSDL or the describe call for the "
                "appropriate names.",
            ) from None

    def _execute(self, soql: str, *, include_deleted: bool) -> _Result:
        query = parse_soql(soql)
        obj = self._query_object(query.sobject)
        with self._lock:
            columns = tuple(self._column(obj, name) for name in query.fields)
            seen: set[str] = set()
            for column in columns:
                if column.name.lower() in seen:
                    raise SoqlError(
                        "MALFORMED_QUERY", f"duplicate field selected: {column.name}"
                    )
                seen.add(column.name.lower())
            resolve = self._resolver(obj)
            predicate = compile_where(query.where, resolve)
            candidates = list(self.records[obj.name].values())
        deletable = obj.has_is_deleted and not include_deleted
        rows = [
            row
            for row in candidates
            if not (deletable and row.get("IsDeleted")) and predicate(row)
        ]
        if query.order_by:
            rows = sort_rows(rows, query.order_by, resolve)
        if query.offset is not None:
            if query.offset > 2000:  # noqa: PLR2004
                raise SoqlError(
                    "NUMBER_OUTSIDE_VALID_RANGE",
                    f"Maximum SOQL offset allowed is 2000, was {query.offset}",
                )
            rows = rows[query.offset :]
        if query.limit is not None:
            rows = rows[: query.limit]
        return _Result(obj, columns, rows, query.count)

    @staticmethod
    def _json_formatter(column: _Column, version: str) -> Callable[[Row], typing.Any]:
        """Return a function giving *column*'s JSON value from the holding record."""
        read = column.read
        kind = column.spec.type
        if kind == "datetime":

            def as_datetime(holder: Row) -> typing.Any:
                value = read(holder)
                return None if value is None else _rest_datetime(value)

            return as_datetime
        if kind == "date":

            def as_date(holder: Row) -> typing.Any:
                value = read(holder)
                return None if value is None else value.isoformat()

            return as_date
        if kind == "base64":
            # REST returns a link to the blob, not the content.
            prefix = f"/services/data/v{version}/sobjects/{column.sobject}/"
            suffix = f"/{column.spec.name}"

            def as_link(holder: Row) -> typing.Any:
                return (
                    None if read(holder) is None else f"{prefix}{holder['Id']}{suffix}"
                )

            return as_link
        return read

    def _attributes(self, record: Row, version: str) -> dict[str, str]:
        name = self._by_prefix.get(str(record.get("Id"))[:3], "")
        return {
            "type": name,
            "url": f"/services/data/v{version}/sobjects/{name}/{record.get('Id')}",
        }

    def _rest_records(
        self, rows: Iterable[Row], result: _Result, version: str
    ) -> list[dict[str, typing.Any]]:
        """Render *rows* as REST query records (relationships nested, in order)."""
        # Slots in SELECT order: (key, reference field or None, [(name, format)]).
        # A plain field is one slot; a relationship's fields share one.
        slots: list[tuple[str, str | None, list[tuple[str, _Formatter]]]] = []
        nested_fields: dict[str, list[tuple[str, _Formatter]]] = {}
        for column in result.columns:
            formatter = self._json_formatter(column, version)
            if column.reference is None:
                slots.append((column.spec.name, None, [(column.spec.name, formatter)]))
                continue
            relationship = typing.cast("str", column.reference.relationship)
            if relationship not in nested_fields:
                nested_fields[relationship] = []
                slots.append(
                    (relationship, column.reference.name, nested_fields[relationship])
                )
            nested_fields[relationship].append((column.spec.name, formatter))
        lookup = self._lookup
        type_name = result.sobject.name
        url = f"/services/data/v{version}/sobjects/{type_name}/"
        records: list[dict[str, typing.Any]] = []
        for row in rows:
            out: dict[str, typing.Any] = {
                "attributes": {"type": type_name, "url": url + row["Id"]}
            }
            for key, reference, fields in slots:
                if reference is None:
                    out[key] = fields[0][1](row)
                    continue
                parent = lookup(row.get(reference))
                if parent is None:
                    out[key] = None
                    continue
                nested = {"attributes": self._attributes(parent, version)}
                for name, formatter in fields:
                    nested[name] = formatter(parent)
                out[key] = nested
            records.append(out)
        return records

    @staticmethod
    def _batch_size(request: Request) -> int | None:
        header = request.headers.get("Sforce-Query-Options") or ""
        for option in header.split(","):
            name, _, value = option.partition("=")
            if name.strip().lower() == "batchsize":
                try:
                    size = int(value.strip())
                except ValueError:
                    return None
                return min(max(size, _BATCH_MIN), _BATCH_MAX)
        return None

    def _expire_cursors(self) -> None:
        now = self._now()
        for locator, cursor in list(self._cursors.items()):
            if now - cursor.last_used > _LOCATOR_IDLE:
                del self._cursors[locator]

    def _page(
        self,
        result: _Result,
        offset: int,
        batch: int,
        version: str,
        locator: str | None,
    ) -> Response:
        rows = result.rows[offset : offset + batch]
        end = offset + len(rows)
        body: dict[str, typing.Any] = {
            "totalSize": len(result.rows),
            "done": end >= len(result.rows),
        }
        with self._lock:
            if body["done"]:
                if locator is not None:
                    self._cursors.pop(locator, None)
            else:
                if locator is None:
                    self._expire_cursors()
                    while len(self._cursors) >= _MAX_CURSORS:
                        self._cursors.popitem(last=False)  # the oldest is released
                    self._counters["01g"] += 1
                    locator = make_id("01g", self._counters["01g"])
                    self._cursors[locator] = _Cursor(result, batch, self._now())
                body["nextRecordsUrl"] = (
                    f"/services/data/v{version}/query/{locator}-{end}"
                )
        body["records"] = self._rest_records(rows, result, version)
        return Response.json(body)

    def _run_query(
        self, request: Request, version: str, *, include_deleted: bool
    ) -> Response:
        soql = request.arg("q")
        if soql is None:
            return _error(400, "MALFORMED_QUERY", "A query string has to be specified")
        try:
            result = self._execute(soql, include_deleted=include_deleted)
        except SoqlError as error:
            return _error(400, error.error_code, error.message)
        if result.count:
            return Response.json(
                {"totalSize": len(result.rows), "done": True, "records": []}
            )
        batch = self._batch_size(request) or _BATCH_MAX
        return self._page(result, 0, batch, version, None)

    # ------------------------------------------------------------ auth & quota

    def _new_token(self, grant: str) -> str:
        token = f"{self.org_id[:15]}!AQ{secrets.token_urlsafe(48)}"
        self._tokens[token] = _Token(grant)
        self.access_tokens_issued += 1
        return token

    def _admit(self, request: Request, version: str | None) -> Response | None:
        """Return the error answer for a call that may not run, or count it."""
        scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
        with self._lock:
            state = self._tokens.get(token.strip())
            if (
                scheme.lower() not in {"bearer", "oauth"}
                or state is None
                or state.revoked
                or (
                    self.token_ttl_calls is not None
                    and state.calls >= self.token_ttl_calls
                )
            ):
                return _error(401, "INVALID_SESSION_ID", "Session expired or invalid")
            if self.api_calls >= self.daily_api_limit:
                return _error(
                    403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."
                )
            if version is not None and version not in self._versions():
                return _error(404, "NOT_FOUND", _NOT_FOUND)
            self.api_calls += 1
            state.calls += 1
        return None

    def _with_usage(self, response: Response) -> Response:
        usage = f"api-usage={self.api_calls}/{self.daily_api_limit}"
        return attrs.evolve(
            response, headers={**response.headers, "Sforce-Limit-Info": usage}
        )

    def _versions(self) -> list[str]:
        newest = int(float(self.api_version))
        return [f"{v}.0" for v in range(_OLDEST_VERSION, newest + 1)]

    def _issue(
        self, grant: str, scope: str, refresh_token: str | None = None
    ) -> Response:
        with self._lock:
            token = self._new_token(grant)
        issued_at = str(int((self._now() - _EPOCH).total_seconds() * 1000))
        identity = f"{self.url}/id/{self.org_id}/{self.user_id}"
        signature = base64.b64encode(
            hmac.new(
                self.client_secret.encode(),
                (identity + issued_at).encode(),
                hashlib.sha256,
            ).digest()
        ).decode()
        body: dict[str, str] = {"access_token": token}
        if refresh_token is not None:
            body["refresh_token"] = refresh_token
        body.update(
            signature=signature,
            scope=scope,
            instance_url=self.instance_url,
            id=identity,
            issued_at=issued_at,
        )
        body["token_type"] = "Bearer"  # noqa: S105 - a token type, not a secret
        return Response.json(body, headers={"Cache-Control": "no-cache,no-store"})

    def _jwt_grant(self, assertion: str) -> Response:  # noqa: C901, PLR0911 - one answer per OAuth error
        invalid = _oauth_error("invalid_grant", "invalid assertion")
        try:
            encoded_header, encoded_claims, encoded_signature = assertion.split(".")
            header = json.loads(_b64url_decode(encoded_header))
            claims = json.loads(_b64url_decode(encoded_claims))
            signature = _b64url_decode(encoded_signature)
        except (ValueError, binascii.Error):
            return invalid
        if not isinstance(header, dict) or header.get("alg") != "RS256":
            return invalid
        if not isinstance(claims, dict):
            return invalid
        signing_input = f"{encoded_header}.{encoded_claims}".encode()
        if not _rs256_valid(self.jwt_public_key_pem, signing_input, signature):
            return invalid
        if claims.get("iss") != self.client_id:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        audiences = claims.get("aud")
        if isinstance(audiences, str):
            audiences = [audiences]
        allowed = {*_JWT_AUDIENCES, self.url}
        if not isinstance(audiences, list) or not allowed & set(audiences):
            return _oauth_error("invalid_grant", "audience is invalid")
        expires = claims.get("exp")
        now = self._now()
        if not isinstance(expires, (int, float)) or isinstance(expires, bool):
            return invalid
        # Salesforce answers both a past exp and one too far ahead (milliseconds by
        # mistake, say) with "expired authorization code".
        seconds_left = expires - (now - _EPOCH).total_seconds()
        if seconds_left <= 0 or seconds_left > _JWT_MAX_AHEAD.total_seconds():
            return _oauth_error("invalid_grant", "expired authorization code")
        if claims.get("sub") != self.username:
            return _oauth_error("invalid_grant", "user hasn't approved this consumer")
        return self._issue("jwt", "api")

    @route("POST", "/services/oauth2/token")
    def token(self, request: Request) -> Response:  # noqa: PLR0911 - OAuth errors
        """Issue access tokens: refresh token, client credentials and JWT grants."""
        form = _token_form(request)
        if form is None:
            return _oauth_error("invalid_request", "invalid request body")
        grant = form.get("grant_type")
        if grant == _JWT_GRANT:
            return self._jwt_grant(form.get("assertion", ""))
        if grant not in {"refresh_token", "client_credentials"}:
            return _oauth_error("unsupported_grant_type", "grant type not supported")
        if form.get("client_id") != self.client_id:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        if form.get("client_secret") != self.client_secret:
            return _oauth_error("invalid_client", "invalid client credentials")
        if grant == "client_credentials":
            return self._issue("client_credentials", "api")
        with self._lock:
            if form.get("refresh_token") != self.refresh_token:
                return _oauth_error("invalid_grant", "expired access/refresh token")
            rotated = None
            if self.rotate_refresh_token:
                rotated = f"5Aep861{secrets.token_urlsafe(40)}"
                self.refresh_token = rotated
        return self._issue("refresh_token", "api refresh_token", rotated)

    @route("GET", "/id/{org_id}/{user_id}")
    def identity(self, request: Request, org_id: str, user_id: str) -> Response:
        """The identity URL from the token response."""
        scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
        with self._lock:
            state = self._tokens.get(token.strip())
            user = self.records["User"].get(user_id)
        if state is None or state.revoked or scheme.lower() not in {"bearer", "oauth"}:
            return Response.text("Bad_OAuth_Token", status=403)
        if org_id != self.org_id or user is None:
            return Response.text("Bad_Id", status=404)
        return Response.json(
            {
                "id": f"{self.url}/id/{org_id}/{user_id}",
                "user_id": user_id,
                "organization_id": org_id,
                "username": user["Username"],
                "display_name": user["Name"],
                "email": user["Email"],
                "active": user["IsActive"],
                "urls": {
                    "rest": f"{self.url}/services/data/v{{version}}/",
                    "sobjects": f"{self.url}/services/data/v{{version}}/sobjects/",
                    "query": f"{self.url}/services/data/v{{version}}/query/",
                },
            }
        )

    # ------------------------------------------------------------ REST basics

    @route("GET", "/services/data")
    @route("GET", "/services/data/")
    def versions(self, request: Request) -> Response:  # noqa: ARG002
        """The API versions served (no authentication needed, as in Salesforce)."""
        body = [
            {
                "label": _season(float(version)),
                "url": f"/services/data/v{version}",
                "version": version,
            }
            for version in self._versions()
        ]
        return self._with_usage(Response.json(body))

    @route("GET", "/services/data/v{version}")
    @route("GET", "/services/data/v{version}/")
    @_api
    def resources(self, request: Request, version: str) -> Response:  # noqa: ARG002
        """The resources of one API version."""
        base = f"/services/data/v{version}"
        return Response.json(
            {
                name: f"{base}/{name}"
                for name in ("jobs", "limits", "query", "queryAll", "sobjects")
            }
        )

    @route("GET", "/services/data/v{version}/limits")
    @route("GET", "/services/data/v{version}/limits/")
    @_api
    def limits(self, request: Request, version: str) -> Response:  # noqa: ARG002
        """The org's limits: the daily API allocation and what is left of it."""
        with self._lock:
            used = self.api_calls
            jobs = len(self._jobs)
        return Response.json(
            {
                "DailyApiRequests": {
                    "Max": self.daily_api_limit,
                    "Remaining": max(0, self.daily_api_limit - used),
                },
                "DailyBulkV2QueryJobs": {"Max": 10_000, "Remaining": 10_000 - jobs},
                "DailyBulkV2QueryFileStorageMB": {"Max": 976_562, "Remaining": 976_562},
            }
        )

    @route("GET", "/services/data/v{version}/sobjects")
    @route("GET", "/services/data/v{version}/sobjects/")
    @_api
    def sobjects(self, request: Request, version: str) -> Response:  # noqa: ARG002
        """The global describe: every object with its key prefix and abilities."""
        return Response.json(
            {
                "encoding": "UTF-8",
                "maxBatchSize": 200,
                "sobjects": [
                    obj.describe_summary(version) for obj in self.schema.values()
                ],
            }
        )

    def _known_object(self, sobject: str) -> ObjectSpec | None:
        try:
            return self._object(sobject)
        except KeyError:
            return None

    @route("GET", "/services/data/v{version}/sobjects/{sobject}")
    @route("GET", "/services/data/v{version}/sobjects/{sobject}/")
    @_api
    def sobject_info(self, request: Request, version: str, sobject: str) -> Response:  # noqa: ARG002
        """Basic information about one object."""
        obj = self._known_object(sobject)
        if obj is None:
            return _error(404, "NOT_FOUND", _NOT_FOUND)
        return Response.json(
            {"objectDescribe": obj.describe_summary(version), "recentItems": []}
        )

    @route("GET", "/services/data/v{version}/sobjects/{sobject}/describe")
    @route("GET", "/services/data/v{version}/sobjects/{sobject}/describe/")
    @_api
    def describe(self, request: Request, version: str, sobject: str) -> Response:  # noqa: ARG002
        """The describe of one object, with every field."""
        obj = self._known_object(sobject)
        if obj is None:
            return _error(404, "NOT_FOUND", _NOT_FOUND)
        with self._lock:
            fields = [spec.describe() for spec in obj.fields.values()]
        body = obj.describe_summary(version)
        body.update(fields=fields, childRelationships=[], recordTypeInfos=[])
        return Response.json(body)

    _RECORD = (
        r"/services/data/v(?P<version>[^/]+)/sobjects/(?P<sobject>[^/]+)/"
        r"(?P<record_id>[A-Za-z0-9]{18}|[A-Za-z0-9]{15})"
    )

    @route("GET", re.compile(_RECORD + "/?"))
    @_api
    def record(
        self, request: Request, version: str, sobject: str, record_id: str
    ) -> Response:
        """One live record with all (or ``?fields=``) fields."""
        obj = self._known_object(sobject)
        row = self._lookup(record_id)
        if obj is None or row is None or row.get("IsDeleted"):
            return _error(404, "NOT_FOUND", _NOT_FOUND)
        wanted = request.arg("fields")
        names = wanted.split(",") if wanted else list(obj.fields)
        try:
            with self._lock:
                columns = tuple(self._column(obj, name.strip()) for name in names)
        except SoqlError as error:
            return _error(400, error.error_code, error.message)
        result = _Result(obj, columns, [row], count=False)
        return Response.json(self._rest_records([row], result, version)[0])

    @route("GET", re.compile(_RECORD + r"/(?P<field>[A-Za-z0-9_]+)"))
    @_api
    def blob(
        self,
        request: Request,  # noqa: ARG002
        version: str,  # noqa: ARG002
        sobject: str,
        record_id: str,
        field: str,
    ) -> Response:
        """The content of a base64 field (what REST query results link to)."""
        obj = self._known_object(sobject)
        row = self._lookup(record_id)
        spec = obj.get(field) if obj is not None else None
        if row is None or spec is None or spec.type != "base64":
            return _error(404, "NOT_FOUND", _NOT_FOUND)
        content = row.get(spec.name)
        if content is None:
            return _error(404, "NOT_FOUND", _NOT_FOUND)
        return Response(
            200, bytes(content), {"Content-Type": "application/octetstream"}
        )

    # ------------------------------------------------------------ query

    @route("GET", "/services/data/v{version}/query")
    @route("GET", "/services/data/v{version}/query/")
    @_api
    def query(self, request: Request, version: str) -> Response:
        """Run SOQL over live records; the first batch and a cursor for the rest."""
        return self._run_query(request, version, include_deleted=False)

    @route("GET", "/services/data/v{version}/queryAll")
    @route("GET", "/services/data/v{version}/queryAll/")
    @_api
    def query_all(self, request: Request, version: str) -> Response:
        """Run SOQL over live and Recycle Bin records."""
        return self._run_query(request, version, include_deleted=True)

    @route("GET", "/services/data/v{version}/query/{locator}")
    @route("GET", "/services/data/v{version}/queryAll/{locator}")
    @_api
    def query_more(self, request: Request, version: str, locator: str) -> Response:
        """The next batch of an open cursor (``nextRecordsUrl``)."""
        cursor_id, sep, offset_text = locator.rpartition("-")
        invalid = _error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        if not sep or not offset_text.isdigit():
            return invalid
        offset = int(offset_text)
        with self._lock:
            self._expire_cursors()
            cursor = self._cursors.get(cursor_id)
            if cursor is None or offset > len(cursor.result.rows):
                return invalid
            cursor.last_used = self._now()
        batch = self._batch_size(request) or cursor.batch_size
        return self._page(cursor.result, offset, batch, version, cursor_id)

    # ------------------------------------------------------------ replication

    def _window(
        self, request: Request
    ) -> tuple[dt.datetime, dt.datetime, dt.datetime] | Response:
        """Return (start, end, now), all floored to the minute, or an error answer."""
        try:
            start = parse_datetime(request.arg("start") or "", require_zone=False)
            end = parse_datetime(request.arg("end") or "", require_zone=False)
        except ValueError:
            # [U] Salesforce's exact code for an unreadable date is unconfirmed.
            return _error(
                400,
                "INVALID_REPLICATION_DATE",
                "start and end must be ISO 8601 date-times, such as "
                "2024-05-01T00:00:00+00:00",
            )
        start, end = _floor_minute(start), _floor_minute(end)
        if start >= end:
            return _error(
                400,
                "INVALID_REPLICATION_DATE",
                "startDate must chronologically precede endDate by more than one "
                "minute",
            )
        now = self._now()
        if start < _floor_minute(now - _UPDATED_WINDOW):
            return _error(
                400,
                "INVALID_REPLICATION_DATE",
                "startDate cannot be more than 30 days ago",
            )
        return start, end, _floor_minute(now)

    @route("GET", "/services/data/v{version}/sobjects/{sobject}/updated")
    @route("GET", "/services/data/v{version}/sobjects/{sobject}/updated/")
    @_api
    def updated(self, request: Request, version: str, sobject: str) -> Response:  # noqa: ARG002
        """Ids of records changed in ``[start, end)`` (seconds ignored)."""
        obj = self._known_object(sobject)
        if obj is None:
            return _error(404, "NOT_FOUND", _NOT_FOUND)
        window = self._window(request)
        if isinstance(window, Response):
            return window
        start, end, now = window
        latest = min(end, now)
        with self._lock:
            rows = list(self.records[obj.name].values())
        changed = sorted(
            (row["SystemModstamp"], row["Id"])
            for row in rows
            if not row.get("IsDeleted") and start <= row["SystemModstamp"] < latest
        )
        if len(changed) > _MAX_REPLICATION_IDS:
            return _error(
                400,
                "EXCEEDED_ID_LIMIT",
                "record limit reached. narrow the date range of your request",
            )
        return Response.json(
            {
                "ids": [record_id for _, record_id in changed],
                "latestDateCovered": _rest_datetime(latest),
            }
        )

    def _earliest_deleted(self, now: dt.datetime) -> dt.datetime:
        return max(self._log_floor, _floor_minute(now - _DELETED_LOG_DAYS))

    @route("GET", "/services/data/v{version}/sobjects/{sobject}/deleted")
    @route("GET", "/services/data/v{version}/sobjects/{sobject}/deleted/")
    @_api
    def deleted(self, request: Request, version: str, sobject: str) -> Response:  # noqa: ARG002
        """Deletions logged in ``[start, end)``, and how far back the log goes."""
        obj = self._known_object(sobject)
        if obj is None:
            return _error(404, "NOT_FOUND", _NOT_FOUND)
        window = self._window(request)
        if isinstance(window, Response):
            return window
        start, end, now = window
        latest = min(end, now)
        with self._lock:
            earliest = self._earliest_deleted(self._now())
            entries = list(self._deleted_log.get(obj.name, ()))
        if self.strict_deleted_window and start < earliest:
            return _error(
                400,
                "INVALID_REPLICATION_DATE",
                f"startDate is before the earliest date available "
                f"({_rest_datetime(earliest)}); replicate the object again in full",
            )
        found = sorted(
            (when, record_id)
            for record_id, when in entries
            if when >= earliest and start <= when < latest
        )
        if len(found) > _MAX_REPLICATION_IDS:
            return _error(
                400,
                "EXCEEDED_ID_LIMIT",
                "record limit reached. narrow the date range of your request",
            )
        return Response.json(
            {
                "deletedRecords": [
                    {"id": record_id, "deletedDate": _rest_datetime(when)}
                    for when, record_id in found
                ],
                "earliestDateAvailable": _rest_datetime(earliest),
                "latestDateCovered": _rest_datetime(latest),
            }
        )

    # ------------------------------------------------------------ Bulk API 2.0

    def _job_info(self, job: _BulkJob, *, full: bool) -> dict[str, typing.Any]:
        info: dict[str, typing.Any] = {
            "id": job.id,
            "operation": job.operation,
            "object": job.sobject,
            "createdById": self.user_id,
            "createdDate": _rest_datetime(job.created),
            "systemModstamp": _rest_datetime(job.modstamp),
            "state": job.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(job.version),
            "lineEnding": next(
                k for k, v in _LINE_ENDINGS.items() if v == job.line_ending
            ),
            "columnDelimiter": next(
                k for k, v in _DELIMITERS.items() if v == job.delimiter
            ),
        }
        if full:
            info.update(
                jobType="V2Query",
                numberRecordsProcessed=len(job.result.rows)
                if job.state == "JobComplete"
                else 0,
                retries=0,
                totalProcessingTime=0 if job.state != "JobComplete" else 250,
            )
            if job.error is not None:
                info["errorMessage"] = job.error
        return info

    def _advance(self, job: _BulkJob) -> None:
        if job.state not in {"UploadComplete", "InProgress"}:
            return
        job.polls += 1
        if job.polls < self.bulk_polls_until_complete:
            job.state = "InProgress"
        elif job.fail_with is not None:
            job.state, job.error = "Failed", job.fail_with
        else:
            job.state = "JobComplete"
        job.modstamp = self._stamp_now()

    @staticmethod
    def _bulk_check(result: _Result, soql: str) -> SoqlError | None:
        query = parse_soql(soql)
        if result.count:
            return SoqlError(
                "API_ERROR", "Aggregate queries are not supported by Bulk API 2.0"
            )
        if query.offset is not None:
            return SoqlError("API_ERROR", "OFFSET is not supported by Bulk API 2.0")
        for column in result.columns:
            if column.spec.type in {"address", "location"}:
                return SoqlError(
                    "API_ERROR", "Selecting compound data not supported in Bulk Query"
                )
            if column.spec.type == "base64":
                # [U] Bulk 1.0 says "FeatureNotEnabled : Binary field not supported".
                return SoqlError("API_ERROR", "Binary field not supported")
        return None

    @route("POST", "/services/data/v{version}/jobs/query")
    @route("POST", "/services/data/v{version}/jobs/query/")
    @_api
    def bulk_create(self, request: Request, version: str) -> Response:  # noqa: PLR0911
        """Create a query job (state UploadComplete)."""
        try:
            body = request.json()
        except ValueError:
            return _error(
                400, "JSON_PARSER_ERROR", "The request body is not valid JSON"
            )
        if not isinstance(body, dict):
            return _error(
                400, "JSON_PARSER_ERROR", "The request body must be an object"
            )
        operation = body.get("operation")
        soql = body.get("query")
        delimiter = _DELIMITERS.get(body.get("columnDelimiter") or "COMMA")
        line_ending = _LINE_ENDINGS.get(body.get("lineEnding") or "LF")
        if operation not in {"query", "queryAll"}:
            return _error(400, "INVALIDJOB", f"Invalid operation: {operation}")
        if not isinstance(soql, str) or not soql.strip():
            return _error(400, "INVALIDJOB", "query is required for a query job")
        if delimiter is None or line_ending is None:
            return _error(400, "INVALIDJOB", "Invalid columnDelimiter or lineEnding")
        if body.get("contentType", "CSV") != "CSV":
            return _error(400, "INVALIDJOB", "contentType must be CSV")
        try:
            result = self._execute(soql, include_deleted=operation == "queryAll")
            problem = self._bulk_check(result, soql)
        except SoqlError as error:
            problem = error
        if problem is not None:
            return _error(400, problem.error_code, problem.message)
        with self._lock:
            now = self._stamp_now()
            self._counters["750"] += 1
            job = _BulkJob(
                id=make_id("750", self._counters["750"]),
                operation=operation,
                sobject=result.sobject.name,
                version=version,
                created=now,
                modstamp=now,
                delimiter=delimiter,
                line_ending=line_ending,
                result=result,
                fail_with=self._bulk_failures.pop(0) if self._bulk_failures else None,
            )
            if self.bulk_polls_until_complete <= 0:
                self._advance(job)
            self._jobs[job.id] = job
            return Response.json(self._job_info(job, full=False))

    @route("GET", "/services/data/v{version}/jobs/query")
    @route("GET", "/services/data/v{version}/jobs/query/")
    @_api
    def bulk_list(self, request: Request, version: str) -> Response:  # noqa: ARG002
        """Every query job of the org."""
        with self._lock:
            records = [self._job_info(job, full=False) for job in self._jobs.values()]
        return Response.json({"done": True, "records": records, "nextRecordsUrl": None})

    @route("GET", "/services/data/v{version}/jobs/query/{job_id}")
    @route("GET", "/services/data/v{version}/jobs/query/{job_id}/")
    @_api
    def bulk_info(self, request: Request, version: str, job_id: str) -> Response:  # noqa: ARG002
        """A job's state; each poll moves it along towards JobComplete."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return _error(404, "NOT_FOUND", _NOT_FOUND)
            self._advance(job)
            return Response.json(self._job_info(job, full=True))

    @route("PATCH", "/services/data/v{version}/jobs/query/{job_id}")
    @route("PATCH", "/services/data/v{version}/jobs/query/{job_id}/")
    @_api
    def bulk_abort(self, request: Request, version: str, job_id: str) -> Response:  # noqa: ARG002
        """Abort a job that has not finished (``{"state": "Aborted"}``)."""
        try:
            body = request.json()
        except ValueError:
            return _error(
                400, "JSON_PARSER_ERROR", "The request body is not valid JSON"
            )
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return _error(404, "NOT_FOUND", _NOT_FOUND)
            if not isinstance(body, dict) or body.get("state") != "Aborted":
                return _error(
                    400, "INVALIDJOBSTATE", "Only Aborted may be set on a query job"
                )
            if job.state not in {"UploadComplete", "InProgress"}:
                return _error(
                    400,
                    "INVALIDJOBSTATE",
                    f"Job in state {job.state} cannot be aborted",
                )
            job.state = "Aborted"
            job.modstamp = self._stamp_now()
            return Response.json(self._job_info(job, full=False))

    @route("DELETE", "/services/data/v{version}/jobs/query/{job_id}")
    @route("DELETE", "/services/data/v{version}/jobs/query/{job_id}/")
    @_api
    def bulk_delete(self, request: Request, version: str, job_id: str) -> Response:  # noqa: ARG002
        """Delete a job and its results."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return _error(404, "NOT_FOUND", _NOT_FOUND)
            if job.state == "InProgress":
                return _error(
                    400, "INVALIDJOBSTATE", "A job in progress cannot be deleted"
                )
            del self._jobs[job_id]
        return Response.empty(204)

    @staticmethod
    def _csv_formatter(column: _Column) -> Callable[[Row], str]:
        """Return a function giving *column*'s CSV cell from the holding record."""
        read = column.read
        kind = column.spec.type

        def cell(holder: Row) -> str:
            value = read(holder)
            if value is None:
                return ""
            if kind == "datetime":
                return _bulk_datetime(value)
            if kind == "boolean":
                return "true" if value else "false"
            if kind == "date":
                return typing.cast("str", value.isoformat())
            return str(value)

        return cell

    def _csv_rows(
        self, rows: Iterable[Row], columns: Sequence[_Column]
    ) -> list[list[str]]:
        cells = [
            (
                self._csv_formatter(column),
                column.reference.name if column.reference else None,
            )
            for column in columns
        ]
        lookup = self._lookup
        out: list[list[str]] = []
        for row in rows:
            line: list[str] = []
            for cell, reference in cells:
                holder = row if reference is None else lookup(row.get(reference))
                line.append("" if holder is None else cell(holder))
            out.append(line)
        return out

    @route("GET", "/services/data/v{version}/jobs/query/{job_id}/results")
    @route("GET", "/services/data/v{version}/jobs/query/{job_id}/results/")
    @_api
    def bulk_results(  # noqa: PLR0911 - one answer per documented failure
        self, request: Request, version: str, job_id: str
    ) -> Response:
        """One page of a finished job's CSV; ``Sforce-Locator`` names the next."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            return _error(404, "NOT_FOUND", _NOT_FOUND)
        if job.version != version:
            # [U] the docs give the status (409), not the errorCode.
            return _error(
                409,
                "API_ERROR",
                f"Job {job.id} was created with API version {job.version}; "
                "get its results with the same version",
            )
        if job.state in {"UploadComplete", "InProgress"}:
            return _error(412, "JOB_NOT_COMPLETE", "Job is not complete")
        if job.state != "JobComplete":
            return _error(
                400, "INVALIDJOBSTATE", f"Job in state {job.state} has no results"
            )
        try:
            locator = request.arg("locator")
            offset = int(_b64url_decode(locator).decode()) if locator else 0
            max_records = int(request.arg("maxRecords") or self.bulk_page_size)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return _error(400, "INVALIDLOCATOR", "Invalid locator or maxRecords")
        if max_records < 1 or not 0 <= offset <= len(job.result.rows):
            return _error(400, "INVALIDLOCATOR", "Invalid locator or maxRecords")
        rows = job.result.rows[offset : offset + max_records]
        end = offset + len(rows)
        out = io.StringIO()
        writer = csv.writer(
            out,
            delimiter=job.delimiter,
            lineterminator=job.line_ending,
            quoting=csv.QUOTE_ALL,
        )
        # Every page starts with the header row (simple-salesforce and Airbyte
        # parse each page as its own CSV); nulls are empty cells.
        writer.writerow([column.name for column in job.result.columns])
        writer.writerows(self._csv_rows(rows, job.result.columns))
        next_locator = "null"
        if end < len(job.result.rows):
            next_locator = base64.b64encode(str(end).encode()).decode().rstrip("=")
        return Response.text(
            out.getvalue(),
            content_type="text/csv",
            headers={
                "Sforce-NumberOfRecords": str(len(rows)),
                "Sforce-Locator": next_locator,
            },
        )

    # ------------------------------------------------------------ fallback

    @route("GET", re.compile(r"/services/data/.*"))
    @route("POST", re.compile(r"/services/data/.*"))
    @route("PATCH", re.compile(r"/services/data/.*"))
    @route("PUT", re.compile(r"/services/data/.*"))
    @route("DELETE", re.compile(r"/services/data/.*"))
    def not_found(self, request: Request) -> Response:  # noqa: ARG002
        """Anything else under /services/data: Salesforce's 404 body."""
        return self._with_usage(_error(404, "NOT_FOUND", _NOT_FOUND))
