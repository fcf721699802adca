"""Build the labelled evaluation set (``data/eval_pairs.csv``) from its sources.

Run ``python tests/matching/eval_set.py`` to rewrite the CSV after editing
``companies.csv`` or ``hard_negatives.csv``; a test checks the committed file is
what this builds. See ``data/README.md`` for provenance.
"""

from __future__ import annotations

import csv
import hashlib
import pathlib
import re

from rapidfuzz import fuzz, process

from revops_ingest.matching import name_key


DATA = pathlib.Path(__file__).parent / "data"
FIELDS = (
    "pair_id",
    "left_name",
    "left_website",
    "right_name",
    "right_website",
    "label",
    "kind",
    "source",
)

# Spelling variants of legal forms, as they appear in CRM data.
_FORM_VARIANTS = (
    (r"\bIncorporated\b", "Inc."),
    (r"\bInc\.", "Incorporated"),
    (r"\bCorporation\b", "Corp."),
    (r"\bCorp\.", "Corporation"),
    (r"\bLimited\b", "Ltd"),
    (r"\bLtd\.?", "Limited"),
    (r"\bplc\b", "PLC"),
    (r"\bPLC\b", "Public Limited Company"),
    (r"\bAktiengesellschaft\b", "AG"),
    (r"\bAG\b", "Aktiengesellschaft"),
    (r"\bS\.A\.", "SA"),
    (r"\bS\.p\.A\.", "SpA"),
    (r"\bN\.V\.", "NV"),
    (r"\bB\.V\.", "BV"),
    (r"\bGmbH\b", "G.m.b.H."),
    (r"\bA/S\b", "AS"),
    (r"\bOyj\b", "Oyj."),
    (r"\bSE\b", "S.E."),
    (r"\bCo\.,", "Company"),
)
_PLATFORMS = (
    "https://www.linkedin.com/company/{slug}",
    "https://www.facebook.com/{slug}",
    "https://sites.google.com/view/{slug}",
    "info.{slug}@gmail.com",
    "{slug}@outlook.com",
    "https://twitter.com/{slug}",
)


def _digest(*parts: str) -> int:
    return int(hashlib.sha256("|".join(parts).encode()).hexdigest()[:8], 16)


def _url(domain: str, salt: str) -> str:
    """A website as a rep would type it: scheme, www, path and case vary."""
    roll = _digest(domain, salt) % 6
    return (
        f"https://www.{domain}/",
        f"http://{domain}",
        f"www.{domain}",
        domain,
        f"https://{domain}/en/about-us",
        f"WWW.{domain.upper()}",
    )[roll]


def _variant(name: str) -> str:
    """Another spelling of a legal name: legal form, case, punctuation, "&"."""
    out = name
    for pattern, replacement in _FORM_VARIANTS:
        changed = re.sub(pattern, replacement, out, count=1)
        if changed != out:
            out = changed
            break
    roll = _digest(name, "variant") % 4
    if roll == 0:
        out = out.upper()
    elif roll == 1:
        out = out.replace(",", "").replace(".", "")
    elif roll == 2:
        out = out.replace(" & ", " and ").replace("&", " and ")
    return out if out != name else name.upper()


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", (name_key(name) or "x").lower())


def build_pairs() -> list[dict[str, str]]:
    """Derive every pair, deterministically, from the two source files."""
    with (DATA / "companies.csv").open(encoding="utf-8") as f:
        companies = list(csv.DictReader(f))
    with (DATA / "hard_negatives.csv").open(encoding="utf-8") as f:
        negatives = list(csv.DictReader(f))
    pairs: list[dict[str, str]] = []

    def add(
        kind: str, label: int, left: tuple[str, str], right: tuple[str, str], src: str
    ) -> None:
        pairs.append(
            {
                "pair_id": f"{kind[:3]}-{len(pairs):05d}",
                "left_name": left[0],
                "left_website": left[1],
                "right_name": right[0],
                "right_website": right[1],
                "label": str(label),
                "kind": kind,
                "source": src,
            }
        )

    for c in companies:
        where = f"legal name: {c['registry']}; trading name and domain: company website"
        add(
            "legal_vs_trading_with_domain",
            1,
            (c["legal_name"], _url(c["domain"], "left")),
            (c["trading_name"], _url(c["domain"], "right")),
            where,
        )
        add(
            "legal_vs_trading", 1, (c["legal_name"], ""), (c["trading_name"], ""), where
        )
        add(
            "legal_form_spelling",
            1,
            (c["legal_name"], ""),
            (_variant(c["legal_name"]), ""),
            f"legal name: {c['registry']}; spelling variant derived",
        )
    for n in negatives:
        add(
            n["kind"],
            0,
            (n["left_name"], n["left_website"]),
            (n["right_name"], n["right_website"]),
            f"hand-picked: {n['note']}",
        )
    keys = [name_key(c["legal_name"]) or "" for c in companies]
    sorted_keys = [" ".join(sorted(k.split())) for k in keys]
    scores = process.cdist(sorted_keys, sorted_keys, scorer=fuzz.ratio)
    seen: set[tuple[int, int]] = set()
    for i, c in enumerate(companies):
        row = scores[i]
        best = -1
        for j in sorted(range(len(companies)), key=lambda j: (-row[j], j)):
            if j != i and companies[j]["entity"] != c["entity"]:
                best = j
                break
        pair = (min(i, best), max(i, best))
        if best < 0 or pair in seen:
            continue
        seen.add(pair)
        d = companies[best]
        add(
            "mined_similar_name",
            0,
            (c["legal_name"], ""),
            (d["legal_name"], ""),
            f"nearest other company by name in companies.csv ({c['registry']}; "
            f"{d['registry']})",
        )
    for i in range(0, len(companies) - 1, 4):
        c, d = companies[i], companies[i + 1]
        template = _PLATFORMS[(i // 4) % len(_PLATFORMS)]
        add(
            "shared_platform_website",
            0,
            (c["trading_name"], template.format(slug=_slug(c["legal_name"]))),
            (d["trading_name"], template.format(slug=_slug(d["legal_name"]))),
            "two companies of companies.csv whose website field holds a page on "
            "the same social, mail or site-builder host",
        )
    return pairs


def write(path: pathlib.Path = DATA / "eval_pairs.csv") -> None:
    """Write the pairs as CSV."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(build_pairs())


if __name__ == "__main__":
    write()
