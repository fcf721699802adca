"""The HubSpot source against the HubSpot emulator, over its socket.

The emulator's clock is a :class:`Clock` half an hour behind the real one that the
tests move on by hand, so every change has a stamp of its own below the window end
(the sync's real start). Sources read a one-hour look-back so that those changes
fall into the next window. The sources' own waits (backoff, pacing) go to a
:class:`Monotonic` fake clock: nothing really sleeps.
"""

from __future__ import annotations

import datetime as dt
import uuid

import hypothesis
import hypothesis.strategies as st
import pyarrow as pa
import pytest

import revops_ingest
from revops_ingest.exceptions import (
    AuthenticationError,
    QuotaExceededError,
    UnexpectedResponseError,
)
from revops_ingest.http import RetryPolicy
from revops_ingest.sources.hubspot import HubSpotOAuth, HubSpotSource
from revops_ingest.testing import Fault, HubSpotEmulator
from revops_ingest.testing._hubspot_data import format_datetime


UTC = dt.timezone.utc
FAST = RetryPolicy(initial_wait=0.01, max_wait=0.05, max_time=30, jitter=False)
SYNC_LOG = "/RevOps/Audit/sync_log"
TS = pa.timestamp("ms", tz="UTC")


class Clock:
    """The emulator's clock: behind the real one, moved on by the test."""

    def __init__(self, behind: dt.timedelta = dt.timedelta(minutes=30)) -> None:
        now = dt.datetime.now(UTC).replace(microsecond=0)
        self.now = now - behind

    def __call__(self) -> dt.datetime:
        return self.now

    def tick(self, seconds: float = 1) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        return self.now


class Monotonic:
    """A fake monotonic clock whose sleep moves it on at once."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.t += seconds


@pytest.fixture(name="clock")
def _clock():
    return Clock()


@pytest.fixture(name="mono")
def _mono():
    return Monotonic()


@pytest.fixture(name="emulators")
def _emulators(emulator_factory, clock):
    def start(**kw):
        defaults = {"seed": 7, "now": clock, "companies": 6}
        return emulator_factory(HubSpotEmulator, **{**defaults, **kw})

    return start


@pytest.fixture(name="hs")
def _hs(emulators):
    return emulators()


@pytest.fixture(name="make_source")
def _make_source(hs, mono):
    made = []

    def make(emulator=None, **kw):
        emulator = emulator or hs
        if "auth" not in kw:
            kw.setdefault("token", emulator.private_app_token)
        kw.setdefault("base_url", emulator.url)
        kw.setdefault("lookback", dt.timedelta(hours=1))
        kw.setdefault("retry", FAST)
        source = HubSpotSource(sleep=mono.sleep, clock=mono.clock, **kw)
        made.append(source)
        return source

    yield make
    for source in made:
        source.close()


def oauth(emulator, **kw):
    return HubSpotOAuth(
        emulator.client_id,
        emulator.client_secret,
        emulator.refresh_token,
        token_url=emulator.token_url,
        **kw,
    )


def sync(source, lake, obj="deals", **kw):
    return revops_ingest.sync(
        source, obj, lake, progress=False, refresh_status=False, **kw
    )


def rows(lake, obj="deals", columns=None):
    return lake.read(f"/HubSpot/Raw/{obj}", columns=columns).to_pylist()


def ids(lake, obj="deals"):
    return [row["id"] for row in rows(lake, obj, ["id"])]


def last_audit(lake):
    return lake.read(SYNC_LOG).to_pylist()[-1]


def searches(emulator, object_type="deals"):
    return [
        r.json()
        for r in emulator.requests
        if r.path == f"/crm/v3/objects/{object_type}/search"
    ]


def ms(value):
    return int(value.timestamp() * 1000)


def live_engagements(emulator):
    return {
        (i, kind)
        for kind in ("calls", "emails", "meetings", "notes", "tasks")
        for i in emulator.live(kind)
    }


def latest_versions(table, cursor="hs_lastmodifieddate"):
    """The latest row per id: highest cursor, then latest sync, then last landed."""
    latest = {}
    for index, row in enumerate(table.to_pylist()):
        key = (row[cursor], row["_sync_id"], index)
        if row["id"] not in latest or key >= latest[row["id"]][0]:
            latest[row["id"]] = (key, row)
    return {record_id: row for record_id, (_, row) in latest.items()}


class TestFirstSync:
    @pytest.mark.parametrize("obj", ["deals", "companies", "contacts"])
    def test_lands_every_live_record_once(self, hs, lake, make_source, obj):
        """A first sync lands each live record of the object exactly once."""
        run = sync(make_source(), lake, obj)

        assert "success" == run.status
        assert sorted(hs.live(obj)) == sorted(ids(lake, obj))
        assert {False} == {r["_tombstone"] for r in rows(lake, obj, ["_tombstone"])}

    def test_engagements_are_one_dataset_with_their_type(self, hs, lake, make_source):
        """The five engagement types land in one dataset, told apart by a column."""
        sync(make_source(), lake, "engagements")

        landed = {
            (r["id"], r["engagement_type"])
            for r in rows(lake, "engagements", ["id", "engagement_type"])
        }
        assert live_engagements(hs) == landed
        names = lake.schema("/HubSpot/Raw/engagements").names
        assert {"hs_call_title", "hs_note_body", "hs_task_status"} <= set(names)

    def test_columns_are_typed_from_declared_property_types(
        self, hs, lake, make_source
    ):
        """Columns take the declared types, also when a property is always null."""
        hs.add_property("deals", "renewal_date", "date", "date")
        sync(make_source(), lake)

        schema = lake.schema("/HubSpot/Raw/deals")
        assert pa.float64() == schema.field("amount").type
        assert TS == schema.field("closedate").type
        assert TS == schema.field("hs_lastmodifieddate").type
        assert pa.date32() == schema.field("contract_start_date").type
        assert pa.bool_() == schema.field("hs_is_closed").type
        assert pa.string() == schema.field("dealstage").type
        assert pa.string() == schema.field("id").type
        # null on every record, and still typed
        assert pa.float64() == schema.field("hs_acv").type
        assert pa.date32() == schema.field("renewal_date").type
        assert {None} == {
            r["renewal_date"] for r in rows(lake, columns=["renewal_date"])
        }

    def test_string_values_become_typed_values(self, hs, lake, make_source):
        """HubSpot's strings (numbers, ISO and epoch-ms datetimes, dates) convert."""
        deal = hs.create(
            "deals",
            dealname="Typed",
            amount="12500.75",
            closedate="2024-05-01T10:00:00.123Z",
            notes_last_updated="1714557600123",
            contract_start_date="2024-06-01",
            hs_is_closed="true",
        )
        sync(make_source(), lake)

        row = next(r for r in rows(lake) if r["id"] == deal)
        assert 12500.75 == row["amount"]
        assert dt.datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC) == row["closedate"]
        assert 1714557600123 == ms(row["notes_last_updated"])
        assert dt.date(2024, 6, 1) == row["contract_start_date"]
        assert row["hs_is_closed"] is True
        assert "Typed" == row["dealname"]
        assert row["archived"] is False
        assert row["archivedAt"] is None

    def test_raw_rows_keep_hubspot_names(self, hs, lake, make_source):
        """Raw columns are id, the properties as HubSpot spells them, and the rest."""
        sync(make_source(), lake, "companies")

        names = lake.schema("/HubSpot/Raw/companies").names
        assert "id" == names[0]
        assert names[-6:] == [
            "createdAt",
            "updatedAt",
            "archived",
            "archivedAt",
            "_tombstone",
            "_sync_id",
        ]
        assert {p.name for p in hs.properties["companies"]} <= set(names)

    def test_companies_carry_domain_and_salesforce_account_id(
        self, hs, lake, make_source
    ):
        """Companies land domain, name and (for some) salesforceaccountid."""
        sync(make_source(), lake, "companies")

        landed = {r["id"]: r for r in rows(lake, "companies")}
        for record_id, record in hs.live("companies").items():
            for name in ("domain", "name", "salesforceaccountid"):
                assert record.properties[name] == landed[record_id][name]
        assert any(r["salesforceaccountid"] for r in landed.values())

    def test_owners_land_active_and_archived(self, hs, lake, make_source):
        """Owners are read in full, deactivated ones with archived true."""
        run = sync(make_source(), lake, "owners")

        landed = {r["id"]: r for r in rows(lake, "owners")}
        assert set(hs.owners) == set(landed)
        for owner_id, owner in hs.owners.items():
            assert owner["archived"] == landed[owner_id]["archived"]
            assert owner["userId"] == landed[owner_id]["userId"]
        assert "full" == run.mode

    def test_pipelines_one_row_per_stage(self, hs, lake, make_source):
        """Deal pipelines land one row per stage, metadata strings typed."""
        sync(make_source(), lake, "pipelines")

        landed = {(r["pipelineId"], r["stageId"]): r for r in rows(lake, "pipelines")}
        assert 10 == len(landed)
        won = landed[("default", "closedwon")]
        assert (1.0, True, "Closed Won", "Sales Pipeline", 5) == (
            won["probability"],
            won["isClosed"],
            won["stageLabel"],
            won["pipelineLabel"],
            won["displayOrder"],
        )
        assert 0.2 == landed[("default", "appointmentscheduled")]["probability"]
        assert landed[("renewals", "1001")]["isClosed"] is False

    @pytest.mark.parametrize(
        ("obj", "pairs"),
        [
            ("deal_company_associations", [("deals", "companies")]),
            ("contact_company_associations", [("contacts", "companies")]),
            (
                "engagement_associations",
                [
                    (kind, to)
                    for kind in ("calls", "emails", "meetings", "notes", "tasks")
                    for to in ("deals", "companies", "contacts")
                ],
            ),
        ],
    )
    def test_associations_match_the_emulator(self, hs, lake, make_source, obj, pairs):
        """Association datasets hold one row per (from, to, association type)."""
        sync(make_source(), lake, obj)

        landed = {
            (
                r["fromObjectType"],
                r["fromId"],
                r["toObjectType"],
                r["toId"],
                r["associationTypeId"],
            )
            for r in rows(lake, obj)
        }
        expected = {
            (a, f, b, t, k) for a, b in pairs for f, t, k in hs.associations(a, b)
        }
        assert expected == landed
        assert expected

    def test_primary_association_label(self, hs, lake, make_source):
        """A deal's primary company comes as type 5 labelled Primary, and 341."""
        sync(make_source(), lake, "deal_company_associations")

        kinds = {
            (r["associationTypeId"], r["associationLabel"], r["associationCategory"])
            for r in rows(lake, "deal_company_associations")
        }
        assert {
            (5, "Primary", "HUBSPOT_DEFINED"),
            (341, None, "HUBSPOT_DEFINED"),
        } == kinds

    def test_associations_page_per_id(self, emulators, lake, make_source):
        """A record with more associations than one answer holds gets them all."""
        hs = emulators(association_page_size=2)
        deal = hs.create("deals", dealname="Many")
        companies = sorted(hs.live("companies"))[:5]
        for company in companies:
            hs.associate("deals", deal, "companies", company)
        sync(make_source(hs), lake, "deal_company_associations")

        landed = {
            r["toId"]
            for r in rows(lake, "deal_company_associations")
            if r["fromId"] == deal
        }
        assert set(companies) == landed

    def test_legacy_engagements_option(self, hs, lake, make_source):
        """legacy_engagements reads the v1 paged endpoint, in full, typed."""
        source = make_source(legacy_engagements=True)
        assert (
            "full" == next(s for s in source.objects() if s.name == "engagements").mode
        )
        sync(source, lake, "engagements")

        landed = {(r["id"], r["engagement_type"]) for r in rows(lake, "engagements")}
        assert live_engagements(hs) == landed
        assert any(r.path == "/engagements/v1/engagements/paged" for r in hs.requests)
        schema = lake.schema("/HubSpot/Raw/engagements")
        assert TS == schema.field("hs_timestamp").type


class TestIncremental:
    def test_second_sync_lands_only_the_changes(self, hs, clock, lake, make_source):
        """After the first sync, only records changed since then land."""
        source = make_source()
        sync(source, lake)
        deals = sorted(hs.live("deals"))
        clock.tick()
        hs.update("deals", deals[0], dealstage="closedwon", amount=99)
        clock.tick()
        new = hs.create("deals", dealname="Fresh")
        run = sync(source, lake)

        assert 2 == run.records_processed
        landed = rows(lake)[-2:]
        assert [(deals[0], "closedwon", 99.0), (new, None, None)] == [
            (r["id"], r["dealstage"], r["amount"]) for r in landed
        ]

    def test_windows_use_the_search_api_with_bounds(self, hs, clock, lake, make_source):
        """Incremental syncs search GTE watermark - lookback, LT the sync start."""
        source = make_source()
        sync(source, lake)
        state = lake.state("/HubSpot/Raw/deals")
        hs.clear_requests()
        run = sync(source, lake)

        (body,) = searches(hs)
        filters = {f["operator"]: f for f in body["filterGroups"][0]["filters"]}
        watermark = dt.datetime.fromisoformat(state["watermark"].replace("Z", "+00:00"))
        assert str(ms(watermark - dt.timedelta(hours=1))) == filters["GTE"]["value"]
        assert str(ms(run.start_time)) == filters["LT"]["value"]
        assert {"hs_lastmodifieddate"} == {f["propertyName"] for f in filters.values()}
        assert [
            {"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}
        ] == body["sorts"]
        assert 0 == run.records_processed

    def test_contacts_follow_lastmodifieddate(self, hs, clock, lake, make_source):
        """Contacts' windows are on lastmodifieddate, HubSpot's name for them."""
        source = make_source()
        sync(source, lake, "contacts")
        contact = min(hs.live("contacts"))
        clock.tick()
        hs.update("contacts", contact, jobtitle="CEO")
        run = sync(source, lake, "contacts")

        assert 1 == run.records_processed
        assert {"lastmodifieddate"} == {
            f["propertyName"]
            for body in searches(hs, "contacts")
            for f in body["filterGroups"][0]["filters"]
        }
        assert "lastmodifieddate" == lake.state("/HubSpot/Raw/contacts")["cursor"]

    def test_engagement_changes_of_every_type(self, hs, clock, lake, make_source):
        """Changed calls and notes land in engagements with their type."""
        source = make_source()
        sync(source, lake, "engagements")
        call = min(hs.live("calls"))
        note = min(hs.live("notes"))
        clock.tick()
        hs.update("calls", call, hs_call_title="Renamed")
        hs.update("notes", note, hs_note_body="edited")
        run = sync(source, lake, "engagements")

        assert 2 == run.records_processed
        landed = rows(lake, "engagements")[-2:]
        assert [("calls", call, "Renamed"), ("notes", note, "edited")] == [
            (
                r["engagement_type"],
                r["id"],
                r["hs_call_title"]
                if r["engagement_type"] == "calls"
                else r["hs_note_body"],
            )
            for r in landed
        ]

    def test_lookback_catches_late_indexing_and_drops_rereads(
        self, emulators, clock, lake, make_source
    ):
        """A change indexed after its sync lands next time; re-read records do not."""
        hs = emulators(index_delay=dt.timedelta(minutes=5))
        source = make_source(hs)
        sync(source, lake)
        first, second = sorted(hs.live("deals"))[:2]
        clock.tick(600)
        hs.update("deals", first, dealname="indexed in time")
        clock.tick(301)  # `first` is searchable now
        hs.update("deals", second, dealname="indexed late")
        run = sync(source, lake)  # `second` is not searchable yet
        assert [first] == ids(lake)[-run.records_processed :]

        clock.tick(301)
        run = sync(source, lake)  # both are in the look-back; only `second` is new

        assert 1 == run.records_processed
        assert second == ids(lake)[-1]
        landed = [(r["id"], r["hs_lastmodifieddate"]) for r in rows(lake)]
        assert len(set(landed)) == len(landed)

    def test_a_new_property_appears_as_a_new_column(self, hs, clock, lake, make_source):
        """A property added between syncs becomes a column; older rows hold null."""
        source = make_source()
        sync(source, lake)
        deal = min(hs.live("deals"))
        hs.add_property("deals", "hs_priority_score", "number", "number")
        clock.tick()
        hs.update("deals", deal, hs_priority_score="7.5")
        sync(source, lake)

        assert (
            pa.float64()
            == lake.schema("/HubSpot/Raw/deals").field("hs_priority_score").type
        )
        scores = [
            r["hs_priority_score"] for r in rows(lake, columns=["hs_priority_score"])
        ]
        assert [7.5] == [s for s in scores if s is not None]
        assert len(scores) - 1 == scores.count(None)

    def test_long_property_lists_are_read_with_batch_read(
        self, hs, clock, lake, make_source
    ):
        """Property names too long to send: the records come from batch/read."""
        source = make_source(max_properties_chars=40)
        sync(source, lake)
        deal = min(hs.live("deals"))
        clock.tick()
        hs.update("deals", deal, dealname="via batch read")
        sync(source, lake)

        assert sorted(hs.live("deals")) == sorted(set(ids(lake)))
        assert "via batch read" == rows(lake)[-1]["dealname"]
        reads = [r for r in hs.requests if r.path.endswith("/batch/read")]
        assert reads
        assert all(len(b["properties"]) <= 2 for b in searches(hs))

    def test_state_is_committed_with_the_rows(self, hs, clock, lake, make_source):
        """The state names the cursor, the watermark and the recent (id, stamp)s."""
        source = make_source()
        sync(source, lake)
        deal = min(hs.live("deals"))
        stamp = clock.tick()
        hs.update("deals", deal, dealname="x")
        run = sync(source, lake)

        state = lake.state("/HubSpot/Raw/deals")
        assert {"version", "cursor", "watermark", "recent"} == set(state)
        assert [deal] == state["recent"][format_datetime(stamp)]
        assert run.watermark_after


class TestTies:
    def test_more_ties_than_a_page_neither_loop_nor_skip(
        self, hs, clock, lake, make_source
    ):
        """450 records on one stamp, pages of 100: each lands once, in few calls."""
        source = make_source(search_page_size=100)
        sync(source, lake)
        stamp = clock.tick()
        tied = hs.generate("deals", 450, stamp=stamp)
        for _ in range(30):
            hs.generate("deals", 1, stamp=clock.tick(0.001))
        hs.clear_requests()
        run = sync(source, lake)

        assert 480 == run.records_processed
        landed = ids(lake)
        assert sorted(hs.live("deals")) == sorted(set(landed))
        assert len(landed) == len(set(landed))
        assert set(tied) <= set(landed[-480:])
        assert len(searches(hs)) <= 12
        assert all(r.fault is None for r in hs.requests)

    def test_the_10000_result_cap_with_ten_thousand_ties(
        self, hs, clock, lake, make_source
    ):
        """10,050 records on one stamp: read past the cap, once each, never a 400."""
        source = make_source()
        sync(source, lake)
        stamp = clock.tick()
        hs.generate("deals", 10_050, stamp=stamp)
        later = []
        for _ in range(50):
            later += hs.generate("deals", 5, stamp=clock.tick(0.001))
        hs.clear_requests()
        run = sync(source, lake)

        assert 10_300 == run.records_processed
        landed = ids(lake)
        assert len(landed) == len(set(landed))
        assert sorted(hs.live("deals")) == sorted(landed)
        bodies = searches(hs)
        assert all(int(b.get("after") or 0) < 10_000 for b in bodies)
        assert set(later) == set(landed[-250:])
        assert 60 >= len(bodies)

    def test_a_lower_cap_with_ties_around_the_page_edges(
        self, emulators, clock, lake, make_source
    ):
        """With a 300-result cap and clusters of ties, nothing is lost or doubled."""
        hs = emulators(search_max_results=300)
        source = make_source(hs, search_page_size=50)
        sync(source, lake)
        for size in (49, 50, 51, 1, 120, 7):
            hs.generate("deals", size, stamp=clock.tick())
        run = sync(source, lake)

        assert 278 == run.records_processed
        landed = ids(lake)
        assert len(landed) == len(set(landed))
        assert sorted(hs.live("deals")) == sorted(landed)


class TestDeletes:
    def test_archived_records_land_as_tombstones(self, hs, clock, lake, make_source):
        """An archived deal lands a tombstone: id, archive time, archived, no more."""
        source = make_source()
        sync(source, lake)
        deal = min(hs.live("deals"))
        when = clock.tick()
        hs.archive("deals", deal)
        run = sync(source, lake)

        assert 1 == run.records_processed
        (row,) = [r for r in rows(lake) if r["_tombstone"]]
        assert (deal, True, when, when) == (
            row["id"],
            row["archived"],
            row["archivedAt"],
            row["hs_lastmodifieddate"],
        )
        assert row["dealname"] is None
        assert row["amount"] is None
        assert hs.records["deals"][deal].created == row["createdAt"]

    def test_a_tombstone_lands_once(self, hs, clock, lake, make_source):
        """The next sync (its look-back covers the archive) lands no second one."""
        source = make_source()
        sync(source, lake)
        deal = min(hs.live("deals"))
        clock.tick()
        hs.archive("deals", deal)
        sync(source, lake)
        clock.tick()
        run = sync(source, lake)

        assert 0 == run.records_processed
        assert 1 == sum(r["_tombstone"] for r in rows(lake, columns=["_tombstone"]))

    def test_a_restored_record_lands_alive_after_its_tombstone(
        self, hs, clock, lake, make_source
    ):
        """Archive then restore: the latest version is alive again."""
        source = make_source()
        sync(source, lake)
        deal = min(hs.live("deals"))
        clock.tick()
        hs.archive("deals", deal)
        sync(source, lake)
        clock.tick()
        hs.restore("deals", deal)
        sync(source, lake)

        latest = latest_versions(lake.read("/HubSpot/Raw/deals"))
        assert latest[deal]["_tombstone"] is False
        assert latest[deal]["archived"] is False

    def test_first_sync_lands_earlier_archives_as_tombstones(
        self, hs, clock, lake, make_source
    ):
        """Records archived before the first sync land as tombstones too."""
        deal = min(hs.live("deals"))
        hs.archive("deals", deal)
        sync(make_source(), lake)

        assert [deal] == [r["id"] for r in rows(lake) if r["_tombstone"]]

    def test_archived_can_be_switched_off(self, hs, clock, lake, make_source):
        """archived=False reads no archived records."""
        hs.archive("deals", min(hs.live("deals")))
        sync(make_source(archived=False), lake)

        assert not any(r.arg("archived") == "true" for r in hs.requests)
        assert not any(r["_tombstone"] for r in rows(lake))

    def test_full_refresh_reconciles_records_gone_for_good(
        self, hs, clock, lake, make_source
    ):
        """A full refresh tombstones ids HubSpot no longer lists at all."""
        source = make_source()
        sync(source, lake)
        gone = min(hs.live("deals"))
        del hs.records["deals"][gone]  # purged after the 90 days, or GDPR-deleted
        run = sync(source, lake, full_refresh=True)

        assert [gone] == [r["id"] for r in rows(lake) if r["_tombstone"]]
        assert any("1 tombstone(s)" in w for w in run.warnings)


class TestAuth:
    def test_private_app_token_is_a_bearer_token(self, hs, lake, make_source):
        """A private app's token goes as Authorization: Bearer on every call."""
        sync(make_source(), lake, "owners")

        assert {f"Bearer {hs.private_app_token}"} == {
            r.headers["Authorization"] for r in hs.requests
        }

    def test_oauth_token_expiring_mid_sync_is_refreshed(
        self, emulators, lake, make_source
    ):
        """An access token that expires mid-sync is refreshed and the sync goes on."""
        hs = emulators(token_ttl_calls=3)
        run = sync(make_source(hs, auth=oauth(hs), page_size=2), lake)

        assert "success" == run.status
        assert sorted(hs.live("deals")) == sorted(ids(lake))
        # each token serves 3 calls, then answers 401 EXPIRED_AUTHENTICATION
        assert hs.api_calls > 6
        assert -(-hs.api_calls // 3) == run.token_refreshes == hs.access_tokens_issued

    def test_expired_authentication_answer_is_refreshed_once(
        self, emulators, lake, make_source
    ):
        """401 EXPIRED_AUTHENTICATION gets one refresh, then the call is repeated."""
        hs = emulators()
        source = make_source(hs, auth=oauth(hs))
        sync(source, lake, "owners")
        hs.expire_tokens()
        run = sync(source, lake, "owners")

        assert "success" == run.status
        assert 1 == run.token_refreshes
        assert 2 == hs.access_tokens_issued

    def test_a_refused_refresh_token_names_grant_and_vendor_error(
        self, emulators, lake, make_source
    ):
        """A bad refresh token fails the sync with an AuthenticationError, no secret."""
        hs = emulators()
        auth = HubSpotOAuth(
            hs.client_id,
            hs.client_secret,
            "wrong-refresh-token",
            token_url=hs.token_url,
        )
        with pytest.raises(AuthenticationError) as caught:
            sync(make_source(hs, auth=auth), lake)

        error = caught.value
        assert "OAuth 2.0 refresh_token" == error.grant
        assert "BAD_REFRESH_TOKEN" == error.vendor_code
        assert "missing or invalid refresh token" in str(error)
        assert "wrong-refresh-token" not in str(error)
        assert hs.client_secret not in str(error)
        assert "failed" == last_audit(lake)["status"]
        assert not lake.exists("/HubSpot/Raw/deals")

    def test_rotated_refresh_tokens_go_to_the_callback(
        self, emulators, lake, make_source
    ):
        """Each rotated refresh token is handed to on_refresh_token."""
        hs = emulators(rotate_refresh_token=True)
        stored = []
        sync(
            make_source(hs, auth=oauth(hs, on_refresh_token=stored.append)),
            lake,
            "owners",
        )

        assert [hs.refresh_token] == [s.reveal() for s in stored]

    def test_an_invalid_private_token_is_an_authentication_error(
        self, hs, lake, make_source
    ):
        """A token HubSpot does not know fails with INVALID_AUTHENTICATION."""
        with pytest.raises(AuthenticationError) as caught:
            sync(make_source(token="pat-na1-wrong-token"), lake)

        assert "INVALID_AUTHENTICATION" == caught.value.vendor_code
        assert "pat-na1-wrong-token" not in str(caught.value)


class TestRateLimits:
    def test_ten_secondly_limit_is_waited_out(self, hs, lake, make_source, mono):
        """429 TEN_SECONDLY_ROLLING is retried after a wait; the sync succeeds."""
        hs.inject(
            hs.rate_limit_fault(
                "TEN_SECONDLY_ROLLING",
                path="/crm/v3/objects/deals$",
                times=2,
                retry_after=1,
            )
        )
        run = sync(make_source(), lake)

        assert "success" == run.status
        assert 2 == run.retries
        assert sorted(hs.live("deals")) == sorted(ids(lake))
        assert mono.waits.count(1.0) >= 2

    def test_daily_limit_fails_the_sync(self, hs, lake, make_source):
        """429 DAILY stops the sync at once: QuotaExceededError, a failed audit row."""
        hs.exhaust_daily_quota()
        with pytest.raises(QuotaExceededError, match="daily API limit"):
            sync(make_source(), lake)

        audit = last_audit(lake)
        assert ("failed", "QuotaExceededError") == (
            audit["status"],
            audit["error_type"],
        )
        assert 0 == audit["retries"]
        assert 1 == len(hs.requests)
        assert not lake.exists("/HubSpot/Raw/deals")

    def test_daily_limit_mid_sync_commits_nothing(self, hs, clock, lake, make_source):
        """A daily 429 on a later page leaves the raw dataset and state as they were."""
        source = make_source(page_size=5)
        sync(source, lake)
        before = (
            lake.read("/HubSpot/Raw/deals").num_rows,
            lake.state("/HubSpot/Raw/deals"),
        )
        hs.inject(hs.rate_limit_fault("DAILY", path="/search$", skip=1))
        hs.generate("deals", 20, stamp=clock.tick())
        with pytest.raises(QuotaExceededError):
            sync(make_source(search_page_size=5), lake)

        assert before == (
            lake.read("/HubSpot/Raw/deals").num_rows,
            lake.state("/HubSpot/Raw/deals"),
        )

    def test_daily_usage_goes_into_the_audit_row(self, hs, lake, make_source):
        """The daily headers of private-app calls fill api_quota_used and _limit."""
        run = sync(make_source(), lake)

        assert hs.daily_limit == run.api_quota_limit
        assert hs.api_calls == run.api_quota_used

    def test_pacing_from_headers_avoids_429s(self, emulators, lake, make_source, mono):
        """With 4 calls per ten seconds the source waits instead of being refused."""
        hs = emulators(ten_second_limit=4, rate_clock=mono.clock)
        run = sync(make_source(hs, page_size=3, requests_per_10s=100), lake)

        assert "success" == run.status
        assert 0 == run.retries
        assert run.wait_seconds >= 10
        assert sorted(hs.live("deals")) == sorted(ids(lake))

    def test_search_is_paced_to_its_own_limit(
        self, emulators, clock, lake, make_source, mono
    ):
        """Search calls keep to 5 a second without any 429 SECONDLY."""
        hs = emulators(search_per_second=5, rate_clock=mono.clock)
        source = make_source(hs, search_page_size=3)
        sync(source, lake)
        for record_id in sorted(hs.live("deals"))[:30]:
            hs.update("deals", record_id, stamp=clock.tick())
        run = sync(source, lake)

        assert 0 == run.retries
        assert len(searches(hs)) > 5
        assert run.wait_seconds > 0


class TestFailures:
    def test_a_malformed_page_is_a_typed_error_and_commits_nothing(
        self, hs, lake, make_source
    ):
        """A page that is not JSON fails the sync; no row and no state is committed."""
        hs.inject(Fault.malformed(path="/crm/v3/objects/deals$", skip=1))
        with pytest.raises(UnexpectedResponseError, match="not valid JSON") as caught:
            sync(make_source(page_size=5), lake)

        assert "/crm/v3/objects/deals" == caught.value.path
        assert "deals" == caught.value.object_type
        assert not lake.exists("/HubSpot/Raw/deals")
        audit = last_audit(lake)
        assert ("failed", 0) == (audit["status"], audit["records_processed"])

    def test_a_value_that_does_not_fit_its_type_is_a_typed_error(
        self, hs, lake, make_source
    ):
        """A number property holding text fails, naming the property."""
        deal = min(hs.live("deals"))
        hs.records["deals"][deal].properties["amount"] = "twelve"
        with pytest.raises(UnexpectedResponseError, match="'amount'"):
            sync(make_source(), lake)

    def test_an_answer_of_the_wrong_shape_is_a_typed_error(self, hs, lake, make_source):
        """A 200 without a results list is an UnexpectedResponseError."""
        hs.inject(Fault.status(200, {"unexpected": True}, path="/crm/v3/owners$"))
        with pytest.raises(UnexpectedResponseError, match="'results'"):
            sync(make_source(), lake, "owners")

    def test_server_errors_are_retried(self, hs, lake, make_source):
        """502 and 504 (HubSpot time-outs) are retried."""
        hs.inject(
            hs.error_fault(502, "BAD_GATEWAY", "timeout", path="/properties/", times=1)
        )
        hs.inject(
            hs.error_fault(504, "GATEWAY_TIMEOUT", "timeout", path="/objects/", times=1)
        )
        run = sync(make_source(), lake)

        assert ("success", 2) == (run.status, run.retries)


_EDITS = st.lists(
    st.one_of(
        st.tuples(st.just("update"), st.integers(0, 30)),
        st.tuples(st.just("create"), st.integers(1, 3)),
        st.tuples(st.just("archive"), st.integers(0, 30)),
        st.tuples(st.just("restore"), st.integers(0, 30)),
        st.tuples(st.just("tie"), st.integers(2, 8)),
        st.tuples(st.just("sync"), st.integers(1, 5)),
    ),
    max_size=12,
)


def _apply(emulator, clock, edit):
    kind, n = edit
    live = sorted(emulator.live("deals"))
    archived = sorted(set(emulator.records["deals"]) - set(live))
    clock.tick()
    if kind == "update" and live:
        emulator.update("deals", live[n % len(live)], amount=n)
    elif kind == "create":
        emulator.generate("deals", n)
    elif kind == "archive" and live:
        emulator.archive("deals", live[n % len(live)])
    elif kind == "restore" and archived:
        emulator.restore("deals", archived[n % len(archived)])
    elif kind == "tie" and live:
        emulator.set_modified("deals", live[:n], clock.now)


class TestProperties:
    @hypothesis.settings(
        max_examples=20,
        deadline=None,
        suppress_health_check=[hypothesis.HealthCheck.too_slow],
    )
    @hypothesis.given(edits=_EDITS, page=st.sampled_from([2, 3, 200]))
    def test_the_latest_version_per_id_is_the_final_state(self, edits, page):
        """For any edit history and page size, the latest raw versions equal HubSpot."""
        clock = Clock()
        mono = Monotonic()
        lake = revops_ingest.Lake(f"memory://hubspot-{uuid.uuid4().hex}")
        with HubSpotEmulator(seed=3, companies=2, now=clock) as emulator:
            source = HubSpotSource(
                token=emulator.private_app_token,
                base_url=emulator.url,
                lookback=dt.timedelta(hours=1),
                search_page_size=page,
                page_size=min(page, 100),
                retry=FAST,
                sleep=mono.sleep,
                clock=mono.clock,
            )
            with source:
                sync(source, lake)
                for edit in edits:
                    if edit[0] == "sync":
                        clock.tick(edit[1])
                        sync(source, lake)
                    else:
                        _apply(emulator, clock, edit)
                clock.tick()
                sync(source, lake)
            emulator.raise_errors()
            latest = latest_versions(lake.read("/HubSpot/Raw/deals"))
            alive = {i for i, r in latest.items() if not r["_tombstone"]}
            assert set(emulator.live("deals")) == alive
            for record_id, record in emulator.live("deals").items():
                row = latest[record_id]
                assert record.updated == row["hs_lastmodifieddate"]
                expected = record.properties["amount"]
                assert (float(expected) if expected else None) == row["amount"]
            raw = lake.read("/HubSpot/Raw/deals", columns=["id", "hs_lastmodifieddate"])
            pairs = list(
                zip(*(raw.column(c).to_pylist() for c in raw.column_names), strict=True)
            )
            assert len(pairs) == len(set(pairs))
