"""Schema and seeded data for :class:`SalesforceEmulator`.

Six objects with the standard fields a revenue-operations sync reads (User,
Account, Contact, Opportunity, Task, Event), plus the awkward field kinds a client
must cope with: compound ``address`` fields (``BillingAddress``), a compound
``location`` (``Account.HQ_Location__c``), a ``base64`` field (``Account.Logo__c``)
and formula fields computed when read (``Account.Employee_Band__c``,
``Opportunity.Weighted_Amount__c`` and the cross-object
``Opportunity.Account_Industry__c``, whose value changes without the opportunity's
stamps moving).

Record values are Python values: aware UTC ``datetime`` for datetimes, ``date`` for
dates, ``bytes`` for base64, ``float``/``int``/``bool``/``str`` or ``None``.
Compound and formula fields are not stored; the emulator computes them when read.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import typing

import attrs


if typing.TYPE_CHECKING:
    from collections.abc import Callable, Mapping


__all__ = [
    "FORMULAS",
    "FieldSpec",
    "Generator",
    "ObjectSpec",
    "default_schema",
    "make_id",
    "stage_facts",
]

Row: typing.TypeAlias = "Mapping[str, typing.Any]"
Lookup: typing.TypeAlias = "Callable[[str | None], Row | None]"

# ---------------------------------------------------------------- ids

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CHECKSUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_POD = "5g"


def _base62(number: int, width: int) -> str:
    digits: list[str] = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_BASE62[rest])
    return "".join(reversed(digits)).rjust(width, "0")


def make_id(prefix: str, number: int) -> str:
    """Return the 18-character Salesforce Id number *number* with *prefix*.

    The 15-character Id is ``prefix`` (3), an instance code (2), a reserved ``0``
    and a base-62 counter (9); the last three characters are Salesforce's
    case-safe checksum (one character per 5-character chunk, one bit per upper-case
    letter).
    """
    body = f"{prefix}{_POD}0{_base62(number, 9)}"
    suffix = []
    for start in (0, 5, 10):
        bits = 0
        for index, char in enumerate(body[start : start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << index
        suffix.append(_CHECKSUM[bits])
    return body + "".join(suffix)


# ---------------------------------------------------------------- schema

_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "currency": "xsd:double",
    "double": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
    "long": "xsd:long",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "time": "xsd:time",
    "base64": "xsd:base64Binary",
    "address": "urn:address",
    "location": "urn:location",
    "anyType": "xsd:anyType",
}
_UNFILTERABLE = frozenset({"base64", "address", "location", "anyType"})
_UNSORTABLE = frozenset({"base64", "address", "location", "anyType", "multipicklist"})
_TEXT_LENGTH = {"string": 255, "textarea": 255, "url": 255, "email": 80, "phone": 40}


@attrs.frozen(kw_only=True)
class FieldSpec:
    """One field of an object, as ``describe`` reports it.

    Attributes:
        name: The API name.
        type: The describe ``type`` (``string``, ``datetime``, ``address``...).
        label: The label.
        length: The maximum length of text fields (0 for others).
        nillable: Whether the field may be null.
        calculated: Whether it is a formula field.
        formula: The formula text (``calculatedFormula``).
        compound: The compound field this one is a part of (``compoundFieldName``).
        reference_to: The objects a reference field points at.
        relationship: The relationship name of a reference field (``Owner``).
        picklist: The picklist values.
        createable: Whether the field may be set on create.
        updateable: Whether the field may be updated.
        custom: Whether it is a custom field.
        precision: Digits of a number field.
        scale: Decimal places of a number field.
        overrides: Further describe attributes, which win over the computed ones.
    """

    name: str
    type: str
    label: str = ""
    length: int | None = None
    nillable: bool = True
    calculated: bool = False
    formula: str | None = None
    compound: str | None = None
    reference_to: tuple[str, ...] = ()
    relationship: str | None = None
    picklist: tuple[str, ...] = ()
    createable: bool = True
    updateable: bool = True
    custom: bool = False
    precision: int = 0
    scale: int = 0
    overrides: Mapping[str, typing.Any] = attrs.field(factory=dict)

    @property
    def filterable(self) -> bool:
        """Whether SOQL may filter on the field."""
        default = self.type not in _UNFILTERABLE
        if self.type == "textarea":  # long text areas cannot be filtered
            default = (self.length or 255) <= 255  # noqa: PLR2004
        return bool(self.overrides.get("filterable", default))

    @property
    def sortable(self) -> bool:
        """Whether SOQL may sort on the field."""
        return bool(self.overrides.get("sortable", self.type not in _UNSORTABLE))

    @property
    def stored(self) -> bool:
        """Whether records hold the value (not a compound or a formula field)."""
        return not self.calculated and self.type not in {"address", "location"}

    def describe(self) -> dict[str, typing.Any]:
        """Return the field's entry of ``fields[]`` in a describe result."""
        length = self.length
        if length is None:
            length = _TEXT_LENGTH.get(
                self.type, 18 if self.type in {"id", "reference"} else 0
            )
        out: dict[str, typing.Any] = {
            "aggregatable": self.type not in _UNSORTABLE | {"textarea"},
            "autoNumber": False,
            "byteLength": length * 3,
            "calculated": self.calculated,
            "calculatedFormula": self.formula,
            "caseSensitive": False,
            "compoundFieldName": self.compound,
            "createable": self.createable and not self.calculated,
            "custom": self.custom,
            "defaultValue": None,
            "defaultedOnCreate": self.name
            in {"Id", "IsDeleted", "CreatedDate", "CreatedById", "LastModifiedDate"}
            | {"LastModifiedById", "SystemModstamp", "OwnerId"},
            "deprecatedAndHidden": False,
            "digits": self.precision if self.type == "int" else 0,
            "externalId": False,
            "filterable": self.filterable,
            "groupable": self.type
            not in _UNSORTABLE | {"double", "currency", "percent"},
            "idLookup": self.type == "id",
            "label": self.label or self.name,
            "length": length,
            "name": self.name,
            "nameField": self.name == "Name",
            "nillable": self.nillable,
            "picklistValues": [
                {
                    "active": True,
                    "defaultValue": False,
                    "label": value,
                    "validFor": None,
                    "value": value,
                }
                for value in self.picklist
            ],
            "polymorphicForeignKey": len(self.reference_to) > 1,
            "precision": self.precision if self.type != "int" else 0,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship,
            "scale": self.scale,
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
            "sortable": self.sortable,
            "type": self.type,
            "unique": False,
            "updateable": self.updateable and not self.calculated,
        }
        out.update(self.overrides)
        return out

    @classmethod
    def from_describe(
        cls, name: str, type_: str, attributes: Mapping[str, typing.Any]
    ) -> FieldSpec:
        """Build a field from describe-style attributes (``label``, ``length``...)."""
        known = {
            "label": "label",
            "length": "length",
            "nillable": "nillable",
            "calculated": "calculated",
            "calculatedFormula": "formula",
            "compoundFieldName": "compound",
            "relationshipName": "relationship",
            "createable": "createable",
            "updateable": "updateable",
            "custom": "custom",
            "precision": "precision",
            "scale": "scale",
        }
        kwargs: dict[str, typing.Any] = {}
        overrides: dict[str, typing.Any] = {}
        for key, value in attributes.items():
            if key in known:
                kwargs[known[key]] = value
            elif key == "referenceTo":
                kwargs["reference_to"] = tuple(value)
            elif key == "picklistValues":
                kwargs["picklist"] = tuple(
                    item["value"] if isinstance(item, dict) else str(item)
                    for item in value
                )
            else:
                overrides[key] = value
        kwargs.setdefault("custom", name.endswith(("__c", "__s")))
        return cls(name=name, type=type_, overrides=overrides, **kwargs)


@attrs.define
class ObjectSpec:
    """An object (sObject) and its fields.

    Attributes:
        name: The API name, such as ``Account``.
        key_prefix: The first three characters of its Ids.
        label: The label.
        label_plural: The plural label.
        fields: Fields by API name, in describe order.
    """

    name: str
    key_prefix: str
    label: str
    label_plural: str
    fields: dict[str, FieldSpec]
    _by_lower: dict[str, FieldSpec] = attrs.field(init=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        self._by_lower = {name.lower(): spec for name, spec in self.fields.items()}

    def get(self, name: str) -> FieldSpec | None:
        """Return the field called *name* (ignoring case), if there is one."""
        return self._by_lower.get(name.lower())

    def add(self, spec: FieldSpec) -> None:
        """Add *spec* (or replace the field of the same name)."""
        self.fields[spec.name] = spec
        self._by_lower[spec.name.lower()] = spec

    def relationship(self, name: str) -> FieldSpec | None:
        """Return the reference field whose relationship is *name* (ignoring case)."""
        lowered = name.lower()
        for spec in self.fields.values():
            if spec.relationship and spec.relationship.lower() == lowered:
                return spec
        return None

    def parts(self, compound: str) -> list[FieldSpec]:
        """Return the parts of compound field *compound*."""
        return [spec for spec in self.fields.values() if spec.compound == compound]

    @property
    def has_is_deleted(self) -> bool:
        """Whether the object can be deleted (User cannot, and has no IsDeleted)."""
        return "IsDeleted" in self.fields

    def describe_summary(self, version: str) -> dict[str, typing.Any]:
        """Return the object's entry in ``GET sobjects/``."""
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {
            "activateable": False,
            "createable": True,
            "custom": self.name.endswith("__c"),
            "customSetting": False,
            "deletable": self.has_is_deleted,
            "deprecatedAndHidden": False,
            "feedEnabled": True,
            "hasSubtypes": False,
            "isSubtype": False,
            "keyPrefix": self.key_prefix,
            "label": self.label,
            "labelPlural": self.label_plural,
            "layoutable": True,
            "mergeable": self.name in {"Account", "Contact"},
            "mruEnabled": True,
            "name": self.name,
            "queryable": True,
            "replicateable": True,
            "retrieveable": True,
            "searchable": True,
            "triggerable": True,
            "undeletable": self.has_is_deleted,
            "updateable": True,
            "urls": {
                "sobject": base,
                "describe": f"{base}/describe",
                "rowTemplate": f"{base}/{{ID}}",
            },
        }


def _f(name: str, type_: str, label: str = "", **kw: typing.Any) -> FieldSpec:
    return FieldSpec(name=name, type=type_, label=label or name, **kw)


def _system(*, deletable: bool = True) -> list[FieldSpec]:
    fields = [
        _f("Id", "id", "Record ID", nillable=False, createable=False, updateable=False)
    ]
    if deletable:
        fields.append(
            _f(
                "IsDeleted",
                "boolean",
                "Deleted",
                nillable=False,
                createable=False,
                updateable=False,
            )
        )
    return fields


def _audit() -> list[FieldSpec]:
    ro = {"createable": False, "updateable": False, "nillable": False}
    return [
        _f("CreatedDate", "datetime", "Created Date", **ro),
        _f(
            "CreatedById",
            "reference",
            "Created By ID",
            reference_to=("User",),
            relationship="CreatedBy",
            **ro,
        ),
        _f("LastModifiedDate", "datetime", "Last Modified Date", **ro),
        _f(
            "LastModifiedById",
            "reference",
            "Last Modified By ID",
            reference_to=("User",),
            relationship="LastModifiedBy",
            **ro,
        ),
        _f("SystemModstamp", "datetime", "System Modstamp", **ro),
    ]


def _owner() -> FieldSpec:
    return _f(
        "OwnerId",
        "reference",
        "Owner ID",
        nillable=False,
        reference_to=("User",),
        relationship="Owner",
    )


_GEOCODE_ACCURACY = (
    "Address",
    "NearAddress",
    "Block",
    "Street",
    "ExtendedZip",
    "Zip",
    "City",
    "County",
    "State",
    "Unknown",
)


def _address(prefix: str, label: str) -> list[FieldSpec]:
    compound = f"{prefix}Address"
    part = {"compound": compound}
    return [
        _f(f"{prefix}Street", "textarea", f"{label} Street", **part),
        _f(f"{prefix}City", "string", f"{label} City", length=40, **part),
        _f(f"{prefix}State", "string", f"{label} State/Province", length=80, **part),
        _f(
            f"{prefix}PostalCode",
            "string",
            f"{label} Zip/Postal Code",
            length=20,
            **part,
        ),
        _f(f"{prefix}Country", "string", f"{label} Country", length=80, **part),
        _f(
            f"{prefix}Latitude",
            "double",
            f"{label} Latitude",
            precision=18,
            scale=15,
            **part,
        ),
        _f(
            f"{prefix}Longitude",
            "double",
            f"{label} Longitude",
            precision=18,
            scale=15,
            **part,
        ),
        _f(
            f"{prefix}GeocodeAccuracy",
            "picklist",
            f"{label} Geocode Accuracy",
            length=40,
            picklist=_GEOCODE_ACCURACY,
            **part,
        ),
        _f(compound, "address", f"{label} Address", createable=False, updateable=False),
    ]


INDUSTRIES = (
    "Agriculture",
    "Apparel",
    "Banking",
    "Biotechnology",
    "Chemicals",
    "Communications",
    "Construction",
    "Consulting",
    "Education",
    "Electronics",
    "Energy",
    "Engineering",
    "Entertainment",
    "Finance",
    "Food & Beverage",
    "Healthcare",
    "Hospitality",
    "Insurance",
    "Machinery",
    "Manufacturing",
    "Media",
    "Retail",
    "Technology",
    "Telecommunications",
    "Transportation",
    "Utilities",
    "Other",
)
ACCOUNT_TYPES = (
    "Prospect",
    "Customer - Direct",
    "Customer - Channel",
    "Channel Partner / Reseller",
    "Installation Partner",
    "Technology Partner",
    "Other",
)
LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
OPPORTUNITY_TYPES = (
    "Existing Customer - Upgrade",
    "Existing Customer - Replacement",
    "Existing Customer - Downgrade",
    "New Customer",
)
# stage -> (probability, forecast category, is closed, is won)
STAGES: dict[str, tuple[float, str, bool, bool]] = {
    "Prospecting": (10.0, "Pipeline", False, False),
    "Qualification": (10.0, "Pipeline", False, False),
    "Needs Analysis": (20.0, "Pipeline", False, False),
    "Value Proposition": (50.0, "Pipeline", False, False),
    "Id. Decision Makers": (60.0, "Pipeline", False, False),
    "Perception Analysis": (70.0, "Pipeline", False, False),
    "Proposal/Price Quote": (75.0, "Pipeline", False, False),
    "Negotiation/Review": (90.0, "Commit", False, False),
    "Closed Won": (100.0, "Closed", True, True),
    "Closed Lost": (0.0, "Omitted", True, False),
}
FORECAST_CATEGORIES = ("Omitted", "Pipeline", "Best Case", "Commit", "Closed")
TASK_STATUSES = (
    "Not Started",
    "In Progress",
    "Completed",
    "Waiting on someone else",
    "Deferred",
)
TASK_PRIORITIES = ("High", "Normal", "Low")
TASK_SUBTYPES = ("Task", "Email", "Call")


def stage_facts(stage: str | None) -> dict[str, typing.Any]:
    """Return the fields Salesforce derives from an opportunity's StageName."""
    if stage not in STAGES:
        return {}
    probability, forecast, closed, won = STAGES[stage]
    return {
        "Probability": probability,
        "ForecastCategoryName": forecast,
        "IsClosed": closed,
        "IsWon": won,
    }


def _account_fields() -> list[FieldSpec]:
    return [
        *_system(),
        _f("Name", "string", "Account Name", nillable=False),
        _f("Type", "picklist", "Account Type", picklist=ACCOUNT_TYPES),
        _f("Industry", "picklist", "Industry", picklist=INDUSTRIES),
        _f("Website", "url", "Website"),
        _f("Phone", "phone", "Account Phone"),
        _f("NumberOfEmployees", "int", "Employees", precision=8),
        _f("AnnualRevenue", "currency", "Annual Revenue", precision=18, scale=0),
        *_address("Billing", "Billing"),
        _owner(),
        *_audit(),
        _f("Logo__c", "base64", "Logo", length=131072, custom=True),
        _f(
            "HQ_Location__Latitude__s",
            "double",
            "HQ Location (Latitude)",
            precision=9,
            scale=6,
            compound="HQ_Location__c",
            custom=True,
        ),
        _f(
            "HQ_Location__Longitude__s",
            "double",
            "HQ Location (Longitude)",
            precision=9,
            scale=6,
            compound="HQ_Location__c",
            custom=True,
        ),
        _f("HQ_Location__c", "location", "HQ Location", custom=True),
        _f(
            "Employee_Band__c",
            "string",
            "Employee Band",
            length=1300,
            calculated=True,
            custom=True,
            formula=(
                "IF(ISBLANK(NumberOfEmployees), NULL, "
                'IF(NumberOfEmployees < 50, "Small", '
                'IF(NumberOfEmployees < 1000, "Mid-Market", "Enterprise")))'
            ),
        ),
    ]


def _contact_fields() -> list[FieldSpec]:
    return [
        *_system(),
        _f(
            "AccountId",
            "reference",
            "Account ID",
            reference_to=("Account",),
            relationship="Account",
        ),
        _f("FirstName", "string", "First Name", length=40, compound="Name"),
        _f(
            "LastName",
            "string",
            "Last Name",
            length=80,
            nillable=False,
            compound="Name",
        ),
        _f(
            "Name",
            "string",
            "Full Name",
            length=121,
            nillable=False,
            createable=False,
            updateable=False,
        ),
        _f("Title", "string", "Title", length=128),
        _f("Email", "email", "Email"),
        _f("Phone", "phone", "Business Phone"),
        _f("LeadSource", "picklist", "Lead Source", picklist=LEAD_SOURCES),
        *_address("Mailing", "Mailing"),
        _owner(),
        *_audit(),
    ]


def _opportunity_fields() -> list[FieldSpec]:
    return [
        *_system(),
        _f(
            "AccountId",
            "reference",
            "Account ID",
            reference_to=("Account",),
            relationship="Account",
        ),
        _f("Name", "string", "Name", length=120, nillable=False),
        _f("StageName", "picklist", "Stage", nillable=False, picklist=tuple(STAGES)),
        _f("Amount", "currency", "Amount", precision=18, scale=2),
        _f("Probability", "percent", "Probability (%)", precision=3, scale=0),
        _f("CloseDate", "date", "Close Date", nillable=False),
        _f("Type", "picklist", "Opportunity Type", picklist=OPPORTUNITY_TYPES),
        _f("LeadSource", "picklist", "Lead Source", picklist=LEAD_SOURCES),
        _f(
            "IsClosed",
            "boolean",
            "Closed",
            nillable=False,
            createable=False,
            updateable=False,
        ),
        _f(
            "IsWon",
            "boolean",
            "Won",
            nillable=False,
            createable=False,
            updateable=False,
        ),
        _f(
            "ForecastCategoryName",
            "picklist",
            "Forecast Category",
            picklist=FORECAST_CATEGORIES,
        ),
        _owner(),
        *_audit(),
        _f(
            "Weighted_Amount__c",
            "currency",
            "Weighted Amount",
            precision=18,
            scale=2,
            calculated=True,
            custom=True,
            formula="Amount * Probability",
        ),
        _f(
            "Account_Industry__c",
            "string",
            "Account Industry",
            length=1300,
            calculated=True,
            custom=True,
            formula="TEXT(Account.Industry)",
        ),
    ]


def _activity_links() -> list[FieldSpec]:
    return [
        _f(
            "WhoId",
            "reference",
            "Name ID",
            reference_to=("Contact", "Lead"),
            relationship="Who",
        ),
        _f(
            "WhatId",
            "reference",
            "Related To ID",
            reference_to=("Account", "Opportunity"),
            relationship="What",
        ),
        _f(
            "AccountId",
            "reference",
            "Account ID",
            reference_to=("Account",),
            relationship="Account",
            createable=False,
            updateable=False,
        ),
    ]


def _task_fields() -> list[FieldSpec]:
    return [
        *_system(),
        *_activity_links(),
        _f("Subject", "combobox", "Subject"),
        _f("ActivityDate", "date", "Due Date Only"),
        _f("Status", "picklist", "Status", nillable=False, picklist=TASK_STATUSES),
        _f(
            "Priority", "picklist", "Priority", nillable=False, picklist=TASK_PRIORITIES
        ),
        _f(
            "TaskSubtype",
            "picklist",
            "Task Subtype",
            picklist=TASK_SUBTYPES,
            updateable=False,
        ),
        _f("CallDurationInSeconds", "int", "Call Duration", precision=8),
        _owner(),
        *_audit(),
    ]


def _event_fields() -> list[FieldSpec]:
    return [
        *_system(),
        *_activity_links(),
        _f("Subject", "combobox", "Subject"),
        _f("Location", "string", "Location"),
        _f("StartDateTime", "datetime", "Start Date Time"),
        _f("EndDateTime", "datetime", "End Date Time"),
        _f("DurationInMinutes", "int", "Duration", precision=8),
        _owner(),
        *_audit(),
    ]


def _user_fields() -> list[FieldSpec]:
    return [
        *_system(deletable=False),
        _f("Username", "string", "Username", length=80, nillable=False),
        _f("FirstName", "string", "First Name", length=40, compound="Name"),
        _f(
            "LastName",
            "string",
            "Last Name",
            length=80,
            nillable=False,
            compound="Name",
        ),
        _f(
            "Name",
            "string",
            "Full Name",
            length=121,
            nillable=False,
            createable=False,
            updateable=False,
        ),
        _f("Alias", "string", "Alias", length=8, nillable=False),
        _f("Email", "email", "Email", nillable=False),
        _f("Title", "string", "Title", length=80),
        _f("Department", "string", "Department", length=80),
        _f("IsActive", "boolean", "Active", nillable=False),
        _f(
            "UserType",
            "picklist",
            "User Type",
            picklist=("Standard",),
            createable=False,
        ),
        _f("TimeZoneSidKey", "picklist", "Time Zone", nillable=False),
        *_audit(),
    ]


_OBJECTS: tuple[tuple[str, str, str, str, Callable[[], list[FieldSpec]]], ...] = (
    ("User", "005", "User", "Users", _user_fields),
    ("Account", "001", "Account", "Accounts", _account_fields),
    ("Contact", "003", "Contact", "Contacts", _contact_fields),
    ("Opportunity", "006", "Opportunity", "Opportunities", _opportunity_fields),
    ("Task", "00T", "Task", "Tasks", _task_fields),
    ("Event", "00U", "Event", "Events", _event_fields),
)


def default_schema() -> dict[str, ObjectSpec]:
    """Return a fresh copy of the six objects' schema (callers may add fields)."""
    return {
        name: ObjectSpec(
            name=name,
            key_prefix=prefix,
            label=label,
            label_plural=plural,
            fields={spec.name: spec for spec in build()},
        )
        for name, prefix, label, plural, build in _OBJECTS
    }


# ---------------------------------------------------------------- formulas


def _employee_band(row: Row, lookup: Lookup) -> str | None:  # noqa: ARG001
    employees = row.get("NumberOfEmployees")
    if employees is None:
        return None
    if employees < 50:  # noqa: PLR2004
        return "Small"
    return "Mid-Market" if employees < 1000 else "Enterprise"  # noqa: PLR2004


def _weighted_amount(row: Row, lookup: Lookup) -> float | None:  # noqa: ARG001
    amount, probability = row.get("Amount"), row.get("Probability")
    if amount is None or probability is None:
        return None
    return round(float(amount) * float(probability) / 100, 2)


def _account_industry(row: Row, lookup: Lookup) -> str | None:
    account = lookup(row.get("AccountId"))
    return None if account is None else account.get("Industry")


FORMULAS: Mapping[tuple[str, str], Callable[[Row, Lookup], typing.Any]] = {
    ("Account", "Employee_Band__c"): _employee_band,
    ("Opportunity", "Weighted_Amount__c"): _weighted_amount,
    ("Opportunity", "Account_Industry__c"): _account_industry,
}
"""How each built-in formula field is computed: ``(record, lookup by Id) -> value``."""


# ---------------------------------------------------------------- generator

_FIRST = (
    "Ava", "Ben", "Chloe", "Daniel", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
    "Kara", "Liam", "Maya", "Noah", "Olga", "Priya", "Quentin", "Rosa", "Sven", "Tara",
    "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoe", "Marta", "Luca", "Amara", "Mateo",
)  # fmt: skip
_LAST = (
    "Anderson", "Becker", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Hansen",
    "Ito", "Jensen", "Kowalski", "Lopez", "Muller", "Nakamura", "O'Brien", "Patel",
    "Quinn", "Rossi", "Schmidt", "Tanaka", "Ueda", "Varga", "Williams", "Xu", "Young",
    "Zimmermann", "Novak", "Silva", "Haddad", "Okafor",
)  # fmt: skip
_TITLES = (
    "CEO", "CFO", "CTO", "VP Sales", "VP Engineering", "Head of Operations",
    "Director of IT", "Procurement Manager", "RevOps Manager", "Data Engineer",
    "Account Executive", "Office Manager", None,
)  # fmt: skip
_DEPARTMENTS = ("Sales", "Marketing", "Customer Success", "Finance", "Operations")
_BRAND_A = (
    "Northwind", "Blue Harbor", "Summit", "Evergreen", "Redwood", "Silverline",
    "Brightpath", "Ironclad", "Crescent", "Granite", "Pioneer", "Horizon", "Lakeside",
    "Keystone", "Maple", "Orion", "Polaris", "Quantum", "Riverbend", "Sterling",
    "Trident", "Vertex", "Willow", "Zenith", "Acme", "Globex", "Initech", "Umbrella",
)  # fmt: skip
_BRAND_B = (
    "Analytics", "Logistics", "Health", "Foods", "Robotics", "Capital", "Systems",
    "Energy", "Media", "Labs", "Retail", "Software", "Bio", "Motors", "Partners",
    "Networks", "Outfitters", "Holdings", "Insurance", "Aerospace",
)  # fmt: skip
# legal suffix -> (country, top-level domain)
_LEGAL = (
    ("Inc.", "United States", "com"),
    ("LLC", "United States", "com"),
    ("Corp.", "United States", "com"),
    ("Ltd", "United Kingdom", "co.uk"),
    ("plc", "United Kingdom", "co.uk"),
    ("GmbH", "Germany", "de"),
    ("AG", "Switzerland", "ch"),
    ("S.A.", "France", "fr"),
    ("B.V.", "Netherlands", "nl"),
    ("Pty Ltd", "Australia", "com.au"),
    ("K.K.", "Japan", "jp"),
)
# country -> [(city, state, postal code, latitude, longitude)]
_CITIES: dict[str, tuple[tuple[str, str | None, str, float, float], ...]] = {
    "United States": (
        ("San Francisco", "CA", "94105", 37.7897, -122.3972),
        ("New York", "NY", "10013", 40.7209, -74.0007),
        ("Austin", "TX", "78701", 30.2711, -97.7437),
        ("Chicago", "IL", "60606", 41.8827, -87.6371),
        ("Seattle", "WA", "98101", 47.6101, -122.3344),
        ("Boston", "MA", "02110", 42.3570, -71.0510),
        ("Denver", "CO", "80202", 39.7525, -104.9995),
    ),
    "United Kingdom": (
        ("London", None, "EC2A 4NE", 51.5246, -0.0840),
        ("Manchester", None, "M1 1AE", 53.4794, -2.2453),
    ),
    "Germany": (
        ("Berlin", None, "10115", 52.5323, 13.3846),
        ("Munich", "Bavaria", "80331", 48.1374, 11.5755),
    ),
    "Switzerland": (("Zurich", None, "8001", 47.3769, 8.5417),),
    "France": (
        ("Paris", None, "75002", 48.8686, 2.3412),
        ("Lyon", None, "69002", 45.7578, 4.8320),
    ),
    "Netherlands": (("Amsterdam", None, "1012 JS", 52.3731, 4.8922),),
    "Australia": (
        ("Sydney", "NSW", "2000", -33.8688, 151.2093),
        ("Melbourne", "VIC", "3000", -37.8136, 144.9631),
    ),
    "Japan": (("Tokyo", None, "100-0005", 35.6812, 139.7671),),
}
_STREETS = (
    "Market St", "Main St", "Broadway", "Oak Ave", "Pine St", "High St", "King St",
    "Harbour Rd", "Station Rd", "Park Ave", "Elm St", "Mill Lane",
)  # fmt: skip
_OPPORTUNITY_KINDS = (
    "New Business", "Renewal", "Expansion", "Upsell", "Pilot", "Platform Deal",
    "Add-on Licenses", "Services",
)  # fmt: skip
_STAGE_NAMES = tuple(STAGES)
_STAGE_CUMULATIVE = tuple(itertools.accumulate((14, 10, 9, 8, 6, 5, 8, 7, 20, 13)))
_PRIORITY_CUMULATIVE = (2, 8, 10)
_SOURCES_OR_NONE = (*LEAD_SOURCES, None)
_TASK_SUBJECTS = {
    "Call": ("Call", "Discovery call", "Follow-up call", "Pricing call"),
    "Email": ("Email: Intro", "Email: Proposal", "Email: Follow-up"),
    "Task": (
        "Send quote",
        "Prepare demo",
        "Update mutual action plan",
        "Send contract",
    ),
}
_EVENT_SUBJECTS = (
    "Meeting", "Demo", "Quarterly Business Review", "Lunch", "Onsite Visit", "Kickoff",
)  # fmt: skip
_EVENT_PLACES = ("Zoom", "Google Meet", "Microsoft Teams", "Customer HQ", "Our office")
_TIME_ZONES = (
    "America/Los_Angeles",
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
)
_SPAN = 90 * 86_400  # stamps spread over the past 90 days
_TIE_RATE = 0.08  # share of records sharing a stamp with an earlier one


@attrs.define
class Generator:
    """Seeded generator of realistic records.

    The same seed, the same ``now`` and the same calls give the same records.

    Attributes:
        rng: The random source.
    """

    rng: random.Random

    @classmethod
    def seeded(cls, seed: int) -> Generator:
        """Return a generator seeded with *seed*."""
        return cls(random.Random(seed))  # noqa: S311 - test data, not crypto

    # -- stamps

    def stamps(
        self, now: dt.datetime, n: int, stamp: dt.datetime | None = None
    ) -> list[tuple[dt.datetime, dt.datetime, dt.datetime]]:
        """Return *n* ``(CreatedDate, LastModifiedDate, SystemModstamp)`` triples.

        Whole seconds, as Salesforce stores them; spread over the 90 days before
        *now*, some records edited later, some touched by the system only, and a few
        sharing the stamp of an earlier record (ties). With *stamp*, every record
        was last modified exactly then.
        """
        rng = self.rng
        anchor = now.astimezone(dt.timezone.utc).replace(microsecond=0)
        out: list[tuple[dt.datetime, dt.datetime, dt.datetime]] = []
        seconds = dt.timedelta(seconds=1)
        for _ in range(n):
            age = rng.randrange(60, _SPAN)
            created = anchor - age * seconds
            if stamp is not None:
                created = min(created, stamp)
                out.append((created, stamp, stamp))
                continue
            if out and rng.random() < _TIE_RATE:
                _, modified, system = out[rng.randrange(len(out))]
                out.append((min(created, modified), modified, system))
                continue
            modified = created
            if rng.random() < 0.5:  # noqa: PLR2004
                modified = created + rng.randrange(age) * seconds
            system = modified
            if rng.random() < 0.1:  # noqa: PLR2004 - automation touched it later
                lag = int((anchor - modified).total_seconds())
                system = modified + rng.randrange(max(1, lag)) * seconds
            out.append((created, modified, system))
        return out

    # -- helpers

    def _person(self) -> tuple[str, str]:
        return self.rng.choice(_FIRST), self.rng.choice(_LAST)

    def _phone(self) -> str:
        rng = self.rng
        return f"({rng.randrange(201, 990)}) 555-{rng.randrange(100, 200):04d}"

    def _street(self) -> str:
        return f"{self.rng.randrange(1, 2500)} {self.rng.choice(_STREETS)}"

    # -- objects

    def user(self, index: int, *, username: str | None = None) -> dict[str, typing.Any]:
        """Return the fields of a User (the integration user when *username*)."""
        rng = self.rng
        if username is not None:
            first, last = "Integration", "User"
            title, department = "Integration User", "IT"
        else:
            first, last = self._person()
            title = rng.choice(("Account Executive", "Sales Manager", "SDR", "CSM"))
            department = rng.choice(_DEPARTMENTS)
            username = f"{first}.{last}{index}@example.com".lower().replace("'", "")
        return {
            "Username": username,
            "FirstName": first,
            "LastName": last,
            "Name": f"{first} {last}",
            "Alias": (first[:1] + last[:4]).lower(),
            "Email": username,
            "Title": title,
            "Department": department,
            "IsActive": rng.random() > 0.1,  # noqa: PLR2004
            "UserType": "Standard",
            "TimeZoneSidKey": rng.choice(_TIME_ZONES),
        }

    def account(self, owner_id: str | None) -> dict[str, typing.Any]:
        """Return the fields of an Account."""
        rng = self.rng
        brand = f"{rng.choice(_BRAND_A)} {rng.choice(_BRAND_B)}"
        legal, country, tld = rng.choice(_LEGAL)
        city, state, postal, lat, lon = rng.choice(_CITIES[country])
        employees = None if rng.random() < 0.1 else int(rng.lognormvariate(5, 1.8)) + 1  # noqa: PLR2004
        revenue = None
        if employees is not None and rng.random() < 0.85:  # noqa: PLR2004
            revenue = float(round(employees * rng.uniform(60_000, 350_000), -3))
        has_address = rng.random() > 0.08  # noqa: PLR2004
        geocoded = has_address and rng.random() < 0.5  # noqa: PLR2004
        has_hq = rng.random() < 0.8  # noqa: PLR2004
        slug = brand.lower().replace(" ", "")
        return {
            "Name": f"{brand} {legal}",
            "Type": rng.choice(ACCOUNT_TYPES),
            "Industry": None if rng.random() < 0.07 else rng.choice(INDUSTRIES),  # noqa: PLR2004
            "Website": f"www.{slug}.{tld}",
            "Phone": self._phone(),
            "NumberOfEmployees": employees,
            "AnnualRevenue": revenue,
            "BillingStreet": self._street() if has_address else None,
            "BillingCity": city if has_address else None,
            "BillingState": state if has_address else None,
            "BillingPostalCode": postal if has_address else None,
            "BillingCountry": country if has_address else None,
            "BillingLatitude": lat if geocoded else None,
            "BillingLongitude": lon if geocoded else None,
            "BillingGeocodeAccuracy": "Address" if geocoded else None,
            "OwnerId": owner_id,
            "Logo__c": (b"\x89PNG\r\n\x1a\n" + rng.randbytes(24))
            if rng.random() < 0.25  # noqa: PLR2004
            else None,
            "HQ_Location__Latitude__s": round(lat + rng.uniform(-0.05, 0.05), 6)
            if has_hq
            else None,
            "HQ_Location__Longitude__s": round(lon + rng.uniform(-0.05, 0.05), 6)
            if has_hq
            else None,
        }

    def contact(
        self, account: Row | None, owner_id: str | None
    ) -> dict[str, typing.Any]:
        """Return the fields of a Contact at *account*."""
        rng = self.rng
        first, last = self._person()
        website = (account or {}).get("Website") or "www.example.com"
        domain = website.removeprefix("www.")
        same_address = account is not None and rng.random() < 0.7  # noqa: PLR2004
        source = account if same_address and account is not None else {}
        return {
            "AccountId": None if account is None else account["Id"],
            "FirstName": first,
            "LastName": last,
            "Name": f"{first} {last}",
            "Title": rng.choice(_TITLES),
            "Email": f"{first}.{last}@{domain}".lower().replace("'", ""),
            "Phone": self._phone() if rng.random() < 0.8 else None,  # noqa: PLR2004
            "LeadSource": rng.choice(_SOURCES_OR_NONE),
            "MailingStreet": source.get("BillingStreet"),
            "MailingCity": source.get("BillingCity"),
            "MailingState": source.get("BillingState"),
            "MailingPostalCode": source.get("BillingPostalCode"),
            "MailingCountry": source.get("BillingCountry"),
            "MailingLatitude": None,
            "MailingLongitude": None,
            "MailingGeocodeAccuracy": None,
            "OwnerId": owner_id,
        }

    def opportunity(
        self,
        account: Row | None,
        owner_id: str | None,
        created: dt.datetime,
    ) -> dict[str, typing.Any]:
        """Return the fields of an Opportunity at *account*, created at *created*."""
        rng = self.rng
        stage = rng.choices(_STAGE_NAMES, cum_weights=_STAGE_CUMULATIVE)[0]
        probability, forecast, closed, won = STAGES[stage]
        brand = "Unassigned"
        if account is not None:
            brand = account["Name"].rsplit(" ", 1)[0]
        amount = None
        if rng.random() > 0.05:  # noqa: PLR2004
            amount = round(rng.lognormvariate(10.2, 0.9), 2)
        return {
            "AccountId": None if account is None else account["Id"],
            "Name": f"{brand} - {rng.choice(_OPPORTUNITY_KINDS)}",
            "StageName": stage,
            "Amount": amount,
            "Probability": probability,
            "CloseDate": created.date() + dt.timedelta(days=rng.randrange(7, 150)),
            "Type": rng.choice(OPPORTUNITY_TYPES),
            "LeadSource": rng.choice(_SOURCES_OR_NONE),
            "IsClosed": closed,
            "IsWon": won,
            "ForecastCategoryName": forecast,
            "OwnerId": owner_id,
        }

    def task(
        self,
        account_id: str | None,
        who_id: str | None,
        what_id: str | None,
        owner_id: str | None,
        created: dt.datetime,
    ) -> dict[str, typing.Any]:
        """Return the fields of a Task."""
        rng = self.rng
        subtype = rng.choice(TASK_SUBTYPES)
        return {
            "WhoId": who_id,
            "WhatId": what_id,
            "AccountId": account_id,
            "Subject": rng.choice(_TASK_SUBJECTS[subtype]),
            "ActivityDate": created.date() + dt.timedelta(days=rng.randrange(0, 14)),
            "Status": rng.choice(TASK_STATUSES),
            "Priority": rng.choices(TASK_PRIORITIES, cum_weights=_PRIORITY_CUMULATIVE)[
                0
            ],
            "TaskSubtype": subtype,
            "CallDurationInSeconds": rng.randrange(30, 3600)
            if subtype == "Call"
            else None,
            "OwnerId": owner_id,
        }

    def event(
        self,
        account_id: str | None,
        who_id: str | None,
        what_id: str | None,
        owner_id: str | None,
        created: dt.datetime,
    ) -> dict[str, typing.Any]:
        """Return the fields of an Event."""
        rng = self.rng
        start = created.replace(minute=0, second=0) + dt.timedelta(
            days=rng.randrange(1, 21), minutes=30 * rng.randrange(0, 16)
        )
        duration = rng.choice((30, 45, 60, 90))
        return {
            "WhoId": who_id,
            "WhatId": what_id,
            "AccountId": account_id,
            "Subject": rng.choice(_EVENT_SUBJECTS),
            "Location": rng.choice(_EVENT_PLACES),
            "StartDateTime": start,
            "EndDateTime": start + dt.timedelta(minutes=duration),
            "DurationInMinutes": duration,
            "OwnerId": owner_id,
        }
