"""Turn company names, websites and e-mail addresses into matching keys.

Every key is computed once, vectorised over an Arrow array, and kept as a column, so
a match explains itself with the exact strings it compared. Nothing here reads the
network: the Public Suffix List is the snapshot bundled with the ``publicsuffixlist``
package (or a file the caller names), read from disk on first use.
"""

from __future__ import annotations

import functools
import hashlib
import pathlib
import re
import typing

import attrs
import idna
import numpy as np
import pyarrow as pa
import pyarrow.compute as _compute
from publicsuffixlist import PSLFILE, PublicSuffixList

from revops_ingest.matching import _data
from revops_ingest.matching._arrow import as_table, column_or_null, require_columns


if typing.TYPE_CHECKING:
    from collections.abc import Iterable

    from revops_ingest.matching._arrow import AnyArray


# pyarrow-stubs types compute functions more narrowly than Arrow accepts them
# (numpy indices, boolean masks, chunked arrays); the tests check the calls.
pc: typing.Any = _compute

__all__ = [
    "NORMALISER_VERSION",
    "Normaliser",
    "default_normaliser",
    "domain_key",
    "email_domain",
    "name_key",
    "normalise_accounts",
]

#: Bumped whenever a key changes for some input; part of every fingerprint.
NORMALISER_VERSION = "1"

#: Schema-metadata key under which :func:`normalise_accounts` records its fingerprint.
FINGERPRINT_KEY = b"revops_ingest.matching.normaliser"

# Letters that neither lower-casing nor NFKD reduce to ASCII-like base letters.
_SPECIAL_LETTERS = (
    ("ß", "ss"),
    ("ẞ", "ss"),
    ("ς", "σ"),  # noqa: RUF001
    ("ſ", "s"),  # noqa: RUF001
    ("ø", "o"),
    ("æ", "ae"),
    ("œ", "oe"),
    ("ł", "l"),
    ("đ", "d"),
    ("ð", "d"),
    ("þ", "th"),
    ("ı", "i"),  # noqa: RUF001
    ("ħ", "h"),
)
_DELETED = r"['\x{2018}\x{2019}\x{02bc}`.]"
_AND = r"[&+]"
_NOT_WORD = r"[^\p{L}\p{N}\p{M}]+"
_LEADING_THE = r"^(?:the )+"
_HOST_OK = re.compile(r"^[a-z0-9_-]+(?:\.[a-z0-9_-]+)+$")
_TEXT_KEY_COLUMNS = ("domain_key", "name_key", "name_sorted")


def _clean_entries(values: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for value in values:
        entry = " ".join(value.strip().lower().split())
        if entry:
            seen.setdefault(entry, None)
    return tuple(seen)


def _frozen_entries(values: Iterable[str]) -> frozenset[str]:
    return frozenset(_clean_entries(values))


@functools.cache
def _psl(path: str) -> PublicSuffixList:
    with pathlib.Path(path).open("rb") as source:
        return PublicSuffixList(source, accept_unknown=False)


@functools.cache
def _psl_version(path: str) -> str:
    with pathlib.Path(path).open(encoding="utf-8") as source:
        for _, line in zip(range(50), source, strict=True):
            if line.startswith("// VERSION:"):
                return line.split(":", 1)[1].strip()
    return "unknown"


@attrs.frozen(kw_only=True)
class Normaliser:
    """How names and domains become keys.

    The defaults come from the lists in ``revops_ingest/matching/data/``; build a
    variant with :meth:`extended` rather than replacing a whole list.

    Attributes:
        legal_forms: Trailing legal forms removed from names ("inc", "gmbh and co
            kg", "pty ltd", ...), written as the normaliser leaves them.
        generic_words: Words that alone make a name too generic to link by name.
        excluded_domains: Hosts that are never a domain key (free mail, ISPs,
            social networks, ...); an entry also excludes every host under it.
        private_suffixes: Hosting suffixes missing from the Public Suffix List under
            which each subdomain is its own key ("acme.wordpress.com").
        psl_file: A Public Suffix List file to use instead of the snapshot bundled
            with the ``publicsuffixlist`` package. Never downloaded.
    """

    legal_forms: tuple[str, ...] = attrs.field(
        factory=_data.default_legal_forms, converter=_clean_entries
    )
    generic_words: frozenset[str] = attrs.field(
        factory=_data.default_generic_words, converter=_frozen_entries
    )
    excluded_domains: frozenset[str] = attrs.field(
        factory=_data.default_excluded_domains, converter=_frozen_entries
    )
    private_suffixes: frozenset[str] = attrs.field(
        factory=_data.default_private_suffixes, converter=_frozen_entries
    )
    psl_file: str = attrs.field(default=PSLFILE)

    def extended(
        self,
        *,
        excluded_domains: Iterable[str] = (),
        private_suffixes: Iterable[str] = (),
        legal_forms: Iterable[str] = (),
        generic_words: Iterable[str] = (),
    ) -> Normaliser:
        """Return a copy with entries added to the lists.

        Args:
            excluded_domains: More hosts that must never be keys.
            private_suffixes: More hosting suffixes whose subdomains are keys.
            legal_forms: More trailing legal forms.
            generic_words: More generic words.

        Returns:
            The new normaliser; this one is unchanged.
        """
        return attrs.evolve(
            self,
            excluded_domains=self.excluded_domains | _frozen_entries(excluded_domains),
            private_suffixes=self.private_suffixes | _frozen_entries(private_suffixes),
            legal_forms=(*self.legal_forms, *_clean_entries(legal_forms)),
            generic_words=self.generic_words | _frozen_entries(generic_words),
        )

    @property
    def psl_version(self) -> str:
        """The ``VERSION`` line of the Public Suffix List in use."""
        return _psl_version(self.psl_file)

    @functools.cached_property
    def fingerprint(self) -> str:
        """A short hash of everything that decides the keys, and the PSL version."""
        digest = hashlib.sha256()
        for part in (
            NORMALISER_VERSION,
            self.psl_version,
            *sorted(self.legal_forms),
            "|",
            *sorted(self.generic_words),
            "|",
            *sorted(self.excluded_domains),
            "|",
            *sorted(self.private_suffixes),
        ):
            digest.update(part.encode())
            digest.update(b"\0")
        return digest.hexdigest()[:16]

    @functools.cached_property
    def _generic_array(self) -> AnyArray:
        return pa.array(sorted(self.generic_words), pa.large_string())

    @functools.cached_property
    def _legal_pattern(self) -> str:
        forms = sorted({*self.legal_forms, "the"}, key=lambda f: (-len(f), f))
        return r"(?: (?:" + "|".join(re.escape(f) for f in forms) + r"))+$"

    # ------------------------------------------------------------------ names

    def name_keys(
        self, names: AnyArray | pa.ChunkedArray[typing.Any]
    ) -> tuple[AnyArray, AnyArray]:
        """Normalise company names.

        The name key is NFKC-normalised, case-folded, stripped of accents; "&" and
        "+" become "and", apostrophes and dots are deleted and other punctuation
        becomes a space; a leading "The" and a trailing run of legal forms (and
        "The") are removed, but never the first word. Empty results are null.

        Args:
            names: Company names (nulls allowed).

        Returns:
            ``(name_key, name_sorted)``: the key and the key with its words sorted.
        """
        s = pc.utf8_normalize(pc.cast(names, pa.large_string()), "NFKC")
        s = pc.utf8_lower(s)
        if not pc.all(pc.string_is_ascii(s)).as_py():
            for before, after in _SPECIAL_LETTERS:
                s = pc.replace_substring(s, before, after)
            s = pc.utf8_normalize(s, "NFKD")
            s = pc.replace_substring_regex(s, r"\p{Mn}+", "")
            s = pc.utf8_normalize(s, "NFC")
        s = pc.replace_substring_regex(s, _DELETED, "")
        s = pc.replace_substring_regex(s, _AND, " and ")
        s = pc.replace_substring_regex(s, _NOT_WORD, " ")
        s = pc.utf8_trim(s, " ")
        s = pc.replace_substring_regex(s, _LEADING_THE, "")
        s = pc.replace_substring_regex(s, self._legal_pattern, "")
        s = pc.if_else(pc.equal(s, ""), pa.scalar(None, pa.large_string()), s)
        return _combine(s), _sort_words(_combine(s))

    def eligible(
        self, name_key: AnyArray
    ) -> np.ndarray[typing.Any, np.dtype[np.bool_]]:
        """Say which name keys may be linked by name.

        A key qualifies when it has at least three letters or digits and at least
        one word that is not in :attr:`generic_words`.

        Args:
            name_key: Keys from :meth:`name_keys`.

        Returns:
            A boolean numpy array, one entry per key (false for nulls).
        """
        n = len(name_key)
        filled = pc.fill_null(name_key, "")
        long_enough = pc.greater_equal(
            pc.utf8_length(pc.replace_substring(filled, " ", "")), 3
        )
        words = pc.split_pattern(filled, " ")
        flat = pc.list_flatten(words)
        parents = pc.list_parent_indices(words).to_numpy()
        generic = pc.is_in(flat, self._generic_array)
        specific = ~generic.to_numpy(zero_copy_only=False)
        has_specific = np.bincount(parents, weights=specific, minlength=n) > 0
        return np.asarray(long_enough.to_numpy(zero_copy_only=False)) & has_specific

    # ---------------------------------------------------------------- domains

    def domain_keys(self, values: AnyArray | pa.ChunkedArray[typing.Any]) -> AnyArray:
        """Reduce websites, hosts or e-mail addresses to registrable domains.

        Lower case; scheme, user info (and an address's local part), port, path,
        trailing dots and a leading ``www.`` dropped; internationalised names in
        their ASCII (``xn--``) form; then the registrable domain by the Public Suffix
        List, private section included (``acme.github.io`` stays itself). IP
        addresses, bare public suffixes, malformed hosts and excluded hosts give
        null.

        Args:
            values: Websites, hosts or e-mail addresses (nulls allowed).

        Returns:
            The domain keys, ``large_string``.
        """
        hosts = _hosts(values)
        unique = pc.unique(hosts)
        keys = [self._host_key(h) for h in unique.to_pylist()]
        positions = pc.index_in(hosts, unique)
        return _combine(pc.take(pa.array(keys, pa.large_string()), positions))

    def _host_key(self, host: str | None) -> str | None:
        if not host:
            return None
        if not host.isascii() or "xn--" in host:
            try:
                host = idna.encode(host, uts46=True).decode("ascii")
            except (idna.IDNAError, UnicodeError):
                return None
        if _is_ip(host) or not _HOST_OK.match(host):
            return None
        key = self._registrable(host)
        if key is None or self._excluded(host, key):
            return None
        return key

    def _registrable(self, host: str) -> str | None:
        labels = host.split(".")
        for n in range(2, len(labels) + 1):
            if ".".join(labels[-n:]) in self.private_suffixes:
                return ".".join(labels[-n - 1 :]) if len(labels) > n else None
        return _psl(self.psl_file).privatesuffix(host)

    def _excluded(self, host: str, key: str) -> bool:
        labels = host.split(".")
        depth = key.count(".") + 1
        return any(
            ".".join(labels[i:]) in self.excluded_domains
            for i in range(len(labels) - depth + 1)
        )

    def email_addresses(
        self, values: AnyArray | pa.ChunkedArray[typing.Any]
    ) -> AnyArray:
        """Normalise e-mail addresses for exact lookups (NFKC, lower case, trimmed).

        Args:
            values: E-mail addresses, possibly ``mailto:`` links or ``Name <a@b>``.

        Returns:
            The addresses; null where there is no ``@``.
        """
        s = pc.utf8_lower(pc.utf8_normalize(pc.cast(values, pa.large_string()), "NFKC"))
        s = pc.replace_substring_regex(s, r"^.*<([^>]*)>.*$", r"\1")
        s = pc.replace_substring_regex(s, r"^\s*mailto:", "")
        s = pc.utf8_trim_whitespace(s)
        ok = pc.match_substring_regex(s, r"^[^@\s]+@[^@\s]+$")
        return _combine(pc.if_else(ok, s, pa.scalar(None, pa.large_string())))

    def normalise_accounts(self, accounts: object) -> pa.Table:
        """Add ``domain_key``, ``name_key`` and ``name_sorted`` columns.

        See :func:`normalise_accounts`.
        """
        table = as_table(accounts, what="accounts")
        require_columns(table, ("name",), what="accounts")
        domain = column_or_null(table, ("domain", "website"))
        name_key_, name_sorted = self.name_keys(table.column("name"))
        columns = {
            "domain_key": self.domain_keys(domain),
            "name_key": name_key_,
            "name_sorted": name_sorted,
        }
        for column, values in columns.items():
            index = table.schema.get_field_index(column)
            if index >= 0:
                table = table.set_column(index, column, values)
            else:
                table = table.append_column(column, values)
        metadata = dict(table.schema.metadata or {})
        metadata[FINGERPRINT_KEY] = self.fingerprint.encode()
        return table.replace_schema_metadata(metadata)

    def is_normalised(self, table: pa.Table) -> bool:
        """Say whether *table* carries keys this normaliser computed."""
        metadata = table.schema.metadata or {}
        return metadata.get(FINGERPRINT_KEY) == self.fingerprint.encode() and all(
            c in table.column_names for c in _TEXT_KEY_COLUMNS
        )


def _combine(values: AnyArray | pa.ChunkedArray[typing.Any]) -> AnyArray:
    if isinstance(values, pa.ChunkedArray):
        if values.num_chunks == 0:
            return typing.cast("AnyArray", pa.array([], values.type))
        return values.combine_chunks()
    return values


def _sort_words(keys: AnyArray) -> AnyArray:
    """Sort the words of each key (code-point order), keeping nulls."""
    n = len(keys)
    words = pc.split_pattern(keys, " ")
    flat = pc.list_flatten(words)
    if len(flat) == 0:
        return keys
    parents = pc.list_parent_indices(words).to_numpy()
    vocabulary = pc.unique(flat)
    vocabulary = pc.take(vocabulary, pc.sort_indices(vocabulary))
    rank = pc.index_in(flat, vocabulary).to_numpy()
    order = np.lexsort((rank, parents))
    counts = np.bincount(parents, minlength=n)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    list_array: typing.Any = pa.ListArray
    rebuilt = list_array.from_arrays(
        pa.array(offsets), pc.take(flat, pa.array(order)), mask=pc.is_null(keys)
    )
    return _combine(pc.binary_join(rebuilt, pa.scalar(" ", pa.large_string())))


def _hosts(values: AnyArray | pa.ChunkedArray[typing.Any]) -> AnyArray:
    """Strip websites and addresses down to lower-case host names."""
    s = pc.utf8_normalize(pc.cast(values, pa.large_string()), "NFKC")
    s = pc.utf8_trim_whitespace(pc.utf8_lower(s))
    s = pc.replace_substring_regex(s, r"[\x{3002}\x{ff61}]", ".")
    s = pc.replace_substring_regex(s, r"^mailto:", "")
    s = pc.replace_substring_regex(s, r"^[a-z][a-z0-9+.-]*://", "")
    s = pc.replace_substring_regex(s, r"^//", "")
    s = pc.replace_substring_regex(s, r"[/?#\\].*$", "")
    s = pc.replace_substring_regex(s, r"^.*@", "")
    s = pc.replace_substring_regex(s, r":[0-9]*$", "")
    s = pc.replace_substring_regex(s, r"\.+$", "")
    s = pc.replace_substring_regex(s, r"^www[0-9]*\.", "")
    return _combine(pc.if_else(pc.equal(s, ""), pa.scalar(None, pa.large_string()), s))


def _is_ip(host: str) -> bool:
    return ":" in host or "[" in host or host.replace(".", "").isdigit()


@functools.cache
def default_normaliser() -> Normaliser:
    """Return the normaliser with the shipped lists and the bundled PSL snapshot."""
    return Normaliser()


def name_key(name: str, *, normaliser: Normaliser | None = None) -> str | None:
    """Return the name key of one company name (see :meth:`Normaliser.name_keys`).

    >>> name_key("Café & Müller GmbH & Co. KG")
    'cafe and muller'
    """
    key, _ = (normaliser or default_normaliser()).name_keys(pa.array([name]))
    value = key[0].as_py()
    return typing.cast("str | None", value)


def domain_key(value: str, *, normaliser: Normaliser | None = None) -> str | None:
    """Return the domain key of one website, host or address.

    >>> domain_key("HTTPS://user@WWW.Shop.Acme.co.uk:8443/about?x=1")
    'acme.co.uk'
    """
    keys = (normaliser or default_normaliser()).domain_keys(pa.array([value]))
    return typing.cast("str | None", keys[0].as_py())


def email_domain(address: str, *, normaliser: Normaliser | None = None) -> str | None:
    """Return the domain key of an e-mail address; null for free-mail and the like.

    >>> email_domain("Jane.Doe@EU.Acme.com"), email_domain("jane@gmail.com")
    ('acme.com', None)
    """
    return domain_key(address, normaliser=normaliser)


def normalise_accounts(
    accounts: object, *, normaliser: Normaliser | None = None
) -> pa.Table:
    """Add the matching keys to an accounts table, computed once.

    Args:
        accounts: A table with a ``name`` column and a ``domain`` or ``website``
            column (anything with ``__arrow_c_stream__``).
        normaliser: The lists and PSL to use; the shipped defaults if omitted.

    Returns:
        The table with ``domain_key``, ``name_key`` and ``name_sorted`` appended (or
        replaced) and the normaliser's fingerprint in the schema metadata, so
        :func:`~revops_ingest.matching.match_accounts` reuses the keys instead of
        computing them again.

    Raises:
        SchemaError: If the table has no ``name`` column.
    """
    return (normaliser or default_normaliser()).normalise_accounts(accounts)
