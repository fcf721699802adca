"""Secrets never show their value except through reveal()."""

from __future__ import annotations

import pickle

import pytest

from revops_ingest import Secret
from revops_ingest._secrets import as_secret, redact


class TestSecret:
    def test_repr_and_str_mask_the_value(self):
        """repr, str and f-strings show a mask, not the value."""
        secret = Secret("tok-123456")

        assert "tok-123456" not in repr(secret)
        assert "tok-123456" not in str(secret)
        assert "tok-123456" not in f"{secret!r} {secret}"

    def test_reveal_returns_the_value(self):
        """reveal() is the one way to the value."""
        assert "tok-123456" == Secret("tok-123456").reveal()

    def test_a_container_repr_hides_it_too(self):
        """A Secret inside a dict or list stays masked."""
        assert "abcdef" not in repr({"token": Secret("abcdef")})

    def test_pickling_is_refused(self):
        """A Secret cannot be pickled to disk or to another process."""
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(Secret("abcdef"))

    def test_only_strings(self):
        """A Secret holds a str."""
        with pytest.raises(TypeError):
            Secret(b"bytes")  # type: ignore[arg-type]

    def test_equality_compares_values(self):
        """Two secrets with the same value are equal and hash alike."""
        assert Secret("abcdef") == Secret("abcdef")
        assert hash(Secret("abcdef")) == hash(Secret("abcdef"))
        assert Secret("abcdef") != Secret("abcdeg")

    def test_as_secret_wraps_once(self):
        """as_secret leaves a Secret as it is and wraps a str."""
        secret = Secret("abcdef")
        assert secret is as_secret(secret)
        assert secret == as_secret("abcdef")


class TestRedact:
    def test_replaces_every_occurrence(self):
        """Redact masks each secret wherever it appears in the text."""
        text = "token=abcdef; again abcdef; other=xyz12345"

        out = redact(text, [Secret("abcdef"), "xyz12345", None])

        assert "abcdef" not in out
        assert "xyz12345" not in out

    def test_short_values_are_left_alone(self):
        """Values under four characters would mangle text and protect nothing."""
        assert "a b c" == redact("a b c", ["a"])
