"""The seeded synthetic generator."""

from __future__ import annotations

import pyarrow.compute as pc

from revops_ingest.matching import synthetic_accounts, synthetic_tickets


class TestSyntheticAccounts:
    def test_seeded(self):
        """The same seed gives the same tables; another seed does not."""
        first, again, other = (synthetic_accounts(200, seed=s) for s in (1, 1, 2))

        assert first.left.equals(again.left)
        assert first.right.equals(again.right)
        assert not first.left.equals(other.left)

    def test_shapes_and_truth(self):
        """Sizes, unique ids and a truth table of copied companies."""
        data = synthetic_accounts(300, 200, overlap=0.5, seed=4)

        assert (300, 200, 100) == (
            data.left.num_rows,
            data.right.num_rows,
            data.truth.num_rows,
        )
        assert 300 == len(pc.unique(data.left.column("account_id")))
        assert set(data.truth.column("right_id").to_pylist()) <= set(
            data.right.column("account_id").to_pylist()
        )


class TestSyntheticTickets:
    def test_tickets_contacts_truth(self):
        """Tickets come with contacts and the account each was written for."""
        accounts = synthetic_accounts(100, seed=5).left

        data = synthetic_tickets(accounts, 500, seed=5)

        assert (500, 500) == (data.tickets.num_rows, data.truth.num_rows)
        assert ["email", "account_id"] == data.contacts.column_names
        assert data.tickets.column("requester_email").null_count == 0
