"""revops_ingest: revenue-operations data from source systems to checked tables.

The public surface is small: a :class:`Lake`, :func:`sync` with its :class:`SyncRun`
and :func:`sync_status`, the :class:`Source` contract, and :class:`Secret`. The HTTP
core sources are built on is in :mod:`revops_ingest.http`; errors are in
:mod:`revops_ingest.exceptions`; emulators in :mod:`revops_ingest.testing`.
"""

from __future__ import annotations

import typing

from revops_ingest import exceptions
from revops_ingest._audit import SyncRun, sync_status
from revops_ingest._lake import Commit, DatasetWriter, Lake, VacuumReport
from revops_ingest._secrets import Secret
from revops_ingest._source import FetchContext, ObjectSpec, Source
from revops_ingest._sync import sync


__all__ = [
    "Commit",
    "DatasetWriter",
    "FetchContext",
    "Lake",
    "ObjectSpec",
    "Secret",
    "Source",
    "SyncRun",
    "VacuumReport",
    "exceptions",
    "sync",
    "sync_status",
]


def __getattr__(name: str) -> typing.Any:
    if name == "__version__":
        import importlib.metadata  # noqa: PLC0415

        return importlib.metadata.version("revops-ingest")
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
