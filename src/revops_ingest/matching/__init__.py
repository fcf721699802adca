"""Link accounts across systems, and tickets and events to accounts.

Pure functions over Arrow tables: :func:`match_accounts` links two systems'
accounts by the rules of ``/RevOps/Config/account_matching_rules`` (exact domain,
fuzzy name, manual) and explains every decision; :func:`link_by_domain` links
tickets and events to accounts by e-mail address and domain. See
``docs/matching.md``.
"""

from revops_ingest.matching._cluster import ClusterResult, cluster_links
from revops_ingest.matching._evaluate import Evaluation, evaluate_pairs
from revops_ingest.matching._link import LINK_COLUMNS, link_by_domain
from revops_ingest.matching._match import (
    DECISION_SCHEMA,
    fuzzy_candidates,
    match_accounts,
    reference_match,
)
from revops_ingest.matching._normalise import (
    Normaliser,
    domain_key,
    email_domain,
    name_key,
    normalise_accounts,
)
from revops_ingest.matching._rules import DEFAULT_RULES, MatchRule
from revops_ingest.matching._synthetic import (
    SyntheticAccounts,
    SyntheticTickets,
    synthetic_accounts,
    synthetic_tickets,
)


__all__ = [  # noqa: RUF022 - plainly sorted, as tests/test_public_api.py checks
    "ClusterResult",
    "DECISION_SCHEMA",
    "DEFAULT_RULES",
    "Evaluation",
    "LINK_COLUMNS",
    "MatchRule",
    "Normaliser",
    "SyntheticAccounts",
    "SyntheticTickets",
    "cluster_links",
    "domain_key",
    "email_domain",
    "evaluate_pairs",
    "fuzzy_candidates",
    "link_by_domain",
    "match_accounts",
    "name_key",
    "normalise_accounts",
    "reference_match",
    "synthetic_accounts",
    "synthetic_tickets",
]
