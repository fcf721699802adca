"""HubSpot raw datasets into the canonical staging tables."""

from __future__ import annotations

import datetime as dt

import attrs
import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from staging_helpers import normalise, to_arrow

import revops_ingest
from revops_ingest.exceptions import ConfigurationError, SchemaError
from revops_ingest.http import RetryPolicy
from revops_ingest.sources.hubspot import HubSpotSource
from revops_ingest.staging import (
    ACCOUNTS,
    ACTIVITIES,
    CONTACTS,
    OPPORTUNITIES,
    stage_map_from_table,
)
from revops_ingest.staging._hubspot import (
    DEFAULT_HUBSPOT_STAGE_MAP,
    HUBSPOT_FIELDS,
    current_associations,
    hubspot_options_for,
    stage_hubspot_companies,
    stage_hubspot_contacts,
    stage_hubspot_deals,
    stage_hubspot_engagements,
    with_associations,
)
from revops_ingest.testing import HubSpotEmulator


UTC = dt.timezone.utc
TS = pa.timestamp("ms", tz="UTC")
SYNC_TYPE = pa.dictionary(pa.int32(), pa.string())
SYNCS = [f"2024050{d}T000000000000Z-0000000{d}" for d in range(1, 10)]
T0 = dt.datetime(2024, 5, 1, tzinfo=UTC)

RECORD = [
    ("createdAt", TS),
    ("updatedAt", TS),
    ("archived", pa.bool_()),
    ("archivedAt", TS),
]
FIELDS: dict[str, list[tuple[str, pa.DataType]]] = {
    "deals": [
        ("id", pa.string()),
        ("dealname", pa.string()),
        ("amount", pa.float64()),
        ("dealstage", pa.string()),
        ("pipeline", pa.string()),
        ("closedate", TS),
        ("dealtype", pa.string()),
        ("hs_is_closed", pa.bool_()),
        ("hs_deal_stage_probability", pa.float64()),
        ("createdate", TS),
        ("hs_lastmodifieddate", TS),
        ("hubspot_owner_id", pa.string()),
        *RECORD,
    ],
    "companies": [
        ("id", pa.string()),
        ("name", pa.string()),
        ("domain", pa.string()),
        ("industry", pa.string()),
        ("numberofemployees", pa.float64()),
        ("annualrevenue", pa.float64()),
        ("city", pa.string()),
        ("state", pa.string()),
        ("country", pa.string()),
        ("type", pa.string()),
        ("hs_parent_company_id", pa.float64()),
        ("salesforceaccountid", pa.string()),
        ("createdate", TS),
        ("hs_lastmodifieddate", TS),
        ("hubspot_owner_id", pa.string()),
        *RECORD,
    ],
    "contacts": [
        ("id", pa.string()),
        ("firstname", pa.string()),
        ("lastname", pa.string()),
        ("email", pa.string()),
        ("phone", pa.string()),
        ("jobtitle", pa.string()),
        ("associatedcompanyid", pa.float64()),
        ("country", pa.string()),
        ("createdate", TS),
        ("lastmodifieddate", TS),
        ("hubspot_owner_id", pa.string()),
        *RECORD,
    ],
    "engagements": [
        ("id", pa.string()),
        ("engagement_type", pa.string()),
        ("hs_timestamp", TS),
        ("hs_call_title", pa.string()),
        ("hs_call_duration", pa.float64()),
        ("hs_call_status", pa.string()),
        ("hs_email_subject", pa.string()),
        ("hs_email_status", pa.string()),
        ("hs_meeting_title", pa.string()),
        ("hs_meeting_end_time", TS),
        ("hs_meeting_outcome", pa.string()),
        ("hs_meeting_location", pa.string()),
        ("hs_note_body", pa.string()),
        ("hs_task_subject", pa.string()),
        ("hs_task_status", pa.string()),
        ("hs_task_priority", pa.string()),
        ("hs_lastmodifieddate", TS),
        ("hubspot_owner_id", pa.string()),
        *RECORD,
    ],
}
MODSTAMP = {"contacts": "lastmodifieddate"}
ASSOCIATION_FIELDS = [
    ("fromObjectType", pa.string()),
    ("fromId", pa.string()),
    ("toObjectType", pa.string()),
    ("toId", pa.string()),
    ("associationTypeId", pa.int64()),
    ("associationCategory", pa.string()),
    ("associationLabel", pa.string()),
]


def at(minutes: float) -> dt.datetime:
    """A UTC time *minutes* after 2024-05-01."""
    return T0 + dt.timedelta(minutes=minutes)


def raw(dataset: str, rows, *, extra: dict[str, pa.DataType] | None = None):
    """A raw HubSpot table as the source lands it; absent values are null."""
    fields = [*FIELDS[dataset], *(extra or {}).items()]
    columns = {n: pa.array([r.get(n) for r in rows], t) for n, t in fields}
    columns["_tombstone"] = pa.array([bool(r.get("_tombstone")) for r in rows])
    columns["_sync_id"] = pa.array(
        [r.get("_sync_id", SYNCS[0]) for r in rows], pa.string()
    ).dictionary_encode()
    return pa.table(columns)


def record(dataset: str, record_id: str, minutes: float, **values):
    """One raw row of *dataset*, last modified *minutes* after T0."""
    stamp = MODSTAMP.get(dataset, "hs_lastmodifieddate")
    return {
        "id": record_id,
        stamp: at(minutes),
        "createdAt": at(0),
        "updatedAt": at(minutes),
        "archived": False,
        **values,
    }


def deal(record_id: str, minutes: float = 1, **values):
    """A raw deal row with a name, stage and amount."""
    defaults = {
        "dealname": f"Deal {record_id}",
        "dealstage": "qualifiedtobuy",
        "amount": 100.0,
    }
    return record("deals", record_id, minutes, **{**defaults, **values})


def tombstone(dataset: str, record_id: str, minutes: float, sync: str):
    """An archived record's tombstone: id, stamps, archived, nothing else."""
    row = record(dataset, record_id, minutes, archived=True, archivedAt=at(minutes))
    return {**row, "_tombstone": True, "_sync_id": sync}


def links(*rows, sync: str = SYNCS[0]):
    """An association table from ``(from type, from, to type, to, type id)`` rows."""
    names = [n for n, _ in ASSOCIATION_FIELDS]
    data = [
        dict(zip(names, (*row, "HUBSPOT_DEFINED", None), strict=True)) for row in rows
    ]
    table = pa.Table.from_pylist(data, schema=pa.schema(ASSOCIATION_FIELDS))
    syncs = pa.array([sync] * len(data), pa.string()).dictionary_encode()
    return table.append_column(pa.field("_sync_id", SYNC_TYPE), syncs)


def by_key(result, key):
    """The staged rows (any frame type) as dicts keyed by *key*."""
    return {r[key]: r for r in to_arrow(result.table).to_pylist()}


# ------------------------------------------------------------------ deals


class TestDeals:
    def test_maps_every_property_to_its_canonical_column(self):
        """A deal's properties land in the canonical columns, typed, with lineage."""
        table = raw(
            "deals",
            [
                deal(
                    "11",
                    dealstage="decisionmakerboughtin",
                    amount=2500.5,
                    closedate=dt.datetime(2024, 6, 30, 12, tzinfo=UTC),
                    dealtype="newbusiness",
                    hs_is_closed=False,
                    hs_deal_stage_probability=0.8,
                    createdate=at(0),
                    hubspot_owner_id="41629700",
                    deal_currency_code="EUR",
                    _sync_id=SYNCS[2],
                )
            ],
            extra={"deal_currency_code": pa.string()},
        )
        associations = links(("deals", "11", "companies", "7", 5))

        result = stage_hubspot_deals(table, associations=associations)

        (row,) = result.table.to_pylist()
        assert row == {
            "opportunity_id": "11",
            "account_id": "7",
            "name": "Deal 11",
            "stage_name": "Negotiation",
            "source_stage": "decisionmakerboughtin",
            "amount": 2500.5,
            "currency": "EUR",
            "close_date": dt.date(2024, 6, 30),
            "probability": 0.8,
            "is_closed": False,
            "is_won": False,
            "owner_id": "41629700",
            "opportunity_type": "newbusiness",
            "lead_source": None,
            "forecast_category": None,
            "created_at": at(0),
            "updated_at": at(1),
            "is_deleted": False,
            "source_system": "HubSpot",
            "source_id": "11",
            "source_sync_id": SYNCS[2],
            "salesforce_opportunity_id": None,
        }
        assert result.table.schema.names[: len(OPPORTUNITIES.names)] == list(
            OPPORTUNITIES.names
        )
        assert "hs_salesforceopportunityid" in result.report.missing_columns

    def test_probability_is_not_divided_by_100(self):
        """HubSpot's stage probability is a fraction already and is kept as it is."""
        table = raw("deals", [deal("1", hs_deal_stage_probability=0.4)])

        (row,) = stage_hubspot_deals(table).table.to_pylist()

        assert 0.4 == row["probability"]

    def test_close_date_is_the_utc_date_of_closedate(self):
        """closedate, a datetime, becomes the date it falls on in UTC."""
        late = dt.datetime(2024, 6, 30, 23, 59, tzinfo=UTC)
        table = raw("deals", [deal("1", closedate=late)])

        (row,) = stage_hubspot_deals(table).table.to_pylist()

        assert dt.date(2024, 6, 30) == row["close_date"]

    def test_default_pipeline_stages_map_to_revops_stages(self):
        """Every stage id of HubSpot's default pipeline maps to its RevOps stage."""
        stages = list(DEFAULT_HUBSPOT_STAGE_MAP)[:7]
        table = raw("deals", [deal(str(i), dealstage=s) for i, s in enumerate(stages)])

        result = stage_hubspot_deals(table)

        assert {s: DEFAULT_HUBSPOT_STAGE_MAP[s] for s in stages} == {
            r["source_stage"]: r["stage_name"] for r in result.table.to_pylist()
        }
        assert [
            "Discovery",
            "Solution Design",
            "Proposal",
            "Negotiation",
            "Verbal Commit",
            "Closed Won",
            "Closed Lost",
        ] == [DEFAULT_HUBSPOT_STAGE_MAP[s] for s in stages]
        assert result.report.clean

    def test_custom_stage_ids_from_the_config_table(self):
        """HubSpot rows of /RevOps/Config/stage_map map custom ids; others are not."""
        config = pa.table(
            {
                "source_stage": ["1001", "1002", "1003"],
                "revops_stage": ["Negotiation", "Closed Won", "Closed Lost"],
                "source_system": ["HubSpot", "HubSpot", "Salesforce"],
            }
        )
        stage_map = stage_map_from_table(config, source_system="HubSpot")
        table = raw(
            "deals",
            [
                deal("1", dealstage="1001"),
                deal("2", dealstage="1002"),
                deal("3", dealstage="1003"),
                deal("4", dealstage="1003"),
            ],
        )

        result = stage_hubspot_deals(table, stage_map=stage_map)

        staged = by_key(result, "opportunity_id")
        assert "Negotiation" == staged["1"]["stage_name"]
        assert "Closed Won" == staged["2"]["stage_name"]
        assert staged["3"]["stage_name"] is None  # a Salesforce row: not HubSpot's
        assert {"1003": 2} == dict(result.report.unmapped_stages)
        assert 4 == result.report.rows_out  # unmapped deals are kept

    def test_closed_and_won_follow_the_stage_without_the_properties(self):
        """Without hs_is_closed and hs_is_closed_won, the mapped stage decides."""
        table = raw(
            "deals",
            [
                deal("1", dealstage="closedwon"),
                deal("2", dealstage="closedlost"),
                deal("3", dealstage="contractsent"),
                deal("4", dealstage="unknown"),
            ],
        ).drop_columns(["hs_is_closed"])

        staged = by_key(stage_hubspot_deals(table), "opportunity_id")

        assert [(True, True), (True, False), (False, False), (None, None)] == [
            (staged[i]["is_closed"], staged[i]["is_won"]) for i in "1234"
        ]

    def test_the_properties_win_over_the_stage(self):
        """hs_is_closed and hs_is_closed_won, when present, are taken as they are."""
        table = raw(
            "deals",
            [
                deal(
                    "1",
                    dealstage="closedwon",
                    hs_is_closed=True,
                    hs_is_closed_won=False,
                )
            ],
            extra={"hs_is_closed_won": pa.bool_()},
        )

        (row,) = stage_hubspot_deals(table).table.to_pylist()

        assert (True, False) == (row["is_closed"], row["is_won"])

    def test_currency_defaults_when_the_portal_has_none(self):
        """Deals without deal_currency_code get the default currency."""
        table = raw("deals", [deal("1")])

        (row,) = stage_hubspot_deals(table, default_currency="GBP").table.to_pylist()

        assert "GBP" == row["currency"]

    def test_latest_modification_wins(self):
        """Of several versions of a deal, the greatest hs_lastmodifieddate stays."""
        table = raw(
            "deals",
            [
                deal("1", 5, amount=1.0),
                deal("1", 9, amount=3.0),
                deal("1", 7, amount=2.0),
            ],
        )

        result = stage_hubspot_deals(table)

        assert [3.0] == [r["amount"] for r in result.table.to_pylist()]
        assert 2 == result.report.superseded

    def test_later_sync_breaks_a_stamp_tie(self):
        """Versions with the same stamp are ordered by their sync id."""
        table = raw(
            "deals",
            [
                deal("1", 5, amount=2.0, _sync_id=SYNCS[2]),
                deal("1", 5, amount=1.0, _sync_id=SYNCS[1]),
            ],
        )

        assert [2.0] == [
            r["amount"] for r in stage_hubspot_deals(table).table.to_pylist()
        ]

    def test_archived_and_tombstoned_deals_are_dropped(self):
        """An archived version or a tombstone deletes the deal; the report counts it."""
        table = raw(
            "deals",
            [
                deal("1", 1),
                deal("1", 2, archived=True),
                deal("2", 1),
                tombstone("deals", "2", 3, SYNCS[1]),
                deal("3", 1),
            ],
        )

        result = stage_hubspot_deals(table)

        assert ["3"] == [r["opportunity_id"] for r in result.table.to_pylist()]
        assert 2 == result.report.deleted

    def test_kept_deleted_deals_are_flagged_with_their_content(self):
        """With keep_deleted, a tombstoned deal stays flagged, with its last content."""
        table = raw(
            "deals", [deal("2", 1, amount=5.0), tombstone("deals", "2", 3, SYNCS[1])]
        )

        (row,) = stage_hubspot_deals(table, keep_deleted=True).table.to_pylist()

        assert (True, 5.0, SYNCS[0]) == (
            row["is_deleted"],
            row["amount"],
            row["source_sync_id"],  # the sync that landed the content kept
        )

    def test_salesforce_opportunity_id_is_an_extra_text_column(self):
        """The integration's cross id comes after the lineage columns, as text."""
        table = raw(
            "deals",
            [deal("1", hs_salesforceopportunityid="006000000000001AAA")],
            extra={"hs_salesforceopportunityid": pa.string()},
        )

        result = stage_hubspot_deals(table)

        schema = result.table.schema
        assert len(OPPORTUNITIES.names) == schema.get_field_index(
            "salesforce_opportunity_id"
        )
        assert pa.string() == schema.field("salesforce_opportunity_id").type
        assert ["006000000000001AAA"] == result.table.column(
            "salesforce_opportunity_id"
        ).to_pylist()

    def test_a_field_map_can_feed_the_cross_id_from_another_property(self):
        """Another property mapped to salesforce_opportunity_id replaces the default."""
        table = raw(
            "deals",
            [deal("1", sf_id__c="006X")],
            extra={"sf_id__c": pa.string()},
        )

        result = stage_hubspot_deals(
            table, field_map={"sf_id__c": "salesforce_opportunity_id"}
        )

        assert ["006X"] == result.table.column("salesforce_opportunity_id").to_pylist()
        assert "hs_salesforceopportunityid" not in result.report.missing_columns

    def test_requires_id_and_modstamp(self):
        """A raw table without hs_lastmodifieddate cannot be staged."""
        table = raw("deals", [deal("1")]).drop_columns(["hs_lastmodifieddate"])

        with pytest.raises(SchemaError, match="hs_lastmodifieddate"):
            stage_hubspot_deals(table)


class TestDealCompanies:
    def test_primary_company_wins_over_a_smaller_id(self):
        """A deal's account is its primary company (type 5), whatever the ids."""
        table = raw("deals", [deal("1")])
        associations = links(
            ("deals", "1", "companies", "2", 341),
            ("deals", "1", "companies", "90", 341),
            ("deals", "1", "companies", "90", 5),
        )

        (row,) = stage_hubspot_deals(table, associations=associations).table.to_pylist()

        assert "90" == row["account_id"]

    def test_without_a_primary_the_smallest_id_wins(self):
        """Without a primary company, the numerically smallest company id is taken."""
        table = raw("deals", [deal("1")])
        associations = links(
            ("deals", "1", "companies", "1000", 341),
            ("deals", "1", "companies", "999", 341),
        )

        (row,) = stage_hubspot_deals(table, associations=associations).table.to_pylist()

        assert "999" == row["account_id"]

    def test_only_the_latest_sync_counts(self):
        """Associations of an older snapshot are gone: the newest sync's rows count."""
        table = raw("deals", [deal("1"), deal("2")])
        old = links(
            ("deals", "1", "companies", "5", 5),
            ("deals", "2", "companies", "6", 5),
            sync=SYNCS[0],
        )
        new = links(("deals", "1", "companies", "8", 5), sync=SYNCS[1])
        associations = pa.concat_tables([new, old])

        staged = by_key(
            stage_hubspot_deals(table, associations=associations), "opportunity_id"
        )

        assert {"1": "8", "2": None} == {k: v["account_id"] for k, v in staged.items()}

    def test_eager_frames_come_back_in_their_type(self):
        """With associations, a polars DataFrame comes back as a polars DataFrame."""
        table = raw("deals", [deal("1")])
        associations = links(("deals", "1", "companies", "7", 5))

        result = stage_hubspot_deals(pl.from_arrow(table), associations=associations)

        assert isinstance(result.table, pl.DataFrame)
        assert ["7"] == result.table["account_id"].to_list()

    def test_lazy_frames_with_associations_are_refused(self):
        """Associations need an eager raw table; a lazy one is a TypeError."""
        table = raw("deals", [deal("1")])
        associations = links(("deals", "1", "companies", "7", 5))

        with pytest.raises(TypeError, match="eager"):
            stage_hubspot_deals(pl.from_arrow(table).lazy(), associations=associations)

    def test_association_columns_are_required(self):
        """An association table without toId is a SchemaError naming it."""
        table = raw("deals", [deal("1")])
        associations = links(("deals", "1", "companies", "7", 5)).drop_columns(["toId"])

        with pytest.raises(SchemaError, match="toId"):
            stage_hubspot_deals(table, associations=associations)


class TestAssociationHelpers:
    def test_current_associations_keeps_the_greatest_sync_id(self):
        """The newest sync is the greatest sync id, since sync ids sort by time."""
        older = links(("deals", "1", "companies", "5", 5), sync=SYNCS[3])
        newer = links(("deals", "1", "companies", "6", 5), sync=SYNCS[4])

        current = current_associations(pa.concat_tables([newer, older]))

        assert ["6"] == current.column("toId").to_pylist()

    def test_current_associations_takes_an_explicit_sync(self):
        """An explicit sync id selects that sync's rows."""
        older = links(("deals", "1", "companies", "5", 5), sync=SYNCS[3])
        newer = links(("deals", "1", "companies", "6", 5), sync=SYNCS[4])

        current = current_associations(
            pa.concat_tables([newer, older]), sync_id=SYNCS[3]
        )

        assert ["5"] == current.column("toId").to_pylist()

    def test_without_sync_ids_every_row_is_current(self):
        """A table without _sync_id is taken as one snapshot."""
        table = links(("deals", "1", "companies", "5", 5)).drop_columns(["_sync_id"])

        assert table.equals(current_associations(table))

    def test_with_associations_filters_on_the_target_type(self):
        """Associations to other object types do not fill the column."""
        table = raw("engagements", [record("engagements", "1", 1)])
        associations = links(
            ("calls", "1", "contacts", "3", 194),
            ("calls", "1", "companies", "4", 182),
        )

        added = with_associations(
            table,
            associations,
            to_type="contacts",
            column="contact",
            primary_type_ids=(),
        )

        assert ["3"] == added.column("contact").to_pylist()

    @settings(max_examples=30, deadline=None)
    @given(
        rows=st.lists(
            st.tuples(
                st.sampled_from(["1", "2", "3"]),
                st.sampled_from(["7", "10", "100", "9"]),
                st.sampled_from([5, 341]),
            ),
            max_size=12,
        ),
        data=st.data(),
    )
    def test_the_choice_does_not_depend_on_row_order(self, rows, data):
        """Any permutation of the association rows picks the same companies."""
        table = raw("deals", [deal(i) for i in "1234"])
        shuffled = data.draw(st.permutations(rows))

        def chosen(items):
            assoc = links(*[("deals", f, "companies", t, k) for f, t, k in items])
            added = with_associations(table, assoc, to_type="companies", column="c")
            return added.column("c").to_pylist()

        expected = []
        for deal_id in "1234":
            mine = [(t, k) for f, t, k in rows if f == deal_id]
            primary = sorted((int(t) for t, k in mine if k == 5))
            anyone = sorted(int(t) for t, _ in mine)
            pick = primary or anyone
            expected.append(str(pick[0]) if pick else None)
        assert expected == chosen(rows) == chosen(shuffled)


# ------------------------------------------------------------------ companies


class TestCompanies:
    def _row(self, **values):
        return record(
            "companies",
            "21",
            1,
            name="Acme Corp",
            domain="WWW.Acme.example",
            industry="COMPUTER_SOFTWARE",
            numberofemployees=230.0,
            annualrevenue=1250000.0,
            city="Paris",
            state="IDF",
            country="France",
            type="PROSPECT",
            hs_parent_company_id=18522345678.0,
            salesforceaccountid="001000000000001AAA",
            createdate=at(0),
            hubspot_owner_id="41629701",
            **values,
        )

    def test_maps_every_property_to_its_canonical_column(self):
        """A company's properties land in the account columns, typed."""
        result = stage_hubspot_companies(raw("companies", [self._row()]))

        (row,) = result.table.to_pylist()
        assert row == {
            "account_id": "21",
            "name": "Acme Corp",
            "domain": "acme.example",
            "website": "WWW.Acme.example",
            "industry": "COMPUTER_SOFTWARE",
            "employees": 230,
            "annual_revenue": 1250000.0,
            "owner_id": "41629701",
            "billing_country": "France",
            "billing_state": "IDF",
            "billing_city": "Paris",
            "account_type": "PROSPECT",
            "parent_account_id": "18522345678",
            "created_at": at(0),
            "updated_at": at(1),
            "is_deleted": False,
            "source_system": "HubSpot",
            "source_id": "21",
            "source_sync_id": SYNCS[0],
            "salesforce_account_id": "001000000000001AAA",
        }
        assert result.table.schema.names[: len(ACCOUNTS.names)] == list(ACCOUNTS.names)
        assert pa.string() == result.table.schema.field("salesforce_account_id").type
        assert result.report.clean

    def test_archived_companies_are_dropped(self):
        """An archived latest version removes the company."""
        table = raw(
            "companies", [self._row(), tombstone("companies", "21", 2, SYNCS[1])]
        )

        result = stage_hubspot_companies(table)

        assert 0 == result.table.num_rows
        assert 1 == result.report.deleted

    def test_without_the_cross_id_property_the_column_is_null(self):
        """A portal without the integration still gets a null salesforce_account_id."""
        table = raw("companies", [self._row()]).drop_columns(["salesforceaccountid"])

        result = stage_hubspot_companies(table)

        assert [None] == result.table.column("salesforce_account_id").to_pylist()
        assert "salesforceaccountid" in result.report.missing_columns


# ------------------------------------------------------------------ contacts


class TestContacts:
    def _row(self, record_id="31", minutes=1, **values):
        defaults = {
            "firstname": "Ada",
            "lastname": "Lovelace",
            "email": "ada@example.com",
            "phone": "+33 1 23",
            "jobtitle": "CTO",
            "country": "France",
            "createdate": at(0),
            "hubspot_owner_id": "41629700",
        }
        return record("contacts", record_id, minutes, **{**defaults, **values})

    def test_maps_every_property_to_its_canonical_column(self):
        """A contact's properties land in its columns; the company id becomes text."""
        table = raw("contacts", [self._row(associatedcompanyid=1001.0)])

        (row,) = stage_hubspot_contacts(table).table.to_pylist()

        assert row == {
            "contact_id": "31",
            "account_id": "1001",
            "email": "ada@example.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "title": "CTO",
            "phone": "+33 1 23",
            "owner_id": "41629700",
            "mailing_country": "France",
            "created_at": at(0),
            "updated_at": at(1),
            "is_deleted": False,
            "source_system": "HubSpot",
            "source_id": "31",
            "source_sync_id": SYNCS[0],
        }
        assert list(CONTACTS.names) == stage_hubspot_contacts(table).table.schema.names

    def test_latest_lastmodifieddate_wins(self):
        """Contacts are versioned by lastmodifieddate."""
        table = raw(
            "contacts",
            [
                self._row(minutes=4, jobtitle="CEO"),
                self._row(minutes=2, jobtitle="CTO"),
            ],
        )

        (row,) = stage_hubspot_contacts(table).table.to_pylist()

        assert "CEO" == row["title"]

    def test_associations_fill_a_missing_company_only(self):
        """The associatedcompanyid property wins; associations fill in its nulls."""
        table = raw(
            "contacts",
            [self._row("31", associatedcompanyid=1001.0), self._row("32")],
        )
        associations = links(
            ("contacts", "31", "companies", "2002", 1),
            ("contacts", "32", "companies", "3003", 279),
        )

        staged = by_key(
            stage_hubspot_contacts(table, associations=associations), "contact_id"
        )

        assert {"31": "1001", "32": "3003"} == {
            k: v["account_id"] for k, v in staged.items()
        }


# ------------------------------------------------------------------ engagements


def engagement(record_id: str, kind: str | None, minutes: float = 1, **values):
    """A raw engagement row of type *kind*."""
    defaults = {
        "engagement_type": kind,
        "hs_timestamp": at(30),
        "hubspot_owner_id": "41629702",
    }
    return record("engagements", record_id, minutes, **{**defaults, **values})


def engagements_table():
    """One engagement of every type, one of an unknown type and one without."""
    return raw(
        "engagements",
        [
            engagement(
                "41",
                "calls",
                hs_call_title="Call about pricing",
                hs_call_status="COMPLETED",
                hs_call_duration=125_000.0,
            ),
            engagement(
                "42", "emails", hs_email_subject="Re: pricing", hs_email_status="SENT"
            ),
            engagement(
                "43",
                "meetings",
                hs_meeting_title="Kick-off",
                hs_meeting_outcome="SCHEDULED",
                hs_meeting_end_time=at(90),
                hs_meeting_location="Paris",
            ),
            engagement("44", "notes", hs_note_body="<p>Note</p>"),
            engagement(
                "45",
                "tasks",
                hs_task_subject="Follow up",
                hs_task_status="NOT_STARTED",
                hs_task_priority="HIGH",
            ),
            engagement("46", "postal_mail"),
            engagement("47", None, hs_timestamp=None),
        ],
    )


ENGAGEMENT_LINKS = links(
    ("calls", "41", "companies", "7", 182),
    ("calls", "41", "contacts", "31", 194),
    ("calls", "41", "deals", "11", 206),
    ("emails", "42", "companies", "8", 186),
    ("emails", "42", "companies", "70", 186),
    ("tasks", "45", "contacts", "32", 204),
)


class TestEngagements:
    def test_each_type_maps_its_own_properties(self):
        """Subject, status, priority, times and duration come from each type's own."""
        result = stage_hubspot_engagements(engagements_table())

        staged = by_key(result, "activity_id")
        assert {
            "41": ("call", "calls", "Call about pricing", "COMPLETED", None, 125),
            "42": ("email", "emails", "Re: pricing", "SENT", None, None),
            "43": ("meeting", "meetings", "Kick-off", "SCHEDULED", None, None),
            "44": ("note", "notes", None, None, None, None),
            "45": ("task", "tasks", "Follow up", "NOT_STARTED", "HIGH", None),
            "46": ("postal_mail", "postal_mail", None, None, None, None),
            "47": ("note", None, None, None, None, None),
        } == {
            k: (
                r["activity_type"],
                r["source_object"],
                r["subject"],
                r["status"],
                r["priority"],
                r["duration_seconds"],
            )
            for k, r in staged.items()
        }
        meeting = staged["43"]
        assert (at(30), at(90), dt.date(2024, 5, 1), "Paris") == (
            meeting["occurred_at"],
            meeting["ends_at"],
            meeting["activity_date"],
            meeting["location"],
        )
        assert at(0) == staged["47"]["occurred_at"]  # no hs_timestamp: createdAt
        assert list(ACTIVITIES.names) == result.table.schema.names
        assert ("calls", "emails", "meetings", "tasks", "notes") == (
            result.report.source_objects
        )
        assert 7 == result.report.rows_out

    def test_ignored_columns_are_those_no_type_uses(self):
        """A property one engagement type uses is not reported as ignored."""
        result = stage_hubspot_engagements(engagements_table())

        assert ("hs_note_body", "updatedAt", "archivedAt") == (
            result.report.ignored_columns
        )

    def test_missing_columns_are_named_once_or_per_type(self):
        """A column every type misses is named once; one type's own keeps its type."""
        table = engagements_table().drop_columns(["hs_meeting_location"])

        result = stage_hubspot_engagements(table)

        assert (
            "meetings.hs_meeting_location",
            "associated_company_id",
            "associated_contact_id",
            "associated_deal_id",
        ) == result.report.missing_columns

    def test_associations_fill_company_contact_and_deal(self):
        """The smallest associated company, contact and deal fill the related ids."""
        result = stage_hubspot_engagements(
            engagements_table(), associations=ENGAGEMENT_LINKS
        )

        staged = by_key(result, "activity_id")
        related = {
            k: (
                r["account_id"],
                r["contact_id"],
                r["opportunity_id"],
                r["who_id"],
                r["what_id"],
                r["lead_id"],
            )
            for k, r in staged.items()
            if k in {"41", "42", "45"}
        }
        assert {
            "41": ("7", "31", "11", "31", "11", None),
            "42": ("8", None, None, None, "8", None),
            "45": (None, "32", None, "32", None, None),
        } == related

    def test_archived_engagements_are_dropped(self):
        """A tombstone removes the engagement, whatever its type."""
        table = raw(
            "engagements",
            [
                engagement("41", "calls"),
                {
                    **tombstone("engagements", "41", 5, SYNCS[1]),
                    "engagement_type": "calls",
                },
                engagement("42", "emails"),
            ],
        )

        result = stage_hubspot_engagements(table)

        assert ["42"] == [r["activity_id"] for r in result.table.to_pylist()]
        assert 1 == result.report.deleted


# ------------------------------------------------------------------ options


class TestOptions:
    def test_default_stage_map_is_hubspots(self):
        """The options carry HubSpot's stage ids, not Salesforce's stage names."""
        options = hubspot_options_for(dataset="deals")

        assert "Closed Won" == options.stage_map["closedwon"]
        assert "Prospecting" not in options.stage_map
        assert {"hs_salesforceopportunityid": "salesforce_opportunity_id"} == dict(
            options.field_map
        )

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"dataset": "tickets"}, "dataset"),
            ({"dataset": "deals", "stage_map": {"x": "Won"}}, "target"),
            ({"dataset": "deals", "default_currency": "usd"}, "ISO 4217"),
            ({"dataset": "deals", "keep_deleted": 1}, "keep_deleted"),
            ({"dataset": "deals", "field_map": {"": "x"}}, "property"),
        ],
    )
    def test_rejects_bad_options(self, kwargs, match):
        """Bad datasets, stage targets, currencies, flags and field maps are refused."""
        with pytest.raises(ConfigurationError, match=match):
            hubspot_options_for(**kwargs)

    def test_every_default_field_targets_a_schema_column(self):
        """The default field maps only name canonical columns of their table."""
        schemas = {
            "deals": OPPORTUNITIES,
            "companies": ACCOUNTS,
            "contacts": CONTACTS,
        }
        for name, fields in HUBSPOT_FIELDS.items():
            schema = schemas.get(name, ACTIVITIES)
            assert set(fields) <= set(schema.names), name


# ------------------------------------------------------------------ engines


def _as(kind: str, table: pa.Table):
    if kind == "pandas":
        return table.to_pandas()
    if kind == "polars":
        return pl.from_arrow(table)
    if kind == "polars-lazy":
        return pl.from_arrow(table).lazy()
    if kind == "duckdb":
        return duckdb.connect().from_arrow(table)
    raise AssertionError(kind)


TYPES = {
    "pandas": pd.DataFrame,
    "polars": pl.DataFrame,
    "polars-lazy": pl.LazyFrame,
    "duckdb": duckdb.DuckDBPyRelation,
}


def _deals_table():
    return raw(
        "deals",
        [
            deal("1", 1, hs_deal_stage_probability=0.2),
            deal("1", 3, dealstage="closedwon", amount=9.5),
            deal("2", 1, dealstage="1003"),
            tombstone("deals", "3", 2, SYNCS[1]),
            deal("3", 1),
        ],
    )


def _contacts_table():
    return raw(
        "contacts",
        [
            record("contacts", "31", 1, associatedcompanyid=18522345678.0),
            record("contacts", "32", 1, email="b@example.com"),
        ],
    )


CASES = {
    "deals": (stage_hubspot_deals, _deals_table, "opportunity_id"),
    "contacts": (stage_hubspot_contacts, _contacts_table, "contact_id"),
    "engagements": (stage_hubspot_engagements, engagements_table, "activity_id"),
}


class TestEngines:
    @pytest.mark.parametrize("kind", list(TYPES))
    @pytest.mark.parametrize("case", list(CASES))
    def test_engines_agree_with_pyarrow(self, case, kind):
        """pandas, polars, lazy polars and DuckDB stage like pyarrow, in their type."""
        stage, make, key = CASES[case]
        expected = stage(make())

        actual = stage(_as(kind, make()))

        assert isinstance(actual.table, TYPES[kind])
        assert normalise(expected.table, key) == normalise(actual.table, key)
        assert expected.report == actual.report

    @pytest.mark.spark
    def test_spark_agrees_with_pyarrow(self, spark):
        """Spark stages engagements (split by type, then stacked) like pyarrow."""
        expected = stage_hubspot_engagements(engagements_table())

        actual = stage_hubspot_engagements(spark.createDataFrame(engagements_table()))

        assert type(actual.table).__module__.startswith("pyspark.sql")
        assert normalise(expected.table, "activity_id") == normalise(
            actual.table, "activity_id"
        )
        assert expected.report == actual.report


# ------------------------------------------------------------------ properties


@st.composite
def deal_rows(draw):
    """Raw deal rows with few ids, stamps and syncs, so that ties happen."""
    rows = []
    for _ in range(draw(st.integers(0, 20))):
        number = str(draw(st.integers(1, 5)))
        minutes = draw(st.integers(0, 3))
        sync = draw(st.sampled_from(SYNCS[:3]))
        if draw(st.integers(0, 9)) == 0:
            rows.append(tombstone("deals", number, minutes, sync))
            continue
        rows.append(
            deal(
                number,
                minutes,
                dealstage=draw(st.sampled_from(["closedwon", "1001", None])),
                amount=draw(st.sampled_from([None, 1.0, 2.5])),
                archived=draw(st.booleans()) and draw(st.booleans()),
                hs_deal_stage_probability=draw(st.sampled_from([None, 0.1, 1.0])),
                _sync_id=sync,
            )
        )
    return rows


def _staged_deals(rows):
    return normalise(stage_hubspot_deals(raw("deals", rows)).table, "opportunity_id")


class TestProperties:
    @settings(
        max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(rows=deal_rows(), data=st.data())
    def test_row_order_does_not_matter(self, rows, data):
        """Any permutation of the raw deal rows stages to the same table."""
        shuffled = data.draw(st.permutations(rows))

        assert _staged_deals(rows) == _staged_deals(shuffled)

    @settings(
        max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(rows=deal_rows(), data=st.data())
    def test_landing_rows_again_changes_nothing(self, rows, data):
        """Staging the raw rows plus re-landed copies equals staging the raw rows."""
        again = data.draw(st.lists(st.sampled_from(rows), max_size=8)) if rows else []

        assert _staged_deals(rows) == _staged_deals(rows + again)


# ------------------------------------------------------------------ end to end


class Clock:
    """The emulator's clock: half an hour behind the real one, moved by hand."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(UTC).replace(microsecond=0)
        self.now -= dt.timedelta(minutes=30)

    def __call__(self) -> dt.datetime:
        return self.now

    def tick(self) -> None:
        self.now += dt.timedelta(seconds=1)


DATASETS = (
    "deals",
    "companies",
    "contacts",
    "engagements",
    "deal_company_associations",
    "contact_company_associations",
    "engagement_associations",
)


@attrs.define
class Synced:
    """An emulator synced twice into a Lake, and what the test changed in between."""

    hs: HubSpotEmulator
    lake: revops_ingest.Lake
    changed: str
    archived: str
    renewal: str
    unlinked: str
    primary: str

    def read(self, dataset):
        """A raw HubSpot dataset of the lake."""
        return self.lake.read(f"/HubSpot/Raw/{dataset}")


@pytest.fixture(name="synced", scope="class")
def _synced(tmp_path_factory):
    clock = Clock()
    with HubSpotEmulator(seed=7, companies=4, now=clock) as hs:
        source = HubSpotSource(
            token=hs.private_app_token,
            base_url=hs.url,
            lookback=dt.timedelta(hours=1),
            retry=RetryPolicy(initial_wait=0.01, max_time=10),
            sleep=lambda seconds: None,
        )
        lake = revops_ingest.Lake(str(tmp_path_factory.mktemp("lake")))
        for dataset in DATASETS:
            revops_ingest.sync(source, dataset, lake)
        deals = sorted(hs.live("deals"))
        companies = sorted(hs.live("companies"), key=int)
        clock.tick()
        hs.update("deals", deals[0], dealstage="closedwon", amount="777")
        clock.tick()
        hs.archive("deals", deals[1])
        clock.tick()
        renewal = hs.create("deals", dealname="Renewal", dealstage="1003")
        hs.associate("deals", renewal, "companies", companies[-1], primary=True)
        hs.associate("deals", renewal, "companies", companies[0])
        hs.unassociate("deals", deals[2], "companies", _company_of(hs, deals[2]))
        clock.tick()
        hs.archive("companies", companies[1])
        for dataset in DATASETS:
            revops_ingest.sync(source, dataset, lake)
        source.close()
        yield Synced(
            hs=hs,
            lake=lake,
            changed=deals[0],
            archived=deals[1],
            renewal=renewal,
            unlinked=deals[2],
            primary=companies[-1],
        )


def _company_of(hs, deal_id):
    """The emulator's primary company of a deal, if any."""
    found = [
        b
        for a, b, t in hs.associations("deals", "companies")
        if a == deal_id and t == 5
    ]
    return found[0] if found else None


class TestEndToEnd:
    def test_deals_match_the_live_deals(self, synced):
        """Staged deals are the live ones, with stage, name and primary company."""
        result = stage_hubspot_deals(
            synced.read("deals"),
            associations=synced.read("deal_company_associations"),
        )

        staged = by_key(result, "opportunity_id")
        live = synced.hs.live("deals")
        assert sorted(live) == sorted(staged)
        assert synced.archived not in staged
        for deal_id, record_ in live.items():
            row = staged[deal_id]
            assert record_.properties["dealstage"] == row["source_stage"]
            assert record_.properties["dealname"] == row["name"]
            assert _company_of(synced.hs, deal_id) == row["account_id"]
        assert (777.0, "Closed Won") == (
            staged[synced.changed]["amount"],
            staged[synced.changed]["stage_name"],
        )
        assert synced.primary == staged[synced.renewal]["account_id"]
        assert staged[synced.unlinked]["account_id"] is None
        assert {"1003": 1} == dict(result.report.unmapped_stages)

    def test_companies_match_the_live_companies(self, synced):
        """Staged companies are the live ones, with name, domain and Salesforce id."""
        result = stage_hubspot_companies(synced.read("companies"))

        staged = by_key(result, "account_id")
        live = synced.hs.live("companies")
        assert sorted(live) == sorted(staged)
        for company_id, company in live.items():
            props, row = company.properties, staged[company_id]
            assert (props["name"], props["domain"]) == (row["name"], row["domain"])
            assert props["salesforceaccountid"] == row["salesforce_account_id"]

    def test_contacts_match_the_live_contacts(self, synced):
        """Staged contacts are the live ones, with e-mail and company as text."""
        result = stage_hubspot_contacts(
            synced.read("contacts"),
            associations=synced.read("contact_company_associations"),
        )

        staged = by_key(result, "contact_id")
        live = synced.hs.live("contacts")
        assert sorted(live) == sorted(staged)
        for contact_id, contact in live.items():
            props, row = contact.properties, staged[contact_id]
            assert (props["email"], props["associatedcompanyid"]) == (
                row["email"],
                row["account_id"],
            )

    def test_engagements_match_the_live_engagements(self, synced):
        """Every live engagement is staged once, typed, with its smallest company."""
        result = stage_hubspot_engagements(
            synced.read("engagements"),
            associations=synced.read("engagement_associations"),
        )

        staged = by_key(result, "activity_id")
        live = {
            engagement_id: kind
            for kind in ("calls", "emails", "meetings", "notes", "tasks")
            for engagement_id in synced.hs.live(kind)
        }
        assert sorted(live) == sorted(staged)
        assert result.report.rows_out == len(live)
        for engagement_id, kind in live.items():
            row = staged[engagement_id]
            assert (kind, kind[:-1]) == (row["source_object"], row["activity_type"])
            companies = {
                b
                for a, b, _ in synced.hs.associations(kind, "companies")
                if a == engagement_id
            }
            expected = min(companies, key=int) if companies else None
            assert expected == row["account_id"]
