"""Sphinx configuration: MyST Markdown, autodoc, warnings are errors (nox -s docs)."""

from __future__ import annotations

import importlib.metadata


project = "revops_ingest"
author = "revops_ingest developers"
copyright = "2026, revops_ingest developers"  # noqa: A001
try:
    release = importlib.metadata.version("revops-ingest")
except importlib.metadata.PackageNotFoundError:  # building from a bare tree
    release = "0+unknown"
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "conftest.py"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "furo"
html_title = "revops_ingest"

# No intersphinx: docs build offline. Third-party names in signatures cannot be
# resolved without it, so nitpicky mode ignores exactly those packages.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(pa|pyarrow|pc|pq|ds|requests|fsspec|attrs|datetime|dt|typing)\..*"),
    (r"py:.*", r"(collections\.abc|os|io|pathlib|types|enum|logging)\..*"),
    (r"py:class", r"(Any|Self|TextIO|NoneType|T|JSONValue|State|SyncMode)"),
    (r"py:.*", r"(Callable|Mapping|Sequence|Iterable|Iterator|Generator|Container)"),
    (r"py:class", r"(Lake|HttpClient|Source|RequestMetrics|Commit|Handler)"),
    (r"py:class", r"(VendorSignal|Operation|re\.Pattern|Threshold|Security|Action)"),
    (r"py:class", r"(ssl|email|smtplib|np|numpy)\..*"),
    (r"py:class", r"(AnyArray|Mode|Rule|Action|Kind|Channel)"),
    (r"py:data", r"(VendorSignal|AUDIT_SCHEMA)"),
    (r"py:data", r"([\w.]+\.)?[A-Z][A-Z0-9_]+"),  # module constants named in prose
    (r"py:attr", r"\w+"),  # attributes named in prose are documented in their class
    # Private helpers that appear in signatures of public objects.
    (r"py:.*", r"(.*\.)?_\w+(\..*)?"),
    (r"py:class", r"revops_ingest\.HttpClient"),
    (r"py:obj", r".*"),
]
