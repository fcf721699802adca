"""ExampleCRM: a small, complete source and its emulator.

This is the worked example of ``docs/writing-a-source.md`` and the source the sync
engine's own tests run against. ExampleCRM's API is deliberately ordinary:

- ``GET /v1/{object}`` with a bearer token, where object is ``companies``, ``deals``
  or ``users``;
- filters ``updated_since`` (inclusive) and ``updated_before`` (exclusive), ISO 8601;
- results ordered by ``(updated_at, id)``; ``limit`` (at most 500) and an opaque
  ``cursor`` taken from ``next_cursor`` for the next page, ``null`` on the last;
- deleted records stay visible with ``"archived": true`` and a new ``updated_at``.

The source reads each window ``[watermark, sync start)``: the end is fixed when the
sync starts, so a record changed while the sync runs is read next time, and a keyset
cursor on ``(updated_at, id)`` means ties at a page boundary neither skip nor repeat.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
import threading
import time
import typing

import attrs
import pyarrow as pa

from revops_ingest._auth import BearerTokenAuth
from revops_ingest._http import HttpClient, RetryPolicy, Timeouts
from revops_ingest._secrets import Secret, as_secret
from revops_ingest._source import FetchContext, ObjectSpec
from revops_ingest.exceptions import UnexpectedResponseError
from revops_ingest.testing._emulator import Emulator, Request, Response, route


if typing.TYPE_CHECKING:
    from collections.abc import Generator, Mapping, Sequence

    from revops_ingest._source import JSONValue, State


__all__ = ["ExampleCrmEmulator", "ExampleCrmSource"]

SYSTEM = "ExampleCRM"
_TS = pa.timestamp("ms", tz="UTC")


def _schema(fields: list[pa.Field[typing.Any]]) -> pa.Schema:
    return pa.schema(fields)


SCHEMAS: Mapping[str, pa.Schema] = {
    "companies": _schema(
        [
            pa.field("id", pa.string()),
            pa.field("name", pa.string()),
            pa.field("domain", pa.string()),
            pa.field("industry", pa.string()),
            pa.field("employees", pa.int64()),
            pa.field("owner_id", pa.string()),
            pa.field("archived", pa.bool_()),
            pa.field("created_at", _TS),
            pa.field("updated_at", _TS),
        ]
    ),
    "deals": _schema(
        [
            pa.field("id", pa.string()),
            pa.field("company_id", pa.string()),
            pa.field("name", pa.string()),
            pa.field("stage", pa.string()),
            pa.field("amount", pa.float64()),
            pa.field("currency", pa.string()),
            pa.field("close_date", pa.date32()),
            pa.field("owner_id", pa.string()),
            pa.field("archived", pa.bool_()),
            pa.field("created_at", _TS),
            pa.field("updated_at", _TS),
        ]
    ),
    "users": _schema(
        [
            pa.field("id", pa.string()),
            pa.field("email", pa.string()),
            pa.field("name", pa.string()),
            pa.field("active", pa.bool_()),
            pa.field("updated_at", _TS),
        ]
    ),
}
"""Arrow schema of each object, from ExampleCRM's declared field types."""

_STAGES = ("qualify", "demo", "proposal", "negotiate", "won", "lost")
_INDUSTRIES = ("Software", "Retail", "Finance", "Health", "Manufacturing", None)
_WORDS = (
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark",
    "Wayne",
    "Wonka",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Vandelay",
)
_SUFFIX = ("Inc", "LLC", "GmbH", "Ltd", "Corp", "")


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")


def _parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


class ExampleCrmEmulator(Emulator):
    """ExampleCRM's API on 127.0.0.1, with seeded data you can change between syncs.

    Args:
        seed: Seed of the data generator; the same seed gives the same records.
        companies: Number of companies to generate (deals: three per company).
        token: The bearer token the API accepts.
        max_page_size: The largest ``limit`` the API honours.
        now: The emulator's clock; records are dated before it.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        companies: int = 50,
        token: str = "example-token",  # noqa: S107 - a fixture value
        max_page_size: int = 500,
        now: typing.Callable[[], dt.datetime] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.token = token
        self.max_page_size = max_page_size
        self._now = now or (lambda: dt.datetime.now(dt.timezone.utc))
        self._real_clock = now is None
        self._random = random.Random(seed)  # noqa: S311 - test data, not crypto
        self._lock = threading.Lock()
        self._seq = 0
        self.records: dict[str, dict[str, dict[str, typing.Any]]] = {
            "companies": {},
            "deals": {},
            "users": {},
        }
        self._generate(companies)

    # -- data -------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}{self._seq:07d}"

    def _past(self, days: int = 90) -> str:
        seconds = self._random.randrange(60, days * 86_400)
        return _iso(self._now() - dt.timedelta(seconds=seconds))

    def _generate(self, companies: int) -> None:
        rnd = self._random
        users = []
        for n in range(max(3, companies // 10)):
            uid = self._id("U")
            users.append(uid)
            self.records["users"][uid] = {
                "id": uid,
                "email": f"rep{n}@example.com",
                "name": f"Rep {n}",
                "active": rnd.random() > 0.1,  # noqa: PLR2004
                "updated_at": self._past(),
            }
        for _ in range(companies):
            self.add_company(owner_id=rnd.choice(users), updated_at=self._past())

    def add_company(self, **fields: typing.Any) -> dict[str, typing.Any]:
        """Create a company (and three deals for it); return the company."""
        rnd = self._random
        with self._lock:
            word = rnd.choice(_WORDS)
            cid = self._id("C")
            name = f"{word} {rnd.choice(_SUFFIX)} {cid[-4:]}".replace("  ", " ")
            created = fields.pop("updated_at", None) or _iso(self._now())
            company = {
                "id": cid,
                "name": name,
                "domain": f"{word.lower()}{cid[-4:]}.example.com",
                "industry": rnd.choice(_INDUSTRIES),
                "employees": rnd.choice([None, rnd.randrange(5, 50_000)]),
                "owner_id": fields.pop("owner_id", None),
                "archived": False,
                "created_at": created,
                "updated_at": created,
            }
            company.update(fields)
            self.records["companies"][cid] = company
            stamp = company["updated_at"]
            for _ in range(3):
                did = self._id("D")
                self.records["deals"][did] = {
                    "id": did,
                    "company_id": cid,
                    "name": f"{name} - {rnd.choice(['Renewal', 'Expansion', 'New'])}",
                    "stage": rnd.choice(_STAGES),
                    # Amounts travel as strings, as many CRMs send decimals.
                    "amount": f"{rnd.randrange(1000, 500_000)}.{rnd.randrange(100)}",
                    "currency": "USD",
                    "close_date": (
                        _parse(created).date() + dt.timedelta(days=rnd.randrange(120))
                    ).isoformat(),
                    "owner_id": company["owner_id"],
                    "archived": False,
                    "created_at": created,
                    "updated_at": created,
                }
        self._settle(stamp)
        return company

    def update(self, object_name: str, record_id: str, **fields: typing.Any) -> None:
        """Change a record now, as a user in the CRM would."""
        with self._lock:
            record = self.records[object_name][record_id]
            record.update(fields)
            record["updated_at"] = stamp = _iso(self._now())
        self._settle(stamp)

    def _settle(self, stamp: str) -> None:
        """Return once the clock has left *stamp*'s millisecond.

        Timestamps have millisecond precision and sync windows end, exclusively, at
        the sync's start: a sync started in the same millisecond as a change would
        leave it for the next sync. Waiting out the millisecond makes "change, then
        sync" in a test read the change at once.
        """
        if not self._real_clock:  # a test's own clock moves when the test says
            return
        limit = _parse(stamp) + dt.timedelta(milliseconds=1)
        while self._now() < limit:
            time.sleep(0.0002)

    def delete(self, object_name: str, record_id: str) -> None:
        """Archive a record: it stays visible with ``archived: true``."""
        self.update(object_name, record_id, archived=True)

    def touch(self, object_name: str, count: int) -> list[str]:
        """Change *count* random records of *object_name*; return their ids."""
        ids = self._random.sample(sorted(self.records[object_name]), count)
        for record_id in ids:
            if object_name == "deals":
                self.update(object_name, record_id, stage=self._random.choice(_STAGES))
            else:
                self.update(object_name, record_id)
        return ids

    # -- API --------------------------------------------------------------

    def _unauthorized(self, request: Request) -> Response | None:
        if request.headers.get("Authorization") == f"Bearer {self.token}":
            return None
        return Response.json(
            {"error": "invalid_token", "message": "missing or invalid bearer token"},
            status=401,
        )

    @route("GET", "/v1/{object_name}")
    def list_records(self, request: Request, object_name: str) -> Response:
        """List records of one object, filtered, ordered and paged."""
        denied = self._unauthorized(request)
        if denied is not None:
            return denied
        if object_name not in self.records:
            return Response.json({"error": "unknown_object"}, status=404)
        try:
            limit = min(int(request.arg("limit") or 100), self.max_page_size)
            since = request.arg("updated_since")
            before = request.arg("updated_before")
            lower = _parse(since) if since else None
            upper = _parse(before) if before else None
            after = _decode_cursor(request.arg("cursor"))
        except (TypeError, ValueError) as exc:
            return Response.json({"error": "bad_request", "message": str(exc)}, 400)
        with self._lock:
            rows = sorted(
                self.records[object_name].values(),
                key=lambda r: (_parse(r["updated_at"]), r["id"]),
            )
            selected = []
            for row in rows:
                key = (_parse(row["updated_at"]), row["id"])
                if lower is not None and key[0] < lower:
                    continue
                if upper is not None and key[0] >= upper:
                    continue
                if after is not None and key <= after:
                    continue
                selected.append(dict(row))
                if len(selected) > limit:
                    break
        page = selected[:limit]
        more = len(selected) > limit
        last = page[-1] if page else None
        next_cursor = (
            _encode_cursor(_parse(last["updated_at"]), last["id"])
            if more and last
            else None
        )
        return Response.json({"data": page, "next_cursor": next_cursor})


def _encode_cursor(updated_at: dt.datetime, record_id: str) -> str:
    raw = json.dumps([_iso(updated_at), record_id]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_cursor(value: str | None) -> tuple[dt.datetime, str] | None:
    if not value:
        return None
    stamp, record_id = json.loads(base64.urlsafe_b64decode(value.encode()))
    return _parse(stamp), str(record_id)


@attrs.define
class ExampleCrmSource:
    """The ExampleCRM source: ``companies`` and ``deals`` incremental, ``users`` full.

    Args:
        base_url: The API's root URL, such as an emulator's ``url``.
        token: The API token (kept as a :class:`~revops_ingest.Secret`).
        page_size: Records per request.
        timeouts: Connect and read time-outs.
        retry: Retry policy for throttling and transient failures.
    """

    base_url: str
    token: Secret = attrs.field(converter=as_secret)
    page_size: int = 200
    timeouts: Timeouts = attrs.Factory(Timeouts)
    retry: RetryPolicy = attrs.Factory(RetryPolicy)
    _http: HttpClient | None = attrs.field(default=None, init=False, repr=False)

    system: typing.ClassVar[str] = SYSTEM

    def objects(self) -> Sequence[ObjectSpec]:
        """``companies`` and ``deals`` (incremental on updated_at), ``users`` (full)."""
        return (
            ObjectSpec(name="companies", primary_key=("id",), cursor="updated_at"),
            ObjectSpec(name="deals", primary_key=("id",), cursor="updated_at"),
            ObjectSpec(name="users", primary_key=("id",), mode="full"),
        )

    @property
    def http(self) -> HttpClient:
        """The HTTP client, created on first use (never at construction)."""
        if self._http is None:
            self._http = HttpClient(
                source=SYSTEM,
                base_url=self.base_url,
                auth=BearerTokenAuth(self.token),
                timeouts=self.timeouts,
                retry=self.retry,
            )
        return self._http

    def fetch(
        self,
        obj: ObjectSpec,
        state: Mapping[str, JSONValue] | None,
        context: FetchContext,
    ) -> Generator[pa.RecordBatch, None, State]:
        """Yield the window ``[watermark, sync start)`` page by page."""
        schema = SCHEMAS[obj.name]
        params: dict[str, str | int] = {"limit": self.page_size}
        window_end = _iso(context.started_at)
        if obj.mode == "incremental":
            if state and isinstance(state.get("updated_before"), str):
                params["updated_since"] = typing.cast("str", state["updated_before"])
            params["updated_before"] = window_end
        path = f"/v1/{obj.name}"
        with self.http.recording(context.metrics):
            while True:
                body = self.http.get_json(path, params=params, object_type=obj.name)
                rows, next_cursor = _page(body, path, obj.name)
                context.page(len(rows))
                if rows:
                    yield _to_batch(rows, schema)
                if not next_cursor:
                    break
                params["cursor"] = next_cursor
        return {"updated_before": window_end} if obj.mode == "incremental" else {}


def _page(
    body: typing.Any, path: str, object_type: str
) -> tuple[list[dict[str, typing.Any]], str | None]:
    """Check the page's shape; a page we cannot read stops the sync."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise UnexpectedResponseError(
            "the page has no 'data' list",
            source=SYSTEM,
            object_type=object_type,
            method="GET",
            path=path,
            hint="the API changed or a proxy answered; nothing of this sync is kept",
        )
    cursor = body.get("next_cursor")
    return body["data"], cursor if isinstance(cursor, str) else None


def _to_batch(rows: list[dict[str, typing.Any]], schema: pa.Schema) -> pa.RecordBatch:
    """Build a typed batch: ISO strings become timestamps, decimal strings floats."""
    columns = []
    for field in schema:
        values = [row.get(field.name) for row in rows]
        if field.type in (_TS, pa.date32(), pa.float64()):
            # Parse text on the C++ side: ISO times, ISO dates, decimal strings.
            array = pa.array(values, pa.string()).cast(field.type)
        else:
            array = pa.array(values, field.type)
        columns.append(array)
    return pa.RecordBatch.from_arrays(columns, schema=schema)
