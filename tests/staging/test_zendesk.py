"""Zendesk raw tickets into /RevOps/Telemetry/support_tickets, and its summary."""

from __future__ import annotations

import datetime as dt

import hypothesis
import hypothesis.strategies as st
import pyarrow as pa
import pytest

from revops_ingest.exceptions import ConfigurationError, SchemaError
from revops_ingest.sources.zendesk import raw_schema
from revops_ingest.staging._zendesk import (
    SUPPORT_SUMMARY_SCHEMA,
    SUPPORT_TICKETS_SCHEMA,
    stage_support_tickets,
    support_summary,
)


UTC = dt.timezone.utc
T0 = dt.datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def at(hours=0.0):
    return T0 + dt.timedelta(hours=hours)


def table(name, rows, sync_ids=None):
    data = pa.Table.from_pylist(rows, schema=raw_schema(name))
    if sync_ids is not None:
        data = data.append_column("_sync_id", pa.array(sync_ids, pa.string()))
    return data


def ticket(ticket_id, requester, *, hours=0.0, status="open", **fields):
    row = {
        "id": ticket_id,
        "status": status,
        "requester_id": requester,
        "created_at": at(),
        "updated_at": at(hours),
        "generated_timestamp": at(hours),
        "_tombstone": status == "deleted",
    }
    row.update(fields)
    return row


USERS = table(
    "users",
    [
        {
            "id": 1,
            "email": "Jane@EU.Acme.com",
            "organization_id": 10,
            "updated_at": at(),
        },
        {"id": 2, "email": "bob@gmail.com", "organization_id": 11, "updated_at": at()},
        {
            "id": 3,
            "email": "kim@gmail.com",
            "organization_id": None,
            "updated_at": at(),
        },
        {
            "id": 4,
            "email": "lee@globex.io",
            "organization_id": None,
            "updated_at": at(),
        },
        {
            "id": 4,
            "email": "lee@initech.de",
            "organization_id": None,
            "updated_at": at(1),
        },
    ],
)
ORGS = table(
    "organizations",
    [
        {"id": 10, "name": "Acme", "domain_names": ["acme.com"], "updated_at": at()},
        {
            "id": 11,
            "name": "Umbrella",
            "domain_names": ["umbrella.de"],
            "updated_at": at(),
        },
    ],
)
MAPPING = pa.table(
    {
        "domain": ["ACME.com", "umbrella.de", "initech.de"],
        "account_id": ["ACC-1", "ACC-2", "ACC-3"],
    }
)


def stage(tickets, users=USERS, orgs=ORGS, mapping=MAPPING, **kw):
    return stage_support_tickets(tickets, users, orgs, mapping, **kw)


class TestStageSupportTickets:
    def test_links_by_requester_domain_then_organization(self):
        """Mapping by e-mail domain first, then the organization's domain_names."""
        tickets = table(
            "tickets",
            [ticket(100, 1), ticket(101, 2), ticket(102, 3), ticket(103, 4)],
        )

        staged, report = stage(tickets)

        assert [
            (100, "ACC-1", "domain_mapping", "acme.com"),
            (101, "ACC-2", "organization_domain", None),
            (102, None, None, None),
            (103, "ACC-3", "domain_mapping", "initech.de"),
        ] == [
            (r["ticket_id"], r["account_id"], r["link_method"], r["requester_domain"])
            for r in staged.to_pylist()
        ]
        assert (3, 0, 1) == (report.linked, report.ambiguous, report.unlinked)
        assert {"domain_mapping": 2, "organization_domain": 1} == dict(report.by_method)
        assert SUPPORT_TICKETS_SCHEMA == staged.schema

    def test_the_latest_version_wins_and_deletes_are_dropped(self):
        """Older versions are superseded; a ticket deleted last is dropped."""
        tickets = table(
            "tickets",
            [
                ticket(100, 1, hours=1, status="open"),
                ticket(100, 1, hours=2, status="solved", metric_solved_at=at(2)),
                ticket(101, 1, hours=1),
                ticket(101, 1, hours=3, status="deleted"),
                {"id": None, "status": "open"},
            ],
        )

        staged, report = stage(tickets)

        assert [(100, "solved", at(2), False)] == [
            (r["ticket_id"], r["status"], r["solved_at"], r["is_open"])
            for r in staged.to_pylist()
        ]
        assert (5, 1, 2, 1, 1) == (
            report.rows_in,
            report.rows_out,
            report.superseded,
            report.deleted,
            report.missing_id,
        )

    def test_a_later_sync_breaks_a_tie_on_the_stamp(self):
        """Two versions with equal stamps: the one landed by the later sync wins."""
        tickets = table(
            "tickets",
            [ticket(100, 1, priority="high"), ticket(100, 1, priority="low")],
            sync_ids=["20260502T000000Z-b", "20260501T000000Z-a"],
        )

        staged, _ = stage(tickets)

        assert ["high"] == staged.column("priority").to_pylist()

    def test_metrics_and_satisfaction_are_carried(self):
        """Reply and resolution minutes and the satisfaction score are staged."""
        tickets = table(
            "tickets",
            [
                ticket(
                    100,
                    1,
                    status="solved",
                    metric_reply_time_in_minutes=30,
                    metric_full_resolution_time_in_minutes=600,
                    satisfaction_rating='{"comment":null,"score":"good"}',
                )
            ],
        )

        (row,) = stage(tickets)[0].to_pylist()

        assert (30, 600, "good", "Zendesk") == (
            row["first_response_minutes"],
            row["resolution_minutes"],
            row["satisfaction_score"],
            row["source_system"],
        )

    def test_unknown_requesters_are_counted(self):
        """A requester missing from users leaves the ticket unlinked and counted."""
        staged, report = stage(table("tickets", [ticket(100, 99)]))

        assert [None] == staged.column("requester_email").to_pylist()
        assert (1, 1) == (report.unknown_requesters, report.unlinked)

    def test_accounts_domains_are_a_fallback(self):
        """Without a mapping, accounts' own domains link requesters."""
        accounts = pa.table({"account_id": ["A"], "domain": ["https://www.acme.com"]})

        staged, _ = stage(
            table("tickets", [ticket(100, 1)]), mapping=None, accounts=accounts
        )

        assert [("A", "account_domain")] == [
            (r["account_id"], r["link_method"]) for r in staged.to_pylist()
        ]

    def test_a_free_mail_mapping_is_refused(self):
        """Mapping gmail.com to an account is a configuration error."""
        mapping = pa.table({"domain": ["gmail.com"], "account_id": ["X"]})

        with pytest.raises(ConfigurationError, match=r"gmail\.com"):
            stage(table("tickets", [ticket(100, 2)]), mapping=mapping)

    def test_a_missing_column_is_a_schema_error(self):
        """Tickets without requester_id are not a Zendesk raw dataset."""
        with pytest.raises(SchemaError, match="requester_id"):
            stage(pa.table({"id": [1], "status": ["open"]}))


class TestSupportSummary:
    def test_one_row_per_account_with_its_health(self):
        """Open and recent tickets, medians and CSAT per linked account."""
        tickets = table(
            "tickets",
            [
                ticket(1, 1, status="open", priority="urgent"),
                ticket(
                    2,
                    1,
                    status="solved",
                    metric_solved_at=at(10),
                    metric_full_resolution_time_in_minutes=600,
                    metric_reply_time_in_minutes=60,
                    satisfaction_rating='{"score":"good"}',
                ),
                ticket(
                    3,
                    1,
                    status="closed",
                    metric_solved_at=at(4),
                    metric_reply_time_in_minutes=120,
                    satisfaction_rating='{"score":"bad"}',
                ),
                ticket(4, 3, status="open"),  # unlinked
            ],
        )
        staged, _ = stage(tickets)

        (row,) = support_summary(staged, at(24 * 5)).to_pylist()

        assert (
            "ACC-1",
            3,
            1,
            1,
            3,
            2,
            7.0,
            1.5,
            0.5,
            5.0,
        ) == (
            row["account_id"],
            row["tickets_total"],
            row["open_tickets"],
            row["urgent_open_tickets"],
            row["tickets_last_30d"],
            row["solved_last_30d"],
            row["median_resolution_hours"],
            row["median_first_response_hours"],
            row["csat"],
            row["oldest_open_ticket_days"],
        )

    def test_tickets_after_as_of_do_not_count(self):
        """A summary as of before every ticket has no rows, typed."""
        staged, _ = stage(table("tickets", [ticket(1, 1)]))

        summary = support_summary(staged, at(-1))

        assert (0, SUPPORT_SUMMARY_SCHEMA) == (summary.num_rows, summary.schema)

    def test_a_naive_as_of_is_refused(self):
        """as_of must carry a time zone."""
        staged, _ = stage(table("tickets", [ticket(1, 1)]))

        with pytest.raises(ValueError, match=r"aware"):
            support_summary(staged, dt.datetime(2026, 5, 1))  # noqa: DTZ001


# ---------------------------------------------------------------- properties


_TICKETS = st.lists(
    st.builds(
        lambda tid, req, hours, status, priority, sync: (
            ticket(tid, req, hours=hours, status=status, priority=priority),
            sync,
        ),
        st.integers(100, 110),
        st.integers(1, 5),
        st.integers(0, 4),
        st.sampled_from(["new", "open", "solved", "closed", "deleted"]),
        st.sampled_from([None, "low", "urgent"]),
        st.sampled_from(["s1", "s2"]),
    ),
    max_size=25,
)


def _tickets_table(items, order):
    rows = [items[i] for i in order]
    return table("tickets", [r for r, _ in rows], sync_ids=[s for _, s in rows])


class TestProperties:
    @hypothesis.settings(max_examples=60, deadline=None)
    @hypothesis.given(items=_TICKETS, data=st.data())
    def test_the_order_of_input_rows_does_not_matter(self, items, data):
        """Any permutation of tickets, users and organizations stages the same."""
        order = data.draw(st.permutations(range(len(items))))
        user_order = data.draw(st.permutations(range(USERS.num_rows)))
        org_order = data.draw(st.permutations(range(ORGS.num_rows)))

        first, first_report = stage(_tickets_table(items, range(len(items))))
        second, second_report = stage(
            _tickets_table(items, order),
            USERS.take(user_order),
            ORGS.take(org_order),
        )

        assert first.to_pylist() == second.to_pylist()
        assert first_report == second_report

    @hypothesis.settings(max_examples=40, deadline=None)
    @hypothesis.given(items=_TICKETS)
    def test_landing_rows_twice_changes_nothing(self, items):
        """Duplicated raw rows (a re-read) stage to the same tickets."""
        once = _tickets_table(items, range(len(items)))
        twice = pa.concat_tables([once, once])

        assert stage(once)[0].to_pylist() == stage(twice)[0].to_pylist()

    @hypothesis.settings(max_examples=40, deadline=None)
    @hypothesis.given(items=_TICKETS)
    def test_the_report_adds_up(self, items):
        """rows_in splits into staged, superseded and deleted; links into statuses."""
        staged, report = stage(_tickets_table(items, range(len(items))))

        assert report.rows_in == (
            report.rows_out + report.superseded + report.deleted + report.missing_id
        )
        assert report.rows_out == report.linked + report.ambiguous + report.unlinked
        assert "deleted" not in staged.column("status").to_pylist()
        summary = support_summary(staged, at(1000))
        assert report.linked == sum(summary.column("tickets_total").to_pylist())
