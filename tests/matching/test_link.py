"""link_by_domain: tickets and events to accounts."""

from __future__ import annotations

import pyarrow as pa
import pytest

from revops_ingest.exceptions import ConfigurationError, SchemaError
from revops_ingest.matching import LINK_COLUMNS, link_by_domain, normalise_accounts


ACCOUNTS = pa.table(
    {
        "account_id": ["A1", "A2", "A3", "A4"],
        "name": ["Acme", "Globex", "Hooli", "Hooli EU"],
        "website": ["acme.com", "https://globex.com/x", "hooli.com", "hooli.com"],
    }
)
TICKETS = pa.table(
    {
        "ticket_id": [1, 2, 3, 4, 5, 6, 7, 8],
        "requester_email": [
            "jane@EU.acme.com",
            "bob@gmail.com",
            "x@hooli.com",
            "y@nothing.org",
            None,
            "z@gmail.com",
            "w@initech.io",
            "q@gmail.com",
        ],
        "organization_domains": pa.array(
            [None, None, None, None, None, ["globex.com"], None, ["hooli.com"]],
            pa.list_(pa.string()),
        ),
    }
)
CONTACTS = pa.table({"email": ["Bob@gmail.com"], "account_id": ["A2"]})
MAPPING = pa.table({"domain": ["initech.io"], "account_id": ["A9"]})


def _links(table):
    return [
        (r["linked_account_id"], r["link_rule"], r["link_status"])
        for r in table.to_pylist()
    ]


class TestLinkByDomain:
    def test_every_path(self):
        """Contacts, the mapping table, account domains and organizations each link."""
        out = link_by_domain(
            TICKETS,
            accounts=ACCOUNTS,
            contacts=CONTACTS,
            domain_mapping=MAPPING,
            domain_columns=["organization_domains"],
        )

        assert [
            ("A1", "account_domain", "linked"),
            ("A2", "contact_email", "linked"),
            (None, "account_domain", "ambiguous"),
            (None, None, "unlinked"),
            (None, None, "unlinked"),
            ("A2", "organization_domain", "linked"),
            ("A9", "domain_mapping", "linked"),
            (None, "organization_domain", "ambiguous"),
        ] == _links(out)

    def test_keeps_records_and_appends_columns(self):
        """The records come back in order with the link columns appended."""
        out = link_by_domain(TICKETS, accounts=ACCOUNTS)

        assert [*TICKETS.column_names, *LINK_COLUMNS] == out.column_names
        assert TICKETS.column("ticket_id").equals(out.column("ticket_id"))

    def test_reasons(self):
        """Unlinked records say why."""
        out = (
            link_by_domain(TICKETS, accounts=ACCOUNTS).column("link_reason").to_pylist()
        )

        assert [
            None,
            "free-mail, ISP or other excluded domain, and no contact or manual entry",
            "2 accounts share this key",
            "no account or mapping has this domain",
            "no usable e-mail address",
        ] == out[:5]

    def test_manual_address_map_wins(self):
        """A manual address map beats the contacts."""
        manual = pa.table({"email": ["bob@gmail.com"], "account_id": ["A1"]})

        out = link_by_domain(
            TICKETS, accounts=ACCOUNTS, contacts=CONTACTS, email_mapping=manual
        )

        assert ("A1", "email_mapping", "linked") == _links(out)[1]

    def test_mapping_table_beats_account_domains(self):
        """The reference mapping resolves a domain the accounts share."""
        mapping = pa.table({"domain": ["www.hooli.com"], "account_id": ["A4"]})

        out = link_by_domain(TICKETS, accounts=ACCOUNTS, domain_mapping=mapping)

        assert ("A4", "domain_mapping", "linked") == _links(out)[2]

    def test_never_by_name(self):
        """A requester whose domain no account has stays unlinked, whatever the name."""
        tickets = pa.table({"requester_email": ["ceo@acme-corp.net"]})

        assert [(None, None, "unlinked")] == _links(
            link_by_domain(tickets, accounts=ACCOUNTS)
        )

    def test_normalised_accounts(self):
        """Accounts from normalise_accounts give the same links."""
        assert link_by_domain(TICKETS, accounts=ACCOUNTS).equals(
            link_by_domain(TICKETS, accounts=normalise_accounts(ACCOUNTS))
        )

    def test_string_organization_column(self):
        """Organization domains may be plain strings."""
        tickets = pa.table({"requester_email": ["a@gmail.com"], "org": ["acme.com"]})

        out = link_by_domain(tickets, accounts=ACCOUNTS, domain_columns=["org"])

        assert [("A1", "organization_domain", "linked")] == _links(out)

    def test_free_mail_mapping_is_refused(self):
        """A mapping of a free-mail domain is a configuration error."""
        mapping = pa.table({"domain": ["gmail.com"], "account_id": ["A1"]})

        with pytest.raises(ConfigurationError, match=r"gmail\.com"):
            link_by_domain(TICKETS, accounts=ACCOUNTS, domain_mapping=mapping)

    @pytest.mark.parametrize(
        ("records", "accounts", "message"),
        [
            (pa.table({"email": ["a@b.com"]}), ACCOUNTS, "requester_email"),
            (TICKETS, ACCOUNTS.drop_columns(["website"]), "domain"),
            (
                TICKETS.append_column("link_status", pa.array(["x"] * 8)),
                ACCOUNTS,
                "already",
            ),
        ],
    )
    def test_bad_input(self, records, accounts, message):
        """Missing or clashing columns are schema errors."""
        with pytest.raises(SchemaError, match=message):
            link_by_domain(records, accounts=accounts)
