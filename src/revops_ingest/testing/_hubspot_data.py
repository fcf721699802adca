"""Property schemas and seeded data for the HubSpot emulator.

HubSpot keeps every property value as a string (or null) on the wire; so does the
emulator's store. A record here is a :class:`Record`: its id, its property strings,
and the four fields around them (``createdAt``, ``updatedAt``, ``archived``,
``archivedAt``) as aware datetimes.

Property definitions follow the properties API
(``GET /crm/v3/properties/{objectType}``): ``name``, ``label``, ``type``
(``string``, ``number``, ``date``, ``datetime``, ``enumeration``, ``bool``,
``phone_number``) and ``fieldType``. Some datetime properties are written as epoch
milliseconds (``notes_last_updated``), the others as ISO 8601 strings; both forms
occur in real portals.
"""

from __future__ import annotations

import datetime as dt
import random
import typing

import attrs


__all__ = [
    "ASSOCIATION_TYPES",
    "DEFAULT_PIPELINES",
    "ENGAGEMENT_TYPES",
    "MODIFIED_PROPERTY",
    "Generator",
    "PropertyDef",
    "Record",
    "default_properties",
    "format_datetime",
    "format_epoch_ms",
]

_UTC = dt.timezone.utc
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)

ENGAGEMENT_TYPES = ("calls", "emails", "meetings", "notes", "tasks")
"""The v3 engagement (activity) object types."""

MODIFIED_PROPERTY = {
    "contacts": "lastmodifieddate",
    **dict.fromkeys(
        ("companies", "deals", "tickets", *ENGAGEMENT_TYPES), "hs_lastmodifieddate"
    ),
}
"""The last-modified property of each object type."""

CREATED_PROPERTY = {
    "contacts": "createdate",
    "companies": "createdate",
    "deals": "createdate",
    **dict.fromkeys(ENGAGEMENT_TYPES, "hs_createdate"),
}


def format_datetime(value: dt.datetime) -> str:
    """``2024-05-01T10:00:00.123Z``: HubSpot's ISO form, milliseconds, UTC."""
    value = value.astimezone(_UTC)
    return value.isoformat(timespec="milliseconds")[:23] + "Z"


def format_epoch_ms(value: dt.datetime) -> str:
    """Epoch milliseconds as a string, the other form datetime values come in."""
    return str((value.astimezone(_UTC) - _EPOCH) // dt.timedelta(milliseconds=1))


# ---------------------------------------------------------------- schema


@attrs.frozen
class PropertyDef:
    """One property, as the properties API describes it.

    Attributes:
        name: The internal name (``dealname``).
        type: ``string``, ``number``, ``date``, ``datetime``, ``enumeration``,
            ``bool`` or ``phone_number``.
        field_type: The UI field type (``text``, ``number``, ``select``, ...).
        label: The display label.
        epoch_ms: Whether datetime values are written as epoch milliseconds.
        options: Enumeration options.
    """

    name: str
    type: str
    field_type: str = "text"
    label: str = ""
    epoch_ms: bool = False
    options: tuple[str, ...] = ()

    def describe(self, object_type: str) -> dict[str, typing.Any]:
        """The properties API's JSON for this property."""
        return {
            "name": self.name,
            "label": self.label or self.name.replace("_", " ").title(),
            "type": self.type,
            "fieldType": self.field_type,
            "description": "",
            "groupName": f"{object_type[:-1]}information",
            "options": [
                {"label": o.title(), "value": o, "displayOrder": i, "hidden": False}
                for i, o in enumerate(self.options)
            ],
            "displayOrder": -1,
            "calculated": False,
            "externalOptions": False,
            "hasUniqueValue": self.name == "hs_object_id",
            "hidden": False,
            "hubspotDefined": True,
            "modificationMetadata": {
                "archivable": True,
                "readOnlyDefinition": True,
                "readOnlyValue": self.name in MODIFIED_PROPERTY.values(),
            },
            "formField": False,
            "createdAt": "2020-01-01T00:00:00.000Z",
            "updatedAt": "2020-01-01T00:00:00.000Z",
            "archived": False,
        }


def _p(
    name: str, type_: str, field_type: str = "text", **kw: typing.Any
) -> PropertyDef:
    return PropertyDef(name, type_, field_type, **kw)


_STAGES = (
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
)


def _common(object_type: str) -> list[PropertyDef]:
    return [
        _p(CREATED_PROPERTY[object_type], "datetime", "date"),
        _p(MODIFIED_PROPERTY[object_type], "datetime", "date"),
        _p("hs_object_id", "number", "number"),
        _p("hubspot_owner_id", "enumeration", "select"),
    ]


def default_properties() -> dict[str, list[PropertyDef]]:
    """Object type -> its property definitions, in the properties API's order."""
    return {
        "deals": [
            _p("dealname", "string"),
            _p("amount", "number", "number"),
            _p("dealstage", "enumeration", "radio", options=_STAGES),
            _p("pipeline", "enumeration", "select", options=("default", "renewals")),
            _p("closedate", "datetime", "date"),
            _p("dealtype", "enumeration", "radio", options=("newbusiness", "existing")),
            _p("hs_is_closed", "bool", "booleancheckbox"),
            _p("hs_deal_stage_probability", "number", "number"),
            _p("notes_last_updated", "datetime", "date", epoch_ms=True),
            _p("contract_start_date", "date", "date"),
            _p("hs_acv", "number", "number"),
            _p("description", "string", "textarea"),
            *_common("deals"),
        ],
        "companies": [
            _p("name", "string"),
            _p("domain", "string"),
            _p("industry", "enumeration", "select"),
            _p("numberofemployees", "number", "number"),
            _p("annualrevenue", "number", "number"),
            _p("city", "string"),
            _p("country", "string"),
            _p("phone", "phone_number", "phonenumber"),
            _p("is_public", "bool", "booleancheckbox"),
            _p("salesforceaccountid", "string"),
            _p("notes_last_updated", "datetime", "date", epoch_ms=True),
            *_common("companies"),
        ],
        "contacts": [
            _p("firstname", "string"),
            _p("lastname", "string"),
            _p("email", "string"),
            _p("phone", "phone_number", "phonenumber"),
            _p("jobtitle", "string"),
            _p("lifecyclestage", "enumeration", "radio"),
            _p("associatedcompanyid", "number", "number"),
            _p("date_of_birth", "date", "date"),
            _p("hs_email_optout", "bool", "booleancheckbox"),
            *_common("contacts"),
        ],
        "calls": [
            _p("hs_timestamp", "datetime", "date"),
            _p("hs_call_title", "string"),
            _p("hs_call_body", "string", "html"),
            _p("hs_call_duration", "number", "number"),
            _p("hs_call_direction", "enumeration", "select"),
            _p("hs_call_status", "enumeration", "select"),
            *_common("calls"),
        ],
        "emails": [
            _p("hs_timestamp", "datetime", "date"),
            _p("hs_email_subject", "string"),
            _p("hs_email_text", "string", "textarea"),
            _p("hs_email_direction", "enumeration", "select"),
            _p("hs_email_status", "enumeration", "select"),
            *_common("emails"),
        ],
        "meetings": [
            _p("hs_timestamp", "datetime", "date"),
            _p("hs_meeting_title", "string"),
            _p("hs_meeting_body", "string", "html"),
            _p("hs_meeting_start_time", "datetime", "date"),
            _p("hs_meeting_end_time", "datetime", "date"),
            _p("hs_meeting_outcome", "enumeration", "select"),
            *_common("meetings"),
        ],
        "notes": [
            _p("hs_timestamp", "datetime", "date"),
            _p("hs_note_body", "string", "html"),
            *_common("notes"),
        ],
        "tasks": [
            _p("hs_timestamp", "datetime", "date"),
            _p("hs_task_subject", "string"),
            _p("hs_task_body", "string", "html"),
            _p("hs_task_status", "enumeration", "select"),
            _p("hs_task_priority", "enumeration", "select"),
            *_common("tasks"),
        ],
    }


DEFAULT_PIPELINES: tuple[dict[str, typing.Any], ...] = (
    {
        "id": "default",
        "label": "Sales Pipeline",
        "stages": (
            ("appointmentscheduled", "Appointment Scheduled", "0.2", "false"),
            ("qualifiedtobuy", "Qualified To Buy", "0.4", "false"),
            ("presentationscheduled", "Presentation Scheduled", "0.6", "false"),
            ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8", "false"),
            ("contractsent", "Contract Sent", "0.9", "false"),
            ("closedwon", "Closed Won", "1.0", "true"),
            ("closedlost", "Closed Lost", "0.0", "true"),
        ),
    },
    {
        "id": "renewals",
        "label": "Renewals",
        "stages": (
            ("1001", "Renewal Due", "0.5", "false"),
            ("1002", "Renewed", "1.0", "true"),
            ("1003", "Churned", "0.0", "true"),
        ),
    },
)
"""Deal pipelines: ``(stage id, label, probability, isClosed)``, strings as served."""

ASSOCIATION_TYPES: dict[tuple[str, str], tuple[int, int | None]] = {
    ("deals", "companies"): (341, 5),
    ("companies", "deals"): (342, 6),
    ("contacts", "companies"): (279, 1),
    ("companies", "contacts"): (280, 2),
    ("deals", "contacts"): (3, None),
    ("contacts", "deals"): (4, None),
    ("calls", "contacts"): (194, None),
    ("contacts", "calls"): (193, None),
    ("calls", "companies"): (182, None),
    ("companies", "calls"): (181, None),
    ("calls", "deals"): (206, None),
    ("deals", "calls"): (205, None),
    ("emails", "contacts"): (198, None),
    ("contacts", "emails"): (197, None),
    ("emails", "companies"): (186, None),
    ("companies", "emails"): (185, None),
    ("emails", "deals"): (210, None),
    ("deals", "emails"): (209, None),
    ("meetings", "contacts"): (200, None),
    ("contacts", "meetings"): (199, None),
    ("meetings", "companies"): (188, None),
    ("companies", "meetings"): (187, None),
    ("meetings", "deals"): (212, None),
    ("deals", "meetings"): (211, None),
    ("notes", "contacts"): (202, None),
    ("contacts", "notes"): (201, None),
    ("notes", "companies"): (190, None),
    ("companies", "notes"): (189, None),
    ("notes", "deals"): (214, None),
    ("deals", "notes"): (213, None),
    ("tasks", "contacts"): (204, None),
    ("contacts", "tasks"): (203, None),
    ("tasks", "companies"): (192, None),
    ("companies", "tasks"): (191, None),
    ("tasks", "deals"): (216, None),
    ("deals", "tasks"): (215, None),
}
"""``(from, to)`` -> (unlabeled type id, primary type id or ``None``).

All are ``HUBSPOT_DEFINED``; the primary type is labelled ``Primary``.
"""


# ---------------------------------------------------------------- records


@attrs.define
class Record:
    """One stored CRM record.

    Attributes:
        id: The record id (a decimal string).
        properties: Property name -> string value or ``None``.
        created: ``createdAt``.
        updated: ``updatedAt`` (equal to the last-modified property).
        archived: Whether the record is archived (deleted, restorable).
        archived_at: When it was archived.
    """

    id: str
    properties: dict[str, str | None]
    created: dt.datetime
    updated: dt.datetime
    archived: bool = False
    archived_at: dt.datetime | None = None


_FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Linus")
_LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton")
_WORDS = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell")
_SUFFIX = ("Corp", "Labs", "GmbH", "SA", "Inc", "Ltd")
_DEAL_KINDS = ("Expansion", "Renewal", "Pilot")
_INDUSTRIES = ("COMPUTER_SOFTWARE", "BANKING", "RETAIL", "HOSPITAL_HEALTH_CARE")
_CITIES = (("Paris", "France"), ("Berlin", "Germany"), ("Austin", "United States"))


@attrs.define
class Generator:
    """Seeded, realistic property values for each object type.

    Attributes:
        rng: The random source; the same seed gives the same data.
    """

    rng: random.Random

    @classmethod
    def seeded(cls, seed: int) -> Generator:
        """A generator whose output depends only on *seed*."""
        return cls(random.Random(seed))  # noqa: S311 - test data, not crypto

    def stamps(
        self, now: dt.datetime, n: int, stamp: dt.datetime | None = None
    ) -> list[tuple[dt.datetime, dt.datetime]]:
        """*n* ``(created, modified)`` pairs before *now*, some modified together.

        Every fourth record shares its modified time with the one before (as a
        bulk import or workflow does), so ties are common. With *stamp*, every
        record was modified then.
        """
        pairs: list[tuple[dt.datetime, dt.datetime]] = []
        previous: dt.datetime | None = None
        for index in range(n):
            created = now - dt.timedelta(
                days=self.rng.randint(30, 700), milliseconds=self.rng.randint(0, 10**7)
            )
            if stamp is not None:
                modified = stamp
            elif previous is not None and index % 4 == 3:  # noqa: PLR2004
                modified = previous
            else:
                modified = now - dt.timedelta(
                    days=self.rng.randint(1, 29),
                    milliseconds=self.rng.randint(0, 86_400_000),
                )
            modified = max(modified, created)
            previous = modified
            pairs.append((min(created, modified), modified))
        return pairs

    def _date_time(self, base: dt.datetime, days: int) -> dt.datetime:
        return base + dt.timedelta(days=self.rng.randint(-days, days))

    def company(self, owner: str | None) -> dict[str, str | None]:
        """Company properties; a third carry a ``salesforceaccountid``."""
        rng = self.rng
        word = rng.choice(_WORDS)
        name = f"{word} {rng.choice(_SUFFIX)}"
        city, country = rng.choice(_CITIES)
        sf_id = f"001{rng.randrange(36**12):012x}"[:18].ljust(18, "A")
        return {
            "name": name,
            "domain": f"{word.lower()}{rng.randint(1, 999)}.example.com",
            "industry": rng.choice(_INDUSTRIES),
            "numberofemployees": str(rng.choice((12, 55, 230, 1200, 15000))),
            "annualrevenue": rng.choice((None, "1250000", "99000000.5")),
            "city": city,
            "country": country,
            "phone": f"+1 555 {rng.randint(1000, 9999)}",
            "is_public": rng.choice(("true", "false")),
            "salesforceaccountid": sf_id if rng.random() < 1 / 3 else None,
            "notes_last_updated": None,
            "hubspot_owner_id": owner,
        }

    def contact(
        self, company_id: str | None, owner: str | None
    ) -> dict[str, str | None]:
        """Contact properties."""
        rng = self.rng
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        birth = dt.date(1960, 1, 1) + dt.timedelta(days=rng.randint(0, 14000))
        return {
            "firstname": first,
            "lastname": last,
            "email": f"{first}.{last}{rng.randint(1, 9999)}@example.com".lower(),
            "phone": f"+33 1 {rng.randint(10, 99)} {rng.randint(10, 99)}",
            "jobtitle": rng.choice(("CTO", "VP Sales", "Buyer", None)),
            "lifecyclestage": rng.choice(("lead", "opportunity", "customer")),
            "associatedcompanyid": company_id,
            "date_of_birth": birth.isoformat() if rng.random() < 0.5 else None,  # noqa: PLR2004
            "hs_email_optout": rng.choice(("true", "false", None)),
            "hubspot_owner_id": owner,
        }

    def deal(
        self, company_name: str | None, owner: str | None, created: dt.datetime
    ) -> dict[str, str | None]:
        """Deal properties, stage facts consistent with the default pipeline."""
        rng = self.rng
        stage = rng.choice(_STAGES)
        probability = {
            s[0]: s[2]
            for s in typing.cast(
                "tuple[tuple[str, ...], ...]", DEFAULT_PIPELINES[0]["stages"]
            )
        }[stage]
        close = self._date_time(created + dt.timedelta(days=60), 45)
        start = close.date() + dt.timedelta(days=1)
        return {
            "dealname": f"{company_name or 'New'} - {rng.choice(_DEAL_KINDS)}",
            "amount": rng.choice(("1000", "25000.5", "120000", None)),
            "dealstage": stage,
            "pipeline": "default",
            "closedate": format_datetime(close),
            "dealtype": rng.choice(("newbusiness", "existing")),
            "hs_is_closed": "true" if stage in {"closedwon", "closedlost"} else "false",
            "hs_deal_stage_probability": probability,
            "notes_last_updated": format_epoch_ms(close - dt.timedelta(days=3)),
            "contract_start_date": start.isoformat() if rng.random() < 0.3 else None,  # noqa: PLR2004
            "hs_acv": None,
            "description": None,
            "hubspot_owner_id": owner,
        }

    def engagement(
        self, kind: str, owner: str | None, when: dt.datetime
    ) -> dict[str, str | None]:
        """Properties of an engagement of type *kind* (``calls``, ...)."""
        rng = self.rng
        stamp = format_datetime(when)
        topic = rng.choice(("pricing", "onboarding", "renewal", "security review"))
        values: dict[str, str | None] = {
            "hs_timestamp": stamp,
            "hubspot_owner_id": owner,
        }
        if kind == "calls":
            values.update(
                hs_call_title=f"Call about {topic}",
                hs_call_body=f"<p>Discussed {topic}.</p>",
                hs_call_duration=str(rng.randint(30, 3600) * 1000),
                hs_call_direction=rng.choice(("INBOUND", "OUTBOUND")),
                hs_call_status="COMPLETED",
            )
        elif kind == "emails":
            values.update(
                hs_email_subject=f"Re: {topic}",
                hs_email_text=f"Following up on {topic}.",
                hs_email_direction=rng.choice(("EMAIL", "INCOMING_EMAIL")),
                hs_email_status="SENT",
            )
        elif kind == "meetings":
            end = when + dt.timedelta(minutes=rng.choice((30, 60)))
            values.update(
                hs_meeting_title=f"Meeting: {topic}",
                hs_meeting_body=None,
                hs_meeting_start_time=stamp,
                hs_meeting_end_time=format_datetime(end),
                hs_meeting_outcome=rng.choice(("SCHEDULED", "COMPLETED", None)),
            )
        elif kind == "notes":
            values.update(hs_note_body=f"<p>Note on {topic}</p>")
        else:
            values.update(
                hs_task_subject=f"Follow up: {topic}",
                hs_task_body=None,
                hs_task_status=rng.choice(("NOT_STARTED", "COMPLETED")),
                hs_task_priority=rng.choice(("LOW", "MEDIUM", "HIGH")),
            )
        return values

    def owner(self, index: int, created: dt.datetime) -> dict[str, typing.Any]:
        """An owner as ``/crm/v3/owners`` serves it (ids are assigned by the caller)."""
        first, last = _FIRST[index % len(_FIRST)], _LAST[index % len(_LAST)]
        stamp = format_datetime(created)
        return {
            "email": f"{first}.{last}@example.com".lower(),
            "type": "PERSON",
            "firstName": first,
            "lastName": last,
            "userId": 9_586_500 + index,
            "userIdIncludingInactive": 9_586_500 + index,
            "createdAt": stamp,
            "updatedAt": stamp,
            "archived": False,
            "teams": [{"id": "3011", "name": "Sales", "primary": True}]
            if index % 2 == 0
            else [],
        }
