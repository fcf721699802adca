"""The public surface: __all__ complete and sorted, nothing done at import time."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest


PUBLIC = [
    "revops_ingest",
    "revops_ingest.exceptions",
    "revops_ingest.http",
    "revops_ingest.matching",
    "revops_ingest.quality",
    "revops_ingest.sources",
    "revops_ingest.sources.hubspot",
    "revops_ingest.sources.salesforce",
    "revops_ingest.sources.zendesk",
    "revops_ingest.staging",
    "revops_ingest.testing",
]


class TestExports:
    @pytest.mark.parametrize("name", PUBLIC)
    def test_all_is_sorted_and_resolves(self, name):
        """Every name in __all__ exists, and __all__ is sorted."""
        module = importlib.import_module(name)

        assert sorted(module.__all__) == list(module.__all__)
        for attr in module.__all__:
            assert hasattr(module, attr), f"{name}.{attr}"

    def test_version_is_resolved_lazily(self):
        """__version__ comes from the installed metadata."""
        assert importlib.import_module("revops_ingest").__version__

    def test_importing_does_no_io_and_loads_no_storage_backends(self):
        """Importing the package opens no sockets and imports no s3fs, gcsfs or boto."""
        code = (
            "import socket, sys\n"
            "def refuse(*a, **k): raise RuntimeError('socket at import time')\n"
            "socket.socket.connect = refuse\n"
            "import revops_ingest, revops_ingest.testing, revops_ingest.http\n"
            "bad = [m for m in ('s3fs', 'gcsfs', 'boto3', 'botocore')"
            " if m in sys.modules]\n"
            "assert not bad, bad\n"
        )
        subprocess.run([sys.executable, "-c", code], check=True)


class TestLoopbackOnly:
    def test_public_hosts_are_refused(self):
        """The test run refuses to look up or connect to anything but loopback."""
        import socket  # noqa: PLC0415

        with pytest.raises(socket.gaierror, match="loopback"):
            socket.getaddrinfo("api.hubapi.com", 443)
        with pytest.raises(ConnectionRefusedError, match="loopback"):
            socket.create_connection(("93.184.216.34", 80), timeout=1)
