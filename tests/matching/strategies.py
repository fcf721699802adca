"""Hypothesis strategies for the matching tests."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import strategies as st


WORDS = (
    "acme",
    "acne",
    "globex",
    "initech",
    "initek",
    "umbrella",
    "umbrela",
    "müller",
    "mueller",
    "studio",
    "54",
    "45",
    "services",
    "global",
    "hooli",
    "vandelay",
    "vandelay",
    "industries",
)
LEGAL = ("", " Inc", " Inc.", " LLC", " GmbH & Co. KG", ", The", " Ltd", " S.A.")
SITES = (
    None,
    "acme.com",
    "https://www.acme.com/about",
    "globex.com",
    "http://globex.com",
    "gmail.com",
    "hooli.com",
    "https://www.linkedin.com/company/hooli",
    "initech.co.uk",
    "shop.initech.co.uk",
    "vandelay.github.io",
)

names = st.builds(
    lambda words, legal, upper: (
        (" ".join(words) + legal).upper() if upper else " ".join(words) + legal
    ),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=3),
    st.sampled_from(LEGAL),
    st.booleans(),
)


@st.composite
def accounts(draw: st.DrawFn, prefix: str, max_size: int = 12) -> pa.Table:
    """A small accounts table whose names and websites often collide."""
    n = draw(st.integers(min_value=0, max_value=max_size))
    ids = draw(
        st.lists(
            st.integers(min_value=0, max_value=999), min_size=n, max_size=n, unique=True
        )
    )
    return pa.table(
        {
            "account_id": pa.array([f"{prefix}{i:03d}" for i in ids], pa.string()),
            "name": pa.array([draw(names) for _ in ids], pa.string()),
            "website": pa.array(
                [draw(st.sampled_from(SITES)) for _ in ids], pa.string()
            ),
        }
    )


any_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40
)
