"""The SOQL subset of the Salesforce emulator: parsing, typing, filtering, sorting."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from revops_ingest.testing._salesforce_soql import (
    And,
    Comparison,
    InList,
    Like,
    Literal,
    Not,
    Or,
    OrderItem,
    ResolvedField,
    SoqlError,
    compile_where,
    parse_datetime,
    parse_soql,
    sort_rows,
)


UTC = dt.timezone.utc

TYPES = {
    "Id": "id",
    "Name": "string",
    "Amount": "currency",
    "IsWon": "boolean",
    "CloseDate": "date",
    "SystemModstamp": "datetime",
    "Logo__c": "base64",
}


def _resolve(name):
    for field, kind in TYPES.items():
        if field.lower() == name.lower():
            return ResolvedField(
                name=field,
                type=kind,
                getter=lambda row, field=field: row.get(field),
                filterable=kind != "base64",
                sortable=kind != "base64",
            )
    raise SoqlError("INVALID_FIELD", f"No such column '{name}'")


ROWS = [
    {
        "Id": "0065g0000000001AAA",
        "Name": "Acme Renewal",
        "Amount": 100.0,
        "IsWon": True,
        "CloseDate": dt.date(2024, 5, 1),
        "SystemModstamp": dt.datetime(2024, 5, 1, 12, tzinfo=UTC),
    },
    {
        "Id": "0065g0000000002AAA",
        "Name": "globex upsell",
        "Amount": None,
        "IsWon": False,
        "CloseDate": dt.date(2024, 6, 1),
        "SystemModstamp": dt.datetime(2024, 5, 2, 12, tzinfo=UTC),
    },
    {
        "Id": "0065g0000000003AAA",
        "Name": None,
        "Amount": 50.5,
        "IsWon": False,
        "CloseDate": dt.date(2024, 7, 1),
        "SystemModstamp": dt.datetime(2024, 5, 3, 12, tzinfo=UTC),
    },
]


def _names(where):
    """Return the Ids (last digit) of ROWS matching the WHERE clause *where*."""
    query = parse_soql(f"SELECT Id FROM Opportunity WHERE {where}")
    predicate = compile_where(query.where, _resolve)
    return [row["Id"][14] for row in ROWS if predicate(row)]


def _check(text):
    query = parse_soql(text)
    compile_where(query.where, _resolve)
    sort_rows(ROWS, query.order_by, _resolve)


def _error(text):
    with pytest.raises(SoqlError) as info:
        _check(text)
    return info.value.error_code


class TestParse:
    def test_full_query(self):
        """Every clause of the subset lands in the Query."""
        query = parse_soql(
            "SELECT Id, Name, Owner.Name FROM Opportunity WHERE Amount > 10 "
            "ORDER BY SystemModstamp ASC, Id DESC NULLS FIRST LIMIT 5 OFFSET 2"
        )

        assert ("Id", "Name", "Owner.Name") == query.fields
        assert "Opportunity" == query.sobject
        assert Comparison("Amount", ">", Literal("number", 10)) == query.where
        assert (
            OrderItem("SystemModstamp"),
            OrderItem("Id", descending=True, nulls_first=True),
        ) == query.order_by
        assert (5, 2) == (query.limit, query.offset)
        assert not query.count

    def test_keywords_ignore_case(self):
        """Keywords are case-insensitive; names keep the case they were written in."""
        query = parse_soql("select id from account where name = 'x' order by NAME desc")

        assert ("id",) == query.fields
        assert "account" == query.sobject
        assert (OrderItem("NAME", descending=True),) == query.order_by

    def test_count(self):
        """SELECT COUNT() is a count query without fields."""
        query = parse_soql("SELECT COUNT() FROM Account WHERE IsDeleted = false")

        assert query.count
        assert () == query.fields

    def test_boolean_structure(self):
        """NOT, parentheses, OR, IN and NOT IN build the expected tree."""
        query = parse_soql(
            "SELECT Id FROM A WHERE NOT Name = 'x' AND (Amount < 1 OR Amount >= 2) "
            "AND Name NOT IN ('a', 'b') AND Name LIKE 'Ac%'"
        )

        assert (
            And(
                (
                    Not(Comparison("Name", "=", Literal("string", "x"))),
                    Or(
                        (
                            Comparison("Amount", "<", Literal("number", 1)),
                            Comparison("Amount", ">=", Literal("number", 2)),
                        )
                    ),
                    InList(
                        "Name",
                        (Literal("string", "a"), Literal("string", "b")),
                        negated=True,
                    ),
                    Like("Name", "Ac%"),
                )
            )
            == query.where
        )

    @pytest.mark.parametrize(
        ("literal", "expected"),
        [
            ("2024-05-01T00:00:00Z", dt.datetime(2024, 5, 1, tzinfo=UTC)),
            (
                "2024-05-01T00:00:00.250Z",
                dt.datetime(2024, 5, 1, 0, 0, 0, 250_000, UTC),
            ),
            ("2024-05-01T02:00:00+02:00", dt.datetime(2024, 5, 1, tzinfo=UTC)),
            (
                "2024-04-30T19:00:00.5-05:00",
                dt.datetime(2024, 5, 1, 0, 0, 0, 500_000, UTC),
            ),
        ],
    )
    def test_datetime_literal_forms(self, literal, expected):
        """Unquoted datetimes with Z, fractions and offsets become UTC datetimes."""
        query = parse_soql(f"SELECT Id FROM A WHERE SystemModstamp >= {literal}")

        assert Literal("datetime", expected) == query.where.value

    def test_date_number_boolean_null_literals(self):
        """Dates, signed and decimal numbers, booleans and null are typed literals."""
        query = parse_soql(
            "SELECT Id FROM A WHERE CloseDate = 2024-05-01 AND Amount > -1.5 "
            "AND IsWon = TRUE AND Name != null"
        )

        assert [
            Literal("date", dt.date(2024, 5, 1)),
            Literal("number", -1.5),
            Literal("boolean", True),
            Literal("null", None),
        ] == [item.value for item in query.where.items]

    def test_string_escapes(self):
        r"""Quoted strings understand \', \\ and \n."""
        query = parse_soql(r"SELECT Id FROM A WHERE Name = 'O\'Brien \\ x\n'")

        assert "O'Brien \\ x\n" == query.where.value.value

    def test_not_equal_spellings(self):
        """<> is the same operator as !=."""
        query = parse_soql("SELECT Id FROM A WHERE Name <> 'x'")

        assert "!=" == query.where.op

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "SELECT FROM Account",
            "SELECT Id Account",
            "SELECT Id FROM Account WHERE",
            "SELECT Id FROM Account LIMIT x",
            "SELECT Id FROM Account trailing",
            "SELECT Id FROM Account WHERE A = 1 AND B = 2 OR C = 3",
            "SELECT Industry, COUNT(Id) FROM Account GROUP BY Industry",
            "SELECT COUNT(Id) FROM Account",
            "SELECT Id, (SELECT Id FROM Contacts) FROM Account",
            "SELECT FIELDS(ALL) FROM Account LIMIT 200",
            "SELECT Id FROM Account WHERE CreatedDate = TODAY",
            "SELECT Id FROM Account WHERE CreatedDate = LAST_N_DAYS:7",
            "SELECT Id FROM Account WHERE Name = :name",
            "SELECT Id FROM Account WHERE CreatedDate > 2024-05-01T00:00:00+0000",
            "SELECT Id FROM Account WHERE CreatedDate > 2024-05-01T00:00:00",
            "SELECT Id FROM Account WHERE Name = 'unterminated",
            r"SELECT Id FROM Account WHERE Name = 'bad \q escape'",
            "SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Contact)",
            "SELECT Id FROM Account WHERE Tags__c INCLUDES ('a')",
            "SELECT Id FROM Account FOR UPDATE",
        ],
    )
    def test_unsupported_syntax_is_malformed(self, text):
        """Anything outside the subset is MALFORMED_QUERY, as Salesforce answers."""
        with pytest.raises(SoqlError) as info:
            parse_soql(text)

        assert "MALFORMED_QUERY" == info.value.error_code


class TestParseDatetime:
    def test_rest_output_form(self):
        """The REST output form with +0000 parses (for replication parameters)."""
        assert dt.datetime(2024, 5, 1, 12, tzinfo=UTC) == parse_datetime(
            "2024-05-01T12:00:00.000+0000"
        )

    def test_zone_required_unless_told(self):
        """A datetime without zone is refused, or taken as UTC when allowed."""
        with pytest.raises(ValueError):
            parse_datetime("2024-05-01T12:00:00")

        assert dt.datetime(2024, 5, 1, 12, tzinfo=UTC) == parse_datetime(
            "2024-05-01T12:00:00", require_zone=False
        )

    @given(
        st.datetimes(
            min_value=dt.datetime(1971, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
            max_value=dt.datetime(2099, 1, 1),  # noqa: DTZ001
            timezones=st.sampled_from(
                [
                    UTC,
                    dt.timezone(dt.timedelta(hours=5, minutes=30)),
                    dt.timezone(dt.timedelta(hours=-8)),
                ]
            ),
        )
    )
    def test_literal_round_trip(self, value):
        """Any aware datetime written as a SOQL literal parses back to its instant."""
        value = value.replace(microsecond=value.microsecond // 1000 * 1000)
        text = value.isoformat(timespec="milliseconds")
        query = parse_soql(f"SELECT Id FROM A WHERE SystemModstamp < {text}")

        assert value == query.where.value.value


class TestWhere:
    def test_text_comparison_ignores_case(self):
        """= and IN on text ignore case, as SOQL does."""
        assert ["2"] == _names("Name = 'GLOBEX UPSELL'")
        assert ["1", "2"] == _names("name IN ('acme renewal', 'Globex Upsell')")

    def test_not_equal_includes_null(self):
        """!= matches nulls too, unlike SQL."""
        assert ["2", "3"] == _names("Name != 'Acme Renewal'")

    def test_null_comparisons(self):
        """= null and != null test for missing values; > never matches a null."""
        assert ["2"] == _names("Amount = null")
        assert ["1", "3"] == _names("Amount != null")
        assert ["1", "3"] == _names("Amount > 0")

    def test_or_not_and_parentheses(self):
        """OR, NOT and parentheses combine as written."""
        assert ["1", "3"] == _names("(Amount > 60 OR CloseDate = 2024-07-01)")
        assert ["2"] == _names("NOT (Amount > 60 OR CloseDate = 2024-07-01)")
        assert ["3"] == _names("IsWon = false AND NOT Name != null")

    def test_datetime_window(self):
        """A [start, end) window over a datetime field, literals in any offset."""
        assert ["2"] == _names(
            "SystemModstamp >= 2024-05-02T14:00:00+02:00 "
            "AND SystemModstamp < 2024-05-03T12:00:00.000Z"
        )

    def test_like(self):
        """LIKE has % and _ wildcards and ignores case."""
        assert ["1"] == _names("Name LIKE 'acme%'")
        assert ["2"] == _names("Name LIKE '_lobex upsel_'")

    def test_ids_match_in_15_and_18_characters(self):
        """A 15-character Id matches the record's 18-character one."""
        assert ["2"] == _names("Id = '0065g0000000002'")
        assert ["2"] == _names("Id IN ('0065g0000000002AAA')")

    def test_field_names_ignore_case(self):
        """Field names in WHERE resolve whatever their case."""
        assert ["1"] == _names("ISWON = TRUE")

    @pytest.mark.parametrize(
        "where",
        [
            "SystemModstamp > '2024-05-01T00:00:00Z'",
            "SystemModstamp > 2024-05-01",
            "CloseDate > 2024-05-01T00:00:00Z",
            "Amount > '5'",
            "Name = 5",
            "IsWon = 'true'",
            "IsWon > true",
            "Amount LIKE '5%'",
        ],
    )
    def test_wrong_literal_type_is_malformed(self, where):
        """A literal of the wrong type (quoted datetimes above all) is refused."""
        assert "MALFORMED_QUERY" == _error(f"SELECT Id FROM A WHERE {where}")

    def test_unknown_and_unfilterable_fields(self):
        """Unknown fields and base64 fields in WHERE are INVALID_FIELD."""
        assert "INVALID_FIELD" == _error("SELECT Id FROM A WHERE Nope = 1")
        assert "INVALID_FIELD" == _error("SELECT Id FROM A WHERE Logo__c = null")


class TestSort:
    def _ids(self, order_by):
        query = parse_soql(f"SELECT Id FROM A ORDER BY {order_by}")
        return [row["Id"][14] for row in sort_rows(ROWS, query.order_by, _resolve)]

    def test_nulls_first_ascending_last_descending(self):
        """SOQL's defaults: nulls first for ASC, last for DESC."""
        assert ["2", "3", "1"] == self._ids("Amount")
        assert ["1", "3", "2"] == self._ids("Amount DESC")

    def test_explicit_nulls_placement(self):
        """NULLS FIRST and NULLS LAST override the defaults."""
        assert ["3", "1", "2"] == self._ids("Amount ASC NULLS LAST")
        assert ["2", "1", "3"] == self._ids("Amount DESC NULLS FIRST")

    def test_text_sorts_ignoring_case_and_keys_chain(self):
        """Text sorts case-insensitively; later keys break ties."""
        assert ["3", "1", "2"] == self._ids("Name")
        assert ["1", "3", "2"] == self._ids("IsWon DESC, CloseDate DESC")

    def test_unsortable_field(self):
        """ORDER BY a base64 field is INVALID_FIELD."""
        assert "INVALID_FIELD" == _error("SELECT Id FROM A ORDER BY Logo__c")
