"""The HubSpot source's pieces without a server: types, plans, state, hooks, config."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest
import requests

from revops_ingest._http import Fail, RateLimiter, Retry
from revops_ingest._metrics import RequestMetrics
from revops_ingest._secrets import Secret
from revops_ingest._source import Source
from revops_ingest.exceptions import (
    ConfigurationError,
    QuotaExceededError,
    SchemaError,
)
from revops_ingest.sources._hubspot_api import HubSpotApi, classify
from revops_ingest.sources._hubspot_sync import IncrementalState, Recent
from revops_ingest.sources._hubspot_types import (
    TIMESTAMP,
    Gone,
    arrow_type,
    parse_bool,
    parse_date_days,
    parse_instant_ms,
    plan_from_properties,
    records_to_batch,
    tombstones,
)
from revops_ingest.sources.hubspot import DEFAULT_OBJECTS, HubSpotOAuth, HubSpotSource


def prop(name, type_="string"):
    return {"name": name, "type": type_, "fieldType": "text"}


DEAL_PROPS = [
    prop("dealname"),
    prop("amount", "number"),
    prop("closedate", "datetime"),
    prop("start", "date"),
    prop("won", "bool"),
    prop("hs_lastmodifieddate", "datetime"),
]


def deal_plan():
    return plan_from_properties(
        "deals", {"deals": DEAL_PROPS}, cursor="hs_lastmodifieddate"
    )


def record(record_id, **props):
    return {
        "id": record_id,
        "properties": props,
        "createdAt": "2024-01-01T00:00:00.000Z",
        "updatedAt": "2024-05-01T10:00:00.123Z",
        "archived": False,
    }


def response(status, body, headers=None):
    answer = requests.Response()
    answer.status_code = status
    answer._content = json.dumps(body).encode()
    answer.headers.update(headers or {})
    return answer


class TestValues:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2024-05-01T10:00:00.123Z", 1714557600123),
            ("2024-05-01T10:00:00Z", 1714557600000),
            ("2024-05-01T12:00:00.123+02:00", 1714557600123),
            ("2024-05-01T10:00:00.123456Z", 1714557600123),
            ("1714557600123", 1714557600123),
            ("2024-05-01", 1714521600000),
        ],
    )
    def test_instants_in_every_form(self, text, expected):
        """ISO datetimes (any fraction, offsets), epoch ms and dates parse to ms."""
        assert expected == parse_instant_ms(text)

    def test_dates_from_iso_or_epoch_ms(self):
        """A date property is the same day whether ISO or midnight epoch ms."""
        day = (dt.date(2024, 5, 1) - dt.date(1970, 1, 1)).days
        assert day == parse_date_days("2024-05-01") == parse_date_days("1714521600000")

    @pytest.mark.parametrize("text", ["yesterday", "2024-13", ""])
    def test_not_an_instant(self, text):
        """Text that is no datetime is a ValueError."""
        with pytest.raises(ValueError, match="not a datetime"):
            parse_instant_ms(text)

    def test_booleans(self):
        """Only true and false (any case) are booleans."""
        assert (True, False) == (parse_bool("TRUE"), parse_bool("false"))
        with pytest.raises(ValueError, match="not a boolean"):
            parse_bool("yes")

    @pytest.mark.parametrize(
        ("declared", "arrow"),
        [
            ("number", pa.float64()),
            ("datetime", TIMESTAMP),
            ("date", pa.date32()),
            ("bool", pa.bool_()),
            ("enumeration", pa.string()),
            ("phone_number", pa.string()),
            ("string", pa.string()),
            ("something_new", pa.string()),
        ],
    )
    def test_arrow_types(self, declared, arrow):
        """Declared property types map to Arrow types; unknown ones to text."""
        assert arrow == arrow_type(declared)


class TestBatches:
    def test_strings_convert_to_declared_types(self):
        """Every property string converts to its column's type."""
        batch = records_to_batch(
            deal_plan(),
            [
                (
                    "deals",
                    record(
                        "1",
                        dealname="A",
                        amount="12.5",
                        closedate="1714557600123",
                        start="2024-06-01",
                        won="true",
                        hs_lastmodifieddate="2024-05-01T10:00:00.123Z",
                    ),
                )
            ],
        )
        (row,) = batch.to_pylist()
        assert 12.5 == row["amount"]
        assert dt.date(2024, 6, 1) == row["start"]
        assert row["won"] is True
        assert 1714557600123 == int(row["closedate"].timestamp() * 1000)
        assert row["_tombstone"] is False

    def test_all_null_columns_keep_their_types(self):
        """A page where a property is always null or empty still types the column."""
        batch = records_to_batch(
            deal_plan(),
            [("deals", record("1", amount="", won=None)), ("deals", record("2"))],
        )
        assert pa.float64() == batch.schema.field("amount").type
        assert pa.date32() == batch.schema.field("start").type
        assert [None, None] == batch.column("amount").to_pylist()
        assert 2 == batch.column("start").null_count

    def test_a_value_of_the_wrong_type_is_named(self):
        """A number property holding text is a ValueError naming it."""
        with pytest.raises(
            ValueError, match=r"'amount' \(declared number\) holds 'abc'"
        ):
            records_to_batch(deal_plan(), [("deals", record("1", amount="abc"))])

    def test_a_record_without_properties(self):
        """A record without a properties object is a ValueError."""
        with pytest.raises(ValueError, match="no 'properties'"):
            records_to_batch(deal_plan(), [("deals", {"id": "1"})])

    def test_tombstones_carry_id_and_archive_time_only(self):
        """A tombstone has the id, the archive time as cursor, and nulls."""
        batch = tombstones(deal_plan(), [Gone("deals", "9", 1000, 5000)])
        (row,) = batch.to_pylist()
        assert ("9", True, True) == (row["id"], row["archived"], row["_tombstone"])
        assert 5000 == int(row["hs_lastmodifieddate"].timestamp() * 1000)
        assert row["archivedAt"] == row["updatedAt"] == row["hs_lastmodifieddate"]
        assert row["dealname"] is None
        assert row["amount"] is None


class TestPlans:
    def test_engagement_union_keeps_types_and_conflicts_become_text(self):
        """Engagement types' properties are merged; a type conflict becomes text."""
        plan = plan_from_properties(
            "engagements",
            {
                "calls": [prop("x", "number"), prop("hs_lastmodifieddate", "datetime")],
                "notes": [prop("x", "bool"), prop("hs_lastmodifieddate", "datetime")],
            },
            cursor="hs_lastmodifieddate",
            engagement=True,
        )
        assert pa.string() == plan.schema.field("x").type
        assert "engagement_type" == plan.schema.names[1]
        assert ("x", "hs_lastmodifieddate") == plan.by_type["notes"]

    def test_a_property_named_like_a_record_column(self):
        """A property called createdAt would clash with the record column."""
        with pytest.raises(SchemaError, match="clash"):
            plan_from_properties(
                "deals",
                {"deals": [*DEAL_PROPS, prop("createdAt")]},
                cursor="hs_lastmodifieddate",
            )

    def test_the_cursor_must_be_a_datetime_property(self):
        """An object without its last-modified datetime property cannot be synced."""
        with pytest.raises(SchemaError, match="hs_lastmodifieddate"):
            plan_from_properties(
                "deals", {"deals": [prop("dealname")]}, cursor="hs_lastmodifieddate"
            )


class TestState:
    def test_recent_round_trips_and_prunes(self):
        """Recent keeps the newest stamp per id, dumps by stamp, prunes old ones."""
        recent = Recent(limit=10)
        recent.note("1", 1000)
        recent.note("1", 500)
        recent.note("2", 2000)
        loaded = Recent.load(recent.dump(), limit=10)
        assert {"1": 1000, "2": 2000} == loaded.stamps
        assert loaded.seen("1", 1000)
        assert not loaded.seen("1", 1001)
        loaded.prune(1500)
        assert {"2": 2000} == loaded.stamps

    def test_recent_is_bounded(self):
        """Past its limit Recent forgets the oldest stamps."""
        recent = Recent(limit=2)
        for index in range(5):
            recent.note(str(index), index)
        recent.prune(0)
        assert {"3": 3, "4": 4} == recent.stamps

    def test_a_state_of_another_shape_is_a_configuration_error(self):
        """A state this source did not write says to run a full refresh."""
        with pytest.raises(ConfigurationError, match="full_refresh"):
            IncrementalState.load({"version": 9}, where="HubSpot deals", limit=10)

    def test_state_round_trip(self):
        """The stored state reads back as written."""
        state = IncrementalState("hs_lastmodifieddate", 1714557600123, Recent())
        state.recent.note("5", 1714557600000)
        again = IncrementalState.load(state.dump(), where="x", limit=10)
        assert again is not None
        assert (state.cursor, state.watermark, state.recent.stamps) == (
            again.cursor,
            again.watermark,
            again.recent.stamps,
        )


class TestHooks:
    def test_daily_429_is_a_quota_failure(self):
        """429 with policyName DAILY fails at once with a QuotaExceededError."""
        signal = classify(
            response(
                429,
                {
                    "policyName": "DAILY",
                    "message": "You have reached your daily limit.",
                },
            )
        )
        assert isinstance(signal, Fail)
        assert isinstance(signal.error, QuotaExceededError)
        assert "DAILY" == signal.error.vendor_code

    @pytest.mark.parametrize("policy", ["TEN_SECONDLY_ROLLING", "SECONDLY", None])
    def test_other_429s_are_retried(self, policy):
        """Secondly limits (or an unnamed one) are retried, after Retry-After."""
        signal = classify(response(429, {"policyName": policy}, {"Retry-After": "2"}))
        assert isinstance(signal, Retry)
        assert 2.0 == signal.after

    def test_other_statuses_pass(self):
        """Anything but 429 gets the client's default handling."""
        assert classify(response(401, {"category": "EXPIRED_AUTHENTICATION"})) is None

    def test_observe_reads_quota_and_tightens_pacing(self):
        """The daily headers go to metrics; Remaining 0 makes the pacer wait."""
        now = [0.0]
        waits = []

        def sleep(seconds):
            waits.append(seconds)
            now[0] += seconds

        pacer = RateLimiter(100, 10.0, clock=lambda: now[0], sleep=sleep)
        api = HubSpotApi(http=None, pacer=pacer, search_pacer=pacer)  # type: ignore[arg-type]
        metrics = RequestMetrics()
        api.observe(
            response(
                200,
                {},
                {
                    "X-HubSpot-RateLimit-Daily": "250000",
                    "X-HubSpot-RateLimit-Daily-Remaining": "249000",
                    "X-HubSpot-RateLimit-Remaining": "0",
                    "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                },
            ),
            metrics,
        )
        assert (1000, 250000) == (metrics.quota_used, metrics.quota_limit)
        assert 10.0 == pacer.acquire()
        assert [10.0] == waits


class TestConfiguration:
    def test_exactly_one_of_token_and_auth(self):
        """A source needs a token or an auth, not both and not neither."""
        with pytest.raises(ConfigurationError, match="exactly one"):
            HubSpotSource()
        with pytest.raises(ConfigurationError, match="exactly one"):
            HubSpotSource(token="pat", auth=HubSpotOAuth("id", "secret", "refresh"))

    def test_unknown_objects(self):
        """Naming a dataset HubSpot does not offer is a ConfigurationError."""
        with pytest.raises(ConfigurationError, match="'tickets'"):
            HubSpotSource(token="pat", objects=["deals", "tickets"])

    @pytest.mark.parametrize(
        ("option", "value"),
        [("page_size", 101), ("search_page_size", 201), ("page_size", 0)],
    )
    def test_page_sizes_within_hubspot_limits(self, option, value):
        """Page sizes past HubSpot's caps are refused up front."""
        with pytest.raises(ConfigurationError, match=option):
            HubSpotSource(token="pat", **{option: value})

    def test_specs(self):
        """Record datasets are incremental on their last-modified property."""
        source = HubSpotSource(token="pat")
        specs = {s.name: s for s in source.objects()}
        assert list(DEFAULT_OBJECTS) == list(specs)
        assert ("incremental", "hs_lastmodifieddate") == (
            specs["deals"].mode,
            specs["deals"].cursor,
        )
        assert "lastmodifieddate" == specs["contacts"].cursor
        assert "full" == specs["owners"].mode
        assert ("pipelineId", "stageId") == specs["pipelines"].primary_key
        assert "/HubSpot/Raw/deals" == specs["deals"].raw_dataset(source.system)
        assert isinstance(source, Source)

    def test_secrets_stay_out_of_reprs(self):
        """Neither the token nor the OAuth secrets appear in a repr."""
        source = HubSpotSource(token="pat-na1-secret-value")
        auth = HubSpotOAuth(
            "client", "client-secret-value", Secret("refresh-secret-value")
        )
        text = repr(source) + repr(auth) + repr(HubSpotSource(auth=auth))
        for secret in (
            "pat-na1-secret-value",
            "client-secret-value",
            "refresh-secret-value",
        ):
            assert secret not in text
        assert "https://api.hubapi.com/oauth/v1/token" == auth.token_url
