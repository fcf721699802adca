"""The public surface of revops_ingest.matching."""

from __future__ import annotations

import subprocess
import sys

import revops_ingest.matching


class TestPublicApi:
    def test_all_is_sorted_and_resolves(self):
        """Every name in __all__ exists, and __all__ is sorted."""
        names = revops_ingest.matching.__all__

        assert sorted(names) == list(names)
        assert all(hasattr(revops_ingest.matching, name) for name in names)

    def test_no_network_at_import_or_run_time(self):
        """Importing and running the matcher and linker opens no socket."""
        code = (
            "import socket\n"
            "def refuse(*a, **k): raise RuntimeError('network used')\n"
            "socket.socket.connect = refuse\n"
            "socket.create_connection = refuse\n"
            "socket.getaddrinfo = refuse\n"
            "import pyarrow as pa\n"
            "from revops_ingest.matching import (\n"
            "    link_by_domain, match_accounts,\n"
            "    synthetic_accounts, synthetic_tickets)\n"
            "d = synthetic_accounts(300, seed=3)\n"
            "out = match_accounts(d.left, d.right, mode='thorough')\n"
            "t = synthetic_tickets(d.left, 200, seed=3)\n"
            "link_by_domain(t.tickets, accounts=d.left, contacts=t.contacts)\n"
            "assert out.num_rows > 0\n"
        )

        subprocess.run([sys.executable, "-c", code], check=True)
