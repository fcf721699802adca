"""revops_ingest: revenue-operations data from source systems to checked tables.

The public surface is small: a :class:`Lake`, :func:`sync` with its :class:`SyncRun`
and :func:`sync_status`, the :class:`Source` contract, and :class:`Secret`. The HTTP
core sources are built on is in :mod:`revops_ingest.http`; errors are in
:mod:`revops_ingest.exceptions`; emulators in :mod:`revops_ingest.testing`.

Names are imported on first use, so that ``import revops_ingest.quality`` (or any
other subpackage) does not pay for the lake, the sync engine and the HTTP stack.
"""

from __future__ import annotations

import importlib
import typing


if typing.TYPE_CHECKING:
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

_WHERE = {
    "Commit": "revops_ingest._lake",
    "DatasetWriter": "revops_ingest._lake",
    "FetchContext": "revops_ingest._source",
    "Lake": "revops_ingest._lake",
    "ObjectSpec": "revops_ingest._source",
    "Secret": "revops_ingest._secrets",
    "Source": "revops_ingest._source",
    "SyncRun": "revops_ingest._audit",
    "VacuumReport": "revops_ingest._lake",
    "sync": "revops_ingest._sync",
    "sync_status": "revops_ingest._audit",
}


def __getattr__(name: str) -> typing.Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value  # once resolved, a plain module attribute
        return value
    if name == "exceptions":
        return importlib.import_module("revops_ingest.exceptions")
    if name == "__version__":
        from importlib.metadata import version  # noqa: PLC0415

        return version("revops-ingest")
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted([*__all__, "__version__"])
