"""Salesforce raw objects into the canonical staging tables."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from staging_helpers import SYNCS, at, raw_table, sf_id, tombstone

from revops_ingest.exceptions import ConfigurationError, SchemaError
from revops_ingest.staging import (
    ACCOUNTS,
    ACTIVITIES,
    CONTACTS,
    DEFAULT_STAGE_MAP,
    OPPORTUNITIES,
    VALID_STAGES,
    stage_accounts,
    stage_activities,
    stage_contacts,
    stage_opportunities,
)


def opp(number: int, minutes: float, **fields):
    """One raw Opportunity row."""
    return {
        "Id": sf_id("006", number),
        "Name": f"Deal {number}",
        "StageName": "Prospecting",
        "Amount": 100.0,
        "Probability": 10.0,
        "CloseDate": dt.date(2024, 6, 30),
        "SystemModstamp": at(minutes),
        "LastModifiedDate": at(minutes),
        "CreatedDate": at(0),
        "IsDeleted": False,
        **fields,
    }


def rows(result, key="opportunity_id"):
    """The staged rows as dicts, sorted by key."""
    return sorted(result.table.to_pylist(), key=lambda r: r[key])


NAIVE_8AM = dt.datetime(2024, 5, 1, 8)  # noqa: DTZ001 - a naive timestamp on purpose


class TestLatestVersion:
    def test_latest_modstamp_wins(self):
        """Of several versions of an Id, the latest SystemModstamp stays."""
        raw = raw_table(
            "Opportunity",
            [opp(1, 5, Amount=1.0), opp(1, 9, Amount=3.0), opp(1, 7, Amount=2.0)],
        )

        result = stage_opportunities(raw)

        assert [3.0] == [r["amount"] for r in rows(result)]
        assert 2 == result.report.superseded

    def test_later_sync_breaks_a_modstamp_tie(self):
        """Versions with the same SystemModstamp are ordered by _sync_id."""
        raw = raw_table(
            "Opportunity",
            [
                opp(1, 5, Amount=2.0, _sync_id=SYNCS[2]),
                opp(1, 5, Amount=1.0, _sync_id=SYNCS[1]),
            ],
        )

        assert [2.0] == [r["amount"] for r in rows(stage_opportunities(raw))]

    def test_full_tie_is_deterministic(self):
        """Rows tied on modstamp and sync are decided by content, not row order."""
        a, b = opp(1, 5, Amount=1.0), opp(1, 5, Amount=2.0)

        first = stage_opportunities(raw_table("Opportunity", [a, b]))
        second = stage_opportunities(raw_table("Opportunity", [b, a]))

        assert rows(first) == rows(second)

    def test_rows_without_id_are_dropped_and_counted(self):
        """A raw row with a null Id is not staged, and the report says so."""
        raw = raw_table("Opportunity", [opp(1, 1), {**opp(2, 1), "Id": None}])

        result = stage_opportunities(raw)

        assert 1 == result.table.num_rows
        assert 1 == result.report.missing_id
        assert not result.report.clean


class TestDeletes:
    def _raw(self):
        return raw_table(
            "Opportunity",
            [
                opp(1, 1),
                opp(1, 2, IsDeleted=True),  # soft-deleted
                opp(2, 1, Amount=5.0),
                tombstone("Opportunity", 2, 3, SYNCS[1]),  # hard-deleted later
                opp(3, 1),
                tombstone("Opportunity", 4, 1, SYNCS[1]),  # only a tombstone
            ],
        )

    def test_deleted_records_are_dropped(self):
        """Soft deletes and tombstones remove the record from staging."""
        result = stage_opportunities(self._raw())

        assert [sf_id("006", 3)] == [r["opportunity_id"] for r in rows(result)]
        assert 3 == result.report.deleted
        assert 6 == result.report.rows_in
        assert 2 == result.report.superseded

    def test_kept_deleted_records_are_flagged(self):
        """With keep_deleted, deleted records stay, flagged, with their last content."""
        result = stage_opportunities(self._raw(), keep_deleted=True)

        got = {r["opportunity_id"]: r for r in rows(result)}
        assert [False, True, True, True] == sorted(
            r["is_deleted"] for r in got.values()
        )
        assert (
            5.0 == got[sf_id("006", 2)]["amount"]
        )  # content from before the tombstone
        assert SYNCS[0] == got[sf_id("006", 2)]["source_sync_id"]  # that content's sync
        assert got[sf_id("006", 4)]["name"] is None  # nothing but the tombstone
        assert 3 == result.report.deleted
        assert result.report.deleted_kept
        assert 4 == result.report.rows_out

    def test_undeleted_record_comes_back(self):
        """A record restored from the recycle bin after a delete is staged again."""
        raw = raw_table("Opportunity", [opp(1, 1, IsDeleted=True), opp(1, 2)])

        assert 1 == stage_opportunities(raw).table.num_rows


class TestStages:
    def test_every_standard_stage_is_mapped(self):
        """The default map covers every standard Salesforce stage."""
        standard = [
            "Prospecting",
            "Qualification",
            "Needs Analysis",
            "Value Proposition",
            "Id. Decision Makers",
            "Perception Analysis",
            "Proposal/Price Quote",
            "Negotiation/Review",
            "Closed Won",
            "Closed Lost",
        ]
        raw = raw_table(
            "Opportunity", [opp(i, 1, StageName=s) for i, s in enumerate(standard)]
        )

        result = stage_opportunities(raw)

        assert set(standard) <= set(DEFAULT_STAGE_MAP)
        assert set(DEFAULT_STAGE_MAP.values()) <= set(VALID_STAGES)
        assert [DEFAULT_STAGE_MAP[s] for s in standard] == [
            r["stage_name"] for r in rows(result)
        ]
        assert {} == dict(result.report.unmapped_stages)

    def test_unmapped_stage_is_kept_and_reported(self):
        """A stage the map does not cover leaves stage_name null and is counted."""
        raw = raw_table(
            "Opportunity",
            [
                opp(1, 1, StageName="Contract Sent"),
                opp(2, 1, StageName="Contract Sent"),
            ],
        )

        result = stage_opportunities(raw)

        assert [None, None] == [r["stage_name"] for r in rows(result)]
        assert ["Contract Sent"] * 2 == [r["source_stage"] for r in rows(result)]
        assert {"Contract Sent": 2} == dict(result.report.unmapped_stages)

    def test_stage_map_overrides_defaults(self):
        """A stage map adds stages and overrides the default targets."""
        raw = raw_table(
            "Opportunity",
            [opp(1, 1, StageName="Contract Sent"), opp(2, 1, StageName="Prospecting")],
        )

        result = stage_opportunities(
            raw,
            stage_map={
                "Contract Sent": "Verbal Commit",
                "Prospecting": "Solution Design",
            },
        )

        assert ["Verbal Commit", "Solution Design"] == [
            r["stage_name"] for r in rows(result)
        ]

    def test_stage_map_target_must_be_a_revops_stage(self):
        """Mapping to something that is not a RevOps stage is a configuration error."""
        raw = raw_table("Opportunity", [opp(1, 1)])

        with pytest.raises(ConfigurationError, match="Signed"):
            stage_opportunities(raw, stage_map={"Contract Sent": "Signed"})


class TestConversion:
    def test_canonical_values(self):
        """Probability becomes a fraction, currency defaults, lineage is filled."""
        raw = raw_table(
            "Opportunity",
            [
                opp(
                    1,
                    1,
                    Probability=35.0,
                    CurrencyIsoCode=None,
                    AccountId=sf_id("001", 7),
                )
            ],
            drop=["CurrencyIsoCode"],
        )

        (row,) = rows(stage_opportunities(raw, default_currency="EUR"))

        assert 0.35 == row["probability"]
        assert "EUR" == row["currency"]
        assert sf_id("001", 7) == row["account_id"]
        assert ("Salesforce", sf_id("006", 1), SYNCS[0], False) == (
            row["source_system"],
            row["source_id"],
            row["source_sync_id"],
            row["is_deleted"],
        )

    def test_output_has_the_canonical_schema(self):
        """The staged table's schema is the canonical one, metadata included."""
        raw = raw_table("Opportunity", [opp(1, 1)])

        table = stage_opportunities(raw).table

        assert OPPORTUNITIES.arrow_schema() == table.schema
        assert b"1" == table.schema.metadata[b"revops.schema_version"]

    def test_missing_optional_column_becomes_typed_nulls(self):
        """An absent optional field yields nulls of the canonical type, reported."""
        raw = raw_table("Opportunity", [opp(1, 1)], drop=["Amount", "CloseDate"])

        result = stage_opportunities(raw)

        assert pa.float64() == result.table.schema.field("amount").type
        assert pa.date32() == result.table.schema.field("close_date").type
        assert [None] == result.table.column("amount").to_pylist()
        assert ("Amount", "CloseDate") == result.report.missing_columns

    @pytest.mark.parametrize("field", ["Id", "SystemModstamp"])
    def test_missing_required_column_raises(self, field):
        """Without Id or SystemModstamp staging cannot work: a SchemaError names it."""
        raw = raw_table("Opportunity", [opp(1, 1)], drop=[field])

        with pytest.raises(SchemaError, match=field) as info:
            stage_opportunities(raw)

        assert field == info.value.column

    def test_unknown_columns_are_ignored_and_listed(self):
        """Fields staging does not know are left out and listed in the report."""
        raw = raw_table("Opportunity", [opp(1, 1, Secret__c="x")])

        result = stage_opportunities(raw)

        assert "Secret__c" not in result.table.column_names
        assert ("Secret__c",) == result.report.ignored_columns

    def test_bad_values_become_nulls_and_are_counted(self):
        """Strings that do not convert become nulls, counted per column."""
        raw = raw_table(
            "Opportunity",
            [
                opp(1, 1, Amount="12.5", CloseDate="2024-06-30", IsWon="true"),
                opp(2, 1, Amount="twelve", CloseDate="2024-02-30", IsWon="maybe"),
                opp(3, 1, Amount=None, CloseDate="30/06/2024", IsWon=None),
            ],
            types={
                "Amount": pa.string(),
                "CloseDate": pa.string(),
                "IsWon": pa.string(),
            },
        )

        result = stage_opportunities(raw)

        got = rows(result)
        assert [12.5, None, None] == [r["amount"] for r in got]
        assert [dt.date(2024, 6, 30), None, None] == [r["close_date"] for r in got]
        assert [True, None, None] == [r["is_won"] for r in got]
        assert {"amount": 1, "close_date": 2, "is_won": 1} == dict(
            result.report.invalid_values
        )

    def test_salesforce_timestamp_strings(self):
        """Timestamps as the API writes them parse to UTC; others count as invalid."""
        raw = raw_table(
            "Opportunity",
            [
                opp(1, 1, CreatedDate="2024-05-01T12:34:56.000+0000"),
                opp(2, 1, CreatedDate="2024-05-01T14:34:56.250+02:00"),
                opp(3, 1, CreatedDate="2024-05-01T12:34:56Z"),
                opp(4, 1, CreatedDate="2024-05-01 12:34"),
            ],
            types={"CreatedDate": pa.string()},
        )

        result = stage_opportunities(raw)

        utc = dt.timezone.utc
        assert [
            dt.datetime(2024, 5, 1, 12, 34, 56, tzinfo=utc),
            dt.datetime(2024, 5, 1, 12, 34, 56, 250_000, tzinfo=utc),
            dt.datetime(2024, 5, 1, 12, 34, 56, tzinfo=utc),
            None,
        ] == [r["created_at"] for r in rows(result)]
        assert {"created_at": 1} == dict(result.report.invalid_values)

    def test_string_modstamp_orders_versions(self):
        """SystemModstamp given as strings still decides the latest version."""
        raw = raw_table(
            "Opportunity",
            [
                opp(1, 0, Amount=1.0, SystemModstamp="2024-05-01T10:00:00.000+0000"),
                opp(1, 0, Amount=2.0, SystemModstamp="2024-05-01T11:00:00.000+0000"),
            ],
            types={"SystemModstamp": pa.string()},
        )

        assert [2.0] == [r["amount"] for r in rows(stage_opportunities(raw))]

    def test_widening_casts(self):
        """Integer amounts and naive timestamps convert without loss or flags."""
        raw = raw_table(
            "Opportunity",
            [opp(1, 1, Amount=7, CreatedDate=NAIVE_8AM)],
            types={"Amount": pa.int64(), "CreatedDate": pa.timestamp("us")},
        )

        result = stage_opportunities(raw)

        (row,) = rows(result)
        assert 7.0 == row["amount"]
        assert dt.datetime(2024, 5, 1, 8, tzinfo=dt.timezone.utc) == row["created_at"]
        assert {} == dict(result.report.invalid_values)


class TestFieldMap:
    def test_custom_field_becomes_a_column(self):
        """MyCompetitor__c -> competitor reaches staging, after the lineage columns."""
        raw = raw_table("Opportunity", [opp(1, 1, MyCompetitor__c="Globex")])

        result = stage_opportunities(raw, field_map={"MyCompetitor__c": "competitor"})

        assert "competitor" == result.table.column_names[-1]
        assert ["Globex"] == result.table.column("competitor").to_pylist()
        assert () == result.report.ignored_columns

    def test_field_map_feeds_a_canonical_column(self):
        """A mapped field replaces the standard one and gets the same conversion."""
        raw = raw_table("Opportunity", [opp(1, 1, Win_Pct__c=80.0, Probability=10.0)])

        result = stage_opportunities(raw, field_map={"Win_Pct__c": "probability"})

        assert [0.8] == result.table.column("probability").to_pylist()
        assert ("Probability",) == result.report.ignored_columns

    def test_mapped_field_that_is_absent_gives_nulls(self):
        """A mapped field missing from the raw table becomes a null column, reported."""
        raw = raw_table("Opportunity", [opp(1, 1)])

        result = stage_opportunities(raw, field_map={"MyCompetitor__c": "competitor"})

        assert [None] == result.table.column("competitor").to_pylist()
        assert ("MyCompetitor__c",) == result.report.missing_columns

    @pytest.mark.parametrize(
        ("field_map", "match"),
        [
            ({"X__c": "stage_name"}, "derived"),
            ({"X__c": "opportunity_id"}, "key"),
            ({"X__c": "Competitor"}, "snake case"),
            (
                {"X__c": "competitor", "Y__c": "competitor"},
                "mapped to 'competitor' too",
            ),
            ({"X__c": "source_system"}, "lineage"),
        ],
    )
    def test_invalid_field_maps(self, field_map, match):
        """Field maps that cannot work are configuration errors that say why."""
        raw = raw_table("Opportunity", [opp(1, 1)])

        with pytest.raises(ConfigurationError, match=match):
            stage_opportunities(raw, field_map=field_map)


class TestAccounts:
    @pytest.mark.parametrize(
        ("website", "domain"),
        [
            ("https://www.Acme.com/about?x=1", "acme.com"),
            ("http://globex.co.uk:8080", "globex.co.uk"),
            ("WWW.initech.io", "initech.io"),
            ("  hooli.com/  ", "hooli.com"),
            ("", None),
            (None, None),
        ],
    )
    def test_domain_from_website(self, website, domain):
        """The domain is the website's host, lower case, without www."""
        raw = raw_table(
            "Account",
            [{"Id": sf_id("001", 1), "Website": website, "SystemModstamp": at(1)}],
        )

        (row,) = stage_accounts(raw).table.to_pylist()

        assert domain == row["domain"]
        assert website == row["website"]

    def test_accounts_schema_and_values(self):
        """Accounts carry the canonical columns with converted values."""
        raw = raw_table(
            "Account",
            [
                {
                    "Id": sf_id("001", 1),
                    "Name": "Acme",
                    "NumberOfEmployees": 250,
                    "AnnualRevenue": 1e6,
                    "BillingCountry": "DE",
                    "ParentId": sf_id("001", 9),
                    "SystemModstamp": at(1),
                }
            ],
        )

        table = stage_accounts(raw).table

        assert ACCOUNTS.arrow_schema() == table.schema
        (row,) = table.to_pylist()
        assert (250, 1e6, "DE", sf_id("001", 9)) == (
            row["employees"],
            row["annual_revenue"],
            row["billing_country"],
            row["parent_account_id"],
        )


class TestContacts:
    def test_contacts(self):
        """Contacts carry the canonical columns; deleted ones are dropped."""
        raw = raw_table(
            "Contact",
            [
                {
                    "Id": sf_id("003", 1),
                    "AccountId": sf_id("001", 1),
                    "Email": "ada@acme.com",
                    "FirstName": "Ada",
                    "LastName": "Lovelace",
                    "SystemModstamp": at(1),
                },
                {"Id": sf_id("003", 2), "SystemModstamp": at(1), "IsDeleted": True},
            ],
        )

        result = stage_contacts(raw)

        assert CONTACTS.arrow_schema() == result.table.schema
        assert [("ada@acme.com", "Ada", "Lovelace")] == [
            (r["email"], r["first_name"], r["last_name"])
            for r in result.table.to_pylist()
        ]
        assert 1 == result.report.deleted


class TestActivities:
    def _tasks(self):
        return raw_table(
            "Task",
            [
                {
                    "Id": sf_id("00T", 1),
                    "Subject": "Call",
                    "TaskSubtype": "Call",
                    "WhoId": sf_id("003", 1),
                    "WhatId": sf_id("006", 1),
                    "AccountId": sf_id("001", 1),
                    "ActivityDate": dt.date(2024, 5, 2),
                    "CallDurationInSeconds": 300,
                    "Status": "Completed",
                    "SystemModstamp": at(1),
                },
                {
                    "Id": sf_id("00T", 2),
                    "WhoId": sf_id("00Q", 1),
                    "WhatId": sf_id("001", 2),
                    "CreatedDate": at(60),
                    "SystemModstamp": at(1),
                },
            ],
        )

    def _events(self):
        return raw_table(
            "Event",
            [
                {
                    "Id": sf_id("00U", 1),
                    "Subject": "Demo",
                    "StartDateTime": at(120),
                    "EndDateTime": at(180),
                    "DurationInMinutes": 60,
                    "Location": "Zoom",
                    "WhatId": sf_id("006", 2),
                    "SystemModstamp": at(1),
                }
            ],
        )

    def test_tasks_and_events_become_activities(self):
        """Tasks and events share the activities schema, with derived references."""
        result = stage_activities(tasks=self._tasks(), events=self._events())

        assert ACTIVITIES.arrow_schema() == result.table.schema
        got = {r["activity_id"]: r for r in result.table.to_pylist()}
        call, todo, demo = (
            got[sf_id(p, n)] for p, n in (("00T", 1), ("00T", 2), ("00U", 1))
        )
        assert ("call", "Task", sf_id("003", 1), None, sf_id("006", 1)) == (
            call["activity_type"],
            call["source_object"],
            call["contact_id"],
            call["lead_id"],
            call["opportunity_id"],
        )
        assert dt.datetime(2024, 5, 2, tzinfo=dt.timezone.utc) == call["occurred_at"]
        assert 300 == call["duration_seconds"]
        assert ("task", sf_id("00Q", 1), sf_id("001", 2), at(60)) == (
            todo["activity_type"],
            todo["lead_id"],
            todo["account_id"],
            todo["occurred_at"],
        )
        assert ("event", "Event", at(120), at(180), 3600, "Zoom", None) == (
            demo["activity_type"],
            demo["source_object"],
            demo["occurred_at"],
            demo["ends_at"],
            demo["duration_seconds"],
            demo["location"],
            demo["status"],
        )
        assert ("Task", "Event") == result.report.source_objects
        assert 3 == result.report.rows_in

    def test_events_alone(self):
        """Activities can be staged from events only."""
        result = stage_activities(events=self._events())

        assert 1 == result.table.num_rows

    def test_needs_an_input(self):
        """Staging activities from nothing is a configuration error."""
        with pytest.raises(ConfigurationError, match="tasks=, events="):
            stage_activities()

    def test_custom_field_on_one_object(self):
        """A field only tasks have is null for events, and reported missing there."""
        tasks = raw_table(
            "Task",
            [{"Id": sf_id("00T", 1), "SystemModstamp": at(1), "Mood__c": "happy"}],
        )

        result = stage_activities(
            tasks=tasks, events=self._events(), field_map={"Mood__c": "mood"}
        )

        assert {"happy", None} == set(result.table.column("mood").to_pylist())
        assert ("Event.Mood__c",) == result.report.missing_columns


class TestInputs:
    def test_record_batch_in_record_batch_out(self):
        """A RecordBatch comes back as a RecordBatch."""
        raw = raw_table("Opportunity", [opp(1, 1)]).to_batches()[0]

        result = stage_opportunities(raw)

        assert isinstance(result.table, pa.RecordBatch)

    def test_reader_in_reader_out(self):
        """A RecordBatchReader comes back as a RecordBatchReader."""
        raw = raw_table("Opportunity", [opp(1, 1)])

        result = stage_opportunities(
            pa.RecordBatchReader.from_batches(raw.schema, raw.to_batches())
        )

        assert 1 == result.table.read_all().num_rows

    def test_rejects_other_objects(self):
        """Something that is not a frame is a TypeError naming its type."""
        with pytest.raises(TypeError, match=r"builtins\.list"):
            stage_opportunities([{"Id": "x"}])

    def test_rejects_mixed_inputs(self):
        """Eager and lazy inputs cannot be staged together."""
        pl = pytest.importorskip("polars")
        tasks = raw_table("Task", [{"Id": sf_id("00T", 1), "SystemModstamp": at(1)}])

        with pytest.raises(TypeError, match="lazy"):
            stage_activities(tasks=tasks, events=pl.from_arrow(tasks).lazy())

    def test_lazy_tasks_and_events_stack(self):
        """Lazy polars Tasks and Events stage together: timestamp units aligned."""
        pl = pytest.importorskip("polars")
        tasks = raw_table("Task", [{"Id": sf_id("00T", 1), "SystemModstamp": at(1)}])
        events = raw_table(
            "Event",
            [{"Id": sf_id("00U", 1), "SystemModstamp": at(1), "EndDateTime": at(2)}],
        )

        result = stage_activities(
            tasks=pl.from_arrow(tasks).lazy(), events=pl.from_arrow(events).lazy()
        )

        table = result.table.collect().to_arrow()
        assert pa.timestamp("us", tz="UTC") == table.schema.field("ends_at").type
        assert [None, at(2)] == table.sort_by("activity_id").column(
            "ends_at"
        ).to_pylist()

    @pytest.mark.parametrize("currency", ["usd", "EURO", 3])
    def test_rejects_bad_currency(self, currency):
        """The default currency must be an ISO 4217 code."""
        raw = raw_table("Opportunity", [opp(1, 1)])

        with pytest.raises(ConfigurationError, match="ISO 4217"):
            stage_opportunities(raw, default_currency=currency)
