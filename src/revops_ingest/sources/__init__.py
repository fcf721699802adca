"""Source systems, one module each (``sources/salesforce.py``, ...).

A source implements :class:`Source`: a ``system`` name, the ``objects`` it offers as
:class:`ObjectSpec` s, and a ``fetch`` generator that yields Arrow record batches and
returns the new watermark. See *Writing a source* in the docs.
"""

from __future__ import annotations

from revops_ingest._source import ClosingSource, FetchContext, ObjectSpec, Source


__all__ = ["ClosingSource", "FetchContext", "ObjectSpec", "Source"]
