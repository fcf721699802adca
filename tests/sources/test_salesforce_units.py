"""The Salesforce source's pieces without a server: types, pages, state, hooks, auth."""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
import sys

import pyarrow as pa
import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from revops_ingest._http import Fail, Retry
from revops_ingest._metrics import RequestMetrics
from revops_ingest._secrets import Secret
from revops_ingest._source import FetchContext, Source
from revops_ingest.exceptions import ConfigurationError, QuotaExceededError
from revops_ingest.sources._salesforce_api import SalesforceApi, classify, observe
from revops_ingest.sources._salesforce_auth import default_audience
from revops_ingest.sources._salesforce_state import (
    IncrementalState,
    PendingDeletes,
    Recent,
    latest_alive,
    missing_ids,
)
from revops_ingest.sources._salesforce_sync import ObjectSync, Settings, _after
from revops_ingest.sources._salesforce_types import (
    TIMESTAMP,
    arrow_type,
    csv_to_batch,
    format_ms,
    page_from_body,
    page_from_json,
    parse_datetime_ms,
    plan_from_describe,
    soql_datetime,
    soql_string,
    tombstones,
)
from revops_ingest.sources.salesforce import (
    DEFAULT_OBJECTS,
    JwtBearerAuth,
    RefreshTokenAuth,
    SalesforceObject,
    SalesforceSource,
)


TOKEN_URL = "https://login.salesforce.com/services/oauth2/token"


def field(name, type_, **kw):
    return {"name": name, "type": type_, **kw}


DESCRIBE = {
    "name": "Account",
    "replicateable": True,
    "fields": [
        field("Id", "id"),
        field("IsDeleted", "boolean"),
        field("Name", "string"),
        field("BillingStreet", "textarea", compoundFieldName="BillingAddress"),
        field("BillingCity", "string", compoundFieldName="BillingAddress"),
        field("BillingAddress", "address"),
        field("NumberOfEmployees", "int"),
        field("AnnualRevenue", "currency"),
        field("Rating__c", "percent"),
        field("Founded__c", "date"),
        field("Opens__c", "time"),
        field("Logo__c", "base64"),
        field("Extra__c", "anyType"),
        field("SystemModstamp", "datetime"),
    ],
}
MS = parse_datetime_ms("2024-05-01T12:00:00.000+0000")


def page(records, **top):
    body = {"totalSize": len(records), "done": True, "records": records, **top}
    return json.dumps(body).encode()


def record(**values):
    return {"attributes": {"type": "Account", "url": "/x"}, **values}


class TestTypes:
    @pytest.mark.parametrize(
        ("sf_type", "expected"),
        [
            ("datetime", TIMESTAMP),
            ("date", pa.date32()),
            ("int", pa.int64()),
            ("long", pa.int64()),
            ("double", pa.float64()),
            ("currency", pa.float64()),
            ("percent", pa.float64()),
            ("boolean", pa.bool_()),
            ("time", pa.string()),
            ("picklist", pa.string()),
            ("reference", pa.string()),
            ("anyType", pa.string()),
            ("somethingNew", pa.string()),
        ],
    )
    def test_arrow_types_follow_the_describe_type(self, sf_type, expected):
        """Each describe type maps to its Arrow type; unknown types are text."""
        assert expected == arrow_type(sf_type)

    def test_all_fields_but_compound_and_base64_by_default(self):
        """The default plan skips compound and base64 fields, in describe order."""
        plan = plan_from_describe(DESCRIBE)

        assert [
            "Id",
            "IsDeleted",
            "Name",
            "BillingStreet",
            "BillingCity",
            "NumberOfEmployees",
            "AnnualRevenue",
            "Rating__c",
            "Founded__c",
            "Opens__c",
            "Extra__c",
            "SystemModstamp",
        ] == plan.field_names
        assert "SystemModstamp" == plan.cursor
        assert plan.bulk_ok
        assert "_tombstone" == plan.schema.names[-1]

    def test_a_compound_name_stands_for_its_components(self):
        """Naming BillingAddress selects BillingStreet and BillingCity."""
        plan = plan_from_describe(DESCRIBE, fields=["billingaddress", "Logo__c"])

        assert [
            "Id",
            "IsDeleted",
            "BillingStreet",
            "BillingCity",
            "Logo__c",
            "SystemModstamp",
        ] == plan.field_names
        assert not plan.bulk_ok  # base64 is REST only

    def test_unknown_fields_are_a_configuration_error(self):
        """A field describe does not list is named in the error."""
        with pytest.raises(ConfigurationError, match="'Nope__c'"):
            plan_from_describe(DESCRIBE, fields=["Name", "Nope__c"])

    @pytest.mark.parametrize(
        ("names", "cursor"),
        [
            (["LastModifiedDate", "CreatedDate"], "LastModifiedDate"),
            (["CreatedDate"], "CreatedDate"),
            ([], None),
        ],
    )
    def test_the_cursor_falls_back(self, names, cursor):
        """SystemModstamp, then LastModifiedDate, then CreatedDate, else none."""
        describe = {
            "name": "X",
            "fields": [field("Id", "id")] + [field(n, "datetime") for n in names],
        }

        assert cursor == plan_from_describe(describe).cursor


class TestPages:
    def test_json_pages_convert_in_arrow_as_in_python(self):
        """The C++ path and the decoded-JSON path give the same batch."""
        plan = plan_from_describe(DESCRIBE)
        body = page(
            [
                record(
                    Id="001A",
                    IsDeleted=False,
                    Name="Acme",
                    NumberOfEmployees=12,
                    AnnualRevenue=1.5,
                    Rating__c=50,
                    Founded__c="1999-01-02",
                    Opens__c="09:30:00.000Z",
                    SystemModstamp="2024-05-01T12:00:00.000+0000",
                ),
                record(Id="001B", IsDeleted=True, SystemModstamp=None),
            ],
            nextRecordsUrl="/services/data/v62.0/query/01g-2",
            done=False,
        )

        fast = page_from_body(body, plan)
        slow = page_from_json(json.loads(body), plan)

        assert fast is not None
        assert slow.batch.equals(fast.batch)
        assert ("/services/data/v62.0/query/01g-2", False, 2) == (
            fast.next_url,
            fast.done,
            fast.total_size,
        )
        first = fast.batch.to_pylist()[0]
        assert (dt.date(1999, 1, 2), "09:30:00.000Z", 50.0, False) == (
            first["Founded__c"],
            first["Opens__c"],
            first["Rating__c"],
            first["_tombstone"],
        )
        assert (
            dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone.utc)
            == (first["SystemModstamp"])
        )

    def test_pretty_printed_pages_take_the_fast_path_too(self):
        """A page with newlines between tokens converts in C++ like a compact one."""
        plan = plan_from_describe(DESCRIBE)
        records = [
            record(Id="001A", Name="Acme", SystemModstamp="2024-05-01T12:00:00.000Z"),
            record(Id="001B", Name="Line\nbreak", SystemModstamp=None),
        ]
        compact = page(records)
        pretty = json.dumps(json.loads(compact), indent=2).encode()
        assert b"\n" not in compact
        assert b"\n" in pretty

        fast_compact = page_from_body(compact, plan)
        fast_pretty = page_from_body(pretty, plan)

        assert fast_compact is not None
        assert fast_pretty is not None
        assert fast_compact.batch.equals(fast_pretty.batch)
        assert "Line\nbreak" == fast_pretty.batch.column("Name")[1].as_py()

    def test_unexpected_json_types_take_the_python_path(self):
        """Numbers and objects in anyType fields become text, off the fast path."""
        plan = plan_from_describe(DESCRIBE)
        body = page([record(Id="1", Extra__c=5), record(Id="2", Extra__c={"a": 1})])

        assert page_from_body(body, plan) is None
        result = page_from_json(json.loads(body), plan)
        assert ["5", '{"a":1}'] == result.batch.column("Extra__c").to_pylist()

    def test_values_of_the_wrong_type_are_reported(self):
        """A value that cannot be its declared type names the field."""
        plan = plan_from_describe(DESCRIBE)

        with pytest.raises(ValueError, match="'NumberOfEmployees'"):
            page_from_json({"records": [record(NumberOfEmployees="many")]}, plan)

    @pytest.mark.parametrize(
        "payload", [[{"errorCode": "X"}], {"records": None}, {"records": [1]}]
    )
    def test_answers_that_are_not_pages_are_reported(self, payload):
        """An answer without a records list of objects is a ValueError."""
        plan = plan_from_describe(DESCRIBE)

        with pytest.raises(ValueError, match="records"):
            page_from_json(payload, plan)

    def test_bulk_csv_equals_the_json_page(self):
        """A Bulk CSV page (empty cells null, Z datetimes) types like REST JSON."""
        plan = plan_from_describe(DESCRIBE)
        body = page(
            [
                record(
                    Id="001A",
                    IsDeleted=False,
                    Name='Acme, "the" Co\nLtd',
                    NumberOfEmployees=12,
                    AnnualRevenue=1.5,
                    Founded__c="1999-01-02",
                    SystemModstamp="2024-05-01T12:00:00.000+0000",
                ),
            ]
        )
        csv = (
            b'"Id","IsDeleted","Name","BillingStreet","BillingCity",'
            b'"NumberOfEmployees","AnnualRevenue","Rating__c","Founded__c",'
            b'"Opens__c","Extra__c","SystemModstamp"\n'
            b'"001A","false","Acme, ""the"" Co\nLtd","","","12","1.5","",'
            b'"1999-01-02","","","2024-05-01T12:00:00.000Z"\n'
        )

        expected = page_from_body(body, plan)
        assert expected is not None
        assert expected.batch.equals(csv_to_batch(csv, plan))

    def test_a_csv_page_without_a_column_is_an_error(self):
        """A page missing a selected column (or its header) is not read as nulls."""
        plan = plan_from_describe(DESCRIBE, fields=["Name"])

        with pytest.raises(ValueError, match="CSV cannot be read"):
            csv_to_batch(b'"Id","Name"\n"001A","Acme"\n', plan)

    def test_an_empty_csv_page_is_an_empty_batch(self):
        """A results page without rows is a typed batch of none."""
        plan = plan_from_describe(DESCRIBE)

        batch = csv_to_batch(b"", plan)

        assert (0, plan.schema) == (batch.num_rows, batch.schema)

    def test_tombstones(self):
        """Tombstones carry Id, the deletion time, IsDeleted and _tombstone only."""
        plan = plan_from_describe(DESCRIBE)

        (row,) = tombstones(plan, ["001A"], [MS]).to_pylist()

        assert {
            "Id": "001A",
            "IsDeleted": True,
            "SystemModstamp": dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone.utc),
            "_tombstone": True,
        } == {k: v for k, v in row.items() if v is not None}


class TestSoql:
    @pytest.mark.parametrize(
        "text",
        [
            "2024-05-01T12:00:00.000+0000",
            "2024-05-01T12:00:00Z",
            "2024-05-01T14:00:00+02:00",
            "2024-05-01T07:00:00.000-0500",
        ],
    )
    def test_datetimes_parse_to_epoch_ms(self, text):
        """Salesforce's datetime forms all parse to the same instant."""
        assert MS == parse_datetime_ms(text)

    def test_literals(self):
        """Datetimes are unquoted (ms only when needed); strings are escaped."""
        assert "2024-05-01T12:00:00Z" == soql_datetime(MS)
        assert "2024-05-01T12:00:00.250Z" == soql_datetime(MS + 250)
        assert "2024-05-01T12:00:00.000Z" == format_ms(MS)
        assert r"'O\'Brien \\ Co'" == soql_string("O'Brien \\ Co")

    def test_the_keyset_predicate(self):
        """Resuming after (t, id) reads later stamps, and later ids on t."""
        last = (pa.scalar(MS, pa.int64()).cast(TIMESTAMP), pa.scalar("006B"))

        assert (
            "(SystemModstamp > 2024-05-01T12:00:00Z OR "
            "(SystemModstamp = 2024-05-01T12:00:00Z AND Id > '006B'))"
        ) == _after(["SystemModstamp", "Id"], last)
        assert "Id > '006B'" == _after(["Id"], last[1:])


class TestState:
    def test_round_trip(self):
        """The state survives its JSON form."""
        state = IncrementalState(
            cursor="SystemModstamp",
            watermark=MS,
            deletes_through=MS - 60_000,
            recent=Recent({"a": MS - 1000, "b": MS - 1000, "c": MS - 5}),
        )

        dumped = state.dump()
        loaded = IncrementalState.load(
            json.loads(json.dumps(dumped)), where="x", limit=10
        )

        assert {
            "version": 1,
            "cursor": "SystemModstamp",
            "watermark": "2024-05-01T12:00:00.000Z",
            "deletes_through": "2024-05-01T11:59:00.000Z",
            "recent": {
                "2024-05-01T11:59:59.000Z": ["a", "b"],
                "2024-05-01T11:59:59.995Z": ["c"],
            },
        } == dumped
        assert loaded is not None
        assert state.recent.stamps == loaded.recent.stamps

    @pytest.mark.parametrize(
        "state",
        [
            {"version": 2},
            {"version": 1, "cursor": "SystemModstamp", "watermark": 5},
            {
                "version": 1,
                "cursor": "X",
                "watermark": "2024-05-01T12:00:00Z",
                "recent": [],
            },
        ],
    )
    def test_a_foreign_state_is_a_configuration_error(self, state):
        """A state this source did not write asks for a full refresh."""
        with pytest.raises(ConfigurationError, match="full_refresh=True"):
            IncrementalState.load(state, where="Salesforce X", limit=10)

    def test_no_state_is_a_first_sync(self):
        """No state (first sync, full refresh) loads as None."""
        assert IncrementalState.load(None, where="x", limit=10) is None

    def test_re_read_rows_are_dropped(self):
        """Rows below the last watermark that landed before are dropped."""
        plan = plan_from_describe(DESCRIBE)
        recent = Recent({"a": MS, "b": MS})
        stamps = [MS, MS + 1, MS, MS + 10]  # b changed again; c and d are new
        batch = tombstones(plan, ["a", "b", "c", "d"], stamps)

        kept = recent.drop_seen(batch, "SystemModstamp", below=MS + 5)

        assert ["b", "c", "d"] == kept.column("Id").to_pylist()

    def test_recent_is_bounded(self):
        """Past its limit, Recent keeps the newest stamps."""
        recent = Recent(limit=3)
        recent.note_many([str(i) for i in range(10)], list(range(10)))
        recent.prune(floor=0)

        assert {"7": 7, "8": 8, "9": 9} == recent.stamps

    def test_pending_deletes_skip_ids_landed_after_their_deletion(self):
        """A delete whose record landed since (or was seen since) needs no tombstone."""
        plan = plan_from_describe(DESCRIBE)
        pending = PendingDeletes({"a": MS, "b": MS, "c": MS})
        pending.cover(tombstones(plan, ["a", "b"], [MS, MS - 1]), "SystemModstamp")

        assert (["b"], [MS]) == pending.remaining(Recent({"c": MS}))

    def test_latest_alive(self):
        """The latest version per id decides: by stamp, then sync, then row."""
        table = pa.table(
            {
                "Id": ["a", "a", "b", "b", "c", "d", "d"],
                "SystemModstamp": pa.array([1, 2, 1, 1, 1, 5, 5]).cast(TIMESTAMP),
                "IsDeleted": [False, True, False, False, False, False, None],
                "_tombstone": [False, False, False, True, False, False, False],
                "_sync_id": ["s1", "s2", "s1", "s1", "s1", "s1", "s2"],
            }
        )

        alive = latest_alive(table, "SystemModstamp")

        assert ["c", "d"] == alive.to_pylist()
        assert ["d"] == missing_ids(alive, [pa.array(["c", "x"])])
        assert ["c", "d"] == missing_ids(alive, [])


def response(status, body, headers=None):
    answer = requests.Response()
    answer.status_code = status
    answer._content = json.dumps(body).encode()
    answer.headers.update(headers or {})
    return answer


class TestHooks:
    def test_the_daily_limit_fails_without_retry(self):
        """403 REQUEST_LIMIT_EXCEEDED (TotalRequests) is a QuotaExceededError."""
        signal = classify(
            response(
                403,
                [
                    {
                        "errorCode": "REQUEST_LIMIT_EXCEEDED",
                        "message": "TotalRequests Limit exceeded.",
                    }
                ],
            )
        )

        assert isinstance(signal, Fail)
        assert isinstance(signal.error, QuotaExceededError)
        assert "REQUEST_LIMIT_EXCEEDED" == signal.error.vendor_code

    def test_concurrency_limits_are_retried(self):
        """403 REQUEST_LIMIT_EXCEEDED for concurrent requests is a Retry."""
        signal = classify(
            response(
                403,
                [
                    {
                        "errorCode": "REQUEST_LIMIT_EXCEEDED",
                        "message": "ConcurrentPerOrgLongTxn Limit exceeded.",
                    }
                ],
            )
        )

        assert isinstance(signal, Retry)

    @pytest.mark.parametrize(
        "answer",
        [
            response(403, [{"errorCode": "INSUFFICIENT_ACCESS", "message": "no"}]),
            response(401, [{"errorCode": "INVALID_SESSION_ID", "message": "x"}]),
            response(200, {"records": []}),
        ],
    )
    def test_other_answers_get_the_default_handling(self, answer):
        """Anything else is left to the client."""
        assert classify(answer) is None

    def test_limit_info_goes_into_the_metrics(self):
        """api-usage=used/limit is read; per-app usage is not mistaken for it."""
        metrics = RequestMetrics()
        info = "per-app-api-usage=17/250(appName=etl), api-usage=18/15000"

        observe(response(200, {}, {"Sforce-Limit-Info": info}), metrics)

        assert (18, 15000) == (metrics.quota_used, metrics.quota_limit)

    def test_the_quota_share_guard(self):
        """Past max_quota_share of the allocation, the next request is refused."""
        api = SalesforceApi(
            http=_Http(RequestMetrics(quota_used=50, quota_limit=100)),
            api_version="62.0",
            max_quota_share=0.5,
        )

        with pytest.raises(QuotaExceededError, match="50 of the org's 100"):
            api.check_quota("Opportunity")
        api.http.metrics.quota_used = 49
        api.check_quota("Opportunity")


class _Http:
    def __init__(self, metrics):
        self.metrics = metrics


def _pem():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key, pem


def _decode(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class TestJwt:
    def test_the_assertion(self):
        """The claims are iss, sub, aud and exp (3 minutes ahead); RS256 signed."""
        key, pem = _pem()
        auth = JwtBearerAuth(
            TOKEN_URL, "consumer-key", "me@example.com", pem, clock=lambda: 1000.5
        )

        header, claims, signature = auth.assertion().split(".")

        assert {"alg": "RS256", "typ": "JWT"} == _decode(header)
        assert {
            "iss": "consumer-key",
            "sub": "me@example.com",
            "aud": "https://login.salesforce.com",
            "exp": 1180,
        } == _decode(claims)
        key.public_key().verify(
            base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
            f"{header}.{claims}".encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )

    @pytest.mark.parametrize(
        ("token_url", "audience"),
        [
            (TOKEN_URL, "https://login.salesforce.com"),
            ("https://test.salesforce.com/x", "https://test.salesforce.com"),
            ("https://acme.my.salesforce.com/x", "https://login.salesforce.com"),
            (
                "https://acme--uat.sandbox.my.salesforce.com/x",
                "https://test.salesforce.com",
            ),
        ],
    )
    def test_the_audience_follows_the_token_url(self, token_url, audience):
        """Sandboxes sign for the test host, everything else for the login host."""
        assert audience == default_audience(token_url)

    def test_the_key_stays_secret(self):
        """The key is a Secret and never in the repr."""
        _, pem = _pem()
        auth = JwtBearerAuth(TOKEN_URL, "id", "me", pem.decode())

        assert isinstance(auth.private_key, Secret)
        assert "PRIVATE KEY" not in repr(auth)
        assert auth.private_key in list(auth.secrets())

    def test_a_bad_key_is_a_configuration_error(self):
        """A key that is not PEM says so at construction."""
        with pytest.raises(ConfigurationError, match="not an unencrypted PEM"):
            JwtBearerAuth(TOKEN_URL, "id", "me", "not a key")

    def test_without_cryptography(self, monkeypatch):
        """Without cryptography, the error says which extra to install."""
        monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives", None)

        with pytest.raises(ConfigurationError, match=r"revops-ingest\[jwt\]"):
            # Built at run time: a PEM header in a literal trips secret scanners.
            JwtBearerAuth(TOKEN_URL, "id", "me", "-----BEGIN " + "PRIVATE KEY-----")


def _auth():
    return RefreshTokenAuth(TOKEN_URL, "id", "secret", "refresh")


class TestSource:
    def test_is_a_source_that_does_no_io_when_built(self, monkeypatch):
        """Construction makes no client and no request."""

        def refuse(*args, **kw):
            raise AssertionError("IO at construction")

        monkeypatch.setattr(requests.Session, "send", refuse)
        source = SalesforceSource(auth=_auth())

        assert isinstance(source, Source)
        assert source._api is None
        assert "Salesforce" == source.system

    def test_importing_loads_no_cryptography(self):
        """The module imports nothing optional and does no IO at import time."""
        code = (
            "import socket, sys\n"
            "def refuse(*a, **k): raise RuntimeError('socket at import time')\n"
            "socket.socket.connect = refuse\n"
            "import revops_ingest.sources.salesforce\n"
            "assert 'cryptography' not in sys.modules\n"
        )
        subprocess.run([sys.executable, "-c", code], check=True)

    def test_the_default_objects(self):
        """Six objects; User is full, the rest incremental on SystemModstamp."""
        specs = SalesforceSource(auth=_auth()).objects()

        assert list(DEFAULT_OBJECTS) == [s.name for s in specs]
        assert {"User"} == {s.name for s in specs if s.mode == "full"}
        assert {("Id",)} == {s.primary_key for s in specs}
        assert "/Salesforce/Raw/Opportunity" == specs[0].raw_dataset("Salesforce")

    def test_any_object_by_name(self):
        """Other objects are named, or configured with a mode and fields."""
        source = SalesforceSource(
            auth=_auth(),
            objects=(
                *DEFAULT_OBJECTS,
                "Invoice__c",
                SalesforceObject(name="Lead", mode="full", fields="Email"),
            ),
        )

        specs = {s.name: s for s in source.objects()}
        assert "incremental" == specs["Invoice__c"].mode
        assert "full" == specs["Lead"].mode
        assert ("Email",) == source._object(specs["Lead"]).fields

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            ({"batch_size": 100}, "batch_size"),
            ({"max_quota_share": 1.5}, "max_quota_share"),
            ({"api_version": "62"}, "api_version"),
            ({"instance_url": "acme.my.salesforce.com"}, "instance_url"),
            ({"objects": ["Account", "account"]}, "twice"),
            ({"objects": ["bad name!"]}, "name"),
            ({"lookback": dt.timedelta(seconds=-1)}, "lookback"),
        ],
    )
    def test_bad_options_are_configuration_errors(self, options, message):
        """Options are checked when the source is built."""
        with pytest.raises(ConfigurationError, match=message):
            SalesforceSource(auth=_auth(), **options)

    def test_the_api_version_may_carry_a_v(self):
        """'v62.0' and '62.0' are the same version."""
        assert "62.0" == SalesforceSource(auth=_auth(), api_version="v62.0").api_version

    def test_fetch_context_start_is_floored(self):
        """The window end is the sync's start floored to the second."""
        started = dt.datetime(2024, 5, 1, 12, 0, 0, 999_000, tzinfo=dt.timezone.utc)
        context = FetchContext(sync_id="s", started_at=started)
        settings = Settings(
            lookback_ms=0,
            batch_size=200,
            bulk_threshold=None,
            bulk_blocklist=frozenset(),
            bulk=None,
            recent_limit=1,
        )

        run = ObjectSync(None, plan_from_describe(DESCRIBE), context, settings)

        assert MS == run.end
