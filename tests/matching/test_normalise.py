"""Name and domain keys."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings

from revops_ingest.exceptions import SchemaError
from revops_ingest.matching import (
    Normaliser,
    domain_key,
    email_domain,
    name_key,
    normalise_accounts,
)
from revops_ingest.matching._normalise import default_normaliser

from .strategies import any_text, names


class TestNameKey:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("ACME INC.", "acme"),
            ("Café & Müller GmbH & Co. KG", "cafe and muller"),
            ("The Coca-Cola Company", "coca cola"),
            ("Acme, The", "acme"),
            ("I.B.M. Corp", "ibm"),
            ("AT&T Inc.", "at and t"),
            ("Procter + Gamble", "procter and gamble"),
            ("Straße AG", "strasse"),
            ("Łódź Sp. z o.o.", "lodz"),
            ("Novo Nordisk A/S", "novo nordisk"),
            ("Grupo Bimbo, S.A.B. de C.V.", "grupo bimbo"),
            ("Acme Pty Ltd", "acme"),
            ("Acme Co. Ltd", "acme"),
            ("McDonald's Corporation", "mcdonalds"),
            ("\uff21\uff22\uff23\u3000\uff2c\uff54\uff44", "abc"),
            ("Studio 54 LLC", "studio 54"),
            ("Xiaomi EV", "xiaomi ev"),
        ],
    )
    def test_examples(self, raw, expected):
        """Case, accents, '&', punctuation, 'The' and legal forms are normalised."""
        assert expected == name_key(raw)

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("Inc.", "inc"),
            ("The", "the"),
            ("The The", "the"),
            ("GmbH & Co. KG", "gmbh"),
        ],
    )
    def test_never_empty(self, raw, expected):
        """A name made only of legal forms keeps its first word."""
        assert expected == name_key(raw)

    @pytest.mark.parametrize("raw", ["", "   ", "!!!", "--"])
    def test_nothing_left_is_null(self, raw):
        """A name with no letters or digits has no key."""
        assert None is name_key(raw)

    @settings(max_examples=200, deadline=None)
    @given(any_text)
    def test_idempotent_on_any_text(self, raw):
        """Normalising a key again leaves it unchanged."""
        once = name_key(raw)

        assert once == (name_key(once) if once is not None else None)

    @settings(max_examples=100, deadline=None)
    @given(names)
    def test_idempotent_on_company_names(self, raw):
        """Normalising a company-name key again leaves it unchanged."""
        once = name_key(raw)

        assert once == name_key(once)


class TestNameKeys:
    def test_sorted_form(self):
        """The sorted form has the key's words in code-point order; nulls stay."""
        key, sorted_ = default_normaliser().name_keys(
            pa.array(["Zeta Alpha Inc", None, "b a"])
        )

        assert ["zeta alpha", None, "b a"] == key.to_pylist()
        assert ["alpha zeta", None, "a b"] == sorted_.to_pylist()

    def test_eligible(self):
        """Generic-only, too short and null names are not eligible for the name rule."""
        keys = pa.array(["global services", "acme", "ab", None, "acme services"])

        assert [False, True, False, False, True] == (
            default_normaliser().eligible(keys).tolist()
        )

    def test_extended_lists(self):
        """Extra legal forms and generic words are honoured."""
        normaliser = default_normaliser().extended(
            legal_forms=["holdings"], generic_words=["acme"]
        )

        assert "acme" == name_key("Acme Holdings", normaliser=normaliser)
        assert [False] == normaliser.eligible(pa.array(["acme"])).tolist()


class TestDomainKey:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("HTTPS://user@WWW.Shop.Acme.co.uk:8443/about?x=1", "acme.co.uk"),
            ("acme.github.io", "acme.github.io"),
            ("github.io", None),
            ("http://sites.google.com/acme", None),
            ("https://www.linkedin.com/company/acme", None),
            ("jane@mail.google.com", "google.com"),
            ("münchen.de", "xn--mnchen-3ya.de"),
            ("http://xn--mnchen-3ya.de/", "xn--mnchen-3ya.de"),
            ("192.168.0.1", None),
            ("[::1]:80", None),
            ("acme", None),
            ("foo.invalidtld", None),
            ("acme.wordpress.com", "acme.wordpress.com"),
            ("wordpress.com", None),
            ("www2.acme.com.", "acme.com"),
            ("mailto:bob@Acme.COM", "acme.com"),
            ("acme .com", None),
            ("", None),
        ],
    )
    def test_examples(self, raw, expected):
        """Scheme, user info, port, path and www go; the PSL gives the key."""
        assert expected == domain_key(raw)

    @pytest.mark.parametrize("host", ["gmail.com", "GMX.de", "t-online.de", "x.com"])
    def test_excluded_hosts(self, host):
        """Free-mail, ISP and social hosts are never keys."""
        assert None is domain_key(host)

    def test_extra_excluded_domain(self):
        """Users can exclude more hosts, and a host excludes its subdomains."""
        normaliser = Normaliser().extended(excluded_domains=["Corp-Mail.net"])

        assert None is domain_key("a.corp-mail.net", normaliser=normaliser)
        assert "corp-mail.net" == domain_key("a.corp-mail.net")

    def test_email_domain(self):
        """An address gives its domain key, free mail none."""
        assert ("acme.com", None) == (
            email_domain("Jane.Doe@EU.Acme.com"),
            email_domain("jane@gmail.com"),
        )

    @settings(max_examples=200, deadline=None)
    @given(any_text)
    def test_idempotent(self, raw):
        """A domain key is its own key."""
        once = domain_key(raw)

        assert once == (domain_key(once) if once is not None else None)


class TestEmailAddresses:
    def test_forms(self):
        """Case, 'mailto:' and display names are normalised; junk is null."""
        out = default_normaliser().email_addresses(
            pa.array(["Jane <JANE@Acme.com>", "mailto:bob@x.org", "nope", None])
        )

        assert ["jane@acme.com", "bob@x.org", None, None] == out.to_pylist()


class TestNormaliseAccounts:
    def test_adds_keys_and_fingerprint(self):
        """The three key columns are appended and the fingerprint recorded."""
        table = normalise_accounts(
            pa.table({"name": ["Acme Inc"], "website": ["www.acme.com"]})
        )

        assert ["acme.com", "acme", "acme"] == [
            table.column(c)[0].as_py()
            for c in ("domain_key", "name_key", "name_sorted")
        ]
        assert default_normaliser().is_normalised(table)

    def test_replaces_stale_keys(self):
        """Existing key columns are recomputed, not duplicated."""
        table = pa.table({"name": ["Acme"], "domain": ["acme.com"], "name_key": ["x"]})

        out = normalise_accounts(table)

        assert ["name", "domain", "name_key", "domain_key", "name_sorted"] == (
            out.column_names
        )
        assert "acme" == out.column("name_key")[0].as_py()

    def test_requires_name(self):
        """A table without names is rejected."""
        with pytest.raises(SchemaError, match="name"):
            normalise_accounts(pa.table({"website": ["acme.com"]}))

    def test_fingerprint_tracks_lists(self):
        """Changing a list changes the fingerprint, so stale keys are recomputed."""
        assert (
            Normaliser().fingerprint
            != Normaliser().extended(excluded_domains=["acme.com"]).fingerprint
        )

    def test_psl_version_is_known(self):
        """The bundled Public Suffix List snapshot is dated."""
        assert default_normaliser().psl_version.startswith("20")
