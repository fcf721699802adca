"""The shipped lists."""

from __future__ import annotations

import pytest

from revops_ingest.matching import domain_key, name_key
from revops_ingest.matching._data import (
    default_excluded_domains,
    default_generic_words,
    default_legal_forms,
    default_private_suffixes,
    read_list,
)


class TestLists:
    @pytest.mark.parametrize(
        ("loader", "member"),
        [
            (default_legal_forms, "gmbh and co kg"),
            (default_generic_words, "services"),
            (default_excluded_domains, "gmail.com"),
            (default_private_suffixes, "wordpress.com"),
        ],
    )
    def test_loaded(self, loader, member):
        """Each list loads, comments stripped, with a known member."""
        assert member in loader()

    def test_no_repeats(self):
        """Entries appear once, in file order."""
        forms = read_list("legal_forms.txt")

        assert len(set(forms)) == len(forms)

    def test_legal_forms_are_normalised(self):
        """Every legal form is written the way the normaliser leaves names."""
        assert [] == [f for f in default_legal_forms() if name_key(f"X {f}") != "x"]

    def test_excluded_domains_are_not_public_suffixes(self):
        """Excluded hosts are real hosts (the PSL would already make them no key)."""
        assert [] == [
            d
            for d in default_excluded_domains()
            if domain_key(d.replace("www.", "")) is not None
        ]
