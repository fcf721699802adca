"""The word and domain lists shipped in ``revops_ingest/matching/data/``."""

from __future__ import annotations

import functools
import importlib.resources


__all__ = [
    "default_excluded_domains",
    "default_generic_words",
    "default_legal_forms",
    "default_private_suffixes",
    "read_list",
]


def read_list(name: str) -> tuple[str, ...]:
    """Read one data file: one entry a line, ``#`` comments, order kept, no repeats.

    Args:
        name: The file name inside ``revops_ingest/matching/data/``.

    Returns:
        The entries, stripped, in file order, each once.
    """
    text = (
        importlib.resources.files("revops_ingest.matching")
        .joinpath("data")
        .joinpath(name)
        .read_text(encoding="utf-8")
    )
    seen: dict[str, None] = {}
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            seen.setdefault(entry, None)
    return tuple(seen)


@functools.cache
def default_legal_forms() -> tuple[str, ...]:
    """Return the legal forms stripped from the end of names (``legal_forms.txt``)."""
    return read_list("legal_forms.txt")


@functools.cache
def default_generic_words() -> frozenset[str]:
    """Return the words that alone make a name too generic (``generic_words.txt``)."""
    return frozenset(read_list("generic_words.txt"))


@functools.cache
def default_excluded_domains() -> frozenset[str]:
    """Return free-mail, ISP, social and similar hosts (``excluded_domains.txt``)."""
    return frozenset(read_list("excluded_domains.txt"))


@functools.cache
def default_private_suffixes() -> frozenset[str]:
    """Return hosting suffixes missing from the PSL (``private_suffixes.txt``)."""
    return frozenset(read_list("private_suffixes.txt"))
