"""Seeded, realistic Zendesk Support data for :class:`ZendeskEmulator`.

Organizations carry ``domain_names``; most of their end users write from those
domains (some from a subdomain), some from free mail (gmail.com, ...) while still
belonging to the organization, and a few free-mail users belong to none. Tickets
have Zendesk's statuses, priorities and types, ``created_at`` before ``updated_at``
before ``generated_timestamp``, and a metric set (reply and resolution times,
``solved_at`` for solved and closed tickets), which the incremental export sideloads
with ``include=metric_sets``. Every value is JSON as the API sends it: timestamps as
``YYYY-MM-DDThh:mm:ssZ``, ``generated_timestamp`` as Unix seconds.
"""

from __future__ import annotations

import datetime as dt
import random
import typing

import attrs


if typing.TYPE_CHECKING:
    from collections.abc import Sequence


__all__ = [
    "FREE_MAIL",
    "Record",
    "ZendeskGenerator",
    "epoch",
    "iso",
]

Record: typing.TypeAlias = "dict[str, typing.Any]"

FREE_MAIL = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com")
"""Free-mail hosts some requesters write from."""

_WORDS = (
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark",
    "Wayne",
    "Wonka",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Vandelay",
)
_SUFFIXES = ("Inc", "LLC", "GmbH", "Ltd", "Corp")
_TLDS = ("com", "io", "de", "co.uk")
_FIRST = ("ana", "ben", "chen", "dara", "eli", "fatima", "gus", "hana", "ivan", "jo")
_LAST = ("ng", "smith", "garcia", "muller", "rossi", "kim", "okafor", "silva")
_STATUSES = (
    ("new", 8),
    ("open", 20),
    ("pending", 10),
    ("hold", 4),
    ("solved", 38),
    ("closed", 20),
)
_PRIORITIES = ((None, 20), ("low", 15), ("normal", 40), ("high", 18), ("urgent", 7))
_TYPES = ((None, 25), ("question", 35), ("incident", 25), ("problem", 8), ("task", 7))
_CHANNELS = ("email", "web", "api", "chat", "voice")
_SUBJECTS = (
    "Cannot log in",
    "Invoice question",
    "Export is slow",
    "Feature request: SSO",
    "Error 500 on dashboard",
    "How do I add a user?",
    "Data missing after sync",
    "Cancel my subscription",
)
_SOLVED = frozenset({"solved", "closed"})
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def iso(seconds: int) -> str:
    """Unix *seconds* as Zendesk writes times: ``2024-05-01T12:00:00Z``."""
    value = _EPOCH + dt.timedelta(seconds=seconds)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(text: str) -> int:
    """A Zendesk time (``...Z``) as Unix seconds."""
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(value.timestamp())


def _weighted(
    rnd: random.Random, pairs: Sequence[tuple[typing.Any, int]]
) -> typing.Any:
    values = [value for value, _ in pairs]
    weights = [weight for _, weight in pairs]
    return rnd.choices(values, weights)[0]


@attrs.define
class ZendeskGenerator:
    """Makes organizations, users, tickets and metric sets from one seed.

    Attributes:
        rnd: The random source.
        url: The account's URL, for the records' ``url``.
        next_id: The next record id (ids are unique across objects, as in Zendesk).
    """

    rnd: random.Random
    url: str = "https://acme.zendesk.com"
    next_id: int = 1000

    @classmethod
    def seeded(cls, seed: int) -> ZendeskGenerator:
        """A generator with a fixed seed: the same seed gives the same data."""
        return cls(random.Random(seed))  # noqa: S311 - test data, not crypto

    def new_id(self) -> int:
        """A fresh record id."""
        self.next_id += self.rnd.randrange(1, 7)
        return self.next_id

    def organization(self, now: int, **fields: typing.Any) -> Record:
        """A new organization with one or two ``domain_names``."""
        rnd = self.rnd
        org_id = self.new_id()
        word = rnd.choice(_WORDS)
        slug = f"{word.lower()}{org_id % 10_000}"
        domains = [f"{slug}.{rnd.choice(_TLDS)}"]
        if rnd.random() < 0.3:  # noqa: PLR2004
            domains.append(f"{slug}-group.com")
        created = now - rnd.randrange(30, 400) * 86_400
        updated = min(now, created + rnd.randrange(0, 200) * 86_400)
        record: Record = {
            "id": org_id,
            "url": f"{self.url}/api/v2/organizations/{org_id}.json",
            "name": f"{word} {rnd.choice(_SUFFIXES)} {org_id % 10_000}",
            "external_id": f"CRM-{org_id}" if rnd.random() < 0.5 else None,  # noqa: PLR2004
            "domain_names": domains,
            "details": None,
            "notes": "",
            "group_id": None,
            "shared_tickets": False,
            "shared_comments": False,
            "tags": rnd.sample(["enterprise", "smb", "trial", "vip"], rnd.randrange(3)),
            "organization_fields": {"tier": rnd.choice(["gold", "silver", None])},
            "created_at": iso(created),
            "updated_at": iso(updated),
            "deleted_at": None,
        }
        record.update(fields)
        return record

    def user(
        self,
        now: int,
        organization: Record | None,
        *,
        free_mail: bool = False,
        role: str = "end-user",
        **fields: typing.Any,
    ) -> Record:
        """A new user: on one of *organization*'s domains, or on free mail."""
        rnd = self.rnd
        user_id = self.new_id()
        first, last = rnd.choice(_FIRST), rnd.choice(_LAST)
        if free_mail or organization is None:
            host = rnd.choice(FREE_MAIL)
        else:
            host = rnd.choice(organization["domain_names"])
            if rnd.random() < 0.1:  # noqa: PLR2004
                host = f"eu.{host}"
        created = now - rnd.randrange(1, 300) * 86_400
        updated = min(now, created + rnd.randrange(0, 100) * 86_400)
        record: Record = {
            "id": user_id,
            "url": f"{self.url}/api/v2/users/{user_id}.json",
            "name": f"{first.title()} {last.title()}",
            "email": f"{first}.{last}{user_id % 1000}@{host}",
            "phone": None,
            "role": role,
            "active": True,
            "suspended": False,
            "verified": rnd.random() < 0.9,  # noqa: PLR2004
            "organization_id": organization["id"] if organization else None,
            "external_id": None,
            "time_zone": rnd.choice(["UTC", "Berlin", "Pacific Time (US & Canada)"]),
            "locale": "en-US",
            "tags": [],
            "user_fields": {},
            "created_at": iso(created),
            "updated_at": iso(updated),
            "last_login_at": None,
        }
        record.update(fields)
        return record

    def ticket(
        self, now: int, requester: Record, *, created: int | None = None
    ) -> tuple[Record, Record]:
        """A new ticket of *requester* and its metric set."""
        rnd = self.rnd
        ticket_id = self.new_id()
        status = _weighted(rnd, _STATUSES)
        if created is None:
            created = now - rnd.randrange(3600, 90 * 86_400)
        updated = min(now, created + rnd.randrange(60, 20 * 86_400))
        if status == "new":
            updated = created
        generated = min(now, updated + rnd.choice([0, 0, 0, rnd.randrange(1, 600)]))
        subject = rnd.choice(_SUBJECTS)
        channel = rnd.choice(_CHANNELS)
        ticket: Record = {
            "id": ticket_id,
            "url": f"{self.url}/api/v2/tickets/{ticket_id}.json",
            "external_id": None,
            "type": _weighted(rnd, _TYPES),
            "subject": subject,
            "raw_subject": subject,
            "description": f"{subject}. Please help.",
            "priority": _weighted(rnd, _PRIORITIES),
            "status": status,
            "recipient": "support@acme.zendesk.com",
            "requester_id": requester["id"],
            "submitter_id": requester["id"],
            "assignee_id": None,
            "organization_id": requester.get("organization_id"),
            "group_id": None,
            "brand_id": 360000001,
            "ticket_form_id": None,
            "problem_id": None,
            "collaborator_ids": [],
            "follower_ids": [],
            "email_cc_ids": [],
            "sharing_agreement_ids": [],
            "has_incidents": False,
            "is_public": True,
            "tags": rnd.sample(["billing", "bug", "login", "sso", "export"], 2),
            "custom_fields": [{"id": 27642, "value": rnd.choice(["745", None])}],
            "satisfaction_rating": (
                {"score": rnd.choice(["good", "good", "bad"]), "comment": None}
                if status in _SOLVED and rnd.random() < 0.5  # noqa: PLR2004
                else {"score": "unoffered"}
            ),
            "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}},
            "due_at": None,
            "created_at": iso(created),
            "updated_at": iso(updated),
            "generated_timestamp": generated,
        }
        return ticket, self.metric_set(ticket)

    def metric_set(self, ticket: Record) -> Record:
        """The metric set of *ticket* as it stands."""
        rnd = self.rnd
        created = epoch(ticket["created_at"])
        updated = epoch(ticket["updated_at"])
        solved = ticket["status"] in _SOLVED
        reply = None if ticket["status"] == "new" else rnd.randrange(1, 24 * 60)
        resolution = max(1, (updated - created) // 60) if solved else None

        def minutes(value: int | None) -> dict[str, int | None]:
            return {"calendar": value, "business": value and value // 3}

        return {
            "id": ticket["id"] + 7_000_000,
            "ticket_id": ticket["id"],
            "url": f"{self.url}/api/v2/ticket_metrics/{ticket['id'] + 7_000_000}.json",
            "created_at": ticket["created_at"],
            "updated_at": ticket["updated_at"],
            "reopens": rnd.choice([0, 0, 0, 1]) if solved else 0,
            "replies": rnd.randrange(0, 6),
            "solved_at": ticket["updated_at"] if solved else None,
            "reply_time_in_minutes": minutes(reply),
            "first_resolution_time_in_minutes": minutes(resolution),
            "full_resolution_time_in_minutes": minutes(resolution),
        }
