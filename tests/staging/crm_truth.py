"""Two CRMs generated from one set of true companies and deals (test utility).

Used by ``test_unify.py`` and ``benchmarks/bench_unify.py`` to measure the
precision and recall of the Salesforce + HubSpot merge against the truth.
"""

from __future__ import annotations

import datetime as dt
import random

import pyarrow as pa

from revops_ingest.staging import ACCOUNTS, OPPORTUNITIES


def staged(schema, system, rows, extras=None):
    """A staged table in *schema*: the given columns, nulls elsewhere, lineage."""
    columns = {}
    for column in schema.columns:
        if column.name == "source_system":
            values = [system] * len(rows)
        elif column.name == "source_id":
            values = [r[schema.key] for r in rows]
        elif column.name == "is_deleted":
            values = [False] * len(rows)
        else:
            values = [r.get(column.name) for r in rows]
        columns[column.name] = pa.array(values, column.arrow_type)
    for name in extras or ():
        columns[name] = pa.array([r.get(name) for r in rows], pa.string())
    return pa.table(columns)


def sf_accounts(rows):
    return staged(ACCOUNTS, "Salesforce", rows)


def hs_companies(rows):
    return staged(ACCOUNTS, "HubSpot", rows, extras=["salesforce_account_id"])


def day(n):
    return dt.date(2026, 1, 1) + dt.timedelta(days=n)


LEGAL = ("Inc", "Inc.", "LLC", "Ltd", "GmbH", "Corporation", "")


def two_crms(seed, companies=120):
    """Two CRMs generated from one set of true companies and deals.

    Realistic differences: legal-form changes, a typo, missing domains, records in
    one system only, the integration's cross id on some HubSpot companies.
    Returns the staged tables and the truth: HubSpot id -> Salesforce id.
    """
    rng = random.Random(seed)
    words = [
        "Acme",
        "Globex",
        "Initech",
        "Umbrella",
        "Hooli",
        "Vandelay",
        "Stark",
        "Wayne",
        "Wonka",
        "Tyrell",
        "Cyberdyne",
        "Soylent",
        "Oscorp",
        "Gringotts",
        "Aperture",
        "Massive",
        "Dynamic",
        "Pied",
        "Piper",
        "Nakatomi",
        "Monarch",
        "Sterling",
        "Cooper",
        "Prestige",
        "Wernham",
        "Hogg",
        "Dunder",
        "Mifflin",
    ]
    sf_rows, hs_rows, truth = [], [], {}
    used = set()
    for n in range(companies):
        while True:  # two words: similar names abound ("Acme Globex", "Acme Stark")
            pair = rng.sample(words, 2)
            if frozenset(pair) not in used:  # "Acme Stark" and "Stark Acme": one
                used.add(frozenset(pair))
                name = " ".join(pair)
                break
        domain = f"{name.lower().replace(' ', '')}.com"
        in_sf = rng.random() < 0.85
        in_hs = rng.random() < 0.7 or not in_sf
        sf_id = f"001{n:015d}"
        hs_id = str(5000 + n)
        if in_sf:
            sf_rows.append(
                {
                    "account_id": sf_id,
                    "name": f"{name} {rng.choice(LEGAL)}".strip(),
                    "website": f"https://www.{domain}" if rng.random() < 0.8 else None,
                }
            )
        if in_hs:
            hs_name = name
            if rng.random() < 0.15:  # a typo: one letter dropped
                at = rng.randrange(1, len(name))
                hs_name = name[:at] + name[at + 1 :]
            hs_rows.append(
                {
                    "account_id": hs_id,
                    "name": hs_name,
                    "website": domain if rng.random() < 0.7 else None,
                    "salesforce_account_id": sf_id
                    if in_sf and rng.random() < 0.3
                    else None,
                }
            )
        if in_sf and in_hs:
            truth[hs_id] = sf_id
    return sf_accounts(sf_rows), hs_companies(hs_rows), truth


def precision_recall(result, truth):
    predicted = {}
    for row in result.table.to_pylist():
        if row["salesforce_account_id"] and row["hubspot_company_id"]:
            predicted[row["hubspot_company_id"]] = row["salesforce_account_id"]
    right = sum(truth.get(h) == s for h, s in predicted.items())
    return right / max(len(predicted), 1), right / max(len(truth), 1)


def two_crm_deals(seed, sf, hs, truth):
    """True deals of the companies in both CRMs, landed in one or both systems.

    Yearly renewals share a name on one account (a year apart: different deals);
    names differ in case and spacing between systems; close dates drift up to ten
    days; some HubSpot deals carry the integration's cross id. Returns the staged
    tables and the truth: HubSpot deal id -> Salesforce opportunity id.
    """
    rng = random.Random(seed)
    sf_accounts_ = set(sf.column("account_id").to_pylist())
    hs_of = {s: h for h, s in truth.items()}
    sf_rows, hs_rows, deal_truth = [], [], {}
    n = 0
    for account in sorted(sf_accounts_):
        for year in range(rng.randint(0, 3)):
            n += 1
            name = "Renewal" if year else rng.choice(("New logo", "Expansion", "Pilot"))
            close = day(365 * year + rng.randint(0, 60))
            sf_id, hs_id = f"006{n:015d}", str(80000 + n)
            in_sf = rng.random() < 0.85
            in_hs = account in hs_of and rng.random() < 0.6
            if in_sf:
                sf_rows.append(
                    {
                        "opportunity_id": sf_id,
                        "account_id": account,
                        "name": name,
                        "close_date": close,
                    }
                )
            if in_hs:
                hs_rows.append(
                    {
                        "opportunity_id": hs_id,
                        "account_id": hs_of[account],
                        "name": f" {name.upper()}" if rng.random() < 0.3 else name,
                        "close_date": close + dt.timedelta(days=rng.randint(-10, 10)),
                        "salesforce_opportunity_id": sf_id
                        if in_sf and rng.random() < 0.3
                        else None,
                    }
                )
            if in_sf and in_hs:
                deal_truth[hs_id] = sf_id
    return (
        staged(OPPORTUNITIES, "Salesforce", sf_rows),
        staged(OPPORTUNITIES, "HubSpot", hs_rows, extras=["salesforce_opportunity_id"]),
        deal_truth,
    )


def deal_precision_recall(result, truth):
    predicted = {
        r["hubspot_deal_id"]: r["salesforce_opportunity_id"]
        for r in result.table.to_pylist()
        if r["salesforce_opportunity_id"] and r["hubspot_deal_id"]
    }
    right = sum(truth.get(h) == s for h, s in predicted.items())
    return right / max(len(predicted), 1), right / max(len(truth), 1)
